package rcimport

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// maxIDBytes is the longest id (or username) accepted: the strictest key
// part of the stores (DynamoDB's adapter takes at most 960 bytes), so that a
// record the mapper accepts is never refused by a store halfway through a
// batch.
const maxIDBytes = 960

// maxNesting bounds how deep quoted attachments may nest.
const maxNesting = 16

// badDoc is why a document cannot be imported. Reason is short and the same
// for every document with the same defect (the summary groups by it); Detail
// may add specifics. Neither ever holds message text, tokens or hashes.
type badDoc struct {
	Reason string
	Detail string
}

func (e *badDoc) Error() string {
	if e.Detail == "" {
		return e.Reason
	}
	return e.Reason + ": " + e.Detail
}

func bad(reason string) *badDoc { return &badDoc{Reason: reason} }

// fields reads the elements of one document with type checks. The first
// type error is kept in err and every later read returns a zero value, so a
// mapper reads all the fields it wants and checks err once: a document is
// taken whole or not at all.
type fields struct {
	path string // "" for the top level, "u." for message.u, ...
	err  *badDoc
}

// elements returns the elements of doc; a document that does not parse is
// an error (BSON files are validated before, Extended JSON is produced by
// the parser, so this only guards against a bug).
func (f *fields) elements(doc bson.Raw) []bson.RawElement {
	if f.err != nil {
		return nil
	}
	els, err := doc.Elements()
	if err != nil {
		f.err = &badDoc{Reason: "invalid BSON", Detail: scrub(err)}
		return nil
	}
	return els
}

// fail records a type error for key (the first one wins).
func (f *fields) fail(key, want string, v bson.RawValue) {
	if f.err == nil {
		f.err = bad(fmt.Sprintf("field %q: want %s, got %s", f.path+key, want, typeName(v.Type)))
	}
}

// absent reports whether v stands for "no value": missing, null or undefined.
func absent(v bson.RawValue) bool {
	return v.Type == 0 || v.Type == bson.TypeNull || v.Type == bson.TypeUndefined
}

// str reads a string; absent is "".
func (f *fields) str(key string, v bson.RawValue) string {
	if f.err != nil || absent(v) {
		return ""
	}
	s, ok := v.StringValueOK()
	if !ok {
		f.fail(key, "a string", v)
	}
	return s
}

// id reads an id: a string (Rocket.Chat's Random.id) or an ObjectId (its hex
// form), non-empty, UTF-8, without control characters, at most maxIDBytes.
// An absent id is "" (callers say whether one is required).
func (f *fields) id(key string, v bson.RawValue) string {
	if f.err != nil || absent(v) {
		return ""
	}
	var s string
	if oid, ok := v.ObjectIDOK(); ok {
		s = oid.Hex()
	} else if s, ok = v.StringValueOK(); !ok {
		f.fail(key, "a string or an ObjectId", v)
		return ""
	}
	if why := checkID(s); why != "" {
		f.err = bad(fmt.Sprintf("field %q: %s", f.path+key, why))
		return ""
	}
	return s
}

// checkID says why s cannot be a key, or "".
func checkID(s string) string {
	switch {
	case s == "":
		return "empty"
	case len(s) > maxIDBytes:
		return fmt.Sprintf("longer than %d bytes", maxIDBytes)
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "has a control character"
	}
	return ""
}

// date reads a BSON date; absent is the zero time.
func (f *fields) date(key string, v bson.RawValue) time.Time {
	if f.err != nil || absent(v) {
		return time.Time{}
	}
	ms, ok := v.DateTimeOK()
	if !ok {
		f.fail(key, "a date", v)
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// boolean reads a bool; absent is false.
func (f *fields) boolean(key string, v bson.RawValue) bool {
	if f.err != nil || absent(v) {
		return false
	}
	b, ok := v.BooleanOK()
	if !ok {
		f.fail(key, "a boolean", v)
	}
	return b
}

// integer reads a whole number stored as int32, int64 or an integral double
// (mongoexport's relaxed form turns numbers into JSON numbers, which the
// parser reads back as whichever fits); absent is 0.
func (f *fields) integer(key string, v bson.RawValue) int64 {
	if f.err != nil || absent(v) {
		return 0
	}
	switch v.Type {
	case bson.TypeInt32:
		return int64(v.Int32())
	case bson.TypeInt64:
		return v.Int64()
	case bson.TypeDouble:
		d := v.Double()
		if d == float64(int64(d)) {
			return int64(d)
		}
		f.err = bad(fmt.Sprintf("field %q: want a whole number", f.path+key))
		return 0
	}
	f.fail(key, "a number", v)
	return 0
}

// doc reads an embedded document; absent is (nil, false).
func (f *fields) doc(key string, v bson.RawValue) (bson.Raw, bool) {
	if f.err != nil || absent(v) {
		return nil, false
	}
	d, ok := v.DocumentOK()
	if !ok {
		f.fail(key, "a document", v)
	}
	return d, ok
}

// array reads the values of an array; absent is nil.
func (f *fields) array(key string, v bson.RawValue) []bson.RawValue {
	if f.err != nil || absent(v) {
		return nil
	}
	a, ok := v.ArrayOK()
	if !ok {
		f.fail(key, "an array", v)
		return nil
	}
	vals, err := a.Values()
	if err != nil {
		f.err = &badDoc{Reason: fmt.Sprintf("field %q: invalid array", f.path+key), Detail: scrub(err)}
		return nil
	}
	return vals
}

// strs reads an array of strings; absent is nil. Null entries are dropped.
func (f *fields) strs(key string, v bson.RawValue) []string {
	vals := f.array(key, v)
	if len(vals) == 0 {
		return nil
	}
	out := make([]string, 0, len(vals))
	for _, e := range vals {
		if absent(e) {
			continue
		}
		s, ok := e.StringValueOK()
		if !ok {
			f.fail(key+"[]", "a string", e)
			return nil
		}
		out = append(out, s)
	}
	return out
}

// sub returns a reader for an embedded document at key.
func (f *fields) sub(key string) *fields { return &fields{path: f.path + key + "."} }

// typeName names a BSON type for a reason: stable words, no values.
func typeName(t bson.Type) string {
	switch t {
	case bson.TypeDouble:
		return "a double"
	case bson.TypeString:
		return "a string"
	case bson.TypeEmbeddedDocument:
		return "a document"
	case bson.TypeArray:
		return "an array"
	case bson.TypeBinary:
		return "binary data"
	case bson.TypeObjectID:
		return "an ObjectId"
	case bson.TypeBoolean:
		return "a boolean"
	case bson.TypeDateTime:
		return "a date"
	case bson.TypeInt32:
		return "an int32"
	case bson.TypeInt64:
		return "an int64"
	case bson.TypeTimestamp:
		return "a timestamp"
	case bson.TypeDecimal128:
		return "a decimal"
	}
	return "BSON type " + fmt.Sprintf("0x%02x", byte(t))
}

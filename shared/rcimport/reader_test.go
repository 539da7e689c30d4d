package rcimport

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// importFiles writes collection files (name → content) into a fresh
// directory and imports them into a memSink.
func importFiles(t *testing.T, files map[string][]byte) (*Report, *memSink) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		must(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	d, err := Scan(dir)
	must(t, err)
	sink := newMemSink()
	rep, err := Import(t.Context(), d, Options{Sink: sink, Blobs: sink, TempDir: t.TempDir()})
	must(t, err)
	return rep, sink
}

func marshal(t *testing.T, d bson.D) []byte {
	t.Helper()
	b, err := bson.Marshal(d)
	must(t, err)
	return b
}

func room(id string) bson.D {
	return bson.D{{Key: "_id", Value: id}, {Key: "t", Value: "c"}, {Key: "name", Value: id}}
}

// The mongoexport shapes, written out by hand: relaxed (the default) and
// canonical (--jsonFormat=canonical) Extended JSON v2.
const (
	relaxedMessage    = `{"_id":"m1","rid":"GENERAL","ts":{"$date":"2021-11-25T10:00:00.123Z"},"msg":"hi","u":{"_id":"u1","username":"alice","name":"Alice"},"file":{"_id":"f1","name":"a.txt","type":"text/plain","size":3},"editedAt":{"$date":"2021-11-25T10:01:00Z"},"_updatedAt":{"$date":"2021-11-25T10:01:00Z"}}`
	canonicalMessage  = `{"_id":"m2","rid":"GENERAL","ts":{"$date":{"$numberLong":"1637834400123"}},"msg":"hi","u":{"_id":"u1","username":"alice"},"files":[{"_id":"f1","name":"a.txt","type":"text/plain","size":{"$numberLong":"3"}}],"reactions":{":+1:":{"usernames":["bob"]}}}`
	legacyDateMessage = `{"_id":"m3","rid":"GENERAL","ts":{"$date":1637834400123},"msg":"legacy $date as a number"}`
	relaxedUser       = `{"_id":"u1","username":"alice","active":true,"services":{"resume":{"loginTokens":[{"when":{"$date":"2024-05-01T00:00:00.000Z"},"hashedToken":"x9pQ2A=="}]}},"createdAt":{"$date":"2019-01-01T00:00:00Z"}}`
	canonicalChunk    = `{"_id":{"$oid":"5f1d7f1e9d1b2c3a4b5c6d7e"},"files_id":"f1","n":{"$numberInt":"0"},"data":{"$binary":{"base64":"YWJj","subType":"00"}}}`
	canonicalFile     = `{"_id":"f1","length":{"$numberLong":"3"},"chunkSize":{"$numberInt":"261120"},"uploadDate":{"$date":{"$numberLong":"1637834400123"}}}`
	relaxedUpload     = `{"_id":"f1","name":"a.txt","size":3,"type":"text/plain","rid":"GENERAL","store":"GridFS:Uploads","complete":true,"uploadedAt":{"$date":"2021-11-25T10:00:00.123Z"}}`
)

func TestMongoexportShapes(t *testing.T) {
	rep, sink := importFiles(t, map[string][]byte{
		Messages + ".json":     []byte(relaxedMessage + "\n" + canonicalMessage + "\n" + legacyDateMessage + "\n"),
		Users + ".json":        []byte(relaxedUser + "\n"),
		GridFSChunks + ".json": []byte(canonicalChunk + "\n"),
		GridFSFiles + ".json":  []byte(canonicalFile + "\n"),
		Uploads + ".json":      []byte(relaxedUpload + "\n"),
	})
	if rep.Skipped() != 0 {
		t.Fatalf("skipped: %+v", rep.Collections)
	}
	ts := time.Date(2021, 11, 25, 10, 0, 0, 123e6, time.UTC)
	edited := time.Date(2021, 11, 25, 10, 1, 0, 0, time.UTC)
	f1 := chat.FileRef{ID: "f1", Name: "a.txt", Type: "text/plain", Size: 3}
	want := map[string]chat.Message{
		"m1": {ID: "m1", RoomID: "GENERAL", TS: ts, Msg: "hi", U: chat.UserRef{ID: "u1", Username: "alice", Name: "Alice"}, File: &f1, EditedAt: &edited},
		"m2": {ID: "m2", RoomID: "GENERAL", TS: time.UnixMilli(1637834400123).UTC(), Msg: "hi", U: chat.UserRef{ID: "u1", Username: "alice"},
			Files: []chat.FileRef{f1}, Reactions: map[string]chat.Reaction{":+1:": {Usernames: []string{"bob"}}}},
		"m3": {ID: "m3", RoomID: "GENERAL", TS: time.UnixMilli(1637834400123).UTC(), Msg: "legacy $date as a number"},
	}
	if !reflect.DeepEqual(sink.msgs, want) {
		t.Errorf("messages:\n got %+v\nwant %+v", sink.msgs, want)
	}
	tok := sink.tokens["x9pQ2A=="]
	if tok.UserID != "u1" || tok.Type != chat.TokenLogin || !tok.CreatedAt.Equal(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("token = %+v", tok)
	}
	if got := sink.blobs["uploads/f1"]; string(got) != "abc" {
		t.Errorf("GridFS bytes = %q", got)
	}
	if up := sink.uploads["f1"]; up != (chat.Upload{ID: "f1", RoomID: "GENERAL", Name: "a.txt", Type: "text/plain", Size: 3, StorageKey: "uploads/f1"}) {
		t.Errorf("upload = %+v", up)
	}
}

func TestBrokenBSONLengthStopsTheFile(t *testing.T) {
	var b bytes.Buffer
	b.Write(marshal(t, room("r1")))
	b.Write(marshal(t, room("r2")))
	bad := marshal(t, room("r3"))
	binary.LittleEndian.PutUint32(bad, 3) // shorter than any document
	b.Write(bad)
	b.Write(marshal(t, room("r4"))) // unreachable: the reader lost its place
	rep, sink := importFiles(t, map[string][]byte{Rooms + ".bson": b.Bytes()})
	c := rep.Collection(Rooms)
	if c.Read != 3 || c.Imported != 2 || c.Skipped != 1 || len(sink.rooms) != 2 {
		t.Fatalf("rooms: %+v", c)
	}
	p := c.Problems[0]
	if !p.Rest || p.Reason != "invalid BSON document length" || p.Position != "document 3 (byte "+strconv.Itoa(2*len(bad))+")" {
		t.Errorf("problem = %+v", p)
	}
	if !strings.Contains(p.String(), "the rest of the file was not read") {
		t.Errorf("problem text = %q", p.String())
	}
}

func TestTruncatedBSONFile(t *testing.T) {
	var b bytes.Buffer
	b.Write(marshal(t, room("r1")))
	last := marshal(t, room("r2"))
	b.Write(last[:len(last)-5]) // mongodump killed mid-write
	rep, sink := importFiles(t, map[string][]byte{Rooms + ".bson": b.Bytes()})
	c := rep.Collection(Rooms)
	if c.Imported != 1 || c.Skipped != 1 || c.Problems[0].Reason != "file ends inside a document" || !c.Problems[0].Rest || len(sink.rooms) != 1 {
		t.Fatalf("rooms: %+v", c)
	}
	// Three stray bytes: not even a length.
	rep, _ = importFiles(t, map[string][]byte{Rooms + ".bson": append(marshal(t, room("r1")), 1, 2, 3)})
	if c := rep.Collection(Rooms); c.Imported != 1 || c.Skipped != 1 || c.Problems[0].Reason != "file ends inside a document" {
		t.Fatalf("rooms: %+v", c)
	}
}

func TestJSONArrayThatStopsParsing(t *testing.T) {
	text := "[\n" + `{"_id":"r1","t":"c"},` + "\n" + `{"_id":"r2","t":"c"},` + "\n" + `{"_id":"r3","t": oops},` + "\n" + `{"_id":"r4","t":"c"}]`
	rep, sink := importFiles(t, map[string][]byte{Rooms + ".json": []byte(text)})
	c := rep.Collection(Rooms)
	if c.Imported != 2 || c.Skipped != 1 || len(sink.rooms) != 2 {
		t.Fatalf("rooms: %+v", c)
	}
	if p := c.Problems[0]; p.Position != "element 3" || !p.Rest || p.Reason != "invalid JSON array" {
		t.Errorf("problem = %+v", p)
	}
	if c.Format != "extjson array" {
		t.Errorf("format = %q", c.Format)
	}
	// An array cut short.
	rep, _ = importFiles(t, map[string][]byte{Rooms + ".json": []byte(`[{"_id":"r1","t":"c"},{"_id":"r2"`)})
	if c := rep.Collection(Rooms); c.Imported != 1 || c.Skipped != 1 || c.Problems[0].Reason != "file ends inside the JSON array" {
		t.Fatalf("rooms: %+v", c)
	}
}

func TestLinesWithBOMBlankLinesCRLFAndNoFinalNewline(t *testing.T) {
	text := "\xEF\xBB\xBF\n" + `{"_id":"r1","t":"c"}` + "\r\n\r\n   \n" + `{"_id":"r2","t":"p"}` + "\n" + `not json` + "\n" + `{"_id":"r3","t":"d"}`
	rep, sink := importFiles(t, map[string][]byte{Rooms + ".jsonl": []byte(text)})
	c := rep.Collection(Rooms)
	if c.Read != 4 || c.Imported != 3 || c.Skipped != 1 || len(sink.rooms) != 3 {
		t.Fatalf("rooms: %+v", c)
	}
	if p := c.Problems[0]; p.Position != "line 6" || p.Reason != "invalid Extended JSON" || p.Rest {
		t.Errorf("problem = %+v", p)
	}
	if c.Format != "extjson lines" {
		t.Errorf("format = %q", c.Format)
	}
}

func TestEmptyAndCorruptFiles(t *testing.T) {
	rep, _ := importFiles(t, map[string][]byte{
		Rooms + ".json":       nil,
		Users + ".bson":       nil,
		Messages + ".bson.gz": []byte("this is not gzip"),
	})
	if c := rep.Collection(Rooms); c.Read != 0 || c.Skipped != 0 {
		t.Errorf("empty JSON file: %+v", c)
	}
	if c := rep.Collection(Users); c.Read != 0 || c.Skipped != 0 {
		t.Errorf("empty BSON file: %+v", c)
	}
	c := rep.Collection(Messages)
	if c.Skipped != 1 || c.Problems[0].Reason != "not a gzip file" || !c.Problems[0].Rest || c.Problems[0].Position != "start of file" {
		t.Errorf("corrupt gzip: %+v", c)
	}
}

func TestScan(t *testing.T) {
	t.Run("nested database folder and notes", func(t *testing.T) {
		root := t.TempDir()
		db := filepath.Join(root, "dump", "rocketchat")
		must(t, os.MkdirAll(db, 0o755))
		for _, n := range []string{"users.bson", "users.json", "rocketchat_message.bson.gz", "rocketchat_room.ndjson", "users.metadata.json", "other.bson"} {
			must(t, os.WriteFile(filepath.Join(db, n), []byte("x"), 0o644))
		}
		d, err := Scan(filepath.Join(root, "dump"))
		must(t, err)
		var got []string
		for _, f := range d.Files {
			got = append(got, f.Collection+":"+filepath.Base(f.Path)+":"+f.Format)
		}
		want := []string{"users:users.bson:bson", "rocketchat_room:rocketchat_room.ndjson:extjson", "rocketchat_message:rocketchat_message.bson.gz:bson"}
		if d.Dir != db || !reflect.DeepEqual(got, want) {
			t.Errorf("Scan = %s %v, want %s %v", d.Dir, got, db, want)
		}
		if len(d.Notes) != 1 || !strings.Contains(d.Notes[0], "read users.bson, ignored users.json") {
			t.Errorf("notes = %v", d.Notes)
		}
		if d.TotalBytes() != 3 {
			t.Errorf("TotalBytes = %d", d.TotalBytes())
		}
	})
	t.Run("several databases", func(t *testing.T) {
		root := t.TempDir()
		for _, db := range []string{"a", "b"} {
			must(t, os.MkdirAll(filepath.Join(root, db), 0o755))
			must(t, os.WriteFile(filepath.Join(root, db, "users.bson"), nil, 0o644))
		}
		if _, err := Scan(root); err == nil || !strings.Contains(err.Error(), "several databases") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no collections", func(t *testing.T) {
		root := t.TempDir()
		must(t, os.WriteFile(filepath.Join(root, "notes.txt"), nil, 0o644))
		if _, err := Scan(root); err == nil || !strings.Contains(err.Error(), "no Rocket.Chat collection found") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("not a directory", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "dump.archive")
		must(t, os.WriteFile(f, nil, 0o644))
		if _, err := Scan(f); err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Errorf("err = %v", err)
		}
		if _, err := Scan(filepath.Join(t.TempDir(), "missing")); err == nil {
			t.Error("a missing directory was accepted")
		}
	})
}

func TestProgress(t *testing.T) {
	p := Progress{Docs: 500, Bytes: 250, TotalBytes: 1000, Elapsed: 2 * time.Second}
	if p.Fraction() != 0.25 || p.Rate() != 250 {
		t.Errorf("fraction %v rate %v", p.Fraction(), p.Rate())
	}
	if eta, ok := p.ETA(); !ok || eta != 6*time.Second {
		t.Errorf("ETA = %v %v", eta, ok)
	}
	if _, ok := (Progress{Bytes: 1, TotalBytes: 10, Elapsed: time.Millisecond}).ETA(); ok {
		t.Error("an ETA after a millisecond")
	}
	if (Progress{Done: true}).Fraction() != 1 || (Progress{}).Fraction() != 0 || (Progress{}).Rate() != 0 {
		t.Error("edge cases")
	}
}

// mapped maps one Extended JSON document with a mapper.
func mapped[T any](t *testing.T, doc string, f func(bson.Raw) (T, *badDoc)) (T, *badDoc) {
	t.Helper()
	var raw bson.Raw
	must(t, bson.UnmarshalExtJSON([]byte(doc), false, &raw))
	return f(raw)
}

func TestMappingEdgeCases(t *testing.T) {
	reasonOf := func(bd *badDoc) string {
		if bd == nil {
			return ""
		}
		return bd.Reason
	}
	msg := func(raw bson.Raw) (chat.Message, *badDoc) { return mapMessage(raw) }
	for _, c := range []struct{ doc, reason string }{
		{`{"_id":"m","rid":"r","ts":{"$date":"2021-01-01T00:00:00Z"},"file":{"name":"x"}}`, `missing "file._id"`},
		{`{"_id":"m","rid":"r","ts":{"$date":"2021-01-01T00:00:00Z"},"files":[{"_id":5}]}`, `field "files[]._id": want a string or an ObjectId, got an int32`},
		{`{"_id":"m","rid":"r","ts":{"$date":"2021-01-01T00:00:00Z"},"reactions":{":x:":"bob"}}`, `field "reactions.<emoji>": want a document, got a string`},
		{`{"_id":"m","rid":"r","ts":{"$date":"2021-01-01T00:00:00Z"},"file":{"_id":"f","size":1.5}}`, `field "file.size": want a whole number`},
		{`{"_id":"m","rid":"r","ts":{"$date":"2021-01-01T00:00:00Z"},"attachments":[{"ts":"yesterday"}]}`, `field "attachments[].ts": not an RFC 3339 date`},
		{`{"_id":"m","rid":"r","ts":{"$date":"2021-01-01T00:00:00Z"},"editedBy":{"username":7}}`, `field "editedBy.username": want a string, got an int32`},
		{`{"_id":"m","rid":"r","ts":{"$date":"2021-01-01T00:00:00Z"},"_hidden":"yes"}`, `field "_hidden": want a boolean, got a string`},
		{`{"_id":"","rid":"r","ts":{"$date":"2021-01-01T00:00:00Z"}}`, `field "_id": empty`},
		{`{"_id":"a\u0000b","rid":"r","ts":{"$date":"2021-01-01T00:00:00Z"}}`, `field "_id": has a control character`},
		{`{"_id":"m","ts":{"$date":"2021-01-01T00:00:00Z"}}`, `missing "rid"`},
		{`{"_id":"m","rid":"r","ts":null,"msg":null}`, `missing "ts"`},
		{`{"_id":{"$oid":"5f1d7f1e9d1b2c3a4b5c6d7e"},"rid":"r","ts":{"$date":"2021-01-01T00:00:00Z"},"msg":null,"tmid":null}`, ``},
		{`{"_id":"m","rid":"r","ts":{"$date":"2021-01-01T00:00:00Z"},"attachments":[{"ts":"2021-01-01T00:00:00+02:00","attachments":[]}, null]}`, ``},
	} {
		_, bd := mapped(t, c.doc, msg)
		if reasonOf(bd) != c.reason {
			t.Errorf("%s: reason %q, want %q", c.doc, reasonOf(bd), c.reason)
		}
	}
	m, _ := mapped(t, `{"_id":{"$oid":"5f1d7f1e9d1b2c3a4b5c6d7e"},"rid":"r","ts":{"$date":"2021-01-01T00:00:00Z"},"attachments":[{"ts":"2021-01-01T00:00:00+02:00"}]}`, msg)
	if m.ID != "5f1d7f1e9d1b2c3a4b5c6d7e" || !m.Attachments[0].TS.Equal(time.Date(2020, 12, 31, 22, 0, 0, 0, time.UTC)) {
		t.Errorf("message = %+v", m)
	}
	deep := `{"text":"x"}`
	for range maxNesting + 1 {
		deep = `{"attachments":[` + deep + `]}`
	}
	if _, bd := mapped(t, `{"_id":"m","rid":"r","ts":{"$date":"2021-01-01T00:00:00Z"},"attachments":[`+deep+`]}`, msg); bd == nil || !strings.Contains(bd.Reason, "nested deeper") {
		t.Errorf("deep nesting: %v", bd)
	}

	user := func(raw bson.Raw) (struct {
		u    chat.User
		toks []chat.Token
		bad  []*badDoc
	}, *badDoc) {
		u, toks, bad, bd := mapUser(raw)
		return struct {
			u    chat.User
			toks []chat.Token
			bad  []*badDoc
		}{u, toks, bad}, bd
	}
	r, bd := mapped(t, `{"_id":"u","username":"x","services":{"resume":{"loginTokens":[
		{"hashedToken":"pat-by-name","name":"my token","createdAt":{"$date":"2019-01-01T00:00:00Z"}},
		{"hashedToken":"pat-without-date","type":"personalAccessToken"},
		{"hashedToken":"login-without-when"},
		{"when":{"$date":"2024-01-01T00:00:00Z"}},
		"not a document"]}}}`, user)
	if bd != nil || r.u.Active {
		t.Fatalf("user = %+v, %v", r.u, bd)
	}
	if len(r.toks) != 2 || r.toks[0].Type != chat.TokenPersonal || r.toks[0].Name != "my token" || r.toks[1].Type != chat.TokenPersonal || !r.toks[1].CreatedAt.IsZero() {
		t.Errorf("tokens = %+v", r.toks)
	}
	var reasons []string
	for _, b := range r.bad {
		reasons = append(reasons, b.Reason)
	}
	if want := []string{`login token without "when"`, `login token without "hashedToken"`, `"services.resume.loginTokens[]": not a document`}; !reflect.DeepEqual(reasons, want) {
		t.Errorf("bad tokens = %q, want %q", reasons, want)
	}
	if _, bd := mapped(t, `{"_id":"u","username":"bad\u0007name"}`, user); bd == nil || bd.Reason != `field "username": has a control character` {
		t.Errorf("control character in username: %v", bd)
	}
	if _, bd := mapped(t, `{"_id":"u","emails":[{"address":1}]}`, user); bd == nil || bd.Reason != `field "emails[].address": want a string, got an int32` {
		t.Errorf("bad email: %v", bd)
	}
	if r, _ := mapped(t, `{"_id":"u","services":{"resume":{"loginTokens":[{"when":{"$date":"2024-01-01T00:00:00Z"},"token":"plain"}]}}}`, user); len(r.toks) != 1 || r.toks[0].Hash != export.HashToken("plain") {
		t.Errorf("legacy token = %+v", r.toks)
	}

	sub := func(raw bson.Raw) (chat.Subscription, *badDoc) { return mapSubscription(raw) }
	if _, bd := mapped(t, `{"rid":"r","u":{"_id":3}}`, sub); bd == nil || bd.Reason != `field "u._id": want a string or an ObjectId, got an int32` {
		t.Errorf("subscription: %v", bd)
	}
	up := func(raw bson.Raw) (uploadDoc, *badDoc) { return mapUpload(raw) }
	if _, bd := mapped(t, `{"_id":"f","size":-1}`, up); bd == nil || bd.Reason != `field "size": negative` {
		t.Errorf("upload: %v", bd)
	}
	chunk := func(raw bson.Raw) (gridChunk, *badDoc) { return mapGridChunk(raw) }
	if _, bd := mapped(t, `{"files_id":"f","n":0,"data":"text"}`, chunk); bd == nil || bd.Reason != `field "data": want binary data, got a string` {
		t.Errorf("chunk: %v", bd)
	}
	if _, bd := mapped(t, `{"files_id":"f","n":0}`, chunk); bd == nil || bd.Reason != `missing "data"` {
		t.Errorf("chunk: %v", bd)
	}
}

func TestGridFSChunkChecks(t *testing.T) {
	files := `{"_id":"f1","length":5,"chunkSize":2}` + "\n" + `{"_id":"f0","length":0,"chunkSize":261120}` + "\n"
	chunks := `{"files_id":"f1","n":0,"data":{"$binary":{"base64":"YWI=","subType":"00"}}}` + "\n" + // "ab"
		`{"files_id":"f1","n":2,"data":{"$binary":{"base64":"ZWY=","subType":"00"}}}` + "\n" + // "ef": the last chunk is 1 byte
		`{"files_id":"f1","n":2,"data":{"$binary":{"base64":"ZQ==","subType":"00"}}}` + "\n" + // "e"
		`{"files_id":"f1","n":1,"data":{"$binary":{"base64":"Y2Q=","subType":"00"}}}` + "\n" // "cd"
	uploads := `{"_id":"f1","name":"a","type":"text/plain","size":5}` + "\n" + `{"_id":"f0","name":"empty","size":0}` + "\n"
	rep, sink := importFiles(t, map[string][]byte{GridFSFiles + ".json": []byte(files), GridFSChunks + ".json": []byte(chunks), Uploads + ".json": []byte(uploads)})
	c := rep.Collection(GridFSChunks)
	if c.Imported != 3 || c.Skipped != 1 || c.Problems[0].Reason != "chunk size does not match the file" || c.Problems[0].Detail != "chunk 2 has 2 bytes, want 1" {
		t.Fatalf("chunks: %+v", c)
	}
	if got := string(sink.blobs["uploads/f1"]); got != "abcde" {
		t.Errorf("f1 = %q", got)
	}
	if got, ok := sink.blobs["uploads/f0"]; !ok || len(got) != 0 {
		t.Errorf("empty file: %q %v", got, ok)
	}
}

func TestPrettyExtJSON(t *testing.T) {
	// mongoexport --pretty: each document over several lines.
	text := "{\n  \"_id\": \"r1\",\n  \"t\": \"c\"\n}\n{\n  \"_id\": \"r2\",\n  \"t\": {\"$date\": \"bad\"}\n}\n{\n  \"_id\": \"r3\",\n  \"t\": \"p\"\n}\n{\n  \"_id\": oops\n}\n{\"_id\":\"r5\",\"t\":\"c\"}\n"
	rep, sink := importFiles(t, map[string][]byte{Rooms + ".json": []byte(text)})
	c := rep.Collection(Rooms)
	if c.Format != "extjson pretty" || c.Imported != 2 || c.Skipped != 2 || len(sink.rooms) != 2 {
		t.Fatalf("rooms: %+v", c)
	}
	if p := c.Problems[0]; p.Position != "document 2" || p.Reason != "invalid Extended JSON" || p.Rest {
		t.Errorf("first problem = %+v", p)
	}
	if p := c.Problems[1]; p.Position != "document 4" || p.Reason != "invalid JSON" || !p.Rest {
		t.Errorf("second problem = %+v", p)
	}
}

func TestProblemsNeverQuoteTheDocument(t *testing.T) {
	const secret = "top-secret-text"
	lines := []string{
		`{"_id":"m1","msg" "` + secret + `"}`,          // missing colon: the parser quotes the string
		`{"_id":"m2","ts":{"$date":"` + secret + `"}}`, // not a date: the parser quotes the value
		`{"_id":"m3","msg":"\` + `q` + secret + `"}`,   // bad escape
		`{"_id":"m4","msg":` + secret + `}`,            // bare literal
		`{"_id":"m5","data":{"$binary":{"base64":"` + secret + `!","subType":"00"}}}`,
	}
	rep, _ := importFiles(t, map[string][]byte{Messages + ".json": []byte(strings.Join(lines, "\n")),
		Rooms + ".json": []byte(`[{"_id":"r1","t":"c"}, ` + secret + `]`)})
	var all []Problem
	for _, c := range rep.Collections {
		all = append(all, c.Problems...)
	}
	if len(all) != len(lines)+1 {
		t.Fatalf("%d problems: %+v", len(all), all)
	}
	var out strings.Builder
	must(t, rep.WriteSummary(&out))
	for _, p := range all {
		if strings.Contains(p.String(), "secret") {
			t.Errorf("problem quotes the document: %s", p)
		}
	}
	if strings.Contains(out.String(), "secret") {
		t.Errorf("summary quotes a document:\n%s", out.String())
	}
	if d := all[0].Detail; d != "invalid character at byte 23" {
		t.Errorf("array detail = %q", d)
	}
	if d := all[4].Detail; d != "invalid JSON literal at position 18" {
		t.Errorf("detail %q lost the position", d)
	}
}

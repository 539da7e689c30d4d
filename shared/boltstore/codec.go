package boltstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// The message codec. Message values were JSON up to this version; paging
// through a room then spent most of its time in json.Unmarshal. Values are
// now a compact binary record whose first byte names the format:
//
//	'{'        JSON (written by older versions; still read, never written)
//	codecV1    the binary record below
//
// A binary record (v1) is, after its format byte:
//
//	flags   uvarint: which optional parts follow (msgHas... bits)
//	_id rid ts msg u._id u.username
//	then, each only when its flag is set, in this order:
//	u.name t role tmid drid editedAt editedBy file files attachments reactions
//
// A string is uvarint(length) and its bytes; a time is its Unix
// milliseconds or, off the millisecond, seconds and nanoseconds
// (appendTime), read back in UTC; a count is a uvarint. A flag this version
// does not know makes the record corrupt: a new optional part needs a new
// bit, and readers that know it.
//
// The codec keeps exactly what the JSON round trip kept (the fuzz test
// holds it to that): the instant of every time to the nanosecond, nil and
// empty alike for the omitempty fields, nil apart from empty for a
// reaction's usernames, and strings with invalid UTF-8 mended as
// encoding/json mends them.
const codecV1 = 0x01

// Flags of a v1 message record: which optional parts it carries.
const (
	msgHidden = 1 << iota
	msgHasUserName
	msgHasType
	msgHasRole
	msgHasThread
	msgHasDiscussion
	msgHasEditedAt
	msgHasEditedBy
	msgHasFile
	msgHasFiles
	msgHasAttachments
	msgHasReactions
	msgFlagsEnd // first unused bit
)

// Flags of an attachment.
const (
	attHasTitle = 1 << iota
	attHasTitleLink
	attHasText
	attHasDescription
	attHasAuthorName
	attHasMessageLink
	attHasImageURL
	attHasType
	attHasTS
	attHasAttachments
	attFlagsEnd
)

// maxAttachmentDepth bounds quotes within quotes. Rocket.Chat nests a few
// levels; the bound keeps a corrupt or hostile record from recursing deep.
const maxAttachmentDepth = 100

// errCorrupt reports a value the codec cannot read.
var errCorrupt = errors.New("corrupt message record")

// errTooDeep refuses a message whose attachments nest past maxAttachmentDepth.
var errTooDeep = fmt.Errorf("attachments nested more than %d deep", maxAttachmentDepth)

// encodeMessage returns m's stored form: a v1 record.
func encodeMessage(m *chat.Message) ([]byte, error) {
	return appendMessage(make([]byte, 0, 64+len(m.Msg)), m)
}

// appendMessage appends m's v1 record to b.
func appendMessage(b []byte, m *chat.Message) ([]byte, error) {
	var f uint64
	set := func(bit uint64, on bool) {
		if on {
			f |= bit
		}
	}
	set(msgHidden, m.Hidden)
	set(msgHasUserName, m.U.Name != "")
	set(msgHasType, m.Type != "")
	set(msgHasRole, m.Role != "")
	set(msgHasThread, m.ThreadID != "")
	set(msgHasDiscussion, m.DiscussionID != "")
	set(msgHasEditedAt, m.EditedAt != nil)
	set(msgHasEditedBy, m.EditedBy != nil)
	set(msgHasFile, m.File != nil)
	set(msgHasFiles, len(m.Files) > 0)
	set(msgHasAttachments, len(m.Attachments) > 0)
	set(msgHasReactions, len(m.Reactions) > 0)

	b = append(b, codecV1)
	b = binary.AppendUvarint(b, f)
	b = appendString(b, m.ID)
	b = appendString(b, m.RoomID)
	b = appendTime(b, m.TS)
	b = appendString(b, m.Msg)
	b = appendString(b, m.U.ID)
	b = appendString(b, m.U.Username)
	if f&msgHasUserName != 0 {
		b = appendString(b, m.U.Name)
	}
	if f&msgHasType != 0 {
		b = appendString(b, m.Type)
	}
	if f&msgHasRole != 0 {
		b = appendString(b, m.Role)
	}
	if f&msgHasThread != 0 {
		b = appendString(b, m.ThreadID)
	}
	if f&msgHasDiscussion != 0 {
		b = appendString(b, m.DiscussionID)
	}
	if f&msgHasEditedAt != 0 {
		b = appendTime(b, *m.EditedAt)
	}
	if f&msgHasEditedBy != 0 {
		b = appendUserRef(b, *m.EditedBy)
	}
	if f&msgHasFile != 0 {
		b = appendFileRef(b, *m.File)
	}
	if f&msgHasFiles != 0 {
		b = binary.AppendUvarint(b, uint64(len(m.Files)))
		for _, fr := range m.Files {
			b = appendFileRef(b, fr)
		}
	}
	if f&msgHasAttachments != 0 {
		var err error
		if b, err = appendAttachments(b, m.Attachments, 1); err != nil {
			return nil, err
		}
	}
	if f&msgHasReactions != 0 {
		b = binary.AppendUvarint(b, uint64(len(m.Reactions)))
		// sorted, so that equal messages encode equally
		for _, k := range slices.Sorted(maps.Keys(m.Reactions)) {
			b = appendString(b, k)
			names := m.Reactions[k].Usernames
			if names == nil {
				b = binary.AppendUvarint(b, 0) // JSON kept null apart from []
				continue
			}
			b = binary.AppendUvarint(b, uint64(len(names))+1)
			for _, n := range names {
				b = appendString(b, n)
			}
		}
	}
	return b, nil
}

func appendUserRef(b []byte, u chat.UserRef) []byte {
	b = appendString(b, u.ID)
	b = appendString(b, u.Username)
	return appendString(b, u.Name)
}

func appendFileRef(b []byte, f chat.FileRef) []byte {
	b = appendString(b, f.ID)
	b = appendString(b, f.Name)
	b = appendString(b, f.Type)
	return binary.AppendVarint(b, f.Size)
}

func appendAttachments(b []byte, as []chat.Attachment, depth int) ([]byte, error) {
	if depth > maxAttachmentDepth {
		return nil, errTooDeep
	}
	b = binary.AppendUvarint(b, uint64(len(as)))
	for i := range as {
		a := &as[i]
		var f uint64
		for _, p := range []struct {
			bit uint64
			on  bool
		}{
			{attHasTitle, a.Title != ""}, {attHasTitleLink, a.TitleLink != ""}, {attHasText, a.Text != ""},
			{attHasDescription, a.Description != ""}, {attHasAuthorName, a.AuthorName != ""},
			{attHasMessageLink, a.MessageLink != ""}, {attHasImageURL, a.ImageURL != ""}, {attHasType, a.Type != ""},
			{attHasTS, a.TS != nil}, {attHasAttachments, len(a.Attachments) > 0},
		} {
			if p.on {
				f |= p.bit
			}
		}
		b = binary.AppendUvarint(b, f)
		for _, p := range []struct {
			bit uint64
			s   string
		}{
			{attHasTitle, a.Title}, {attHasTitleLink, a.TitleLink}, {attHasText, a.Text},
			{attHasDescription, a.Description}, {attHasAuthorName, a.AuthorName},
			{attHasMessageLink, a.MessageLink}, {attHasImageURL, a.ImageURL}, {attHasType, a.Type},
		} {
			if f&p.bit != 0 {
				b = appendString(b, p.s)
			}
		}
		if f&attHasTS != 0 {
			b = appendTime(b, *a.TS)
		}
		if f&attHasAttachments != 0 {
			var err error
			if b, err = appendAttachments(b, a.Attachments, depth+1); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

// appendString appends s, with invalid UTF-8 mended as encoding/json mends
// it (each byte that starts no valid sequence becomes U+FFFD), so that a
// value reads back as its JSON form did.
func appendString(b []byte, s string) []byte {
	if utf8.ValidString(s) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...)
	}
	mended := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			mended = utf8.AppendRune(mended, utf8.RuneError)
		} else {
			mended = append(mended, s[i:i+size]...)
		}
		i += size
	}
	b = binary.AppendUvarint(b, uint64(len(mended)))
	return append(b, mended...)
}

// appendTime appends t's instant; the zone is not kept: times read back in
// UTC. A time on a whole millisecond (every stored ts) is one varint, its
// Unix milliseconds shifted left by one; any other is the varint 1, then
// Unix seconds (varint) and nanoseconds (uvarint).
func appendTime(b []byte, t time.Time) []byte {
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	if nsec%1e6 == 0 && sec > -maxMillisSec && sec < maxMillisSec {
		return binary.AppendVarint(b, (sec*1000+nsec/1e6)<<1)
	}
	b = binary.AppendVarint(b, 1)
	b = binary.AppendVarint(b, sec)
	return binary.AppendUvarint(b, uint64(nsec))
}

// maxMillisSec bounds the seconds of a time written in milliseconds, so that
// milliseconds shifted left by one fit an int64 (about ±36 million years).
const maxMillisSec = 1 << 50

// decodeMessage reads a stored message value of either format into m.
func decodeMessage(v []byte, m *chat.Message) error {
	*m = chat.Message{}
	return decodeInto(v, m)
}

// decodeInto is decodeMessage into a message that is already zero: the
// fields a record does not carry are not written at all, which spares the
// hot loop a copy of the whole struct (and its write barriers).
func decodeInto(v []byte, m *chat.Message) error {
	if len(v) == 0 {
		return errCorrupt
	}
	switch v[0] {
	case codecV1:
		if err := decodeV1(v, m); err != nil {
			*m = chat.Message{}
			return err
		}
		return nil
	case '{':
		if err := json.Unmarshal(v, m); err != nil {
			*m = chat.Message{}
			return fmt.Errorf("decode JSON message: %w", err)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown format byte %#x", errCorrupt, v[0])
}

// decodeV1 reads a v1 record into the zero message m. Every string of the
// message is a substring of one copy of the value: one allocation instead
// of one per field, and no reference into the database's memory map
// survives the read transaction.
func decodeV1(v []byte, m *chat.Message) error {
	d := decoder{s: string(v), i: 1}
	f := d.uvarint()
	if f >= msgFlagsEnd {
		return errCorrupt
	}
	m.ID = d.str()
	m.RoomID = d.str()
	m.TS = d.time()
	m.Msg = d.str()
	m.U.ID = d.str()
	m.U.Username = d.str()
	if f&msgHidden != 0 {
		m.Hidden = true
	}
	if f&msgHasUserName != 0 {
		m.U.Name = d.str()
	}
	if f&msgHasType != 0 {
		m.Type = d.str()
	}
	if f&msgHasRole != 0 {
		m.Role = d.str()
	}
	if f&msgHasThread != 0 {
		m.ThreadID = d.str()
	}
	if f&msgHasDiscussion != 0 {
		m.DiscussionID = d.str()
	}
	if f&msgHasEditedAt != 0 {
		t := d.time()
		m.EditedAt = &t
	}
	if f&msgHasEditedBy != 0 {
		u := d.userRef()
		m.EditedBy = &u
	}
	if f&msgHasFile != 0 {
		fr := d.fileRef()
		m.File = &fr
	}
	if f&msgHasFiles != 0 {
		m.Files = make([]chat.FileRef, d.nonZeroCount())
		for i := range m.Files {
			m.Files[i] = d.fileRef()
		}
	}
	if f&msgHasAttachments != 0 {
		m.Attachments = d.attachments(1)
	}
	if f&msgHasReactions != 0 {
		n := d.nonZeroCount()
		m.Reactions = make(map[string]chat.Reaction, n)
		for range n {
			k := d.str()
			var r chat.Reaction
			if c := d.count(); c > 0 {
				r.Usernames = make([]string, c-1)
				for i := range r.Usernames {
					r.Usernames[i] = d.str()
				}
			}
			m.Reactions[k] = r
		}
	}
	if d.bad || d.i != len(d.s) {
		return errCorrupt
	}
	return nil
}

// decoder reads a v1 record. A read past the end or a malformed number sets
// bad and yields zero values from then on; the caller checks bad once.
type decoder struct {
	s   string
	i   int
	bad bool
}

func (d *decoder) fail() {
	d.bad = true
	d.i = len(d.s)
}

func (d *decoder) uvarint() uint64 {
	// most numbers (lengths, counts, flags) take one or two bytes
	if i := d.i; i+1 < len(d.s) {
		c0, c1 := d.s[i], d.s[i+1]
		if c0 < 0x80 {
			d.i = i + 1
			return uint64(c0)
		}
		if c1 < 0x80 {
			d.i = i + 2
			return uint64(c0&0x7f) | uint64(c1)<<7
		}
	}
	var x uint64
	for shift := uint(0); d.i < len(d.s); shift += 7 {
		c := d.s[d.i]
		d.i++
		if shift == 63 && c > 1 {
			break
		}
		if c < 0x80 {
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
	}
	d.fail()
	return 0
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// count reads an element count. Every element takes at least a byte, so a
// count beyond the bytes left is corrupt (and never allocates).
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.s)-d.i)+1 {
		d.fail()
		return 0
	}
	return int(n)
}

// nonZeroCount reads the count of a part whose flag is set: never 0.
func (d *decoder) nonZeroCount() int {
	n := d.count()
	if n == 0 {
		d.fail()
	}
	return n
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.s)-d.i) {
		d.fail()
		return ""
	}
	s := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return s
}

func (d *decoder) time() time.Time {
	v := d.varint()
	if v&1 == 0 {
		return time.UnixMilli(v >> 1).UTC()
	}
	sec, nsec := d.varint(), d.uvarint()
	if v != 1 || nsec >= 1e9 {
		d.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *decoder) userRef() chat.UserRef {
	return chat.UserRef{ID: d.str(), Username: d.str(), Name: d.str()}
}

func (d *decoder) fileRef() chat.FileRef {
	return chat.FileRef{ID: d.str(), Name: d.str(), Type: d.str(), Size: d.varint()}
}

func (d *decoder) attachments(depth int) []chat.Attachment {
	n := d.nonZeroCount()
	if n == 0 || depth > maxAttachmentDepth {
		d.fail()
		return nil
	}
	as := make([]chat.Attachment, n)
	for i := range as {
		a := &as[i]
		f := d.uvarint()
		if f >= attFlagsEnd {
			d.fail()
			return nil
		}
		for _, p := range []struct {
			bit uint64
			dst *string
		}{
			{attHasTitle, &a.Title}, {attHasTitleLink, &a.TitleLink}, {attHasText, &a.Text},
			{attHasDescription, &a.Description}, {attHasAuthorName, &a.AuthorName},
			{attHasMessageLink, &a.MessageLink}, {attHasImageURL, &a.ImageURL}, {attHasType, &a.Type},
		} {
			if f&p.bit != 0 {
				*p.dst = d.str()
			}
		}
		if f&attHasTS != 0 {
			t := d.time()
			a.TS = &t
		}
		if f&attHasAttachments != 0 {
			a.Attachments = d.attachments(depth + 1)
		}
		if d.bad {
			return nil
		}
	}
	return as
}

// valueHasFiles reports whether a stored message value carries files (file
// or files), reading as little of it as it can: the flags of a v1 record;
// a JSON value is decoded only when it mentions a file at all.
func valueHasFiles(v []byte) (bool, error) {
	if len(v) > 0 && v[0] == codecV1 {
		d := decoder{s: string(v[1:min(len(v), 1+binary.MaxVarintLen64)])}
		f := d.uvarint()
		if d.bad || f >= msgFlagsEnd {
			return false, errCorrupt
		}
		return f&msgHidden == 0 && f&(msgHasFile|msgHasFiles) != 0, nil
	}
	if !jsonMayHaveFiles(v) {
		return false, nil
	}
	var m chat.Message
	if err := decodeMessage(v, &m); err != nil {
		return false, err
	}
	return !m.Hidden && len(m.AllFiles()) > 0, nil
}

// jsonMayHaveFiles is false only when v cannot hold a "file" or "files" key.
func jsonMayHaveFiles(v []byte) bool {
	for i := 0; i+6 <= len(v); i++ {
		if v[i] == '"' && string(v[i+1:i+5]) == "file" {
			return true
		}
	}
	return false
}

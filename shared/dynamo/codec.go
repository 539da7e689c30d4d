package dynamo

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// messageReader decodes message records, the JSON in d. It gives exactly
// what json.Unmarshal gives, about four times faster and with a quarter of
// the allocations: paging a room is the adapter's hot loop, and with
// json.Unmarshal the MessagePage walk of infra/bench ran at 0.84× the rate
// of the bare Query (0.97× with this). The fast path reads the compact JSON
// that PutMessages writes (json.Marshal of a chat.Message) and returns
// strings that are substrings of raw where no escape needs undoing, so a
// message costs few allocations besides its slices and maps (and keeps raw
// alive while any of its strings is, which is what it holds anyway).
// Anything it was not made for — an unknown or repeated key, a null (but a
// reaction's usernames), a time not in UTC, a surrogate escape, invalid
// UTF-8, malformed JSON — sends the whole record to json.Unmarshal instead,
// so the result never depends on which path ran (FuzzDecodeMessage holds it
// to that).
//
// A reader keeps its unescaping buffer from one record to the next; the
// zero value is ready to use.
type messageReader struct{ buf []byte }

// decode decodes the record raw into m.
func (r *messageReader) decode(raw string, m *chat.Message) error {
	if r.fast(raw, m) {
		return nil
	}
	*m = chat.Message{}
	if err := json.Unmarshal([]byte(raw), m); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// fast is decode's fast path; false means it gave up, and m holds a partial
// result.
func (r *messageReader) fast(raw string, m *chat.Message) bool {
	d := scanner{s: raw, buf: r.buf}
	d.message(m)
	d.space()
	r.buf = d.buf
	return !d.bad && d.i == len(d.s)
}

// scanner reads JSON from s at i. A method that meets what it does not
// handle sets bad and returns a zero value; bad is checked once, at the
// end (loops stop on it early), and whatever is read after it is set is
// thrown away with the rest.
type scanner struct {
	s   string
	i   int
	bad bool
	buf []byte // unescaping scratch, reused
}

// fail marks the record as one for json.Unmarshal.
func (d *scanner) fail() { d.bad = true }

// space skips JSON whitespace.
func (d *scanner) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// open consumes the opening c of an object or array and reports whether a
// first member follows (false also consumes an immediate close).
func (d *scanner) open(c, end byte) bool {
	d.space()
	if d.bad || d.i >= len(d.s) || d.s[d.i] != c {
		d.fail()
		return false
	}
	d.i++
	d.space()
	if d.i < len(d.s) && d.s[d.i] == end {
		d.i++
		return false
	}
	return true
}

// next consumes what follows a member: a comma (true: another member
// follows) or the closing end (false).
func (d *scanner) next(end byte) bool {
	d.space()
	if d.bad || d.i >= len(d.s) {
		d.fail()
		return false
	}
	switch d.s[d.i] {
	case ',':
		d.i++
		return true
	case end:
		d.i++
		return false
	}
	d.fail()
	return false
}

// key reads an object key and its colon. Keys are matched exactly, so a key
// with an escape is left to json.Unmarshal (whose matching also folds case).
func (d *scanner) key() string {
	d.space()
	if d.bad || d.i >= len(d.s) || d.s[d.i] != '"' {
		d.fail()
		return ""
	}
	end := strings.IndexByte(d.s[d.i+1:], '"')
	if end < 0 {
		d.fail()
		return ""
	}
	k := d.s[d.i+1 : d.i+1+end]
	d.i += end + 2
	if strings.IndexByte(k, '\\') >= 0 {
		d.fail()
		return ""
	}
	d.space()
	if d.i >= len(d.s) || d.s[d.i] != ':' {
		d.fail()
		return ""
	}
	d.i++
	return k
}

// strStop marks the bytes that end a run of plain string bytes: the quote,
// the backslash and the control characters (which JSON strings cannot hold).
// It is read only.
var strStop = func() (t [256]bool) {
	for c := range ' ' {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// run returns the end of the run of plain string bytes that starts at j.
func (d *scanner) run(j int) int {
	for j < len(d.s) && !strStop[d.s[j]] {
		j++
	}
	return j
}

// mapKey reads the key of a map entry (a reaction's emoji), which unlike a
// field name is data: escapes are undone as in any string.
func (d *scanner) mapKey() string {
	k := d.str()
	d.space()
	if d.bad || d.i >= len(d.s) || d.s[d.i] != ':' {
		d.fail()
		return ""
	}
	d.i++
	return k
}

// str reads a string value: a substring of s when it holds no escape.
func (d *scanner) str() string {
	d.space()
	if d.bad || d.i >= len(d.s) || d.s[d.i] != '"' {
		d.fail()
		return ""
	}
	start := d.i + 1
	j := d.run(start)
	switch {
	case j == len(d.s) || d.s[j] < ' ':
		d.fail()
		return ""
	case d.s[j] == '\\':
		return d.unescape(start, j)
	}
	d.i = j + 1
	v := d.s[start:j]
	if !utf8.ValidString(v) {
		d.fail() // json.Unmarshal mends invalid UTF-8
		return ""
	}
	return v
}

// unescape reads the rest of a string that has an escape at j, copying
// s[start:j] and what follows into a new string.
func (d *scanner) unescape(start, j int) string {
	if rest := len(d.s) - start; cap(d.buf) < rest {
		// what is left of the record bounds the unescaped string: one
		// allocation for every string of the record
		d.buf = make([]byte, 0, rest)
	}
	b := append(d.buf[:0], d.s[start:j]...)
	for j < len(d.s) {
		end := d.run(j)
		b = append(b, d.s[j:end]...)
		if j = end; j == len(d.s) {
			break
		}
		switch c := d.s[j]; {
		case c == '"':
			d.i = j + 1
			d.buf = b
			if !utf8.Valid(b) {
				d.fail()
				return ""
			}
			return string(b)
		case c < ' ':
			d.fail()
			return ""
		}
		if j+1 >= len(d.s) {
			break
		}
		switch e := d.s[j+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(d.s[j+2:])
			if !ok || utf8.RuneLen(r) < 0 { // surrogates: json.Unmarshal pairs or mends them
				d.fail()
				return ""
			}
			b = utf8.AppendRune(b, r)
			j += 4
		default:
			d.fail()
			return ""
		}
		j += 2
	}
	d.fail()
	return ""
}

// hex4 reads the four hex digits of a \u escape.
func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[:4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// null consumes a null, if one is next.
func (d *scanner) null() bool {
	d.space()
	if strings.HasPrefix(d.s[d.i:], "null") {
		d.i += 4
		return true
	}
	return false
}

// boolean reads true or false.
func (d *scanner) boolean() bool {
	d.space()
	switch rest := d.s[d.i:]; {
	case strings.HasPrefix(rest, "true"):
		d.i += 4
		return true
	case strings.HasPrefix(rest, "false"):
		d.i += 5
		return false
	}
	d.fail()
	return false
}

// integer reads an integer that fits an int64; fractions and exponents are
// left to json.Unmarshal (which refuses them for an int64 field).
func (d *scanner) integer() int64 {
	d.space()
	neg := d.i < len(d.s) && d.s[d.i] == '-'
	if neg {
		d.i++
	}
	start := d.i
	var n uint64
	for d.i < len(d.s) && '0' <= d.s[d.i] && d.s[d.i] <= '9' {
		if n > (1<<63)/10 {
			d.fail()
			return 0
		}
		n = n*10 + uint64(d.s[d.i]-'0')
		d.i++
	}
	digits := d.i - start
	switch {
	case digits == 0, digits > 1 && d.s[start] == '0', d.i < len(d.s) && strings.IndexByte(".eE", d.s[d.i]) >= 0,
		!neg && n > 1<<63-1, neg && n > 1<<63:
		d.fail()
		return 0
	}
	if neg {
		return -int64(n)
	}
	return int64(n)
}

// instant reads a time in the form json.Marshal gives a UTC time:
// YYYY-MM-DDTHH:MM:SS, up to nine digits of fraction, Z. Other forms (zone
// offsets) are left to json.Unmarshal.
func (d *scanner) instant() time.Time {
	v := d.str()
	if d.bad {
		return time.Time{}
	}
	num := func(s string) int {
		n := 0
		for _, c := range []byte(s) {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	if len(v) < len("2006-01-02T15:04:05Z") || v[4] != '-' || v[7] != '-' || v[10] != 'T' || v[13] != ':' || v[16] != ':' || v[len(v)-1] != 'Z' {
		d.fail()
		return time.Time{}
	}
	year, month, day := num(v[0:4]), num(v[5:7]), num(v[8:10])
	hour, minute, sec := num(v[11:13]), num(v[14:16]), num(v[17:19])
	nsec, frac := 0, v[19:len(v)-1]
	if frac != "" {
		digits := frac[1:]
		if frac[0] != '.' || len(digits) == 0 || len(digits) > 9 {
			d.fail()
			return time.Time{}
		}
		if nsec = num(digits); nsec < 0 {
			d.fail()
			return time.Time{}
		}
		for range 9 - len(digits) {
			nsec *= 10
		}
	}
	if year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		d.fail()
		return time.Time{}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 31 April and the like: time.Date would normalise them
		d.fail()
		return time.Time{}
	}
	return t
}

// seen guards against a repeated key, which json.Unmarshal resolves by
// merging: field is the key's bit in *mask.
func (d *scanner) seen(mask *uint32, field uint32) {
	if *mask&field != 0 {
		d.fail()
	}
	*mask |= field
}

// message reads a chat.Message.
func (d *scanner) message(m *chat.Message) {
	var mask uint32
	for more := d.open('{', '}'); more && !d.bad; more = d.next('}') {
		switch k := d.key(); k {
		case "_id":
			d.seen(&mask, 1<<0)
			m.ID = d.str()
		case "rid":
			d.seen(&mask, 1<<1)
			m.RoomID = d.str()
		case "ts":
			d.seen(&mask, 1<<2)
			m.TS = d.instant()
		case "msg":
			d.seen(&mask, 1<<3)
			m.Msg = d.str()
		case "u":
			d.seen(&mask, 1<<4)
			d.userRef(&m.U)
		case "t":
			d.seen(&mask, 1<<5)
			m.Type = d.str()
		case "role":
			d.seen(&mask, 1<<6)
			m.Role = d.str()
		case "tmid":
			d.seen(&mask, 1<<7)
			m.ThreadID = d.str()
		case "attachments":
			d.seen(&mask, 1<<8)
			m.Attachments = d.attachments()
		case "file":
			d.seen(&mask, 1<<9)
			m.File = new(chat.FileRef)
			d.fileRef(m.File)
		case "files":
			d.seen(&mask, 1<<10)
			m.Files = make([]chat.FileRef, 0, 1)
			for more := d.open('[', ']'); more && !d.bad; more = d.next(']') {
				m.Files = append(m.Files, chat.FileRef{})
				d.fileRef(&m.Files[len(m.Files)-1])
			}
		case "reactions":
			d.seen(&mask, 1<<11)
			m.Reactions = d.reactions()
		case "editedAt":
			d.seen(&mask, 1<<12)
			t := d.instant()
			m.EditedAt = &t
		case "editedBy":
			d.seen(&mask, 1<<13)
			m.EditedBy = new(chat.UserRef)
			d.userRef(m.EditedBy)
		case "_hidden":
			d.seen(&mask, 1<<14)
			m.Hidden = d.boolean()
		case "drid":
			d.seen(&mask, 1<<15)
			m.DiscussionID = d.str()
		default:
			d.fail()
		}
	}
}

// userRef reads a chat.UserRef.
func (d *scanner) userRef(u *chat.UserRef) {
	var mask uint32
	for more := d.open('{', '}'); more && !d.bad; more = d.next('}') {
		switch k := d.key(); k {
		case "_id":
			d.seen(&mask, 1<<0)
			u.ID = d.str()
		case "username":
			d.seen(&mask, 1<<1)
			u.Username = d.str()
		case "name":
			d.seen(&mask, 1<<2)
			u.Name = d.str()
		default:
			d.fail()
		}
	}
}

// fileRef reads a chat.FileRef.
func (d *scanner) fileRef(f *chat.FileRef) {
	var mask uint32
	for more := d.open('{', '}'); more && !d.bad; more = d.next('}') {
		switch k := d.key(); k {
		case "_id":
			d.seen(&mask, 1<<0)
			f.ID = d.str()
		case "name":
			d.seen(&mask, 1<<1)
			f.Name = d.str()
		case "type":
			d.seen(&mask, 1<<2)
			f.Type = d.str()
		case "size":
			d.seen(&mask, 1<<3)
			f.Size = d.integer()
		default:
			d.fail()
		}
	}
}

// reactions reads message.reactions: emoji → the usernames that reacted.
func (d *scanner) reactions() map[string]chat.Reaction {
	rs := map[string]chat.Reaction{}
	for more := d.open('{', '}'); more && !d.bad; more = d.next('}') {
		emoji := d.mapKey()
		if _, dup := rs[emoji]; dup {
			d.fail()
		}
		var r chat.Reaction
		var mask uint32
		for more := d.open('{', '}'); more && !d.bad; more = d.next('}') {
			if d.key() != "usernames" {
				d.fail()
				break
			}
			d.seen(&mask, 1)
			if d.null() { // json.Marshal writes a nil Usernames so
				r.Usernames = nil
				continue
			}
			r.Usernames = make([]string, 0, 4)
			for more := d.open('[', ']'); more && !d.bad; more = d.next(']') {
				r.Usernames = append(r.Usernames, d.str())
			}
		}
		rs[emoji] = r
	}
	return rs
}

// attachments reads message.attachments (and the attachments of a quote).
func (d *scanner) attachments() []chat.Attachment {
	as := make([]chat.Attachment, 0, 1)
	for more := d.open('[', ']'); more && !d.bad; more = d.next(']') {
		as = append(as, chat.Attachment{})
		d.attachment(&as[len(as)-1])
	}
	return as
}

// attachment reads one chat.Attachment.
func (d *scanner) attachment(a *chat.Attachment) {
	var mask uint32
	for more := d.open('{', '}'); more && !d.bad; more = d.next('}') {
		switch k := d.key(); k {
		case "title":
			d.seen(&mask, 1<<0)
			a.Title = d.str()
		case "title_link":
			d.seen(&mask, 1<<1)
			a.TitleLink = d.str()
		case "text":
			d.seen(&mask, 1<<2)
			a.Text = d.str()
		case "description":
			d.seen(&mask, 1<<3)
			a.Description = d.str()
		case "author_name":
			d.seen(&mask, 1<<4)
			a.AuthorName = d.str()
		case "message_link":
			d.seen(&mask, 1<<5)
			a.MessageLink = d.str()
		case "image_url":
			d.seen(&mask, 1<<6)
			a.ImageURL = d.str()
		case "type":
			d.seen(&mask, 1<<7)
			a.Type = d.str()
		case "ts":
			d.seen(&mask, 1<<8)
			t := d.instant()
			a.TS = &t
		case "attachments":
			d.seen(&mask, 1<<9)
			a.Attachments = d.attachments()
		default:
			d.fail()
		}
	}
}

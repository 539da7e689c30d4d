package render

import (
	"bytes"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// jsonMessage is the shape of one line of the JSON document: what
// appendJSONLine writes is what encoding/json writes for this struct
// (json_encode_test.go maps messages to it and compares), and the schema
// tests read the keys and which are optional from its tags. Field order is
// the key order:
// Rocket.Chat's getMessageData keys first (msg, username, ts, attachments,
// type), then this project's additions.
type jsonMessage struct {
	Msg         string                   `json:"msg"`
	Username    string                   `json:"username"`
	TS          string                   `json:"ts"`
	Attachments []jsonAttachment         `json:"attachments,omitempty"`
	Type        string                   `json:"type,omitempty"`
	ID          string                   `json:"_id"`
	ThreadID    string                   `json:"tmid,omitempty"`
	EditedAt    string                   `json:"editedAt,omitempty"`
	Reactions   map[string]chat.Reaction `json:"reactions,omitempty"` // encoding/json sorts the keys
	Files       []jsonFile               `json:"files,omitempty"`
}

// jsonAttachment is one attachment: chat.Attachment's keys in its order,
// with ts written like every other date of the line.
type jsonAttachment struct {
	Title       string           `json:"title,omitempty"`
	TitleLink   string           `json:"title_link,omitempty"`
	Text        string           `json:"text,omitempty"`
	Description string           `json:"description,omitempty"`
	AuthorName  string           `json:"author_name,omitempty"`
	MessageLink string           `json:"message_link,omitempty"`
	ImageURL    string           `json:"image_url,omitempty"`
	Type        string           `json:"type,omitempty"`
	TS          string           `json:"ts,omitempty"`
	Attachments []jsonAttachment `json:"attachments,omitempty"`
}

// jsonFile is one entry of "files": always all four keys.
type jsonFile struct {
	ID   string `json:"_id"`
	Name string `json:"name"`
	Type string `json:"type"`
	Size int64  `json:"size"`
}

// jsonDoc is the newline-delimited JSON document.
type jsonDoc struct {
	stream
	pre prepared // lines rendered ahead (Prepare)
}

// NewJSON returns a Document that writes one JSON object per line, as
// Rocket.Chat's JSON export does (its "<room name>.json" entry), with no
// header or footer line: the manifest describes the export. Timestamps are
// always UTC; HTML-sensitive characters, control characters and U+2028/9 are
// escaped, so a line is safe to embed anywhere.
func NewJSON(w io.Writer) Document {
	return &jsonDoc{stream: stream{kind: "json", w: w}}
}

// Begin starts the document; the JSON document has no header line.
func (d *jsonDoc) Begin(Header) error {
	if err := d.check("begin", true); err != nil {
		return err
	}
	d.begun = true
	return nil
}

// Message writes one line.
func (d *jsonDoc) Message(m chat.Message) error {
	if err := d.check("message", false); err != nil {
		return err
	}
	if line, ok := d.pre.take(m.ID); ok {
		d.buf.Write(line)
	} else {
		d.buf.Write(appendJSONLine(d.buf.AvailableBuffer(), &m))
	}
	return d.flush("message", m.ID)
}

// End finishes the document; the JSON document has no footer line.
func (d *jsonDoc) End(int64) error {
	if err := d.check("end", false); err != nil {
		return err
	}
	d.ended = true
	d.pre.release()
	d.buf = bytes.Buffer{}
	return nil
}

// appendJSONLine appends the line of m and a newline: exactly what an
// encoding/json Encoder (HTML escaping on, its default) writes for the
// jsonMessage of m — keys in field order, empty omitempty fields left
// out, reaction keys sorted, a reaction without users as [], dates in
// tsLayout — without building it. json_encode_test.go holds that mapping
// and compares the two on random and fuzzed messages. This is the JSON
// document's hot loop: no reflection, and no allocation but the sorted
// reaction keys.
func appendJSONLine(b []byte, m *chat.Message) []byte {
	b = append(b, `{"msg":`...)
	b = appendJSONString(b, m.Msg)
	b = append(b, `,"username":`...)
	b = appendJSONString(b, m.U.Username)
	b = append(b, `,"ts":"`...)
	b = appendTS(b, m.TS) // digits and -:.TZ: nothing to escape
	b = append(b, '"')
	if len(m.Attachments) > 0 {
		b = append(b, `,"attachments":`...)
		b = appendJSONAttachments(b, m.Attachments)
	}
	b = appendJSONField(b, `,"type":`, m.Type)
	b = append(b, `,"_id":`...)
	b = appendJSONString(b, m.ID)
	b = appendJSONField(b, `,"tmid":`, m.ThreadID)
	if m.EditedAt != nil {
		b = append(b, `,"editedAt":"`...)
		b = appendTS(b, *m.EditedAt)
		b = append(b, '"')
	}
	if len(m.Reactions) > 0 {
		b = append(b, `,"reactions":{`...)
		keys := make([]string, 0, len(m.Reactions))
		for k := range m.Reactions {
			keys = append(keys, k)
		}
		slices.Sort(keys) // encoding/json orders map keys by strings.Compare
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, `:{"usernames":[`...)
			for i, u := range m.Reactions[k].Usernames {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, u)
			}
			b = append(b, "]}"...)
		}
		b = append(b, '}')
	}
	if files := m.AllFiles(); len(files) > 0 {
		b = append(b, `,"files":[`...)
		for i, f := range files {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"_id":`...)
			b = appendJSONString(b, f.ID)
			b = append(b, `,"name":`...)
			b = appendJSONString(b, f.Name)
			b = append(b, `,"type":`...)
			b = appendJSONString(b, f.Type)
			b = append(b, `,"size":`...)
			b = strconv.AppendInt(b, f.Size, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}

// appendJSONAttachments appends a non-empty list of attachments
// (jsonAttachment's keys), nested ones included.
func appendJSONAttachments(b []byte, atts []chat.Attachment) []byte {
	b = append(b, '[')
	for i := range atts {
		if i > 0 {
			b = append(b, ',')
		}
		a := &atts[i]
		start := len(b)
		b = appendJSONField(b, `,"title":`, a.Title)
		b = appendJSONField(b, `,"title_link":`, a.TitleLink)
		b = appendJSONField(b, `,"text":`, a.Text)
		b = appendJSONField(b, `,"description":`, a.Description)
		b = appendJSONField(b, `,"author_name":`, a.AuthorName)
		b = appendJSONField(b, `,"message_link":`, a.MessageLink)
		b = appendJSONField(b, `,"image_url":`, a.ImageURL)
		b = appendJSONField(b, `,"type":`, a.Type)
		if a.TS != nil {
			b = append(b, `,"ts":"`...)
			b = appendTS(b, *a.TS)
			b = append(b, '"')
		}
		if len(a.Attachments) > 0 {
			b = append(b, `,"attachments":`...)
			b = appendJSONAttachments(b, a.Attachments)
		}
		if len(b) > start {
			b[start] = '{' // the first field's comma opens the object
		} else {
			b = append(b, '{')
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendJSONField appends an omitempty string field: key (with its
// leading comma and colon) and value, or nothing when the value is empty.
func appendJSONField(b []byte, key, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, key...)
	return appendJSONString(b, value)
}

// jsonEscaped0 is the set of bytes 0–63 appendJSONString escapes: control
// characters, " & < and > (of bytes 64–127, only \ is escaped).
const jsonEscaped0 = 1<<0x20 - 1 | 1<<'"' | 1<<'&' | 1<<'<' | 1<<'>'

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it with HTML escaping on: " and \ with a backslash; \b \f \n \r
// \t by name; other control characters, < > and & as \u00XX; U+2028 and
// U+2029 as \u2028 and \u2029 (they end lines in JavaScript); every
// invalid UTF-8 byte as \ufffd. The line is then safe to embed anywhere.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) {
			if x := load8(s[i:]); x&msb8|bytesBelow(x, 0x20)|bytesEqual(x, '"')|bytesEqual(x, '\\')|
				bytesEqual(x, '<')|bytesEqual(x, '>')|bytesEqual(x, '&') == 0 {
				i += 8 // 8 bytes of plain ASCII
				continue
			}
		}
		// Byte by byte to the end of this word, then words again.
		for end := min(i+8, len(s)); i < end; {
			c := s[i]
			if c < utf8.RuneSelf {
				if c < 64 && jsonEscaped0>>c&1 == 0 || c >= 64 && c != '\\' {
					i++
					continue
				}
				b = append(b, s[start:i]...)
				switch c {
				case '"', '\\':
					b = append(b, '\\', c)
				case '\b':
					b = append(b, '\\', 'b')
				case '\f':
					b = append(b, '\\', 'f')
				case '\n':
					b = append(b, '\\', 'n')
				case '\r':
					b = append(b, '\\', 'r')
				case '\t':
					b = append(b, '\\', 't')
				default:
					b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
				}
				i++
				start = i
				continue
			}
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
			case r == '\u2028' || r == '\u2029':
				b = append(b, s[start:i]...)
				b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			default:
				i += size
				continue
			}
			i += size
			start = i
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

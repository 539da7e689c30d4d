// Package render writes export documents: the newline-delimited JSON and the
// self-contained HTML page that go into a rooms.export archive (Rocket.Chat's
// exportRoomMessagesToFile), and the mail body Rocket.Chat's sendViaEmail
// builds from hand-picked messages.
//
// NewJSON writes the JSON lines that MessageSchema (a versioned JSON Schema,
// schema/message-v1.schema.json) describes. NewHTML writes one page;
// NewHTMLBook writes that same page for a normal room and, for a big one,
// pages of DefaultPerPage messages with an index.html, so that no export is
// too big for a browser to open. Times and day boundaries follow
// Header.Location in HTML and mail; JSON dates are always UTC.
//
// Documents stream: each message is rendered into a small reused buffer and
// then written in one call, so memory does not grow with the room and a
// failure never leaves half a message behind. Every piece of user content in
// HTML output is escaped; links allow only http, https and mailto.
//
// Both formats are written by hand, appending to that buffer: the HTML by
// page.go and mail.go with the escapers of escape.go (which write what
// html/template wrote), the JSON by json.go (which writes what
// encoding/json wrote). Neither uses reflection, which keeps a message
// within a few microseconds and keeps the linker from retaining every
// exported method of the binary, as html/template made it do.
package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// Header is what a document says about itself.
type Header struct {
	Room       chat.Room
	From, To   time.Time      // the exported range (inclusive instants)
	Location   *time.Location // zone for rendered times and day boundaries (nil = UTC)
	ExportedAt time.Time
	ExportedBy string // display name of the user who exported
	// Total is the estimated message count, 0 when unknown. The page
	// header shows it ("about N messages"), and NewHTMLBook splits the
	// export into pages when it is above BookOptions.PerPage.
	Total int64
}

// Document streams one export document: Begin, then Message for each message
// in (ts, _id) order, then End.
type Document interface {
	Begin(h Header) error
	Message(m chat.Message) error
	End(count int64) error
}

// tsLayout is how Rocket.Chat's JSON export writes dates (JavaScript's
// Date.toISOString): UTC, exactly three fraction digits.
const tsLayout = "2006-01-02T15:04:05.000Z"

// appendTS appends an instant as Rocket.Chat's JSON export writes it,
// t.UTC().Format(tsLayout), writing the digits itself for years 0 to 9999
// (formatting by layout was a third of the cost of a JSON line).
func appendTS(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, tsLayout)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6 // truncated, as .000 formats it
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, ms, 3)
	return append(b, 'Z')
}

// appendDigits appends the non-negative n in exactly width (at most 4)
// digits.
func appendDigits(b []byte, n, width int) []byte {
	var d [4]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, d[:width]...)
}

// maxKeptBuffer is the largest message buffer a document keeps between
// messages; a bigger one (a huge message) is dropped so that one outlier does
// not pin its memory for the rest of the export.
const maxKeptBuffer = 256 << 10

// Errors of the document life cycle.
var (
	errNotBegun = errors.New("document not begun")
	errBegun    = errors.New("document already begun")
	errEnded    = errors.New("document already ended")
)

// stream is the part every Document shares: the writer, the reused buffer,
// the life-cycle state and the first write error, which sticks (as in bufio):
// once a write fails, the document is broken and says so on every call.
type stream struct {
	kind  string // "json" or "html", for error messages
	w     io.Writer
	buf   bytes.Buffer
	begun bool
	ended bool
	err   error
}

// check reports whether the next step of the life cycle may run.
func (s *stream) check(op string, begin bool) error {
	switch {
	case s.err != nil:
		return s.err
	case s.ended:
		return fmt.Errorf("render %s: %s: %w", s.kind, op, errEnded)
	case begin && s.begun:
		return fmt.Errorf("render %s: %s: %w", s.kind, op, errBegun)
	case !begin && !s.begun:
		return fmt.Errorf("render %s: %s: %w", s.kind, op, errNotBegun)
	}
	return nil
}

// flush writes the buffer in one call and resets it; what (and id, when
// set) name the part for the error.
func (s *stream) flush(what, id string) error {
	_, err := s.w.Write(s.buf.Bytes())
	if s.buf.Cap() > maxKeptBuffer {
		s.buf = bytes.Buffer{}
	} else {
		s.buf.Reset()
	}
	if err != nil {
		if id != "" {
			what += " " + id
		}
		s.err = fmt.Errorf("render %s: write %s: %w", s.kind, what, err)
		return s.err
	}
	return nil
}

// fail records a rendering error; the buffer is discarded, not written.
func (s *stream) fail(op string, err error) error {
	s.buf.Reset()
	s.err = fmt.Errorf("render %s: %s: %w", s.kind, op, err)
	return s.err
}

// cleanText makes user text safe to put in a document as text: valid UTF-8,
// CRLF and CR as LF, and no control characters other than tab and newline
// (HTML forbids most of them and mail transports mangle them).
func cleanText(s string) string {
	if isClean(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsFunc(s, isDropped) && !strings.Contains(s, "\r") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if isDropped(r) {
			return -1
		}
		return r
	}, s)
}

// isClean reports whether cleanText would return s unchanged: valid UTF-8
// with no CR and no dropped control character. It is the fast path of
// cleanText, one pass over the bytes, for the usual text that needs no
// change.
func isClean(s string) bool {
	for i := 0; i < len(s); {
		if i+8 <= len(s) && isPrintableASCII8(load8(s[i:])) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || isDropped(r) {
			return false
		}
		i += size
	}
	return true
}

// isPrintableASCII8 reports whether the 8 bytes in x are all printable
// ASCII (0x20 to 0x7e): no high bit, no byte below 0x20, no 0x7f.
func isPrintableASCII8(x uint64) bool {
	return x&msb8|bytesBelow(x, 0x20)|bytesEqual(x, 0x7f) == 0
}

// isDropped reports the control characters cleanText removes.
func isDropped(r rune) bool {
	return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7f && r < 0xa0)
}

// location returns loc, or UTC when it is nil.
func location(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

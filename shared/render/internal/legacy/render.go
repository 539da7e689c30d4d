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
package legacy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

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

// formatTS renders an instant as Rocket.Chat's JSON export does.
func formatTS(t time.Time) string { return t.UTC().Format(tsLayout) }

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

// flush writes the buffer in one call and resets it.
func (s *stream) flush(op string) error {
	_, err := s.w.Write(s.buf.Bytes())
	if s.buf.Cap() > maxKeptBuffer {
		s.buf = bytes.Buffer{}
	} else {
		s.buf.Reset()
	}
	if err != nil {
		s.err = fmt.Errorf("render %s: write %s: %w", s.kind, op, err)
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
	if s == "" {
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

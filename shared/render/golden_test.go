package render

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
	_ "time/tzdata" // the golden files use Europe/Berlin; do not depend on the host's zoneinfo

	"github.com/rooms-export/rooms-export/shared/chat"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("update %s: %v", path, err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("update %s: %v", path, err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (run go test ./shared/render -update to create it): %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; diff the output of -update to review:\n%s", path, firstDiff(got, want))
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + string(gl) + "\nwant: " + string(wl)
		}
	}
	return "(no line differs)"
}

// berlin is the zone of the golden documents: it moves the last message to
// the next day, which UTC does not.
func berlin(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatalf("load zone: %v", err)
	}
	return loc
}

// renderDoc runs a whole document over msgs and returns its bytes.
func renderDoc(t testing.TB, doc func(*bytes.Buffer) Document, h Header, msgs []chat.Message) []byte {
	t.Helper()
	var buf bytes.Buffer
	d := doc(&buf)
	if err := d.Begin(h); err != nil {
		t.Fatalf("begin: %v", err)
	}
	for _, m := range msgs {
		if err := d.Message(m); err != nil {
			t.Fatalf("message %s: %v", m.ID, err)
		}
	}
	if err := d.End(int64(len(msgs))); err != nil {
		t.Fatalf("end: %v", err)
	}
	return buf.Bytes()
}

func newHTMLBuf(b *bytes.Buffer) Document { return NewHTML(b) }
func newJSONBuf(b *bytes.Buffer) Document { return NewJSON(b) }

func TestGoldenHTML(t *testing.T) {
	golden(t, "export.html", renderDoc(t, newHTMLBuf, sampleHeader(berlin(t)), sampleMessages()))
}

func TestGoldenJSON(t *testing.T) {
	golden(t, "export.ndjson", renderDoc(t, newJSONBuf, sampleHeader(berlin(t)), sampleMessages()))
}

// TestGoldenBook pins the pages and the index of an export split into
// pages: 26 sample messages at 10 a page, with a thread reply (m18, page 2)
// whose parent (m01) is on page 1.
func TestGoldenBook(t *testing.T) {
	msgs := sampleMessages()
	parents := func(id string) (chat.Message, error) {
		for _, m := range msgs {
			if m.ID == id {
				return m, nil
			}
		}
		return chat.Message{}, chat.ErrNotFound
	}
	e := renderBook(t, BookOptions{PerPage: 10, BaseName: "GENERAL", Options: Options{Parents: parents}}, 26, berlin(t), msgs)
	if len(e.names) != 4 {
		t.Fatalf("entries %v", e.names)
	}
	for _, name := range e.names {
		golden(t, filepath.Join("book", name), e.data[name].Bytes())
	}
}

func TestGoldenMail(t *testing.T) {
	htmlBody, textBody := MailBody(sampleRoom(), sampleMessages(), berlin(t))
	golden(t, "mail.html", []byte(htmlBody))
	golden(t, "mail.txt", []byte(textBody))
}

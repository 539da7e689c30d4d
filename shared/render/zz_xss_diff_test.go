package render

// TEMPORARY: XSS corpus through the old and the new renderer.

import (
	"bytes"
	"io"
	"testing"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/render/internal/legacy"
)

func TestZZXSSLegacyDiff(t *testing.T) {
	for _, p := range xssPayloads {
		h := xssHeader(p)
		msgs := xssMessages(p)
		parents := func(id string) (chat.Message, error) {
			if id == p {
				return chat.Message{ID: p, Msg: p, U: chat.UserRef{Name: p}, TS: at(-10000000000000)}, nil
			}
			return chat.Message{}, chat.ErrNotFound
		}
		for _, per := range []int{1, 2, 100} {
			var names1, names2 []string
			d1, d2 := map[string]*bytes.Buffer{}, map[string]*bytes.Buffer{}
			o1 := func(n string) (io.Writer, error) { names1 = append(names1, n); d1[n] = &bytes.Buffer{}; return d1[n], nil }
			o2 := func(n string) (io.Writer, error) { names2 = append(names2, n); d2[n] = &bytes.Buffer{}; return d2[n], nil }
			a := NewHTMLBook(o1, BookOptions{PerPage: per, BaseName: "x", Options: Options{Parents: parents}})
			b := legacy.NewHTMLBook(o2, legacy.BookOptions{PerPage: per, BaseName: "x", Options: legacy.Options{Parents: parents}})
			must(t, a.Begin(h))
			must(t, b.Begin(legacy.Header(h)))
			for _, m := range msgs {
				must(t, a.Message(m))
				must(t, b.Message(m))
			}
			must(t, a.End(int64(len(msgs))))
			must(t, b.End(int64(len(msgs))))
			if len(names1) != len(names2) {
				t.Fatalf("entries")
			}
			for _, n := range names1 {
				if !bytes.Equal(d1[n].Bytes(), d2[n].Bytes()) {
					t.Errorf("payload %q entry %s differs", p, n)
				}
			}
		}
		h1, t1 := MailBody(h.Room, msgs, nil)
		h2, t2 := legacy.MailBody(h.Room, msgs, nil)
		if h1 != h2 || t1 != t2 {
			t.Errorf("payload %q: mail differs", p)
		}
	}
}

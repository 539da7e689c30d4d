package render

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// feedPrepared writes msgs into d as the exporter does: pages of size
// messages, each page after the first prepared on another goroutine while
// the previous one is being written; the messages at skip are left out of
// the page they are prepared with but written all the same.
func feedPrepared(t *testing.T, d Document, msgs []chat.Message, size int, skip map[int]bool) {
	t.Helper()
	p, ok := d.(Preparer)
	if !ok {
		t.Fatalf("%T is not a Preparer", d)
	}
	type page struct{ from, to int }
	pages := make(chan page, 1)
	go func() {
		defer close(pages)
		for from := 0; from < len(msgs); from += size {
			to := min(from+size, len(msgs))
			if from > 0 { // the first page is written unprepared
				var some []chat.Message
				for i := from; i < to; i++ {
					if !skip[i] {
						some = append(some, msgs[i])
					}
				}
				p.Prepare(some)
			}
			pages <- page{from, to}
		}
	}()
	for pg := range pages {
		for _, m := range msgs[pg.from:pg.to] {
			must(t, d.Message(m))
		}
	}
}

// Prepared ahead on another goroutine or not, a document is the same.
func TestPreparedDocumentsAreTheSame(t *testing.T) {
	rich := sampleMessages()
	book := generated(95, 37*time.Minute)
	for i := range book {
		book[i].Msg = rich[i%len(rich)].Msg // markdown, links, mentions, emoji
	}
	skip := map[int]bool{3: true, 8: true, 9: true, 40: true}
	for _, tc := range []struct {
		name string
		msgs []chat.Message
		open func(io.Writer, func(string) (io.Writer, error)) Document
	}{
		{"json", rich, func(w io.Writer, _ func(string) (io.Writer, error)) Document { return NewJSON(w) }},
		{"html", rich, func(w io.Writer, _ func(string) (io.Writer, error)) Document { return NewHTML(w) }},
		{"html book", book, func(_ io.Writer, open func(string) (io.Writer, error)) Document {
			return NewHTMLBook(open, BookOptions{PerPage: 20, BaseName: "GENERAL"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := sampleHeader(time.UTC)
			h.Total = int64(len(tc.msgs))
			render := func(prepare bool) *entries {
				e := newEntries()
				w, err := e.open("document")
				must(t, err)
				d := tc.open(w, e.open)
				must(t, d.Begin(h))
				if prepare {
					feedPrepared(t, d, tc.msgs, 7, skip)
				} else {
					for _, m := range tc.msgs {
						must(t, d.Message(m))
					}
				}
				must(t, d.End(int64(len(tc.msgs))))
				return e
			}
			want, got := render(false), render(true)
			if fmt.Sprint(got.names) != fmt.Sprint(want.names) {
				t.Fatalf("entries %v, want %v", got.names, want.names)
			}
			for _, name := range want.names {
				if want.data[name].Len() == 0 && name != "document" {
					t.Fatalf("%s is empty", name)
				}
				if !bytes.Equal(got.data[name].Bytes(), want.data[name].Bytes()) {
					t.Fatalf("%s differs when prepared ahead", name)
				}
			}
		})
	}
}

// A prepared message is only used by the message it was prepared for.
func TestPreparedQueueMatchesIDs(t *testing.T) {
	var q prepared
	p := q.page(3)
	for _, id := range []string{"a", "b", "c"} {
		p.add(id, func(b []byte) []byte { return append(b, "<"+id+">"...) })
	}
	q.push(p)
	if _, ok := q.take("b"); ok {
		t.Fatal("took b before a")
	}
	for _, id := range []string{"a", "b", "c"} {
		got, ok := q.take(id)
		if !ok || string(got) != "<"+id+">" {
			t.Fatalf("take(%s) = %q, %v", id, got, ok)
		}
	}
	if got, ok := q.take("d"); ok {
		t.Fatalf("take(d) on an empty queue = %q", got)
	}
}

package render

import (
	"io"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// benchMessages cycles through the sample messages with increasing times.
func benchMessages(n int) []chat.Message {
	sample := sampleMessages()
	out := make([]chat.Message, n)
	for i := range out {
		out[i] = sample[i%len(sample)]
		out[i].TS = at(time.Duration(i) * time.Minute)
	}
	return out
}

func benchDocument(b *testing.B, newDoc func(io.Writer) Document) {
	msgs := benchMessages(1000)
	b.ReportAllocs()
	for b.Loop() {
		d := newDoc(io.Discard)
		if err := d.Begin(sampleHeader(nil)); err != nil {
			b.Fatal(err)
		}
		for _, m := range msgs {
			if err := d.Message(m); err != nil {
				b.Fatal(err)
			}
		}
		if err := d.End(int64(len(msgs))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHTMLDocument1000 renders a 1000-message page, its head and footer included.
func BenchmarkHTMLDocument1000(b *testing.B) { benchDocument(b, NewHTML) }

// BenchmarkJSONDocument1000 renders a 1000-message JSON document.
func BenchmarkJSONDocument1000(b *testing.B) { benchDocument(b, NewJSON) }

// BenchmarkHTMLEmptyDocument is the fixed cost of one page (head, stylesheet, footer).
func BenchmarkHTMLEmptyDocument(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		d := NewHTML(io.Discard)
		if err := d.Begin(sampleHeader(nil)); err != nil {
			b.Fatal(err)
		}
		if err := d.End(0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarkdown renders the markdown of every sample message.
func BenchmarkMarkdown(b *testing.B) {
	msgs := sampleMessages()
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			_ = markdown(m.Msg, pageFlavor)
		}
	}
}

package render_test

// Per-message benchmarks of the renderers on generated, realistic messages
// (infra/bench/gen: markdown, non-ASCII text, files, system messages,
// threads, reactions). bench_test.go measures whole 1000-message documents
// of the hand-written samples; these measure the hot loop the export runs,
// one Message call per op, and report messages/s and output bytes per
// message. They live in an external test package: gen reaches render
// through workspace and export.

import (
	"io"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/infra/bench/gen"
	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/render"
)

// benchRoom is a generated room held in memory, in (ts, _id) order.
func benchRoom(n int) (render.Header, []chat.Message) {
	g := gen.New(gen.Config{Messages: n, Seed: 1})
	msgs := make([]chat.Message, 0, n)
	for g.More() {
		msgs = append(msgs, g.Next().Message)
	}
	h := g.Header()
	c := g.Counts()
	return render.Header{
		Room: h.Room, From: c.First, To: c.Last, Location: time.UTC,
		ExportedAt: c.Last.Add(time.Hour), ExportedBy: h.Exporter.DisplayName(), Total: int64(n),
	}, msgs
}

// countingDiscard counts what a renderer writes and keeps none of it.
type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// benchPerMessage renders one message per op. When the room runs out, the
// document is ended and a new one begun (outside the timer), so messages
// always arrive in order, as they do in an export.
func benchPerMessage(b *testing.B, newDoc func(io.Writer) render.Document) {
	hdr, msgs := benchRoom(20000)
	out := &countingDiscard{}
	var doc render.Document
	begin := func() {
		doc = newDoc(out)
		if err := doc.Begin(hdr); err != nil {
			b.Fatal(err)
		}
	}
	begin()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := doc.Message(msgs[n%len(msgs)]); err != nil {
			b.Fatal(err)
		}
		n++
		if n%len(msgs) == 0 {
			b.StopTimer()
			if err := doc.End(int64(len(msgs))); err != nil {
				b.Fatal(err)
			}
			begin()
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(out.n)/float64(n), "B/msg")
}

// BenchmarkJSONMessage is the JSON renderer's cost per message.
func BenchmarkJSONMessage(b *testing.B) { benchPerMessage(b, render.NewJSON) }

// BenchmarkHTMLMessage is the HTML renderer's cost per message.
func BenchmarkHTMLMessage(b *testing.B) { benchPerMessage(b, render.NewHTML) }

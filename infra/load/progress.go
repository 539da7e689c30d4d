package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/rcimport"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// progress shows how a load is going on stderr: a bar with the share done,
// the rate and the time left when stderr is a terminal, a plain line every
// few seconds otherwise (CI logs, files), or nothing.
type progress struct {
	mode  string // "bar", "lines" or "off"
	every time.Duration
	w     io.Writer
	width func() int
	now   func() time.Time

	start, last time.Time
	drawn       bool // a bar is on the screen (finish ends its line)

	// For sources that do not report rcimport.Progress themselves: what
	// is being read, the records put so far, and the bytes read.
	name  string
	docs  int64
	total int64
	bytes func() int64
}

func newProgress(c config, env Env) *progress {
	width := env.Width
	if width == nil {
		width = func() int { return 80 }
	}
	return &progress{mode: c.progress, every: c.every, w: env.Stderr, width: width, now: time.Now}
}

// begin starts counting for a source that reports no progress of its own.
func (p *progress) begin(name string, total int64, bytes func() int64) {
	p.name, p.total, p.bytes = name, total, bytes
	p.start = p.now()
	p.last = p.start
}

// counting wraps a sink so that each batch it takes advances the progress.
func (p *progress) counting(s workspace.Sink) workspace.Sink { return countingSink{s: s, p: p} }

// add counts n records and shows progress when due.
func (p *progress) add(n int) {
	p.docs += int64(n)
	if p.now().Sub(p.last) < p.every {
		return
	}
	p.last = p.now()
	st := rcimport.Progress{Collection: p.name, Docs: p.docs, TotalBytes: p.total, Elapsed: p.now().Sub(p.start)}
	if p.bytes != nil {
		st.Bytes = p.bytes()
	}
	p.show(st)
}

// end shows the final state of a source started with begin.
func (p *progress) end() {
	p.show(rcimport.Progress{Docs: p.docs, Bytes: p.total, TotalBytes: p.total, Elapsed: p.now().Sub(p.start), Done: true})
}

// update shows an import's progress (rcimport calls it when due).
func (p *progress) update(s rcimport.Progress) { p.show(s) }

func (p *progress) show(s rcimport.Progress) {
	switch p.mode {
	case "bar":
		line := renderBar(s, p.width())
		fmt.Fprint(p.w, "\r\x1b[K"+line)
		p.drawn = true
	case "lines":
		if s.Done {
			fmt.Fprintf(p.w, "load: done: %s documents in %s\n", count(s.Docs), s.Elapsed.Round(time.Millisecond))
			return
		}
		fmt.Fprintf(p.w, "load: %s\n", describe(s))
	}
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// describe is the state in words: "rocketchat_message 45%, 123,456
// documents, 12,345/s, about 1m02s left".
func describe(s rcimport.Progress) string {
	var parts []string
	head := s.Collection
	if s.TotalBytes > 0 {
		head += fmt.Sprintf(" %3.0f%%", 100*s.Fraction())
	}
	parts = append(parts, strings.TrimSpace(head), count(s.Docs)+" documents")
	if r := s.Rate(); r > 0 {
		parts = append(parts, count(int64(r))+"/s")
	}
	if eta, ok := s.ETA(); ok && !s.Done {
		parts = append(parts, "about "+clock(eta)+" left")
	}
	return strings.Join(parts, ", ")
}

// renderBar draws "[=====>      ]  45%  rocketchat_message  123,456 docs
// 12,345/s  ETA 1:02" in width columns.
func renderBar(s rcimport.Progress, width int) string {
	info := fmt.Sprintf(" %s  %s docs", s.Collection, count(s.Docs))
	if s.Collection == "" {
		info = fmt.Sprintf(" done  %s docs", count(s.Docs))
	}
	if r := s.Rate(); r > 0 {
		info += "  " + count(int64(r)) + "/s"
	}
	if eta, ok := s.ETA(); ok && !s.Done {
		info += "  ETA " + clock(eta)
	}
	if s.Done {
		info += "  " + clock(s.Elapsed)
	}
	pct := "     "
	if s.TotalBytes > 0 || s.Done {
		pct = fmt.Sprintf(" %3.0f%%", 100*s.Fraction())
	}
	barW := min(40, width-len([]rune(info))-len(pct)-3)
	if barW < 10 {
		return strings.TrimSpace(pct + info)
	}
	var bar string
	if s.TotalBytes > 0 || s.Done {
		filled := int(s.Fraction() * float64(barW))
		bar = strings.Repeat("=", filled)
		if filled < barW {
			bar += ">" + strings.Repeat(" ", barW-filled-1)
		}
	} else {
		// No total to measure against: a marker that moves with the count.
		at := int(s.Docs/100) % barW
		bar = strings.Repeat(" ", at) + "<=>"
		bar = (bar + strings.Repeat(" ", barW))[:barW]
	}
	return "[" + bar + "]" + pct + info
}

// count writes n with thousands separators.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// clock writes d as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	sec := int64(d.Round(time.Second) / time.Second)
	h, m, s := sec/3600, sec/60%60, sec%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// countingSink passes batches on and counts them for the progress.
type countingSink struct {
	s workspace.Sink
	p *progress
}

func putCounted[T any](ctx context.Context, p *progress, put func(context.Context, []T) error, v []T) error {
	if err := put(ctx, v); err != nil {
		return err
	}
	p.add(len(v))
	return nil
}

func (c countingSink) PutUsers(ctx context.Context, v []chat.User) error {
	return putCounted(ctx, c.p, c.s.PutUsers, v)
}
func (c countingSink) PutTokens(ctx context.Context, v []chat.Token) error {
	return putCounted(ctx, c.p, c.s.PutTokens, v)
}
func (c countingSink) PutPermissions(ctx context.Context, v []chat.Permission) error {
	return putCounted(ctx, c.p, c.s.PutPermissions, v)
}
func (c countingSink) PutRooms(ctx context.Context, v []chat.Room) error {
	return putCounted(ctx, c.p, c.s.PutRooms, v)
}
func (c countingSink) PutSubscriptions(ctx context.Context, v []chat.Subscription) error {
	return putCounted(ctx, c.p, c.s.PutSubscriptions, v)
}
func (c countingSink) PutMessages(ctx context.Context, v []chat.Message) error {
	return putCounted(ctx, c.p, c.s.PutMessages, v)
}
func (c countingSink) PutUploads(ctx context.Context, v []chat.Upload) error {
	return putCounted(ctx, c.p, c.s.PutUploads, v)
}

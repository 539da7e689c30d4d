package render

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Snapshotter is a Document whose state can be saved between two messages
// and restored in another process, so that a big export can stop at a
// checkpoint and go on elsewhere. A resumed document writes exactly the
// bytes the original would have written from that point.
type Snapshotter interface {
	Document
	// Snapshot returns the document's state after the last message written
	// (JSON; small: it grows with the pages and days of an HTML book, not
	// with its messages).
	Snapshot() ([]byte, error)
}

// Snapshot of the JSON document: it has no state beyond having begun.
func (d *jsonDoc) Snapshot() ([]byte, error) {
	if err := d.check("snapshot", false); err != nil {
		return nil, err
	}
	return []byte(`{"kind":"json"}`), nil
}

// ResumeJSON continues a JSON document on w (the entry it was writing).
func ResumeJSON(w io.Writer, snapshot []byte) (Document, error) {
	var s struct{ Kind string }
	if err := json.Unmarshal(snapshot, &s); err != nil || s.Kind != "json" {
		return nil, fmt.Errorf("render json: resume: not a JSON document snapshot")
	}
	d := NewJSON(w).(*jsonDoc)
	d.begun = true
	return d, nil
}

// htmlSnapshot is the saved state of an HTML page or book.
type htmlSnapshot struct {
	Kind    string               `json:"kind"`
	Paged   bool                 `json:"paged"`
	Count   int64                `json:"count"`
	Page    int                  `json:"page"`
	Pages   []pageSnap           `json:"pages"`
	Days    []daySnap            `json:"days"`
	LastDay string               `json:"lastDay,omitempty"`
	Prev    *groupSnap           `json:"prev,omitempty"`
	Seen    []string             `json:"seen,omitempty"`
	Quoted  map[string][2]string `json:"quoted,omitempty"` // parent id → reply id, where
}

type pageSnap struct {
	FirstID string    `json:"firstId,omitempty"`
	FirstTS time.Time `json:"firstTs"`
	LastTS  time.Time `json:"lastTs"`
	FirstNo int64     `json:"firstNo"`
	Count   int64     `json:"count"`
}

type daySnap struct {
	Day      string `json:"day"` // YYYY-MM-DD in the document's zone
	Page     int    `json:"page"`
	LastPage int    `json:"lastPage"`
	Count    int64  `json:"count"`
}

type groupSnap struct {
	Author string    `json:"author"`
	Thread string    `json:"thread,omitempty"`
	Day    string    `json:"day"`
	TS     time.Time `json:"ts"`
	System bool      `json:"system,omitempty"`
}

// Snapshot of the HTML document: pages, days, grouping and thread state.
func (d *htmlDoc) Snapshot() ([]byte, error) {
	if err := d.check("snapshot", false); err != nil {
		return nil, err
	}
	s := htmlSnapshot{Kind: "html", Paged: d.paged, Count: d.count, Page: d.page, LastDay: d.lastDay}
	for _, p := range d.pages {
		s.Pages = append(s.Pages, pageSnap{FirstID: p.firstID, FirstTS: p.firstTS, LastTS: p.lastTS, FirstNo: p.firstNo, Count: p.count})
	}
	for _, day := range d.days {
		s.Days = append(s.Days, daySnap{Day: day.iso, Page: day.page, LastPage: day.lastPage, Count: day.count})
	}
	if d.havePrev {
		p := d.prev
		s.Prev = &groupSnap{Author: p.author, Thread: p.thread, Day: p.day, TS: p.ts, System: p.system}
	}
	for id := range d.thread.seen {
		s.Seen = append(s.Seen, id)
	}
	if len(d.thread.quoted) > 0 {
		s.Quoted = map[string][2]string{}
		for id, q := range d.thread.quoted {
			s.Quoted[id] = [2]string{q.replyID, q.where}
		}
	}
	return json.Marshal(s)
}

// ResumeHTMLBook continues an HTML page or book: h and opts are those the
// document began with, current is the entry it was writing, and open
// starts the entries that follow (as for NewHTMLBook).
func ResumeHTMLBook(open func(name string) (io.Writer, error), opts BookOptions, h Header, current io.Writer, snapshot []byte) (Document, error) {
	var s htmlSnapshot
	if err := json.Unmarshal(snapshot, &s); err != nil || s.Kind != "html" || s.Page < 1 || len(s.Pages) != s.Page {
		return nil, fmt.Errorf("render html: resume: not an HTML document snapshot")
	}
	d := newHTMLDoc(opts)
	d.open = open
	d.begun = true
	d.loc = location(h.Location)
	d.from, d.to, d.total = h.From, h.To, h.Total
	d.hdr, d.w = newHeaderView(h, d.loc), current
	d.paged, d.count, d.page, d.lastDay = s.Paged, s.Count, s.Page, s.LastDay
	for _, p := range s.Pages {
		d.pages = append(d.pages, pageStat{firstID: p.FirstID, firstTS: p.FirstTS, lastTS: p.LastTS, firstNo: p.FirstNo, count: p.Count})
	}
	for _, day := range s.Days {
		t, err := time.ParseInLocation(isoDayLayout, day.Day, d.loc)
		if err != nil {
			return nil, fmt.Errorf("render html: resume: day %q: %w", day.Day, err)
		}
		d.days = append(d.days, dayStat{day: t, iso: day.Day, page: day.Page, lastPage: day.LastPage, count: day.Count})
	}
	if s.Prev != nil {
		d.prev = groupKey{author: s.Prev.Author, thread: s.Prev.Thread, day: s.Prev.Day, ts: s.Prev.TS, system: s.Prev.System}
		d.havePrev = true
	}
	d.thread.newPage(int64(len(s.Seen)))
	for _, id := range s.Seen {
		d.thread.saw(id)
	}
	for id, q := range s.Quoted {
		d.thread.quoted[id] = quotedParent{replyID: q[0], where: q[1]}
	}
	return d, nil
}

var (
	_ Snapshotter = (*jsonDoc)(nil)
	_ Snapshotter = (*htmlDoc)(nil)
)

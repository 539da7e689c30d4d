package render

import (
	"bytes"
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
	// Snapshot returns the document's state after the last message
	// written, encoded (as JSON, for ResumeJSON or ResumeHTMLBook) when
	// MarshalJSON is called, any time later: the encoding is always that
	// of the state at the Snapshot call, while the document goes on. A
	// snapshot is cheap to take and to keep — a few hundred bytes that
	// share with the document what only grows (its page and day records,
	// the ids seen on the page) — because the exporter keeps each one until
	// the upload's durable bytes cover it, and an HTML book's encoding,
	// which lists the up to PerPage ids of the current page, is hundreds
	// of KB. Snapshot and MarshalJSON run on the goroutine that writes the
	// document.
	Snapshot() (json.Marshaler, error)
}

// jsonSnapshot is the JSON document's snapshot: it has no state beyond
// having begun.
var jsonSnapshot = json.RawMessage(`{"kind":"json"}`)

// Snapshot of the JSON document.
func (d *jsonDoc) Snapshot() (json.Marshaler, error) {
	if err := d.check("snapshot", false); err != nil {
		return nil, err
	}
	return jsonSnapshot, nil
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

// htmlMark is an HTML document's state as Snapshot took it. The records of
// the pages and days before the last ones, and the ids seen on the page,
// are prefixes of the document's slices, which only grow (a new page
// gets a new id slice): only the last page and day records, which the
// document goes on counting in, are copied.
type htmlMark struct {
	s        htmlSnapshot // all but Pages, Days and Seen
	pages    []pageStat   // all but the last page
	lastPage pageStat
	days     []dayStat // all but the last day
	lastDay  dayStat
	haveDay  bool
	seen     []byte // a threadState.order
}

// maxCopiedSeen is the most bytes of page ids (threadState.order) a
// snapshot copies instead of sharing: a couple of hundred ids.
const maxCopiedSeen = 4 << 10

// Snapshot of the HTML document: pages, days, grouping and thread state.
func (d *htmlDoc) Snapshot() (json.Marshaler, error) {
	if err := d.check("snapshot", false); err != nil {
		return nil, err
	}
	m := &htmlMark{
		s:    htmlSnapshot{Kind: "html", Paged: d.paged, Count: d.count, Page: d.page, LastDay: d.lastDay},
		seen: d.thread.order[:len(d.thread.order):len(d.thread.order)],
	}
	if len(m.seen) <= maxCopiedSeen {
		// Early in a page (where the exporter takes its snapshots):
		// copy the few ids rather than keep the array the page has
		// reserved for all of its own, which it leaves at the next page.
		m.seen = bytes.Clone(m.seen)
	}
	if n := len(d.pages); n > 0 {
		m.pages, m.lastPage = d.pages[:n-1:n-1], d.pages[n-1]
	}
	if n := len(d.days); n > 0 {
		m.days, m.lastDay, m.haveDay = d.days[:n-1:n-1], d.days[n-1], true
	}
	if d.havePrev {
		p := d.prev
		m.s.Prev = &groupSnap{Author: p.author, Thread: p.thread, Day: p.day, TS: p.ts, System: p.system}
	}
	if len(d.thread.quoted) > 0 {
		m.s.Quoted = make(map[string][2]string, len(d.thread.quoted))
		for id, q := range d.thread.quoted {
			m.s.Quoted[id] = [2]string{q.replyID, q.where}
		}
	}
	return m, nil
}

// MarshalJSON encodes the snapshot (an htmlSnapshot).
func (m *htmlMark) MarshalJSON() ([]byte, error) {
	s := m.s
	s.Pages = make([]pageSnap, 0, len(m.pages)+1)
	for _, p := range m.pages {
		s.Pages = append(s.Pages, pageSnap{FirstID: p.firstID, FirstTS: p.firstTS, LastTS: p.lastTS, FirstNo: p.firstNo, Count: p.count})
	}
	if s.Page > 0 {
		p := m.lastPage
		s.Pages = append(s.Pages, pageSnap{FirstID: p.firstID, FirstTS: p.firstTS, LastTS: p.lastTS, FirstNo: p.firstNo, Count: p.count})
	}
	days := m.days
	if m.haveDay {
		days = append(days, m.lastDay) // the capacity is len: a copy, never the document's array
	}
	for _, day := range days {
		s.Days = append(s.Days, daySnap{Day: day.iso, Page: day.page, LastPage: day.lastPage, Count: day.count})
	}
	s.Seen = seenIDs(m.seen)
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

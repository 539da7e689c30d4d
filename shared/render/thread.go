package render

import (
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// groupingPeriod is Rocket.Chat's Message_GroupingPeriod default (300 s):
// a message by the same author within it is shown under the previous one.
const groupingPeriod = 5 * time.Minute

// groupKey is what decides whether a message continues the previous one.
type groupKey struct {
	author string
	thread string
	day    string
	ts     time.Time
	system bool
}

func groupKeyOf(m chat.Message, day string) groupKey {
	author := m.U.ID
	if author == "" {
		author = "@" + m.U.Username
	}
	return groupKey{author: author, thread: m.ThreadID, day: day, ts: m.TS, system: m.Type != ""}
}

// follows reports whether a message with key k is shown grouped under prev,
// as Rocket.Chat's isSequential decides: same author, neither a system
// message, both in the same thread (or neither in one), the same day, and
// less than the grouping period apart.
func (k groupKey) follows(prev groupKey) bool {
	if k.system || prev.system || k.author == "@" {
		return false
	}
	gap := k.ts.Sub(prev.ts)
	return k.author == prev.author && k.thread == prev.thread && k.day == prev.day && gap >= 0 && gap < groupingPeriod
}

// threadView is the line that marks a thread reply.
type threadView struct {
	ParentID string // link target on this or another page ("" when none)
	Href     string // the other page holding the parent; "" for this page
	Page     int    // its number, when Href is set
	Where    string // "from before this export", ...: the parent is not linked
	QuotedID string // the reply on this page that already quotes the parent
	Quote    []attachmentView
}

// parentHit is a looked-up thread parent.
type parentHit struct {
	found bool
	ts    time.Time
	id    string
	quote attachmentView
}

// maxParentCache bounds the thread-parent cache; it is emptied when full.
const maxParentCache = 1024

// threadState is what a document remembers to link replies to their
// parents: the message ids of the current page (a page holds at most
// PerPage messages; past twice that, lookups take over), the outside
// parents already quoted on it, and a bounded cache of lookups.
type threadState struct {
	seen map[string]struct{}
	// order is seen's ids in the order they were seen, each after its
	// length as a uvarint: a snapshot keeps a prefix of it (it only grows
	// until the next page replaces it) instead of a copy of the set. Bytes,
	// not strings: the exporter keeps the snapshots of up to a part of
	// output, which spans several pages, each of ten thousand ids.
	order   []byte
	maxSeen int
	quoted  map[string]quotedParent
	cache   map[string]parentHit
}

// quotedParent is an outside parent quoted on this page, and by which reply.
type quotedParent struct {
	replyID string
	where   string
}

// newPage forgets the page before. expect is how many messages the new
// page should hold: the id set gets room for them at once (up to maxSeen)
// instead of growing step by step, which cost more than rendering.
func (t *threadState) newPage(expect int64) {
	n := min(max(expect, 0), int64(t.maxSeen))
	if t.seen == nil {
		t.seen = make(map[string]struct{}, n)
	} else {
		clear(t.seen) // keeps its room: a book's pages are alike
	}
	// A new slice, not the old one emptied: snapshots may hold the old.
	t.order = make([]byte, 0, n*idBytes)
	t.quoted = map[string]quotedParent{}
}

// saw records id as on the page. It keeps a copy: a store may hand out
// ids that share memory with the rest of their message (the embedded
// store's decoded records), which the page's ten thousand ids would
// otherwise keep alive.
func (t *threadState) saw(id string) {
	if n := len(t.seen); n < t.maxSeen {
		if _, ok := t.seen[id]; ok {
			return
		}
		id = strings.Clone(id)
		t.seen[id] = struct{}{}
		t.order = binary.AppendUvarint(t.order, uint64(len(id)))
		t.order = append(t.order, id...)
	}
}

// idBytes is what an id takes in threadState.order: a Rocket.Chat id is 17
// characters, after one byte of length.
const idBytes = 18

// seenIDs decodes the ids of a threadState.order.
func seenIDs(order []byte) []string {
	var ids []string
	for len(order) > 0 {
		n, k := binary.Uvarint(order)
		order = order[k:]
		ids = append(ids, string(order[:n]))
		order = order[n:]
	}
	return ids
}

// threadView decides how a reply shows its parent: a link when the parent
// is on this page or another page of the export, a quote when it lies
// outside the exported range, a plain note when nothing more is known.
func (d *htmlDoc) threadView(m chat.Message) (*threadView, error) {
	pid := m.ThreadID
	if _, ok := d.thread.seen[pid]; ok {
		return &threadView{ParentID: pid}, nil
	}
	if q, ok := d.thread.quoted[pid]; ok {
		return &threadView{Where: q.where, QuotedID: q.replyID}, nil
	}
	if d.opts.Parents == nil {
		if d.paged {
			return &threadView{Where: "that is not on this page"}, nil
		}
		return &threadView{Where: "outside this export"}, nil
	}
	hit, err := d.lookupParent(pid)
	if err != nil {
		return nil, err
	}
	if !hit.found {
		return &threadView{Where: "outside this export"}, nil
	}
	where := ""
	switch {
	case hit.ts.Before(d.from):
		where = "from before this export"
	case !d.to.IsZero() && hit.ts.After(d.to):
		where = "from after this export"
	}
	if where == "" {
		page := d.pageOf(hit.ts, hit.id)
		switch {
		case page == d.page:
			return &threadView{ParentID: pid}, nil
		case page > 0:
			return &threadView{ParentID: pid, Href: d.pageHref(page), Page: page}, nil
		}
		// In the range but before every exported message: not in the
		// export after all (hidden, or written after the export began).
		where = "outside this export"
	}
	d.thread.quoted[pid] = quotedParent{replyID: m.ID, where: where}
	return &threadView{Where: where, Quote: []attachmentView{hit.quote}}, nil
}

// lookupParent asks the Parents hook, through the cache.
func (d *htmlDoc) lookupParent(id string) (parentHit, error) {
	if hit, ok := d.thread.cache[id]; ok {
		return hit, nil
	}
	p, err := d.opts.Parents(id)
	var hit parentHit
	switch {
	case errors.Is(err, chat.ErrNotFound):
	case err != nil:
		return parentHit{}, err
	default:
		hit = parentHit{found: true, ts: p.TS, id: p.ID, quote: parentQuote(p, d.loc)}
	}
	if d.thread.cache == nil || len(d.thread.cache) >= maxParentCache {
		d.thread.cache = map[string]parentHit{}
	}
	d.thread.cache[id] = hit
	return hit, nil
}

// pageOf is the page whose messages include the position (ts, id) in the
// export's (ts, _id) order, or 0 when it comes before every page.
func (d *htmlDoc) pageOf(ts time.Time, id string) int {
	for i := len(d.pages) - 1; i >= 0; i-- {
		p := d.pages[i]
		if p.count == 0 {
			continue
		}
		if c := ts.Compare(p.firstTS); c > 0 || (c == 0 && id >= p.firstID) {
			return i + 1
		}
	}
	return 0
}

// parentQuote shows an outside parent the way a quoted message is shown.
func parentQuote(p chat.Message, loc *time.Location) attachmentView {
	t := p.TS.In(loc)
	v := attachmentView{
		Quote:   true,
		Author:  cleanText(authorName(p.U)),
		Time:    t.Format(dateTimeLayout),
		TimeISO: t.Format(isoLayout),
	}
	switch {
	case p.Type != "":
		v.Text = string(appendText(nil, systemMessage(p).plain()))
	case strings.TrimSpace(p.Msg) != "":
		v.Text = markdown(p.Msg, pageFlavor)
	default:
		names := make([]string, 0, len(p.AllFiles()))
		for _, f := range p.AllFiles() {
			names = append(names, cleanText(f.Name))
		}
		v.Text = string(appendText(nil, strings.Join(names, ", ")))
	}
	if v.Author == "" {
		v.Author = "a message"
	}
	return v
}

package export

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/render"
)

// threadParents looks up, ahead of rendering, the thread parents an HTML
// book will ask for (render.Options.Parents): one batched MessagesByID per
// store page that needs any, started on the reader's goroutine as soon as
// the page is read, so that by the time the page is rendered the answers
// are there. Looked up one at a time on the rendering goroutine, each
// parent stalled the whole pipeline for a store round trip (two on
// DynamoDB: the id's pointer, then the message).
//
// It mirrors the book's rule for when a reply needs a lookup: its parent
// is not among the messages of the current HTML page so far (pages of
// Config.HTMLPerPage messages, counted from the start of the document) and
// was not looked up before (the book keeps a cache). The mirror only
// decides what is fetched early: whatever the book asks that was not
// fetched, or whose batch failed, is looked up then, as without it, so the
// document is the same either way. It is used only by a run that renders
// the document from its start (a resumed run does not know where its
// pages begin) and for stores whose calls wait on the network
// (Config.AssetsAhead > 0); on the embedded store a lookup costs
// microseconds and the ids it would track cost more.
type threadParents struct {
	store   MessageStore
	rid     string
	perPage int
	seed    maphash.Seed

	// The reader's state (ahead), touched by its goroutine only.
	ctx   context.Context // the run's, not the page stream's: see reading
	on    bool            // the stream began at the start of the document
	pos   int             // the document's messages read so far
	page  map[uint64]struct{}
	asked map[uint64]struct{} // parents already fetched, as the book's cache

	mu      sync.Mutex
	batches []*parentBatch // the last keptBatches pages' lookups
	seq     int            // pages read
	wg      sync.WaitGroup // lookups in flight
}

// parentBatch is one page's lookup: msgs holds the parents found among
// ids once done is closed; err, when not nil, makes them all unknown.
type parentBatch struct {
	seq  int
	ids  map[string]bool // asked; false once taken
	msgs map[string]chat.Message
	err  error
	done chan struct{}
}

// Bounds: the batches of the last keptBatches pages are kept (the reader is
// at most a few pages ahead of the rendering: pagesAhead, the page being
// prepared and the one in between); askedMax mirrors the book's cache of
// looked-up parents, emptied when full.
const (
	keptBatches = 8
	askedMax    = 1024
)

// newThreadParents returns the thread-parent prefetcher of the job's HTML
// document, or nil when it should have none (see threadParents).
func (s *Service) newThreadParents(job chat.Job) *threadParents {
	if job.Format != chat.FormatHTML || s.Config.AssetsAhead <= 0 {
		return nil
	}
	perPage := s.Config.HTMLPerPage
	if perPage <= 0 {
		perPage = render.DefaultPerPage
	}
	return &threadParents{store: s.Messages, rid: job.RoomID, perPage: perPage, seed: maphash.MakeSeed()}
}

// eachDocumentPage is eachPage for a document's messages: with tp (nil:
// none), each page also goes to the thread-parent prefetcher as it is
// read, and the walk returns once the lookups it started have ended.
func (s *Service) eachDocumentPage(ctx context.Context, tp *threadParents, read func(context.Context, MessageQuery) ([]chat.Message, bool, error), prep func([]chat.Message), rid string, from, to time.Time, after Cursor, fn func(chat.Message) error) error {
	if tp != nil {
		read = tp.reading(ctx, read, after)
		defer tp.wait() // after eachPage's stop: no page is read any more, and no lookup is aborted
	}
	return s.eachPage(ctx, read, prep, rid, from, to, after, nil, fn)
}

// reading returns read, also handing each page it reads to ahead. A
// stream after a cursor is not mirrored (see threadParents). Lookups run
// under ctx, the context of the walk and not of its page stream, which is
// cancelled when the walk ends: a request in flight is never aborted in
// normal operation (dynalite exits when a client drops one mid-body), and
// wait, deferred by the walk, lets them end.
func (tp *threadParents) reading(ctx context.Context, read func(context.Context, MessageQuery) ([]chat.Message, bool, error), after Cursor) func(context.Context, MessageQuery) ([]chat.Message, bool, error) {
	tp.ctx, tp.on, tp.pos = ctx, after.IsZero(), 0
	if !tp.on {
		return read
	}
	if tp.page == nil {
		tp.page = make(map[uint64]struct{})
		tp.asked = make(map[uint64]struct{})
	}
	return func(ctx context.Context, q MessageQuery) ([]chat.Message, bool, error) {
		msgs, more, err := read(ctx, q)
		if err == nil {
			tp.ahead(msgs)
		}
		return msgs, more, err
	}
}

// ahead finds the parents the book will look up while rendering msgs, the
// next page of the document, and starts looking them up in one call.
func (tp *threadParents) ahead(msgs []chat.Message) {
	var want []string
	for _, m := range msgs {
		if tp.pos > 0 && tp.pos%tp.perPage == 0 {
			clear(tp.page) // the book starts a page here
		}
		if m.ThreadID != "" {
			h := maphash.String(tp.seed, m.ThreadID)
			_, here := tp.page[h]
			_, asked := tp.asked[h]
			if !here && !asked {
				if len(tp.asked) >= askedMax {
					clear(tp.asked)
				}
				tp.asked[h] = struct{}{}
				// a copy: the id may share memory with the rest of the page
				want = append(want, strings.Clone(m.ThreadID))
			}
		}
		tp.page[maphash.String(tp.seed, m.ID)] = struct{}{}
		tp.pos++
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.seq++
	if len(tp.batches) > 0 && tp.batches[0].seq <= tp.seq-keptBatches {
		tp.batches = tp.batches[1:]
	}
	if len(want) == 0 {
		return
	}
	b := &parentBatch{seq: tp.seq, ids: make(map[string]bool, len(want)), done: make(chan struct{})}
	for _, id := range want {
		b.ids[id] = true
	}
	tp.batches = append(tp.batches, b)
	tp.wg.Add(1)
	go func() {
		defer tp.wg.Done()
		defer close(b.done)
		found, err := tp.store.MessagesByID(tp.ctx, tp.rid, want)
		if err != nil {
			b.err = err
			return
		}
		b.msgs = make(map[string]chat.Message, len(found))
		for _, m := range found {
			b.msgs[m.ID] = m
		}
	}()
}

// take returns the parent id as looked up ahead: the message, or found
// false when there is no such message. ok is false when it was not looked
// up ahead (or the lookup failed): the caller looks it up itself. Each
// answer is given once; the book keeps it in its cache.
func (tp *threadParents) take(id string) (m chat.Message, found, ok bool) {
	if tp == nil {
		return chat.Message{}, false, false
	}
	tp.mu.Lock()
	var b *parentBatch
	for i := len(tp.batches) - 1; i >= 0 && b == nil; i-- {
		if tp.batches[i].ids[id] {
			b = tp.batches[i]
			b.ids[id] = false
		}
	}
	tp.mu.Unlock()
	if b == nil {
		return chat.Message{}, false, false
	}
	<-b.done
	if b.err != nil {
		return chat.Message{}, false, false
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	m, found = b.msgs[id]
	delete(b.msgs, id)
	return m, found, true
}

// wait waits for the lookups in flight.
func (tp *threadParents) wait() { tp.wg.Wait() }

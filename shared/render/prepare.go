package render

import (
	"sync"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// Preparer is a Document that can do the costly part of rendering messages
// ahead of time, on another goroutine: the JSON document renders whole
// lines, the HTML document the markdown bodies. The exporter calls Prepare
// with each page of messages on the goroutine that reads the next page, so
// that reading, rendering and compressing an export use every core.
//
// Prepare may run concurrently with Message (not with another Prepare), and
// the messages must reach Message in the order they were prepared. What is
// written does not change: a message Message finds prepared is written from
// the prepared bytes, any other is rendered on the spot.
type Preparer interface {
	Prepare(msgs []chat.Message)
}

// prepared is a document's queue of messages rendered ahead, in order.
type prepared struct {
	mu    sync.Mutex
	pages []*preparedPage
	free  []*preparedPage // consumed pages, kept for their buffers
	// size is the largest buffer a page has needed: a new page starts
	// with it, instead of growing there by doubling (hundreds of KB of
	// garbage a page, in large allocations that leave the heap
	// fragmented). A page is new whenever the next one is prepared before
	// the consumed one has come back, which on two cores is often.
	size int
}

// preparedPage is one Prepare call's output: message i's bytes are
// buf[ends[i-1]:ends[i]].
type preparedPage struct {
	ids  []string
	ends []int
	buf  []byte
	next int // the next message Message will take
}

// page returns an empty page to fill with n messages, reusing a consumed
// one's buffers.
func (q *prepared) page(n int) *preparedPage {
	q.mu.Lock()
	defer q.mu.Unlock()
	if k := len(q.free); k > 0 {
		p := q.free[k-1]
		q.free = q.free[:k-1]
		p.ids, p.ends, p.buf, p.next = p.ids[:0], p.ends[:0], p.buf[:0], 0
		return p
	}
	return &preparedPage{ids: make([]string, 0, n), ends: make([]int, 0, n), buf: make([]byte, 0, q.size)}
}

// add appends one message's bytes, rendered by render, to the page.
func (p *preparedPage) add(id string, render func([]byte) []byte) {
	p.buf = render(p.buf)
	p.ids = append(p.ids, id)
	p.ends = append(p.ends, len(p.buf))
}

// push queues a filled page.
func (q *prepared) push(p *preparedPage) {
	if len(p.ids) == 0 {
		return
	}
	q.mu.Lock()
	q.pages = append(q.pages, p)
	q.size = max(q.size, min(len(p.buf)+len(p.buf)/8, maxKeptBuffer))
	q.mu.Unlock()
}

// take returns the prepared bytes of the message id when it is the next one
// in the queue. The bytes stay valid until the next take.
func (q *prepared) take(id string) ([]byte, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.pages) > 0 && q.pages[0].next == len(q.pages[0].ids) {
		if len(q.free) < 2 {
			q.free = append(q.free, q.pages[0])
		}
		q.pages[0] = nil
		q.pages = q.pages[1:]
	}
	if len(q.pages) == 0 {
		return nil, false
	}
	p := q.pages[0]
	i := p.next
	if p.ids[i] != id {
		return nil, false
	}
	p.next++
	start := 0
	if i > 0 {
		start = p.ends[i-1]
	}
	return p.buf[start:p.ends[i]], true
}

// release drops the queue's pages once the document has ended: no
// Prepare or Message follows.
func (q *prepared) release() {
	q.mu.Lock()
	q.pages, q.free = nil, nil
	q.mu.Unlock()
}

// Prepare renders the messages' JSON lines ahead of Message.
func (d *jsonDoc) Prepare(msgs []chat.Message) {
	p := d.pre.page(len(msgs))
	for i := range msgs {
		p.add(msgs[i].ID, func(b []byte) []byte { return appendJSONLine(b, &msgs[i]) })
	}
	d.pre.push(p)
}

// Prepare renders the messages' markdown bodies ahead of Message.
func (d *htmlDoc) Prepare(msgs []chat.Message) {
	p := d.pre.page(len(msgs))
	for i := range msgs {
		m := &msgs[i]
		p.add(m.ID, func(b []byte) []byte {
			if m.Type != "" {
				return b
			}
			return appendMarkdown(b, m.Msg, pageFlavor)
		})
	}
	d.pre.push(p)
}

package export

import (
	"sync/atomic"
	"time"

	"github.com/rooms-export/rooms-export/shared/zipstream"
)

// zipPipe runs the ZIP writer (compression, checksums, the upload) in a
// goroutine of its own, so that rendering and compressing an export use
// two cores. The exporter writes rendered bytes and entry changes into it
// in order; checkpoints are barriers that return the writer's state once
// everything before them has been written. After an error every call
// returns it.
type zipPipe struct {
	ops  chan zipOp
	in   int64 // bytes written into the pipe, ever (restored on resume)
	buf  []byte
	pool chunkPool // of *[]byte with pipeChunk capacity (Service.chunks)
	err  atomic.Pointer[error]
	done chan struct{}
	zw   *zipstream.Writer
	up   Upload
}

type zipOpKind int

const (
	opWrite zipOpKind = iota
	opCreate
	opBarrier
	opClose
)

type zipOp struct {
	kind     zipOpKind
	data     []byte
	name     string
	method   uint16
	modified time.Time
	reply    chan zipReply
	snapshot bool // opBarrier: take a checkpoint of the archive
}

// zipReply is what a barrier reports: the archive's state (when asked), the
// bytes produced, the upload's durable progress, and the finished entries.
type zipReply struct {
	state     zipstream.State
	written   int64
	persisted int64
	upload    []byte
	entries   []zipstream.EntryInfo
	err       error
}

// pipeChunk is how much rendered output is handed over at a time.
const pipeChunk = 64 << 10

// pipeQueue is how many operations the exporter may queue ahead of the
// pipe's goroutine.
const pipeQueue = 8

// chunkPool is where a pipe takes its buffers and gives them back: the
// spare.Pool a Service's exports share (Service.chunks), which keeps a few
// across garbage collections.
type chunkPool interface {
	Get() any
	Put(any)
}

func newZipPipe(zw *zipstream.Writer, up Upload, pool chunkPool) *zipPipe {
	p := &zipPipe{ops: make(chan zipOp, pipeQueue), done: make(chan struct{}), zw: zw, up: up, pool: pool}
	p.buf = p.newBuf()
	go p.loop()
	return p
}

func (p *zipPipe) newBuf() []byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, pipeChunk)
}

func (p *zipPipe) failed() error {
	if e := p.err.Load(); e != nil {
		return *e
	}
	return nil
}

func (p *zipPipe) loop() {
	defer close(p.done)
	for op := range p.ops {
		err := p.failed()
		switch op.kind {
		case opWrite:
			if err == nil {
				_, err = p.zw.Write(op.data)
			}
			b := op.data[:0]
			p.pool.Put(&b)
		case opCreate:
			if err == nil {
				_, err = p.zw.Create(op.name, op.method, op.modified)
			}
		case opBarrier, opClose:
			var r zipReply
			if err == nil && op.snapshot {
				r.state, err = p.zw.Checkpoint()
			}
			if err == nil && op.kind == opClose {
				err = p.zw.Close()
			}
			r.written, r.entries = p.zw.Written(), p.zw.Entries()
			r.persisted, r.upload = p.up.Persisted()
			r.err = err
			op.reply <- r
		}
		if err != nil && p.failed() == nil {
			p.err.Store(&err)
		}
	}
}

// Write queues rendered bytes for the open entry.
func (p *zipPipe) Write(b []byte) (int, error) {
	if err := p.failed(); err != nil {
		return 0, err
	}
	n := len(b)
	p.in += int64(n)
	for len(b) > 0 {
		room := pipeChunk - len(p.buf)
		if room > len(b) {
			room = len(b)
		}
		p.buf = append(p.buf, b[:room]...)
		b = b[room:]
		if len(p.buf) == pipeChunk {
			p.flush()
		}
	}
	return n, nil
}

func (p *zipPipe) flush() {
	if len(p.buf) > 0 {
		p.ops <- zipOp{kind: opWrite, data: p.buf}
		p.buf = p.newBuf()
	}
}

// Create starts a new entry; the bytes written next go into it.
func (p *zipPipe) Create(name string, method uint16, modified time.Time) error {
	if err := p.failed(); err != nil {
		return err
	}
	p.flush()
	p.ops <- zipOp{kind: opCreate, name: name, method: method, modified: modified}
	return nil
}

// barrier waits until everything queued is written and reports; with
// snapshot it also takes a checkpoint of the archive.
func (p *zipPipe) barrier(snapshot bool) zipReply {
	p.flush()
	reply := make(chan zipReply, 1)
	p.ops <- zipOp{kind: opBarrier, reply: reply, snapshot: snapshot}
	r := <-reply
	if r.err == nil {
		r.err = p.failed()
	}
	return r
}

// close writes the central directory and stops the goroutine.
func (p *zipPipe) close() zipReply {
	p.flush()
	reply := make(chan zipReply, 1)
	p.ops <- zipOp{kind: opClose, reply: reply}
	r := <-reply
	p.stop()
	return r
}

// stop ends the goroutine and gives the pipe's buffer back to the pool
// (flush took a fresh one after the last write: without this every export
// would take one chunk from the pool for good, and a busy server allocate
// one per export); the pipe must not be used afterwards.
func (p *zipPipe) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.ops)
	<-p.done
	if p.buf != nil {
		b := p.buf[:0]
		p.pool.Put(&b)
		p.buf = nil
	}
}

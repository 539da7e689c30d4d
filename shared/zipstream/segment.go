package zipstream

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/flate"

	"github.com/rooms-export/rooms-export/shared/spare"
)

// SegmentSize is how much content a Deflate entry's compressor takes before
// it restarts. Each segment is compressed on its own by a fresh compressor
// and ends with a sync flush (the last one of an entry with the final
// block), so the segments of one entry can be compressed on several cores
// at once and the entry is still one standard deflate stream: concatenated
// sync-flushed blocks are what a single compressor writes after a Flush.
// Restarting costs the 32 KiB window of history at each boundary: on
// export-like JSON, half a MiB per segment makes the output ~1% bigger.
//
// Segment boundaries fall every SegmentSize bytes counted from where the
// compressor last started (the entry's start or a checkpoint), whatever the
// Write calls and whatever the concurrency: a resumed Writer cuts the same
// segments as the original, and the output is the same on one core or many.
const SegmentSize = 512 << 10

// segment is one segment's compression: in is its content, out the deflate
// blocks once done is closed.
type segment struct {
	in    []byte
	out   []byte
	final bool // end with the final block (the entry's last segment)
	err   error
	done  chan struct{}
}

// compressors runs segment compressions: on the caller's goroutine when
// workers is 1, otherwise on up to workers goroutines with the results
// emitted strictly in order. It keeps the buffers it used, so a long entry
// allocates them once; the flate writers come from flateWriters.
type compressors struct {
	level   int
	workers int
	pending []*segment // submitted, not yet emitted, in archive order

	mu   sync.Mutex
	ins  [][]byte // content buffers, grown up to SegmentSize
	outs [][]byte // output buffers, grown to what a segment compresses to
}

// flateWriters keeps reset-able compressors per level for every Writer of
// the process: a compressor is ~600 KB of tables and history, and a small
// export, which needs one for a moment, would otherwise allocate it anew.
// It is a cache, not state: a writer taken from it is Reset before use,
// which flate documents as equivalent to NewWriter.
var flateWriters sync.Map // level (int) -> *sync.Pool of *flate.Writer

func getFlateWriter(level int, w *sliceWriter) (*flate.Writer, error) {
	if p, ok := flateWriters.Load(level); ok {
		if fw, ok := p.(*sync.Pool).Get().(*flate.Writer); ok {
			fw.Reset(w)
			return fw, nil
		}
	}
	return flate.NewWriter(w, level)
}

func putFlateWriter(level int, fw *flate.Writer) {
	p, _ := flateWriters.LoadOrStore(level, &sync.Pool{})
	fw.Reset(nil)
	p.(*sync.Pool).Put(fw)
}

// firstSegmentBuffer is the capacity a content buffer starts with; it
// doubles up to SegmentSize as an entry needs, so a small export does not
// pay for half-MiB buffers.
const firstSegmentBuffer = 32 << 10

func newCompressors(level, workers int) *compressors {
	return &compressors{level: level, workers: max(workers, 1)}
}

// buffer returns an empty buffer for a segment's content.
func (c *compressors) buffer() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.ins); n > 0 {
		b := c.ins[n-1]
		c.ins = c.ins[:n-1]
		return b[:0]
	}
	if b, ok := spareIns.Get().([]byte); ok {
		return b
	}
	return make([]byte, 0, firstSegmentBuffer)
}

// spareIns and spareOuts keep the first-size content and output buffers
// of closed Writers for the next ones: a server of many small exports would
// otherwise allocate and clear both for each (spare.Pool: a few survive
// garbage collections). Bigger buffers are left to the collector.
var spareIns, spareOuts = spare.Pool{Keep: 8}, spare.Pool{Keep: 8} // of []byte, empty, first-size

// keepFirstSize puts the first-size buffers of bufs, emptied, into p.
func keepFirstSize(p *spare.Pool, bufs [][]byte) {
	for _, b := range bufs {
		if cap(b) == firstSegmentBuffer {
			p.Put(b[:0])
		}
	}
}

// recycle hands the compressors' buffers to spare once their Writer is
// closed: nothing refers to them any more.
func (c *compressors) recycle() {
	c.mu.Lock()
	ins, outs := c.ins, c.outs
	c.ins, c.outs = nil, nil
	c.mu.Unlock()
	keepFirstSize(&spareIns, ins)
	keepFirstSize(&spareOuts, outs)
}

// fill appends as much of p to seg as the segment takes, growing seg's
// buffer by doubling up to SegmentSize, and returns the rest of p.
func fill(seg *[]byte, p []byte) []byte {
	k := min(len(p), SegmentSize-len(*seg))
	if need := len(*seg) + k; need > cap(*seg) {
		c := max(cap(*seg), firstSegmentBuffer)
		for c < need {
			c *= 2
		}
		grown := make([]byte, len(*seg), min(c, SegmentSize))
		copy(grown, *seg)
		*seg = grown
	}
	*seg = append(*seg, p[:k]...)
	return p[k:]
}

// submit compresses in as the next segment; emit receives the compressed
// bytes of every segment in order. With one worker it runs at once; with
// more it runs in the background, after submit has emitted the segments
// that are done at the head of the queue and, when workers segments are
// already being compressed, waited for the oldest: at most workers
// compressions (each a flate writer of ~0.8 MB and the segment's input and
// output) are ever alive at once. Starting one more before waiting would
// gain nothing on a machine of workers cores and cost a compressor's
// memory.
func (c *compressors) submit(in []byte, final bool, emit func([]byte) error) error {
	s := &segment{in: in, final: final}
	if c.workers == 1 {
		c.compress(s)
		return c.finish(s, emit)
	}
	for len(c.pending) > 0 {
		head := c.pending[0]
		if len(c.pending) < c.workers {
			select {
			case <-head.done:
			default:
				return c.start(s)
			}
		} else {
			<-head.done
		}
		c.pending = c.pending[1:]
		if err := c.finish(head, emit); err != nil {
			c.release(s)
			return err
		}
	}
	return c.start(s)
}

// start compresses s in the background, queued after the pending segments.
func (c *compressors) start(s *segment) error {
	s.done = make(chan struct{})
	c.pending = append(c.pending, s)
	go func() {
		c.compress(s)
		close(s.done)
	}()
	return nil
}

// drain waits for every submitted segment and emits it, in order.
func (c *compressors) drain(emit func([]byte) error) error {
	var first error
	for _, s := range c.pending {
		<-s.done
		if first == nil {
			first = c.finish(s, emit)
		} else {
			c.release(s)
		}
	}
	c.pending = c.pending[:0]
	return first
}

// finish emits a done segment's output and gives its buffers back.
func (c *compressors) finish(s *segment, emit func([]byte) error) error {
	defer c.release(s)
	if s.err != nil {
		return s.err
	}
	return emit(s.out)
}

func (c *compressors) release(s *segment) {
	c.mu.Lock()
	if cap(s.in) > 0 {
		c.ins = append(c.ins, s.in[:0])
	}
	if cap(s.out) > 0 {
		c.outs = append(c.outs, s.out[:0])
	}
	c.mu.Unlock()
	s.in, s.out = nil, nil
}

// compress runs one segment through a fresh compressor (a reset one:
// flate documents Reset as equivalent to NewWriter).
func (c *compressors) compress(s *segment) {
	c.mu.Lock()
	out := sliceWriter{}
	if n := len(c.outs); n > 0 {
		out.b = c.outs[n-1]
		c.outs = c.outs[:n-1]
	}
	c.mu.Unlock()
	if out.b == nil {
		// first-size, as content buffers: kept for the next Writer when
		// the segment's output fits (spareOuts)
		var ok bool
		if out.b, ok = spareOuts.Get().([]byte); !ok {
			out.b = make([]byte, 0, firstSegmentBuffer)
		}
	}
	fw, err := getFlateWriter(c.level, &out)
	if err != nil {
		s.err = fmt.Errorf("start compressor: %w", err)
		return
	}
	defer putFlateWriter(c.level, fw)
	_, err = fw.Write(s.in)
	if err == nil && s.final {
		err = fw.Close()
	} else if err == nil && len(s.in) > 0 {
		err = fw.Flush()
	}
	if err != nil {
		s.err = fmt.Errorf("compress: %w", err)
	}
	s.out = out.b
}

// sliceWriter appends what it is given to b.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

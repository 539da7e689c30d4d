// Package gctune paces the Go garbage collector of the processes that run
// exports. The Go pacer ties the garbage allowed between collections to the
// live heap (GOGC percent of it); a process whose live heap is small but
// which allocates fast — a Lambda function's first request, a local server
// with many small exports under way — then collects far more often than its
// memory calls for. A Tuner gives such a process a floor: after every
// collection it sets GOGC so that the next one comes after at least a
// headroom of allocation, or the percentage of what is live, whichever is
// more. Before the first collection the headroom counts from the runtime's
// minimum heap.
package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// MaxPercent bounds the target while almost nothing is live (a process just
// started), where the headroom alone would ask for a huge percentage.
const MaxPercent = 2000

// minimumHeap is the Go runtime's heap goal before its first collection at
// GOGC 100 (scaled by GOGC/100): what Start counts the headroom from.
const minimumHeap = 4 << 20

// PercentFor is the GOGC whose next heap goal leaves room for headroom
// bytes of garbage, or percent of what the last collection found live
// (base: the live heap, goroutine stacks and globals, which the Go pacer
// counts), whichever is more, up to MaxPercent.
func PercentFor(base uint64, percent int, headroom uint64) int {
	switch {
	case headroom == 0:
		return percent
	case base == 0:
		return MaxPercent
	}
	p := headroom * 100 / base
	switch {
	case p < uint64(percent):
		return percent
	case p > MaxPercent:
		return MaxPercent
	}
	return int(p)
}

// A Tuner sets GOGC after every collection from what that collection found
// live (runtime/metrics), so that the next one comes after at least
// headroom() bytes of allocation. It learns of collections through a
// finalizer on an object that becomes garbage in each cycle (the runtime
// has no callback for them); setting GOGC takes a lock, not a pause.
type Tuner struct {
	percent  int
	headroom func() uint64
	cycles   atomic.Int64 // collections seen

	mu      sync.Mutex
	samples []metrics.Sample
	set     int // the GOGC last set
	stopped bool
}

// gcCycle is the object whose finalizer runs once a collection has found
// it garbage. It holds a pointer, so it is never one of the tiny
// allocator's shared blocks (whose finalizers may never run).
type gcCycle struct{ t *Tuner }

// Start sets GOGC to percent, or higher where headroom() asks for more
// garbage than that from the runtime's minimum heap, and keeps it so after
// every collection until Stop.
func Start(percent int, headroom func() uint64) *Tuner {
	t := &Tuner{percent: percent, headroom: headroom, samples: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"},
	}}
	t.set = PercentFor(minimumHeap, percent, headroom())
	debug.SetGCPercent(t.set)
	t.arm()
	return t
}

func (t *Tuner) arm() {
	runtime.SetFinalizer(&gcCycle{t}, func(c *gcCycle) { c.t.collected() })
}

// collected runs after each collection: it sets the next target and arms
// the next cycle, unless the tuner was stopped.
func (t *Tuner) collected() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	metrics.Read(t.samples)
	var base uint64
	for _, s := range t.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			base += s.Value.Uint64()
		}
	}
	if p := PercentFor(base, t.percent, t.headroom()); p != t.set {
		debug.SetGCPercent(p)
		t.set = p
	}
	t.cycles.Add(1)
	t.arm()
}

// Tune starts the process's Tuner with percent and headroom, unless
// getenv("GOGC") is set (the runtime has then read it, and it is left
// alone: nil) or the process has one already (one runtime, one tuner: it
// is returned, as it was started). The processes that run exports call it
// first thing, through their wiring (embedded.TuneRuntime,
// awswire.TuneRuntime).
func Tune(getenv func(string) string, percent int, headroom func() uint64) *Tuner {
	if getenv("GOGC") != "" {
		return nil
	}
	processMu.Lock()
	defer processMu.Unlock()
	if process == nil {
		process = Start(percent, headroom)
	}
	return process
}

var (
	processMu sync.Mutex
	process   *Tuner // the process's, once Tune started it
)

// Percent is the collector's target (GOGC) as the runtime reports it now
// (runtime/metrics /gc/gogc:percent): what a Tuner, debug.SetGCPercent or
// the environment set last.
func Percent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return -1
	}
	return int(s[0].Value.Uint64())
}

// Set is the GOGC the tuner set last.
func (t *Tuner) Set() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.set
}

// Stop ends the tuning (at the next collection at the latest) and sets
// GOGC back to percent; the process's tuner, it is forgotten, and the
// next Tune starts another. Tests use it; a process keeps its tuner.
func (t *Tuner) Stop() {
	processMu.Lock()
	if process == t {
		process = nil
	}
	processMu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	debug.SetGCPercent(t.percent)
}

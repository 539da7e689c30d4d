package embedded

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// GCPercent is the garbage collector's target (GOGC) of the processes that
// run the embedded default, unless their environment sets GOGC. The Go
// default, 100, lets the heap grow to twice what is live before collecting;
// a big export's pipeline (pages read ahead, segments being compressed,
// compressors) holds several megabytes live, so at 100 a million-message
// export peaked about a third above a ten-thousand-message one on the same
// machine. At 70 the heap stays closer to what is live — the peak grows by
// a quarter at most between those two (see the README's Performance) — for
// a few percent more CPU spent collecting. The Lambda functions keep the Go
// default: there memory is what the function is configured with, and CPU
// time is what it is billed for.
const GCPercent = 70

// ExportHeadroom is the garbage each export under way may leave before
// the collector runs again, whatever is live, up to MaxHeadroom in all.
// GCPercent alone ties garbage to the live heap: a busy local server
// serving many small exports at once has 5–8 MiB live and allocates ~250
// MiB a second (a small export ~170 KB in all), so at 70 it collected ~80
// times a second, with a tenth of its processor time in the collector
// itself and more in the write barriers and assists of the cycle that was
// always under way. With 32 exports under way it collects about a third as
// often. One export alone is below GCPercent's own headroom, and runs as
// before: its memory does not depend on this.
const (
	ExportHeadroom = 512 << 10
	MaxHeadroom    = 16 << 20
)

// running counts the exports under way in this process: every stack Open
// makes counts its service's Export and Run calls here.
var running atomic.Int64

// maxGCPercent bounds the target while almost nothing is live (a process
// just started), where the headroom alone would ask for a huge percentage.
const maxGCPercent = 2000

// TuneRuntime sets the Go runtime as the embedded default runs: GOGC
// GCPercent, with at least ExportHeadroom of garbage between collections
// for each export under way, unless getenv("GOGC") says otherwise (the
// runtime has then read it already, and it is left alone). The local
// server and the tools that measure it (the bench's export processes, the
// load check) call it first thing; calls after the first change nothing.
func TuneRuntime(getenv func(string) string) {
	if getenv("GOGC") != "" {
		return
	}
	tuneOnce.Do(func() {
		tuner = startGCTuner(GCPercent, exportsHeadroom)
	})
}

var (
	tuneOnce sync.Once
	tuner    *gcTuner // the process's, once TuneRuntime started it
)

// exportsHeadroom is the headroom the exports under way ask for.
func exportsHeadroom() uint64 {
	return min(uint64(max(running.Load(), 0))*ExportHeadroom, MaxHeadroom)
}

// gcPercentFor is the GOGC whose next heap goal leaves room for headroom
// bytes of garbage, or percent of what the last collection found live
// (base: the live heap, goroutine stacks and globals, which the Go pacer
// counts), whichever is more.
func gcPercentFor(base uint64, percent int, headroom uint64) int {
	switch {
	case headroom == 0:
		return percent
	case base == 0:
		return maxGCPercent
	}
	p := headroom * 100 / base
	switch {
	case p < uint64(percent):
		return percent
	case p > maxGCPercent:
		return maxGCPercent
	}
	return int(p)
}

// gcTuner sets GOGC after every collection from what that collection found
// live (runtime/metrics), so that the next one comes after at least
// headroom() bytes of allocation. It learns of collections through a
// finalizer on an object that becomes garbage in each cycle (the runtime
// has no callback for them); setting GOGC takes a lock, not a pause.
type gcTuner struct {
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
type gcCycle struct{ t *gcTuner }

func startGCTuner(percent int, headroom func() uint64) *gcTuner {
	t := &gcTuner{percent: percent, headroom: headroom, set: percent, samples: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"},
	}}
	debug.SetGCPercent(percent)
	t.arm()
	return t
}

func (t *gcTuner) arm() {
	runtime.SetFinalizer(&gcCycle{t}, func(c *gcCycle) { c.t.collected() })
}

// collected runs after each collection: it sets the next target and arms
// the next cycle, unless the tuner was stopped.
func (t *gcTuner) collected() {
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
	if p := gcPercentFor(base, t.percent, t.headroom()); p != t.set {
		debug.SetGCPercent(p)
		t.set = p
	}
	t.cycles.Add(1)
	t.arm()
}

// stop ends the tuning (at the next collection at the latest) and sets
// GOGC back to percent. Tests use it; a process keeps its tuner.
func (t *gcTuner) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	debug.SetGCPercent(t.percent)
}

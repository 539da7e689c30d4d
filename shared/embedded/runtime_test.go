package embedded

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
)

// gogc reads the collector's current target from the runtime.
func gogc(t *testing.T) int {
	t.Helper()
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatal("runtime/metrics has no /gc/gogc:percent")
	}
	return int(s[0].Value.Uint64())
}

// collectUntil runs collections until the tuner has seen n more of them
// (its finalizer runs on the runtime's finalizer goroutine, after the
// collection returns).
func collectUntil(t *testing.T, tu *gcTuner, n int64) {
	t.Helper()
	want := tu.cycles.Load() + n
	for i := 0; tu.cycles.Load() < want; i++ {
		if i == 10000 {
			t.Fatalf("the tuner saw %d collections of %d", tu.cycles.Load()-want+n, n)
		}
		runtime.GC()
		runtime.Gosched()
	}
}

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		base     uint64
		percent  int
		headroom uint64
		want     int
	}{
		{5 * mib, 70, 12 * mib, 240},   // a busy server's few live MiB: the headroom decides
		{20 * mib, 70, 12 * mib, 70},   // a big export's live heap: the percentage decides
		{12 * mib, 100, 12 * mib, 100}, // equal: the percentage
		{1024, 70, 12 * mib, maxGCPercent},
		{0, 70, 12 * mib, maxGCPercent},
		{0, 70, 0, 70}, // nothing under way: the percentage
		{5 * mib, 70, 0, 70},
	} {
		if got := gcPercentFor(c.base, c.percent, c.headroom); got != c.want {
			t.Errorf("gcPercentFor(%d, %d, %d) = %d, want %d", c.base, c.percent, c.headroom, got, c.want)
		}
	}
}

// TestExportsHeadroom: each export under way adds ExportHeadroom, up to
// MaxHeadroom.
func TestExportsHeadroom(t *testing.T) {
	was := running.Load()
	t.Cleanup(func() { running.Store(was) })
	for n, want := range map[int64]uint64{0: 0, 1: ExportHeadroom, 4: 4 * ExportHeadroom, 10000: MaxHeadroom} {
		running.Store(n)
		if got := exportsHeadroom(); got != want {
			t.Errorf("%d exports under way: headroom %d, want %d", n, got, want)
		}
	}
}

// TestGCTuner: after a collection GOGC leaves the headroom above what is
// live; stopped, the tuner puts the percentage back and changes nothing more.
func TestGCTuner(t *testing.T) {
	was := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(was) })

	const headroom = 256 << 20 // far above this test binary's live heap
	tu := startGCTuner(GCPercent, func() uint64 { return headroom })
	if got := gogc(t); got != GCPercent {
		t.Errorf("started: GOGC %d, want %d", got, GCPercent)
	}
	collectUntil(t, tu, 2)
	tu.mu.Lock()
	set := tu.set
	tu.mu.Unlock()
	if set <= GCPercent {
		t.Errorf("after collections the tuner set GOGC %d, want above %d for %d MiB of headroom", set, GCPercent, headroom>>20)
	}
	if got := gogc(t); got != set {
		t.Errorf("GOGC %d, the tuner set %d", got, set)
	}

	tu.stop()
	if got := gogc(t); got != GCPercent {
		t.Errorf("stopped: GOGC %d, want %d", got, GCPercent)
	}
	seen := tu.cycles.Load()
	for range 3 {
		runtime.GC()
	}
	if got := gogc(t); got != GCPercent {
		t.Errorf("collections after the stop: GOGC %d, want %d", got, GCPercent)
	}
	if n := tu.cycles.Load(); n > seen+1 { // one finalizer may have been armed before the stop
		t.Errorf("the stopped tuner went on counting collections: %d after %d", n, seen)
	}
}

// TestTuneRuntime: with GOGC in the environment nothing changes; without
// it the tuner starts at GCPercent, once.
func TestTuneRuntime(t *testing.T) {
	was := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(was) })

	TuneRuntime(func(k string) string {
		if k == "GOGC" {
			return "150"
		}
		return ""
	})
	if got := gogc(t); got != 100 || tuner != nil {
		t.Fatalf("GOGC set: GC percent %d (want it left at 100), tuner started: %v", got, tuner != nil)
	}

	TuneRuntime(func(string) string { return "" })
	if tuner == nil {
		t.Fatal("GOGC unset: no tuner started")
	}
	first := tuner
	t.Cleanup(func() { // as if never tuned, for -count and later tests
		first.stop()
		tuner, tuneOnce = nil, sync.Once{}
	})
	if got := gogc(t); got < GCPercent {
		t.Errorf("GOGC unset: GC percent %d, want at least %d", got, GCPercent)
	}
	TuneRuntime(func(string) string { return "" })
	if tuner != first {
		t.Error("a second call started another tuner")
	}
}

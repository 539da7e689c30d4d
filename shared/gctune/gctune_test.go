package gctune

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
)

func readMetric(t *testing.T, name string) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("runtime/metrics has no %s", name)
	}
	return s[0].Value.Uint64()
}

// collectUntil runs collections until the tuner has seen n more of them
// (its finalizer runs on the runtime's finalizer goroutine, after the
// collection returns).
func collectUntil(t *testing.T, tu *Tuner, n int64) {
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

func TestPercentFor(t *testing.T) {
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
		{minimumHeap, 100, 64 * mib, 1600},
		{1024, 70, 12 * mib, MaxPercent},
		{0, 70, 12 * mib, MaxPercent},
		{0, 70, 0, 70}, // no headroom asked: the percentage
		{5 * mib, 70, 0, 70},
	} {
		if got := PercentFor(c.base, c.percent, c.headroom); got != c.want {
			t.Errorf("PercentFor(%d, %d, %d) = %d, want %d", c.base, c.percent, c.headroom, got, c.want)
		}
	}
}

// TestTuner: started, GOGC leaves the headroom above the runtime's minimum
// heap; after a collection, above what is live; stopped, the tuner puts the
// percentage back and changes nothing more.
func TestTuner(t *testing.T) {
	was := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(was) })

	const headroom = 32 << 20
	tu := Start(70, func() uint64 { return headroom })
	if got, want := Percent(), headroom*100/minimumHeap; got != want || tu.Set() != want {
		t.Errorf("started: GOGC %d (tuner says %d), want %d", got, tu.Set(), want)
	}
	collectUntil(t, tu, 2)
	set := tu.Set()
	if set <= 70 {
		t.Errorf("after collections the tuner set GOGC %d, want above 70 for %d MiB of headroom", set, headroom>>20)
	}
	if got := Percent(); got != set {
		t.Errorf("GOGC %d, the tuner set %d", got, set)
	}

	tu.Stop()
	if got := Percent(); got != 70 {
		t.Errorf("stopped: GOGC %d, want 70", got)
	}
	seen := tu.cycles.Load()
	for range 3 {
		runtime.GC()
	}
	if got := Percent(); got != 70 {
		t.Errorf("collections after the stop: GOGC %d, want 70", got)
	}
	if n := tu.cycles.Load(); n > seen+1 { // one finalizer may have been armed before the stop
		t.Errorf("the stopped tuner went on counting collections: %d after %d", n, seen)
	}
}

// TestNoCollectionWithinTheHeadroom is a cold start: in a fresh process
// (this test binary again, GOGC unset), a tuner with 64 MiB of headroom
// lets 12 MiB of garbage go by without a collection, where the Go default
// (no headroom asked) collects.
func TestNoCollectionWithinTheHeadroom(t *testing.T) {
	if mode := os.Getenv("GCTUNE_CHILD"); mode != "" {
		childAllocates(t, mode)
		return
	}
	for _, c := range []struct {
		mode      string
		collected func(n int) bool
		want      string
	}{
		{"headroom", func(n int) bool { return n == 0 }, "none"},
		{"none", func(n int) bool { return n > 0 }, "some"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNoCollectionWithinTheHeadroom$", "-test.count=1")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GODEBUG=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "GCTUNE_CHILD="+c.mode)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child %s: %v\n%s", c.mode, err, out)
		}
		_, after, ok := strings.Cut(string(out), "collections: ")
		n, convErr := strconv.Atoi(strings.Fields(after + " x")[0])
		if !ok || convErr != nil {
			t.Fatalf("child %s printed no count:\n%s", c.mode, out)
		}
		t.Logf("%s: %d collections", c.mode, n)
		if !c.collected(n) {
			t.Errorf("%s: %d collections while allocating 12 MiB, want %s", c.mode, n, c.want)
		}
	}
}

var sink []byte

// childAllocates starts a tuner (mode "headroom": 64 MiB; "none": no
// headroom, GOGC 100 as the Go default) and prints how many collections
// 12 MiB of allocation in 64 KiB pieces ran.
func childAllocates(t *testing.T, mode string) {
	var headroom uint64
	if mode == "headroom" {
		headroom = 64 << 20
	}
	tu := Start(100, func() uint64 { return headroom })
	defer tu.Stop()
	before := readMetric(t, "/gc/cycles/total:gc-cycles")
	for range 12 << 4 {
		sink = make([]byte, 64<<10)
	}
	fmt.Printf("collections: %d\n", readMetric(t, "/gc/cycles/total:gc-cycles")-before)
}

// TestTuneOnePerProcess: with GOGC set Tune starts nothing; without it the
// first call starts the process's tuner and a later one — whatever it asks
// for — gets that same tuner; once stopped, the next call starts another.
func TestTuneOnePerProcess(t *testing.T) {
	was := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(was) })
	set := func(k string) string {
		if k == "GOGC" {
			return "150"
		}
		return ""
	}
	unset := func(string) string { return "" }
	if tu := Tune(set, 70, nil); tu != nil || Percent() != 100 {
		t.Fatalf("GOGC set: tuner %v, GC percent %d (want none, 100)", tu, Percent())
	}
	first := Tune(unset, 70, func() uint64 { return 0 })
	if first == nil || Percent() != 70 {
		t.Fatalf("GOGC unset: tuner %v, GC percent %d (want one, 70)", first, Percent())
	}
	if again := Tune(unset, 100, func() uint64 { return 64 << 20 }); again != first || Percent() != 70 {
		t.Errorf("a second Tune: another tuner (%v) or GC percent %d changed from 70", again != first, Percent())
	}
	first.Stop()
	next := Tune(unset, 100, func() uint64 { return 0 })
	defer next.Stop()
	if next == first || next == nil {
		t.Error("after Stop, Tune did not start another tuner")
	}
}

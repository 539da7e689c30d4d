package embedded

import (
	"runtime/debug"
	"testing"

	"github.com/rooms-export/rooms-export/shared/gctune"
)

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

// TestTuneRuntime: with GOGC in the environment nothing changes; without
// it the tuner starts at GCPercent, once.
func TestTuneRuntime(t *testing.T) {
	was := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(was) })

	tu := TuneRuntime(func(k string) string {
		if k == "GOGC" {
			return "150"
		}
		return ""
	})
	if got := gctune.Percent(); got != 100 || tu != nil {
		t.Fatalf("GOGC set: GC percent %d (want it left at 100), tuner started: %v", got, tu != nil)
	}

	first := TuneRuntime(func(string) string { return "" })
	if first == nil {
		t.Fatal("GOGC unset: no tuner started")
	}
	t.Cleanup(first.Stop) // as if never tuned, for -count and later tests
	if got := gctune.Percent(); got < GCPercent {
		t.Errorf("GOGC unset: GC percent %d, want at least %d", got, GCPercent)
	}
	if TuneRuntime(func(string) string { return "" }) != first {
		t.Error("a second call started another tuner")
	}
}

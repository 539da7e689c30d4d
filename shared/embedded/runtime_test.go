package embedded

import (
	"runtime/debug"
	"testing"
)

// TestTuneRuntime: GOGC is GCPercent unless the environment sets it.
func TestTuneRuntime(t *testing.T) {
	was := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(was) })

	TuneRuntime(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != GCPercent {
		t.Errorf("GOGC unset: GC percent %d, want %d", got, GCPercent)
	}
	TuneRuntime(func(k string) string {
		if k == "GOGC" {
			return "150"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set: GC percent changed to %d, want it left alone", got)
	}
}

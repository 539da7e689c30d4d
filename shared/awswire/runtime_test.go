package awswire

import (
	"runtime/debug"
	"testing"

	"github.com/rooms-export/rooms-export/shared/gctune"
)

func TestHeadroomFor(t *testing.T) {
	for mem, want := range map[string]uint64{
		"1024":  64 << 20,  // the API function
		"2048":  128 << 20, // the worker
		"128":   MinHeadroom,
		"10240": MaxHeadroom,
		"":      DefaultHeadroom,
		"0":     DefaultHeadroom,
		"-5":    DefaultHeadroom,
		"lots":  DefaultHeadroom,
	} {
		if got := HeadroomFor(mem); got != want {
			t.Errorf("HeadroomFor(%q) = %d, want %d", mem, got, want)
		}
	}
}

// TestTuneRuntime: with GOGC in the environment nothing changes; without
// it the tuner starts, once, with the function's memory's headroom.
func TestTuneRuntime(t *testing.T) {
	was := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(was) })

	env := map[string]string{"GOGC": "150", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}
	tu := TuneRuntime(func(k string) string { return env[k] })
	if got := gctune.Percent(); got != 100 || tu != nil {
		t.Fatalf("GOGC set: GC percent %d (want it left at 100), tuner started: %v", got, tu != nil)
	}

	delete(env, "GOGC")
	first := TuneRuntime(func(k string) string { return env[k] })
	if first == nil {
		t.Fatal("GOGC unset: no tuner started")
	}
	t.Cleanup(first.Stop) // as if never tuned, for -count and later tests
	// Started from the runtime's 4 MiB minimum heap: 64 MiB of headroom.
	if got, want := gctune.Percent(), gctune.PercentFor(4<<20, 100, 64<<20); got != want {
		t.Errorf("GOGC unset, 1024 MB: GC percent %d, want %d", got, want)
	}
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "128"
	if TuneRuntime(func(k string) string { return env[k] }) != first {
		t.Error("a second call started another tuner")
	}
}

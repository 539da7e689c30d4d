package render_test

// TEMPORARY: thread CPU time per message (robust to a busy machine).

import (
	"io"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/render"
	"github.com/rooms-export/rooms-export/shared/render/internal/legacy"
)

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func cpuPerMessage(t *testing.T, name string, newDoc func(io.Writer) render.Document) {
	hdr, msgs := benchRoom(20000)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	best := time.Duration(1 << 62)
	for round := 0; round < 5; round++ {
		out := &countingDiscard{}
		runtime.GC()
		start := threadCPU()
		for rep := 0; rep < 5; rep++ {
			d := newDoc(out)
			d.Begin(hdr)
			for _, m := range msgs {
				d.Message(m)
			}
			d.End(int64(len(msgs)))
		}
		el := (threadCPU() - start) / time.Duration(5*len(msgs))
		best = min(best, el)
	}
	t.Logf("%s: %v CPU per message (best of 5 rounds of 100k)", name, best)
}

func TestZZCPU(t *testing.T) {
	if os.Getenv("ZZCPU") == "" {
		return
	}
	cpuPerMessage(t, "html", render.NewHTML)
	if os.Getenv("ZZCPU") == "html" { return }
	cpuPerMessage(t, "json", render.NewJSON)
	cpuPerMessage(t, "legacy html", func(w io.Writer) render.Document { return legacyAdapter{legacy.NewHTML(w)} })
	cpuPerMessage(t, "legacy json", func(w io.Writer) render.Document { return legacyAdapter{legacy.NewJSON(w)} })
}

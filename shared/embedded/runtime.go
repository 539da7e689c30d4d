package embedded

import (
	"sync/atomic"

	"github.com/rooms-export/rooms-export/shared/gctune"
)

// GCPercent is the garbage collector's target (GOGC) of the processes that
// run the embedded default, unless their environment sets GOGC. The Go
// default, 100, lets the heap grow to twice what is live before collecting;
// a big export's pipeline (pages read ahead, segments being compressed,
// compressors) holds several megabytes live, so at 100 a million-message
// export peaked about a third above a ten-thousand-message one on the same
// machine. At 70 the heap stays closer to what is live — the peak grows by
// a quarter at most between those two (see the README's Performance) — for
// a few percent more CPU spent collecting. The Lambda functions pace their
// collector by the memory they are configured with (awswire.TuneRuntime).
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

// TuneRuntime sets the Go runtime as the embedded default runs: GOGC
// GCPercent, with at least ExportHeadroom of garbage between collections
// for each export under way, unless getenv("GOGC") says otherwise
// (gctune.Tune: the runtime has then read it, and it is left alone, nil).
// The local server and the tools that measure it (the bench's export
// processes, the load check) call it first thing; calls after the first
// change nothing and return the same tuner.
func TuneRuntime(getenv func(string) string) *gctune.Tuner {
	return gctune.Tune(getenv, GCPercent, exportsHeadroom)
}

// exportsHeadroom is the headroom the exports under way ask for.
func exportsHeadroom() uint64 {
	return min(uint64(max(running.Load(), 0))*ExportHeadroom, MaxHeadroom)
}

package awswire

import (
	"strconv"

	"github.com/rooms-export/rooms-export/shared/gctune"
)

// Headroom bounds: a sixteenth of the function's memory (the Lambda
// runtime's AWS_LAMBDA_FUNCTION_MEMORY_SIZE, in MB), within these.
const (
	MinHeadroom     = 8 << 20
	MaxHeadroom     = 256 << 20
	DefaultHeadroom = 32 << 20 // memory size unknown
)

// HeadroomFor is the garbage a function with memoryMB of memory may leave
// between collections: a sixteenth of its memory, within MinHeadroom and
// MaxHeadroom — 64 MiB for the API function (1024 MB), 128 MiB for the
// worker (2048 MB). memoryMB that is not a positive number gives
// DefaultHeadroom.
func HeadroomFor(memoryMB string) uint64 {
	mb, err := strconv.ParseUint(memoryMB, 10, 32)
	if err != nil || mb == 0 {
		return DefaultHeadroom
	}
	return min(max(mb<<20/16, MinHeadroom), MaxHeadroom)
}

// TuneRuntime paces the collector of a Lambda function by the memory it is
// configured with (gctune.Tune: GOGC 100, with at least HeadroomFor of
// garbage between collections), unless getenv("GOGC") says otherwise (the
// runtime has then read it, and it is left alone: nil). At the Go default a
// function starts with a 4 MiB heap goal, which its package initialisers
// (the SDK's service schemas, ~2 MB) nearly fill: its first request ran two
// collections, whose marking took the processor from the request on a
// function's small share of it (the cold start, README's Performance).
// The memory is the function's whatever it holds, and processor time is
// what it is billed for; what is live does not grow with the room, so
// memory stays flat at live plus headroom. Both functions' main calls it
// first thing; calls after the first change nothing and return the same
// tuner.
func TuneRuntime(getenv func(string) string) *gctune.Tuner {
	headroom := HeadroomFor(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	return gctune.Tune(getenv, 100, func() uint64 { return headroom })
}

package main

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// diskCounters are a block device's cumulative counters, as Linux's
// /proc/diskstats reports them: what the load check's durable writes cost
// the disk that holds the data directory.
type diskCounters struct {
	Name    string
	Writes  uint64 // write requests completed
	Sectors uint64 // 512-byte sectors written
	Flushes uint64 // cache flushes completed (fsync, syncfs, fdatasync end in one)
	BusyMS  uint64 // milliseconds with requests in flight
}

// sub is the counters' growth since before.
func (c diskCounters) sub(before diskCounters) diskCounters {
	return diskCounters{Name: c.Name, Writes: c.Writes - before.Writes, Sectors: c.Sectors - before.Sectors,
		Flushes: c.Flushes - before.Flushes, BusyMS: c.BusyMS - before.BusyMS}
}

// parseDiskStats finds the device major:minor in a /proc/diskstats text.
// Fields (Documentation/admin-guide/iostats.rst): major, minor, name, 4
// read counters, writes completed, writes merged, sectors written, ms
// writing, in flight, ms busy, weighted ms, 4 discard counters (since
// Linux 4.18), flushes completed and ms flushing (since 5.5).
func parseDiskStats(r io.Reader, major, minor uint32) (diskCounters, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 14 || f[0] != strconv.FormatUint(uint64(major), 10) || f[1] != strconv.FormatUint(uint64(minor), 10) {
			continue
		}
		n := func(i int) uint64 {
			if i >= len(f) {
				return 0
			}
			v, _ := strconv.ParseUint(f[i], 10, 64)
			return v
		}
		return diskCounters{Name: f[2], Writes: n(7), Sectors: n(9), BusyMS: n(12), Flushes: n(18)}, true
	}
	return diskCounters{}, false
}

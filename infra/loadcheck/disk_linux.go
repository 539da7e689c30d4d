package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// readDisk returns the counters of the block device that holds dir; false
// when it has none of its own in /proc/diskstats (a network, overlay or
// memory file system).
func readDisk(dir string) (diskCounters, bool) {
	var st unix.Stat_t
	if unix.Stat(dir, &st) != nil {
		return diskCounters{}, false
	}
	f, err := os.Open("/proc/diskstats")
	if err != nil {
		return diskCounters{}, false
	}
	defer f.Close()
	return parseDiskStats(f, unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)))
}

//go:build !linux

package main

// readDisk has no counters outside Linux: the report leaves the disk out.
func readDisk(string) (diskCounters, bool) { return diskCounters{}, false }

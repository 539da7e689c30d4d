package boltstore

import "sync/atomic"

// defaultReleaseEvery is how many bytes of keys and values reads go through
// between two releases of the file's pages: a few megabytes, so the pages a
// big export maps in never add up, while a release (a read of
// /proc/self/maps and one madvise) stays rare.
const defaultReleaseEvery = 8 << 20

// lookupBytes is what one key lookup counts for: it maps in a path of
// pages from the root to a leaf — about four pages of 4 KiB in a big file —
// however little it returns. Thread-parent and upload lookups, thousands in
// a big export, add up to the whole file otherwise.
const lookupBytes = 16 << 10

// pager keeps big reads from growing the process's resident set. bbolt
// reads through a shared, read-only memory map of the file, and every page a
// read touches stays resident in the process until the map goes away: a 1M
// message export would end with the whole file in its RSS. Every
// releaseEvery bytes read, the pager drops the file's pages from the
// process's page tables (the data stays in the kernel's page cache and comes
// back on the next touch).
type pager struct {
	every int64 // bytes read between releases; 1 releases after every read
	read  atomic.Int64
	file  mappedFile // the platform's handle on the file's mappings
}

// newPager returns the pager of the database file at path, which must
// exist.
func newPager(path string, every int64) (*pager, error) {
	f, err := newMappedFile(path)
	if err != nil {
		return nil, err
	}
	return &pager{every: every, file: f}, nil
}

// readDone counts n bytes of keys and values read, and releases the file's
// pages when releaseEvery bytes have been read since the last release. Call
// it inside the transaction that read them, after every value has been
// copied out of the map: bbolt remaps the file only when no read
// transaction is open (and within a write transaction, only at commit), so
// the mapping found is the one in use. A failed release is not an error of
// the read: the read is right, only the memory is not given back.
func (p *pager) readDone(n int) {
	if p.every <= 0 {
		return
	}
	v := p.read.Add(int64(n))
	if v >= p.every && p.read.CompareAndSwap(v, 0) {
		_ = p.file.release()
	}
}

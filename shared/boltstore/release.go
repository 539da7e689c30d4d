package boltstore

import "sync/atomic"

// The pager's tuning. Pages come into the process faster than reads touch
// them: on a fault the kernel maps in up to 64 KiB of neighbouring file
// pages that are in the page cache ("fault-around"), and the leaves of one
// bucket lie scattered between other buckets' pages, so a walk can map in
// ten times what it reads. The pager therefore measures rather than
// estimates: every checkEvery bytes read it looks at how much file-backed
// memory the process holds (/proc/self/statm, a few microseconds), and
// releases the database's pages once that grew by defaultReleaseBudget
// since the last release. 1 MiB rather than 2 took a megabyte off the peak
// of a million-message export (its mapped pages), for a few hundred more
// releases of about a hundred microseconds each.
//
// That budget is for long reads — an export's page walks, a batch of
// upload lookups — which bring in new pages as fast as they read and would
// otherwise end with the whole file resident. A server answering many
// small exports re-reads a hot set (tokens, users, rooms, the last months'
// messages) that soon exceeds that budget: releasing it every other request made
// every request fault it back in, with a TLB flush on both cores each time
// (the load check measured a release per two requests). Short reads — a
// transaction that read less than meterFlush — therefore release only
// once the growth reaches shortReadBudget, and look at the resident set
// only every shortCheckFactor × checkEvery bytes (reading statm every 16
// lookups was 4% of a small export's CPU): what they keep resident is
// bounded, and the next long read releases it with its own. The hot set
// moves: every commit writes the pages it changed to new places in the
// file, and the reads after it fault those in with their neighbours; after
// a release the whole hot set faults back in. Under the load check a 16
// MiB budget was 13 releases a second, each a few milliseconds of
// processor time in the release and the faults that follow it (~4% of the
// CPU); 64 MiB is about one a second.
const (
	defaultCheckEvery    = 256 << 10
	defaultReleaseBudget = 1 << 20
	shortReadBudget      = 64 << 20
	shortCheckFactor     = 8
)

// lookupBytes is what one key lookup counts for: it maps in a path of
// pages from the root to a leaf — about four pages of 4 KiB in a big file —
// however little it returns. Thread-parent and upload lookups, thousands in
// a big export, add up to the whole file otherwise.
const lookupBytes = 16 << 10

// meterFlush is how many bytes a meter gathers before it tells the pager.
const meterFlush = 64 << 10

// pager keeps big reads from growing the process's resident set. bbolt
// reads through a shared, read-only memory map of the file, and every page a
// read touches stays resident in the process until the map goes away: a 1M
// message export would end with the whole file in its RSS. The pager drops
// the file's pages from the process's page tables when they add up (the
// data stays in the kernel's page cache and comes back on the next touch).
type pager struct {
	checkEvery int64 // bytes read between two looks at the resident set
	budget     int64 // growth of file-backed RSS that triggers a release
	always     bool  // release after every read (tests)
	read       atomic.Int64
	base       atomic.Int64 // file-backed RSS after the last release
	file       *mappedFile  // the platform's handle on the file's mappings
}

// newPager returns the pager of the database file at path, which must
// exist.
func newPager(path string) (*pager, error) {
	f, err := newMappedFile(path)
	if err != nil {
		return nil, err
	}
	return &pager{checkEvery: defaultCheckEvery, budget: defaultReleaseBudget, file: f}, nil
}

// readDone counts n bytes of keys and values read, and every checkEvery
// bytes releases the file's pages if the process's file-backed memory grew
// by budget since the last release. Call it inside the transaction that
// read them, after what was read has been copied out of the map: bbolt
// remaps the file only when no read transaction is open (and within a write
// transaction, only at commit), so the mapping found is the one in use. A
// failed release is not an error of the read: the read is right, only the
// memory is not given back.
//
// long says whether the bytes come from a long read (see shortReadBudget):
// only then is the growth held to budget.
func (p *pager) readDone(n int, long bool) {
	if p.always {
		p.release()
		return
	}
	if p.checkEvery <= 0 {
		return
	}
	every, budget := p.checkEvery, p.budget
	if !long {
		every, budget = shortCheckFactor*every, max(budget, shortReadBudget)
	}
	v := p.read.Add(int64(n))
	if v < every || !p.read.CompareAndSwap(v, 0) {
		return
	}
	rss, err := p.file.resident()
	if err != nil || rss-p.base.Load() >= budget {
		p.release()
	}
}

// release drops the file's pages and notes the file-backed RSS left.
func (p *pager) release() {
	_ = p.file.release()
	if rss, err := p.file.resident(); err == nil {
		p.base.Store(rss)
	}
}

// meter gathers what one transaction reads and tells the pager every
// meterFlush bytes, so that a long walk is released on the way.
type meter struct {
	p    *pager
	n    int
	long bool // the transaction has read meterFlush bytes: a long read
}

// add counts n bytes read.
func (m *meter) add(n int) {
	if m.n += n; m.n >= meterFlush {
		m.long = true
		m.flush()
	}
}

// flush tells the pager what was counted.
func (m *meter) flush() {
	m.p.readDone(m.n, m.long)
	m.n = 0
}

// Package boltstore is the embedded database of rooms-export: one bbolt file
// that implements every database port of the service (export.Directory,
// export.MessageStore, export.JobStore, export.RateLimiter) and the
// workspace.Sink used to load it. It is the local default: no cloud account,
// no server, no Docker.
//
// The key layout mirrors the DynamoDB adapter's partition + sort keys, so both
// backends answer the same queries the same way:
//
//	messages    rid \x00 ts(8) _id        -> Message record (visible messages)
//	hiddenmsgs  rid \x00 ts(8) _id        -> Message record (_hidden edit-history copies)
//	msgids      _id                       -> the message's key in one of the two above
//	filemsgs    rid \x00 ts(8) _id        -> "" (visible messages that carry files)
//	msgdays     rid \x00 day(8)           -> visible messages that day (8-byte big-endian)
//	users       _id                       -> User JSON
//	usernames   username                  -> _id
//	tokens      hashedToken               -> Token JSON
//	permissions _id                       -> Permission JSON
//	rooms       _id                       -> Room JSON
//	subs        rid \x00 uid              -> Subscription JSON
//	uploads     _id                       -> Upload (binary v1, uploads.go; JSON still read)
//	jobs        id                        -> Job JSON
//	activejobs  ownerId \x00 dedupKey \x00 createdAt(12) id -> id (queued and running jobs only)
//	ratecounts  key \x00 windowStart(12)  -> count (8-byte big-endian)
//	rateexpiry  windowEnd(12) key \x00 windowStart(12) -> "" (counters by expiry, for lazy cleanup)
//
// ts(8) is the message's Unix time in milliseconds plus 1<<62, big-endian, so
// byte order is time order and a cursor seek yields Rocket.Chat's (ts, _id)
// order. Instants of 12 bytes are Unix seconds plus 1<<62 (8 bytes) and
// nanoseconds (4 bytes); day(8) is days since the epoch, encoded as ts(8)
// is. Keeping hidden copies in their own bucket lets pages and counts skip
// them without decoding a single value.
//
// A message record is the binary encoding of codec.go; records written by
// older versions are JSON and are still read. filemsgs, the index behind
// FileMessages, and msgdays, the counters behind CountMessages, are built
// from the messages at the first Open of a file that lacks them.
//
// Reads release the pages of the file they map into the process once they
// add up to a few megabytes (release.go), so that paging through a million
// messages keeps the resident set flat.
package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Bucket names. See the package comment for what each holds.
var (
	bucketMessages    = []byte("messages")
	bucketHidden      = []byte("hiddenmsgs")
	bucketMsgIDs      = []byte("msgids")
	bucketFileMsgs    = []byte("filemsgs")
	bucketMsgDays     = []byte("msgdays")
	bucketUsers       = []byte("users")
	bucketUsernames   = []byte("usernames")
	bucketTokens      = []byte("tokens")
	bucketPermissions = []byte("permissions")
	bucketRooms       = []byte("rooms")
	bucketSubs        = []byte("subs")
	bucketUploads     = []byte("uploads")
	bucketJobs        = []byte("jobs")
	bucketActiveJobs  = []byte("activejobs")
	bucketRateCounts  = []byte("ratecounts")
	bucketRateExpiry  = []byte("rateexpiry")
)

func allBuckets() [][]byte {
	return [][]byte{
		bucketMessages, bucketHidden, bucketMsgIDs, bucketFileMsgs, bucketMsgDays, bucketUsers, bucketUsernames,
		bucketTokens, bucketPermissions, bucketRooms, bucketSubs, bucketUploads,
		bucketJobs, bucketActiveJobs, bucketRateCounts, bucketRateExpiry, bucketObjects,
	}
}

// DefaultLockTimeout is how long Open waits for the file lock another process
// holds before it gives up with an error.
const DefaultLockTimeout = time.Second

// Options tune OpenWith. The zero value is what Open uses: durable writes, a
// one-second lock timeout, and job and rate-limit writes that commit at once
// and share the commits of concurrent writers.
type Options struct {
	// LockTimeout bounds the wait for the file lock; 0 means DefaultLockTimeout.
	LockTimeout time.Duration
	// NoSync skips fsync after each commit. Only for bulk loads that can be
	// redone: call Sync when the load is over. A crash may lose or corrupt
	// the file.
	NoSync bool
	// NoFreelistSync does not persist the freelist: faster writes, slower
	// open after a crash.
	NoFreelistSync bool
	// BatchDelay is how long the first of several CreateJob, UpdateJob and
	// Allow calls waits for others before their shared commit starts
	// (Store.batch). 0, the default, waits for nothing: calls that arrive
	// while a commit is under way still share the next one, which is all
	// the sharing a busy server needs; a delay only slows a lone writer.
	BatchDelay time.Duration
}

// mapSize is how much of the file Open maps: 1 GiB (bbolt's largest
// doubling step; a bigger file grows the map a GiB at a time) on 64-bit
// platforms. bbolt remaps the file when a commit outgrows the map, and to
// remap it takes an exclusive lock that waits for every open read
// transaction to end and holds up every new one meanwhile: on a busy server
// each doubling of a young database (2, 4, 8, 16 MiB, ...) stalled every
// request for as long as the slowest read under way, and a write made
// while the same goroutine reads could not finish at all. Mapping more
// costs address space only: pages are read in when touched (the pager
// bounds what stays resident). The file grows as data is written, in steps
// of bbolt's AllocSize (16 MiB) since the map is bigger than that: a new
// file is 16 MiB long at once, sparse until its pages are written.
const mapSize = 1 << 30 * (strconv.IntSize / 64)

// Store is the embedded database. One *Store implements every database port;
// it is safe for concurrent use (bbolt serialises write transactions, and
// readers see consistent snapshots).
type Store struct {
	db      *bolt.DB
	pages   *pager // releases the file's pages that big reads map in
	writes  *group // the shared commits of Store.batch
	jobs    creating
	objects putting
	rates   rates
	records decodedRecords // directory records decoded before, checked against the stored bytes
	opened  uint64         // the file's transaction id at Open, for Commits
}

// Open opens (creating if needed, with its parent directory) the database
// file at path with the default Options.
func Open(path string) (*Store, error) {
	return OpenWith(path, Options{})
}

// OpenWith opens the database file at path. The file is created with mode
// 0600 and its parent directory with 0700. When another process holds the
// file, OpenWith fails after opts.LockTimeout instead of hanging.
func OpenWith(path string, opts Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        timeout,
		NoSync:         opts.NoSync,
		NoFreelistSync: opts.NoFreelistSync,
		FreelistType:   bolt.FreelistMapType,
		// Mapped once, at the size bbolt would double to, so that a growing
		// file does not have to be remapped (see mapSize).
		InitialMmapSize: mapSize,
	})
	if err == bolterrors.ErrTimeout {
		return nil, fmt.Errorf("boltstore: open %s: file is locked by another process (waited %s): %w", path, timeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	pages, err := newPager(path)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	pages.file.base = func() uintptr { return db.Info().Data }
	err = db.Update(func(tx *bolt.Tx) error {
		indexFiles, countDays := tx.Bucket(bucketFileMsgs) == nil, tx.Bucket(bucketMsgDays) == nil
		for _, name := range allBuckets() {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		if indexFiles {
			if err := buildFileIndex(tx, pages); err != nil {
				return err
			}
		}
		if countDays {
			return buildDayCounters(tx, pages)
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s := &Store{db: db, pages: pages, writes: newGroup(db, opts.BatchDelay)}
	s.opened = s.txID()
	return s, nil
}

// Commits reports how many write transactions have been committed since
// Open. Each costs two fdatasyncs (none with NoSync) however many calls
// share it: the load check prints them per request.
func (s *Store) Commits() uint64 { return s.txID() - s.opened }

// txID is the id of the last committed write transaction.
func (s *Store) txID() uint64 {
	var id int
	_ = s.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }) // a read transaction of an open file does not fail
	return uint64(id)
}

// Close commits the writes still queued (Store.hold), then releases the
// file and its lock.
func (s *Store) Close() error {
	s.writes.drain()
	err := s.db.Close()
	s.pages.file.close()
	if err != nil {
		return fmt.Errorf("boltstore: close: %w", err)
	}
	return nil
}

// Sync flushes the file to disk; use it at the end of a bulk load opened
// with NoSync.
func (s *Store) Sync() error {
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("boltstore: sync: %w", err)
	}
	return nil
}

// view runs fn in a read transaction after checking ctx. Every transaction
// counts as one lookup towards the next release of the file's pages (fn
// counts what it reads beyond that).
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(s.counted(fn))
}

// counted wraps fn to count one lookup when it ends, inside its
// transaction: a release in a write transaction is as safe as in a read one,
// since bbolt remaps only while committing. A lookup is a short read: what
// fn reads beyond it goes through a meter, which says when it is long.
func (s *Store) counted(fn func(tx *bolt.Tx) error) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		err := fn(tx)
		s.pages.readDone(lookupBytes, false)
		return err
	}
}

// update runs fn in a write transaction after checking ctx.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(s.counted(fn))
}

// batch runs fn in a write transaction that concurrent callers may share
// (group commit: one commit, so one pair of fdatasyncs, for every call that
// arrived while the previous commit was under way; still durable when batch
// returns). fn may run more than once — again alone when it fails inside a
// shared transaction — so it must change nothing outside tx and must set
// its results afresh on every run. Its error is returned as is.
func (s *Store) batch(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.writes.do(s.counted(fn))
}

// hold queues fn for the next shared commit, for writes whose outcome the
// caller already knows, without starting a commit and without waiting: fn
// goes into the commit that follows the one under way, or into the next
// batch's, so the write its caller makes next (a job's save) commits both
// at once — one commit's fdatasyncs instead of two in a row. committed is
// closed when fn's commit has ended; a reader that needs fn committed
// starts a commit when none is under way (awaitCommit). fn must not fail (a
// failing fn is dropped, its changes rolled back). Later writes run after
// fn; reads see its changes once committed is closed. A crash before then
// loses the write; Close commits it.
func (s *Store) hold(committed chan struct{}, fn func(tx *bolt.Tx) error) {
	s.writes.hold(s.counted(fn), committed)
}

// group is the group commit behind Store.batch. bbolt's own DB.Batch starts
// a batch's timer (MaxBatchDelay) when its first call arrives and detaches
// the batch when the timer fires, before the batch gets the write lock: under
// load, batches of the few calls of one delay queue behind each other for
// the lock, each paying its own commit, and every call waits the delay on
// top (the load check measured ~60 ms per job write with 32 clients). Here
// the calls that queue while a commit runs all go into the next commit, the
// moment the lock is free, and a lone call commits at once.
//
// One caller at a time leads: it takes every queued call (its own among
// them), runs them in one transaction and, when more have queued meanwhile,
// hands the lead to the oldest of them (to a new goroutine when that is a
// held call, whose caller has gone). Nobody leads for long, so no
// caller's answer waits for commits of calls that came after it.
type group struct {
	db    *bolt.DB
	delay time.Duration // how long a new leader waits before taking the queue

	mu    sync.Mutex
	idle  sync.Cond // signalled when busy turns false; L is &mu
	queue []*call   // guarded by mu
	busy  bool      // a leader is at work or being handed the lead; guarded by mu
}

func newGroup(db *bolt.DB, delay time.Duration) *group {
	g := &group{db: db, delay: max(delay, 0)}
	g.idle.L = &g.mu
	return g
}

// call is one queued write. done receives errLead once when the call is
// made leader, then the call's result. A posted call's caller does not wait
// for an answer (hold): committed is closed when its commit ends.
type call struct {
	fn        func(*bolt.Tx) error
	posted    bool
	done      chan error
	committed chan struct{} // posted calls only
}

// errLead tells a queued call to lead. It never leaves the package.
var errLead = errors.New("boltstore: lead the next commit")

// panicked carries a panic out of a write function that ran in the
// leader's goroutine, to be raised again in its caller's.
type panicked struct{ v any }

func (p panicked) Error() string { return fmt.Sprintf("boltstore: panic in a batched write: %v", p.v) }

// push queues c and reports whether its caller must lead.
func (g *group) push(c *call) (lead bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.queue = append(g.queue, c)
	lead = !g.busy
	g.busy = true
	return lead
}

// do runs fn in a shared write transaction and returns its error once the
// transaction is durable (or rolled back).
func (g *group) do(fn func(*bolt.Tx) error) error {
	c := &call{fn: fn, done: make(chan error, 1)}
	if !g.push(c) {
		if err := <-c.done; err != errLead {
			return result(err)
		}
	}
	g.lead()
	return result(<-c.done)
}

// maxHeld is how many held writes may wait for a commit when none is under
// way: calls that hold writes and make none (rate-limited calls refused
// later) start one on a goroutine of its own once this many have queued.
const maxHeld = 64

// hold queues fn without leading (Store.hold).
func (g *group) hold(fn func(*bolt.Tx) error, committed chan struct{}) {
	c := &call{fn: fn, posted: true, done: make(chan error, 1), committed: committed}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := !g.busy && len(g.queue) >= maxHeld
	if lead {
		g.busy = true
	}
	g.mu.Unlock()
	if lead {
		go g.lead()
	}
}

// flush starts a commit of the queued calls when none is under way (held
// calls wait for one otherwise).
func (g *group) flush() {
	g.mu.Lock()
	lead := !g.busy && len(g.queue) > 0
	if lead {
		g.busy = true
	}
	g.mu.Unlock()
	if lead {
		g.lead()
	}
}

// result is a call's outcome, raising again a panic of its function.
func result(err error) error {
	var p panicked
	if errors.As(err, &p) {
		panic(p.v)
	}
	return err
}

// lead commits every queued call in one transaction, then hands the lead
// to the oldest call queued meanwhile, or ends the group's busy spell.
func (g *group) lead() {
	if g.delay > 0 {
		time.Sleep(g.delay)
	}
	g.mu.Lock()
	calls := g.queue
	g.queue = nil
	g.mu.Unlock()
	g.commit(calls)
	if g.handOver() {
		// The next leader is runnable on this P but would wait until this
		// goroutine blocks or is preempted — up to a time slice, while
		// every queued writer waits on it (the load check measured 2.4 ms
		// per hand-over on two busy cores, 0.04 ms with the yield).
		runtime.Gosched()
	}
}

// handOver passes the lead to the oldest queued call and reports whether
// there was one; otherwise it ends the busy spell.
func (g *group) handOver() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case len(g.queue) == 0:
		g.busy = false
		g.idle.Broadcast()
		return false
	case g.queue[0].posted:
		go g.lead() // busy stays set: the lead passes on
	default:
		g.queue[0].done <- errLead
	}
	return true
}

// drain waits until every queued call is committed.
func (g *group) drain() {
	g.flush()
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.busy {
		g.idle.Wait()
	}
}

// commit runs calls in one transaction, each call's fn in arrival order,
// and answers every call. A call that fails or panics rolls the
// transaction back and the others run again without it; once they are
// committed it runs again alone, so that its error — or its success, after
// what made it fail — is its own and comes after its batch (a failing
// posted call is dropped instead). The others get the commit's outcome.
func (g *group) commit(calls []*call) {
	var alone []*call
	for len(calls) > 0 {
		tx, err := g.db.Begin(true)
		if err != nil {
			for _, c := range append(calls, alone...) {
				g.answer(c, err)
			}
			return
		}
		failed := -1
		for i, c := range calls {
			if err := guarded(c.fn, tx); err != nil {
				failed = i
				break
			}
		}
		if failed >= 0 {
			_ = tx.Rollback() // the transaction's own changes are all it drops
			if c := calls[failed]; c.posted {
				g.answer(c, nil)
			} else {
				alone = append(alone, c)
			}
			calls = slices.Delete(calls, failed, failed+1)
			continue
		}
		err = tx.Commit()
		for _, c := range calls {
			g.answer(c, err) // the commit's own error, or nil
		}
		break
	}
	for _, c := range alone {
		c.done <- g.db.Update(func(tx *bolt.Tx) error { return guarded(c.fn, tx) })
	}
}

// answer tells a call its outcome: a posted call only that its commit ended.
func (g *group) answer(c *call, err error) {
	if c.posted {
		close(c.committed)
		return
	}
	c.done <- err
}

// guarded calls fn, turning a panic into an error (panicked): the leader
// must answer every call, and the panic is raised again in fn's caller.
func guarded(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicked{p}
		}
	}()
	return fn(tx)
}

// getJSON decodes the value under key into v and reports whether the key
// exists; callers turn a missing key into chat.ErrNotFound.
func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("decode: %w", err)
	}
	return true, nil
}

// putJSON stores v as JSON under key.
func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return b.Put(key, raw)
}

// checkKeyPart rejects values that cannot be part of a composite key: empty
// ones, and ones holding the \x00 separator.
func checkKeyPart(what, v string) error {
	if v == "" {
		return fmt.Errorf("empty %s", what)
	}
	if strings.IndexByte(v, 0) >= 0 {
		return fmt.Errorf("%s %q contains a NUL byte", what, v)
	}
	return nil
}

// joinKey builds parts[0] \x00 parts[1] \x00 ... with room for extra bytes.
func joinKey(extra int, parts ...string) []byte {
	n := extra
	for _, p := range parts {
		n += len(p) + 1
	}
	k := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}

// The offset that makes signed times sort as unsigned big-endian bytes.
const timeOffset = 1 << 62

// appendMillis appends a millisecond timestamp as 8 sortable bytes. Values
// beyond ±2^62 ms (about 146 million years) are clamped.
func appendMillis(k []byte, ms int64) []byte {
	ms = max(min(ms, timeOffset-1), -timeOffset)
	return binary.BigEndian.AppendUint64(k, uint64(ms+timeOffset))
}

// decodeMillis reverses appendMillis.
func decodeMillis(b []byte) int64 {
	return int64(binary.BigEndian.Uint64(b)) - timeOffset
}

// floorMillis is t in Unix milliseconds, rounded down.
func floorMillis(t time.Time) int64 { return t.UnixMilli() }

// ceilMillis is t in Unix milliseconds, rounded up.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		ms++
	}
	return ms
}

// instantLen is the size of an encoded instant (appendInstant).
const instantLen = 12

// appendInstant appends t at nanosecond precision as 12 sortable bytes.
func appendInstant(k []byte, t time.Time) []byte {
	sec := max(min(t.Unix(), timeOffset-1), -timeOffset)
	k = binary.BigEndian.AppendUint64(k, uint64(sec+timeOffset))
	return binary.BigEndian.AppendUint32(k, uint32(t.Nanosecond()))
}

// decodeInstant reverses appendInstant.
func decodeInstant(b []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(b[:8])) - timeOffset
	return time.Unix(sec, int64(binary.BigEndian.Uint32(b[8:12]))).UTC()
}

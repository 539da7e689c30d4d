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
//	uploads     _id                       -> Upload JSON
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
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
		bucketJobs, bucketActiveJobs, bucketRateCounts, bucketRateExpiry,
	}
}

// DefaultLockTimeout is how long Open waits for the file lock another process
// holds before it gives up with an error.
const DefaultLockTimeout = time.Second

// DefaultBatchDelay is how long a job or rate-limit write waits for others to
// share its commit: about the time of one commit (two fdatasyncs) on an SSD,
// so a lone writer loses little and concurrent ones share the fsyncs.
const DefaultBatchDelay = time.Millisecond

// Options tune OpenWith. The zero value is what Open uses: durable writes, a
// one-second lock timeout and DefaultBatchDelay.
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
	// BatchDelay is how long CreateJob, UpdateJob and Allow wait for other
	// calls to share their commit (bbolt's DB.Batch); 0 means
	// DefaultBatchDelay.
	BatchDelay time.Duration
}

// Store is the embedded database. One *Store implements every database port;
// it is safe for concurrent use (bbolt serialises write transactions, and
// readers see consistent snapshots).
type Store struct {
	db    *bolt.DB
	pages *pager // releases the file's pages that big reads map in
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
	})
	if err == bolterrors.ErrTimeout {
		return nil, fmt.Errorf("boltstore: open %s: file is locked by another process (waited %s): %w", path, timeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	batchDelay := opts.BatchDelay
	if batchDelay <= 0 {
		batchDelay = DefaultBatchDelay
	}
	db.MaxBatchDelay = batchDelay
	pages, err := newPager(path)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
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
	return &Store{db: db, pages: pages}, nil
}

// Close releases the file and its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
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
// since bbolt remaps only while committing.
func (s *Store) counted(fn func(tx *bolt.Tx) error) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		err := fn(tx)
		s.pages.readDone(lookupBytes)
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
// (bbolt's DB.Batch: group commit, one fsync per batch, still durable when
// batch returns). fn may run more than once — again alone when it fails
// inside a shared transaction — so it must change nothing outside tx and
// must set its results afresh on every run. Its error is returned as is.
func (s *Store) batch(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Batch(s.counted(fn))
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

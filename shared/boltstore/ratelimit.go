package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/shared/export"
)

// sweepBatch bounds how many ended counters one Allow deletes, so cleanup
// never makes a single call slow.
const sweepBatch = 64

// Allow counts a call under key in the fixed window [now.Truncate(window),
// +window). Rocket.Chat's API limiter allows numRequestsAllowed calls per
// intervalTimeInMS in one process's memory; here the windows are aligned and
// the counters shared. The call that would exceed limit is refused and not
// counted.
//
// Counters live in the database, so that they outlast the process, and in
// memory (Store.rates), so that a call is decided without waiting for a
// write transaction: bbolt lets one process at a time open the file, so this
// Store sees every call counted in it. Allow decides under a lock and hands
// the increment to the group commit without starting one (Store.hold): it
// commits with the next write — the export's job — or at Close; a crash
// can forget the counts not committed yet — a limiter that Rocket.Chat
// keeps in memory forgets them all. Counters of ended windows are deleted lazily, a
// few per counted call.
func (s *Store) Allow(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (export.RateDecision, error) {
	if window <= 0 {
		return export.RateDecision{}, fmt.Errorf("boltstore: rate limit %s: window %s is not positive", key, window)
	}
	if err := checkKeyPart("rate-limit key", key); err != nil {
		return export.RateDecision{}, fmt.Errorf("boltstore: rate limit: %w", err)
	}
	start := now.Truncate(window)
	reset := start.Add(window)
	counterKey := appendInstant(joinKey(instantLen, key, ""), start)
	d := export.RateDecision{Limit: limit, Reset: reset}

	n, err := s.rates.count(ctx, s, counterKey, limit, reset, now)
	if err != nil {
		return export.RateDecision{}, fmt.Errorf("boltstore: rate limit %s: %w", key, err)
	}
	if n > uint64(max(limit, 0)) {
		d.Remaining = 0
		return d, nil
	}
	// Increments commute: the order in which concurrent calls hold them
	// does not matter.
	s.hold(make(chan struct{}), func(tx *bolt.Tx) error {
		counts, expiry := tx.Bucket(bucketRateCounts), tx.Bucket(bucketRateExpiry)
		if err := sweepRateCounters(counts, expiry, now); err != nil {
			return err
		}
		var stored uint64
		raw := counts.Get(counterKey)
		if raw != nil {
			stored = binary.BigEndian.Uint64(raw)
		}
		if err := counts.Put(counterKey, binary.BigEndian.AppendUint64(nil, stored+1)); err != nil {
			return err
		}
		if raw == nil {
			exp := appendInstant(make([]byte, 0, instantLen+len(counterKey)), reset)
			return expiry.Put(append(exp, counterKey...), nil)
		}
		return nil
	})
	d.Allowed = true
	d.Remaining = limit - int(n)
	return d, nil
}

// rates is the in-memory side of the rate counters (Allow).
type rates struct {
	mu      sync.Mutex
	counts  map[string]uint64    // counter key -> calls counted; guarded by mu
	ends    map[string]time.Time // counter key -> when its window ends; guarded by mu
	sweepAt int                  // map size at which ended windows are dropped; guarded by mu
}

// count decides one call under the counter key of a window ending at end:
// it returns the call's number in the window, counted when it is at most
// limit (a refused call is not counted). A counter not in memory is read
// from the file first.
func (r *rates) count(ctx context.Context, s *Store, key []byte, limit int, end, now time.Time) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.counts[string(key)]
	if !ok {
		// Not counted since Open (or its window was dropped): the file
		// holds what earlier runs counted.
		err := s.view(ctx, func(tx *bolt.Tx) error {
			if raw := tx.Bucket(bucketRateCounts).Get(key); raw != nil {
				n = binary.BigEndian.Uint64(raw)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	if n >= uint64(max(limit, 0)) {
		return n + 1, nil
	}
	n++
	if r.counts == nil {
		r.counts, r.ends = map[string]uint64{}, map[string]time.Time{}
	}
	if len(r.counts) >= r.sweepAt {
		// Drop the counters of ended windows whenever the map has doubled.
		for k, e := range r.ends {
			if !e.After(now) {
				delete(r.counts, k)
				delete(r.ends, k)
			}
		}
		r.sweepAt = 2*len(r.counts) + 64
	}
	r.counts[string(key)], r.ends[string(key)] = n, end
	return n, nil
}

// sweepRateCounters deletes up to sweepBatch counters whose window ended at
// or before now, oldest first.
func sweepRateCounters(counts, expiry *bolt.Bucket, now time.Time) error {
	var ended [][]byte
	c := expiry.Cursor()
	for k, _ := c.First(); k != nil && len(ended) < sweepBatch; k, _ = c.Next() {
		if decodeInstant(k[:instantLen]).After(now) {
			break
		}
		ended = append(ended, bytes.Clone(k))
	}
	for _, k := range ended {
		if err := counts.Delete(k[instantLen:]); err != nil {
			return err
		}
		if err := expiry.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

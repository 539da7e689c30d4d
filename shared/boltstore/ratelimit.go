package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
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
// counted. Counters live in
// the database so that every process shares them; the write transaction
// serialises concurrent callers, and concurrent calls share one commit
// (Store.batch). Counters of ended windows are deleted lazily, a few per
// call.
func (s *Store) Allow(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (export.RateDecision, error) {
	if window <= 0 {
		return export.RateDecision{}, fmt.Errorf("boltstore: rate limit %s: window %s is not positive", key, window)
	}
	if err := checkKeyPart("rate-limit key", key); err != nil {
		return export.RateDecision{}, fmt.Errorf("boltstore: rate limit: %w", err)
	}
	start := now.Truncate(window)
	reset := start.Add(window)
	var d export.RateDecision
	counterKey := appendInstant(joinKey(instantLen, key, ""), start)
	err := s.batch(ctx, func(tx *bolt.Tx) error {
		// a batched function may run again: decide afresh each time
		d = export.RateDecision{Limit: limit, Reset: reset}
		counts, expiry := tx.Bucket(bucketRateCounts), tx.Bucket(bucketRateExpiry)
		if err := sweepRateCounters(counts, expiry, now); err != nil {
			return err
		}
		var n uint64
		raw := counts.Get(counterKey)
		if raw != nil {
			n = binary.BigEndian.Uint64(raw)
		}
		if n >= uint64(max(limit, 0)) {
			d.Remaining = max(limit-int(n), 0)
			return nil
		}
		n++
		if err := counts.Put(counterKey, binary.BigEndian.AppendUint64(nil, n)); err != nil {
			return err
		}
		if raw == nil {
			exp := appendInstant(make([]byte, 0, instantLen+len(counterKey)), reset)
			if err := expiry.Put(append(exp, counterKey...), nil); err != nil {
				return err
			}
		}
		d.Allowed = true
		d.Remaining = limit - int(n)
		return nil
	})
	if err != nil {
		return export.RateDecision{}, fmt.Errorf("boltstore: rate limit %s: %w", key, err)
	}
	return d, nil
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

package boltstore

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Day counters: msgdays holds, for each room and UTC day, how many visible
// messages it has. CountMessages adds up the counters of the whole days in
// its range and counts keys only in the partial days at its ends, so the
// count an export starts with reads a few pages instead of the whole room —
// a full pass over a million messages otherwise, every page of which is
// mapped in (and must be released) once more.

// msPerDay is the length of a counter's day.
const msPerDay = 24 * 60 * 60 * 1000

// dayOf is the day of a millisecond timestamp (days since the epoch, rounded
// down).
func dayOf(ms int64) int64 {
	d := ms / msPerDay
	if ms%msPerDay < 0 {
		d--
	}
	return d
}

// dayKey is rid \x00 day(8): the counter of one room's day.
func dayKey(rid []byte, day int64) []byte {
	k := make([]byte, 0, len(rid)+1+8)
	k = append(append(k, rid...), 0)
	return appendMillis(k, day)
}

// splitMessageKey returns the room and the timestamp of a message key.
func splitMessageKey(k []byte) (rid []byte, ms int64, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) < i+1+8 {
		return nil, 0, false
	}
	return k[:i], decodeMillis(k[i+1 : i+9]), true
}

// dayDeltas gathers the changes of one transaction to the day counters,
// applied once at its end.
type dayDeltas map[string]int64

// add counts delta visible messages more (or fewer) in the day of the
// message key k.
func (d dayDeltas) add(k []byte, delta int64) error {
	rid, ms, ok := splitMessageKey(k)
	if !ok {
		return fmt.Errorf("malformed message key %q", k)
	}
	d[string(dayKey(rid, dayOf(ms)))] += delta
	return nil
}

// apply adds the deltas to the counters; a counter that reaches zero is
// deleted.
func (d dayDeltas) apply(b *bolt.Bucket) error {
	for k, delta := range d {
		if delta == 0 {
			continue
		}
		var n int64
		if v := b.Get([]byte(k)); len(v) == 8 {
			n = int64(binary.BigEndian.Uint64(v))
		}
		var err error
		if n += delta; n > 0 {
			err = b.Put([]byte(k), binary.BigEndian.AppendUint64(nil, uint64(n)))
		} else {
			err = b.Delete([]byte(k))
		}
		if err != nil {
			return fmt.Errorf("day counter: %w", err)
		}
	}
	clear(d)
	return nil
}

// countRange counts the visible messages of the room whose key prefix is
// prefix with fromMs <= ts <= toMs: counters for the whole days, keys for
// the rest.
func countRange(tx *bolt.Tx, prefix []byte, fromMs, toMs int64, read *meter) int64 {
	// keep the day arithmetic far from overflow; keys clamp the same way
	fromMs = max(min(fromMs, timeOffset-1), -timeOffset)
	toMs = max(min(toMs, timeOffset-1), -timeOffset)
	firstDay := dayOf(fromMs-1) + 1 // the first day starting at or after fromMs
	lastDay := dayOf(toMs+1) - 1    // the last day ending at or before toMs
	if firstDay > lastDay {
		return countKeys(tx, prefix, fromMs, toMs, read)
	}
	n := countKeys(tx, prefix, fromMs, firstDay*msPerDay-1, read)
	n += countKeys(tx, prefix, (lastDay+1)*msPerDay, toMs, read)
	c := tx.Bucket(bucketMsgDays).Cursor()
	rid := prefix[:len(prefix)-1]
	end := dayKey(rid, lastDay)
	for k, v := c.Seek(dayKey(rid, firstDay)); k != nil && bytes.Compare(k, end) <= 0; k, v = c.Next() {
		if len(v) == 8 {
			n += int64(binary.BigEndian.Uint64(v))
		}
		read.add(len(k) + len(v))
	}
	return n
}

// countKeys counts the message keys of the room with fromMs <= ts <= toMs,
// without reading a value.
func countKeys(tx *bolt.Tx, prefix []byte, fromMs, toMs int64, read *meter) int64 {
	var n int64
	if fromMs > toMs {
		return 0
	}
	c := tx.Bucket(bucketMessages).Cursor()
	for k, v := c.Seek(appendMillis(bytes.Clone(prefix), fromMs)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if keyMillis(prefix, k) > toMs {
			break
		}
		n++
		read.add(len(k) + len(v)) // the values are not read, but their pages are mapped in
	}
	return n
}

// buildDayCounters fills msgdays from the visible messages' keys: the first
// Open of a file written by a version without the counters.
func buildDayCounters(tx *bolt.Tx, pages *pager) error {
	counters := tx.Bucket(bucketMsgDays)
	deltas := dayDeltas{}
	read := meter{p: pages}
	defer read.flush()
	c := tx.Bucket(bucketMessages).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := deltas.add(k, 1); err != nil {
			return fmt.Errorf("count days: %w", err)
		}
		if len(deltas) >= 1<<16 { // a bound on memory for stores of many rooms
			if err := deltas.apply(counters); err != nil {
				return fmt.Errorf("count days: %w", err)
			}
		}
		read.add(len(k) + len(v))
	}
	if err := deltas.apply(counters); err != nil {
		return fmt.Errorf("count days: %w", err)
	}
	return nil
}

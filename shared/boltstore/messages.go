package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// roomPrefix is the start of every message key of the room: rid \x00. It is
// nil for a rid that cannot have been stored (one holding a NUL byte).
func roomPrefix(rid string) []byte {
	if checkKeyPart("rid", rid) != nil {
		return nil
	}
	return joinKey(0, rid, "")
}

// messageKey is rid \x00 ts(8) _id.
func messageKey(rid string, ms int64, id string) []byte {
	k := joinKey(8+len(id), rid, "")
	k = appendMillis(k, ms)
	return append(k, id...)
}

// keyMillis decodes the ts of a message key of the room whose prefix is p.
func keyMillis(p, k []byte) int64 { return decodeMillis(k[len(p) : len(p)+8]) }

// rangeStart is the first key a page may return: the first key at From, or
// the key right after the cursor, whichever is later.
func rangeStart(prefix []byte, fromMs int64, after export.Cursor) []byte {
	start := appendMillis(bytes.Clone(prefix), fromMs)
	if after.IsZero() {
		return start
	}
	var a []byte
	if after.TS.Nanosecond()%int(time.Millisecond) != 0 {
		// stored ts have ms precision: nothing at floor(ts) is after the cursor
		a = appendMillis(bytes.Clone(prefix), floorMillis(after.TS)+1)
	} else {
		a = appendMillis(bytes.Clone(prefix), floorMillis(after.TS))
		a = append(a, after.ID...)
		a = append(a, 0) // the smallest key greater than (ts, _id)
	}
	if bytes.Compare(a, start) > 0 {
		return a
	}
	return start
}

// MessagePage returns the room's visible messages with From <= ts <= To
// (inclusive, millisecond precision), strictly after q.After in (ts, _id)
// order: Rocket.Chat's Messages.findVisibleByRoomIdBetweenTimestamps sorted
// by ts, with _id breaking ties so that keyset paging is exact. more is true
// exactly when another such message follows the page. Only keys of q.RoomID
// are read.
func (s *Store) MessagePage(ctx context.Context, q export.MessageQuery) ([]chat.Message, bool, error) {
	msgs, more, err := s.page(ctx, q, bucketMessages)
	if err != nil {
		return nil, false, fmt.Errorf("boltstore: message page %s: %w", q.RoomID, err)
	}
	return msgs, more, nil
}

// FileMessages is MessagePage restricted to the messages that carry files
// (file or files), read from the filemsgs index: the export's assets pass,
// which Rocket.Chat's export does by walking the messages again for their
// uploads, reads only those (a twentieth of a typical room).
func (s *Store) FileMessages(ctx context.Context, q export.MessageQuery) ([]chat.Message, bool, error) {
	msgs, more, err := s.page(ctx, q, bucketFileMsgs)
	if err != nil {
		return nil, false, fmt.Errorf("boltstore: file messages %s: %w", q.RoomID, err)
	}
	return msgs, more, nil
}

// firstPageCap is how many messages a page's slice holds before it first
// grows. A small export's page (a month of a quiet room, a room's few file
// messages) fits, where a slice of the whole limit — 500 messages, 136 KB
// zeroed — was allocated for every page, the biggest allocation of a small
// export.
const firstPageCap = 64

// pageGrowth is how many more messages a full page slice of n makes room
// for: firstPageCap at first (the whole limit when it is at most twice
// that), then the rest of the limit at once (one copy of firstPageCap
// messages for a full page), never more than 1024 at a time.
func pageGrowth(n, limit int) int {
	if n == 0 && limit > 2*firstPageCap {
		return firstPageCap
	}
	return min(limit-n, 1024)
}

// page reads one page of q from the keys of bucket: the messages bucket
// itself, or an index of it whose keys are message keys.
func (s *Store) page(ctx context.Context, q export.MessageQuery, bucket []byte) ([]chat.Message, bool, error) {
	if q.Limit <= 0 {
		return nil, false, fmt.Errorf("limit %d is not positive", q.Limit)
	}
	prefix := roomPrefix(q.RoomID)
	fromMs, toMs := ceilMillis(q.From), floorMillis(q.To)
	if prefix == nil || fromMs > toMs {
		return nil, false, ctx.Err()
	}
	var (
		msgs []chat.Message
		more bool
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		msgs, more = nil, false
		values := tx.Bucket(bucketMessages)
		index := !bytes.Equal(bucket, bucketMessages)
		read := meter{p: s.pages}
		defer read.flush()
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.Seek(rangeStart(prefix, fromMs, q.After)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if keyMillis(prefix, k) > toMs {
				break
			}
			if len(msgs) == q.Limit {
				more = true
				break
			}
			if index {
				read.add(lookupBytes)
				if v = values.Get(k); v == nil {
					continue // an index entry without its message: never written so
				}
			}
			if len(msgs) == cap(msgs) {
				msgs = slices.Grow(msgs, pageGrowth(len(msgs), q.Limit))
			}
			msgs = msgs[:len(msgs)+1] // a fresh, zero slot
			if err := decodeInto(v, &msgs[len(msgs)-1]); err != nil {
				return fmt.Errorf("decode message: %w", err)
			}
			read.add(len(k) + len(v))
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return msgs, more, nil
}

// CountMessages counts the room's visible messages with from <= ts <= to,
// exactly (the port allows an estimate), as Rocket.Chat's export counts the
// messages it will write: from the day counters for whole UTC days, and
// from the keys (never the values) in the partial days at the ends.
func (s *Store) CountMessages(ctx context.Context, rid string, from, to time.Time) (int64, error) {
	prefix := roomPrefix(rid)
	fromMs, toMs := ceilMillis(from), floorMillis(to)
	if prefix == nil || fromMs > toMs {
		return 0, ctx.Err()
	}
	var n int64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		read := meter{p: s.pages}
		defer read.flush()
		n = countRange(tx, prefix, fromMs, toMs, &read)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: count messages %s: %w", rid, err)
	}
	return n, nil
}

// MessagesByID returns the visible messages of the room among ids, each once,
// in (ts, _id) order; ids of other rooms, hidden copies and unknown ids are
// ignored, as Rocket.Chat's rooms.export (email with messages) filters by rid.
func (s *Store) MessagesByID(ctx context.Context, rid string, ids []string) ([]chat.Message, error) {
	prefix := roomPrefix(rid)
	if prefix == nil || len(ids) == 0 {
		return nil, ctx.Err()
	}
	type found struct {
		key []byte
		msg chat.Message
	}
	var out []found
	err := s.view(ctx, func(tx *bolt.Tx) error {
		out = nil
		read := meter{p: s.pages}
		defer read.flush()
		idx, msgs := tx.Bucket(bucketMsgIDs), tx.Bucket(bucketMessages)
		seen := make(map[string]bool, len(ids))
		for _, id := range ids {
			if seen[id] || id == "" {
				continue
			}
			seen[id] = true
			read.add(2 * lookupBytes) // the id, then the message
			k := idx.Get([]byte(id))
			if k == nil || !bytes.HasPrefix(k, prefix) {
				continue
			}
			v := msgs.Get(k)
			if v == nil { // hidden: the key lives in the hidden bucket
				continue
			}
			f := found{key: bytes.Clone(k)}
			if err := decodeMessage(v, &f.msg); err != nil {
				return fmt.Errorf("decode message: %w", err)
			}
			out = append(out, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: messages by id in %s: %w", rid, err)
	}
	// the keys of one room sort as (ts, _id)
	slices.SortFunc(out, func(a, b found) int { return bytes.Compare(a.key, b.key) })
	res := make([]chat.Message, len(out))
	for i, f := range out {
		res[i] = f.msg
	}
	return res, nil
}

// PutMessages upserts messages in one write transaction. ts is truncated to
// the millisecond and stored in UTC, as Rocket.Chat's MongoDB dates are. A
// re-put that changes ts, room or _hidden moves the message: exactly one copy
// remains, and the files index follows it.
func (s *Store) PutMessages(ctx context.Context, msgs []chat.Message) error {
	if len(msgs) == 0 {
		return ctx.Err()
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		visible, hidden, idx := tx.Bucket(bucketMessages), tx.Bucket(bucketHidden), tx.Bucket(bucketMsgIDs)
		files, counters := tx.Bucket(bucketFileMsgs), tx.Bucket(bucketMsgDays)
		deltas := dayDeltas{}
		// a room's messages come mostly in time order, appended at the end
		// of its range: full leaves instead of bbolt's half-full splits
		visible.FillPercent, hidden.FillPercent, files.FillPercent = appendFill, appendFill, appendFill
		read := meter{p: s.pages}
		defer read.flush()
		for _, m := range msgs {
			read.add(2 * lookupBytes) // a bulk load maps in the pages it changes, as reads do
			if err := checkKeyPart("message id", m.ID); err != nil {
				return err
			}
			if err := checkKeyPart("message rid", m.RoomID); err != nil {
				return fmt.Errorf("message %s: %w", m.ID, err)
			}
			ms := floorMillis(m.TS)
			m.TS = time.UnixMilli(ms).UTC()
			key := messageKey(m.RoomID, ms, m.ID)
			old := idx.Get([]byte(m.ID))
			// the day counters follow the visible copy: out of its old day,
			// into its new one
			if old != nil && visible.Get(old) != nil {
				if err := deltas.add(old, -1); err != nil {
					return fmt.Errorf("message %s: %w", m.ID, err)
				}
			}
			if !m.Hidden {
				if err := deltas.add(key, 1); err != nil {
					return fmt.Errorf("message %s: %w", m.ID, err)
				}
			}
			if old != nil && !bytes.Equal(old, key) {
				old = bytes.Clone(old)
				if err := visible.Delete(old); err != nil {
					return fmt.Errorf("message %s: %w", m.ID, err)
				}
				if err := hidden.Delete(old); err != nil {
					return fmt.Errorf("message %s: %w", m.ID, err)
				}
				if err := files.Delete(old); err != nil {
					return fmt.Errorf("message %s: %w", m.ID, err)
				}
			}
			dst, other := visible, hidden
			if m.Hidden {
				dst, other = hidden, visible
			}
			if err := other.Delete(key); err != nil {
				return fmt.Errorf("message %s: %w", m.ID, err)
			}
			v, err := encodeMessage(&m)
			if err != nil {
				return fmt.Errorf("message %s: %w", m.ID, err)
			}
			if err := dst.Put(key, v); err != nil {
				return fmt.Errorf("message %s: %w", m.ID, err)
			}
			if !m.Hidden && len(m.AllFiles()) > 0 {
				err = files.Put(key, nil)
			} else {
				err = files.Delete(key)
			}
			if err != nil {
				return fmt.Errorf("message %s: %w", m.ID, err)
			}
			if err := idx.Put([]byte(m.ID), key); err != nil {
				return fmt.Errorf("message %s: %w", m.ID, err)
			}
		}
		return deltas.apply(counters)
	})
	if err != nil {
		return fmt.Errorf("boltstore: put messages: %w", err)
	}
	return nil
}

// appendFill is the FillPercent of the buckets keyed by time.
const appendFill = 0.95

// buildFileIndex fills filemsgs from the visible messages: the first Open of
// a file written by a version without the index. JSON records that never
// mention a file are not decoded.
func buildFileIndex(tx *bolt.Tx, pages *pager) error {
	files := tx.Bucket(bucketFileMsgs)
	c := tx.Bucket(bucketMessages).Cursor()
	read := meter{p: pages}
	defer read.flush()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		has, err := valueHasFiles(v)
		if err != nil {
			return fmt.Errorf("index files: message key %q: %w", k, err)
		}
		if has {
			// k points into the map, which a release or the commit may drop
			if err := files.Put(bytes.Clone(k), nil); err != nil {
				return fmt.Errorf("index files: %w", err)
			}
		}
		read.add(len(k) + len(v))
	}
	return nil
}

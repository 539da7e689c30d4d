package boltstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// maxDecoded bounds how many records of one bucket a decodedRecords keeps.
const maxDecoded = 4096

// decodedRecords remembers the decoded form of directory records (users,
// tokens, permissions, rooms, subscriptions) next to the stored bytes they
// were decoded from. Every request decodes the same few — its token, user,
// the export permission, the room and the subscription — and JSON decoding
// them was a tenth of a small export's CPU. A remembered record is used
// only when the bytes the transaction reads are exactly the bytes it was
// decoded from, so it can never be stale, whoever wrote the file and
// however: nothing has to be invalidated. What it hands out is a copy, so
// a caller that changes a record's slices changes nothing here.
type decodedRecords struct {
	mu      sync.RWMutex
	buckets map[string]map[string]decoded // bucket name -> key -> record; guarded by mu
}

// decoded is one record: the stored bytes and what they decode to.
type decoded struct {
	raw []byte
	v   any
}

// lookup returns the record of bucket and key decoded from raw, if kept.
func (d *decodedRecords) lookup(bucket, key, raw []byte) (any, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	r, ok := d.buckets[string(bucket)][string(key)]
	if !ok || !bytes.Equal(r.raw, raw) {
		return nil, false
	}
	return r.v, true
}

// keep remembers v as the decoding of raw under bucket and key. When the
// bucket already holds maxDecoded records, one of them is dropped.
func (d *decodedRecords) keep(bucket, key, raw []byte, v any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.buckets == nil {
		d.buckets = map[string]map[string]decoded{}
	}
	m := d.buckets[string(bucket)]
	if m == nil {
		m = map[string]decoded{}
		d.buckets[string(bucket)] = m
	}
	if _, ok := m[string(key)]; !ok && len(m) >= maxDecoded {
		for k := range m { // any one: map order is unspecified
			delete(m, k)
			break
		}
	}
	m[string(key)] = decoded{raw: bytes.Clone(raw), v: v}
}

// getRecord decodes the JSON record under key in bucket b (named bucket)
// into a T, through d: found is false when there is no such key. clone
// copies a T deeply enough that the copy shares nothing mutable with it.
func getRecord[T any](d *decodedRecords, b *bolt.Bucket, bucket, key []byte, clone func(T) T) (v T, found bool, err error) {
	raw := b.Get(key)
	if raw == nil {
		return v, false, nil
	}
	if kept, ok := d.lookup(bucket, key, raw); ok {
		return clone(kept.(T)), true, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, true, fmt.Errorf("decode: %w", err)
	}
	d.keep(bucket, key, raw, clone(v))
	return v, true, nil
}

// The clones of the records decodedRecords keeps: their slices are the
// only parts a caller could change in place.

func cloneUser(u chat.User) chat.User {
	u.Emails, u.Roles = slices.Clone(u.Emails), slices.Clone(u.Roles)
	return u
}

func cloneRoom(r chat.Room) chat.Room {
	r.Usernames = slices.Clone(r.Usernames)
	return r
}

func cloneSubscription(s chat.Subscription) chat.Subscription {
	s.Roles = slices.Clone(s.Roles)
	return s
}

func clonePermission(p chat.Permission) chat.Permission {
	p.Roles = slices.Clone(p.Roles)
	return p
}

func cloneToken(t chat.Token) chat.Token { return t }

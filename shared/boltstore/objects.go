package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// bucketObjects holds the file store's small objects (localfs.SmallObjects):
// key -> 8 bytes of commit time (Unix nanoseconds, big-endian), then the
// object's bytes.
var bucketObjects = []byte("objects")

// PutObject queues a small object of the file store for the database's
// next commit and returns without starting one (Store.hold): the object is
// durable once a write made after this call (a job's save) has returned —
// it commits with that write or before it — or when the Store is closed.
// Object, HasObject and DeleteObject of the key commit it first, so a
// reader never misses an object whose Commit returned. It replaces an
// object of the same key. data is copied.
//
// Why not wait: the export that wrote the object saves its job right after,
// and the answer waits for that save; one commit makes both durable where
// a file costs an inode, a rename and two syncs of the file system
// (localfs), most of a small export's time on a busy server.
func (s *Store) PutObject(key string, data []byte, modTime time.Time) {
	v := make([]byte, 8+len(data))
	binary.BigEndian.PutUint64(v, uint64(modTime.UnixNano()))
	copy(v[8:], data)
	committed := make(chan struct{})
	s.objects.add(key, committed)
	s.hold(committed, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketObjects).Put([]byte(key), v)
	})
}

// Object returns a small object's bytes and when it was put; the error
// wraps chat.ErrNotFound when the database has none under key.
func (s *Store) Object(ctx context.Context, key string) ([]byte, time.Time, error) {
	s.objects.wait(s, key)
	var data []byte
	var mod time.Time
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketObjects).Get([]byte(key))
		if len(v) < 8 {
			return chat.ErrNotFound // none (a shorter value is never written)
		}
		mod = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
		data = append([]byte(nil), v[8:]...)
		return nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("boltstore: object %s: %w", key, err)
	}
	return data, mod, nil
}

// HasObject reports whether the database holds a small object under key.
func (s *Store) HasObject(ctx context.Context, key string) (bool, error) {
	s.objects.wait(s, key)
	var found bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketObjects).Get([]byte(key)) != nil
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("boltstore: object %s: %w", key, err)
	}
	return found, nil
}

// DeleteObject removes a small object, durably; a missing one is not an
// error.
func (s *Store) DeleteObject(ctx context.Context, key string) error {
	s.objects.wait(s, key)
	err := s.batch(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketObjects).Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("boltstore: delete object %s: %w", key, err)
	}
	return nil
}

// putting tracks the objects PutObject has queued whose commit has not
// ended, so that reads of them wait for it.
type putting struct {
	mu    sync.Mutex
	byKey pending // key -> closed when its newest put's commit ends
}

func (p *putting) add(key string, committed <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byKey.set(key, committed)
}

// waitPrefix is wait for every key under prefix.
func (p *putting) waitPrefix(s *Store, prefix string) {
	var pending []<-chan struct{}
	p.mu.Lock()
	for k, ch := range p.byKey {
		if strings.HasPrefix(k, prefix) && !closed(ch) {
			pending = append(pending, ch)
		}
	}
	p.mu.Unlock()
	if len(pending) > 0 {
		s.writes.flush()
	}
	for _, ch := range pending {
		<-ch
	}
}

// wait returns once the commit of key's newest put, if any is pending,
// has ended; it starts one when the put is still held.
func (p *putting) wait(s *Store, key string) {
	p.mu.Lock()
	ch := p.byKey[key]
	p.mu.Unlock()
	awaitCommit(s, ch)
}

// ObjectKeys lists the keys of the small objects under prefix, in order.
func (s *Store) ObjectKeys(ctx context.Context, prefix string) ([]string, error) {
	s.objects.waitPrefix(s, prefix) // a listing after Commit shows the object
	var keys []string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketObjects).Cursor()
		for k, _ := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, _ = c.Next() {
			keys = append(keys, string(k))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: object keys %s: %w", prefix, err)
	}
	return keys, nil
}

package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// TestSmallObjects: an object put is read back (waiting for its commit),
// replaced, found by HasObject, deleted; and it is durable once a write
// made after the put has returned — here the Store's Close — so it is
// there when the file is opened again.
func TestSmallObjects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rooms.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	at := time.Date(2024, 6, 1, 10, 0, 0, 123, time.UTC)
	data := []byte("PK\x03\x04 a small archive")
	s.PutObject("exports/a/a.zip", data, at)
	data[0] = 'X' // PutObject copied it
	got, mod, err := s.Object(ctx, "exports/a/a.zip")
	if err != nil || string(got) != "PK\x03\x04 a small archive" || !mod.Equal(at) {
		t.Fatalf("Object = %q, %v, %v; want the bytes put at %v", got, mod, err, at)
	}
	s.PutObject("exports/a/a.zip", []byte("newer"), at.Add(time.Second))
	if got, _, err := s.Object(ctx, "exports/a/a.zip"); err != nil || string(got) != "newer" {
		t.Fatalf("Object after a second put = %q, %v; want the newer bytes", got, err)
	}
	if _, _, err := s.Object(ctx, "exports/b/b.zip"); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("Object of a missing key: %v, want ErrNotFound", err)
	}
	s.PutObject("exports/e/empty.zip", nil, at)
	if got, _, err := s.Object(ctx, "exports/e/empty.zip"); err != nil || len(got) != 0 {
		t.Fatalf("empty object = %q, %v", got, err)
	}
	if err := s.DeleteObject(ctx, "exports/e/empty.zip"); err != nil {
		t.Fatal(err)
	}
	if found, err := s.HasObject(ctx, "exports/e/empty.zip"); err != nil || found {
		t.Fatalf("HasObject after DeleteObject = %v, %v", found, err)
	}
	if err := s.DeleteObject(ctx, "exports/none"); err != nil {
		t.Fatalf("DeleteObject of a missing key: %v", err)
	}

	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<10) // 64 KiB: overflow pages
	s.PutObject("exports/c/c.zip", big, at)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for key, want := range map[string][]byte{"exports/a/a.zip": []byte("newer"), "exports/c/c.zip": big} {
		got, _, err := s.Object(ctx, key)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("after reopening, %s holds %d bytes (%v), want %d", key, len(got), err, len(want))
		}
	}
}

// TestSmallObjectCommittedBeforeLaterWrite: once a write made after a put
// has returned, the put is committed — read straight from the file, without
// Object's wait for it.
func TestSmallObjectCommittedBeforeLaterWrite(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	for i := range 50 {
		key := fmt.Sprintf("exports/k%d/x.zip", i)
		s.PutObject(key, []byte{byte(i)}, time.Unix(int64(i), 0))
		if err := s.DeleteObject(ctx, "exports/other"); err != nil {
			t.Fatal(err)
		}
		var v []byte
		if err := s.db.View(func(tx *bolt.Tx) error {
			v = append(v, tx.Bucket(bucketObjects).Get([]byte(key))...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(v) != 9 || v[8] != byte(i) {
			t.Fatalf("put %d: the database holds %v after a later write returned", i, v)
		}
	}
}

// TestSmallObjectRidesOnNextWrite: a put starts no commit of its own; the
// write that follows commits both at once (an export's archive and its
// job's save: one commit, one pair of fdatasyncs).
func TestSmallObjectRidesOnNextWrite(t *testing.T) {
	s := openTemp(t)
	before := s.Commits()
	s.PutObject("exports/a/a.zip", []byte("archive"), time.Unix(1, 0))
	if got := s.Commits() - before; got != 0 {
		t.Fatalf("PutObject alone made %d commits, want 0", got)
	}
	if err := s.DeleteObject(t.Context(), "exports/other"); err != nil {
		t.Fatal(err)
	}
	if got := s.Commits() - before; got != 1 {
		t.Fatalf("PutObject and the write after it made %d commits, want 1", got)
	}
	if found, err := s.HasObject(t.Context(), "exports/a/a.zip"); err != nil || !found {
		t.Fatalf("HasObject = %v, %v", found, err)
	}
}

// TestObjectKeys lists the objects under a prefix, a held put among them.
func TestObjectKeys(t *testing.T) {
	s := openTemp(t)
	for _, k := range []string{"exports/a/1.zip", "exports/b/1.zip", "exports/a/2.zip", "exports/ab/1.zip"} {
		s.PutObject(k, []byte(k), time.Unix(1, 0))
	}
	got, err := s.ObjectKeys(t.Context(), "exports/a/")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"exports/a/1.zip", "exports/a/2.zip"}; !slices.Equal(got, want) {
		t.Fatalf("ObjectKeys = %v, want %v", got, want)
	}
}

// TestHeldWritesCommitAtTheBound: writes held with no write after them
// (counted calls that fail later) are committed once maxHeld have queued.
func TestHeldWritesCommitAtTheBound(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	before := s.Commits()
	for i := range maxHeld - 1 {
		if _, err := s.Allow(ctx, fmt.Sprintf("user%d", i), 10, time.Minute, at); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Commits() - before; got != 0 {
		t.Fatalf("%d commits for %d held writes, want none yet", got, maxHeld-1)
	}
	if _, err := s.Allow(ctx, "one more", 10, time.Minute, at); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Commits() == before {
		if time.Now().After(deadline) {
			t.Fatalf("%d held writes not committed", maxHeld)
		}
		time.Sleep(time.Millisecond)
	}
	s.writes.drain()
	if n := bucketLen(t, s, bucketRateCounts); n != maxHeld {
		t.Fatalf("%d counters committed, want %d", n, maxHeld)
	}
}

package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/storetest"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

var (
	_ export.Directory    = (*Store)(nil)
	_ export.MessageStore = (*Store)(nil)
	_ export.JobStore     = (*Store)(nil)
	_ export.RateLimiter  = (*Store)(nil)
	_ workspace.Sink      = (*Store)(nil)
	_ storetest.Store     = (*Store)(nil)
)

// openTemp opens a fresh store in the test's temporary directory.
func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "data", "rooms.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openTemp(t) })
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "rooms.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("file mode = %v, want 0600", mode)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatalf("stat dir: %v", err)
	}
	if mode := di.Mode().Perm(); mode&0o077 != 0 {
		t.Errorf("directory mode = %v, want no access for group and others", mode)
	}
}

func TestOpenLockedFileFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rooms.db")
	first, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer first.Close()
	// flock locks belong to the open file, so a second open in this
	// process waits exactly as another process would
	second, err := OpenWith(path, Options{LockTimeout: 200 * time.Millisecond})
	if err == nil {
		second.Close()
		t.Fatalf("second Open of a locked file succeeded")
	}
	if !errors.Is(err, bolterrors.ErrTimeout) || !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("second Open error = %v, want a lock timeout that says so", err)
	}
}

func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rooms.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not bolt"), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(path); err == nil {
		s.Close()
		t.Fatalf("Open of a non-database file succeeded")
	} else if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "rooms.db")
	// a bulk load: no fsync per commit, one Sync at the end
	s, err := OpenWith(path, Options{NoSync: true, NoFreelistSync: true})
	if err != nil {
		t.Fatalf("OpenWith: %v", err)
	}
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var msgs []chat.Message
	for i := range 500 {
		msgs = append(msgs, chat.Message{ID: fmt.Sprintf("m%04d", i), RoomID: "r1", TS: ts.Add(time.Duration(i) * time.Second), Msg: "x"})
	}
	if err := s.PutMessages(ctx, msgs); err != nil {
		t.Fatalf("PutMessages: %v", err)
	}
	if err := s.PutUsers(ctx, []chat.User{{ID: "u1", Username: "alice"}}); err != nil {
		t.Fatalf("PutUsers: %v", err)
	}
	if err := s.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	n, err := s.CountMessages(ctx, "r1", ts, ts.Add(time.Hour))
	if err != nil || n != 500 {
		t.Errorf("CountMessages after reopen = %d, %v; want 500", n, err)
	}
	if u, err := s.UserByUsername(ctx, "alice"); err != nil || u.ID != "u1" {
		t.Errorf("UserByUsername after reopen = %+v, %v", u, err)
	}
}

// bucketLen counts the keys of a bucket.
func bucketLen(t *testing.T, s *Store, name []byte) int {
	t.Helper()
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(name).ForEach(func(_, _ []byte) error { n++; return nil })
	})
	if err != nil {
		t.Fatalf("count %s: %v", name, err)
	}
	return n
}

func TestRateCountersOfEndedWindowsAreDropped(t *testing.T) {
	s, ctx := openTemp(t), t.Context()
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100 {
		if _, err := s.Allow(ctx, fmt.Sprintf("user%d", i), 10, time.Minute, start); err != nil {
			t.Fatal(err)
		}
	}
	s.writes.drain() // the counts are held for the next write (Store.hold): commit them
	if n := bucketLen(t, s, bucketRateCounts); n != 100 {
		t.Fatalf("counters = %d, want 100", n)
	}
	// later calls delete ended counters, a bounded number at a time
	later := start.Add(time.Hour)
	for range 2 {
		if _, err := s.Allow(ctx, "someone", 10, time.Minute, later); err != nil {
			t.Fatal(err)
		}
	}
	s.writes.drain()
	if n := bucketLen(t, s, bucketRateCounts); n != 1 {
		t.Errorf("counters after the windows ended = %d, want only the live one", n)
	}
	if n := bucketLen(t, s, bucketRateExpiry); n != 1 {
		t.Errorf("expiry entries after the windows ended = %d, want 1", n)
	}
	// the live counter survives sweeps
	d, err := s.Allow(ctx, "someone", 10, time.Minute, later.Add(time.Second))
	if err != nil || d.Remaining != 7 {
		t.Errorf("live counter after a sweep: %+v, %v; want Remaining 7", d, err)
	}
}

func TestHiddenCopiesStayOutOfTheMessageBucket(t *testing.T) {
	s, ctx := openTemp(t), t.Context()
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	err := s.PutMessages(ctx, []chat.Message{
		{ID: "a", RoomID: "r", TS: ts}, {ID: "b", RoomID: "r", TS: ts, Hidden: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, h, i := bucketLen(t, s, bucketMessages), bucketLen(t, s, bucketHidden), bucketLen(t, s, bucketMsgIDs); v != 1 || h != 1 || i != 2 {
		t.Errorf("visible, hidden, ids = %d, %d, %d; want 1, 1, 2", v, h, i)
	}
}

func TestActiveIndexHoldsOnlyActiveJobs(t *testing.T) {
	s, ctx := openTemp(t), t.Context()
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	j := chat.Job{ID: "j1", OwnerID: "u1", DedupKey: "k", Status: chat.JobQueued, CreatedAt: at, UpdatedAt: at}
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	s.writes.drain() // the creation is held for the next write (Store.hold): commit it
	if n := bucketLen(t, s, bucketActiveJobs); n != 1 {
		t.Fatalf("active index = %d entries, want 1", n)
	}
	done := j
	done.Status, done.UpdatedAt = chat.JobDone, at.Add(time.Second)
	if err := s.UpdateJob(ctx, done, j.UpdatedAt); err != nil {
		t.Fatal(err)
	}
	if n := bucketLen(t, s, bucketActiveJobs); n != 0 {
		t.Errorf("active index after the job ended = %d entries, want 0", n)
	}
}

func TestRejectsRecordsThatCannotBeKeyed(t *testing.T) {
	s, ctx := openTemp(t), t.Context()
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]error{
		"message without id":       s.PutMessages(ctx, []chat.Message{{RoomID: "r", TS: ts}}),
		"message without room":     s.PutMessages(ctx, []chat.Message{{ID: "m", TS: ts}}),
		"message id with NUL":      s.PutMessages(ctx, []chat.Message{{ID: "m\x00", RoomID: "r", TS: ts}}),
		"room id with NUL":         s.PutMessages(ctx, []chat.Message{{ID: "m", RoomID: "r\x00x", TS: ts}}),
		"user without id":          s.PutUsers(ctx, []chat.User{{Username: "x"}}),
		"token without hash":       s.PutTokens(ctx, []chat.Token{{UserID: "u"}}),
		"permission without id":    s.PutPermissions(ctx, []chat.Permission{{Roles: []string{"admin"}}}),
		"room without id":          s.PutRooms(ctx, []chat.Room{{Name: "x"}}),
		"subscription without uid": s.PutSubscriptions(ctx, []chat.Subscription{{RoomID: "r"}}),
		"upload without id":        s.PutUploads(ctx, []chat.Upload{{Name: "x"}}),
		"job without id":           s.CreateJob(ctx, chat.Job{OwnerID: "u"}),
		"job without owner":        s.CreateJob(ctx, chat.Job{ID: "j"}),
	}
	for name, err := range cases {
		if err == nil || !strings.HasPrefix(err.Error(), "boltstore: ") {
			t.Errorf("%s: error = %v, want a boltstore error", name, err)
		}
	}
	// a refused batch leaves nothing behind: one transaction per call
	err := s.PutMessages(ctx, []chat.Message{{ID: "ok", RoomID: "r", TS: ts}, {ID: "", RoomID: "r", TS: ts}})
	if err == nil {
		t.Fatal("PutMessages with a bad record succeeded")
	}
	if got, _ := s.MessagesByID(ctx, "r", []string{"ok"}); len(got) != 0 {
		t.Errorf("a refused batch stored %d messages", len(got))
	}
}

func TestBadArguments(t *testing.T) {
	s, ctx := openTemp(t), t.Context()
	if _, _, err := s.MessagePage(ctx, export.MessageQuery{RoomID: "r", To: time.Now(), Limit: 0}); err == nil {
		t.Error("MessagePage with Limit 0 succeeded")
	}
	if _, err := s.Allow(ctx, "k", 1, 0, time.Now()); err == nil {
		t.Error("Allow with a zero window succeeded")
	}
	d, err := s.Allow(ctx, "k", 0, time.Minute, time.Now())
	if err != nil || d.Allowed || d.Remaining != 0 {
		t.Errorf("Allow with limit 0 = %+v, %v; want refused", d, err)
	}
}

func TestCanceledContext(t *testing.T) {
	s := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Room(ctx, "r"); !errors.Is(err, context.Canceled) {
		t.Errorf("Room with a canceled context: %v", err)
	}
	if err := s.PutRooms(ctx, []chat.Room{{ID: "r"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("PutRooms with a canceled context: %v", err)
	}
	if _, err := s.Room(t.Context(), "r"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("a canceled put stored the room: %v", err)
	}
}

func TestKeyEncodingsSortAsTime(t *testing.T) {
	times := []time.Time{
		{}, // the zero time, before the epoch
		time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, 0),
		time.Unix(0, 1),
		time.Unix(0, int64(time.Millisecond)),
		time.Date(2024, 3, 10, 12, 0, 0, 999_999_999, time.UTC),
		time.Date(2024, 3, 10, 12, 0, 1, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		a, b := times[i-1], times[i]
		if ka, kb := appendInstant(nil, a), appendInstant(nil, b); bytes.Compare(ka, kb) >= 0 {
			t.Errorf("instant key of %v does not sort before %v", a, b)
		}
		if ka, kb := appendMillis(nil, floorMillis(a)), appendMillis(nil, floorMillis(b)); bytes.Compare(ka, kb) > 0 {
			t.Errorf("millisecond key of %v sorts after %v", a, b)
		}
		if got := decodeInstant(appendInstant(nil, b)); !got.Equal(b) {
			t.Errorf("instant %v decodes as %v", b, got)
		}
		if got := decodeMillis(appendMillis(nil, floorMillis(b))); got != floorMillis(b) {
			t.Errorf("millis %d decodes as %d", floorMillis(b), got)
		}
	}
	if c, f := ceilMillis(time.Unix(0, 1)), floorMillis(time.Unix(0, 1)); c != 1 || f != 0 {
		t.Errorf("ceil, floor of 1ns = %d, %d; want 1, 0", c, f)
	}
	if c, f := ceilMillis(time.Unix(0, -1)), floorMillis(time.Unix(0, -1)); c != 0 || f != -1 {
		t.Errorf("ceil, floor of -1ns = %d, %d; want 0, -1", c, f)
	}
}

func BenchmarkMessagePage(b *testing.B) {
	s, ctx := openTemp(b), b.Context()
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	msgs := make([]chat.Message, 0, 10000)
	for i := range cap(msgs) {
		msgs = append(msgs, chat.Message{ID: fmt.Sprintf("m%06d", i), RoomID: "r1", TS: ts.Add(time.Duration(i) * time.Second),
			Msg: "hello world", U: chat.UserRef{ID: "u1", Username: "alice"}})
	}
	if err := s.PutMessages(ctx, msgs); err != nil {
		b.Fatal(err)
	}
	q := export.MessageQuery{RoomID: "r1", From: ts, To: ts.Add(24 * time.Hour), Limit: 500}
	for b.Loop() {
		q.After = export.Cursor{}
		for {
			page, more, err := s.MessagePage(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			if !more {
				break
			}
			last := page[len(page)-1]
			q.After = export.Cursor{TS: last.TS, ID: last.ID}
		}
	}
}

// BenchmarkPutMessages loads batches of 1000 messages the way a bulk load
// does (NoSync, one Sync at the end); ns/op is per batch.
func BenchmarkPutMessages(b *testing.B) {
	s, err := OpenWith(filepath.Join(b.TempDir(), "rooms.db"), Options{NoSync: true, NoFreelistSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]chat.Message, 1000)
	n := 0
	for b.Loop() {
		for i := range batch {
			batch[i] = chat.Message{ID: fmt.Sprintf("m%09d", n), RoomID: fmt.Sprintf("r%d", n%10), TS: ts.Add(time.Duration(n) * time.Second),
				Msg: "hello world, this is a message of ordinary length", U: chat.UserRef{ID: "u1", Username: "alice"}}
			n++
		}
		if err := s.PutMessages(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Sync(); err != nil {
		b.Fatal(err)
	}
}

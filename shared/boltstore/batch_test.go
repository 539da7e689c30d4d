package boltstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// openBatching opens a store whose batched writes wait long enough for
// every goroutine of a test to join one batch.
func openBatching(t *testing.T) *Store {
	t.Helper()
	s, err := OpenWith(filepath.Join(t.TempDir(), "rooms.db"), Options{BatchDelay: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// lastTxID is the id of the last committed write transaction.
func lastTxID(t *testing.T, s *Store) int {
	t.Helper()
	var id int
	if err := s.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

// together runs n calls of f at once and collects their errors.
func together(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// TestConcurrentAllowCountsExactly: calls that share commits are still
// counted one by one, each refused call is not counted, and many calls
// cost fewer commits than calls.
func TestConcurrentAllowCountsExactly(t *testing.T) {
	s, ctx := openBatching(t), t.Context()
	now := time.Date(2024, 1, 1, 0, 0, 30, 0, time.UTC)
	const calls, limit = 40, 25
	before := lastTxID(t, s)
	decisions := make([]export.RateDecision, calls)
	errs := together(calls, func(i int) (err error) {
		decisions[i], err = s.Allow(ctx, "user1", limit, time.Minute, now)
		return err
	})
	commits := lastTxID(t, s) - before
	allowed := map[int]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Allow: %v", err)
		}
		d := decisions[i]
		if d.Allowed {
			if allowed[d.Remaining] {
				t.Errorf("two calls allowed with %d remaining", d.Remaining)
			}
			allowed[d.Remaining] = true
		} else if d.Remaining != 0 {
			t.Errorf("a refused call has %d remaining", d.Remaining)
		}
	}
	if len(allowed) != limit {
		t.Errorf("%d calls allowed, want %d", len(allowed), limit)
	}
	if commits >= calls {
		t.Errorf("%d concurrent calls took %d commits; batching should share them", calls, commits)
	}
	t.Logf("%d concurrent Allow calls, %d commits", calls, commits)
	d, err := s.Allow(ctx, "user1", limit, time.Minute, now)
	if err != nil || d.Allowed {
		t.Errorf("a call after the limit: %+v, %v", d, err)
	}
}

// TestConcurrentJobWritesKeepTheirErrors: in a shared commit, the one
// UpdateJob that holds the right UpdatedAt wins and every other gets
// chat.ErrConflict; creating one id many times stores it once; updating
// an unknown job is chat.ErrNotFound — errors that make bbolt run the call
// again on its own, and that must come back unchanged.
func TestConcurrentJobWritesKeepTheirErrors(t *testing.T) {
	s, ctx := openBatching(t), t.Context()
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	job := chat.Job{ID: "j1", OwnerID: "u1", DedupKey: "k", Status: chat.JobQueued, CreatedAt: at, UpdatedAt: at}

	const n = 12
	errs := together(n, func(int) error { return s.CreateJob(ctx, job) })
	if ok, conflicts := countErrs(errs, chat.ErrConflict); ok != 1 || conflicts != n-1 {
		t.Fatalf("concurrent CreateJob of one id: %d stored, %d conflicts, errors %v; want 1 and %d", ok, conflicts, errs, n-1)
	}

	errs = together(n, func(i int) error {
		if i == 0 {
			missing := job
			missing.ID = "nope"
			if err := s.UpdateJob(ctx, missing, at); !errors.Is(err, chat.ErrNotFound) {
				return fmt.Errorf("update of a missing job: %w", err)
			}
			return nil
		}
		next := job
		next.Status, next.Exported, next.UpdatedAt = chat.JobRunning, int64(i), at.Add(time.Duration(i)*time.Second)
		return s.UpdateJob(ctx, next, at)
	})
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	ok, conflicts := countErrs(errs[1:], chat.ErrConflict)
	if ok != 1 || conflicts != n-2 {
		t.Fatalf("concurrent UpdateJob from one version: %d won, %d conflicts, errors %v; want 1 and %d", ok, conflicts, errs, n-2)
	}
	got, err := s.Job(ctx, "j1")
	if err != nil {
		t.Fatal(err)
	}
	winner := 0
	for i, err := range errs[1:] {
		if err == nil {
			winner = i + 1
		}
	}
	if got.Exported != int64(winner) || !got.UpdatedAt.Equal(at.Add(time.Duration(winner)*time.Second)) {
		t.Errorf("stored job %+v is not the winner's (%d)", got, winner)
	}
	if active, err := s.ActiveJob(ctx, "u1", "k"); err != nil || active.Exported != int64(winner) {
		t.Errorf("ActiveJob = %+v, %v; want the winner's version", active, err)
	}
}

// countErrs counts nil errors and errors matching target.
func countErrs(errs []error, target error) (ok, matching int) {
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, target):
			matching++
		}
	}
	return ok, matching
}

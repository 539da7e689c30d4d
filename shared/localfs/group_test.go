package localfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// sharedStore is a store whose shared sync is syncAll (the real one stays
// out of the way: these tests are about who waits for which sync).
func sharedStore(t *testing.T, syncAll func() error) *Store {
	t.Helper()
	s, err := New(t.TempDir(), testSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	s.syncAll = syncAll
	s.shared = &syncGroup{sync: func() error {
		s.syncs.Add(1)
		return s.syncAll()
	}}
	return s
}

// waitFor polls cond until it holds, failing the test after a generous time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestConcurrentCommitsShareSyncs: Commits that need a sync while one runs
// all wait for the next, which one of them makes for all — and none of them
// is answered by the sync that was already under way, which may have
// started before its bytes were written.
func TestConcurrentCommitsShareSyncs(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	s := sharedStore(t, func() error {
		if calls.Add(1) == 1 {
			<-release // the first sync is slow: the others queue behind it
		}
		return nil
	})
	ctx := t.Context()
	commit := func(key string) error {
		w, err := s.Create(ctx, key, export.ObjectInfo{})
		if err != nil {
			return err
		}
		io.WriteString(w, "archive "+key)
		return w.Commit()
	}
	const others = 5
	errs := make(chan error, others+1)
	go func() { errs <- commit("exports/first/a.zip") }()
	waitFor(t, "the first Commit syncs", func() bool { return calls.Load() == 1 })
	for i := range others {
		go func() { errs <- commit(fmt.Sprintf("exports/j%d/a.zip", i)) }()
	}
	waitFor(t, "the other Commits wait for the next sync", func() bool {
		s.shared.mu.Lock()
		defer s.shared.mu.Unlock()
		return s.shared.next != nil && s.shared.next.n == others
	})
	if _, err := os.Stat(s.path("exports/first/a.zip")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the first object is in place before its bytes' sync returned: %v", err)
	}
	close(release)
	for range others + 1 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Unshared: 2 syncs for each of the 6 Commits. Shared: the first's
	// bytes, the 5 others' bytes in one, and at most 6 for the names.
	if n := s.Syncs(); n < 3 || n > 2+others+1 {
		t.Errorf("%d syncs for %d Commits, want 3 to %d", n, others+1, 2+others+1)
	}
	for i := range others {
		if _, err := os.Stat(s.path(fmt.Sprintf("exports/j%d/a.zip", i))); err != nil {
			t.Errorf("object %d: %v", i, err)
		}
	}
}

// TestFailedSharedSync: a failed sync fails every Commit that waited for
// it. Before the rename nothing is left behind; after it the object is in
// place (whole) but the Commit still fails, since a crash may lose it.
func TestFailedSharedSync(t *testing.T) {
	boom := errors.New("disk on fire")
	var calls atomic.Int64
	var failOn atomic.Int64
	s := sharedStore(t, func() error {
		if calls.Add(1) == failOn.Load() {
			return boom
		}
		return nil
	})
	ctx := t.Context()
	failOn.Store(1)
	w, err := s.Create(ctx, "exports/a/x.zip", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "x")
	if err := w.Commit(); !errors.Is(err, boom) {
		t.Fatalf("Commit with a failing first sync = %v, want it to wrap the sync's error", err)
	}
	if _, err := s.Open(ctx, "exports/a/x.zip"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("Open after a failed sync of the bytes = %v, want ErrNotFound", err)
	}
	if left, _ := os.ReadDir(filepath.Join(s.dir, tmpDir)); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	calls.Store(0)
	failOn.Store(2)
	w, err = s.Create(ctx, "exports/b/y.zip", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "y")
	if err := w.Commit(); !errors.Is(err, boom) {
		t.Fatalf("Commit with a failing sync of the name = %v, want it to wrap the sync's error", err)
	}
	if got, err := os.ReadFile(s.path("exports/b/y.zip")); err != nil || string(got) != "y" {
		t.Errorf("object after a failed sync of its name: %q, %v; want it whole in place", got, err)
	}
}

// TestSyncGroupRounds drives the group alone: callers that arrive while a
// sync runs share the next one, each gets the error of the sync that
// covered it, and the group is idle again afterwards.
func TestSyncGroupRounds(t *testing.T) {
	started := make(chan int, 10)
	proceed := make(chan error)
	round := 0
	g := &syncGroup{sync: func() error {
		round++
		started <- round
		return <-proceed
	}}
	var wg sync.WaitGroup
	results := make([]error, 4)
	wg.Add(1)
	go func() { defer wg.Done(); results[0] = g.wait() }()
	if r := <-started; r != 1 {
		t.Fatalf("first sync is round %d", r)
	}
	for i := 1; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = g.wait() }()
	}
	waitFor(t, "three callers wait for round 2", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.next != nil && g.next.n == 3
	})
	second := errors.New("round 2 failed")
	proceed <- nil
	if r := <-started; r != 2 {
		t.Fatalf("second sync is round %d", r)
	}
	proceed <- second
	wg.Wait()
	if results[0] != nil {
		t.Errorf("caller of round 1 got %v", results[0])
	}
	for i := 1; i < 4; i++ {
		if results[i] != second {
			t.Errorf("caller %d of round 2 got %v, want its error", i, results[i])
		}
	}
	if g.busy || g.next != nil || round != 2 {
		t.Errorf("after the rounds: busy %v, next %v, %d syncs; want idle after 2", g.busy, g.next, round)
	}
}

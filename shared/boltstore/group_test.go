package boltstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// TestGroupCommitNeedsNoDelay: with the default Options (no batch delay),
// calls that arrive while a commit runs share the next one, and every
// job's creation is seen by its own reads and update.
func TestGroupCommitNeedsNoDelay(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "rooms.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 64
	before := s.Commits()
	errs := together(n, func(i int) error {
		job := chat.Job{ID: fmt.Sprintf("j%d", i), OwnerID: "u1", DedupKey: fmt.Sprint(i), Status: chat.JobRunning, CreatedAt: at, UpdatedAt: at}
		if err := s.CreateJob(ctx, job); err != nil {
			return err
		}
		if got, err := s.ActiveJob(ctx, "u1", job.DedupKey); err != nil || got.ID != job.ID {
			return fmt.Errorf("active job %s right after CreateJob: %+v, %v", job.ID, got, err)
		}
		prev := job.UpdatedAt
		job.Status, job.UpdatedAt = chat.JobDone, at.Add(time.Second)
		if err := s.UpdateJob(ctx, job, prev); err != nil {
			return err
		}
		if got, err := s.Job(ctx, job.ID); err != nil || got.Status != chat.JobDone {
			return fmt.Errorf("job %s after UpdateJob: %+v, %v", job.ID, got, err)
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c := s.Commits() - before; c >= 2*n {
		t.Errorf("%d writes took %d commits; concurrent ones should share", 2*n, c)
	} else {
		t.Logf("%d writes, %d commits", 2*n, c)
	}
}

// TestCreateJobDoesNotWaitForTheCommitUnderWay: while another write's
// commit is under way, CreateJob returns at once, checks ids against the
// jobs it handed over, and Job waits for the job's commit.
func TestCreateJobDoesNotWaitForTheCommitUnderWay(t *testing.T) {
	s, ctx := openTemp(t), t.Context()
	release, running := make(chan struct{}), make(chan struct{})
	var once sync.Once
	go s.batch(ctx, func(*bolt.Tx) error {
		once.Do(func() { close(running) })
		<-release
		return nil
	})
	<-running
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	job := chat.Job{ID: "j1", OwnerID: "u1", DedupKey: "k", Status: chat.JobRunning, CreatedAt: at, UpdatedAt: at}
	created := make(chan error, 1)
	go func() { created <- s.CreateJob(ctx, job) }()
	select {
	case err := <-created:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("CreateJob waited for the commit under way")
	}
	if err := s.CreateJob(ctx, job); !errors.Is(err, chat.ErrConflict) {
		t.Errorf("second CreateJob of a handed-over id: %v, want a conflict", err)
	}
	if n := bucketLen(t, s, bucketJobs); n != 0 {
		t.Errorf("%d jobs committed while the commit before them is blocked", n)
	}
	read := make(chan error, 1)
	go func() { _, err := s.Job(ctx, "j1"); read <- err }()
	close(release)
	if err := <-read; err != nil {
		t.Errorf("Job after the commits: %v", err)
	}
	if n := bucketLen(t, s, bucketJobs); n != 1 {
		t.Errorf("%d jobs committed, want 1", n)
	}
}

// TestBatchedPanicRunsAlone: a write that panics inside a shared
// transaction does not take the others down; it panics in its own caller.
func TestBatchedPanicRunsAlone(t *testing.T) {
	s := openBatching(t)
	ctx := t.Context()
	panicked := make(chan any, 1)
	errs := together(8, func(i int) error {
		if i == 3 {
			defer func() { panicked <- recover() }()
			return s.batch(ctx, func(*bolt.Tx) error { panic("boom") })
		}
		return s.batch(ctx, func(tx *bolt.Tx) error {
			return tx.Bucket(bucketJobs).Put([]byte(fmt.Sprintf("k%d", i)), []byte("v"))
		})
	})
	for i, err := range errs {
		if i != 3 && err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if p := <-panicked; p == nil || !strings.Contains(fmt.Sprint(p), "boom") {
		t.Errorf("the panicking call recovered %v", p)
	}
	s.db.View(func(tx *bolt.Tx) error {
		for i := range 8 {
			if i != 3 && tx.Bucket(bucketJobs).Get([]byte(fmt.Sprintf("k%d", i))) == nil {
				t.Errorf("write %d lost", i)
			}
		}
		return nil
	})
}

// TestCloseWaitsForHandedOverJobs: a job CreateJob returned for is in the
// file after Close.
func TestCloseWaitsForHandedOverJobs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rooms.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	errs := together(16, func(i int) error {
		return s.CreateJob(ctx, chat.Job{ID: fmt.Sprintf("j%d", i), OwnerID: "u", Status: chat.JobQueued, CreatedAt: at, UpdatedAt: at})
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := bucketLen(t, s, bucketJobs); n != 16 {
		t.Errorf("%d jobs after Close and Open, want 16", n)
	}
}

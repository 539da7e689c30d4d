package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// activePrefix is ownerId \x00 dedupKey \x00: the index range of one
// owner's active jobs with one dedup key.
func activePrefix(ownerID, dedupKey string) []byte {
	return joinKey(instantLen, ownerID, dedupKey, "")
}

// activeKey is the index entry of an active job: its prefix, createdAt and
// id, so the newest job is the last key of the range.
func activeKey(j chat.Job) []byte {
	k := appendInstant(activePrefix(j.OwnerID, j.DedupKey), j.CreatedAt)
	return append(k, j.ID...)
}

func checkJob(j chat.Job) error {
	if err := checkKeyPart("job id", j.ID); err != nil {
		return err
	}
	if err := checkKeyPart("job owner", j.OwnerID); err != nil {
		return fmt.Errorf("job %s: %w", j.ID, err)
	}
	if bytes.IndexByte([]byte(j.DedupKey), 0) >= 0 {
		return fmt.Errorf("job %s: dedup key contains a NUL byte", j.ID)
	}
	return nil
}

// encodedJob is a job ready to be written: its record is encoded before
// the write transaction, since job writes share commits and whatever runs
// inside one delays every caller of the group (Store.batch).
type encodedJob struct {
	job    chat.Job
	record []byte
}

func encodeJob(j chat.Job) (encodedJob, error) {
	raw, err := json.Marshal(j)
	if err != nil {
		return encodedJob{}, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	return encodedJob{j, raw}, nil
}

// jobHead is what a job write needs of the stored version: its optimistic
// lock and its active-index key. Decoding only these is cheaper than the
// whole job, inside a shared transaction.
type jobHead struct {
	ID        string    `json:"id"`
	OwnerID   string    `json:"ownerId"`
	DedupKey  string    `json:"dedupKey"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func (h jobHead) job() chat.Job {
	return chat.Job{ID: h.ID, OwnerID: h.OwnerID, DedupKey: h.DedupKey, Status: h.Status, CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt}
}

// putJob writes the job and moves its active-index entry: present only while
// the job is queued or running.
func putJob(tx *bolt.Tx, e encodedJob, prev *chat.Job) error {
	idx := tx.Bucket(bucketActiveJobs)
	if prev != nil {
		if err := idx.Delete(activeKey(*prev)); err != nil {
			return err
		}
	}
	if e.job.Active() {
		if err := idx.Put(activeKey(e.job), []byte(e.job.ID)); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketJobs).Put([]byte(e.job.ID), e.record)
}

// CreateJob stores a new export job; chat.ErrConflict when the id exists.
// It checks the id and hands the write to the group commit without starting
// a commit (Store.hold): the job is written by the commit under way's
// successor or by the next write — the service creates a job and starts
// exporting at once, and the job's next save commits both, so a small
// export waits for one commit, not two, even on an idle server. Nobody
// outside learns the job's id before a later UpdateJob of it — which runs
// after this write and waits for its own commit — has returned, so a job
// is durable before any answer names it; a crash in between loses a job
// nobody was told about, where DynamoDB's PutItem would have kept it. Job
// and ActiveJob wait for (and start, if need be) the commit of a job they
// would return, so reads see what CreateJob wrote.
func (s *Store) CreateJob(ctx context.Context, job chat.Job) error {
	if err := checkJob(job); err != nil {
		return fmt.Errorf("boltstore: create job: %w", err)
	}
	enc, err := encodeJob(job)
	if err != nil {
		return fmt.Errorf("boltstore: create job: %w", err)
	}
	committed := make(chan struct{})
	if err := s.jobs.claim(ctx, s, job, committed); err != nil {
		return fmt.Errorf("boltstore: create job %s: %w", job.ID, err)
	}
	s.hold(committed, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketJobs).Get([]byte(job.ID)) != nil {
			return nil // cannot happen (claim); never overwrite a job
		}
		return putJob(tx, enc, nil)
	})
	return nil
}

// creating tracks the jobs CreateJob has handed over whose commit has not
// ended, so that reads can wait for it and CreateJob can refuse their ids.
type creating struct {
	mu      sync.Mutex
	byID    pending // job id -> closed when its commit ends
	byDedup pending // activePrefix -> the same, for the newest such job
}

// claim refuses job's id when a job has it, or notes that job will be
// committed when committed is closed. Only CreateJob makes jobs, and only
// this Store writes the file (bbolt locks it): with claims serialised, the
// check is exact.
func (c *creating) claim(ctx context.Context, s *Store, job chat.Job, committed <-chan struct{}) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.byID[job.ID]; ok && !closed(ch) {
		return chat.ErrConflict
	}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketJobs).Get([]byte(job.ID)) != nil {
			return chat.ErrConflict
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.byID.set(job.ID, committed)
	c.byDedup.set(string(activePrefix(job.OwnerID, job.DedupKey)), committed)
	return nil
}

// pending maps keys to the commit of their newest held write (Store.hold),
// closed when it ends. Its owner locks it.
type pending map[string]<-chan struct{}

// set notes that key's newest write is committed when committed is closed.
// Entries of commits that have ended go on the way, so the map holds about
// one commit's keys.
func (p *pending) set(key string, committed <-chan struct{}) {
	if *p == nil {
		*p = pending{}
	}
	for k, ch := range *p {
		if closed(ch) {
			delete(*p, k)
		}
	}
	(*p)[key] = committed
}

// waitID returns once the commit of job id, if pending, has ended.
func (c *creating) waitID(s *Store, id string) {
	c.mu.Lock()
	ch := c.byID[id]
	c.mu.Unlock()
	awaitCommit(s, ch)
}

// waitDedup returns once the commit of the newest job CreateJob has
// handed over with that active-index prefix, if pending, has ended.
func (c *creating) waitDedup(s *Store, prefix []byte) {
	c.mu.Lock()
	ch := c.byDedup[string(prefix)]
	c.mu.Unlock()
	awaitCommit(s, ch)
}

// awaitCommit waits for the commit that closes committed (nil: none is
// pending), starting one when the write is held (Store.hold) and no
// commit is under way.
func awaitCommit(s *Store, committed <-chan struct{}) {
	if committed == nil || closed(committed) {
		return
	}
	s.writes.flush()
	<-committed
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Job returns the job with that id, including one CreateJob has just
// returned for.
func (s *Store) Job(ctx context.Context, id string) (chat.Job, error) {
	s.jobs.waitID(s, id)
	var j chat.Job
	if err := s.get(ctx, bucketJobs, []byte(id), &j); err != nil {
		return chat.Job{}, fmt.Errorf("boltstore: get job %s: %w", id, err)
	}
	return j, nil
}

// UpdateJob replaces the job if its stored UpdatedAt equals prevUpdatedAt
// (optimistic locking, as DynamoDB's condition expression does);
// chat.ErrConflict otherwise, chat.ErrNotFound when there is no such job.
// The check and the write are one transaction, which concurrent job writes
// may share (Store.batch): the check sees every write batched before it.
func (s *Store) UpdateJob(ctx context.Context, job chat.Job, prevUpdatedAt time.Time) error {
	if err := checkJob(job); err != nil {
		return fmt.Errorf("boltstore: update job: %w", err)
	}
	enc, err := encodeJob(job)
	if err != nil {
		return fmt.Errorf("boltstore: update job: %w", err)
	}
	err = s.batch(ctx, func(tx *bolt.Tx) error {
		var cur jobHead
		ok, err := getJSON(tx.Bucket(bucketJobs), []byte(job.ID), &cur)
		switch {
		case err != nil:
			return err
		case !ok:
			return chat.ErrNotFound
		case !cur.UpdatedAt.Equal(prevUpdatedAt):
			return chat.ErrConflict
		}
		prev := cur.job()
		return putJob(tx, enc, &prev)
	})
	if err != nil {
		return fmt.Errorf("boltstore: update job %s: %w", job.ID, err)
	}
	return nil
}

// ActiveJob returns the owner's newest queued or running job created with
// dedupKey, so that a repeated identical request joins the export in flight
// (SPEC §7); chat.ErrNotFound when there is none. A job CreateJob has
// returned for is waited for.
func (s *Store) ActiveJob(ctx context.Context, ownerID, dedupKey string) (chat.Job, error) {
	s.jobs.waitDedup(s, activePrefix(ownerID, dedupKey))
	var j chat.Job
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if checkKeyPart("owner", ownerID) != nil || bytes.IndexByte([]byte(dedupKey), 0) >= 0 {
			return chat.ErrNotFound
		}
		prefix := activePrefix(ownerID, dedupKey)
		jobs := tx.Bucket(bucketJobs)
		c := tx.Bucket(bucketActiveJobs).Cursor()
		// walk back from the end of the range, newest first
		end := append(bytes.Clone(prefix[:len(prefix)-1]), 1)
		k, v := c.Seek(end)
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			j = chat.Job{} // Unmarshal merges into what is there
			ok, err := getJSON(jobs, v, &j)
			if err != nil {
				return err
			}
			if ok && j.Active() {
				return nil
			}
		}
		return chat.ErrNotFound
	})
	if err != nil {
		return chat.Job{}, fmt.Errorf("boltstore: active job of %s: %w", ownerID, err)
	}
	return j, nil
}

package boltstore

import (
	"bytes"
	"context"
	"fmt"
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

// putJob writes the job and moves its active-index entry: present only while
// the job is queued or running.
func putJob(tx *bolt.Tx, j chat.Job, prev *chat.Job) error {
	idx := tx.Bucket(bucketActiveJobs)
	if prev != nil {
		if err := idx.Delete(activeKey(*prev)); err != nil {
			return err
		}
	}
	if j.Active() {
		if err := idx.Put(activeKey(j), []byte(j.ID)); err != nil {
			return err
		}
	}
	return putJSON(tx.Bucket(bucketJobs), []byte(j.ID), j)
}

// CreateJob stores a new export job; chat.ErrConflict when the id exists.
// Concurrent job writes share commits (Store.batch).
func (s *Store) CreateJob(ctx context.Context, job chat.Job) error {
	if err := checkJob(job); err != nil {
		return fmt.Errorf("boltstore: create job: %w", err)
	}
	err := s.batch(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketJobs).Get([]byte(job.ID)) != nil {
			return chat.ErrConflict
		}
		return putJob(tx, job, nil)
	})
	if err != nil {
		return fmt.Errorf("boltstore: create job %s: %w", job.ID, err)
	}
	return nil
}

// Job returns the job with that id.
func (s *Store) Job(ctx context.Context, id string) (chat.Job, error) {
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
	err := s.batch(ctx, func(tx *bolt.Tx) error {
		var cur chat.Job
		ok, err := getJSON(tx.Bucket(bucketJobs), []byte(job.ID), &cur)
		switch {
		case err != nil:
			return err
		case !ok:
			return chat.ErrNotFound
		case !cur.UpdatedAt.Equal(prevUpdatedAt):
			return chat.ErrConflict
		}
		return putJob(tx, job, &cur)
	})
	if err != nil {
		return fmt.Errorf("boltstore: update job %s: %w", job.ID, err)
	}
	return nil
}

// ActiveJob returns the owner's newest queued or running job created with
// dedupKey, so that a repeated identical request joins the export in flight
// (SPEC §7); chat.ErrNotFound when there is none.
func (s *Store) ActiveJob(ctx context.Context, ownerID, dedupKey string) (chat.Job, error) {
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

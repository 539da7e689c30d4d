package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// Partition key prefixes of the Jobs table (see the package comment).
const (
	pfxJob    = "job#"
	pfxActive = "active#"
	pfxRate   = "rate#"
)

// checkJob rejects jobs that cannot be keyed.
func checkJob(j chat.Job) error {
	if err := checkKeyPart("job id", j.ID); err != nil {
		return err
	}
	if err := checkKeyPart("job owner", j.OwnerID); err != nil {
		return fmt.Errorf("job %s: %w", j.ID, err)
	}
	if len(j.DedupKey) > maxKeyPart {
		return fmt.Errorf("job %s: dedup key is longer than %d bytes", j.ID, maxKeyPart)
	}
	return nil
}

// stamp is the stored form of UpdatedAt: RFC 3339 in UTC with every
// nanosecond, one string per instant whatever the zone it was given in, so
// the condition of UpdateJob compares instants.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// jobTTL is the Unix second after which a job record may go: JobRetention
// after ExpiresAt. A job without ExpiresAt never expires (ok is false).
func (s *Store) jobTTL(j chat.Job) (ttl int64, ok bool) {
	if j.ExpiresAt.IsZero() {
		return 0, false
	}
	return unixCeil(j.ExpiresAt.Add(s.jobRetention)), true
}

// jobItem is the item of a job.
func (s *Store) jobItem(j chat.Job) (map[string]types.AttributeValue, error) {
	item, err := dataItem(pfxJob+j.ID, noSort, j)
	if err != nil {
		return nil, err
	}
	item[attrUpdated] = attrS(stamp(j.UpdatedAt))
	if ttl, ok := s.jobTTL(j); ok {
		item[TTLAttribute] = attrN(ttl)
	}
	return item, nil
}

// activeSK is the sort key of a job's entry in its owner's active index:
// the dedup key (length first, so no key is a prefix of another's entries),
// then createdAt and id, so the newest job is the last of the range.
func activeSK(j chat.Job) string {
	return activePrefix(j.DedupKey) + sortableInstant(j.CreatedAt) + "#" + j.ID
}

// activePrefix is the sort-key prefix of the entries with that dedup key.
func activePrefix(dedupKey string) string {
	return strconv.Itoa(len(dedupKey)) + "#" + dedupKey + "#"
}

// activeItem is the active-index entry of a job.
func (s *Store) activeItem(j chat.Job) map[string]types.AttributeValue {
	item := itemKey(pfxActive+j.OwnerID, activeSK(j))
	item[attrID] = attrS(j.ID)
	if ttl, ok := s.jobTTL(j); ok {
		item[TTLAttribute] = attrN(ttl)
	}
	return item
}

// putActive writes the active-index entry of a job.
func (s *Store) putActive(ctx context.Context, j chat.Job) error {
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.t.Jobs, Item: s.activeItem(j)})
	if err != nil {
		return fmt.Errorf("index active job: %w", err)
	}
	return nil
}

// activeMarks remembers, per job, the version this store last put of an
// active job (its stored updatedAt) and the index entry it wrote before that
// put. Saving the job again from exactly that version with the same entry
// needs no PutItem for the entry: UpdateJob's condition guarantees that no
// one saved the job in between, and entries are deleted only after a put
// that ends the job (or changes its key), so the entry is still there. A
// worker's progress saves and checkpoints thus cost one PutItem each, not
// two. Another process, or a version this store did not write, puts the
// entry again as before. The map is bounded: it forgets everything past
// maxActiveMarks (an entry is then only put once more).
type activeMarks struct {
	mu sync.Mutex
	m  map[string]activeMark
}

type activeMark struct {
	version string // stamp of the job's stored updatedAt
	entry   entryKey
}

// entryKey is what identifies a job's active-index entry item: its sort
// key (the partition is the owner's) and its ttl.
type entryKey struct {
	sk  string
	ttl int64
}

// maxActiveMarks bounds activeMarks: a long-lived process forgets jobs it
// never saw end.
const maxActiveMarks = 4096

// entryOf is the entry item a job has while it is active.
func (s *Store) entryOf(j chat.Job) entryKey {
	ttl, _ := s.jobTTL(j)
	return entryKey{activeSK(j), ttl}
}

// has reports whether the store put version prev of job id, active, after
// writing the entry entry.
func (a *activeMarks) has(id, prev string, entry entryKey) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.m[id]
	return ok && m.version == prev && m.entry == entry
}

// set records that the store put version of job id, active, after writing
// entry; forget drops what it knew of the job.
func (a *activeMarks) set(id, version string, entry entryKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil || len(a.m) >= maxActiveMarks {
		a.m = map[string]activeMark{}
	}
	a.m[id] = activeMark{version, entry}
}

// putWith reports whether the store put version prev of job id, active,
// with its entry under the sort key sk.
func (a *activeMarks) putWith(id, prev, sk string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.m[id]
	return ok && m.version == prev && m.entry.sk == sk
}

func (a *activeMarks) forget(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.m, id)
}

// CreateJob stores a new export job; chat.ErrConflict when the id exists
// (a conditional put: attribute_not_exists(pk)). An active job's index
// entry is put at the same time as the job (one round trip, not two, on the
// API request's path): should the job's put fail, the entry is one that
// ActiveJob checks against the job and skips; should the entry's put fail,
// the job just put is deleted again (best effort) and the error returned,
// so that no active job goes without its entry.
func (s *Store) CreateJob(ctx context.Context, job chat.Job) error {
	if err := checkJob(job); err != nil {
		return fmt.Errorf("dynamo: create job: %w", err)
	}
	if err := s.createJob(ctx, job); err != nil {
		return fmt.Errorf("dynamo: create job %s: %w", job.ID, err)
	}
	return nil
}

func (s *Store) createJob(ctx context.Context, job chat.Job) error {
	item, err := s.jobItem(job)
	if err != nil {
		return err
	}
	entry := make(chan error, 1)
	if job.Active() {
		go func() { entry <- s.putActive(ctx, job) }()
	} else {
		entry <- nil
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                &s.t.Jobs,
		Item:                     item,
		ConditionExpression:      ptr("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	entryErr := <-entry
	switch {
	case isConditionFailed(err):
		return chat.ErrConflict
	case err != nil:
		return err
	case entryErr != nil:
		// the job without its entry would escape the duplicate check
		_, _ = s.api.DeleteItem(context.WithoutCancel(ctx), &dynamodb.DeleteItemInput{TableName: &s.t.Jobs, Key: itemKey(pfxJob+job.ID, noSort)})
		return entryErr
	}
	if job.Active() {
		s.indexed.set(job.ID, stamp(job.UpdatedAt), s.entryOf(job))
	}
	return nil
}

// Job returns the job with that id (a strongly consistent read: the status
// endpoint follows the worker's updates). A job past its ttl is not found.
func (s *Store) Job(ctx context.Context, id string) (chat.Job, error) {
	j, err := s.job(ctx, id)
	if err != nil {
		return chat.Job{}, fmt.Errorf("dynamo: get job %s: %w", id, err)
	}
	return j, nil
}

func (s *Store) job(ctx context.Context, id string) (chat.Job, error) {
	if checkKeyPart("job id", id) != nil {
		return chat.Job{}, chat.ErrNotFound
	}
	item, err := s.getItem(ctx, s.t.Jobs, pfxJob+id, noSort, true, attrData, TTLAttribute)
	if err != nil {
		return chat.Job{}, err
	}
	if item == nil || expired(item, s.now()) {
		return chat.Job{}, chat.ErrNotFound
	}
	var j chat.Job
	if err := decodeData(item, &j); err != nil {
		return chat.Job{}, err
	}
	return j, nil
}

// UpdateJob replaces the job if its stored UpdatedAt equals prevUpdatedAt
// (optimistic locking: a put with the condition updatedAt = :prev);
// chat.ErrConflict otherwise, chat.ErrNotFound when there is no such job (or
// it is past its ttl). The job's active-index entry is written before the
// put (unless this store wrote it before the version it replaces: see
// activeMarks) and the entry it no longer has deleted after it; a failed
// delete only leaves an entry ActiveJob skips, and is not reported.
func (s *Store) UpdateJob(ctx context.Context, job chat.Job, prevUpdatedAt time.Time) error {
	if err := checkJob(job); err != nil {
		return fmt.Errorf("dynamo: update job: %w", err)
	}
	if err := s.updateJob(ctx, job, prevUpdatedAt); err != nil {
		return fmt.Errorf("dynamo: update job %s: %w", job.ID, err)
	}
	return nil
}

func (s *Store) updateJob(ctx context.Context, job chat.Job, prevUpdatedAt time.Time) error {
	item, err := s.jobItem(job)
	if err != nil {
		return err
	}
	entry := s.entryOf(job)
	if job.Active() && !s.indexed.has(job.ID, stamp(prevUpdatedAt), entry) {
		if err := s.putActive(ctx, job); err != nil {
			return err
		}
	}
	// Ending a job this store saved last: its entry is known, and deleted
	// while the job is put (one round trip, not two). Should the put fail,
	// the entry is put back below for a job still active.
	var unindexed chan struct{}
	if !job.Active() && s.indexed.putWith(job.ID, stamp(prevUpdatedAt), activeSK(job)) {
		unindexed = make(chan struct{})
		go func() {
			defer close(unindexed)
			_, _ = s.api.DeleteItem(context.WithoutCancel(ctx), &dynamodb.DeleteItemInput{
				TableName: &s.t.Jobs,
				Key:       itemKey(pfxActive+job.OwnerID, activeSK(job)),
			})
		}()
	}
	out, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                &s.t.Jobs,
		Item:                     item,
		ConditionExpression:      ptr("#u = :prev AND (attribute_not_exists(#ttl) OR #ttl > :now)"),
		ExpressionAttributeNames: map[string]string{"#u": attrUpdated, "#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":prev": attrS(stamp(prevUpdatedAt)), ":now": attrN(s.now().Unix()),
		},
		ReturnValues: types.ReturnValueAllOld,
	})
	if unindexed != nil {
		<-unindexed
	}
	if err != nil {
		s.indexed.forget(job.ID)
		conflict := isConditionFailed(err)
		if !conflict && unindexed == nil {
			return err
		}
		// what is stored now: to tell a missing job from a lost race, and
		// to put back the entry of a job still active
		stored, readErr := s.job(context.WithoutCancel(ctx), job.ID)
		if unindexed != nil && readErr == nil && stored.Active() {
			_ = s.putActive(context.WithoutCancel(ctx), stored) // best effort
		}
		switch {
		case !conflict:
			return err
		case readErr != nil:
			return readErr
		}
		return chat.ErrConflict
	}
	if job.Active() {
		s.indexed.set(job.ID, stamp(job.UpdatedAt), entry)
	} else {
		s.indexed.forget(job.ID)
	}
	var old chat.Job
	if unindexed != nil || decodeData(out.Attributes, &old) != nil || !old.Active() {
		return nil
	}
	if job.Active() && old.OwnerID == job.OwnerID && activeSK(old) == activeSK(job) {
		return nil
	}
	// best effort: a stale entry is skipped by ActiveJob and expires
	_, _ = s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.t.Jobs,
		Key:       itemKey(pfxActive+old.OwnerID, activeSK(old)),
	})
	return nil
}

// ActiveJob returns the owner's newest queued or running job created with
// dedupKey, so that a repeated identical request joins the export in flight
// (SPEC §7); chat.ErrNotFound when there is none. It Queries the owner's
// index entries for the key, newest first, and returns the first whose job
// is still active and still has that owner, key and creation time.
func (s *Store) ActiveJob(ctx context.Context, ownerID, dedupKey string) (chat.Job, error) {
	j, err := s.activeJob(ctx, ownerID, dedupKey)
	if err != nil {
		return chat.Job{}, fmt.Errorf("dynamo: active job of %s: %w", ownerID, err)
	}
	return j, nil
}

func (s *Store) activeJob(ctx context.Context, ownerID, dedupKey string) (chat.Job, error) {
	if checkKeyPart("owner", ownerID) != nil || len(dedupKey) > maxKeyPart {
		return chat.Job{}, chat.ErrNotFound
	}
	in := &dynamodb.QueryInput{
		TableName:                &s.t.Jobs,
		KeyConditionExpression:   ptr("#pk = :pk AND begins_with(#sk, :prefix)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK, "#id": attrID, "#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": attrS(pfxActive + ownerID), ":prefix": attrS(activePrefix(dedupKey)),
		},
		ProjectionExpression: ptr("#sk, #id, #ttl"),
		ScanIndexForward:     ptr(false),
		ConsistentRead:       ptr(true),
	}
	now := s.now()
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return chat.Job{}, err
		}
		for _, entry := range out.Items {
			id, _ := getS(entry, attrID)
			sk, _ := getS(entry, attrSK)
			if expired(entry, now) || id == "" {
				continue
			}
			j, err := s.job(ctx, id)
			if errNotFound(err) {
				continue
			}
			if err != nil {
				return chat.Job{}, err
			}
			if j.Active() && j.OwnerID == ownerID && j.DedupKey == dedupKey && activeSK(j) == sk {
				return j, nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return chat.Job{}, chat.ErrNotFound
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

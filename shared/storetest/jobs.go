package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// dbJob is a queued job of owner with dedupKey, created at created.
func dbJob(id, owner, dedupKey string, created time.Time) chat.Job {
	return chat.Job{ID: id, OwnerID: owner, RoomID: "r1", Type: chat.DeliveryFile, Format: chat.FormatJSON,
		From: dbAt(-24 * time.Hour), To: dbAt(0), TimeZone: "UTC", DedupKey: dedupKey,
		Status: chat.JobQueued, CreatedAt: created, UpdatedAt: created, ExpiresAt: created.Add(7 * 24 * time.Hour)}
}

// dbNormJob is j with every time in UTC, for reflect.DeepEqual.
func dbNormJob(j chat.Job) chat.Job {
	j.From, j.To = dbUTC(j.From), dbUTC(j.To)
	j.CreatedAt, j.UpdatedAt, j.ExpiresAt = dbUTC(j.CreatedAt), dbUTC(j.UpdatedAt), dbUTC(j.ExpiresAt)
	j.DoneAt = dbUTCPtr(j.DoneAt)
	return j
}

// dbGetJob reads a job and fails the test on error.
func dbGetJob(t *testing.T, s Store, id string) chat.Job {
	t.Helper()
	j, err := s.Job(t.Context(), id)
	dbMust(t, err, "Job "+id)
	return j
}

// dbJobSuite checks export.JobStore: creation with conflict, optimistic
// updates (the DynamoDB condition expression on updatedAt), and the dedup
// lookup behind "a repeated identical request returns the running export".
func dbJobSuite(t *testing.T, open func(t *testing.T) Store) {
	t.Run("RoundTrip", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		zone := time.FixedZone("UTC-3", -3*3600)
		done := time.Date(2024, 3, 10, 12, 5, 6, 789_123_456, time.UTC)
		full := chat.Job{
			ID: "job1", OwnerID: "u1", RoomID: "GENERAL", Type: chat.DeliveryEmail, Format: chat.FormatHTML,
			From: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC),
			TimeZone: "America/Sao_Paulo", DedupKey: "dedup-1", Request: []byte(`{"rid":"GENERAL","type":"email"}`),
			Recipients: []string{"a@example.com", "b@example.com"}, Subject: "Room export: general", ReplyTo: "alice@example.com",
			Status: chat.JobDone, Exported: 1234, Total: 1300, Bytes: 987654, Key: "exports/u1/x.zip",
			FileName: "2024-03-10-alice-abc.zip", Error: "partial", Attempts: 2,
			CreatedAt: time.Date(2024, 3, 10, 9, 0, 0, 1, zone), UpdatedAt: time.Date(2024, 3, 10, 12, 5, 6, 789_123_456, time.UTC),
			ExpiresAt: time.Date(2024, 3, 17, 12, 5, 6, 999_999_999, time.UTC), DoneAt: &done,
		}
		dbMust(t, s.CreateJob(ctx, full), "CreateJob")
		got := dbGetJob(t, s, "job1")
		dbEqual(t, "Job round trip", dbNormJob(got), dbNormJob(full))
		if !got.CreatedAt.Equal(full.CreatedAt) || !got.UpdatedAt.Equal(full.UpdatedAt) {
			t.Errorf("Job times lost precision: created %v updated %v", got.CreatedAt, got.UpdatedAt)
		}

		_, err := s.Job(ctx, "job2")
		dbWantNotFound(t, err, "Job unknown")
	})

	t.Run("CreateConflict", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		first := dbJob("job1", "u1", "k1", dbAt(0))
		dbMust(t, s.CreateJob(ctx, first), "CreateJob")
		second := dbJob("job1", "u2", "k2", dbAt(time.Minute))
		dbWantConflict(t, s.CreateJob(ctx, second), "CreateJob with an existing id")
		dbEqual(t, "Job after a refused create", dbNormJob(dbGetJob(t, s, "job1")), dbNormJob(first))
	})

	t.Run("OptimisticUpdate", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		j := dbJob("job1", "u1", "k1", dbAt(0))
		dbMust(t, s.CreateJob(ctx, j), "CreateJob")

		running := j
		running.Status, running.Exported, running.Attempts = chat.JobRunning, 500, 1
		running.UpdatedAt = dbAt(time.Second + 7) // nanoseconds matter
		dbMust(t, s.UpdateJob(ctx, running, j.UpdatedAt), "UpdateJob")
		dbEqual(t, "Job after update", dbNormJob(dbGetJob(t, s, "job1")), dbNormJob(running))

		stale := j
		stale.Status, stale.UpdatedAt = chat.JobFailed, dbAt(2*time.Second)
		dbWantConflict(t, s.UpdateJob(ctx, stale, j.UpdatedAt), "UpdateJob with a stale prevUpdatedAt")
		dbWantConflict(t, s.UpdateJob(ctx, stale, running.UpdatedAt.Add(-1)), "UpdateJob with prevUpdatedAt 1ns off")
		dbEqual(t, "Job after a refused update", dbNormJob(dbGetJob(t, s, "job1")), dbNormJob(running))

		// the same instant in another zone is the same UpdatedAt
		done := running
		doneAt := dbAt(3 * time.Second)
		done.Status, done.DoneAt, done.UpdatedAt = chat.JobDone, &doneAt, doneAt
		dbMust(t, s.UpdateJob(ctx, done, running.UpdatedAt.In(time.FixedZone("X", 5*3600))), "UpdateJob prev in another zone")
		dbEqual(t, "Job after the last update", dbNormJob(dbGetJob(t, s, "job1")), dbNormJob(done))

		missing := dbJob("job9", "u1", "k1", dbAt(0))
		dbWantNotFound(t, s.UpdateJob(ctx, missing, missing.UpdatedAt), "UpdateJob of an unknown job")
		_, err := s.Job(ctx, "job9")
		dbWantNotFound(t, err, "Job after a refused update of an unknown job")
	})

	t.Run("ConcurrentUpdatesOneWins", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		j := dbJob("job1", "u1", "k1", dbAt(0))
		dbMust(t, s.CreateJob(ctx, j), "CreateJob")
		const workers = 8
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				next := j
				next.Attempts = i + 1
				next.UpdatedAt = dbAt(time.Duration(i+1) * time.Second)
				errs[i] = s.UpdateJob(ctx, next, j.UpdatedAt)
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("updates %d and %d both won", winner, i)
			case err == nil:
				winner = i
			default:
				dbWantConflict(t, err, "a losing concurrent update")
			}
		}
		if winner < 0 {
			t.Fatalf("no concurrent update won")
		}
		if got := dbGetJob(t, s, "job1"); got.Attempts != winner+1 {
			t.Errorf("stored job is from update %d, winner was %d", got.Attempts-1, winner)
		}
	})

	t.Run("ActiveJob", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		_, err := s.ActiveJob(ctx, "u1", "k1")
		dbWantNotFound(t, err, "ActiveJob with no jobs")

		old := dbJob("old", "u1", "k1", dbAt(0))
		older := dbJob("older", "u1", "k1", dbAt(-time.Hour))
		finished := dbJob("finished", "u1", "k1", dbAt(3*time.Minute))
		finished.Status = chat.JobDone
		failed := dbJob("failed", "u1", "k1", dbAt(4*time.Minute))
		failed.Status = chat.JobFailed
		running := dbJob("running", "u1", "k1", dbAt(time.Minute))
		running.Status = chat.JobRunning
		otherOwner := dbJob("other-owner", "u2", "k1", dbAt(10*time.Minute))
		otherKey := dbJob("other-key", "u1", "k2", dbAt(10*time.Minute))
		prefixKey := dbJob("prefix-key", "u1", "k1x", dbAt(10*time.Minute))
		for _, j := range []chat.Job{old, older, finished, failed, running, otherOwner, otherKey, prefixKey} {
			dbMust(t, s.CreateJob(ctx, j), "CreateJob "+j.ID)
		}
		want := func(op, id string) {
			t.Helper()
			got, err := s.ActiveJob(ctx, "u1", "k1")
			dbMust(t, err, op)
			if got.ID != id {
				t.Errorf("%s: ActiveJob = %s, want %s", op, got.ID, id)
			}
		}
		want("newest active, done and failed ignored", "running")
		got, err := s.ActiveJob(ctx, "u1", "k1")
		dbMust(t, err, "ActiveJob")
		dbEqual(t, "ActiveJob returns the whole job", dbNormJob(got), dbNormJob(running))

		// the running one finishes: the newest queued one is next
		done := running
		done.Status, done.UpdatedAt = chat.JobDone, dbAt(20*time.Minute)
		dbMust(t, s.UpdateJob(ctx, done, running.UpdatedAt), "UpdateJob running→done")
		want("after the running job is done", "old")

		// a done job that is re-queued is active again
		requeued := finished
		requeued.Status, requeued.UpdatedAt = chat.JobQueued, dbAt(21*time.Minute)
		dbMust(t, s.UpdateJob(ctx, requeued, finished.UpdatedAt), "UpdateJob done→queued")
		want("after a done job is queued again", "finished")

		for _, j := range []chat.Job{requeued, old, older} {
			end := j
			end.Status, end.UpdatedAt = chat.JobFailed, dbAt(30*time.Minute)
			dbMust(t, s.UpdateJob(ctx, end, j.UpdatedAt), "UpdateJob →failed "+j.ID)
		}
		_, err = s.ActiveJob(ctx, "u1", "k1")
		dbWantNotFound(t, err, "ActiveJob when every job has ended")

		got, err = s.ActiveJob(ctx, "u2", "k1")
		dbMust(t, err, "ActiveJob other owner")
		if got.ID != "other-owner" {
			t.Errorf("ActiveJob(u2, k1) = %s, want other-owner", got.ID)
		}
		got, err = s.ActiveJob(ctx, "u1", "k2")
		dbMust(t, err, "ActiveJob other key")
		if got.ID != "other-key" {
			t.Errorf("ActiveJob(u1, k2) = %s, want other-key", got.ID)
		}
		_, err = s.ActiveJob(ctx, "u3", "k1")
		dbWantNotFound(t, err, "ActiveJob of an owner with no jobs")
	})
}

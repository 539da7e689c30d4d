// Package storetest holds the contract suites every backend of rooms-export
// runs against itself: one suite per port, so that the embedded store and the
// AWS adapters (DynamoDB, S3) are held to the same behaviour — the behaviour
// of the Rocket.Chat queries they replace. A backend's test calls Run (and
// RunFileStore for file stores) with a function that opens a fresh, empty
// store.
//
// The suites use fixed times only; nothing depends on the clock.
package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// Store is everything a database backend implements.
type Store interface {
	export.Directory
	export.MessageStore
	export.JobStore
	export.RateLimiter
	workspace.Sink
}

// Run runs every contract test against fresh stores made by open. Each
// subtest calls open once; subtests run one after another, never in
// parallel, so open may share an emulator.
func Run(t *testing.T, open func(t *testing.T) Store) {
	t.Helper()
	t.Run("Directory", func(t *testing.T) { dbDirectorySuite(t, open) })
	t.Run("Messages", func(t *testing.T) { dbMessageSuite(t, open) })
	t.Run("FileMessages", func(t *testing.T) { dbFileMessagesSuite(t, open) })
	t.Run("Jobs", func(t *testing.T) { dbJobSuite(t, open) })
	t.Run("RateLimiter", func(t *testing.T) { dbRateLimiterSuite(t, open) })
	t.Run("Sink", func(t *testing.T) { dbSinkSuite(t, open) })
}

// dbBase is the fixed instant the suites build their data around.
var dbBase = time.Date(2024, time.March, 10, 12, 0, 0, 0, time.UTC)

// dbAt is dbBase plus d.
func dbAt(d time.Duration) time.Time { return dbBase.Add(d) }

// dbMust fails the test now when err is not nil.
func dbMust(t *testing.T, err error, op string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", op, err)
	}
}

// dbWantNotFound checks that err is chat.ErrNotFound (possibly wrapped).
func dbWantNotFound(t *testing.T, err error, op string) {
	t.Helper()
	if !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("%s: error = %v, want one matching chat.ErrNotFound", op, err)
	}
}

// dbWantConflict checks that err is chat.ErrConflict (possibly wrapped).
func dbWantConflict(t *testing.T, err error, op string) {
	t.Helper()
	if !errors.Is(err, chat.ErrConflict) {
		t.Errorf("%s: error = %v, want one matching chat.ErrConflict", op, err)
	}
}

// dbUTC returns t in UTC with no monotonic reading, so that reflect.DeepEqual
// compares instants rather than representations.
func dbUTC(t time.Time) time.Time { return t.UTC() }

func dbUTCPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// dbEqual compares two records with reflect.DeepEqual and reports a mismatch.
func dbEqual[T any](t *testing.T, op string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", op, got, want)
	}
}

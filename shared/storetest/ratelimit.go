package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/export"
)

// dbAllow makes one rate-limit call and fails the test on error.
func dbAllow(t *testing.T, s Store, key string, limit int, window time.Duration, now time.Time) export.RateDecision {
	t.Helper()
	d, err := s.Allow(t.Context(), key, limit, window, now)
	dbMust(t, err, fmt.Sprintf("Allow %s at %s", key, now.Format(time.TimeOnly)))
	return d
}

// dbWantDecision compares a decision with the expected one.
func dbWantDecision(t *testing.T, op string, got export.RateDecision, allowed bool, limit, remaining int, reset time.Time) {
	t.Helper()
	if got.Allowed != allowed || got.Limit != limit || got.Remaining != remaining || !got.Reset.Equal(reset) {
		t.Errorf("%s: got {Allowed:%v Limit:%d Remaining:%d Reset:%s}, want {Allowed:%v Limit:%d Remaining:%d Reset:%s}",
			op, got.Allowed, got.Limit, got.Remaining, got.Reset.UTC().Format(time.RFC3339Nano),
			allowed, limit, remaining, reset.UTC().Format(time.RFC3339Nano))
	}
}

// dbRateLimiterSuite checks export.RateLimiter: fixed windows starting at
// now.Truncate(window), as Rocket.Chat's API rate limiter counts calls per
// interval (SPEC §7).
func dbRateLimiterSuite(t *testing.T, open func(t *testing.T) Store) {
	const window = time.Minute
	start := dbAt(0) // a window starts here
	mid := dbAt(30 * time.Second)

	t.Run("LimitThenRefuse", func(t *testing.T) {
		s := open(t)
		reset := start.Add(window)
		for i := range 3 {
			d := dbAllow(t, s, "u1", 3, window, mid.Add(time.Duration(i)*time.Second))
			dbWantDecision(t, fmt.Sprintf("call %d", i+1), d, true, 3, 2-i, reset)
		}
		for i := range 3 {
			d := dbAllow(t, s, "u1", 3, window, mid.Add(10*time.Second+time.Duration(i)*time.Second))
			dbWantDecision(t, fmt.Sprintf("refused call %d", i+1), d, false, 3, 0, reset)
		}
		// the last instant of the window still counts in it
		d := dbAllow(t, s, "u1", 3, window, reset.Add(-time.Nanosecond))
		dbWantDecision(t, "last instant of the window", d, false, 3, 0, reset)
	})

	t.Run("NewWindowResets", func(t *testing.T) {
		s := open(t)
		for range 2 {
			dbAllow(t, s, "u1", 2, window, mid)
		}
		d := dbAllow(t, s, "u1", 2, window, mid)
		dbWantDecision(t, "over the limit", d, false, 2, 0, start.Add(window))

		next := start.Add(window) // the first instant of the next window
		d = dbAllow(t, s, "u1", 2, window, next)
		dbWantDecision(t, "first call of the next window", d, true, 2, 1, next.Add(window))
		d = dbAllow(t, s, "u1", 2, window, next.Add(59*time.Second))
		dbWantDecision(t, "second call of the next window", d, true, 2, 0, next.Add(window))
		d = dbAllow(t, s, "u1", 2, window, next.Add(59*time.Second))
		dbWantDecision(t, "third call of the next window", d, false, 2, 0, next.Add(window))

		// much later, after windows with no calls
		later := start.Add(10*window + 5*time.Second)
		d = dbAllow(t, s, "u1", 2, window, later)
		dbWantDecision(t, "a call windows later", d, true, 2, 1, start.Add(11*window))
	})

	t.Run("KeysIndependent", func(t *testing.T) {
		s := open(t)
		d := dbAllow(t, s, "rooms.export:u1", 1, window, mid)
		dbWantDecision(t, "u1 first", d, true, 1, 0, start.Add(window))
		d = dbAllow(t, s, "rooms.export:u1", 1, window, mid)
		dbWantDecision(t, "u1 second", d, false, 1, 0, start.Add(window))
		for _, key := range []string{"rooms.export:u2", "rooms.export:u1x", "rooms.export:u", "other:u1"} {
			d = dbAllow(t, s, key, 1, window, mid)
			dbWantDecision(t, key+" first", d, true, 1, 0, start.Add(window))
		}
	})

	t.Run("WindowLengths", func(t *testing.T) {
		s := open(t)
		// windows start at now.Truncate(window): an hour window from the hour
		hour := time.Hour
		at := dbAt(42*time.Minute + 7*time.Second)
		d := dbAllow(t, s, "h", 10, hour, at)
		dbWantDecision(t, "hour window", d, true, 10, 9, dbAt(hour))
		d = dbAllow(t, s, "s", 5, 10*time.Second, at)
		dbWantDecision(t, "10s window", d, true, 5, 4, dbAt(42*time.Minute+10*time.Second))
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := open(t)
		const callers, limit = 20, 7
		decisions := make([]export.RateDecision, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				decisions[i], errs[i] = s.Allow(t.Context(), "busy", limit, window, mid.Add(time.Duration(i)*time.Millisecond))
			})
		}
		wg.Wait()
		var remaining []int
		for i, d := range decisions {
			dbMust(t, errs[i], fmt.Sprintf("concurrent Allow %d", i))
			if d.Allowed {
				remaining = append(remaining, d.Remaining)
			} else if d.Remaining != 0 {
				t.Errorf("refused call %d: Remaining = %d, want 0", i, d.Remaining)
			}
		}
		if len(remaining) != limit {
			t.Fatalf("%d concurrent callers with limit %d: %d allowed, want %d", callers, limit, len(remaining), limit)
		}
		slices.Sort(remaining)
		dbEqual(t, "Remaining of the allowed calls", remaining, []int{0, 1, 2, 3, 4, 5, 6})
	})
}

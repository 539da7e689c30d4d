package gateway

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// savedCounts is a JobStore that records the exported count of every save
// of a running job.
type savedCounts struct {
	export.JobStore
	mu      sync.Mutex
	running []int64
}

func (s *savedCounts) UpdateJob(ctx context.Context, j chat.Job, prev time.Time) error {
	if j.Status == chat.JobRunning {
		s.mu.Lock()
		s.running = append(s.running, j.Exported)
		s.mu.Unlock()
	}
	return s.JobStore.UpdateJob(ctx, j, prev)
}

// progressRoom adds n plain messages to "chan", one a minute.
func progressRoom(t *testing.T, w *world, n int) {
	t.Helper()
	start := time.Date(2020, 1, 1, 8, 0, 0, 0, time.UTC)
	msgs := make([]chat.Message, n)
	for i := range msgs {
		msgs[i] = chat.Message{
			ID: fmt.Sprintf("p%06d", i), RoomID: "chan", TS: start.Add(time.Duration(i) * time.Minute),
			Msg: fmt.Sprintf("message %d", i), U: chat.UserRef{ID: "A1", Username: "user-A1"},
		}
	}
	must(t, w.stack.Store.PutMessages(context.Background(), msgs))
}

// TestProgressSavedAsItRuns: an export saves its count as it goes (every
// 5,000 messages), but not more often than once a second: with a clock that
// moves a second at every reading, the saves show 5,000 and 10,000; with a
// clock that stands still, none is made between the start and the end.
func TestProgressSavedAsItRuns(t *testing.T) {
	const n = 12000
	for _, tc := range []struct {
		name string
		tick time.Duration
		want []int64
	}{
		{"clock moving", time.Second, []int64{5000, 10000}},
		{"clock standing", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, export.Config{InlineBudget: 1000 * time.Hour, CheckpointBytes: 1 << 30})
			seed(t, w)
			progressRoom(t, w, n)
			rec := &savedCounts{JobStore: w.stack.Service.Jobs}
			w.stack.Service.Jobs = rec
			w.ticking(tc.tick)
			resp := w.post("A1", tokenOf("A1"), fileBody("chan", "json"))
			b := body(t, resp)
			if b["status"] != "done" {
				t.Fatalf("export: %s", resp.Body)
			}
			var got []int64
			for _, c := range rec.running {
				if c > 0 && c < n {
					got = append(got, c)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("progress saved at %v, want %v (all saves of the running job: %v)", got, tc.want, rec.running)
			}
			if st := w.status(t, "A1", b["exportId"].(string)); st["exported"].(float64) < n {
				t.Errorf("status at the end: %v", st)
			}
		})
	}
}

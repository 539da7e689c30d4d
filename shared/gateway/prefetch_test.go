package gateway

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// uploadsFirst is a directory that counts Uploads calls and the ids they
// ask for, and a job store whose CreateJob waits for the first of them: an
// export that looked its upload records up only after creating its job
// would wait for ever (here: until the guard below fails it).
type uploadsFirst struct {
	export.Directory
	export.JobStore
	once    sync.Once
	looked  chan struct{}
	mu      sync.Mutex
	calls   int
	ids     int
	waitErr error
}

func (u *uploadsFirst) Uploads(ctx context.Context, ids []string) (map[string]chat.Upload, error) {
	u.mu.Lock()
	u.calls++
	u.ids += len(ids)
	u.mu.Unlock()
	u.once.Do(func() { close(u.looked) })
	return u.Directory.Uploads(ctx, ids)
}

func (u *uploadsFirst) CreateJob(ctx context.Context, job chat.Job) error {
	select {
	case <-u.looked:
	case <-time.After(10 * time.Second): // a guard against hanging, not a timing check
		u.mu.Lock()
		u.waitErr = context.DeadlineExceeded
		u.mu.Unlock()
	}
	return u.JobStore.CreateJob(ctx, job)
}

// TestUploadsLookedUpWithTheJobCreation: a small export's upload records
// are read while its job is being created (on DynamoDB one round trip of
// the request less), in one call, and the export uses them instead of
// reading them again.
func TestUploadsLookedUpWithTheJobCreation(t *testing.T) {
	w := newWorld(t, export.Config{InlineBudget: time.Hour, AssetsAhead: 2})
	seed(t, w)
	fileRoom(t, w, 30, 10)
	w.stack.Service.NewID = func() string { return "PrefetchExport001" }
	u := &uploadsFirst{Directory: w.stack.Service.Directory, JobStore: w.stack.Service.Jobs, looked: make(chan struct{})}
	w.stack.Service.Directory, w.stack.Service.Jobs = u, u

	resp := w.post("A1", tokenOf("A1"), fileBody("chan", "json"))
	if b := body(t, resp); b["status"] != "done" {
		t.Fatalf("export: %s", resp.Body)
	}
	if u.waitErr != nil {
		t.Fatal("the job was created before any upload record was looked up")
	}
	if u.calls != 1 || u.ids != 30 {
		t.Errorf("Uploads: %d calls for %d ids, want 1 call for the 30 files", u.calls, u.ids)
	}
	assets := 0
	for name := range unzip(t, archiveBytes(t, w, "PrefetchExport001")) {
		if strings.HasPrefix(name, "assets/") {
			assets++
		}
	}
	if assets != 30 {
		t.Errorf("%d assets in the archive, want 30", assets)
	}
}

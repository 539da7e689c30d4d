package embedded

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/demo"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// TestSmallExportDurableWrites pins what durability costs one small inline
// export on the embedded stack — the request `make load` repeats — since on
// a busy disk every fsync is latency: one database commit, the job's
// completion, which also commits what was held for it — the job's creation,
// the rate limiter's count, and the archive, a database object
// (localfs.KeepSmall) — and no file, no sync of the file system. A new
// durable write on this path should be a decision, not an accident; if one
// is needed, change the counts here and say why.
func TestSmallExportDurableWrites(t *testing.T) {
	ctx := t.Context()
	st, err := Open(t.TempDir(), export.Config{RateLimit: 1000}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.SetBaseURL("http://127.0.0.1:1") // links are built, never followed
	if _, err := demo.Load(ctx, st.Store, workspace.FileBlobs{Files: st.Files}, time.Now()); err != nil {
		t.Fatal(err)
	}
	token := map[string]string{}
	for _, c := range demo.Credentials() {
		token[c.UserID] = c.Token
	}
	cases := []struct {
		name, user, body string
		commits          uint64
	}{
		{"admin, exempt from the rate limit", demo.AdminID,
			`{"rid":"` + demo.GeneralRoomID + `","type":"file","format":"json","dateFrom":"2020-03-01","dateTo":"2020-03-31"}`, 1},
		{"bob, counted by the rate limiter", demo.BobID,
			`{"rid":"` + demo.ProjectRoomID + `","type":"file","format":"html","dateFrom":"2021-03-01","dateTo":"2021-03-31"}`, 1},
	}
	for _, c := range cases {
		commits, syncs := st.Store.Commits(), st.Files.Syncs()
		res, err := st.Service.Export(ctx, export.Credentials{UserID: c.user, Token: token[c.user]}, []byte(c.body), "http://127.0.0.1:1")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if res.Status != chat.JobDone || res.URL == "" {
			t.Fatalf("%s: answer %+v, want a finished export", c.name, res)
		}
		if got := st.Store.Commits() - commits; got != c.commits {
			t.Errorf("%s: %d database commits, want %d", c.name, got, c.commits)
		}
		if got := st.Files.Syncs() - syncs; got != 0 {
			t.Errorf("%s: %d file syncs, want none (the archive is a database object)", c.name, got)
		}
		job, err := st.Store.Job(ctx, res.ExportID)
		if err != nil || job.Exported == 0 {
			t.Fatalf("%s: job %+v, %v; want one with messages", c.name, job, err)
		}
		rc, err := st.Files.Open(context.WithoutCancel(ctx), job.Key)
		if err != nil {
			t.Fatalf("%s: the finished archive: %v", c.name, err)
		}
		rc.Close()
	}
}

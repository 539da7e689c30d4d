package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// heldDispatcher records dispatched jobs without running them.
type heldDispatcher struct{ jobs []string }

func (d *heldDispatcher) Dispatch(_ context.Context, id string) error {
	d.jobs = append(d.jobs, id)
	return nil
}

func (w *world) status(t *testing.T, user, id string) map[string]any {
	t.Helper()
	resp := w.call(events.APIGatewayProxyRequest{Path: PathStatus, HTTPMethod: "GET",
		Headers:               map[string]string{"X-User-Id": user, "X-Auth-Token": tokenOf(user)},
		QueryStringParameters: map[string]string{"exportId": id}})
	if resp.StatusCode != 200 {
		t.Fatalf("status: %d %s", resp.StatusCode, resp.Body)
	}
	return body(t, resp)["export"].(map[string]any)
}

// newSlowWorld is a world whose inline budget runs out at once: every
// export is handed over to the background after its first checkpoint.
func newSlowWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t, export.Config{InlineBudget: time.Nanosecond})
	seed(t, w)
	w.ticking(time.Millisecond)
	return w
}

func TestBigExportIsQueuedAndDeduplicated(t *testing.T) {
	w := newSlowWorld(t)
	held := &heldDispatcher{}
	w.stack.Service.Dispatcher = held
	resp := w.post("A1", tokenOf("A1"), fileBody("chan", "html"))
	b := body(t, resp)
	if resp.StatusCode != 200 || b["status"] != "queued" || b["url"] != nil {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	id := b["exportId"].(string)
	if st := w.status(t, "A1", id); st["status"] != "queued" || st["total"] != float64(3) {
		t.Fatalf("status = %v", st)
	}
	// The same request again, while it is queued: the same export.
	again := body(t, w.post("A1", tokenOf("A1"), fileBody("chan", "html")))
	if again["exportId"] != id || len(held.jobs) != 1 {
		t.Fatalf("duplicate started another export: %v, dispatched %v", again, held.jobs)
	}
	// A different request is a different export.
	if other := body(t, w.post("A1", tokenOf("A1"), fileBody("chan", "json"))); other["exportId"] == id {
		t.Fatal("a different format shared the export")
	}

	// The worker runs it — twice, as a duplicate delivery would: one export.
	for range 2 {
		if err := w.stack.Service.Run(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	st := w.status(t, "A1", id)
	if st["status"] != "done" || st["exported"] != float64(3) || st["url"] == nil {
		t.Fatalf("status = %v", st)
	}
	if n := countArchives(t, w, id); n != 1 {
		t.Fatalf("%d archives for one export", n)
	}
	// The owner is told by mail, with the link.
	mails := w.outbox()
	if len(mails) != 1 || !strings.Contains(allText(t, mails[0]), "/api/v1/rooms.export.download?") {
		t.Fatalf("%d mails", len(mails))
	}
	if files := w.download(t, st["url"].(string)); len(files) != 2 {
		t.Fatalf("entries %v", keys(files))
	}
}

func TestEmbeddedRunnerFinishesInBackground(t *testing.T) {
	w := newSlowWorld(t)
	b := body(t, w.post("A1", tokenOf("A1"), fileBody("chan", "json")))
	if b["status"] != "queued" {
		t.Fatalf("answer = %v", b)
	}
	w.stack.Runner.Wait()
	if st := w.status(t, "A1", b["exportId"].(string)); st["status"] != "done" {
		t.Fatalf("status = %v", st)
	}
}

// brokenFiles fails every write after the first n bytes.
type brokenFiles struct {
	export.FileStore
	n int
}

type brokenUpload struct {
	export.Upload
	left int
}

func (b brokenFiles) StartUpload(ctx context.Context, key string, info export.ObjectInfo) (export.Upload, error) {
	u, err := b.FileStore.StartUpload(ctx, key, info)
	return &brokenUpload{u, b.n}, err
}

func (b brokenFiles) ResumeUpload(ctx context.Context, key string, info export.ObjectInfo, state []byte) (export.Upload, error) {
	u, err := b.FileStore.ResumeUpload(ctx, key, info, state)
	return &brokenUpload{u, b.n}, err
}

func (b *brokenUpload) Write(p []byte) (int, error) {
	if len(p) > b.left {
		return 0, errors.New("storage unavailable: 503 SlowDown at s3://bucket/key")
	}
	b.left -= len(p)
	return b.Upload.Write(p)
}

func TestStorageFailureEndsCleanly(t *testing.T) {
	w := newSlowWorld(t)
	held := &heldDispatcher{}
	w.stack.Service.Dispatcher = held
	id := body(t, w.post("A1", tokenOf("A1"), fileBody("chan", "html")))["exportId"].(string)
	w.stack.Service.Files = brokenFiles{w.stack.Files, 100}
	if err := w.stack.Service.Run(context.Background(), id); err == nil {
		t.Fatal("a broken store must fail the run")
	}
	st := w.status(t, "A1", id)
	if st["status"] != "failed" || st["url"] != nil || !strings.Contains(st["error"].(string), "could not be written") ||
		strings.Contains(st["error"].(string), "SlowDown") {
		t.Fatalf("status = %v", st)
	}
	if n := countArchives(t, w, id); n != 0 {
		t.Fatalf("a failed export left %d archives", n)
	}
	// The owner of a background export is told.
	if mails := w.outbox(); len(mails) != 1 || !strings.Contains(allText(t, mails[0]), "failed") {
		t.Fatalf("%d mails", len(mails))
	}
	// A failed job is not run again by a late duplicate delivery.
	if err := w.stack.Service.Run(context.Background(), id); err != nil {
		t.Fatal(err)
	}
}

func TestStaleRunningJobIsTakenOver(t *testing.T) {
	w := newSlowWorld(t)
	w.stack.Service.Dispatcher = &heldDispatcher{}
	id := body(t, w.post("A1", tokenOf("A1"), fileBody("chan", "json")))["exportId"].(string)
	// A run that died after claiming the job.
	job, err := w.stack.Store.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	prev := job.UpdatedAt
	job.Status, job.UpdatedAt = chat.JobRunning, prev.Add(time.Millisecond)
	must(t, w.stack.Store.UpdateJob(context.Background(), job, prev))
	must(t, w.stack.Service.Run(context.Background(), id))
	if st := w.status(t, "A1", id); st["status"] != "running" {
		t.Fatalf("a fresh running job must be left alone: %v", st)
	}
	w.advance(20 * time.Minute)
	must(t, w.stack.Service.Run(context.Background(), id))
	if st := w.status(t, "A1", id); st["status"] != "done" {
		t.Fatalf("a stale running job must be taken over: %v", st)
	}
}

// countArchives counts the committed objects of an export in the local store.
func countArchives(t *testing.T, w *world, id string) int {
	t.Helper()
	// Small archives are database objects (localfs.KeepSmall), others files.
	keys, err := w.stack.Store.ObjectKeys(t.Context(), "exports/"+id+"/")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range keys {
		if b, _, err := w.stack.Store.Object(t.Context(), k); err != nil {
			t.Fatal(err)
		} else if bytes.HasPrefix(b, []byte("PK\x03\x04")) {
			n++
		}
	}
	entries, err := os.ReadDir(filepath.Join(w.stack.Dir, "files", "exports", id))
	if errors.Is(err, os.ErrNotExist) {
		return n
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		f, err := os.Open(filepath.Join(w.stack.Dir, "files", "exports", id, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(io.LimitReader(f, 4)); string(b) == "PK\x03\x04" {
			n++
		}
		f.Close()
	}
	return n
}

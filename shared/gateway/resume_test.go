package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

const bigRoomSize = 3000

// seedBigRoom adds bigRoomSize messages to "chan": threads, reactions, and
// every 40th with an uploaded file (bytes in the file store).
func seedBigRoom(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	var msgs []chat.Message
	var uploads []chat.Upload
	start := time.Date(2020, 1, 1, 8, 0, 0, 0, time.UTC)
	for i := range bigRoomSize {
		m := chat.Message{
			ID: fmt.Sprintf("big%05d", i), RoomID: "chan", TS: start.Add(time.Duration(i) * 7 * time.Minute),
			Msg: fmt.Sprintf("message %d: *bold* and _italic_ words about the release %d", i, i%17),
			U:   chat.UserRef{ID: "A1", Username: "user-A1", Name: "User A1"},
		}
		if i%9 == 8 {
			m.ThreadID = fmt.Sprintf("big%05d", i-5)
		}
		if i%13 == 0 {
			m.Reactions = map[string]chat.Reaction{":+1:": {Usernames: []string{"user-U1"}}}
		}
		if i%40 == 0 {
			id := fmt.Sprintf("file%05d", i)
			m.Files = []chat.FileRef{{ID: id, Name: "notes.txt", Type: "text/plain", Size: 300}}
			uploads = append(uploads, chat.Upload{ID: id, RoomID: "chan", Name: "notes.txt", Type: "text/plain", Size: 300, StorageKey: "uploads/" + id})
			blob := bytes.Repeat([]byte(fmt.Sprintf("file %d ", i)), 30)
			must(t, workspace.FileBlobs{Files: w.stack.Files}.PutBlob(ctx, "uploads/"+id, "text/plain", blob))
		}
		msgs = append(msgs, m)
	}
	must(t, w.stack.Store.PutUploads(ctx, uploads))
	must(t, w.stack.Store.PutMessages(ctx, msgs))
}

// newResumeWorld is a world for checkpoint tests: a fixed export id, a
// clock that ticks, small parts so the upload persists often, and frequent
// checkpoints. budget is the worker's budget (0: none).
func newResumeWorld(t *testing.T, inline, worker time.Duration) (*world, *heldDispatcher) {
	t.Helper()
	return newResumeWorldAhead(t, inline, worker, 0, 0)
}

// newResumeWorldAhead is newResumeWorld with Config.AssetsAhead and
// Config.HTMLPerPage set (0: their defaults).
func newResumeWorldAhead(t *testing.T, inline, worker time.Duration, assetsAhead, perPage int) (*world, *heldDispatcher) {
	t.Helper()
	w := newWorld(t, export.Config{InlineBudget: inline, WorkerBudget: worker, CheckpointBytes: 8 << 10, AssetsAhead: assetsAhead, HTMLPerPage: perPage})
	seed(t, w)
	seedBigRoom(t, w)
	w.stack.Files.PartSize = 4 << 10
	w.stack.Service.NewID = func() string { return "ResumeExport0001" }
	held := &heldDispatcher{}
	w.stack.Service.Dispatcher = held
	w.ticking(time.Millisecond)
	return w, held
}

// drain runs dispatched jobs until none is left, as the worker would.
func drain(t *testing.T, w *world, held *heldDispatcher) int {
	t.Helper()
	runs := 0
	for len(held.jobs) > 0 {
		id := held.jobs[0]
		held.jobs = held.jobs[1:]
		if err := w.stack.Service.Run(context.Background(), id); err != nil {
			t.Fatalf("run %d: %v", runs+1, err)
		}
		if runs++; runs > 200 {
			t.Fatal("the export never finishes")
		}
	}
	return runs
}

func archiveBytes(t *testing.T, w *world, id string) []byte {
	t.Helper()
	job, err := w.stack.Store.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != chat.JobDone {
		t.Fatalf("job %s: %s %s", id, job.Status, job.Error)
	}
	rc, err := w.stack.Files.Open(context.Background(), job.Key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestResumeEqualsUninterrupted: an export that runs across many short
// worker runs — each stopping at its budget, leaving a checkpoint and
// handing over — yields the very bytes of the same export done in one go.
// The interrupted runs read ahead (Config.AssetsAhead: the files index,
// and for HTML the thread parents of each page) or not; the uninterrupted
// one does not: reading ahead changes no byte. An HTML book of many pages
// (perPage) takes its snapshots at page starts.
func TestResumeEqualsUninterrupted(t *testing.T) {
	for _, tc := range []struct {
		format  string
		ahead   int
		perPage int
	}{{"json", 0, 0}, {"html", 0, 0}, {"json", 2, 0}, {"html", 2, 0}, {"html", 0, 150}, {"html", 2, 150}} {
		format := tc.format
		t.Run(fmt.Sprintf("%s-ahead%d-perpage%d", format, tc.ahead, tc.perPage), func(t *testing.T) {
			whole, _ := newResumeWorldAhead(t, time.Hour, 0, 0, tc.perPage)
			resp := whole.post("A1", tokenOf("A1"), fileBody("chan", format))
			if body(t, resp)["status"] != "done" {
				t.Fatalf("uninterrupted: %s", resp.Body)
			}
			want := archiveBytes(t, whole, "ResumeExport0001")

			parts, held := newResumeWorldAhead(t, time.Nanosecond, 10*time.Millisecond, tc.ahead, tc.perPage)
			resp = parts.post("A1", tokenOf("A1"), fileBody("chan", format))
			if body(t, resp)["status"] != "queued" {
				t.Fatalf("interrupted: %s", resp.Body)
			}
			runs := drain(t, parts, held)
			if runs < 3 {
				t.Fatalf("only %d worker runs: the budget did not bite", runs)
			}
			got := archiveBytes(t, parts, "ResumeExport0001")
			if !bytes.Equal(got, want) {
				gf, wf := unzip(t, got), unzip(t, want)
				for name, wb := range wf {
					if gb := gf[name]; !bytes.Equal(gb, wb) {
						i := 0
						for i < len(gb) && i < len(wb) && gb[i] == wb[i] {
							i++
						}
						lo := max(0, i-200)
						t.Errorf("entry %s differs at %d:\n got %q\nwant %q", name, i, gb[lo:min(len(gb), i+100)], wb[lo:min(len(wb), i+100)])
					}
				}
				t.Fatalf("resumed archive (%d bytes, %d runs) differs from the uninterrupted one (%d bytes)", len(got), runs, len(want))
			}
			t.Logf("%s: %d bytes, %d worker runs", format, len(got), runs)
			files := unzip(t, got)
			if n := len(files); n < 3 {
				t.Fatalf("entries: %v", keys(files))
			}
			st := parts.status(t, "A1", "ResumeExport0001")
			if st["exported"] != float64(bigRoomSize+3) {
				t.Fatalf("status %v", st)
			}
			if leftovers(t, parts) != 0 {
				t.Fatal("checkpoints or partial uploads left behind")
			}
		})
	}
}

// TestDuplicateDeliveryIsOneExport: two workers handed the same job at
// once produce one export.
func TestDuplicateDeliveryIsOneExport(t *testing.T) {
	w, held := newResumeWorld(t, time.Nanosecond, 0)
	resp := w.post("A1", tokenOf("A1"), fileBody("chan", "json"))
	id := body(t, resp)["exportId"].(string)
	if len(held.jobs) != 1 {
		t.Fatalf("dispatched %v", held.jobs)
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.stack.Service.Run(context.Background(), id)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := countArchives(t, w, id); n != 1 {
		t.Fatalf("%d archives", n)
	}
	if st := w.status(t, "A1", id); st["status"] != "done" {
		t.Fatalf("status %v", st)
	}
}

// TestFailureMidUploadEndsCleanly: storage breaks after several parts were
// persisted and checkpoints saved: the job ends failed with a readable
// reason, and neither an archive, nor a partial upload, nor a checkpoint
// remains.
func TestFailureMidUploadEndsCleanly(t *testing.T) {
	w, held := newResumeWorld(t, time.Nanosecond, 0)
	id := body(t, w.post("A1", tokenOf("A1"), fileBody("chan", "html")))["exportId"].(string)
	w.stack.Service.Files = brokenFiles{w.stack.Files, 40 << 10}
	err := w.stack.Service.Run(context.Background(), held.jobs[0])
	if err == nil {
		t.Fatal("a broken store must fail the run")
	}
	st := w.status(t, "A1", id)
	if st["status"] != "failed" || !strings.Contains(st["error"].(string), "could not be written") {
		t.Fatalf("status %v", st)
	}
	if n := countArchives(t, w, id); n != 0 {
		t.Fatalf("%d archives", n)
	}
	if leftovers(t, w) != 0 {
		t.Fatal("a failed export left checkpoints or partial uploads")
	}
}

// leftovers counts checkpoint objects and unfinished uploads in the local store.
func leftovers(t *testing.T, w *world) int {
	t.Helper()
	n := 0
	for _, dir := range []string{filepath.Join(w.stack.Dir, "files", strings.TrimSuffix(export.CheckpointsPrefix, "/")), filepath.Join(w.stack.Dir, "files", ".tmp")} {
		entries, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		n += len(entries)
	}
	return n
}

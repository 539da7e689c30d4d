package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// opensFirst is a file store that counts the opens of each key and the
// closes of what they returned, and a job store whose CreateJob waits for
// the first open, then fails when createErr is set: an export that opened
// its first file only after creating its job would wait for ever (here:
// until the guard below fails it).
type opensFirst struct {
	export.FileStore
	export.JobStore
	createErr error

	once    sync.Once
	opened  chan struct{}
	mu      sync.Mutex
	opens   map[string]int
	closes  int
	waitErr error
}

func (o *opensFirst) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := o.FileStore.Open(ctx, key)
	o.mu.Lock()
	o.opens[key]++
	o.mu.Unlock()
	o.once.Do(func() { close(o.opened) })
	if err != nil {
		return nil, err
	}
	return &countedCloser{ReadCloser: rc, o: o}, nil
}

type countedCloser struct {
	io.ReadCloser
	o *opensFirst
}

func (c *countedCloser) Close() error {
	c.o.mu.Lock()
	c.o.closes++
	c.o.mu.Unlock()
	return c.ReadCloser.Close()
}

func (o *opensFirst) CreateJob(ctx context.Context, job chat.Job) error {
	select {
	case <-o.opened:
	case <-time.After(10 * time.Second): // a guard against hanging, not a timing check
		o.mu.Lock()
		o.waitErr = context.DeadlineExceeded
		o.mu.Unlock()
	}
	if o.createErr != nil {
		return o.createErr
	}
	return o.JobStore.CreateJob(ctx, job)
}

// filesRoom puts n messages in room chan, each with a file of its own
// under uploads/open-i holding "file i".
func filesRoom(t *testing.T, w *world, n int) {
	t.Helper()
	ctx := context.Background()
	start := time.Date(2020, 6, 1, 8, 0, 0, 0, time.UTC)
	var msgs []chat.Message
	var uploads []chat.Upload
	for i := range n {
		id, key := fmt.Sprintf("of%03d", i), fmt.Sprintf("uploads/open-%d", i)
		must(t, workspace.FileBlobs{Files: w.stack.Files}.PutBlob(ctx, key, "text/plain", []byte(fmt.Sprintf("file %d", i))))
		f := chat.FileRef{ID: id, Name: id + ".txt", Type: "text/plain", Size: 6}
		msgs = append(msgs, chat.Message{ID: "m" + id, RoomID: "chan", TS: start.Add(time.Duration(i) * time.Minute), Msg: "a file",
			U: chat.UserRef{ID: "A1", Username: "user-A1"}, Files: []chat.FileRef{f}})
		uploads = append(uploads, chat.Upload{ID: id, RoomID: "chan", Name: f.Name, Type: f.Type, Size: f.Size, StorageKey: key})
	}
	must(t, w.stack.Store.PutUploads(ctx, uploads))
	must(t, w.stack.Store.PutMessages(ctx, msgs))
}

// TestFirstFilesReadWithTheJobCreation: on a store whose reads are round
// trips, a small export starts reading the first files of its first page
// while its job is being created, each file is opened once in all (the
// rest read ahead by the assets pass), and the archive holds every file's
// bytes.
func TestFirstFilesReadWithTheJobCreation(t *testing.T) {
	w := newWorld(t, export.Config{InlineBudget: time.Hour, AssetsAhead: 2})
	seed(t, w)
	filesRoom(t, w, 6)
	w.stack.Service.NewID = func() string { return "OpenAheadExport01" }
	o := &opensFirst{FileStore: w.stack.Service.Files, JobStore: w.stack.Service.Jobs, opened: make(chan struct{}), opens: map[string]int{}}
	w.stack.Service.Files, w.stack.Service.Jobs = o, o

	resp := w.post("A1", tokenOf("A1"), fileBody("chan", "json"))
	if b := body(t, resp); b["status"] != "done" {
		t.Fatalf("export: %s", resp.Body)
	}
	if o.waitErr != nil {
		t.Fatal("the job was created before any file was opened")
	}
	files := unzip(t, archiveBytes(t, w, "OpenAheadExport01"))
	for i := range 6 {
		key := fmt.Sprintf("uploads/open-%d", i)
		if n := o.opens[key]; n != 1 {
			t.Errorf("%s opened %d times, want once", key, n)
		}
		if got, want := string(files[fmt.Sprintf("assets/of%03d-of%03d.txt", i, i)]), fmt.Sprintf("file %d", i); got != want {
			t.Errorf("asset %d: %q, want %q", i, got, want)
		}
	}
	if o.closes != 6 {
		t.Errorf("%d of 6 opened files closed", o.closes)
	}
}

// TestFilesReadAheadAreClosed: when the job's creation fails after the
// first files were opened to be read ahead, the export fails and every file
// opened is closed again before the answer.
func TestFilesReadAheadAreClosed(t *testing.T) {
	w := newWorld(t, export.Config{InlineBudget: time.Hour, AssetsAhead: 2})
	seed(t, w)
	filesRoom(t, w, 6)
	o := &opensFirst{FileStore: w.stack.Service.Files, JobStore: w.stack.Service.Jobs, opened: make(chan struct{}), opens: map[string]int{},
		createErr: errors.New("the jobs table is gone")}
	w.stack.Service.Files, w.stack.Service.Jobs = o, o

	resp := w.post("A1", tokenOf("A1"), fileBody("chan", "json"))
	if resp.StatusCode < 500 {
		t.Fatalf("export with a failing job store: %d %s", resp.StatusCode, resp.Body)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	opened := 0
	for _, n := range o.opens {
		opened += n
	}
	if opened == 0 || opened > 4 {
		t.Errorf("%d files read ahead, want 1 to 4", opened)
	}
	if o.closes != opened {
		t.Errorf("%d of the %d files read ahead closed", o.closes, opened)
	}
}

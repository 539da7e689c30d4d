package gateway

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// countingFiles is a MessageStore that counts FileMessages calls.
type countingFiles struct {
	export.MessageStore
	calls atomic.Int64
}

func (c *countingFiles) FileMessages(ctx context.Context, q export.MessageQuery) ([]chat.Message, bool, error) {
	c.calls.Add(1)
	return c.MessageStore.FileMessages(ctx, q)
}

// TestAssetsFromTheDocumentPass: with a remote store (Config.AssetsAhead),
// a run that renders the whole document remembers its messages with files
// and copies their uploads without reading the files index — unless they
// are too many to keep, when it reads the index after all. Either way the
// archive is the one the index-reading export makes, byte for byte.
func TestAssetsFromTheDocumentPass(t *testing.T) {
	for _, tc := range []struct {
		files     int
		nameLen   int
		wantIndex bool
	}{{30, 10, false}, {4000, 400, true}} {
		t.Run(fmt.Sprintf("%d-files", tc.files), func(t *testing.T) {
			run := func(ahead int) ([]byte, int64) {
				w := newWorld(t, export.Config{InlineBudget: time.Hour, AssetsAhead: ahead})
				seed(t, w)
				fileRoom(t, w, tc.files, tc.nameLen)
				w.stack.Service.NewID = func() string { return "SeenFilesExport01" }
				counted := &countingFiles{MessageStore: w.stack.Service.Messages}
				w.stack.Service.Messages = counted
				resp := w.post("A1", tokenOf("A1"), fileBody("chan", "json"))
				if b := body(t, resp); b["status"] != "done" {
					t.Fatalf("export (ahead %d): %s", ahead, resp.Body)
				}
				return archiveBytes(t, w, "SeenFilesExport01"), counted.calls.Load()
			}
			want, _ := run(0)
			got, calls := run(2)
			if !bytes.Equal(got, want) {
				t.Fatalf("archive with the remembered files (%d bytes) differs from the index-reading one (%d bytes)", len(got), len(want))
			}
			if read := calls > 0; read != tc.wantIndex {
				t.Errorf("%d files: %d FileMessages calls, want the index read: %v", tc.files, calls, tc.wantIndex)
			}
			if n := len(unzip(t, got)); n < tc.files {
				t.Errorf("%d entries for %d files", n, tc.files)
			}
		})
	}
}

// fileRoom adds n messages to "chan", each with its own upload, named with
// about nameLen characters; the uploads share one stored blob.
func fileRoom(t *testing.T, w *world, n, nameLen int) {
	t.Helper()
	ctx := context.Background()
	must(t, workspace.FileBlobs{Files: w.stack.Files}.PutBlob(ctx, "uploads/shared", "text/plain", []byte("the shared file")))
	start := time.Date(2020, 6, 1, 8, 0, 0, 0, time.UTC)
	msgs := make([]chat.Message, n)
	uploads := make([]chat.Upload, n)
	for i := range msgs {
		id := fmt.Sprintf("sf%05d", i)
		name := fmt.Sprintf("report %d %s.txt", i, strings.Repeat("x", nameLen))
		f := chat.FileRef{ID: id, Name: name, Type: "text/plain", Size: 15}
		msgs[i] = chat.Message{ID: "m" + id, RoomID: "chan", TS: start.Add(time.Duration(i) * time.Minute), Msg: "a file",
			U: chat.UserRef{ID: "A1", Username: "user-A1"}, Files: []chat.FileRef{f}}
		uploads[i] = chat.Upload{ID: id, RoomID: "chan", Name: f.Name, Type: f.Type, Size: f.Size, StorageKey: "uploads/shared"}
	}
	must(t, w.stack.Store.PutUploads(ctx, uploads))
	must(t, w.stack.Store.PutMessages(ctx, msgs))
}

package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// Files are copied into assets/ from their upload records (looked up a page
// at a time); a file whose record or bytes are gone is listed in the
// manifest as skipped, with the reason, and the export still succeeds.
func TestAssetsAndSkippedFiles(t *testing.T) {
	for _, ahead := range []int{0, 2} {
		t.Run(fmt.Sprintf("ahead%d", ahead), func(t *testing.T) { testAssetsAndSkippedFiles(t, ahead) })
	}
}

func testAssetsAndSkippedFiles(t *testing.T, assetsAhead int) {
	w := newWorld(t, export.Config{PageSize: 4, AssetsAhead: assetsAhead}) // several pages of lookups
	seed(t, w)
	ctx := context.Background()
	var msgs []chat.Message
	var uploads []chat.Upload
	want := map[string][]byte{} // asset path -> bytes
	skipped := map[string]string{}
	for i := range 11 {
		id := fmt.Sprintf("up%02d", i)
		f := chat.FileRef{ID: id, Name: fmt.Sprintf("notes %d.txt", i), Type: "text/plain", Size: 20}
		msgs = append(msgs, chat.Message{
			ID: fmt.Sprintf("fm%02d", i), RoomID: "chan", Msg: "see the file",
			TS: time.Date(2021, 3, 5, 10, i, 0, 0, time.UTC), U: chat.UserRef{ID: "A1", Username: "user-A1"},
			Files: []chat.FileRef{f},
		})
		switch i % 4 {
		case 1: // no upload record
			skipped[id] = "upload record not found"
			continue
		case 2: // a record, but no bytes
			skipped[id] = "file content not found"
		default:
			blob := []byte(fmt.Sprintf("content of file %d", i))
			must(t, workspace.FileBlobs{Files: w.stack.Files}.PutBlob(ctx, "uploads/"+id, "text/plain", blob))
			want[chat.AssetPath(f)] = blob
		}
		uploads = append(uploads, chat.Upload{ID: id, RoomID: "chan", Name: f.Name, Type: f.Type, Size: f.Size, StorageKey: "uploads/" + id})
	}
	must(t, w.stack.Store.PutUploads(ctx, uploads))
	must(t, w.stack.Store.PutMessages(ctx, msgs))

	resp := w.post("A1", tokenOf("A1"), fileBody("chan", "json"))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	files := w.download(t, body(t, resp)["url"].(string))
	for name, blob := range want {
		if !bytes.Equal(files[name], blob) {
			t.Errorf("%s = %q, want %q", name, files[name], blob)
		}
	}
	var man struct {
		Assets       int `json:"assets"`
		SkippedCount int `json:"skippedCount"`
		Skipped      []struct {
			FileID string `json:"fileId"`
			Reason string `json:"reason"`
		} `json:"skipped"`
	}
	if err := json.Unmarshal(files["manifest.json"], &man); err != nil {
		t.Fatal(err)
	}
	if man.Assets != len(want) || man.SkippedCount != len(skipped) || len(man.Skipped) != len(skipped) {
		t.Fatalf("manifest = %s; want %d assets, %d skipped", files["manifest.json"], len(want), len(skipped))
	}
	for _, s := range man.Skipped {
		if skipped[s.FileID] != s.Reason {
			t.Errorf("skipped %s: %q, want %q", s.FileID, s.Reason, skipped[s.FileID])
		}
	}
}

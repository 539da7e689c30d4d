package browser

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/demo"
	"github.com/rooms-export/rooms-export/shared/embedded"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// demoNow is the clock of the demo export: fixed, so that the export time in
// the page header (and so the screenshots) do not change from run to run.
var demoNow = time.Date(2021, 11, 26, 9, 30, 0, 0, time.UTC)

// manifest is the part of manifest.json the tests read.
type manifest struct {
	Messages int64 `json:"messages"`
	Assets   int   `json:"assets"`
	Room     struct {
		ID   string `json:"_id"`
		Name string `json:"name"`
	} `json:"room"`
	TimeZone string `json:"timezone"`
}

// exportDemo runs the real export end to end on the embedded default —
// the demo workspace loaded into a fresh data directory, rooms.export called
// with the admin's credentials — and unpacks the archive into a directory.
func exportDemo(t *testing.T, body string) (dir string, man manifest) {
	t.Helper()
	ctx := context.Background()
	stack, err := embedded.Open(t.TempDir(), export.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stack.Close() })
	stack.Service.Now = func() time.Time { return demoNow }
	if _, err := demo.Load(ctx, stack.Store, workspace.FileBlobs{Files: stack.Files}, demoNow); err != nil {
		t.Fatal(err)
	}
	res, err := stack.Service.Export(ctx, export.Credentials{UserID: demo.AdminID, Token: demo.AdminToken}, []byte(body), "http://127.0.0.1:3000")
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if res.Status != chat.JobDone {
		t.Fatalf("export status %q, want done", res.Status)
	}
	job, err := stack.Store.Job(ctx, res.ExportID)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := stack.Files.Open(ctx, job.Key)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	unzip(t, data, dir)
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &man); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	return dir, man
}

// unzip unpacks an archive, refusing any entry that would land outside dir.
func unzip(t *testing.T, data []byte, dir string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("open zip: %v", err)
	}
	for _, f := range zr.File {
		if !filepath.IsLocal(f.Name) {
			t.Fatalf("zip entry %q leaves the folder", f.Name)
		}
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("read %s: %v", f.Name, err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// loadImages makes lazy images load now and returns each image's
// naturalWidth (0 when it could not be loaded).
const loadImages = `Promise.all([...document.images].map(img => {
  img.loading = "eager";
  return img.decode().then(() => img.naturalWidth, () => 0);
}))`

func TestDemoExportRendersInChromium(t *testing.T) {
	s := newSession(t)
	dir, man := exportDemo(t, `{"rid": "`+demo.GeneralRoomID+`", "type": "file", "dateFrom": "2000-01-01", "dateTo": "2021-11-25", "format": "html"}`)
	if man.Messages < 100 || man.Assets == 0 {
		t.Fatalf("the demo export is too small to show anything: %d messages, %d assets", man.Messages, man.Assets)
	}
	pagePath := filepath.Join(dir, demo.GeneralRoomID+".html")
	s.open(pagePath)

	title := eval[string](s, `document.title`)
	articles := eval[int](s, `document.querySelectorAll("article.msg").length`)
	systems := eval[int](s, `document.querySelectorAll("article.msg.system").length`)
	replies := eval[int](s, `document.querySelectorAll("article.msg.reply").length`)
	reactions := eval[int](s, `document.querySelectorAll("ul.reactions li").length`)
	days := eval[int](s, `document.querySelectorAll("h2.day").length`)
	if title != "general · Room export" {
		t.Errorf("title %q", title)
	}
	if int64(articles) != man.Messages {
		t.Errorf("the page shows %d messages, the manifest counts %d", articles, man.Messages)
	}
	if systems == 0 || replies == 0 || reactions == 0 || days < 10 {
		t.Errorf("kinds of messages missing: %d system, %d replies, %d reactions, %d days", systems, replies, reactions, days)
	}

	widths := eval[[]float64](s, loadImages)
	if len(widths) == 0 {
		t.Errorf("the page shows no image, though the archive holds %d assets", man.Assets)
	}
	for i, w := range widths {
		if w <= 0 {
			t.Errorf("image %d did not load from assets/ (naturalWidth %v)", i, w)
		}
	}

	// Light and dark: the colour scheme changes the page's colours.
	background := map[string]string{}
	for _, mode := range []string{"light", "dark"} {
		s.scheme(mode)
		background[mode] = eval[string](s, `window.scrollTo(0, 0); getComputedStyle(document.documentElement).backgroundColor`)
		s.screenshot("demo-general-" + mode)
		eval[bool](s, `document.querySelector("ul.files img").closest("article").scrollIntoView({block: "center"}); true`)
		s.screenshot("demo-general-files-" + mode)
	}
	if background["light"] != "rgb(255, 255, 255)" || background["dark"] == background["light"] {
		t.Errorf("backgrounds light %q, dark %q: prefers-color-scheme has no effect", background["light"], background["dark"])
	}

	// The page made no request but itself and its assets, and no dialog.
	requests, dialogs := s.seen()
	checkNoForeignRequests(t, pagePath, requests)
	if len(dialogs) > 0 {
		t.Errorf("dialogs opened: %v", dialogs)
	}
	assetLoads := 0
	for _, r := range requests {
		if strings.Contains(r, "/assets/") {
			assetLoads++
		}
	}
	if assetLoads == 0 {
		t.Errorf("no image was requested from assets/")
	}
}

func TestDemoExportFollowsTheTimeZone(t *testing.T) {
	s := newSession(t)
	dir, man := exportDemo(t, `{"rid": "`+demo.GeneralRoomID+`", "type": "file", "dateFrom": "2000-01-01", "dateTo": "2021-11-25", "format": "html", "timezone": "Asia/Tokyo"}`)
	if man.TimeZone != "Asia/Tokyo" {
		t.Fatalf("manifest time zone %q", man.TimeZone)
	}
	s.open(filepath.Join(dir, demo.GeneralRoomID+".html"))
	zone := eval[string](s, `[...document.querySelectorAll("header.room dt")].find(dt => dt.textContent === "Time zone").nextElementSibling.textContent`)
	articles := eval[int](s, `document.querySelectorAll("article.msg").length`)
	if zone != "Asia/Tokyo" || int64(articles) != man.Messages {
		t.Errorf("zone %q, %d messages (manifest %d)", zone, articles, man.Messages)
	}
	// Every message time is rendered in Tokyo (UTC+9): its datetime says so.
	offsets := eval[[]string](s, `[...new Set([...document.querySelectorAll("article.msg a.time time")].map(t => t.getAttribute("datetime").slice(-6)))]`)
	if len(offsets) != 1 || offsets[0] != "+09:00" {
		t.Errorf("message times carry offsets %v, want only +09:00", offsets)
	}
}

package gateway

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rooms-export/rooms-export/shared/demo"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// eventsDir holds the sample API Gateway events; every one is read here.
const eventsDir = "../../events"

// ExpectedFile holds the expected answer of each sample REST API event
// against the demo workspace: {"<file>": {"status": 400, "errorType": "..."}}.
// The end-to-end test of the real binary reads it too.
const expectedFile = "expected.json"

type expectation struct {
	Status    int    `json:"status"`
	ErrorType string `json:"errorType"`
}

func loadExpected(t *testing.T) map[string]expectation {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(eventsDir, expectedFile))
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]expectation
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatalf("%s: %v", expectedFile, err)
	}
	return exp
}

// newDemoWorld is a world seeded with the demo workspace.
func newDemoWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t, export.Config{})
	if _, err := demo.Load(context.Background(), w.stack.Store, workspace.FileBlobs{Files: w.stack.Files}, w.now); err != nil {
		t.Fatal(err)
	}
	w.h.PublicURL = "" // links derive from the event's domain and stage
	return w
}

// LoadEvent reads a sample event.
func loadEvent(t *testing.T, name string) events.APIGatewayProxyRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(eventsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

func TestSampleEvents(t *testing.T) {
	names, err := filepath.Glob(filepath.Join(eventsDir, "*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no events: %v", err)
	}
	expected := loadExpected(t)
	w := newDemoWorld(t)
	seen := map[string]bool{}
	for _, path := range names {
		name := filepath.Base(path)
		if name == expectedFile {
			continue
		}
		ev := loadEvent(t, name)
		if ev.HTTPMethod == "" {
			continue // not a REST API event (the worker's events are read by its own tests)
		}
		seen[name] = true
		want, ok := expected[name]
		if !ok {
			t.Errorf("%s: no expectation; add it to the table", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			resp := w.call(ev)
			if want.ErrorType != "" {
				wantError(t, resp, want.Status, want.ErrorType)
				return
			}
			if resp.StatusCode != want.Status || body(t, resp)["success"] != true {
				t.Fatalf("%d %s", resp.StatusCode, resp.Body)
			}
			if link, _ := body(t, resp)["url"].(string); link != "" {
				if !strings.HasPrefix(link, "https://abcdef1234.execute-api.eu-west-1.amazonaws.com/prod/api/v1/rooms.export.download?") {
					t.Fatalf("link = %s", link)
				}
				if files := w.download(t, link); len(files) < 2 {
					t.Fatalf("archive entries: %v", keys(files))
				}
			}
		})
	}
	for name := range expected {
		if !seen[name] {
			t.Errorf("expected %s in %s", name, eventsDir)
		}
	}
}

// TestDocumentationExample is the curl of Rocket.Chat's documentation,
// against the demo workspace: the ZIP's <rid>.html shows the room's messages
// of that range, and the JSON form is newline-delimited.
func TestDocumentationExample(t *testing.T) {
	w := newDemoWorld(t)
	resp := w.call(loadEvent(t, "export-file-html.json"))
	files := w.download(t, body(t, resp)["url"].(string))
	html := string(files[demo.GeneralRoomID+".html"])
	if !strings.Contains(html, "<html") || !strings.Contains(html, "Content-Security-Policy") {
		t.Fatalf("not a CSP-protected page: %.300s", html)
	}
	if strings.Contains(html, "<script>alert(1)</script>") || strings.Contains(html, "<img src=x onerror") {
		t.Fatal("message HTML reached the page unescaped")
	}
	var man struct {
		Messages int64 `json:"messages"`
		Assets   int   `json:"assets"`
	}
	if err := json.Unmarshal(files["manifest.json"], &man); err != nil {
		t.Fatal(err)
	}
	if man.Messages < 1000 || man.Assets == 0 {
		t.Fatalf("manifest: %+v", man)
	}
	for name := range files {
		if strings.HasPrefix(name, "assets/") && len(files[name]) == 0 {
			t.Fatalf("empty asset %s", name)
		}
	}

	resp = w.call(loadEvent(t, "export-file-json.json"))
	files = w.download(t, body(t, resp)["url"].(string))
	doc := files["general.json"]
	lines := strings.Split(strings.TrimSpace(string(doc)), "\n")
	if int64(len(lines)) != man.Messages {
		t.Fatalf("%d JSON lines, %d HTML messages", len(lines), man.Messages)
	}
	var prev time.Time
	for i, l := range lines {
		var m struct {
			TS time.Time `json:"ts"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if m.TS.Before(prev) {
			t.Fatalf("line %d out of order", i+1)
		}
		prev = m.TS
	}
}

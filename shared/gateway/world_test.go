package gateway

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/embedded"
	"github.com/rooms-export/rooms-export/shared/export"
)

// world is a handler on the embedded default, in a temporary directory,
// with a clock the test controls and the log captured.
type world struct {
	t     *testing.T
	stack *embedded.Stack
	h     *Handler
	files *httptest.Server
	logs  *syncBuffer
	now   time.Time
	nowMu sync.Mutex
	// tick advances the clock on every reading, so that budgets measured
	// on it run out as work is done (zero: the clock stands still).
	tick time.Duration
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newWorld(t *testing.T, cfg export.Config) *world {
	t.Helper()
	w := &world{t: t, logs: &syncBuffer{}, now: time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)}
	log := slog.New(slog.NewJSONHandler(w.logs, nil))
	st, err := embedded.Open(t.TempDir(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	st.Service.Now = w.clock
	w.stack = st
	w.files = httptest.NewServer(st.Files.Handler(w.clock))
	st.SetBaseURL(w.files.URL)
	w.h = &Handler{Service: st.Service, Log: log, PublicURL: "https://exports.example.com"}
	t.Cleanup(func() {
		w.files.Close()
		st.Close()
	})
	return w
}

func (w *world) clock() time.Time {
	w.nowMu.Lock()
	defer w.nowMu.Unlock()
	w.now = w.now.Add(w.tick)
	return w.now
}

// ticking makes every reading of the clock advance it by d.
func (w *world) ticking(d time.Duration) {
	w.nowMu.Lock()
	defer w.nowMu.Unlock()
	w.tick = d
}

func (w *world) advance(d time.Duration) {
	w.nowMu.Lock()
	defer w.nowMu.Unlock()
	w.now = w.now.Add(d)
}

// post calls rooms.export as a REST API proxy event would.
func (w *world) post(user, token, body string) events.APIGatewayProxyResponse {
	w.t.Helper()
	ev := events.APIGatewayProxyRequest{
		Path: PathExport, HTTPMethod: "POST", Body: body,
		Headers:        map[string]string{"Content-Type": "application/json"},
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-test", Stage: "prod", DomainName: "abc.execute-api.eu-west-1.amazonaws.com"},
	}
	if user != "" {
		ev.Headers["X-User-Id"] = user
	}
	if token != "" {
		ev.Headers["x-auth-token"] = token // any case works
	}
	return w.call(ev)
}

func (w *world) call(ev events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
	w.t.Helper()
	resp, err := w.h.Handle(context.Background(), ev)
	if err != nil {
		w.t.Fatalf("Handle returned an error (would be a 502): %v", err)
	}
	return resp
}

// body decodes a JSON answer.
func body(t *testing.T, resp events.APIGatewayProxyResponse) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &m); err != nil {
		t.Fatalf("answer is not JSON: %q", resp.Body)
	}
	return m
}

// wantError checks an error answer against the envelope of SPEC §1.1.
func wantError(t *testing.T, resp events.APIGatewayProxyResponse, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, status, resp.Body)
	}
	if resp.Headers["Content-Type"] != "application/json" || resp.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("headers = %v", resp.Headers)
	}
	m := body(t, resp)
	if m["success"] != false {
		t.Fatalf("success = %v", m["success"])
	}
	if code == chat.CodeUnauthorized {
		if m["error"] != "unauthorized" || len(m) != 2 {
			t.Fatalf("401 body = %s", resp.Body)
		}
		return
	}
	if m["errorType"] != code {
		t.Fatalf("errorType = %v, want %s (%s)", m["errorType"], code, resp.Body)
	}
	if e, _ := m["error"].(string); !strings.HasSuffix(e, "["+code+"]") {
		t.Fatalf("error = %q, want it to end in [%s]", e, code)
	}
}

// download follows an export's link: the API's signed link, its redirect,
// and the presigned file URL. It returns the archive's entries.
func (w *world) download(t *testing.T, link string) map[string][]byte {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	// API Gateway's REST events carry the path without the stage.
	path := u.Path[strings.Index(u.Path, "/api/"):]
	resp := w.call(events.APIGatewayProxyRequest{Path: path, HTTPMethod: "GET", QueryStringParameters: query(t, link)})
	if resp.StatusCode != 302 {
		t.Fatalf("download link: %d %s", resp.StatusCode, resp.Body)
	}
	got, err := http.Get(resp.Headers["Location"])
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	data, _ := io.ReadAll(got.Body)
	if got.StatusCode != 200 {
		t.Fatalf("presigned URL: %d %s", got.StatusCode, data)
	}
	return unzip(w.t, data)
}

func unzip(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("not a ZIP: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		out[f.Name] = b
	}
	return out
}

// outbox returns the mails in the Maildir, oldest first.
func (w *world) outbox() [][]byte {
	w.t.Helper()
	dir := filepath.Join(w.stack.Dir, "outbox", "new")
	entries, err := os.ReadDir(dir)
	if err != nil {
		w.t.Fatal(err)
	}
	var mails [][]byte
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			w.t.Fatal(err)
		}
		mails = append(mails, b)
	}
	return mails
}

package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/demo"
	"github.com/rooms-export/rooms-export/shared/embedded"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/gateway"
)

// TestLocalServer is `make run` and the README's curl, in-process: a real
// HTTP request becomes a proxy event, the answer's link redirects to a
// signed file URL, and the file is the ZIP.
func TestLocalServer(t *testing.T) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	stack, err := embedded.Open(t.TempDir(), export.Config{}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	if seeded, err := seedIfEmpty(context.Background(), stack, false); err != nil || !seeded {
		t.Fatalf("first start must seed: %v %v", seeded, err)
	}
	if seeded, err := seedIfEmpty(context.Background(), stack, false); err != nil || seeded {
		t.Fatalf("second start must not seed again: %v %v", seeded, err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	stack.SetBaseURL(base)
	srv.Config.Handler = NewMux(&gateway.Handler{Service: stack.Service, Log: log, PublicURL: base}, stack.Files.Handler(time.Now))
	srv.Start()
	defer srv.Close()

	body := `{"rid": "iu7jtPAhvEeAS5tNq", "type": "file", "dateFrom": "2000-01-01", "dateTo": "2021-11-25", "format": "html"}`
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/rooms.export", strings.NewReader(body))
	req.Header.Set("X-User-Id", demo.AdminID)
	req.Header.Set("X-Auth-Token", demo.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		Success bool   `json:"success"`
		URL     string `json:"url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != 200 || !answer.Success {
		t.Fatalf("%d %+v %v", resp.StatusCode, answer, err)
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}

	got, err := http.Get(answer.URL) // follows the redirect to /files/...
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	data, _ := io.ReadAll(got.Body)
	if got.StatusCode != 200 || !strings.Contains(got.Header.Get("Content-Disposition"), ".zip") {
		t.Fatalf("download: %d %v", got.StatusCode, got.Header)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if !strings.Contains(strings.Join(names, " "), demo.GeneralRoomID+".html") {
		t.Fatalf("entries %v", names)
	}

	// Headers keep working in any case, as API Gateway delivers them.
	req, _ = http.NewRequest("GET", srv.URL+"/api/v1/rooms.export.status?exportId=nope", nil)
	req.Header.Set("x-user-id", demo.AdminID)
	req.Header.Set("x-auth-token", demo.AdminToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("status of an unknown export: %d", resp.StatusCode)
	}
}

func TestToEvent(t *testing.T) {
	r := httptest.NewRequest("GET", "http://127.0.0.1:3000/api/v1/rooms.export.status?exportId=abc&x=1&x=2", nil)
	r.Header.Set("X-Auth-Token", "t")
	ev, err := ToEvent(r)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Path != "/api/v1/rooms.export.status" || ev.HTTPMethod != "GET" || ev.QueryStringParameters["exportId"] != "abc" ||
		len(ev.MultiValueQueryStringParameters["x"]) != 2 || ev.Headers["X-Auth-Token"] != "t" || ev.RequestContext.RequestID == "" {
		t.Fatalf("event = %+v", ev)
	}
}

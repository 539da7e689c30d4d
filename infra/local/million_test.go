package main

import (
	"archive/zip"
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMillionMessageExport runs the real local server (built without the
// race detector, as `make run` runs it) on a generated room of one million
// messages and exports it as JSON: the answer is "queued", the status
// reports progress, and the archive holds exactly a million lines.
func TestMillionMessageExport(t *testing.T) {
	const n = 1_000_000
	dir := t.TempDir()
	bin := filepath.Join(dir, "local")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	env := append(os.Environ(), "DATA_DIR="+data, "LOG_LEVEL=error")
	gen := exec.Command(bin, "-generate", fmt.Sprint(n))
	gen.Env = env
	out, err := gen.Output()
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	var room struct {
		RID, UserID, Token string
		Messages           int
	}
	if err := json.Unmarshal(out, &room); err != nil || room.Messages != n {
		t.Fatalf("generated %s: %v", out, err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := exec.Command(bin)
	srv.Env = append(env, fmt.Sprintf("PORT=%d", port))
	srv.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Signal(os.Interrupt); srv.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	call := func(method, path, body string) map[string]any {
		t.Helper()
		for range 100 {
			req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
			req.Header.Set("X-User-Id", room.UserID)
			req.Header.Set("X-Auth-Token", room.Token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil { // not listening yet
				time.Sleep(100 * time.Millisecond)
				continue
			}
			defer resp.Body.Close()
			var m map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s %s: %d %v %v", method, path, resp.StatusCode, m, err)
			}
			return m
		}
		t.Fatal("the server did not start")
		return nil
	}
	answer := call("POST", "/api/v1/rooms.export", fmt.Sprintf(`{"rid":%q,"type":"file","format":"json"}`, room.RID))
	id, _ := answer["exportId"].(string)
	if id == "" {
		t.Fatalf("answer %v", answer)
	}
	var st map[string]any
	for deadline := time.Now().Add(20 * time.Minute); ; {
		st = call("GET", "/api/v1/rooms.export.status?exportId="+id, "")["export"].(map[string]any)
		if st["status"] == "done" || st["status"] == "failed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if st["status"] != "done" || st["exported"] != float64(n) || st["total"] != float64(n) {
		t.Fatalf("status %v", st)
	}

	// Download the archive through its link and count the document's lines.
	resp, err := http.Get(st["url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	zipPath := filepath.Join(dir, "export.zip")
	f, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		t.Fatal(err)
	}
	f.Close()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	lines := 0
	for _, e := range zr.File {
		if !strings.HasSuffix(e.Name, ".json") || e.Name == "manifest.json" {
			continue
		}
		rc, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines++
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	if lines != n {
		t.Fatalf("the archive holds %d lines, want %d", lines, n)
	}
}

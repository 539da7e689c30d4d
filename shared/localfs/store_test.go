package localfs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/storetest"
)

var _ export.FileStore = (*Store)(nil)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// served is a store whose Handler runs on an httptest server, with the base
// URL set to it, as the local server wires it.
func served(t *testing.T, handlerNow func() time.Time) (*Store, *httptest.Server) {
	t.Helper()
	s, err := New(t.TempDir(), testSecret, "")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(s.Handler(handlerNow))
	t.Cleanup(srv.Close)
	s.SetBaseURL(srv.URL)
	return s, srv
}

func TestFileStoreContract(t *testing.T) {
	storetest.RunFileStore(t, func(t *testing.T) export.FileStore {
		s, _ := served(t, time.Now)
		return s
	})
}

func put(t *testing.T, s *Store, key, content string) {
	t.Helper()
	w, err := s.Create(t.Context(), key, export.ObjectInfo{})
	if err != nil {
		t.Fatalf("Create %s: %v", key, err)
	}
	if _, err := io.WriteString(w, content); err != nil {
		t.Fatalf("Write %s: %v", key, err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit %s: %v", key, err)
	}
}

// files lists the regular files under dir, relative and slash-separated.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNewChecksArguments(t *testing.T) {
	dir := t.TempDir()
	if _, err := New("", testSecret, ""); err == nil {
		t.Error("New with an empty dir succeeded")
	}
	if _, err := New(dir, []byte("short"), ""); err == nil {
		t.Error("New with a 5-byte key succeeded")
	}
	for _, base := range []string{"ftp://host", "http://", "not a url", "http://h/?q=1", "http://u:p@h"} {
		if _, err := New(dir, testSecret, base); err == nil {
			t.Errorf("New with base URL %q succeeded", base)
		}
	}
	s, err := New(filepath.Join(dir, "objects"), testSecret, "http://127.0.0.1:9/")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "objects", ".tmp")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf(".tmp: %v %v", fi, err)
	}
	s.Now = func() time.Time { return time.Unix(1000, 0) }
	link, err := s.PresignGet(t.Context(), "a.zip", "a.zip", time.Second)
	if err != nil || !strings.HasPrefix(link, "http://127.0.0.1:9/files/a.zip?") {
		t.Errorf("PresignGet = %q, %v; want the trailing slash of the base dropped", link, err)
	}
}

func TestCommitMovesIntoPlace(t *testing.T) {
	s, err := New(t.TempDir(), testSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	w, err := s.Create(ctx, "exports/room/2024/archive.zip", export.ObjectInfo{})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := io.WriteString(w, "zip bytes"); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got := files(t, s.dir)
	if len(got) != 1 || !strings.HasPrefix(got[0], ".tmp/") {
		t.Fatalf("before Commit the store holds %v, want one file under .tmp/", got)
	}
	if fi, err := os.Stat(filepath.Join(s.dir, got[0])); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("temporary file mode: %v %v", fi, err)
	}
	if _, err := s.Open(ctx, "exports/room/2024/archive.zip"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("Open before Commit = %v, want ErrNotFound", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got := files(t, s.dir); len(got) != 1 || got[0] != "exports/room/2024/archive.zip" {
		t.Fatalf("after Commit the store holds %v", got)
	}
	if err := w.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after Commit = %v, want a no-op", err)
	}
	r, err := s.Open(ctx, "exports/room/2024/archive.zip")
	if err != nil {
		t.Fatalf("Open after Abort-after-Commit: %v", err)
	}
	b, _ := io.ReadAll(r)
	_ = r.Close()
	if string(b) != "zip bytes" {
		t.Errorf("object = %q", b)
	}
}

func TestAbortRemovesTemporaryFile(t *testing.T) {
	s, err := New(t.TempDir(), testSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Create(t.Context(), "x/y.zip", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "partial"); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort = %v, want nil", err)
	}
	if got := files(t, s.dir); len(got) != 0 {
		t.Errorf("after Abort the store holds %v", got)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Abort succeeded")
	}
}

func TestCommitFailureLeavesNothing(t *testing.T) {
	s, err := New(t.TempDir(), testSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "a", "file a")
	// "a" is a file, so "a/b" cannot be created under it.
	w, err := s.Create(t.Context(), "a/b", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "b"); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err == nil {
		t.Fatal("Commit under a file succeeded")
	}
	if got := files(t, s.dir); len(got) != 1 || got[0] != "a" {
		t.Errorf("after a failed Commit the store holds %v", got)
	}
	if _, err := s.Open(t.Context(), "a/b"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("Open a/b = %v, want ErrNotFound", err)
	}
}

func TestDirectoriesAreNotObjects(t *testing.T) {
	s, err := New(t.TempDir(), testSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "dir/obj", "x")
	if _, err := s.Open(t.Context(), "dir"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("Open of a directory = %v, want ErrNotFound", err)
	}
	if err := s.Delete(t.Context(), "dir"); err != nil {
		t.Errorf("Delete of a directory = %v, want nil", err)
	}
	if err := s.Delete(t.Context(), "dir/obj/deeper"); err != nil {
		t.Errorf("Delete below a file = %v, want nil", err)
	}
	if got := files(t, s.dir); len(got) != 1 || got[0] != "dir/obj" {
		t.Errorf("store holds %v, want dir/obj untouched", got)
	}
}

func TestBadKeysAreRefused(t *testing.T) {
	s, _ := served(t, time.Now)
	ctx := t.Context()
	bad := []string{
		"",
		"/etc/passwd",
		"../outside",
		"a/../../outside",
		"a/..",
		"..",
		"./a",
		"a/./b",
		"a//b",
		"a/",
		`a\b`,
		`..\..\x`,
		"a\x00b",
		"a\nb",
		"a\x7fb",
		"\xff\xfe",
		".tmp/x",
		".tmp",
		strings.Repeat("k", 1025),
	}
	for _, key := range bad {
		if _, err := s.Create(ctx, key, export.ObjectInfo{}); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Create(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Open(ctx, key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Open(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.PresignGet(ctx, key, "f", time.Hour); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("PresignGet(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, key := range []string{"a", "exports/job-1/general 2024.zip", "é/ü ñ.zip", ".hidden/x", "a/.tmp/b", "a..b", "x.", strings.Repeat("k", 1024)} {
		if err := CheckKey(key); err != nil {
			t.Errorf("CheckKey(%q) = %v, want nil", key, err)
		}
	}
	if got := files(t, s.dir); len(got) != 0 {
		t.Errorf("refused keys left %v", got)
	}
}

func get(t *testing.T, method, link string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, link, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, link, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestSignedLinkDownloads(t *testing.T) {
	now := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	s, srv := served(t, func() time.Time { return now.Add(time.Hour) })
	s.Now = func() time.Time { return now }
	key := "exports/job 1/général.zip"
	content := strings.Repeat("PK archive bytes ", 1000)
	put(t, s, key, content)

	link, err := s.PresignGet(t.Context(), key, "Général – 2024.zip", 2*time.Hour)
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	if want := srv.URL + "/files/exports/job%201/g%C3%A9n%C3%A9ral.zip?"; !strings.HasPrefix(link, want) {
		t.Errorf("link = %s, want prefix %s", link, want)
	}
	q := u.Query()
	if q.Get("expires") != strconv.FormatInt(now.Add(2*time.Hour).Unix(), 10) || q.Get("name") != "Général – 2024.zip" || q.Get("sig") == "" {
		t.Errorf("link query = %v", q)
	}
	if !strings.Contains(u.RawQuery, "expires=") || strings.Index(u.RawQuery, "expires=") > strings.Index(u.RawQuery, "name=") || strings.Index(u.RawQuery, "name=") > strings.Index(u.RawQuery, "sig=") {
		t.Errorf("query %q is not expires, name, sig", u.RawQuery)
	}

	resp, body := get(t, http.MethodGet, link, nil)
	if resp.StatusCode != http.StatusOK || body != content {
		t.Fatalf("GET = %d, %d bytes", resp.StatusCode, len(body))
	}
	wantHeaders := map[string]string{
		"Content-Type":           "application/zip",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "private, no-store",
		"Content-Length":         strconv.Itoa(len(content)),
		"Accept-Ranges":          "bytes",
	}
	for k, v := range wantHeaders {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	disp, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if err != nil || disp != "attachment" || params["filename"] != "Général – 2024.zip" {
		t.Errorf("Content-Disposition = %q (%v)", resp.Header.Get("Content-Disposition"), err)
	}
	if !strings.Contains(resp.Header.Get("Content-Disposition"), "filename*=utf-8''") {
		t.Errorf("Content-Disposition %q has no filename*", resp.Header.Get("Content-Disposition"))
	}

	head, body := get(t, http.MethodHead, link, nil)
	if head.StatusCode != http.StatusOK || body != "" || head.Header.Get("Content-Length") != strconv.Itoa(len(content)) {
		t.Errorf("HEAD = %d, body %q, length %q", head.StatusCode, body, head.Header.Get("Content-Length"))
	}

	part, body := get(t, http.MethodGet, link, map[string]string{"Range": "bytes=3-9"})
	if part.StatusCode != http.StatusPartialContent || body != content[3:10] {
		t.Errorf("range GET = %d %q, want 206 %q", part.StatusCode, body, content[3:10])
	}
}

func TestContentTypeFromName(t *testing.T) {
	s, _ := served(t, time.Now)
	cases := []struct{ key, name, want string }{
		{"a/export.zip", "room.ZIP", "application/zip"},
		{"a/export.json", "room.json", "application/json"},
		{"a/export.html", "room.html", "text/html; charset=utf-8"},
		{"a/blob", "", "application/octet-stream"},
		{"a/blob.unknownext", "x.unknownext", "application/octet-stream"},
		{"a/export.zip", "no-extension", "application/zip"},
	}
	for _, c := range cases {
		put(t, s, c.key, "<html><script>alert(1)</script>")
		link, err := s.PresignGet(t.Context(), c.key, c.name, time.Minute)
		if err != nil {
			t.Fatalf("PresignGet: %v", err)
		}
		resp, _ := get(t, http.MethodGet, link, nil)
		if got := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || got != c.want {
			t.Errorf("%s as %q: %d %q, want %q", c.key, c.name, resp.StatusCode, got, c.want)
		}
		if _, p, _ := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); p["filename"] == "" {
			t.Errorf("%s as %q: no filename offered", c.key, c.name)
		}
	}
}

func TestBadLinksAreRefused(t *testing.T) {
	now := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	handlerNow := now
	s, srv := served(t, func() time.Time { mu.Lock(); defer mu.Unlock(); return handlerNow })
	s.Now = func() time.Time { return now }
	put(t, s, "exports/a.zip", "secret archive")
	put(t, s, "exports/b.zip", "other archive")
	link, err := s.PresignGet(t.Context(), "exports/a.zip", "a.zip", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	q := u.Query()

	with := func(path string, edit func(url.Values)) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = append([]string(nil), vs...)
		}
		edit(v)
		return srv.URL + path + "?" + v.Encode()
	}
	other, err := New(t.TempDir(), []byte("another secret of 32 bytes......"), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	other.Now = s.Now
	foreign, err := other.PresignGet(t.Context(), "exports/a.zip", "a.zip", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sig := q.Get("sig")
	flipped := string(rune(sig[0]^1)) + sig[1:]

	forbidden := map[string]string{
		"other key":          with("/files/exports/b.zip", func(url.Values) {}),
		"later expiry":       with("/files/exports/a.zip", func(v url.Values) { v.Set("expires", strconv.FormatInt(now.Add(48*time.Hour).Unix(), 10)) }),
		"other name":         with("/files/exports/a.zip", func(v url.Values) { v.Set("name", "a.html") }),
		"flipped signature":  with("/files/exports/a.zip", func(v url.Values) { v.Set("sig", flipped) }),
		"no signature":       with("/files/exports/a.zip", func(v url.Values) { v.Del("sig") }),
		"no expiry":          with("/files/exports/a.zip", func(v url.Values) { v.Del("expires") }),
		"garbage expiry":     with("/files/exports/a.zip", func(v url.Values) { v.Set("expires", "soon") }),
		"padded signature":   with("/files/exports/a.zip", func(v url.Values) { v.Set("sig", sig+"=") }),
		"signed by another":  foreign,
		"truncated signture": with("/files/exports/a.zip", func(v url.Values) { v.Set("sig", sig[:len(sig)-2]) }),
	}
	for name, l := range forbidden {
		resp, body := get(t, http.MethodGet, l, nil)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "archive") || body != "invalid link\n" {
			t.Errorf("%s: %d %q, want 403 invalid link", name, resp.StatusCode, body)
		}
		if resp.Header.Get("Cache-Control") != "private, no-store" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("%s: headers %v", name, resp.Header)
		}
	}

	// The untouched link works until it expires, then is refused.
	if resp, body := get(t, http.MethodGet, link, nil); resp.StatusCode != http.StatusOK || body != "secret archive" {
		t.Fatalf("valid link: %d %q", resp.StatusCode, body)
	}
	mu.Lock()
	handlerNow = now.Add(time.Hour)
	mu.Unlock()
	if resp, _ := get(t, http.MethodGet, link, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("link at its expiry instant: %d, want 200", resp.StatusCode)
	}
	mu.Lock()
	handlerNow = now.Add(time.Hour + time.Second)
	mu.Unlock()
	if resp, body := get(t, http.MethodGet, link, nil); resp.StatusCode != http.StatusForbidden || body != "link expired\n" {
		t.Errorf("expired link: %d %q, want 403 link expired", resp.StatusCode, body)
	}

	// A valid link to an object deleted since answers 404.
	mu.Lock()
	handlerNow = now
	mu.Unlock()
	if err := s.Delete(t.Context(), "exports/a.zip"); err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, http.MethodGet, link, nil); resp.StatusCode != http.StatusNotFound || body != "not found\n" {
		t.Errorf("deleted object: %d %q, want 404", resp.StatusCode, body)
	}

	// Only GET and HEAD, only under /files/.
	resp, _ := get(t, http.MethodPost, link, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if resp, _ := get(t, http.MethodGet, srv.URL+"/other/exports/b.zip", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("outside /files/: %d, want 404", resp.StatusCode)
	}
}

func TestPresignGetChecks(t *testing.T) {
	s, err := New(t.TempDir(), testSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PresignGet(t.Context(), "a.zip", "a.zip", time.Hour); err == nil {
		t.Error("PresignGet without a base URL succeeded")
	}
	s.SetBaseURL("http://127.0.0.1:1")
	for _, ttl := range []time.Duration{0, -time.Second} {
		if _, err := s.PresignGet(t.Context(), "a.zip", "a.zip", ttl); err == nil {
			t.Errorf("PresignGet with ttl %v succeeded", ttl)
		}
	}
	s.Now = func() time.Time { return time.Unix(100, 1) }
	link, err := s.PresignGet(t.Context(), "a.zip", "../../evil\r\n.zip", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	if u.Query().Get("expires") != "111" {
		t.Errorf("expires = %s, want 111 (rounded up)", u.Query().Get("expires"))
	}
	if name := u.Query().Get("name"); name != chat.SafeName("../../evil\r\n.zip", "a.zip") || strings.ContainsAny(name, "/\r\n") {
		t.Errorf("name = %q, want the sanitised file name", name)
	}
	if link, _ := s.PresignGet(t.Context(), "dir/b.json", "", time.Second); !strings.Contains(link, "name=b.json") {
		t.Errorf("empty file name: %s, want the key's last segment", link)
	}
	s.SetBaseURL("not a url")
	if _, err := s.PresignGet(t.Context(), "a.zip", "a.zip", time.Hour); err == nil {
		t.Error("PresignGet with an invalid base URL succeeded")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s.SetBaseURL("http://127.0.0.1:1")
	if _, err := s.PresignGet(ctx, "a.zip", "a.zip", time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("PresignGet with a cancelled context = %v", err)
	}
}

func TestSetBaseURLWhileSigning(t *testing.T) {
	s, err := New(t.TempDir(), testSecret, "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if i%2 == 0 {
					s.SetBaseURL("http://127.0.0.1:" + strconv.Itoa(1000+i))
				} else if _, err := s.PresignGet(context.Background(), "k.zip", "k.zip", time.Minute); err != nil {
					t.Errorf("PresignGet: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	link, err := s.PresignGet(t.Context(), "k.zip", "k.zip", time.Minute)
	if err != nil || !strings.HasPrefix(link, "http://127.0.0.1:10") {
		t.Errorf("final link %q, %v", link, err)
	}
}

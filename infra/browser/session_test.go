package browser

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// session is one headless Chromium tab and what it saw: every request the
// page made (DevTools Network domain) and every JavaScript dialog it opened.
type session struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	requests []string
	dialogs  []string
}

// actionTimeout bounds each step of a test in the browser.
const actionTimeout = 2 * time.Minute

// newSession starts Chromium with a fresh profile. Without Chromium the test
// fails under CI (which installs it) and is skipped elsewhere.
func newSession(t *testing.T) *session {
	t.Helper()
	path := ExecPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium not found (looked for $CHROMIUM, /usr/bin/chromium and chromium, chromium-browser, google-chrome on PATH): .ci/run must install it with apt-get install -y chromium")
		}
		t.Skipf("Chromium not found: install Debian's chromium (apt-get install -y chromium) to run the browser tests")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), AllocatorOptions(path, t.TempDir())...)
	ctx, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	s := &session{t: t, ctx: ctx}
	// The first call starts the browser and opens the tab (Network, Page
	// and Runtime are enabled by chromedp).
	err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			s.mu.Lock()
			s.requests = append(s.requests, e.Request.URL)
			s.mu.Unlock()
		case *page.EventJavascriptDialogOpening:
			s.mu.Lock()
			s.dialogs = append(s.dialogs, string(e.Type))
			s.mu.Unlock()
			// A dialog blocks the page until answered; answer from
			// outside the event loop, which must not run commands.
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		}
	})
	if err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	s.do("set the viewport", chromedp.EmulateViewport(1280, 900))
	return s
}

// do runs actions on the tab, failing the test on error.
func (s *session) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		s.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a script in the page and decodes its value; promises are
// awaited.
func eval[T any](s *session, expr string) T {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		s.t.Fatalf("evaluate %.60q: %v", expr, err)
	}
	return v
}

// open navigates to a file and lets late effects (a meta refresh, an
// image's error handler) happen before the test looks.
func (s *session) open(path string) {
	s.t.Helper()
	s.do("open "+filepath.Base(path), chromedp.Navigate(fileURL(path)), chromedp.Sleep(300*time.Millisecond))
}

// seen returns the requests and dialogs observed so far and forgets them.
func (s *session) seen() (requests, dialogs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	requests, dialogs = s.requests, s.dialogs
	s.requests, s.dialogs = nil, nil
	return requests, dialogs
}

// scheme emulates prefers-color-scheme: light or dark.
func (s *session) scheme(value string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, actionTimeout)
	defer cancel()
	features := []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: value}}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features}); err != nil {
		s.t.Fatalf("emulate %s: %v", value, err)
	}
}

// screenshot saves the viewport as testdata/screenshots/<name>.png, a test
// artifact meant to be looked at (and committed: the README shows one).
func (s *session) screenshot(name string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, actionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	if len(png) < 1000 || string(png[1:4]) != "PNG" {
		s.t.Fatalf("screenshot %s: not a PNG (%d bytes)", name, len(png))
	}
	path := filepath.Join("testdata", "screenshots", name+".png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		s.t.Fatalf("save screenshot: %v", err)
	}
	s.t.Logf("screenshot: %s", path)
}

// fileURL is the file:// URL of a local path.
func fileURL(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
}

// checkNoForeignRequests asserts that the page requested nothing but itself
// and files under its own assets/ folder.
func checkNoForeignRequests(t *testing.T, pagePath string, requests []string) {
	t.Helper()
	self := fileURL(pagePath)
	assets := fileURL(filepath.Join(filepath.Dir(pagePath), "assets")) + "/"
	for _, r := range requests {
		if r != self && !strings.HasPrefix(r, assets) {
			t.Errorf("%s requested %q: only the page itself and its assets/ may load", filepath.Base(pagePath), r)
		}
	}
	if !slices.Contains(requests, self) {
		t.Errorf("the request log does not even show the page itself: the Network listener saw %d requests", len(requests))
	}
}

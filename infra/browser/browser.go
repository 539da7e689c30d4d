// Package browser opens rooms.export documents the way their readers do: in
// a real browser. Its tests drive Debian's headless Chromium through the
// DevTools protocol (github.com/chromedp/chromedp) to check that the
// exported HTML renders (messages, images from assets/, light and dark
// colour schemes, with screenshots kept under testdata/screenshots/), that
// a room full of XSS payloads runs no script and makes no request, and that
// an export split into pages opens through its index.
//
// This file holds the one piece the tests share: how to find and start
// Chromium on this machine. The tests fail when Chromium is missing and
// CI=true (.ci/run installs it), and skip with the reason otherwise.
package browser

import (
	"os"
	"os/exec"

	"github.com/chromedp/chromedp"
)

// ExecPath returns the Chromium to drive: $CHROMIUM when set, else the
// first of /usr/bin/chromium (Debian's package), chromium, chromium-browser
// and google-chrome found on PATH; "" when there is none.
func ExecPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// AllocatorOptions are the flags that start headless Chromium here: as
// root in a container (no sandbox, no GPU), with a fresh profile in
// userDataDir, nothing that phones home (background networking, component
// updates, sync, QUIC), a host resolver that resolves nothing but loopback,
// so that a page that tried to reach the network could not, and a
// 1280×900 window.
func AllocatorOptions(execPath, userDataDir string) []chromedp.ExecAllocatorOption {
	opts := append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...)
	return append(opts,
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(userDataDir),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
		chromedp.WindowSize(1280, 900),
	)
}

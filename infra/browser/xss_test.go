package browser

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/render"
)

// xssCorpus are payloads that, if a renderer let one through, would set
// window.__pwned, open a dialog, navigate away, or fetch something. Every URL
// points at the discard port on loopback: a payload that escaped would only
// show up in the request log, and nothing leaves the machine (the browser
// resolves no other host anyway).
var xssCorpus = []string{
	`<script>window.__pwned=1</script>`,
	`<script>alert(1)</script>`,
	`<img src=x onerror="window.__pwned=1">`,
	`"><img src=x onerror=window.__pwned=1>`,
	`'><img src=x onerror=window.__pwned=1>`,
	`" onmouseover="window.__pwned=1" autofocus onfocus="window.__pwned=1" x="`,
	`x' onfocus='window.__pwned=1' autofocus tabindex='1`,
	`x" style="background:url(http://127.0.0.1:9/attr)`,
	`<svg onload="window.__pwned=1"></svg>`,
	`<svg><script>window.__pwned=1</script></svg>`,
	`<svg><a href="javascript:window.__pwned=1"><text y="20">x</text></a></svg>`,
	`<svg><image href="http://127.0.0.1:9/svgimage"/></svg>`,
	`<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>`,
	`<iframe src="javascript:parent.__pwned=1"></iframe>`,
	`<object data="http://127.0.0.1:9/object"></object>`,
	`<embed src="http://127.0.0.1:9/embed">`,
	`<details open ontoggle="window.__pwned=1">x</details>`,
	`<input autofocus onfocus="window.__pwned=1">`,
	`<body onload="window.__pwned=1">`,
	`<video><source onerror="window.__pwned=1"></video>`,
	`<audio src=x onerror="window.__pwned=1"></audio>`,
	`<marquee onstart="window.__pwned=1">x</marquee>`,
	`<meta http-equiv="refresh" content="0;url=javascript:window.__pwned=1">`,
	`<meta http-equiv="refresh" content="0;url=http://127.0.0.1:9/refresh">`,
	`<base href="http://127.0.0.1:9/">`,
	`<link rel=stylesheet href="http://127.0.0.1:9/link.css">`,
	`<style>@import "http://127.0.0.1:9/import.css"; body{background:url(http://127.0.0.1:9/bg)}</style>`,
	`</style><style>*{background:url(http://127.0.0.1:9/css)}</style>`,
	`</title><script>window.__pwned=1</script>`,
	`</textarea></q></code></pre></time><script>window.__pwned=1</script>`,
	`<a href="javascript:window.__pwned=1">x</a>`,
	`[click](javascript:window.__pwned=1)`,
	`[x](JaVaScRiPt:window.__pwned=1)`,
	`[x](java&#115;cript:window.__pwned=1)`,
	`[x](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX19wd25lZD0xPC9zY3JpcHQ+)`,
	`[x](http://127.0.0.1:9/"onmouseover="window.__pwned=1)`,
	`<javascript:window.__pwned=1|x>`,
	`<http://127.0.0.1:9/" onmouseover="window.__pwned=1|x>`,
	`http://127.0.0.1:9/"><img src=x onerror=window.__pwned=1>`,
	`<form action="http://127.0.0.1:9/"><button formaction="javascript:window.__pwned=1">x</button></form>`,
	`<img src="http://127.0.0.1:9/img">`,
	`<img srcset="http://127.0.0.1:9/srcset 1x">`,
	`<picture><source srcset="http://127.0.0.1:9/picture"><img alt=""></picture>`,
	`<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=1>`,
	`<noscript><p title="</noscript><img src=x onerror=window.__pwned=1>">`,
	`<!--<img src="--><img src=x onerror=window.__pwned=1>">`,
	`<![CDATA[><img src=x onerror=window.__pwned=1>]]>`,
	"```\n</pre><img src=x onerror=window.__pwned=1>\n```",
	"`<img src=x onerror=window.__pwned=1>`",
	"*<img src=x onerror=window.__pwned=1>*",
	"> <script>window.__pwned=1</script>",
	"@<img src=x onerror=window.__pwned=1>",
	"#<svg/onload=window.__pwned=1>",
	":<script>window.__pwned=1</script>:",
	"{{constructor.constructor('window.__pwned=1')()}}",
	"\u202e<script>window.__pwned=1</script>\x00",
	"&lt;script&gt;window.__pwned=1&lt;/script&gt;",
	`<x onclick=window.__pwned=1 style=position:fixed;inset:0>`,
}

// xssRoom is a room whose every field a document shows holds a payload.
func xssRoom() (chat.Room, []chat.Message, func(string) (chat.Message, error)) {
	room := chat.Room{ID: "xssroom", Type: chat.RoomChannel, Name: xssCorpus[0], FName: xssCorpus[2], Topic: xssCorpus[8], ParentID: xssCorpus[3], TeamID: xssCorpus[4]}
	start := time.Date(2024, 2, 3, 10, 0, 0, 0, time.UTC)
	var msgs []chat.Message
	add := func(m chat.Message) {
		m.RoomID = room.ID
		m.TS = start.Add(time.Duration(len(msgs)) * time.Minute)
		msgs = append(msgs, m)
	}
	for i, p := range xssCorpus {
		u := chat.UserRef{ID: fmt.Sprintf("u%02d", i), Username: p, Name: p}
		edited := start
		add(chat.Message{ID: fmt.Sprintf("m%02d", i), Msg: p, U: u, EditedAt: &edited, EditedBy: &u,
			Reactions: map[string]chat.Reaction{p: {Usernames: []string{p}}, ":smile:": {Usernames: []string{p, "bob"}}}})
		add(chat.Message{ID: fmt.Sprintf("f%02d", i), Msg: p, U: u,
			Files: []chat.FileRef{{ID: p, Name: p, Type: "image/png", Size: 10}, {ID: fmt.Sprintf("g%02d", i), Name: p, Type: p, Size: 1}},
			Attachments: []chat.Attachment{
				{Title: p, TitleLink: p, Text: p, Description: p, AuthorName: p, MessageLink: p, ImageURL: p, Type: p, TS: &edited,
					Attachments: []chat.Attachment{{Title: p, TitleLink: "javascript:window.__pwned=1", Text: p, AuthorName: p}}},
				{Title: p, TitleLink: "/file-upload/" + p + "/" + p, Description: p},
			}})
		add(chat.Message{ID: fmt.Sprintf("t%02d", i), Msg: p, U: u, ThreadID: p})
		add(chat.Message{ID: fmt.Sprintf("o%02d", i), Msg: p, U: u, ThreadID: "old"})
		for j, typ := range []string{"au", "r", "room_changed_topic", "subscription-role-added", "user-added-room-to-team", "livechat-close", p} {
			add(chat.Message{ID: fmt.Sprintf("s%02d-%d", i, j), Type: typ, Msg: p, Role: p, U: u})
		}
	}
	// One real picture, so that the test sees an allowed assets/ load.
	add(chat.Message{ID: "pic", Msg: "a real picture", U: chat.UserRef{ID: "u", Username: "bob"},
		File: &chat.FileRef{ID: "okimg", Name: "pixel.png", Type: "image/png", Size: 100}})
	// The parent of the "o" replies lies before the export and holds a
	// payload too; a "t" reply's parent is unknown.
	parents := func(id string) (chat.Message, error) {
		if id == "old" {
			return chat.Message{ID: "old", Msg: xssCorpus[5], U: chat.UserRef{Username: xssCorpus[6], Name: xssCorpus[7]}, TS: start.Add(-time.Hour)}, nil
		}
		return chat.Message{}, chat.ErrNotFound
	}
	return room, msgs, parents
}

// writeBook renders a document into dir through NewHTMLBook, one file per
// entry, as an unpacked archive holds them.
func writeBook(t *testing.T, dir string, h render.Header, opts render.BookOptions, msgs []chat.Message) []string {
	t.Helper()
	var names []string
	var cur *os.File
	closeCur := func() {
		if cur != nil {
			if err := cur.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	open := func(name string) (io.Writer, error) {
		closeCur()
		f, err := os.Create(filepath.Join(dir, name))
		cur = f
		names = append(names, name)
		return f, err
	}
	doc := render.NewHTMLBook(open, opts)
	if err := doc.Begin(h); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := doc.Message(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := doc.End(int64(len(msgs))); err != nil {
		t.Fatal(err)
	}
	closeCur()
	return names
}

// writePNG writes a small picture.
func writePNG(t *testing.T, path string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 64 {
		img.Set(i%8, i/8, color.RGBA{0x1d, 0x74, 0xf5, 0xff})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkPage asserts that a loaded page ran no script, stayed where it was,
// holds none of the elements a payload would bring, and requested nothing
// but itself and its assets.
func checkPage(t *testing.T, s *session, path string) {
	t.Helper()
	if got := eval[string](s, `typeof window.__pwned`); got != "undefined" {
		t.Errorf("%s: a payload ran (window.__pwned is %s)", filepath.Base(path), got)
	}
	if got := eval[string](s, `location.href`); got != fileURL(path) {
		t.Errorf("%s: the page navigated to %q", filepath.Base(path), got)
	}
	if n := eval[int](s, `document.querySelectorAll("script, iframe, object, embed, svg, base, link, form, input, button, video, audio, source, picture, details, marquee, math, noscript, x, body [style], [srcset], [formaction]").length`); n != 0 {
		t.Errorf("%s: %d elements that only a payload could have made", filepath.Base(path), n)
	}
	if n := eval[int](s, `[...document.querySelectorAll("*")].filter(e => [...e.attributes].some(a => a.name.startsWith("on"))).length`); n != 0 {
		t.Errorf("%s: %d elements with an event-handler attribute", filepath.Base(path), n)
	}
	if n := eval[int](s, `[...document.links].filter(a => !/^(https?:|mailto:|file:)/.test(a.href)).length`); n != 0 {
		t.Errorf("%s: %d links with a scheme other than http, https, mailto or the archive's own files", filepath.Base(path), n)
	}
	if n := eval[int](s, `document.querySelectorAll("head meta").length - document.querySelectorAll("meta").length + document.querySelectorAll("style").length`); n != 1 {
		t.Errorf("%s: a <meta> outside <head> or more than one <style>", filepath.Base(path))
	}
	requests, dialogs := s.seen()
	checkNoForeignRequests(t, path, requests)
	if len(dialogs) > 0 {
		t.Errorf("%s: dialogs opened: %v", filepath.Base(path), dialogs)
	}
}

func TestXSSCorpusRunsNoScriptAndLoadsNothing(t *testing.T) {
	s := newSession(t)
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "assets", "okimg-pixel.png"))
	room, msgs, parents := xssRoom()
	h := render.Header{
		Room: room, From: msgs[0].TS, To: msgs[len(msgs)-1].TS, ExportedAt: msgs[len(msgs)-1].TS,
		ExportedBy: xssCorpus[1], Total: int64(len(msgs)),
	}
	// Pages of 150 messages: the payloads go through single pages, page
	// navigation and the index.
	names := writeBook(t, dir, h, render.BookOptions{PerPage: 150, BaseName: "xssroom", Options: render.Options{Parents: parents}}, msgs)
	if len(names) < 3 || names[len(names)-1] != "index.html" {
		t.Fatalf("entries %v: want several pages and an index", names)
	}
	picture := false
	for _, name := range names {
		path := filepath.Join(dir, name)
		s.open(path)
		if name == "index.html" {
			if n := eval[int](s, `document.querySelectorAll("ol.page-list a").length`); n != len(names)-1 {
				t.Errorf("index lists %d pages, want %d", n, len(names)-1)
			}
		} else {
			// The payloads are on the page as text, and the messages all
			// rendered.
			if n := eval[int](s, `document.querySelectorAll("article.msg").length`); n == 0 {
				t.Errorf("%s shows no message", name)
			}
			if !strings.Contains(eval[string](s, `document.body.innerText`), "window.__pwned=1") {
				t.Errorf("%s does not show the payloads as text", name)
			}
			if w := eval[float64](s, `(() => { const i = document.querySelector('img[src="assets/okimg-pixel.png"]'); if (!i) return 0; i.loading = "eager"; return i.decode().then(() => i.naturalWidth, () => -1) })()`); w > 0 {
				picture = true
			} else if w < 0 {
				t.Errorf("%s: the real picture did not load", name)
			}
		}
		checkPage(t, s, path)
	}
	if !picture {
		t.Errorf("the real picture in assets/ was never shown")
	}
}

// TestXSSHarnessDetects proves the checks above can fail: a page that does
// let payloads through trips the script trap, the dialog listener and the
// request log.
func TestXSSHarnessDetects(t *testing.T) {
	s := newSession(t)
	path := filepath.Join(t.TempDir(), "unsafe.html")
	page := `<!DOCTYPE html><title>unsafe</title><img src=x onerror="window.__pwned=1"><script>alert(1)</script><img src="http://127.0.0.1:9/leak.png">`
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	s.open(path)
	if got := eval[string](s, `typeof window.__pwned`); got != "number" {
		t.Errorf("the trap did not fire on an unsafe page: window.__pwned is %s", got)
	}
	requests, dialogs := s.seen()
	if len(dialogs) != 1 || dialogs[0] != "alert" {
		t.Errorf("dialogs %v, want the one alert", dialogs)
	}
	leaked := false
	for _, r := range requests {
		leaked = leaked || r == "http://127.0.0.1:9/leak.png"
	}
	if !leaked {
		t.Errorf("the request log missed a request the page made: %v", requests)
	}
}

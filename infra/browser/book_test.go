package browser

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/render"
)

// bigRoom is n generated messages, one every 15 minutes from 2019-01-01
// (100,000 of them cover almost three years), by a handful of authors, with
// some markdown, threads and reactions.
func bigRoom(n int) (chat.Room, []chat.Message) {
	room := chat.Room{ID: "BigRoom42", Type: chat.RoomChannel, Name: "big-room", FName: "Big room", Topic: "Where *everyone* talks"}
	authors := []chat.UserRef{
		{ID: "u1", Username: "alice", Name: "Alice Martin"}, {ID: "u2", Username: "bob", Name: "Bob Stone"},
		{ID: "u3", Username: "lilei", Name: "李雷"}, {ID: "u4", Username: "zoe", Name: "Zoë Ångström"},
	}
	texts := []string{"Good morning!", "Deploy is *done* ✅", "See `make test` output", "> quoted\nanswer below", "Lunch at 12? :pizza:", "@bob can you review?"}
	start := time.Date(2019, 1, 1, 8, 0, 0, 0, time.UTC)
	msgs := make([]chat.Message, n)
	for i := range msgs {
		msgs[i] = chat.Message{
			ID: fmt.Sprintf("big%06d", i+1), RoomID: room.ID, TS: start.Add(time.Duration(i) * 15 * time.Minute),
			U: authors[(i/3)%len(authors)], Msg: texts[i%len(texts)] + " (no. " + strconv.Itoa(i+1) + ")",
		}
		if i%50 == 49 {
			msgs[i].ThreadID = msgs[i-10].ID
		}
		if i%40 == 0 {
			msgs[i].Reactions = map[string]chat.Reaction{":+1:": {Usernames: []string{"alice", "bob"}}}
		}
	}
	return room, msgs
}

// follow navigates to where the first element matching selector links.
func (s *session) follow(selector string) string {
	s.t.Helper()
	href := eval[string](s, `document.querySelector(`+strconv.Quote(selector)+`).href`)
	s.do("follow "+selector, chromedp.Navigate(href))
	return href
}

func TestPagedExportOpensThroughItsIndex(t *testing.T) {
	s := newSession(t)
	dir := t.TempDir()
	const n, perPage = 100_000, render.DefaultPerPage
	room, msgs := bigRoom(n)
	h := render.Header{Room: room, From: msgs[0].TS, To: msgs[n-1].TS, ExportedAt: demoNow, ExportedBy: "Administrator", Total: n}
	byID := map[string]chat.Message{}
	for _, m := range msgs[:100] {
		byID[m.ID] = m
	}
	began := time.Now()
	names := writeBook(t, dir, h, render.BookOptions{BaseName: room.ID, Options: render.Options{Parents: func(id string) (chat.Message, error) {
		if m, ok := byID[id]; ok {
			return m, nil
		}
		return chat.Message{}, chat.ErrNotFound
	}}}, msgs)
	t.Logf("rendered %d messages in %v", n, time.Since(began).Round(time.Millisecond))
	pages := n / perPage
	if len(names) != pages+1 || names[0] != room.ID+"-0001.html" || names[pages] != "index.html" {
		t.Fatalf("entries %v", names)
	}

	index := filepath.Join(dir, "index.html")
	s.open(index)
	if got := eval[string](s, `document.title`); got != "Big room · contents · Room export" {
		t.Errorf("index title %q", got)
	}
	if got := eval[int](s, `document.querySelectorAll("ol.page-list a").length`); got != pages {
		t.Errorf("the index lists %d pages, want %d", got, pages)
	}
	days := eval[int](s, `document.querySelectorAll("ul.days li").length`)
	total := eval[int](s, `[...document.querySelectorAll("ul.days li .meta")].reduce((n, m) => n + parseInt(m.textContent.replaceAll(",", "")), 0)`)
	if days < 1000 || total != n {
		t.Errorf("the table of contents has %d days counting %d messages, want over 1000 days and %d", days, total, n)
	}
	s.scheme("light")
	s.screenshot("paged-index-light")
	requests, _ := s.seen()
	checkNoForeignRequests(t, index, requests)

	// Index → page 1 → next → page 2 (whose previous link leads back) → contents.
	s.follow("ol.page-list a")
	checkBookPage(t, s, filepath.Join(dir, room.ID+"-0001.html"), 1, perPage)
	s.follow(`nav.pages a[rel="next"]`)
	checkBookPage(t, s, filepath.Join(dir, room.ID+"-0002.html"), perPage+1, perPage)
	s.screenshot("paged-page-2-light")
	if got := eval[string](s, `document.querySelector('nav.pages a[rel="prev"]').href`); got != fileURL(filepath.Join(dir, room.ID+"-0001.html")) {
		t.Errorf("page 2 links back to %q", got)
	}
	s.follow(`nav.pages a[href="./index.html"]`)
	if got := eval[string](s, `location.href`); got != fileURL(index) {
		t.Fatalf("the contents link leads to %q", got)
	}
	requests, _ = s.seen()
	checkNoForeignRequests(t, index, requests)

	// A day in the middle of the export: its link opens the right page
	// at that day's heading.
	mid := days / 2
	day := eval[string](s, fmt.Sprintf(`document.querySelectorAll("ul.days li time")[%d].getAttribute("datetime")`, mid))
	href := s.follow(fmt.Sprintf(`ul.days a[href$="#day-%s"]`, day))
	if got := eval[string](s, `location.hash`); got != "#day-"+day {
		t.Errorf("day link %s opened %q", href, got)
	}
	top := eval[float64](s, `document.getElementById(location.hash.slice(1)).getBoundingClientRect().top`)
	if top < -2 || top > 900 {
		t.Errorf("the day heading is not in view after following %s (top %v)", href, top)
	}
	heading := eval[string](s, `document.getElementById(location.hash.slice(1)).querySelector("time").getAttribute("datetime")`)
	if heading != day {
		t.Errorf("heading %q, want %q", heading, day)
	}
	requests, _ = s.seen()
	dayPage, _, _ := strings.Cut(href, "#")
	checkNoForeignRequests(t, strings.TrimPrefix(dayPage, "file://"), requests)

	// The last page: no next link, the exact total in its footer.
	s.open(index)
	s.seen()
	s.follow("ol.page-list li:last-child a")
	checkBookPage(t, s, filepath.Join(dir, names[pages-1]), n-perPage+1, perPage)
	if got := eval[int](s, `document.querySelectorAll('nav.pages a[rel="next"]').length`); got != 0 {
		t.Errorf("the last page links to a next page")
	}
	if got := eval[string](s, `document.querySelector("footer.summary").innerText`); !containsAll(got, "Page 10", "100,000 messages exported") {
		t.Errorf("last footer %q", got)
	}
}

// checkBookPage asserts that the open page is the book page at path, shows
// count messages starting with message number first, and loaded nothing
// from outside.
func checkBookPage(t *testing.T, s *session, path string, first, count int) {
	t.Helper()
	if got := eval[string](s, `location.href`); got != fileURL(path) {
		t.Fatalf("on %q, want %s", got, filepath.Base(path))
	}
	if got := eval[int](s, `document.querySelectorAll("article.msg").length`); got != count {
		t.Errorf("%s shows %d messages, want %d", filepath.Base(path), got, count)
	}
	if got := eval[string](s, `document.querySelector("article.msg").id`); got != fmt.Sprintf("msg-big%06d", first) {
		t.Errorf("%s starts with %s, want message %d", filepath.Base(path), got, first)
	}
	requests, dialogs := s.seen()
	checkNoForeignRequests(t, path, requests)
	if len(dialogs) > 0 {
		t.Errorf("dialogs: %v", dialogs)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

package render

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// parentStore is a recording Parents hook.
type parentStore struct {
	msgs  map[string]chat.Message
	err   error
	calls []string
}

func (p *parentStore) lookup(id string) (chat.Message, error) {
	p.calls = append(p.calls, id)
	if p.err != nil {
		return chat.Message{}, p.err
	}
	m, ok := p.msgs[id]
	if !ok {
		return chat.Message{}, fmt.Errorf("message %s: %w", id, chat.ErrNotFound)
	}
	return m, nil
}

// threadLine is the normalised text of a reply's thread line and the hrefs
// of its links.
func threadLine(t *testing.T, doc []byte, id string) (string, []string) {
	t.Helper()
	art := byID(parseHTML(t, doc), "msg-"+id)
	if art == nil {
		t.Fatalf("no message %s", id)
	}
	for _, p := range elements(art, "p") {
		if hasClass(p, "thread") {
			var hrefs []string
			for _, a := range elements(p, "a") {
				href, _ := attr(a, "href")
				hrefs = append(hrefs, href)
			}
			return strings.Join(strings.Fields(textOf(p)), " "), hrefs
		}
	}
	t.Fatalf("message %s has no thread line", id)
	return "", nil
}

func TestThreadReplyOnTheSamePageLinksWithoutALookup(t *testing.T) {
	ps := &parentStore{}
	msgs := []chat.Message{
		{ID: "p", U: alice, Msg: "parent", TS: at(0)},
		{ID: "r", U: bob, Msg: "reply", TS: at(time.Minute), ThreadID: "p"},
	}
	doc := renderDoc(t, func(b *bytes.Buffer) Document { return NewHTMLWithOptions(b, Options{Parents: ps.lookup}) }, sampleHeader(nil), msgs)
	text, hrefs := threadLine(t, doc, "r")
	if text != "↳ reply in thread · parent message" || len(hrefs) != 1 || hrefs[0] != "#msg-p" {
		t.Errorf("thread line %q %q", text, hrefs)
	}
	if len(ps.calls) != 0 {
		t.Errorf("looked up %v although the parent is on the page", ps.calls)
	}
}

func TestThreadReplyQuotesAParentFromBeforeTheExport(t *testing.T) {
	h := sampleHeader(berlin(t)) // from 2021-03-04 00:00 UTC
	old := chat.Message{ID: "old", U: zoe, Msg: "the *original* question", TS: h.From.Add(-48 * time.Hour)}
	ps := &parentStore{msgs: map[string]chat.Message{"old": old}}
	msgs := []chat.Message{
		{ID: "r1", U: bob, Msg: "first answer", TS: at(0), ThreadID: "old"},
		{ID: "r2", U: alice, Msg: "second answer", TS: at(time.Minute), ThreadID: "old"},
		{ID: "r3", U: alice, Msg: "to a deleted one", TS: at(2 * time.Minute), ThreadID: "gone"},
	}
	doc := renderDoc(t, func(b *bytes.Buffer) Document { return NewHTMLWithOptions(b, Options{Parents: ps.lookup}) }, h, msgs)
	checkSafe(t, doc, false)

	text, hrefs := threadLine(t, doc, "r1")
	if text != "↳ reply in thread to a message from before this export:" || len(hrefs) != 0 {
		t.Errorf("r1 thread line %q %q", text, hrefs)
	}
	quote := strings.Join(strings.Fields(textOf(byID(parseHTML(t, doc), "msg-r1"))), " ")
	if !strings.Contains(quote, "Zoë Müller 山田 2021-03-02 01:00 the original question") {
		t.Errorf("r1 does not quote its parent (author, time in Berlin, rendered text): %q", quote)
	}
	if !bytes.Contains(doc, []byte("the <strong>original</strong> question")) {
		t.Errorf("the quoted parent's markdown is not rendered")
	}
	text, hrefs = threadLine(t, doc, "r2")
	if text != "↳ reply in thread to a message from before this export · quoted above" || len(hrefs) != 1 || hrefs[0] != "#msg-r1" {
		t.Errorf("r2 thread line %q %q", text, hrefs)
	}
	if strings.Count(string(doc), "the <strong>original</strong> question") != 1 {
		t.Errorf("the parent is quoted more than once on the page")
	}
	text, hrefs = threadLine(t, doc, "r3")
	if text != "↳ reply in thread to a message outside this export" || len(hrefs) != 0 {
		t.Errorf("r3 thread line %q %q", text, hrefs)
	}
	if strings.Join(ps.calls, ",") != "old,gone" {
		t.Errorf("lookups %v, want old then gone, once each", ps.calls)
	}
}

func TestThreadReplyWithoutHookSaysOutsideThisExport(t *testing.T) {
	msgs := []chat.Message{{ID: "r", U: bob, Msg: "reply", TS: at(0), ThreadID: "elsewhere"}}
	doc := renderDoc(t, newHTMLBuf, sampleHeader(nil), msgs)
	if text, hrefs := threadLine(t, doc, "r"); text != "↳ reply in thread to a message outside this export" || len(hrefs) != 0 {
		t.Errorf("thread line %q %q", text, hrefs)
	}
}

func TestThreadReplyLinksToTheParentsPage(t *testing.T) {
	msgs := generated(6, time.Minute)
	msgs[4].ThreadID = msgs[0].ID // page 3 replies to page 1
	msgs[5].ThreadID = msgs[4].ID // same page
	ps := &parentStore{msgs: map[string]chat.Message{msgs[0].ID: msgs[0]}}
	e := renderBook(t, BookOptions{PerPage: 2, BaseName: "R", Options: Options{Parents: ps.lookup}}, 6, nil, msgs)
	page3 := e.data["R-0003.html"].Bytes()
	text, hrefs := threadLine(t, page3, msgs[4].ID)
	if text != "↳ reply in thread · parent message (page 1)" || len(hrefs) != 1 || hrefs[0] != "./R-0001.html#msg-"+msgs[0].ID {
		t.Errorf("thread line %q %q", text, hrefs)
	}
	if _, hrefs := threadLine(t, page3, msgs[5].ID); len(hrefs) != 1 || hrefs[0] != "#msg-"+msgs[4].ID {
		t.Errorf("same-page reply links %q", hrefs)
	}
	if byID(e.page(t, "R-0001.html"), "msg-"+msgs[0].ID) == nil {
		t.Errorf("the link target is not on page 1")
	}

	// Without the hook, the book cannot know where the parent is.
	e = renderBook(t, BookOptions{PerPage: 2, BaseName: "R"}, 6, nil, msgs)
	if text, _ := threadLine(t, e.data["R-0003.html"].Bytes(), msgs[4].ID); text != "↳ reply in thread to a message that is not on this page" {
		t.Errorf("without hook: %q", text)
	}
}

func TestThreadLookupErrorsFailTheDocument(t *testing.T) {
	boom := errors.New("store down")
	ps := &parentStore{err: boom}
	rec := &recorder{}
	d := NewHTMLWithOptions(rec, Options{Parents: ps.lookup})
	if err := d.Begin(sampleHeader(nil)); err != nil {
		t.Fatal(err)
	}
	n := len(rec.writes)
	err := d.Message(chat.Message{ID: "r", U: bob, Msg: "secret reply", TS: at(0), ThreadID: "p"})
	if !errors.Is(err, boom) || err.Error() != "render html: look up thread parent of r: store down" {
		t.Fatalf("err = %v", err)
	}
	if len(rec.writes) != n {
		t.Errorf("a message was written half-done")
	}
	if err := d.End(0); !errors.Is(err, boom) {
		t.Errorf("the failure does not stick: %v", err)
	}
}

func TestThreadParentCacheIsBounded(t *testing.T) {
	ps := &parentStore{msgs: map[string]chat.Message{}}
	h := sampleHeader(nil)
	var msgs []chat.Message
	for i := range maxParentCache + 10 {
		id := fmt.Sprintf("old%05d", i)
		ps.msgs[id] = chat.Message{ID: id, U: alice, Msg: "old", TS: h.From.Add(-time.Hour)}
		msgs = append(msgs, chat.Message{ID: fmt.Sprintf("r%05d", i), U: bob, Msg: "r", TS: at(time.Duration(i) * time.Second), ThreadID: id})
	}
	d := NewHTMLWithOptions(&bytes.Buffer{}, Options{Parents: ps.lookup}).(*htmlDoc)
	if err := d.Begin(h); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := d.Message(m); err != nil {
			t.Fatal(err)
		}
		if len(d.thread.cache) > maxParentCache {
			t.Fatalf("cache grew to %d", len(d.thread.cache))
		}
	}
	if len(ps.calls) != len(msgs) {
		t.Errorf("%d lookups for %d distinct parents", len(ps.calls), len(msgs))
	}
}

func TestGrouping(t *testing.T) {
	carol := chat.UserRef{ID: "u4", Username: "carol"}
	msgs := []chat.Message{
		{ID: "a1", U: alice, Msg: "one", TS: at(0)},
		{ID: "a2", U: alice, Msg: "two", TS: at(time.Minute)},                                  // grouped
		{ID: "a3", U: alice, Msg: "three", TS: at(time.Minute + 4*time.Minute)},                // 4 min later: grouped
		{ID: "a4", U: alice, Msg: "four", TS: at(10 * time.Minute)},                            // 5 min later: new group
		{ID: "b1", U: bob, Msg: "bob", TS: at(11 * time.Minute)},                               // other author
		{ID: "b2", U: bob, Msg: "in thread", TS: at(12 * time.Minute), ThreadID: "a1"},         // thread vs not
		{ID: "b3", U: bob, Msg: "thread again", TS: at(13 * time.Minute), ThreadID: "a1"},      // same thread: grouped
		{ID: "s1", U: bob, Type: "uj", TS: at(14 * time.Minute)},                               // system: never
		{ID: "b4", U: bob, Msg: "after system", TS: at(15 * time.Minute)},                      // after a system message
		{ID: "c1", U: carol, Msg: "late", TS: time.Date(2021, 3, 4, 23, 59, 0, 0, time.UTC)},   // new author
		{ID: "c2", U: carol, Msg: "next day", TS: time.Date(2021, 3, 5, 0, 1, 0, 0, time.UTC)}, // other day
	}
	want := map[string]bool{"a1": false, "a2": true, "a3": true, "a4": false, "b1": false, "b2": false, "b3": true, "s1": false, "b4": false, "c1": false, "c2": false}
	root := parseHTML(t, renderDoc(t, newHTMLBuf, sampleHeader(nil), msgs))
	for _, m := range msgs {
		art := byID(root, "msg-"+m.ID)
		seq := hasClass(art, "seq")
		if seq != want[m.ID] {
			t.Errorf("%s grouped = %v, want %v", m.ID, seq, want[m.ID])
		}
		avatars := 0
		for _, s := range elements(art, "span") {
			if hasClass(s, "avatar") {
				avatars++
				if v, _ := attr(s, "aria-hidden"); v != "true" {
					t.Errorf("%s: avatar not hidden from screen readers", m.ID)
				}
			}
		}
		if wantAv := !seq && m.Type == ""; (avatars == 1) != wantAv {
			t.Errorf("%s: %d avatars", m.ID, avatars)
		}
		// A grouped message keeps its author for screen readers and print.
		if m.Type == "" && !strings.Contains(textOf(art), m.U.Username) {
			t.Errorf("%s: author not in the markup", m.ID)
		}
	}
}

func TestInitialsAndAvatarColours(t *testing.T) {
	for name, want := range map[string]string{
		"Alice Liddell": "AL", "bob": "B", "rocket.cat": "RC", "Zoë Müller 山田": "ZM", "山田 太郎": "山", "أميرة الحداد": "أ", "Ada 李": "A",
		"  ": "?", "<script>alert(1)</script>": "SA", "élodie de-la-tour": "ÉD", "42 is the answer": "4", "Élodie 2": "É",
	} {
		if got := initials(name); got != want {
			t.Errorf("initials(%q) = %q, want %q", name, got, want)
		}
	}
	if avatarClass(alice) != avatarClass(chat.UserRef{ID: alice.ID, Username: "renamed"}) {
		t.Errorf("the avatar colour follows the username, not the user")
	}
	seen := map[string]bool{}
	for i := range 200 {
		c := avatarClass(chat.UserRef{ID: fmt.Sprintf("user%d", i)})
		if !strings.HasPrefix(c, "c") || len(c) != 2 || c[1] < '0' || c[1] >= '0'+avatarColors {
			t.Fatalf("class %q", c)
		}
		seen[c] = true
	}
	if len(seen) != avatarColors {
		t.Errorf("200 users got %d of %d colours", len(seen), avatarColors)
	}
}

func TestPageIsKeyboardAccessible(t *testing.T) {
	root := samplePage(t, nil)
	body := elements(root, "body")[0]
	// The first focusable element is the skip link, and it leads to main.
	first := elements(body, "a")[0]
	if href, _ := attr(first, "href"); href != "#messages" || !hasClass(first, "skip") {
		t.Errorf("first link is %q, want the skip link to #messages", href)
	}
	mains := elements(root, "main")
	if len(mains) != 1 || mustAttr(mains[0], "id") != "messages" || mustAttr(mains[0], "tabindex") != "-1" {
		t.Fatalf("main landmark missing or not a focus target")
	}
	// One h1 (the room), h2 per day; the room header and the summary are
	// the banner and content-info landmarks (direct children of body).
	if n := len(elements(root, "h1")); n != 1 {
		t.Errorf("%d h1", n)
	}
	var landmarks []string
	for c := body.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			landmarks = append(landmarks, c.Data)
		}
	}
	if strings.Join(landmarks, ",") != "a,header,main,footer" {
		t.Errorf("body children %v", landmarks)
	}
	css := textOf(elements(root, "style")[0])
	for _, want := range []string{":focus-visible", ".skip:focus", "@media print"} {
		if !strings.Contains(css, want) {
			t.Errorf("stylesheet lacks %s", want)
		}
	}
	// Every link has text (no empty or image-only link without alt).
	for _, a := range elements(root, "a") {
		if strings.TrimSpace(textOf(a)) == "" {
			if imgs := elements(a, "img"); len(imgs) == 0 || mustAttr(imgs[0], "alt") == "" {
				t.Errorf("link %q has no accessible name", mustAttr(a, "href"))
			}
		}
	}
}

func TestTimeZoneChangesHTMLButNotJSON(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	msgs := sampleMessages()
	var jsonDocs [][]byte
	for name, loc := range map[string]*time.Location{"UTC": nil, "Berlin": berlin(t), "Tokyo": tokyo} {
		page := parseHTML(t, renderDoc(t, newHTMLBuf, sampleHeader(loc), msgs))
		m01 := byID(page, "msg-m01") // 2021-03-04 05:06:07 UTC
		wantClock := map[string]string{"UTC": "05:06", "Berlin": "06:06", "Tokyo": "14:06"}[name]
		times := elements(m01, "time")
		if textOf(times[0]) != wantClock {
			t.Errorf("%s: m01 shown at %q, want %s", name, textOf(times[0]), wantClock)
		}
		wantZone := map[string]string{"UTC": "UTC", "Berlin": "Europe/Berlin", "Tokyo": "Asia/Tokyo"}[name]
		if !strings.Contains(textOf(elements(page, "header")[0]), wantZone) {
			t.Errorf("%s: header does not name the zone", name)
		}
		if dt, _ := attr(times[0], "datetime"); !strings.HasPrefix(dt, "2021-03-04T") {
			t.Errorf("%s: datetime %q", name, dt)
		}
		jsonDocs = append(jsonDocs, renderDoc(t, newJSONBuf, sampleHeader(loc), msgs))
	}
	for _, d := range jsonDocs[1:] {
		if !bytes.Equal(d, jsonDocs[0]) {
			t.Errorf("the JSON document depends on the time zone")
		}
	}
	if !bytes.Contains(jsonDocs[0], []byte(`"_id":"m01"`)) || !bytes.Contains(jsonDocs[0], []byte(`"ts":"2021-03-04T05:06:07.008Z"`)) {
		t.Errorf("JSON ts not in UTC")
	}
}

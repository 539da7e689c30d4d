package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// entries records what a book writes, as an archive would: each open
// starts a new entry and ends the previous one.
type entries struct {
	names []string
	data  map[string]*bytes.Buffer
	fail  map[string]error // open of that name fails
}

func newEntries() *entries { return &entries{data: map[string]*bytes.Buffer{}} }

func (e *entries) open(name string) (io.Writer, error) {
	if err := e.fail[name]; err != nil {
		return nil, err
	}
	if _, dup := e.data[name]; dup {
		return nil, fmt.Errorf("entry %s opened twice", name)
	}
	e.names = append(e.names, name)
	e.data[name] = &bytes.Buffer{}
	return e.data[name], nil
}

func (e *entries) page(t *testing.T, name string) *html.Node {
	t.Helper()
	b, ok := e.data[name]
	if !ok {
		t.Fatalf("no entry %s (entries %v)", name, e.names)
	}
	return parseHTML(t, b.Bytes())
}

// generated returns n messages, one every step from at(0), by a few authors,
// with a thread reply every 7th message (its parent the message 3 before).
func generated(n int, step time.Duration) []chat.Message {
	authors := []chat.UserRef{alice, bob, zoe}
	msgs := make([]chat.Message, n)
	for i := range msgs {
		msgs[i] = chat.Message{
			ID: fmt.Sprintf("g%06d", i), RoomID: "GENERAL", TS: at(time.Duration(i) * step),
			Msg: "message number " + strconv.Itoa(i), U: authors[(i/2)%len(authors)],
		}
		if i%7 == 6 {
			msgs[i].ThreadID = msgs[i-3].ID
		}
	}
	return msgs
}

// renderBook runs a book over msgs with the estimate total.
func renderBook(t *testing.T, opts BookOptions, total int64, loc *time.Location, msgs []chat.Message) *entries {
	t.Helper()
	e := newEntries()
	d := NewHTMLBook(e.open, opts)
	h := sampleHeader(loc)
	h.Total = total
	if err := d.Begin(h); err != nil {
		t.Fatalf("begin: %v", err)
	}
	for _, m := range msgs {
		if err := d.Message(m); err != nil {
			t.Fatalf("message %s: %v", m.ID, err)
		}
	}
	if err := d.End(int64(len(msgs))); err != nil {
		t.Fatalf("end: %v", err)
	}
	return e
}

// articles counts the message articles of a page.
func articles(root *html.Node) []*html.Node {
	var out []*html.Node
	for _, a := range elements(root, "article") {
		if hasClass(a, "msg") {
			out = append(out, a)
		}
	}
	return out
}

// navLinks maps the text of a page's navigation links to their hrefs.
func navLinks(root *html.Node) []map[string]string {
	var out []map[string]string
	for _, nav := range elements(root, "nav") {
		links := map[string]string{}
		for _, a := range elements(nav, "a") {
			href, _ := attr(a, "href")
			links[strings.TrimSpace(textOf(a))] = href
		}
		out = append(out, links)
	}
	return out
}

func TestBookWritesOnePageWhenTheEstimateFits(t *testing.T) {
	msgs := sampleMessages()
	e := renderBook(t, BookOptions{PerPage: 100, BaseName: "GENERAL"}, 26, berlin(t), msgs)
	if !slices.Equal(e.names, []string{"GENERAL.html"}) {
		t.Fatalf("entries = %v, want just GENERAL.html", e.names)
	}
	h := sampleHeader(berlin(t))
	h.Total = 26
	single := renderDoc(t, newHTMLBuf, h, msgs)
	if !bytes.Equal(e.data["GENERAL.html"].Bytes(), single) {
		t.Errorf("the single page of a book differs from NewHTML's page")
	}
}

func TestBookSplitsIntoPagesWithAnIndex(t *testing.T) {
	msgs := generated(25, 2*time.Hour) // 25 messages over three days
	e := renderBook(t, BookOptions{PerPage: 10, BaseName: "GENERAL"}, 25, nil, msgs)
	want := []string{"GENERAL-0001.html", "GENERAL-0002.html", "GENERAL-0003.html", "index.html"}
	if !slices.Equal(e.names, want) {
		t.Fatalf("entries = %v, want %v", e.names, want)
	}
	for i, name := range want[:3] {
		page := e.page(t, name)
		checkSafe(t, e.data[name].Bytes(), false)
		arts := articles(page)
		wantN := []int{10, 10, 5}[i]
		if len(arts) != wantN {
			t.Errorf("%s: %d messages, want %d", name, len(arts), wantN)
		}
		if id, _ := attr(arts[0], "id"); id != "msg-"+msgs[i*10].ID {
			t.Errorf("%s starts with %s, want msg-%s", name, id, msgs[i*10].ID)
		}
		title := textOf(elements(page, "title")[0])
		if title != fmt.Sprintf("General ✨ · page %d · Room export", i+1) {
			t.Errorf("%s: title %q", name, title)
		}
		navs := navLinks(page)
		if len(navs) != 2 {
			t.Fatalf("%s: %d navs, want one above and one below", name, len(navs))
		}
		top, bottom := navs[0], navs[1]
		for _, n := range navs {
			if n["Contents"] != "./index.html" {
				t.Errorf("%s: contents link %q", name, n["Contents"])
			}
		}
		prev := fmt.Sprintf("← Page %d", i)
		next := fmt.Sprintf("Page %d →", i+2)
		if i == 0 {
			if _, ok := top[prev]; ok {
				t.Errorf("page 1 links to a previous page")
			}
		} else if top[prev] != fmt.Sprintf("./GENERAL-%04d.html", i) || bottom[prev] != top[prev] {
			t.Errorf("%s: previous links %q %q", name, top[prev], bottom[prev])
		}
		if _, ok := top[next]; ok {
			t.Errorf("%s: the top nav links to a next page it cannot know exists", name)
		}
		if i < 2 && bottom[next] != fmt.Sprintf("./GENERAL-%04d.html", i+2) {
			t.Errorf("%s: next link %q", name, bottom[next])
		}
		if i == 2 {
			if _, ok := bottom[next]; ok {
				t.Errorf("the last page links to a next page")
			}
		}
		footer := strings.Join(strings.Fields(textOf(elements(page, "footer")[len(elements(page, "footer"))-1])), " ")
		wantFooter := []string{"Page 1 · messages 1–10", "Page 2 · messages 11–20", "Page 3 · messages 21–25 25 messages exported"}[i]
		if footer != wantFooter {
			t.Errorf("%s: footer %q, want %q", name, footer, wantFooter)
		}
		info := textOf(elements(page, "header")[0])
		if !strings.Contains(info, fmt.Sprintf("Page %d, from message %d", i+1, i*10+1)) || !strings.Contains(info, "General ✨") {
			t.Errorf("%s: header %q", name, info)
		}
	}
}

func TestBookIndex(t *testing.T) {
	msgs := generated(25, 2*time.Hour) // 2021-03-04 05:06 .. 2021-03-06 05:06 UTC
	e := renderBook(t, BookOptions{PerPage: 10, BaseName: "GENERAL"}, 25, nil, msgs)
	raw := e.data["index.html"].Bytes()
	checkSafe(t, raw, false)
	idx := parseHTML(t, raw)
	if got := textOf(elements(idx, "title")[0]); got != "General ✨ · contents · Room export" {
		t.Errorf("index title %q", got)
	}
	header := textOf(elements(idx, "header")[0])
	for _, want := range []string{"General ✨", "Public channel", "25 messages", "Exported"} {
		if !strings.Contains(header, want) {
			t.Errorf("index header lacks %q: %s", want, header)
		}
	}
	if strings.Contains(header, "about") {
		t.Errorf("the index shows the estimate, not the exact count: %s", header)
	}
	// The pages, with their time ranges and counts.
	var pages []string
	for _, li := range elements(elements(idx, "ol")[0], "li") {
		pages = append(pages, strings.Join(strings.Fields(textOf(li)), " "))
	}
	wantPages := []string{
		"Page 1 2021-03-04 05:06 – 2021-03-04 23:06 · 10 messages",
		"Page 2 2021-03-05 01:06 – 2021-03-05 19:06 · 10 messages",
		"Page 3 2021-03-05 21:06 – 2021-03-06 05:06 · 5 messages",
	}
	if !slices.Equal(pages, wantPages) {
		t.Errorf("pages:\n got %q\nwant %q", pages, wantPages)
	}
	// The days: counts, the page each starts on, links to that day's heading.
	var days []string
	total := 0
	for _, ul := range elements(idx, "ul") {
		for _, li := range elements(ul, "li") {
			days = append(days, strings.Join(strings.Fields(textOf(li)), " "))
			a := elements(li, "a")[0]
			href, _ := attr(a, "href")
			page, frag, _ := strings.Cut(strings.TrimPrefix(href, "./"), "#")
			target := e.page(t, page)
			if byID(target, frag) == nil {
				t.Errorf("day link %s: no #%s in %s", href, frag, page)
			}
			n, _ := strconv.Atoi(strings.Fields(textOf(li))[2])
			total += n
		}
	}
	wantDays := []string{
		"Thursday 4 10 messages · page 1",
		"Friday 5 12 messages · page 2 (over 2 pages)",
		"Saturday 6 3 messages · page 3",
	}
	if !slices.Equal(days, wantDays) {
		t.Errorf("days:\n got %q\nwant %q", days, wantDays)
	}
	if total != 25 {
		t.Errorf("day counts add up to %d, want 25", total)
	}
	months := elements(idx, "h3")
	if len(months) != 1 || strings.Join(strings.Fields(textOf(months[0])), " ") != "March 2021 25 messages" {
		t.Errorf("months: %d, first %q", len(months), textOf(months[0]))
	}
}

func TestBookRepeatsTheDayAtTheTopOfAPage(t *testing.T) {
	msgs := generated(25, 2*time.Hour)
	e := renderBook(t, BookOptions{PerPage: 10, BaseName: "GENERAL"}, 25, nil, msgs)
	// Page 3 starts on Friday 5 (21:06), in the middle of the day.
	var heads []string
	for _, h2 := range elements(e.page(t, "GENERAL-0003.html"), "h2") {
		heads = append(heads, textOf(h2)+"|"+mustAttr(h2, "class"))
	}
	want := []string{"Friday, 5 March 2021 (continued)|day continued", "Saturday, 6 March 2021|day"}
	if !slices.Equal(heads, want) {
		t.Errorf("page 3 day headings %q, want %q", heads, want)
	}
}

func mustAttr(n *html.Node, key string) string {
	v, _ := attr(n, key)
	return v
}

func TestBookIndexFollowsTheTimeZone(t *testing.T) {
	// 2021-03-04 23:36 UTC is 2021-03-05 00:36 in Berlin: one day in UTC,
	// two in Berlin.
	msgs := []chat.Message{
		{ID: "a", U: alice, Msg: "x", TS: time.Date(2021, 3, 4, 12, 0, 0, 0, time.UTC)},
		{ID: "b", U: alice, Msg: "y", TS: time.Date(2021, 3, 4, 23, 36, 0, 0, time.UTC)},
	}
	for name, c := range map[string]struct {
		loc  *time.Location
		days int
	}{"UTC": {nil, 1}, "Berlin": {berlin(t), 2}} {
		e := renderBook(t, BookOptions{PerPage: 1, BaseName: "R"}, 2, c.loc, msgs)
		var days int
		for _, ul := range elements(e.page(t, "index.html"), "ul") {
			days += len(elements(ul, "li"))
		}
		if days != c.days {
			t.Errorf("%s: %d days in the index, want %d", name, days, c.days)
		}
	}
}

func TestBookContinuesOnTheSinglePageWhenTheEstimateWasLow(t *testing.T) {
	msgs := generated(25, time.Minute)
	e := renderBook(t, BookOptions{PerPage: 10, BaseName: "R"}, 5, nil, msgs)
	if !slices.Equal(e.names, []string{"R.html"}) {
		t.Fatalf("entries = %v", e.names)
	}
	if n := len(articles(e.page(t, "R.html"))); n != 25 {
		t.Errorf("%d messages on the single page, want 25", n)
	}
}

func TestBookWithFewerMessagesThanEstimated(t *testing.T) {
	e := renderBook(t, BookOptions{PerPage: 10, BaseName: "R"}, 100, nil, generated(3, time.Minute))
	if !slices.Equal(e.names, []string{"R-0001.html", "index.html"}) {
		t.Fatalf("entries = %v", e.names)
	}
	bottom := navLinks(e.page(t, "R-0001.html"))[1]
	if _, ok := bottom["Page 2 →"]; ok {
		t.Errorf("the only page links to a page 2")
	}
	e = renderBook(t, BookOptions{PerPage: 10, BaseName: "R"}, 100, nil, nil)
	if !slices.Equal(e.names, []string{"R-0001.html", "index.html"}) {
		t.Fatalf("empty export: entries = %v", e.names)
	}
	for _, name := range e.names {
		if !strings.Contains(textOf(e.page(t, name)), "No messages in this range.") {
			t.Errorf("empty export: %s does not say so", name)
		}
	}
}

func TestBookOpensEntriesOnlyWhenNeeded(t *testing.T) {
	e := newEntries()
	d := NewHTMLBook(e.open, BookOptions{PerPage: 2, BaseName: "R"})
	h := sampleHeader(nil)
	h.Total = 5
	if err := d.Begin(h); err != nil {
		t.Fatal(err)
	}
	steps := []int{1, 1, 2, 2, 3} // entries opened after each message
	for i, m := range generated(5, time.Minute) {
		if err := d.Message(m); err != nil {
			t.Fatal(err)
		}
		if len(e.names) != steps[i] {
			t.Errorf("after message %d: entries %v", i+1, e.names)
		}
	}
	if err := d.End(5); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.names, []string{"R-0001.html", "R-0002.html", "R-0003.html", "index.html"}) {
		t.Errorf("entries = %v", e.names)
	}
	// Every page is a complete document.
	for _, name := range e.names {
		s := e.data[name].String()
		if !strings.HasPrefix(s, "<!DOCTYPE html>") || !strings.HasSuffix(s, "</html>\n") {
			t.Errorf("%s is not a whole page", name)
		}
	}
}

func TestBookReportsOpenErrors(t *testing.T) {
	boom := errors.New("zip broke")
	for _, c := range []struct {
		name  string
		total int64
		fail  string
		step  string // where the error shows
	}{
		{"single", 1, "R.html", "begin"},
		{"first page", 10, "R-0001.html", "begin"},
		{"second page", 10, "R-0002.html", "message"},
		{"index", 10, "index.html", "end"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEntries()
			e.fail = map[string]error{c.fail: boom}
			d := NewHTMLBook(e.open, BookOptions{PerPage: 2, BaseName: "R"})
			h := sampleHeader(nil)
			h.Total = c.total
			var err error
			step := "begin"
			if err = d.Begin(h); err == nil {
				step = "message"
				for _, m := range generated(3, time.Minute) {
					if err = d.Message(m); err != nil {
						break
					}
				}
				if err == nil {
					step = "end"
					err = d.End(3)
				}
			}
			if !errors.Is(err, boom) || step != c.step {
				t.Fatalf("error %v at %s, want %v at %s", err, step, boom, c.step)
			}
			if want := "render html: open " + c.fail + ": zip broke"; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			if err := d.End(3); !errors.Is(err, boom) {
				t.Errorf("the failure does not stick: %v", err)
			}
		})
	}
}

func TestBookPageNamesAreSafeLinks(t *testing.T) {
	// A base name that would read as a URL scheme or hold a space still
	// links to its sibling entries.
	e := renderBook(t, BookOptions{PerPage: 1, BaseName: "a:b c"}, 2, nil, generated(2, time.Minute))
	if !slices.Equal(e.names, []string{"a:b c-0001.html", "a:b c-0002.html", "index.html"}) {
		t.Fatalf("entries = %v", e.names)
	}
	next := navLinks(e.page(t, "a:b c-0001.html"))[1]["Page 2 →"]
	if next != "./a:b%20c-0002.html" {
		t.Errorf("next link %q", next)
	}
}

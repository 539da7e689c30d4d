package render

import (
	"bytes"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// parseHTML parses a document as a browser would.
func parseHTML(t testing.TB, doc []byte) *html.Node {
	t.Helper()
	root, err := html.Parse(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("parse html: %v", err)
	}
	return root
}

// walk calls fn for every element under n.
func walk(n *html.Node, fn func(*html.Node)) {
	if n.Type == html.ElementNode {
		fn(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

// elements returns the elements with that tag.
func elements(root *html.Node, tag string) []*html.Node {
	var out []*html.Node
	walk(root, func(n *html.Node) {
		if n.Data == tag {
			out = append(out, n)
		}
	})
	return out
}

// attr returns an attribute's (decoded) value.
func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// hasClass reports whether n has the class.
func hasClass(n *html.Node, class string) bool {
	v, _ := attr(n, "class")
	return slices.Contains(strings.Fields(v), class)
}

// textOf is the text content of n.
func textOf(n *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(n)
	return b.String()
}

// byID finds the element with that id.
func byID(root *html.Node, id string) *html.Node {
	var found *html.Node
	walk(root, func(n *html.Node) {
		if v, ok := attr(n, "id"); ok && v == id && found == nil {
			found = n
		}
	})
	return found
}

func samplePage(t *testing.T, loc *time.Location) *html.Node {
	t.Helper()
	return parseHTML(t, renderDoc(t, newHTMLBuf, sampleHeader(loc), sampleMessages()))
}

func TestHTMLHead(t *testing.T) {
	root := samplePage(t, nil)
	head := elements(root, "head")[0]
	var csp string
	for _, m := range elements(head, "meta") {
		if v, _ := attr(m, "http-equiv"); strings.EqualFold(v, "Content-Security-Policy") {
			csp, _ = attr(m, "content")
		}
	}
	directives := map[string]string{}
	for d := range strings.SplitSeq(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	want := map[string]string{
		"default-src": "'none'",
		"style-src":   "'unsafe-inline'",
		"img-src":     "'self' data: file:",
		"base-uri":    "'none'",
		"form-action": "'none'",
	}
	for k, v := range want {
		if directives[k] != v {
			t.Errorf("CSP %s = %q, want %q (policy %q)", k, directives[k], v, csp)
		}
	}
	for _, d := range []string{"script-src", "connect-src", "frame-src", "object-src", "font-src"} {
		if _, ok := directives[d]; ok {
			t.Errorf("CSP opens %s; default-src 'none' must cover it", d)
		}
	}
	if strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
		t.Errorf("CSP allows more than it should: %q", csp)
	}
	styles := elements(root, "style")
	if len(styles) != 1 || styles[0].Parent != head {
		t.Fatalf("want exactly one <style>, in <head>; got %d", len(styles))
	}
	css := textOf(styles[0])
	for _, want := range []string{"prefers-color-scheme: dark", "@media print", "color-scheme: light dark"} {
		if !strings.Contains(css, want) {
			t.Errorf("stylesheet lacks %q", want)
		}
	}
	if strings.Contains(css, "url(") || strings.Contains(css, "@import") {
		t.Errorf("stylesheet fetches something")
	}
	if got := textOf(elements(root, "title")[0]); got != "General ✨ · Room export" {
		t.Errorf("title = %q", got)
	}
}

func TestHTMLRoomHeader(t *testing.T) {
	root := samplePage(t, berlin(t))
	header := elements(root, "header")[0]
	text := textOf(header)
	for _, want := range []string{"General ✨", "Public channel", "Team chat — see https://example.com/wiki",
		"2021-03-04 01:00 – 2021-03-06 01:00", "Europe/Berlin", "about 1,234 messages", "2021-03-07 10:00 by Ada Admin"} {
		if !strings.Contains(text, want) {
			t.Errorf("room header lacks %q:\n%s", want, text)
		}
	}
	footer := elements(root, "footer")[0]
	if got := strings.TrimSpace(textOf(footer)); got != "26 messages exported" {
		t.Errorf("footer = %q", got)
	}
}

func TestHTMLHeaderWithoutRangeOrTotal(t *testing.T) {
	h := Header{Room: chat.Room{ID: "d1", Type: chat.RoomDirect, Usernames: []string{"alice", "bob"}}, From: time.Unix(0, 0), To: time.Date(2021, 1, 2, 0, 0, 0, 0, time.UTC)}
	root := parseHTML(t, renderDoc(t, newHTMLBuf, h, nil))
	text := textOf(elements(root, "header")[0])
	for _, want := range []string{"@alice, @bob", "Direct message", "the beginning – 2021-01-02 00:00", "UTC"} {
		if !strings.Contains(text, want) {
			t.Errorf("header lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "about") || strings.Contains(text, "Exported") {
		t.Errorf("header shows an unknown total or export time:\n%s", text)
	}
	footer := textOf(elements(root, "footer")[0])
	if !strings.Contains(footer, "No messages in this range.") || !strings.Contains(footer, "0 messages exported") {
		t.Errorf("empty export footer = %q", footer)
	}
}

func TestHTMLDaySeparatorsFollowLocation(t *testing.T) {
	for _, c := range []struct {
		name string
		loc  *time.Location
		want []string
	}{
		{"UTC", nil, []string{"Thursday, 4 March 2021"}},
		{"Berlin", berlin(t), []string{"Thursday, 4 March 2021", "Friday, 5 March 2021"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := samplePage(t, c.loc)
			var got []string
			for _, h2 := range elements(root, "h2") {
				if hasClass(h2, "day") {
					got = append(got, textOf(h2))
				}
			}
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("day separators = %q, want %q", got, c.want)
			}
			last := byID(root, "msg-m26")
			wantTime := map[string]string{"UTC": "23:36", "Berlin": "00:36"}[c.name]
			if !strings.Contains(textOf(last), wantTime) {
				t.Errorf("last message time not in %s: %q", c.name, textOf(last))
			}
		})
	}
}

func TestHTMLMessages(t *testing.T) {
	root := samplePage(t, nil)
	articles := elements(root, "article")
	if len(articles) != len(sampleMessages()) {
		t.Fatalf("got %d articles, want %d", len(articles), len(sampleMessages()))
	}
	for i, m := range sampleMessages() {
		if id, _ := attr(articles[i], "id"); id != "msg-"+m.ID {
			t.Errorf("article %d id = %q, want msg-%s", i, id, m.ID)
		}
	}
	cases := []struct {
		id       string
		contains []string
		html     []string // fragments of the raw markup of the article's body
	}{
		{"m01", []string{"Alice Liddell", "@alice", "05:06", "Hello, world!"}, nil},
		{"m02", []string{"first line", "after a blank line"}, []string{"first line<br>\nsecond line<br>\n<br>\nafter a blank line"}},
		{"m03", nil, []string{"<strong>bold</strong>", "<em>italic</em>", "<del>strike</del>", "<del>strike2</del>", "<strong>bold2</strong>", "<code>code &lt;b&gt;</code>", "snake_case_name 2*3*4"}},
		{"m04", nil, []string{"<pre><code>func main() {\n\tfmt.Println(&#34;&lt;hi&gt;&#34;)\n}</code></pre>after the block"}},
		{"m05", nil, []string{"<blockquote>quoted line one<br>quoted <strong>two</strong></blockquote>reply below"}},
		{"m06", nil, []string{`<a href="https://example.com/docs?a=1&amp;b=2"`, `>docs</a>`, `href="https://example.com/path_(x)"`, `</a>. and`, `href="https://www.example.org"`, `href="mailto:ops@example.com"`}},
		{"m07", []string{"[click](javascript:alert(1))", "[rel](/relative)", "data:text/html,x"}, []string{`href="https://example.com"`, `>angle</a>`}},
		{"m08", nil, []string{`<span class="mention">@bob</span>`, `<span class="mention">@all</span>`, `<span class="channel">#general</span>`, `<span class="channel">#dev-ops</span>.`, "mail bob@example.com"}},
		{"m09", nil, []string{`title=":smile:">😄</span>`, `title=":+1:">👍</span>`, `<span class="emoji">:custom_party:</span>`, "time 10:30:45"}},
		{"m10", []string{"Zoë Müller 山田", "@zoë.m", "Größe, ünïcödé, 日本語, עברית, 🎉"}, nil},
		{"m11", []string{"bob joined the channel"}, nil},
		{"m12", []string{"Alice Liddell added @carol"}, nil},
		{"m13", []string{"Alice Liddell changed the room name to “new-name”"}, nil},
		{"m16", []string{"pinned a message", "bob", "the pinned text"}, nil},
		{"m17", []string{"posted a system message of type some-future-type"}, nil},
		{"m18", []string{"reply in thread"}, []string{`<a href="#msg-m01">`}},
		{"m19", []string{"👍 2 @bob, @zoë.m", ":custom: 1 @alice", "🎉 1 @bob"}, nil},
		{"m20", []string{"(edited 2021-03-05 07:36)"}, []string{`title="Edited 2021-03-05 07:36 by @alice"`}},
		{"m21", []string{"report #1.pdf", "application/pdf, 121 KB", "the quarterly report"}, []string{`<a href="assets/f1-report%20%231.pdf">report #1.pdf</a>`}},
		{"m22", nil, []string{`<img src="assets/f2-cat%20photo.png" alt="cat photo.png"`}},
		{"m23", []string{"Example site", "A link preview", "Bad link", "not linked"}, []string{`<a href="https://example.com/"`}},
		{"m24", []string{"alice", "Hello, world!", "original message", "zoë.m", "nested quote"}, []string{`href="https://chat.example.com/channel/general?msg=m01"`}},
		{"m25", []string{"(message removed)"}, nil},
	}
	raw := string(renderDoc(t, newHTMLBuf, sampleHeader(nil), sampleMessages()))
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			n := byID(root, "msg-"+c.id)
			if n == nil {
				t.Fatalf("no element msg-%s", c.id)
			}
			text := strings.Join(strings.Fields(textOf(n)), " ")
			for _, want := range c.contains {
				if !strings.Contains(text, want) {
					t.Errorf("text lacks %q:\n%s", want, text)
				}
			}
			start := strings.Index(raw, `<article id="msg-`+c.id+`"`)
			end := start + strings.Index(raw[start:], "</article>")
			for _, want := range c.html {
				if !strings.Contains(raw[start:end], want) {
					t.Errorf("markup lacks %q:\n%s", want, raw[start:end])
				}
			}
		})
	}
	// The "Bad link" attachment title is not linked at all.
	for _, a := range elements(byID(root, "msg-m23"), "a") {
		if textOf(a) == "Bad link" {
			t.Errorf("an attachment title with a javascript: link is linked")
		}
	}
	// The file card of m21 does not repeat the file name next to the file list.
	if got := strings.Count(textOf(byID(root, "msg-m21")), "report #1.pdf"); got != 1 {
		t.Errorf("file name shown %d times in m21, want once", got)
	}
}

func TestHTMLEscapesIDs(t *testing.T) {
	id := `a"b<c>&d e`
	msgs := []chat.Message{{ID: id, Msg: "x", U: bob, TS: at(0)}, {ID: "m2", Msg: "y", U: bob, TS: at(time.Second), ThreadID: id}}
	root := parseHTML(t, renderDoc(t, newHTMLBuf, sampleHeader(nil), msgs))
	if byID(root, "msg-"+id) == nil {
		t.Fatalf("no element with the escaped id")
	}
	for _, a := range elements(byID(root, "msg-m2"), "a") {
		if textOf(a) == "parent message" {
			href, _ := attr(a, "href")
			if !strings.HasPrefix(href, "#msg-") || strings.ContainsAny(href, `"<> `) {
				t.Errorf("thread link href = %q", href)
			}
		}
	}
}

// recorder is a writer that records each Write call and can fail.
type recorder struct {
	writes [][]byte
	failAt int // 1-based index of the write that fails; 0 never
	err    error
}

func (r *recorder) Write(p []byte) (int, error) {
	if len(r.writes)+1 == r.failAt {
		r.writes = append(r.writes, nil)
		return 0, r.err
	}
	r.writes = append(r.writes, append([]byte(nil), p...))
	return len(p), nil
}

func TestDocumentsWriteEachMessageWhole(t *testing.T) {
	for name, newDoc := range map[string]func(*recorder) Document{
		"html": func(r *recorder) Document { return NewHTML(r) },
		"json": func(r *recorder) Document { return NewJSON(r) },
	} {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			d := newDoc(rec)
			if err := d.Begin(sampleHeader(nil)); err != nil {
				t.Fatal(err)
			}
			before := len(rec.writes)
			msgs := sampleMessages()
			for _, m := range msgs {
				if err := d.Message(m); err != nil {
					t.Fatal(err)
				}
			}
			if got := len(rec.writes) - before; got != len(msgs) {
				t.Fatalf("%d writes for %d messages; want one each", got, len(msgs))
			}
			for i, w := range rec.writes[before:] {
				s := string(w)
				switch name {
				case "html":
					if !strings.HasSuffix(s, "</article>\n") || strings.Count(s, "<article") != 1 {
						t.Errorf("write %d is not one whole article: %q", i, s)
					}
				case "json":
					if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "}\n") {
						t.Errorf("write %d is not one whole line: %q", i, s)
					}
				}
			}
		})
	}
}

func TestDocumentsReportWriteErrors(t *testing.T) {
	boom := errors.New("disk full")
	for name, newDoc := range map[string]func(*recorder) Document{
		"html": func(r *recorder) Document { return NewHTML(r) },
		"json": func(r *recorder) Document { return NewJSON(r) },
	} {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{err: boom, failAt: 2}
			if name == "json" {
				rec.failAt = 1 // JSON's Begin writes nothing
			}
			d := newDoc(rec)
			if err := d.Begin(sampleHeader(nil)); err != nil {
				t.Fatal(err)
			}
			err := d.Message(chat.Message{ID: "m1", Msg: "secret text", U: bob, TS: at(0)})
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want it to wrap %v", err, boom)
			}
			if want := "render " + name + ": write message m1: disk full"; err.Error() != want {
				t.Errorf("err = %q, want %q", err, want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error leaks message text")
			}
			// The failure sticks: later calls report it and write nothing.
			n := len(rec.writes)
			if err := d.Message(chat.Message{ID: "m2", U: bob, TS: at(time.Second)}); !errors.Is(err, boom) {
				t.Errorf("later Message: %v", err)
			}
			if err := d.End(1); !errors.Is(err, boom) {
				t.Errorf("End after failure: %v", err)
			}
			if len(rec.writes) != n {
				t.Errorf("a broken document kept writing")
			}
		})
	}
}

func TestDocumentsLifeCycle(t *testing.T) {
	for name, newDoc := range map[string]func(*bytes.Buffer) Document{"html": newHTMLBuf, "json": newJSONBuf} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			d := newDoc(&buf)
			if err := d.Message(chat.Message{ID: "m"}); !errors.Is(err, errNotBegun) {
				t.Errorf("Message before Begin: %v", err)
			}
			if err := d.End(0); !errors.Is(err, errNotBegun) {
				t.Errorf("End before Begin: %v", err)
			}
			if err := d.Begin(Header{}); err != nil {
				t.Fatal(err)
			}
			if err := d.Begin(Header{}); !errors.Is(err, errBegun) {
				t.Errorf("second Begin: %v", err)
			}
			if err := d.End(0); err != nil {
				t.Fatal(err)
			}
			n := buf.Len()
			if err := d.Message(chat.Message{ID: "m"}); !errors.Is(err, errEnded) {
				t.Errorf("Message after End: %v", err)
			}
			if err := d.End(0); !errors.Is(err, errEnded) {
				t.Errorf("second End: %v", err)
			}
			if buf.Len() != n {
				t.Errorf("a finished document kept writing")
			}
		})
	}
}

func TestHTMLDropsHugeBuffers(t *testing.T) {
	var buf bytes.Buffer
	d := NewHTML(&buf).(*htmlDoc)
	if err := d.Begin(Header{}); err != nil {
		t.Fatal(err)
	}
	if err := d.Message(chat.Message{ID: "big", Msg: strings.Repeat("word ", 200_000), U: bob, TS: at(0)}); err != nil {
		t.Fatal(err)
	}
	if d.buf.Cap() > maxKeptBuffer {
		t.Errorf("kept a %d-byte buffer after a huge message", d.buf.Cap())
	}
	if err := d.Message(chat.Message{ID: "small", Msg: "x", U: bob, TS: at(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `id="msg-small"`) {
		t.Errorf("document broken after a huge message")
	}
}

func TestHTMLFileLinksResolveToAssetPaths(t *testing.T) {
	names := []string{"plain.txt", "with space.pdf", "hash#tag.png", "q?uery.png", "100%.png", "ünï 日本.png", "../../etc/passwd", `a"b<c>.png`, "semi;colon.png"}
	for _, name := range names {
		f := chat.FileRef{ID: "f1", Name: name, Type: "image/png"}
		v := newFileView(f)
		got, err := url.PathUnescape(v.Href)
		if err != nil {
			t.Fatalf("%q: href %q does not unescape: %v", name, v.Href, err)
		}
		if got != chat.AssetPath(f) {
			t.Errorf("%q: href %q resolves to %q, the archive holds %q", name, v.Href, got, chat.AssetPath(f))
		}
		if strings.ContainsAny(v.Href[len("assets/"):], "/#? \"<>") {
			t.Errorf("%q: href %q has a character that changes its meaning", name, v.Href)
		}
	}
}

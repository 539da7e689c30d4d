package render

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// xssPayloads are fed into every field a document shows.
var xssPayloads = []string{
	`<script>alert(1)</script>`,
	`"><img src=x onerror=alert(1)>`,
	`'><svg onload=alert(1)>`,
	`<svg/onload=alert(1)>`,
	`</style><script>alert(1)</script>`,
	`</title><script>alert(1)</script>`,
	`</textarea></q></code></pre><script>alert(1)</script>`,
	`javascript:alert(1)`,
	`[x](javascript:alert(1))`,
	`[x](JaVaScRiPt:alert(1))`,
	`[x](java&#115;cript:alert(1))`,
	`[x](&#106;avascript:alert(1))`,
	`[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`,
	`[x](vbscript:msgbox(1))`,
	`[x](https://ok.example/"onmouseover="alert(1))`,
	`<javascript:alert(1)|x>`,
	`<https://ok.example/" onmouseover="alert(1)|x>`,
	`https://ok.example/"><script>alert(1)</script>`,
	`<a href="javascript:alert(1)">x</a>`,
	`<iframe src="https://evil.example"></iframe>`,
	`<style>body{background:url(https://evil.example/x)}</style>`,
	`<base href="https://evil.example/">`,
	`<meta http-equiv="refresh" content="0;url=https://evil.example">`,
	`<link rel=stylesheet href=https://evil.example/x.css>`,
	`<form action=https://evil.example><button>x</button></form>`,
	`<!-- x --><![CDATA[<script>alert(1)</script>]]>`,
	"*<script>alert(1)</script>*",
	"_<img src=x onerror=alert(1)>_",
	"`<script>alert(1)</script>`",
	"```\n</pre><script>alert(1)</script>\n```",
	"> <script>alert(1)</script>",
	"@<script>alert(1)</script>",
	"#<svg/onload=alert(1)>",
	":<script>:",
	"\x00<script>\u2028alert(1)\u202e",
	`&lt;script&gt;alert(1)&lt;/script&gt;`,
}

// xssMessages puts payload p into every field of a set of messages.
func xssMessages(p string) []chat.Message {
	u := chat.UserRef{ID: p, Username: p, Name: p}
	ts := at(0)
	return []chat.Message{
		{ID: p, Msg: p, U: u, TS: ts, ThreadID: p, EditedAt: ptr(ts), EditedBy: &u,
			Reactions: map[string]chat.Reaction{p: {Usernames: []string{p}}, ":smile:": {Usernames: []string{p}}}},
		{ID: "files", Msg: p, U: u, TS: ts.Add(time.Second),
			Files: []chat.FileRef{{ID: p, Name: p, Type: "image/" + p, Size: 1}, {ID: "f2", Name: p, Type: p}},
			Attachments: []chat.Attachment{
				{Title: p, TitleLink: p, Text: p, Description: p, AuthorName: p, MessageLink: p, ImageURL: p, Type: p,
					Attachments: []chat.Attachment{{Title: p, TitleLink: "javascript:alert(1)", Text: p, AuthorName: p}}},
				{Title: p, TitleLink: "/file-upload/" + p + "/" + p, Description: p},
			}},
		{ID: "au", Type: "au", Msg: p, U: u, TS: ts.Add(2 * time.Second)},
		{ID: "r", Type: "r", Msg: p, U: u, TS: ts.Add(3 * time.Second)},
		{ID: "topic", Type: "room_changed_topic", Msg: p, U: u, TS: ts.Add(4 * time.Second)},
		{ID: "team", Type: "user-added-room-to-team", Msg: p, U: u, TS: ts.Add(5 * time.Second)},
		{ID: "close", Type: "livechat-close", Msg: p, U: u, TS: ts.Add(6 * time.Second)},
		{ID: "unknown", Type: p, Msg: p, U: u, TS: ts.Add(7 * time.Second)},
	}
}

// xssHeader puts payload p into every header field.
func xssHeader(p string) Header {
	return Header{
		Room:       chat.Room{ID: p, Type: chat.RoomChannel, Name: p, FName: p, Topic: p, ParentID: p},
		From:       at(0),
		To:         at(time.Hour),
		ExportedAt: at(time.Hour),
		ExportedBy: p,
		Total:      3,
	}
}

// allowedTags are the only elements the renderers emit.
var allowedTags = map[string]bool{
	"html": true, "head": true, "body": true, "meta": true, "title": true, "style": true,
	"header": true, "main": true, "footer": true, "article": true, "h1": true, "h2": true,
	"p": true, "div": true, "span": true, "dl": true, "dt": true, "dd": true, "time": true,
	"a": true, "br": true, "strong": true, "em": true, "del": true, "code": true, "pre": true,
	"blockquote": true, "q": true, "ul": true, "li": true, "img": true, "b": true,
	"nav": true, "section": true, "ol": true, "h3": true,
}

// allowedAttrs are the only attributes the renderers emit.
var allowedAttrs = map[string]bool{
	"lang": true, "charset": true, "http-equiv": true, "content": true, "name": true,
	"class": true, "id": true, "href": true, "src": true, "alt": true, "loading": true,
	"title": true, "datetime": true, "rel": true, "target": true, "style": true,
	"tabindex": true, "aria-label": true, "aria-hidden": true, "aria-current": true, "aria-labelledby": true,
}

// fixedAttrs are attributes whose values are fixed by the templates: user
// content never reaches them.
var fixedAttrs = map[string]map[string]bool{
	"tabindex":     {"-1": true},
	"aria-label":   {"Messages": true, "Reactions": true, "Pages": true},
	"aria-hidden":  {"true": true},
	"aria-current": {"page": true},
}

// bookLink matches the links between the entries of a book: ./index.html and
// ./<name>-NNNN.html with an optional #msg- or #day- fragment.
var bookLink = regexp.MustCompile(`^\./(index\.html|[^/?#"<> ]+-[0-9]{4,}\.html(#(msg|day)-[^"<> ]*)?)$`)

// checkSafe asserts that a rendered document can run no script, load
// nothing from outside, and shows payloads only as text.
func checkSafe(t *testing.T, doc []byte, mail bool) {
	t.Helper()
	if bytes.Contains(bytes.ToLower(doc), []byte("<script")) {
		t.Errorf("raw output holds an unescaped <script")
	}
	root := parseHTML(t, doc)
	styles, metas := 0, 0
	walk(root, func(n *html.Node) {
		if !allowedTags[n.Data] {
			t.Errorf("unexpected element <%s>", n.Data)
		}
		for _, a := range n.Attr {
			key, val := strings.ToLower(a.Key), strings.ToLower(a.Val)
			if strings.HasPrefix(key, "on") || !allowedAttrs[key] {
				t.Errorf("unexpected attribute %s=%q on <%s>", a.Key, a.Val, n.Data)
			}
			switch key {
			case "href":
				// Links go to the page itself, the archive's assets, or
				// http, https and mailto — nothing else.
				if !(strings.HasPrefix(val, "https://") || strings.HasPrefix(val, "http://") || strings.HasPrefix(val, "mailto:") ||
					strings.HasPrefix(val, "#msg-") || strings.HasPrefix(val, "assets/") || val == "#messages" || val == "#contents" ||
					bookLink.MatchString(a.Val)) {
					t.Errorf("unexpected href %q", a.Val)
				}
				if strings.Contains(val, "javascript:") || strings.Contains(val, "vbscript:") || strings.ContainsAny(val, "\"<> \t\n") {
					t.Errorf("href %q breaks out", a.Val)
				}
			case "src":
				if n.Data != "img" || !strings.HasPrefix(val, "assets/") || strings.ContainsAny(val, "\"<> #?") {
					t.Errorf("unexpected src %q on <%s>", a.Val, n.Data)
				}
			case "style":
				if !mail {
					t.Errorf("style attribute in the page: %q", a.Val)
				}
				if strings.Contains(val, "url(") || strings.Contains(val, "expression") || strings.Contains(val, "<") {
					t.Errorf("style attribute %q", a.Val)
				}
			case "tabindex", "aria-label", "aria-hidden", "aria-current":
				if !fixedAttrs[key][a.Val] {
					t.Errorf("%s=%q on <%s>: not a value the templates write", a.Key, a.Val, n.Data)
				}
			case "aria-labelledby":
				if byID(root, a.Val) == nil {
					t.Errorf("aria-labelledby=%q names no element", a.Val)
				}
			case "http-equiv", "charset", "content":
				if n.Data != "meta" {
					t.Errorf("%s on <%s>", a.Key, n.Data)
				}
			}
		}
		switch n.Data {
		case "style":
			styles++
			if n.Parent == nil || n.Parent.Data != "head" {
				t.Errorf("<style> outside <head>")
			}
		case "meta":
			metas++
			if n.Parent == nil || n.Parent.Data != "head" {
				t.Errorf("<meta> outside <head>")
			}
			if v, _ := attr(n, "http-equiv"); strings.EqualFold(v, "refresh") {
				t.Errorf("meta refresh")
			}
		}
	})
	wantStyles, wantMetas := 1, 5
	if mail {
		wantStyles, wantMetas = 0, 2
	}
	if styles != wantStyles {
		t.Errorf("%d <style> elements, want %d", styles, wantStyles)
	}
	if metas != wantMetas {
		t.Errorf("%d <meta> elements, want %d", metas, wantMetas)
	}
}

func TestXSSPage(t *testing.T) {
	for _, p := range xssPayloads {
		t.Run(p, func(t *testing.T) {
			doc := renderDoc(t, newHTMLBuf, xssHeader(p), xssMessages(p))
			checkSafe(t, doc, false)
			root := parseHTML(t, doc)
			// The payload is still there, as text (escaped, not dropped).
			want := cleanText(p)
			if want == p && !strings.Contains(textOf(byID(root, "msg-au")), "@"+strings.TrimPrefix(want, "@")) {
				t.Errorf("payload not shown as text in a system message")
			}
			if got := textOf(elements(root, "title")[0]); !strings.Contains(got, strings.TrimSpace(want)) {
				t.Errorf("title %q does not show the room name as text", got)
			}
			if byID(root, "msg-"+strings.ReplaceAll(p, "\x00", "\uFFFD")) == nil {
				t.Errorf("message id not kept (escaped) in its id attribute")
			}
		})
	}
}

func TestXSSDirectMessageTitle(t *testing.T) {
	p := `<script>alert(1)</script>`
	h := Header{Room: chat.Room{ID: "d", Type: chat.RoomDirect, Usernames: []string{p, "bob"}}}
	doc := renderDoc(t, newHTMLBuf, h, nil)
	checkSafe(t, doc, false)
	if !strings.Contains(textOf(parseHTML(t, doc)), "@"+p+", @bob") {
		t.Errorf("participants not shown as text")
	}
}

func TestXSSMail(t *testing.T) {
	for _, p := range xssPayloads {
		t.Run(p, func(t *testing.T) {
			h := xssHeader(p)
			htmlBody, textBody := MailBody(h.Room, xssMessages(p), nil)
			checkSafe(t, []byte(htmlBody), true)
			if strings.ContainsAny(textBody, "\x00\r\x1b") {
				t.Errorf("text part holds control characters")
			}
		})
	}
}

func TestXSSJSON(t *testing.T) {
	for _, p := range xssPayloads {
		doc := renderDoc(t, newJSONBuf, xssHeader(p), xssMessages(p))
		for _, raw := range []string{"<", ">", "\x00", "\u2028"} {
			if bytes.Contains(doc, []byte(raw)) {
				t.Errorf("payload %q: JSON holds a raw %q", p, raw)
			}
		}
	}
}

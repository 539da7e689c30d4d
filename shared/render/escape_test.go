package render

import (
	"html"
	"html/template"
	"math/rand/v2"
	"strings"
	"testing"
)

// The escapers must write what html/template writes in the same context
// (the page and the mail were templates; their bytes must not change), and
// appendText what html.EscapeString writes. html/template is the oracle
// here, in the tests only: the package itself does not import it.

// templateContexts are the contexts the page and the mail put values in,
// each with the function that must escape like html/template there.
var templateContexts = []struct {
	name   string
	tmpl   string // the value is {{.}}; the output is cut between pre and post
	pre    string
	post   string
	escape func(string) string
}{
	{"text", `<p>{{.}}</p>`, `<p>`, `</p>`, func(s string) string { return string(appendHTML(nil, s)) }},
	{"rcdata", `<title>{{.}}</title>`, `<title>`, `</title>`, func(s string) string { return string(appendHTML(nil, s)) }},
	{"attribute", `<p title="{{.}}">`, `<p title="`, `">`, func(s string) string { return string(appendHTML(nil, s)) }},
	{"attribute after text", `<p class="avatar {{.}}">`, `<p class="avatar `, `">`, func(s string) string { return string(appendHTML(nil, s)) }},
	{"url", `<a href="{{.}}">`, `<a href="`, `">`, func(s string) string { return string(appendURL(nil, s)) }},
	{"img src", `<img src="{{.}}">`, `<img src="`, `">`, func(s string) string { return string(appendURL(nil, s)) }},
	{"fragment", `<a href="#msg-{{.}}">`, `<a href="#msg-`, `">`, func(s string) string { return string(appendURLPart(nil, s)) }},
	{"fragment after a url", `<a href="./p.html#day-{{.}}">`, `<a href="./p.html#day-`, `">`, func(s string) string { return string(appendURLPart(nil, s)) }},
}

// viaTemplate is what html/template writes for s in a context.
func viaTemplate(t testing.TB, tmpl, pre, post, s string) string {
	t.Helper()
	var b strings.Builder
	if err := template.Must(template.New("x").Parse(tmpl)).Execute(&b, s); err != nil {
		t.Fatalf("execute %s: %v", tmpl, err)
	}
	out := b.String()
	if !strings.HasPrefix(out, pre) || !strings.HasSuffix(out, post) {
		t.Fatalf("template %s wrote %q", tmpl, out)
	}
	return out[len(pre) : len(out)-len(post)]
}

// escapeCases are the strings escaping is about: every byte, the
// characters with a meaning in HTML and URLs, schemes and broken UTF-8.
func escapeCases() []string {
	cases := []string{
		"", "plain text", `"quoted" & 'single' <tag> a+b`, "\x00nul", "tab\tnew\nline\r", "\x7f\u0085\u2028\u2029\ufeff",
		"ünïcödé 日本 🎉", "\xff\xfe broken \xe2\x82", "100% %41 %zz %4", "a b#c?d=e&f+g", "(x)'y'!*$,;:@[]~",
		"https://example.com/a b/ü?q=1&r='x'#frag", "HTTP://X.Y", "mailto:a@b.c", "javascript:alert(1)", "JaVaScRiPt:x",
		"data:text/html,<b>", "vbscript:x", " javascript:x", "java\tscript:x", "/rel:ative", "./p:1.html", "a:b", ":x",
		"httpſ://x", "#frag", "?q", "//host/x", "https:", "mailto:", "%", "%%", "%0g", "&#106;avascript:x",
	}
	for c := range 256 {
		cases = append(cases, string([]byte{byte(c)}), "x"+string([]byte{byte(c)})+"é")
	}
	return cases
}

func TestEscapersMatchHTMLTemplate(t *testing.T) {
	for _, c := range templateContexts {
		for _, s := range escapeCases() {
			if got, want := c.escape(s), viaTemplate(t, c.tmpl, c.pre, c.post, s); got != want {
				t.Errorf("%s: %q\n got %q\nwant %q", c.name, s, got, want)
			}
		}
	}
}

func TestEscapersMatchHTMLTemplateOnRandomText(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pieces := escapeCases()
	for range 3000 {
		var b strings.Builder
		for n := r.IntN(12); n >= 0; n-- {
			if r.IntN(2) == 0 {
				b.WriteString(pieces[r.IntN(len(pieces))])
			} else {
				b.WriteByte(byte(r.IntN(256)))
			}
		}
		s := b.String()
		for _, c := range templateContexts {
			if got, want := c.escape(s), viaTemplate(t, c.tmpl, c.pre, c.post, s); got != want {
				t.Fatalf("%s: %q\n got %q\nwant %q", c.name, s, got, want)
			}
		}
		if got, want := string(appendText(nil, s)), html.EscapeString(s); got != want {
			t.Fatalf("appendText(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestAppendTextMatchesEscapeString(t *testing.T) {
	for _, s := range escapeCases() {
		if got, want := string(appendText(nil, s)), html.EscapeString(s); got != want {
			t.Errorf("appendText(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestAppendURLRefusesOtherSchemes(t *testing.T) {
	for _, s := range []string{"javascript:alert(1)", "JAVASCRIPT:x", "data:text/html,x", "vbscript:x", "file:///etc/passwd", "jar:x"} {
		if got := string(appendURL(nil, s)); got != unsafeURL {
			t.Errorf("appendURL(%q) = %q, want %q", s, got, unsafeURL)
		}
	}
	for _, s := range []string{"https://x.example/", "http://x", "mailto:a@b", "assets/a:b.png", "./p-0001.html"} {
		if got := string(appendURL(nil, s)); got == unsafeURL {
			t.Errorf("appendURL(%q) refused an allowed URL", s)
		}
	}
}

// FuzzEscapers compares every escaper with its reference on fuzzed input.
func FuzzEscapers(f *testing.F) {
	for _, s := range escapeCases()[:40] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range templateContexts {
			if got, want := c.escape(s), viaTemplate(t, c.tmpl, c.pre, c.post, s); got != want {
				t.Errorf("%s: %q\n got %q\nwant %q", c.name, s, got, want)
			}
		}
		if got, want := string(appendText(nil, s)), html.EscapeString(s); got != want {
			t.Errorf("appendText(%q) = %q, want %q", s, got, want)
		}
		if got, want := isClean(s), cleanTextReference(s) == s; got != want {
			t.Errorf("isClean(%q) = %v, cleanText changes it: %v", s, got, !want)
		}
	})
}

// cleanTextReference is cleanText without its fast path.
func cleanTextReference(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if isDropped(r) {
			return -1
		}
		return r
	}, s)
}

func TestCleanTextFastPath(t *testing.T) {
	for _, s := range escapeCases() {
		for _, in := range []string{s, strings.Repeat("abcdefgh", 3) + s + "ijklmnop", s + strings.Repeat("é", 9)} {
			if got, want := cleanText(in), cleanTextReference(in); got != want {
				t.Errorf("cleanText(%q) = %q, want %q", in, got, want)
			}
		}
	}
}

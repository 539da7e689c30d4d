package render

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

func TestMarkdown(t *testing.T) {
	const rel = ` rel="noopener noreferrer nofollow" target="_blank"`
	cases := []struct {
		name, in, want string
	}{
		{"plain", "hello", "hello"},
		{"escaped", `<b>"x" & 'y'</b>`, "&lt;b&gt;&#34;x&#34; &amp; &#39;y&#39;&lt;/b&gt;"},
		{"line breaks", "a\nb\r\nc\rd", "a<br>\nb<br>\nc<br>\nd"},
		{"control chars dropped", "a\x00b\x1bc\x7fd", "abcd"},
		{"invalid utf-8", "a\xffb", "a\uFFFDb"},
		{"bold", "*bold* text", "<strong>bold</strong> text"},
		{"double bold", "**bold**", "<strong>bold</strong>"},
		{"italic", "_it_", "<em>it</em>"},
		{"strike", "~s~ and ~~t~~", "<del>s</del> and <del>t</del>"},
		{"nested", "*bold _it_*", "<strong>bold <em>it</em></strong>"},
		{"bold after punctuation", "(*x*)", "(<strong>x</strong>)"},
		{"snake case", "snake_case_name", "snake_case_name"},
		{"arithmetic", "2*3*4", "2*3*4"},
		{"space after opener", "* not bold*", "* not bold*"},
		{"space before closer", "*not bold *", "*not bold *"},
		{"unclosed", "*a _b ~c", "*a _b ~c"},
		{"emphasis does not cross lines", "*a\nb*", "*a<br>\nb*"},
		{"inline code", "`a *b* <c>`", "<code>a *b* &lt;c&gt;</code>"},
		{"empty code", "``", "``"},
		{"fenced block", "```\n*a*\n<b>\n```", "<pre><code>*a*\n&lt;b&gt;</code></pre>"},
		{"fenced block with language", "```go\nx := 1\n```\nafter", "<pre><code>x := 1</code></pre>after"},
		{"fenced block on one line", "```code here```", "<pre><code>code here</code></pre>"},
		{"fence closing at line end", "```\na\nb```", "<pre><code>a\nb</code></pre>"},
		{"unclosed fence", "```\na", "```<br>\na"},
		{"quote", "> a\n> *b*\nc", "<blockquote>a<br><strong>b</strong></blockquote>c"},
		{"quote without space", ">a", "<blockquote>a</blockquote>"},
		{"link", "[t](https://x.example/a?b=1&c=2)", `<a href="https://x.example/a?b=1&amp;c=2"` + rel + `>t</a>`},
		{"link with markup", "[*t*](http://x.example)", `<a href="http://x.example"` + rel + `><strong>t</strong></a>`},
		{"link with parens", "[w](https://x.example/a_(b))", `<a href="https://x.example/a_(b)"` + rel + `>w</a>`},
		{"mailto link", "[m](mailto:a@b.example)", `<a href="mailto:a@b.example"` + rel + `>m</a>`},
		{"javascript link", "[x](javascript:alert(1))", "[x](javascript:alert(1))"},
		{"javascript link mixed case", "[x](JaVaScRiPt:alert(1))", "[x](JaVaScRiPt:alert(1))"},
		{"data link", "[x](data:text/html,hi)", "[x](data:text/html,hi)"},
		{"vbscript link", "[x](vbscript:msgbox)", "[x](vbscript:msgbox)"},
		{"relative link", "[x](/a/b)", "[x](/a/b)"},
		{"scheme-relative link", "[x](//evil.example)", "[x](//evil.example)"},
		{"no nested links", "[https://a.example](https://b.example)", `<a href="https://b.example"` + rel + `>https://a.example</a>`},
		{"angle link", "<https://x.example|text>", `<a href="https://x.example"` + rel + `>text</a>`},
		{"angle link without label", "<https://x.example>", `<a href="https://x.example"` + rel + `>https://x.example</a>`},
		{"angle javascript", "<javascript:alert(1)|x>", "&lt;javascript:alert(1)|x&gt;"},
		{"bare url", "see https://x.example/p.", `see <a href="https://x.example/p"` + rel + `>https://x.example/p</a>.`},
		{"bare url in parens", "(https://x.example)", `(<a href="https://x.example"` + rel + `>https://x.example</a>)`},
		{"bare www", "www.x.example", `<a href="https://www.x.example"` + rel + `>www.x.example</a>`},
		{"bare url keeps underscores", "https://x.example/a_b_c", `<a href="https://x.example/a_b_c"` + rel + `>https://x.example/a_b_c</a>`},
		{"bare url stops at quote", `https://x.example/"onmouseover="x`, `<a href="https://x.example/"` + rel + `>https://x.example/</a>&#34;onmouseover=&#34;x`},
		{"bare javascript", "javascript:alert(1)", "javascript:alert(1)"},
		{"bare http without host", "http:// x", "http:// x"},
		{"mention", "hi @bob.", `hi <span class="mention">@bob</span>.`},
		{"mention with dots", "@zoe.m-x_y", `<span class="mention">@zoe.m-x_y</span>`},
		{"email is not a mention", "a@b.example", "a@b.example"},
		{"channel", "#general, #dev-ops", `<span class="channel">#general</span>, <span class="channel">#dev-ops</span>`},
		{"hash alone", "# heading", "# heading"},
		{"emoji", ":smile:", `<span class="emoji" title=":smile:">😄</span>`},
		{"adjacent emoji", ":+1::tada:", `<span class="emoji" title=":+1:">👍</span><span class="emoji" title=":tada:">🎉</span>`},
		{"emoji inside a word", "a:smile:", "a:smile:"},
		{"unknown emoji", ":party_parrot:", `<span class="emoji">:party_parrot:</span>`},
		{"clock is not emoji", "10:30:45", "10:30:45"},
		{"non-ascii", "Größe 日本語 🎉", "Größe 日本語 🎉"},
		{"emphasis next to non-ascii letters", "ü*x*ü", "ü*x*ü"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := string(markdown(c.in, pageFlavor)); got != c.want {
				t.Errorf("markdown(%q)\n got %s\nwant %s", c.in, got, c.want)
			}
		})
	}
}

func TestMarkdownMailFlavorUsesInlineStyles(t *testing.T) {
	got := string(markdown("`c` @bob #room :smile: [l](https://x.example)\n```\nblock\n```\n> q", mailFlavor))
	if strings.Contains(got, "class=") {
		t.Errorf("mail markup uses classes (mail clients drop <style>): %s", got)
	}
	for _, want := range []string{`<code style="`, `<pre style="`, `<blockquote style="`, `<span style="color:#1d74f5;font-weight:600">@bob</span>`, "😄", `<a href="https://x.example" style="`} {
		if !strings.Contains(got, want) {
			t.Errorf("mail markup lacks %q: %s", want, got)
		}
	}
}

func TestSafeURL(t *testing.T) {
	ok := []string{"http://x.example", "https://x.example/a?b#c", "HTTPS://X.EXAMPLE", "mailto:a@b.example", "https://例え.jp/パス"}
	bad := []string{"", "javascript:alert(1)", "JAVASCRIPT:x", " javascript:x", "java\tscript:x", "java\nscript:x",
		"data:text/html,x", "vbscript:x", "file:///etc/passwd", "/relative", "//host.example", "https:", "http://",
		"https://x.example/\"><script>", "https://x.example/<b>", "https://x.example\\@evil", "mailto:", "ftp://x.example",
		"https://x.example/\x00", "https://x.example/\x7f", "https://a.example/`x`", "https://a.example/'x'"}
	for _, u := range ok {
		if _, got := safeURL(u); !got {
			t.Errorf("safeURL(%q) refused", u)
		}
	}
	for _, u := range bad {
		if _, got := safeURL(u); got {
			t.Errorf("safeURL(%q) allowed", u)
		}
	}
	if _, got := httpURL("mailto:a@b.example"); got {
		t.Errorf("httpURL allowed mailto")
	}
}

func TestMarkdownPathologicalInput(t *testing.T) {
	// Many unmatched delimiters, deep nesting and long lines must render
	// (linearly, thanks to the no-closer memo) without losing text.
	inputs := []string{
		strings.Repeat("*", 20000),
		strings.Repeat("*a ", 5000),
		strings.Repeat("_", 10000) + "x",
		strings.Repeat("*_~", 3000),
		strings.Repeat("[", 5000) + strings.Repeat("](", 5000),
		strings.Repeat("*a ", 20) + strings.Repeat("b* ", 20),
		strings.Repeat("`", 9999),
		strings.Repeat("> ", 3000),
		strings.Repeat("```\n", 2001),
	}
	for i, in := range inputs {
		got := string(markdown(in, pageFlavor))
		plain := textOf(parseHTML(t, []byte(got)))
		if strings.Count(plain, "a")+strings.Count(plain, "x") < strings.Count(in, "a")+strings.Count(in, "x") {
			t.Errorf("input %d lost text", i)
		}
	}
}

func TestMarkdownNestingDepthIsBounded(t *testing.T) {
	in := strings.Repeat("*_", 20) + "x" + strings.Repeat("_*", 20)
	got := string(markdown(in, pageFlavor))
	deepest := 0
	var depth func(n *html.Node, d int)
	depth = func(n *html.Node, d int) {
		if n.Type == html.ElementNode && (n.Data == "strong" || n.Data == "em" || n.Data == "del") {
			d++
		}
		deepest = max(deepest, d)
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			depth(c, d)
		}
	}
	root := parseHTML(t, []byte(got))
	depth(root, 0)
	if deepest > maxInlineDepth {
		t.Errorf("nested %d levels, limit %d: %s", deepest, maxInlineDepth, got)
	}
	if !strings.Contains(textOf(root), "x") {
		t.Errorf("lost the text: %s", got)
	}
}

// FuzzMarkdown checks, for any text, that markdown never panics, emits only
// its own small set of elements and attributes, and links only to URLs
// safeURL accepts. The seeds run under plain go test.
func FuzzMarkdown(f *testing.F) {
	for _, p := range xssPayloads {
		f.Add(p)
	}
	for _, m := range sampleMessages() {
		f.Add(m.Msg)
	}
	tags := map[string]bool{"strong": true, "em": true, "del": true, "code": true, "pre": true, "blockquote": true, "br": true, "a": true, "span": true}
	attrs := map[string]bool{"href": true, "rel": true, "target": true, "class": true, "title": true, "style": true}
	f.Fuzz(func(t *testing.T, in string) {
		for _, fl := range []flavor{pageFlavor, mailFlavor} {
			out := string(markdown(in, fl))
			nodes, err := html.ParseFragment(strings.NewReader(out), &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div})
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			for _, n := range nodes {
				walk(n, func(n *html.Node) {
					if !tags[n.Data] {
						t.Errorf("markdown(%q) emitted <%s>", in, n.Data)
					}
					for _, a := range n.Attr {
						if !attrs[a.Key] {
							t.Errorf("markdown(%q) emitted attribute %s", in, a.Key)
						}
						if a.Key == "href" {
							if _, ok := safeURL(a.Val); !ok {
								t.Errorf("markdown(%q) linked to %q", in, a.Val)
							}
						}
					}
				})
			}
		}
	})
}

package render

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// flavor selects how rendered elements are styled: CSS classes in the export
// page, inline styles in mail (mail clients drop <style>).
type flavor int

const (
	pageFlavor flavor = iota
	mailFlavor
)

// element is a kind of markup the markdown renderer emits.
type element int

const (
	elMention element = iota
	elChannel
	elEmoji
	elCode
	elPre
	elQuote
	elLink
)

// attr returns the fixed attributes (never user content) an element carries
// in this flavor, with a leading space, or "".
func (f flavor) attr(el element) string {
	if f == mailFlavor {
		switch el {
		case elMention, elChannel:
			return ` style="color:#1d74f5;font-weight:600"`
		case elCode:
			return ` style="font-family:Menlo,Consolas,monospace;font-size:90%;background:#f2f3f5;border:1px solid #e1e5e8;border-radius:3px;padding:0 3px"`
		case elPre:
			return ` style="font-family:Menlo,Consolas,monospace;font-size:90%;background:#f2f3f5;border:1px solid #e1e5e8;border-radius:4px;padding:8px;margin:4px 0;white-space:pre-wrap;word-wrap:break-word"`
		case elQuote:
			return ` style="margin:4px 0;padding:2px 0 2px 10px;border-left:3px solid #cbced1;color:#555"`
		case elLink:
			return ` style="color:#1d74f5"`
		}
		return ""
	}
	switch el {
	case elMention:
		return ` class="mention"`
	case elChannel:
		return ` class="channel"`
	case elEmoji:
		return ` class="emoji"`
	}
	return ""
}

// linkRel is put on every link the renderers emit: an export must not leak
// where it was opened, and a followed link must not script its opener.
const linkRel = ` rel="noopener noreferrer nofollow" target="_blank"`

// maxInlineDepth bounds how deeply emphasis may nest (*_~x~_*); deeper
// delimiters are shown as typed.
const maxInlineDepth = 6

// markdown renders a message text the way Rocket.Chat's message parser
// shows it: *bold*, _italic_, ~strike~ (and doubled delimiters), `inline
// code`, ``` fenced blocks ```, "> " quote lines, [text](url), <url|text> and
// bare links (http, https and mailto only; anything else stays plain text),
// @mentions, #channels and :emoji: shortcodes shown as text. Line breaks are
// kept. Everything that is not markup is escaped. The result is HTML.
func markdown(s string, f flavor) string {
	return string(appendMarkdown(nil, s, f))
}

// appendMarkdown appends the HTML of markdown(s, f) to dst; a text that is
// empty once cleaned appends nothing.
func appendMarkdown(dst []byte, s string, f flavor) []byte {
	s = cleanText(s)
	if s == "" {
		return dst
	}
	r := mdRenderer{b: dst, f: f}
	var one [1]string // most messages are one line: no slice to allocate
	lines := one[:]
	if strings.IndexByte(s, '\n') >= 0 {
		lines = strings.Split(s, "\n")
	} else {
		one[0] = s
	}
	needBreak := false
	for i := 0; i < len(lines); {
		if code, next, ok := fence(lines, i); ok {
			r.raw("<pre", f.attr(elPre), "><code>")
			r.text(code)
			r.raw("</code></pre>")
			needBreak = false
			i = next
			continue
		}
		if _, ok := quoteLine(lines[i]); ok {
			r.raw("<blockquote", f.attr(elQuote), ">")
			for first := true; i < len(lines); i++ {
				text, ok := quoteLine(lines[i])
				if !ok {
					break
				}
				if !first {
					r.raw("<br>")
				}
				first = false
				r.inline(text, 0, false)
			}
			r.raw("</blockquote>")
			needBreak = false
			continue
		}
		if needBreak {
			r.raw("<br>\n")
		}
		r.inline(lines[i], 0, false)
		needBreak = true
		i++
	}
	return r.b
}

// fence recognises a fenced code block starting at lines[i]: a line that
// begins with ```, up to a line that ends with ``` (or ```code``` on one
// line). It returns the code, the index after the block, and false when the
// fence is never closed (Rocket.Chat then shows the backticks as typed).
func fence(lines []string, i int) (code string, next int, ok bool) {
	rest, isFence := strings.CutPrefix(lines[i], "```")
	if !isFence {
		return "", 0, false
	}
	if inner, _, closed := strings.Cut(rest, "```"); closed {
		if strings.TrimSpace(inner) == "" {
			return "", 0, false
		}
		return inner, i + 1, true
	}
	var body []string
	if first := strings.TrimSpace(rest); strings.ContainsAny(first, " \t") {
		body = append(body, rest) // not a language tag: the code starts here
	}
	for j := i + 1; j < len(lines); j++ {
		trimmed := strings.TrimRight(lines[j], " \t")
		if before, found := strings.CutSuffix(trimmed, "```"); found {
			if before != "" {
				body = append(body, before)
			}
			return strings.Join(body, "\n"), j + 1, true
		}
		body = append(body, lines[j])
	}
	return "", 0, false
}

// quoteLine recognises a "> text" line and returns the text.
func quoteLine(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, ">")
	if !ok {
		return "", false
	}
	return strings.TrimPrefix(rest, " "), true
}

// mdRenderer appends the HTML of one text to b.
type mdRenderer struct {
	b []byte
	f flavor
}

// text writes plain text, escaped (as html.EscapeString does).
func (r *mdRenderer) text(s string) { r.b = appendText(r.b, s) }

// raw writes markup built here (never user text).
func (r *mdRenderer) raw(parts ...string) {
	for _, p := range parts {
		r.b = append(r.b, p...)
	}
}

// inline renders one line of inline markup. inLink suppresses nested links.
func (r *mdRenderer) inline(s string, depth int, inLink bool) {
	var noCloser [3][256]bool // [run length][delimiter]: known to have no closer further on
	start := 0                // start of pending plain text
	flushTo := func(i int) {
		r.text(s[start:i])
	}
	for i := 0; i < len(s); {
		c := s[i]
		if !mayStartMarkup(c) {
			i++
			continue
		}
		consumed := 0
		switch c {
		case '`':
			consumed = r.code(s, i, flushTo)
		case '*', '_', '~':
			if depth < maxInlineDepth {
				consumed = r.emphasis(s, i, depth, inLink, &noCloser, flushTo)
			}
		case '[':
			if !inLink {
				consumed = r.bracketLink(s, i, depth, flushTo)
			}
		case '<':
			if !inLink {
				consumed = r.angleLink(s, i, depth, flushTo)
			}
		case '@':
			consumed = r.reference(s, i, elMention, flushTo)
		case '#':
			consumed = r.reference(s, i, elChannel, flushTo)
		case ':':
			consumed = r.emoji(s, i, flushTo)
		case 'h', 'H', 'm', 'M', 'w', 'W':
			// Most of these letters are inside a word, where no link
			// starts: an ASCII letter or digit before says so cheaply.
			if !inLink && (i == 0 || !isASCIIAlnum(s[i-1])) {
				consumed = r.bareLink(s, i, flushTo)
			}
		}
		if consumed == 0 {
			i++
			continue
		}
		i += consumed
		start = i
	}
	r.text(s[start:])
}

// The bytes inline markup can start with, as bit sets over ASCII (the
// cases of the switch in inline): most bytes of a text start nothing, and
// two shifts tell so.
const (
	markupStarts0  = 1<<'#' | 1<<'*' | 1<<':' | 1<<'<' // bytes 0–63
	markupStarts64 = 1<<('@'-64) | 1<<('H'-64) | 1<<('M'-64) | 1<<('W'-64) | 1<<('['-64) | 1<<('_'-64) |
		1<<('`'-64) | 1<<('h'-64) | 1<<('m'-64) | 1<<('w'-64) | 1<<('~'-64) // bytes 64–127
)

// mayStartMarkup reports whether inline markup can start with c.
func mayStartMarkup(c byte) bool {
	if c < 64 {
		return uint64(markupStarts0)>>c&1 != 0
	}
	return c < 128 && uint64(markupStarts64)>>(c-64)&1 != 0
}

// Each recognizer below looks at s[i:], and when it matches, flushes the plain
// text before i, writes its markup and returns how many bytes it consumed;
// it returns 0 (and writes nothing) when s[i:] is not its markup.

// code renders `inline code`.
func (r *mdRenderer) code(s string, i int, flushTo func(int)) int {
	end := strings.IndexByte(s[i+1:], '`')
	if end <= 0 { // no closer, or `` (empty)
		return 0
	}
	flushTo(i)
	r.raw("<code", r.f.attr(elCode), ">")
	r.text(s[i+1 : i+1+end])
	r.raw("</code>")
	return end + 2
}

// emphasis renders *bold*, _italic_ and ~strike~ (single or doubled
// delimiters). An opener follows a non-word character and precedes a
// non-space; a closer follows a non-space and precedes a non-word character,
// as in Rocket.Chat, so snake_case_names and 2*3*4 stay as typed. noCloser
// remembers delimiters with no closer left in s, which keeps a line full of
// unmatched asterisks linear.
func (r *mdRenderer) emphasis(s string, i, depth int, inLink bool, noCloser *[3][256]bool, flushTo func(int)) int {
	c := s[i]
	if isWordRune(prevRune(s, i)) {
		return 0
	}
	n := 1
	if i+1 < len(s) && s[i+1] == c {
		n = 2
	}
	delim := s[i : i+n]
	open := i + n
	if noCloser[n][c] || open >= len(s) || unicode.IsSpace(nextRune(s, open)) || s[open] == c {
		return 0
	}
	j := closer(s, open, delim)
	if j < 0 {
		noCloser[n][c] = true
		return 0
	}
	tag := "strong"
	switch c {
	case '_':
		tag = "em"
	case '~':
		tag = "del"
	}
	flushTo(i)
	r.raw("<", tag, ">")
	r.inline(s[open:j], depth+1, inLink)
	r.raw("</", tag, ">")
	return j + n - i
}

// closer finds the first valid closing delim at or after from, or -1.
func closer(s string, from int, delim string) int {
	c := delim[0]
	for j := from + 1; j <= len(s)-len(delim); j++ {
		if s[j] != c || s[j:j+len(delim)] != delim {
			continue
		}
		after := j + len(delim)
		if (after < len(s) && s[after] == c) || s[j-1] == c {
			continue // part of a longer run
		}
		if unicode.IsSpace(prevRune(s, j)) || isWordRune(nextRune(s, after)) {
			continue
		}
		return j
	}
	return -1
}

// bracketLink renders [text](url) when url is allowed; a link with any other
// scheme is shown as typed, as plain text.
func (r *mdRenderer) bracketLink(s string, i, depth int, flushTo func(int)) int {
	closeText := strings.IndexByte(s[i+1:], ']')
	if closeText < 0 {
		return 0
	}
	label := s[i+1 : i+1+closeText]
	p := i + 1 + closeText + 1
	if p >= len(s) || s[p] != '(' || label == "" {
		return 0
	}
	end, balance := -1, 0
	for k := p + 1; k < len(s) && end < 0; k++ {
		switch s[k] {
		case '(':
			balance++
		case ')':
			if balance == 0 {
				end = k
			}
			balance--
		case ' ', '\t':
			return 0
		}
	}
	if end < 0 {
		return 0
	}
	flushTo(i)
	target := s[p+1 : end]
	if href, ok := safeURL(target); ok {
		r.link(href, func() { r.inline(label, depth+1, true) })
	} else {
		r.text(s[i : end+1])
	}
	return end + 1 - i
}

// angleLink renders Rocket.Chat's older <url|text> and <url> forms.
func (r *mdRenderer) angleLink(s string, i, depth int, flushTo func(int)) int {
	end := strings.IndexByte(s[i+1:], '>')
	if end <= 0 {
		return 0
	}
	inner := s[i+1 : i+1+end]
	target, label, hasLabel := strings.Cut(inner, "|")
	href, ok := safeURL(target)
	if !ok {
		return 0
	}
	flushTo(i)
	r.link(href, func() {
		if hasLabel && label != "" {
			r.inline(label, depth+1, true)
		} else {
			r.text(target)
		}
	})
	return end + 2
}

// bareLink renders http://, https://, mailto: and www. addresses written as
// text. Trailing punctuation (and an unbalanced closing parenthesis) is left
// out of the link, as in Rocket.Chat.
func (r *mdRenderer) bareLink(s string, i int, flushTo func(int)) int {
	rest := s[i:]
	var prefixes []string
	switch s[i] | 0x20 { // lower case
	case 'h':
		prefixes = []string{"https://", "http://"}
	case 'm':
		prefixes = []string{"mailto:"}
	case 'w':
		prefixes = []string{"www."}
	}
	prefix := ""
	for _, p := range prefixes {
		if len(rest) > len(p) && hasPrefixFold(rest, p) {
			prefix = p
			break
		}
	}
	if prefix == "" || isWordRune(prevRune(s, i)) {
		return 0
	}
	end := strings.IndexFunc(rest, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(`<>"`+"`", r)
	})
	if end < 0 {
		end = len(rest)
	}
	u := trimURLTail(rest[:end])
	if len(u) <= len(prefix) {
		return 0
	}
	target := u
	if prefix == "www." {
		target = "https://" + u
	}
	href, ok := safeURL(target)
	if !ok {
		return 0
	}
	flushTo(i)
	r.link(href, func() { r.text(u) })
	return len(u)
}

// hasPrefixFold reports whether s starts with prefix, a lower-case ASCII
// word, in any case. For such a prefix it is strings.EqualFold(s[:len(prefix)],
// prefix): a non-ASCII rune would take two bytes or more, leaving fewer
// runes than the prefix has.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// trimURLTail drops sentence punctuation and unbalanced closing brackets from
// the end of a bare link.
func trimURLTail(u string) string {
	for u != "" {
		last := u[len(u)-1]
		switch {
		case strings.IndexByte(".,;:!?'*_~", last) >= 0:
			u = u[:len(u)-1]
		case last == ')' && strings.Count(u, ")") > strings.Count(u, "("):
			u = u[:len(u)-1]
		case last == ']' && strings.Count(u, "]") > strings.Count(u, "["):
			u = u[:len(u)-1]
		default:
			return u
		}
	}
	return u
}

// link writes an <a> whose href was checked by safeURL; label writes the
// (escaped) link text.
func (r *mdRenderer) link(href string, label func()) {
	r.raw(`<a href="`)
	r.text(href)
	r.raw(`"`, r.f.attr(elLink), linkRel, `>`)
	label()
	r.raw("</a>")
}

// reference renders @mentions and #channels. They are marked, not linked:
// an archive has no user or channel pages to point at.
func (r *mdRenderer) reference(s string, i int, el element, flushTo func(int)) int {
	if isWordRune(prevRune(s, i)) {
		return 0
	}
	n := 0
	for n < len(s)-i-1 && isNameByte(s[i+1+n]) {
		n++
	}
	for n > 0 && (s[i+n] == '.' || s[i+n] == '-') {
		n-- // sentence punctuation, not part of the name
	}
	if n == 0 {
		return 0
	}
	flushTo(i)
	r.raw("<span", r.f.attr(el), ">")
	r.text(s[i : i+1+n])
	r.raw("</span>")
	return n + 1
}

// isNameByte reports characters of Rocket.Chat's default username and
// channel name pattern, [0-9a-zA-Z-_.].
func isNameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.'
}

// emoji renders a :shortcode: as its Unicode character when the table knows
// it, and as the shortcode text otherwise (custom emoji have no image here).
func (r *mdRenderer) emoji(s string, i int, flushTo func(int)) int {
	if isWordRune(prevRune(s, i)) {
		return 0
	}
	n := 0
	for n < 64 && i+1+n < len(s) && isEmojiByte(s[i+1+n]) {
		n++
	}
	end := i + 1 + n
	if n == 0 || end >= len(s) || s[end] != ':' || isWordRune(nextRune(s, end+1)) {
		return 0
	}
	flushTo(i)
	r.emojiSpan(s[i : end+1])
	return n + 2
}

// emojiSpan writes one shortcode (":name:").
func (r *mdRenderer) emojiSpan(code string) {
	if u := emojiFor(code); u != "" {
		if r.f == mailFlavor {
			r.raw(u)
			return
		}
		r.raw(`<span class="emoji" title="`)
		r.text(code)
		r.raw(`">`, u, "</span>")
		return
	}
	if r.f == mailFlavor {
		r.text(code)
		return
	}
	r.raw("<span", r.f.attr(elEmoji), ">")
	r.text(code)
	r.raw("</span>")
}

// isEmojiByte reports characters of emoji shortcode names.
func isEmojiByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '+' || b == '-'
}

// isASCIIAlnum reports ASCII letters and digits (isWordRune of an ASCII
// byte).
func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isWordRune reports letters and digits: delimiters next to them are text.
func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// prevRune is the rune before s[i], or a space at the start.
func prevRune(s string, i int) rune {
	if i <= 0 {
		return ' '
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return r
}

// nextRune is the rune at s[i], or a space at the end.
func nextRune(s string, i int) rune {
	if i >= len(s) {
		return ' '
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}

// safeURL returns the URL when it may become an href: http and https with a
// host, or mailto; no whitespace, control characters, quotes or angle
// brackets. Everything else (javascript:, data:, vbscript:, relative paths,
// obfuscated schemes) is refused.
func safeURL(raw string) (string, bool) {
	if raw == "" || len(raw) > 4096 {
		return "", false
	}
	for k := 0; k < len(raw); k++ {
		if b := raw[k]; b <= ' ' || b == 0x7f || strings.IndexByte("\"'<>\\`", b) >= 0 {
			return "", false
		}
	}
	if !utf8.ValidString(raw) {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return "", false
		}
	case "mailto":
		if u.Opaque == "" && u.Path == "" {
			return "", false
		}
	default:
		return "", false
	}
	return raw, true
}

// httpURL is safeURL restricted to http and https (attachment title links).
func httpURL(raw string) (string, bool) {
	u, ok := safeURL(raw)
	if !ok || strings.HasPrefix(strings.ToLower(u), "mailto:") {
		return "", false
	}
	return u, true
}

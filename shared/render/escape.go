package render

import (
	"strconv"
	"strings"
)

// The HTML writers (page.go, mail.go, markdown.go) build documents by
// appending fixed markup and escaped values to a byte slice. Every value that
// comes from a message, a room, a user or a file goes through one of the
// functions below; nothing else is written unescaped.
//
// The page and the mail used to be html/template templates. The escapers
// reproduce, byte for byte, what html/template wrote in each context the
// templates used (escape_test.go checks them against html/template itself),
// so the documents did not change when the templates went. html/template
// was dropped because it reaches methods by reflection, which makes the
// linker keep every exported method of every type in the binary, and
// because executing it cost far more than the message it wrote.

// The bytes appendHTML and appendText escape, as bit sets over bytes 0–63
// (all of them are below 64): one shift tells most bytes apart.
const (
	htmlEscaped = 1<<0 | 1<<'"' | 1<<'&' | 1<<'\'' | 1<<'+' | 1<<'<' | 1<<'>'
	textEscaped = 1<<'"' | 1<<'&' | 1<<'\'' | 1<<'<' | 1<<'>'
)

// Word-at-a-time tests: 8 bytes of text in a uint64, tested at once, are
// the escapers' fast path over runs of plain text. Each test sets the high
// bit of a byte that matches, and may also set it in a byte above a match
// (a borrow), never in a word without one: they answer "is there any".
const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// load8 reads the first 8 bytes of s (at least 8 long), little-endian.
func load8[S ~string | ~[]byte](s S) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// bytesBelow flags the bytes of x below n (n <= 0x80), in a word whose
// bytes are all ASCII.
func bytesBelow(x uint64, n byte) uint64 { return (x - lsb8*uint64(n)) &^ x & msb8 }

// bytesEqual flags the bytes of x equal to c (ASCII).
func bytesEqual(x uint64, c byte) uint64 {
	v := x ^ lsb8*uint64(c)
	return (v - lsb8) &^ v & msb8
}

// appendHTML appends s escaped for HTML text, an RCDATA element (<title>)
// or a double-quoted attribute value, as html/template does for a plain
// string in those contexts: NUL becomes U+FFFD, and " & ' + < > become
// &#34; &amp; &#39; &#43; &lt; &gt;. Every other byte, invalid UTF-8
// included, is copied.
func appendHTML[S ~string | ~[]byte](dst []byte, s S) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		for i+8 <= len(s) {
			x := load8(s[i:])
			if bytesEqual(x, 0)|bytesEqual(x, '"')|bytesEqual(x, '&')|bytesEqual(x, '\'')|
				bytesEqual(x, '+')|bytesEqual(x, '<')|bytesEqual(x, '>') != 0 {
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= 64 || htmlEscaped>>c&1 == 0 {
			continue
		}
		var esc string
		switch c {
		case 0:
			esc = "\uFFFD"
		case '"':
			esc = "&#34;"
		case '&':
			esc = "&amp;"
		case '\'':
			esc = "&#39;"
		case '+':
			esc = "&#43;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		default:
			continue
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		last = i + 1
	}
	return append(dst, s[last:]...)
}

// appendText appends s escaped as html.EscapeString escapes it: < > & ' "
// become &lt; &gt; &amp; &#39; &#34;. The markdown renderer writes text this
// way (its input is cleaned first, so it holds no NUL).
func appendText(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		for i+8 <= len(s) {
			x := load8(s[i:])
			if bytesEqual(x, '"')|bytesEqual(x, '&')|bytesEqual(x, '\'')|bytesEqual(x, '<')|bytesEqual(x, '>') != 0 {
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= 64 || textEscaped>>c&1 == 0 {
			continue
		}
		var esc string
		switch c {
		case '"':
			esc = "&#34;"
		case '&':
			esc = "&amp;"
		case '\'':
			esc = "&#39;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		default:
			continue
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		last = i + 1
	}
	return append(dst, s[last:]...)
}

// unsafeURL is what appendURL writes for a URL whose scheme is not allowed:
// html/template's "#ZgotmplZ", a fragment that goes nowhere.
const unsafeURL = "#ZgotmplZ"

// appendURL appends a URL for a double-quoted href or src value, as
// html/template does for a plain string at the start of a URL attribute:
// a URL with a scheme other than http, https or mailto becomes
// "#ZgotmplZ"; the rest is normalised (every byte outside RFC 3986's
// unreserved and reserved characters is percent-encoded, valid %XX escapes
// are kept) and then attribute-escaped (& and + become &amp; and &#43;).
// The renderers only pass URLs that safeURL, httpURL or the asset path
// builder made, so the scheme check is a second line of defence.
func appendURL(dst []byte, s string) []byte {
	if !isSafeURLScheme(s) {
		return append(dst, unsafeURL...)
	}
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var esc string
		switch {
		case isUnreserved(c):
			continue
		case c == '&':
			esc = "&amp;"
		case c == '+':
			esc = "&#43;"
		case isReserved(c):
			continue
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			continue
		}
		dst = append(dst, s[last:i]...)
		if esc != "" {
			dst = append(dst, esc...)
		} else {
			dst = appendPercent(dst, c)
		}
		last = i + 1
	}
	return append(dst, s[last:]...)
}

// appendURLPart appends a value that follows a '#' (or '?') written in a URL
// attribute, as html/template does there: every byte but ASCII letters,
// digits and - . _ ~ is percent-encoded, so the value cannot end the
// fragment, the attribute or the tag. Nothing is left for the attribute
// escaper to change.
func appendURLPart(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isUnreserved(c) {
			dst = append(dst, s[last:i]...)
			dst = appendPercent(dst, c)
			last = i + 1
		}
	}
	return append(dst, s[last:]...)
}

// appendPercent appends %xx (lower-case hex, as html/template writes it).
func appendPercent(dst []byte, c byte) []byte {
	const hex = "0123456789abcdef"
	return append(dst, '%', hex[c>>4], hex[c&0xf])
}

// isUnreserved reports RFC 3986's unreserved characters.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// isReserved reports the reserved characters html/template keeps when it
// normalises a URL (RFC 3986's, less ' ( ), which it encodes so the URL is
// also safe in single-quoted attributes and CSS).
func isReserved(c byte) bool {
	switch c {
	case '!', '#', '$', '&', '*', '+', ',', '/', ':', ';', '=', '?', '@', '[', ']':
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isSafeURLScheme is html/template's URL filter: a URL with a scheme (a
// colon before any slash) must use http, https or mailto, in any case
// (strings.EqualFold, so Unicode folds count as html/template counts them).
func isSafeURLScheme(s string) bool {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") {
		return strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "mailto")
	}
	return true
}

// appendInt appends a decimal integer, as html/template prints an int.
func appendInt(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }

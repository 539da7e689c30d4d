package chat

import (
	"strings"
	"unicode"
)

// SafeName turns a name taken from data (a room name, a user name, a file
// name) into one safe to use as a ZIP entry, an object key segment or a
// header value: no path separators, no "..", no control characters, no
// quotes, at most 120 bytes. It never returns "" (it returns fallback, or "_").
func SafeName(s, fallback string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '/' || r == '\\' || r == ':' || r == '"' || r == '\'' || r == '<' || r == '>' || r == '|' || r == '?' || r == '*' || r == ';' || r == '%':
			b.WriteByte('_')
		case unicode.IsControl(r) || r == unicode.ReplacementChar || unicode.Is(unicode.Cf, r):
			// dropped: control and format characters (including bidi overrides)
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	out := strings.TrimSpace(b.String())
	for strings.Contains(out, "..") {
		out = strings.ReplaceAll(out, "..", "_")
	}
	out = strings.Trim(out, ". ")
	if len(out) > 120 {
		cut := 120
		for cut > 0 && !utf8Start(out[cut]) {
			cut--
		}
		out = strings.TrimSpace(out[:cut])
	}
	if out == "" {
		if fallback != "" && fallback != s {
			return SafeName(fallback, "")
		}
		return "_"
	}
	return out
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// AssetPath is where an uploaded file goes in an export archive (Rocket.Chat's
// layout): assets/<fileId>-<fileName>, both parts sanitised.
func AssetPath(f FileRef) string {
	return "assets/" + SafeName(f.ID, "file") + "-" + SafeName(f.Name, "file")
}

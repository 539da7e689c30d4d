package mailmsg

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

var testDate = time.Date(2024, 3, 9, 14, 5, 6, 0, time.FixedZone("CET", 3600))

func opts() Options {
	return Options{Date: testDate, MessageID: "<0123abcd@rooms-export.local>"}
}

// part is one decoded leaf or multipart node of a parsed message.
type part struct {
	mediaType string
	params    map[string]string
	header    map[string][]string
	body      []byte // decoded (leaves only)
	children  []part
}

func parse(t *testing.T, raw []byte) (*mail.Message, part) {
	t.Helper()
	for i, c := range raw {
		if c >= 0x80 {
			t.Fatalf("byte %d of the message is not 7-bit: %#x", i, c)
		}
	}
	for i, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line %d is %d bytes long", i, len(line))
		}
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("line %d has a bare CR or LF: %q", i, line)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("mail.ReadMessage: %v", err)
	}
	p := parsePart(t, msg.Header, msg.Body)
	return msg, p
}

func parsePart(t *testing.T, h map[string][]string, body io.Reader) part {
	t.Helper()
	get := func(k string) string {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	mt, params, err := mime.ParseMediaType(get("Content-Type"))
	if err != nil {
		t.Fatalf("content type %q: %v", get("Content-Type"), err)
	}
	p := part{mediaType: mt, params: params, header: h}
	if strings.HasPrefix(mt, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			child, err := r.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("next part of %s: %v", mt, err)
			}
			p.children = append(p.children, parsePart(t, child.Header, child))
		}
		return p
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read part: %v", err)
	}
	switch cte := get("Content-Transfer-Encoding"); cte {
	case "quoted-printable":
		if p.body, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw))); err != nil {
			t.Fatalf("quoted-printable: %v", err)
		}
	case "base64":
		lines := strings.Split(strings.TrimSuffix(string(raw), "\r\n"), "\r\n")
		for i, l := range lines {
			if len(l) > 76 || (i < len(lines)-1 && len(l) != 76) {
				t.Fatalf("base64 line %d of %d is %d long", i, len(lines), len(l))
			}
		}
		if p.body, err = base64.StdEncoding.DecodeString(strings.Join(lines, "")); err != nil {
			t.Fatalf("base64: %v", err)
		}
	default:
		t.Fatalf("part %s has transfer encoding %q", mt, cte)
	}
	return p
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestBuildFullMessage(t *testing.T) {
	zip := randomBytes(t, 300*1024)
	m := Mail{
		From:    "exports@rooms-export.example",
		To:      []string{"alice@example.com", "bob.smith+rc@mail.example.org"},
		ReplyTo: "carol@example.net",
		Subject: "Room export: general",
		Text:    "Hello,\nthe export is attached.\nA line = with an equals sign and a very long tail that must be soft-wrapped by quoted-printable encoding.\n",
		HTML:    "<!DOCTYPE html>\n<p>Héllo — «export»</p>\n",
		Attachments: []Attachment{
			{Name: "general-2024.zip", ContentType: "application/zip", Data: zip},
			{Name: "notes été.txt", ContentType: "text/plain; charset=utf-8; boundary=x", Data: []byte("é\n")},
			{Name: "empty.bin", ContentType: "", Data: nil},
		},
	}
	raw, err := Build(m, opts())
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	msg, root := parse(t, raw)

	want := map[string]string{
		"From":         m.From,
		"Reply-To":     m.ReplyTo,
		"Subject":      m.Subject,
		"Message-Id":   "<0123abcd@rooms-export.local>",
		"Mime-Version": "1.0",
	}
	for k, v := range want {
		if got := msg.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	to, err := msg.Header.AddressList("To")
	if err != nil {
		t.Fatalf("To: %v", err)
	}
	if len(to) != 2 || to[0].Address != m.To[0] || to[1].Address != m.To[1] || to[0].Name != "" {
		t.Errorf("To = %v, want %v", to, m.To)
	}
	date, err := msg.Header.Date()
	if err != nil || !date.Equal(testDate) {
		t.Errorf("Date = %v (%v), want %v", date, err, testDate)
	}
	// Header order as the brief lists it.
	order := []string{"From:", "To:", "Reply-To:", "Subject:", "Date:", "Message-ID:", "MIME-Version:", "Content-Type:"}
	pos := -1
	for _, h := range order {
		i := bytes.Index(raw, []byte("\r\n"+h))
		if h == "From:" {
			i = bytes.Index(raw, []byte(h))
			if i != 0 {
				t.Fatalf("message does not start with From: %q", raw[:20])
			}
		}
		if i <= pos && h != "From:" {
			t.Fatalf("header %s at %d, not after the previous one at %d", h, i, pos)
		}
		pos = i
	}

	if root.mediaType != "multipart/mixed" || len(root.children) != 4 {
		t.Fatalf("root = %s with %d parts, want multipart/mixed with 4", root.mediaType, len(root.children))
	}
	alt := root.children[0]
	if alt.mediaType != "multipart/alternative" || len(alt.children) != 2 {
		t.Fatalf("first part = %s with %d parts, want multipart/alternative with 2", alt.mediaType, len(alt.children))
	}
	text, html := alt.children[0], alt.children[1]
	if text.mediaType != "text/plain" || text.params["charset"] != "utf-8" || string(text.body) != crlf(m.Text) {
		t.Errorf("text part = %s %v %q", text.mediaType, text.params, text.body)
	}
	if html.mediaType != "text/html" || html.params["charset"] != "utf-8" || string(html.body) != crlf(m.HTML) {
		t.Errorf("html part = %s %v %q", html.mediaType, html.params, html.body)
	}

	wantAtt := []struct {
		ctype, charset, name string
		data                 []byte
	}{
		{"application/zip", "", "general-2024.zip", zip},
		{"text/plain", "utf-8", "notes été.txt", []byte("é\n")},
		{"application/octet-stream", "", "empty.bin", nil},
	}
	for i, w := range wantAtt {
		p := root.children[i+1]
		if p.mediaType != w.ctype || p.params["charset"] != w.charset || p.params["name"] != w.name {
			t.Errorf("attachment %d type = %s %v, want %s charset %q name %q", i, p.mediaType, p.params, w.ctype, w.charset, w.name)
		}
		if _, ok := p.params["boundary"]; ok {
			t.Errorf("attachment %d kept a boundary parameter", i)
		}
		disp, dp, err := mime.ParseMediaType(p.header["Content-Disposition"][0])
		if err != nil || disp != "attachment" || dp["filename"] != w.name {
			t.Errorf("attachment %d disposition = %s %v (%v), want attachment filename %q", i, disp, dp, err, w.name)
		}
		if !bytes.Equal(p.body, w.data) {
			t.Errorf("attachment %d: %d bytes back, want %d equal bytes", i, len(p.body), len(w.data))
		}
	}
	if !bytes.Contains(raw, []byte(`filename*=utf-8''notes%20%C3%A9t%C3%A9.txt`)) {
		t.Errorf("non-ASCII filename is not written as filename*=utf-8''...")
	}
}

func TestBuildWithoutAttachments(t *testing.T) {
	cases := []struct {
		name, text, html string
		want             []string // media types of the alternatives
	}{
		{"both", "plain", "<p>html</p>", []string{"text/plain", "text/html"}},
		{"text only", "plain", "", []string{"text/plain"}},
		{"html only", "", "<p>html</p>", []string{"text/html"}},
		{"neither", "", "", []string{"text/plain"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, err := Build(Mail{From: "a@example.com", To: []string{"b@example.com"}, Subject: "s", Text: c.text, HTML: c.html}, opts())
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			msg, root := parse(t, raw)
			if msg.Header.Get("Reply-To") != "" || bytes.Contains(raw, []byte("Reply-To:")) {
				t.Errorf("Reply-To written although not set")
			}
			if root.mediaType != "multipart/alternative" {
				t.Fatalf("top level = %s, want multipart/alternative", root.mediaType)
			}
			if len(root.children) != len(c.want) {
				t.Fatalf("%d alternatives, want %d", len(root.children), len(c.want))
			}
			for i, p := range root.children {
				if p.mediaType != c.want[i] {
					t.Errorf("alternative %d = %s, want %s", i, p.mediaType, c.want[i])
				}
				wantBody := c.text
				if p.mediaType == "text/html" {
					wantBody = c.html
				}
				if string(p.body) != wantBody {
					t.Errorf("alternative %d body = %q, want %q", i, p.body, wantBody)
				}
			}
		})
	}
}

func TestSubjectRoundTrips(t *testing.T) {
	subjects := []string{
		"Room export: général",
		"Экспорт комнаты: общий канал для всех сотрудников отдела разработки и поддержки",
		"チャットルームのエクスポート：一般",
		"Export 🎉 " + strings.Repeat("ü", 200),
		"A long plain ASCII subject " + strings.Repeat("word ", 60) + "end",
		strings.Repeat("x", 300),
		"Looks encoded =?utf-8?q?caf=C3=A9?= but is not",
		"",
	}
	dec := new(mime.WordDecoder)
	for _, s := range subjects {
		raw, err := Build(Mail{From: "a@example.com", To: []string{"b@example.com"}, Subject: s, Text: "x"}, opts())
		if err != nil {
			t.Fatalf("Build(%q): %v", s, err)
		}
		msg, _ := parse(t, raw)
		got, err := dec.DecodeHeader(msg.Header.Get("Subject"))
		if err != nil {
			t.Fatalf("decode subject of %q: %v", s, err)
		}
		if got != s {
			t.Errorf("subject round trip:\n got %q\nwant %q", got, s)
		}
		// Lines of an encoded or foldable subject stay within 78 + the
		// encoder's one over-long first word.
		head := string(raw[:bytes.Index(raw, []byte("\r\nDate:"))])
		for _, line := range strings.Split(head[strings.Index(head, "Subject:"):], "\r\n") {
			if len(line) > 90 && strings.Contains(s, " ") {
				t.Errorf("subject line of %d bytes: %q", len(line), line)
			}
		}
	}
}

func TestSubjectCannotInjectHeaders(t *testing.T) {
	cases := map[string]string{
		"Hi\r\nBcc: evil@example.com":          "Hi  Bcc: evil@example.com",
		"Hi\nBcc: evil@example.com":            "Hi Bcc: evil@example.com",
		"Hi\rBcc: evil@example.com":            "Hi Bcc: evil@example.com",
		"é\r\nBcc: evil@example.com\r\n\r\nx":  "é  Bcc: evil@example.com    x",
		"tab\there\x00nul\x7fdel\u0085nel":     "tab here nul del nel",
		"line\u2028sep":                        "line sep",
		"bad \xff utf8":                        "bad   utf8",
		"\r\n\r\nBody: now":                    "Body: now",
		"=?utf-8?q?a?=\r\nBcc: evil@example.c": "=?utf-8?q?a?=  Bcc: evil@example.c",
	}
	dec := new(mime.WordDecoder)
	for in, want := range cases {
		raw, err := Build(Mail{From: "a@example.com", To: []string{"b@example.com"}, Subject: in, Text: "body"}, opts())
		if err != nil {
			t.Fatalf("Build(%q): %v", in, err)
		}
		msg, root := parse(t, raw)
		for _, k := range []string{"Bcc", "Body"} {
			if v := msg.Header.Get(k); v != "" {
				t.Errorf("subject %q injected %s: %q", in, k, v)
			}
		}
		got, err := dec.DecodeHeader(msg.Header.Get("Subject"))
		if err != nil || got != want {
			t.Errorf("subject %q became %q (%v), want %q", in, got, err, want)
		}
		if root.mediaType != "multipart/alternative" || string(root.children[0].body) != "body" {
			t.Errorf("subject %q disturbed the body", in)
		}
	}
}

func TestAddressesCannotInjectHeaders(t *testing.T) {
	bad := []string{
		"",
		"a@example.com\r\nBcc: evil@example.com",
		"a@example.com\nBcc: evil@example.com",
		"a@example.com\r",
		"Bob <bob@example.com>",
		"<bob@example.com>",
		`"Bob" <bob@example.com>`,
		"bob@example.com, eve@example.com",
		"bob@example.com (comment)",
		" bob@example.com",
		`"a b"@example.com`,
		"bøb@example.com",
		"=?utf-8?q?x?= <x@example.com>",
		"no-at-sign",
	}
	good := Mail{From: "a@example.com", To: []string{"b@example.com"}, ReplyTo: "c@example.com", Subject: "s", Text: "t"}
	if _, err := Build(good, opts()); err != nil {
		t.Fatalf("Build(good): %v", err)
	}
	for _, addr := range bad {
		for _, field := range []string{"From", "To", "Reply-To"} {
			m := good
			m.To = []string{"b@example.com"}
			switch field {
			case "From":
				m.From = addr
			case "To":
				m.To = append(m.To, addr)
			case "Reply-To":
				if addr == "" {
					continue // an empty Reply-To means "none"
				}
				m.ReplyTo = addr
			}
			raw, err := Build(m, opts())
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s %q: err = %v, want ErrInvalid", field, addr, err)
			}
			if raw != nil {
				t.Errorf("%s %q: got a message with the error", field, addr)
			}
		}
	}
	if _, err := Build(Mail{From: "a@example.com", Subject: "s"}, opts()); !errors.Is(err, ErrInvalid) {
		t.Errorf("no recipients: err = %v, want ErrInvalid", err)
	}
}

func TestManyRecipientsFold(t *testing.T) {
	var to []string
	for i := range 30 {
		to = append(to, strings.Repeat("r", 10+i)+"@example.com")
	}
	raw, err := Build(Mail{From: "a@example.com", To: to, Subject: "s", Text: "t"}, opts())
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	msg, _ := parse(t, raw)
	got, err := msg.Header.AddressList("To")
	if err != nil || len(got) != len(to) {
		t.Fatalf("To: %d addresses (%v), want %d", len(got), err, len(to))
	}
	for i := range to {
		if got[i].Address != to[i] {
			t.Errorf("To[%d] = %q, want %q", i, got[i].Address, to[i])
		}
	}
	head := string(raw[:bytes.Index(raw, []byte("\r\nSubject:"))])
	for _, line := range strings.Split(head, "\r\n") {
		if len(line) > 78 {
			t.Errorf("To line of %d bytes", len(line))
		}
	}
}

func TestAttachmentHeadersAreSanitised(t *testing.T) {
	cases := []struct{ name, ctype, wantType string }{
		{"../../etc/passwd", "text/plain", "text/plain"},
		{"a\r\nContent-Type: text/html\r\n\r\n<script>", "application/pdf", "application/pdf"},
		{`x"; filename="evil.exe`, "image/png", "image/png"},
		{"", "text/html\r\nX-Evil: 1", "application/octet-stream"},
		{"inner.eml", "message/rfc822", "application/octet-stream"},
		{"parts", "multipart/mixed; boundary=zzz", "application/octet-stream"},
		{"\u202egnp.exe", "not a type", "application/octet-stream"},
	}
	for _, c := range cases {
		data := []byte("data of " + c.name)
		raw, err := Build(Mail{From: "a@example.com", To: []string{"b@example.com"}, Subject: "s", Text: "t",
			Attachments: []Attachment{{Name: c.name, ContentType: c.ctype, Data: data}}}, opts())
		if err != nil {
			t.Fatalf("Build(%q): %v", c.name, err)
		}
		_, root := parse(t, raw)
		if len(root.children) != 2 {
			t.Fatalf("%q: %d top-level parts, want 2", c.name, len(root.children))
		}
		p := root.children[1]
		for k := range p.header {
			switch k {
			case "Content-Type", "Content-Transfer-Encoding", "Content-Disposition":
			default:
				t.Errorf("%q: unexpected part header %s", c.name, k)
			}
		}
		wantName := chat.SafeName(c.name, "attachment")
		_, dp, err := mime.ParseMediaType(p.header["Content-Disposition"][0])
		if err != nil || dp["filename"] != wantName {
			t.Errorf("%q: filename = %q (%v), want %q", c.name, dp["filename"], err, wantName)
		}
		if strings.ContainsAny(dp["filename"], "/\\\"\r\n") {
			t.Errorf("%q: filename %q keeps a dangerous character", c.name, dp["filename"])
		}
		if p.mediaType != c.wantType || p.params["name"] != wantName {
			t.Errorf("%q: type = %s %v, want %s", c.name, p.mediaType, p.params, c.wantType)
		}
		if !bytes.Equal(p.body, data) {
			t.Errorf("%q: body = %q", c.name, p.body)
		}
	}
}

func TestAttachmentSizesRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 56, 57, 58, 114, 1000, 300 * 1024} {
		data := randomBytes(t, n)
		raw, err := Build(Mail{From: "a@example.com", To: []string{"b@example.com"}, Subject: "s",
			Attachments: []Attachment{{Name: "f.bin", Data: data}}}, opts())
		if err != nil {
			t.Fatalf("Build(%d bytes): %v", n, err)
		}
		_, root := parse(t, raw)
		if got := root.children[1].body; !bytes.Equal(got, data) {
			t.Errorf("%d bytes: got %d bytes back, not equal", n, len(got))
		}
	}
}

func TestBuildOptionsChecked(t *testing.T) {
	m := Mail{From: "a@example.com", To: []string{"b@example.com"}, Subject: "s", Text: "t"}
	if _, err := Build(m, Options{MessageID: "<a@b>"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero date: err = %v, want ErrInvalid", err)
	}
	for _, id := range []string{"", "a@b", "<a@b", "<ab>", "<@b>", "<a@>", "<a b@c>", "<a@b>\r\nBcc: x@y.z", "<a@b\x00>", "<é@b>"} {
		if _, err := Build(m, Options{Date: testDate, MessageID: id}); !errors.Is(err, ErrInvalid) {
			t.Errorf("message id %q: err = %v, want ErrInvalid", id, err)
		}
	}
}

func TestValidAddress(t *testing.T) {
	valid := []string{
		"alice@example.com",
		"bob.smith+tag@mail.example.co.uk",
		"x_y-z@sub-domain.example.org",
		"a@b.io",
		"UPPER@EXAMPLE.COM",
		strings.Repeat("l", 64) + "@example.com",
	}
	invalid := []string{
		"",
		"alice",
		"alice@",
		"@example.com",
		"alice@localhost",
		"alice@example",
		"alice@example.c",
		"alice@example.123",
		"alice@[127.0.0.1]",
		"alice@127.0.0.1",
		"alice@-example.com",
		"alice@example-.com",
		"alice@exa_mple.com",
		"alice@example..com",
		"alice@.example.com",
		"alice@example.com.",
		"Alice <alice@example.com>",
		"<alice@example.com>",
		`"alice"@example.com`,
		`"al ice"@example.com`,
		"alice@example.com (home)",
		" alice@example.com",
		"alice@example.com ",
		"alice@example.com\r\nBcc: eve@example.com",
		"alice@example.com\n",
		"al\x00ice@example.com",
		"alïce@example.com",
		"alice@exämple.com",
		"alice@example.com,bob@example.com",
		"a@b@example.com",
		strings.Repeat("l", 65) + "@example.com",
		"a@" + strings.Repeat("d", 64) + ".com",
		"a@" + strings.Repeat("abcdefghi.", 25) + "com",
	}
	for _, s := range valid {
		if !ValidAddress(s) {
			t.Errorf("ValidAddress(%q) = false, want true", s)
		}
	}
	for _, s := range invalid {
		if ValidAddress(s) {
			t.Errorf("ValidAddress(%q) = true, want false", s)
		}
	}
}

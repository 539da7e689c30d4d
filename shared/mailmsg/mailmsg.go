// Package mailmsg builds RFC 5322 / MIME messages from the mails of the
// export.Mailer port: the bytes the Maildir mailer stores and the raw email
// SES v2 sends. It also holds the address rule the service applies to
// recipients (ValidAddress).
//
// Rocket.Chat hands its mails to nodemailer, which builds the MIME structure
// and encodes headers; this package plays that part. It refuses anything that
// could inject a header: addresses must be bare and parse with net/mail,
// control characters in the subject become spaces, attachment names are
// sanitised with chat.SafeName and written through mime.FormatMediaType.
// Everything it writes is 7-bit ASCII (quoted-printable bodies, base64
// attachments, RFC 2047 subjects), so any MTA can carry it.
package mailmsg

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// Mail is the message to encode. It has the fields of export.Mail (the
// Mailer port's type), which this package cannot take: package export
// imports this one for ValidAddress, so importing export back would be a
// cycle. Mailer adapters copy the port's value into a Mail.
type Mail struct {
	From        string
	To          []string
	ReplyTo     string // optional
	Subject     string
	Text        string // text/plain body; may be empty
	HTML        string // text/html body; may be empty
	Attachments []Attachment
}

// Attachment is a file attached to a mail. It has the same fields as
// export.MailAttachment, so one converts to the other directly.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Options are the values of a message that the caller injects, so that Build
// itself has no clock and no randomness (except the MIME boundaries, which
// mime/multipart draws from crypto/rand).
type Options struct {
	Date      time.Time // the Date header
	MessageID string    // the Message-ID header, "<id@domain>"
}

// lineLimit is the line length RFC 5322 §2.1.1 recommends (SHOULD); headers
// are folded to stay within it where the format allows.
const lineLimit = 78

// ErrInvalid is wrapped by every error Build returns for a mail it refuses.
var ErrInvalid = errors.New("invalid mail")

// Build encodes m as a complete message: From, To, Reply-To (when set),
// Subject, Date, Message-ID, MIME-Version, then a multipart/mixed body
// holding a multipart/alternative (text/plain, text/html) followed by one
// part per attachment. Without attachments the top level is the
// multipart/alternative itself. An empty Text or HTML omits that part; when
// both are empty an empty text/plain part is kept so the message stays valid.
func Build(m Mail, o Options) ([]byte, error) {
	from, err := headerAddress(m.From)
	if err != nil {
		return nil, fmt.Errorf("mailmsg: build: from: %w", err)
	}
	if len(m.To) == 0 {
		return nil, fmt.Errorf("mailmsg: build: no recipients: %w", ErrInvalid)
	}
	to := make([]string, 0, len(m.To))
	for i, a := range m.To {
		addr, err := headerAddress(a)
		if err != nil {
			return nil, fmt.Errorf("mailmsg: build: to[%d]: %w", i, err)
		}
		to = append(to, addr)
	}
	var replyTo string
	if m.ReplyTo != "" {
		if replyTo, err = headerAddress(m.ReplyTo); err != nil {
			return nil, fmt.Errorf("mailmsg: build: reply-to: %w", err)
		}
	}
	if o.Date.IsZero() {
		return nil, fmt.Errorf("mailmsg: build: no date: %w", ErrInvalid)
	}
	if !validMessageID(o.MessageID) {
		return nil, fmt.Errorf("mailmsg: build: message id is not <left@right>: %w", ErrInvalid)
	}

	var buf bytes.Buffer
	writeHeader(&buf, "From", from)
	writeHeader(&buf, "To", foldList(len("To: "), to))
	if replyTo != "" {
		writeHeader(&buf, "Reply-To", replyTo)
	}
	writeHeader(&buf, "Subject", encodeSubject(m.Subject))
	writeHeader(&buf, "Date", o.Date.Format(time.RFC1123Z))
	writeHeader(&buf, "Message-ID", o.MessageID)
	writeHeader(&buf, "MIME-Version", "1.0")

	if len(m.Attachments) == 0 {
		alt := multipart.NewWriter(&buf)
		writeHeader(&buf, "Content-Type", multipartType("multipart/alternative", alt.Boundary()))
		buf.WriteString("\r\n")
		if err := writeAlternatives(alt, m.Text, m.HTML); err != nil {
			return nil, fmt.Errorf("mailmsg: build: %w", err)
		}
		return buf.Bytes(), nil
	}

	mixed := multipart.NewWriter(&buf)
	writeHeader(&buf, "Content-Type", multipartType("multipart/mixed", mixed.Boundary()))
	buf.WriteString("\r\n")

	// The alternative part's header names its boundary before the part
	// exists, so its writer starts on a forwarder that is pointed at the part.
	var fw forwardWriter
	alt := multipart.NewWriter(&fw)
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", multipartType("multipart/alternative", alt.Boundary()))
	pw, err := mixed.CreatePart(h)
	if err != nil {
		return nil, fmt.Errorf("mailmsg: build: alternative part: %w", err)
	}
	fw.w = pw
	if err := writeAlternatives(alt, m.Text, m.HTML); err != nil {
		return nil, fmt.Errorf("mailmsg: build: %w", err)
	}
	for i, a := range m.Attachments {
		if err := writeAttachment(mixed, a); err != nil {
			return nil, fmt.Errorf("mailmsg: build: attachment %d: %w", i, err)
		}
	}
	if err := mixed.Close(); err != nil {
		return nil, fmt.Errorf("mailmsg: build: close mixed: %w", err)
	}
	return buf.Bytes(), nil
}

func writeHeader(buf *bytes.Buffer, name, value string) {
	buf.WriteString(name)
	buf.WriteString(": ")
	buf.WriteString(value)
	buf.WriteString("\r\n")
}

func multipartType(t, boundary string) string {
	return mime.FormatMediaType(t, map[string]string{"boundary": boundary})
}

// foldList joins addresses with ", ", starting a continuation line when the
// next address would pass lineLimit.
func foldList(start int, items []string) string {
	var b strings.Builder
	col := start
	for i, it := range items {
		if i > 0 {
			if col+2+len(it)+1 > lineLimit { // +1: the comma that may end the line
				b.WriteString(",\r\n ")
				col = 1
			} else {
				b.WriteString(", ")
				col += 2
			}
		}
		b.WriteString(it)
		col += len(it)
	}
	return b.String()
}

func writeAlternatives(alt *multipart.Writer, text, html string) error {
	if text != "" || html == "" {
		if err := writeQP(alt, "text/plain; charset=utf-8", text); err != nil {
			return fmt.Errorf("text part: %w", err)
		}
	}
	if html != "" {
		if err := writeQP(alt, "text/html; charset=utf-8", html); err != nil {
			return fmt.Errorf("html part: %w", err)
		}
	}
	if err := alt.Close(); err != nil {
		return fmt.Errorf("close alternative: %w", err)
	}
	return nil
}

func writeQP(w *multipart.Writer, contentType, body string) error {
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", contentType)
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	pw, err := w.CreatePart(h)
	if err != nil {
		return err
	}
	qp := quotedprintable.NewWriter(pw)
	if _, err := io.WriteString(qp, body); err != nil {
		return err
	}
	return qp.Close()
}

func writeAttachment(w *multipart.Writer, a Attachment) error {
	name := chat.SafeName(a.Name, "attachment")
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", attachmentType(a.ContentType, name))
	h.Set("Content-Transfer-Encoding", "base64")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	pw, err := w.CreatePart(h)
	if err != nil {
		return err
	}
	lw := &lineWriter{w: pw}
	enc := base64.NewEncoder(base64.StdEncoding, lw)
	if _, err := enc.Write(a.Data); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return lw.finish()
}

// attachmentType re-formats the declared content type, keeping only its
// charset, and names the file (for mail readers that look at "name").
// Anything that does not parse, and the composite types that may not be
// base64-encoded (multipart/*, message/*), become application/octet-stream.
func attachmentType(declared, name string) string {
	t, params, err := mime.ParseMediaType(declared)
	if err != nil || strings.HasPrefix(t, "multipart/") || strings.HasPrefix(t, "message/") {
		t = "application/octet-stream"
	}
	p := map[string]string{"name": name}
	if cs := params["charset"]; cs != "" {
		p["charset"] = cs
	}
	if s := mime.FormatMediaType(t, p); s != "" {
		return s
	}
	return mime.FormatMediaType("application/octet-stream", map[string]string{"name": name})
}

// lineWriter breaks base64 output into lines of 76 characters (RFC 2045 §6.8).
type lineWriter struct {
	w   io.Writer
	col int
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		room := 76 - l.col
		chunk := min(room, len(p))
		if _, err := l.w.Write(p[:chunk]); err != nil {
			return n, err
		}
		n += chunk
		l.col += chunk
		p = p[chunk:]
		if l.col == 76 {
			if _, err := io.WriteString(l.w, "\r\n"); err != nil {
				return n, err
			}
			l.col = 0
		}
	}
	return n, nil
}

func (l *lineWriter) finish() error {
	if l.col == 0 {
		return nil
	}
	_, err := io.WriteString(l.w, "\r\n")
	return err
}

// forwardWriter writes to w, which is set once the target exists.
type forwardWriter struct{ w io.Writer }

func (f *forwardWriter) Write(p []byte) (int, error) {
	if f.w == nil {
		return 0, errors.New("mailmsg: write before part exists")
	}
	return f.w.Write(p)
}

// encodeSubject returns the Subject header value for s: control characters
// (CR and LF included) become spaces, surrounding space is trimmed, and text
// that is not plain ASCII becomes RFC 2047 encoded-words (Q encoding when
// mostly ASCII, B otherwise), one per folded line. Long ASCII subjects are
// folded at single spaces. Rocket.Chat passes the subject to nodemailer,
// which encodes the same way; the value can never end the header early.
func encodeSubject(s string) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD")))
	if isPlainASCII(s) && !strings.Contains(s, "=?") {
		return foldWords(len("Subject: "), s)
	}
	if isPlainASCII(s) {
		// ASCII that looks like an encoded-word: encode it so that readers
		// show it as written instead of decoding it.
		return forceB(s)
	}
	enc := mime.QEncoding
	if nonASCII(s)*3 > len(s) {
		enc = mime.BEncoding
	}
	// The encoder separates encoded-words with one space and encoded text
	// never contains one, so every "?= =?" is a word boundary to fold at.
	return strings.ReplaceAll(enc.Encode("utf-8", s), "?= =?", "?=\r\n =?")
}

// forceB encodes s as B encoded-words of at most 45 input bytes each, one per
// line; mime.WordEncoder leaves ASCII text alone, so it cannot do this.
func forceB(s string) string {
	var b strings.Builder
	for s != "" {
		n := min(45, len(s))
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		if b.Len() > 0 {
			b.WriteString("\r\n ")
		}
		b.WriteString("=?utf-8?b?")
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(s[:n])))
		b.WriteString("?=")
		s = s[n:]
	}
	return b.String()
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func nonASCII(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] > 0x7e {
			n++
		}
	}
	return n
}

// foldWords folds an ASCII value at single spaces so that lines stay within
// lineLimit when the words allow it.
func foldWords(start int, s string) string {
	if start+len(s) <= lineLimit {
		return s
	}
	words := strings.Split(s, " ")
	var b strings.Builder
	col := start
	for i, w := range words {
		if i > 0 {
			// Fold only between two non-empty words: unfolding turns
			// CRLF+space back into exactly one space.
			if col+1+len(w) > lineLimit && w != "" && words[i-1] != "" {
				b.WriteString("\r\n ")
				col = 1
			} else {
				b.WriteByte(' ')
				col++
			}
		}
		b.WriteString(w)
		col += len(w)
	}
	return b.String()
}

func validMessageID(id string) bool {
	if len(id) < 5 || len(id) > 250 || id[0] != '<' || id[len(id)-1] != '>' {
		return false
	}
	inner := id[1 : len(id)-1]
	at := strings.IndexByte(inner, '@')
	if at <= 0 || at == len(inner)-1 {
		return false
	}
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		if c <= 0x20 || c > 0x7e || c == '<' || c == '>' {
			return false
		}
	}
	return true
}

// headerAddress checks that s is a bare address safe to write into a header:
// it parses with net/mail, has no display name and no angle brackets,
// comments or quoting (it is exactly its parsed address), and holds only
// printable ASCII. It does not judge the domain: a local sender such as
// "exports@localhost" is fine here; ValidAddress is the stricter check for
// addresses taken from a request.
func headerAddress(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty address: %w", ErrInvalid)
	}
	if !isPlainASCII(s) {
		return "", fmt.Errorf("address has control or non-ASCII characters: %w", ErrInvalid)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("address does not parse: %w", ErrInvalid)
	}
	if a.Name != "" || a.Address != s {
		return "", fmt.Errorf("address is not a bare local@domain: %w", ErrInvalid)
	}
	return a.Address, nil
}

// ValidAddress reports whether s is an address an export may be mailed to:
// a bare "local@domain" (no display name, angle brackets, comments, quoted
// local part or surrounding space) that net/mail parses, at most 254 bytes,
// printable ASCII only, with a local part of at most 64 bytes and a DNS
// domain of at least two labels — letters, digits and inner hyphens, 1 to 63
// bytes each — whose last label is at least two letters. So single-label
// domains ("root@localhost"), IP literals and internationalised addresses
// are refused. Rocket.Chat's rooms.export answers error-invalid-email for an
// address its email regular expression refuses, and that expression also
// wants a dotted domain ending in letters; this check deliberately goes
// further and refuses quoted local parts and IP literals, which no export
// recipient needs and which are easy to abuse.
func ValidAddress(s string) bool {
	if len(s) > 254 {
		return false
	}
	addr, err := headerAddress(s)
	if err != nil {
		return false
	}
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr[:at], addr[at+1:]
	if local == "" || len(local) > 64 {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !validLabel(l) {
			return false
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 {
		return false
	}
	for i := 0; i < len(tld); i++ {
		if !isLetter(tld[i]) {
			return false
		}
	}
	return true
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !isLetter(c) && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

package sesmail

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
)

// parsed is a MIME message taken apart with net/mail and mime/multipart.
type parsed struct {
	Header      mail.Header
	Subject     string // decoded
	Text, HTML  string
	Attachments []parsedAttachment
}

type parsedAttachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// parseMessage reads raw as an RFC 5322 message and walks its MIME tree,
// decoding base64 and quoted-printable bodies itself (NextRawPart), so what
// it returns is exactly what a mail reader would decode.
func parseMessage(t *testing.T, raw []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	p := parsed{Header: msg.Header, Subject: subject}
	walkPart(t, &p, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), "", msg.Body)
	return p
}

func walkPart(t *testing.T, p *parsed, contentType, encoding, disposition string, body io.Reader) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		t.Fatalf("content type %q: %v", contentType, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			part, err := r.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("multipart %s: %v", mt, err)
			}
			walkPart(t, p, part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"),
				part.Header.Get("Content-Disposition"), part)
		}
	}
	var dec io.Reader = body
	switch strings.ToLower(encoding) {
	case "base64":
		dec = base64.NewDecoder(base64.StdEncoding, body)
	case "quoted-printable":
		dec = quotedprintable.NewReader(body)
	}
	data, err := io.ReadAll(dec)
	if err != nil {
		t.Fatalf("decode %s part (%s): %v", mt, encoding, err)
	}
	if disp, dparams, err := mime.ParseMediaType(disposition); err == nil && disp == "attachment" {
		p.Attachments = append(p.Attachments, parsedAttachment{Name: dparams["filename"], ContentType: mt, Data: data})
		return
	}
	switch mt {
	case "text/plain":
		p.Text = string(data)
	case "text/html":
		p.HTML = string(data)
	default:
		t.Fatalf("unexpected inline part %s", mt)
	}
}

// addresses returns the bare addresses of an address-list header.
func addresses(t *testing.T, h mail.Header, name string) []string {
	t.Helper()
	list, err := h.AddressList(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Address
	}
	return out
}

package maildir

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/mailmsg"
)

var _ export.Mailer = (*Mailer)(nil)

var fixedNow = time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)

func newMailer(t *testing.T) *Mailer {
	t.Helper()
	m, err := New(filepath.Join(t.TempDir(), "Maildir"), func() time.Time { return fixedNow })
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func sample(data []byte) export.Mail {
	return export.Mail{
		From:        "exports@rooms-export.local",
		To:          []string{"alice@example.com", "bob@example.org"},
		ReplyTo:     "carol@example.com",
		Subject:     "Room export: général",
		Text:        "Your export is attached.",
		HTML:        "<p>Your export is attached.</p>",
		Attachments: []export.MailAttachment{{Name: "general.zip", ContentType: "application/zip", Data: data}},
	}
}

func TestNewCreatesMaildir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "Maildir")
	if _, err := New(dir, time.Now); err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, sub := range []string{"tmp", "new", "cur"} {
		fi, err := os.Stat(filepath.Join(dir, sub))
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v", sub, fi, err)
		}
	}
	// An existing Maildir is reused.
	if _, err := New(dir, time.Now); err != nil {
		t.Errorf("New on an existing Maildir: %v", err)
	}
	if _, err := New("", time.Now); err == nil {
		t.Errorf("New with an empty dir succeeded")
	}
	if _, err := New(dir, nil); err == nil {
		t.Errorf("New with a nil clock succeeded")
	}
}

func TestSendDeliversIntoNew(t *testing.T) {
	m := newMailer(t)
	data := make([]byte, 50_000)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), sample(data)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if tmp := entries(t, filepath.Join(m.Dir(), "tmp")); len(tmp) != 0 {
		t.Errorf("tmp/ holds %v after delivery", tmp)
	}
	if cur := entries(t, filepath.Join(m.Dir(), "cur")); len(cur) != 0 {
		t.Errorf("cur/ holds %v", cur)
	}
	files := entries(t, filepath.Join(m.Dir(), "new"))
	if len(files) != 1 {
		t.Fatalf("new/ holds %v, want one message", files)
	}
	name := files[0]
	if !regexp.MustCompile(fmt.Sprintf(`^%d\.[0-9a-f]{16}\.[A-Za-z0-9._\\-]+$`, fixedNow.Unix())).MatchString(name) {
		t.Errorf("file name %q is not <unix>.<random>.<host>", name)
	}
	path := filepath.Join(m.Dir(), "new", name)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("message file mode = %v (%v), want 0600", fi.Mode(), err)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("mail.ReadMessage: %v", err)
	}
	if got := msg.Header.Get("From"); got != "exports@rooms-export.local" {
		t.Errorf("From = %q", got)
	}
	to, err := msg.Header.AddressList("To")
	if err != nil || len(to) != 2 || to[0].Address != "alice@example.com" || to[1].Address != "bob@example.org" {
		t.Errorf("To = %v (%v)", to, err)
	}
	if got := msg.Header.Get("Reply-To"); got != "carol@example.com" {
		t.Errorf("Reply-To = %q", got)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != "Room export: général" {
		t.Errorf("Subject = %q (%v)", subject, err)
	}
	if d, err := msg.Header.Date(); err != nil || !d.Equal(fixedNow) {
		t.Errorf("Date = %v (%v), want %v", d, err, fixedNow)
	}
	if id := msg.Header.Get("Message-Id"); !regexp.MustCompile(`^<[0-9a-f]{32}@rooms-export\.local>$`).MatchString(id) {
		t.Errorf("Message-ID = %q", id)
	}

	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("Content-Type = %s (%v)", mt, err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("part: %v", err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, pt)
		if pt == "application/zip" {
			b, _ := io.ReadAll(p)
			got, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(b), "\r\n", ""))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("attachment: %d bytes back (%v), want the %d sent", len(got), err, len(data))
			}
			_, dp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
			if dp["filename"] != "general.zip" {
				t.Errorf("attachment filename = %q", dp["filename"])
			}
		}
	}
	if strings.Join(types, ",") != "multipart/alternative,application/zip" {
		t.Errorf("parts = %v", types)
	}
}

func TestSendGivesEachMailItsOwnFile(t *testing.T) {
	m := newMailer(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mm := sample(nil)
			mm.Attachments = nil
			mm.Subject = fmt.Sprintf("mail %d", i)
			errs <- m.Send(context.Background(), mm)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	files := entries(t, filepath.Join(m.Dir(), "new"))
	if len(files) != n {
		t.Fatalf("new/ holds %d files, want %d", len(files), n)
	}
	seen := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(m.Dir(), "new", f))
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		seen[msg.Header.Get("Subject")] = true
		seen[msg.Header.Get("Message-Id")] = true
	}
	if len(seen) != 2*n {
		t.Errorf("%d distinct subjects and message ids, want %d", len(seen), 2*n)
	}
}

func TestSendFailuresLeaveNothing(t *testing.T) {
	t.Run("refused mail", func(t *testing.T) {
		m := newMailer(t)
		bad := sample(nil)
		bad.To = []string{"alice@example.com\r\nBcc: eve@example.com"}
		err := m.Send(context.Background(), bad)
		if !errors.Is(err, mailmsg.ErrInvalid) {
			t.Errorf("Send = %v, want mailmsg.ErrInvalid", err)
		}
		for _, sub := range []string{"tmp", "new"} {
			if e := entries(t, filepath.Join(m.Dir(), sub)); len(e) != 0 {
				t.Errorf("%s/ holds %v", sub, e)
			}
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		m := newMailer(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := m.Send(ctx, sample(nil)); !errors.Is(err, context.Canceled) {
			t.Errorf("Send = %v, want context.Canceled", err)
		}
		for _, sub := range []string{"tmp", "new"} {
			if e := entries(t, filepath.Join(m.Dir(), sub)); len(e) != 0 {
				t.Errorf("%s/ holds %v", sub, e)
			}
		}
	})
	t.Run("rename fails", func(t *testing.T) {
		m := newMailer(t)
		// Replace new/ by a plain file: the final rename cannot succeed.
		newDir := filepath.Join(m.Dir(), "new")
		if err := os.Remove(newDir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(newDir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := m.Send(context.Background(), sample([]byte("zip"))); err == nil {
			t.Fatalf("Send succeeded without a new/ directory")
		}
		if e := entries(t, filepath.Join(m.Dir(), "tmp")); len(e) != 0 {
			t.Errorf("tmp/ keeps %v after a failed delivery", e)
		}
		if fi, err := os.Stat(newDir); err != nil || fi.IsDir() || fi.Size() != 0 {
			t.Errorf("new/ was changed: %v %v", fi, err)
		}
	})
	t.Run("tmp missing", func(t *testing.T) {
		m := newMailer(t)
		if err := os.Remove(filepath.Join(m.Dir(), "tmp")); err != nil {
			t.Fatal(err)
		}
		if err := m.Send(context.Background(), sample(nil)); err == nil {
			t.Fatalf("Send succeeded without a tmp/ directory")
		}
		if e := entries(t, filepath.Join(m.Dir(), "new")); len(e) != 0 {
			t.Errorf("new/ holds %v", e)
		}
	})
}

func TestSafeHost(t *testing.T) {
	cases := map[string]string{
		"box.example.com": "box.example.com",
		"a/b:c":           `a\057b\072c`,
		"bad host\n":      "badhost",
		"":                "localhost",
		"ünï":             "n",
	}
	for in, want := range cases {
		if got := safeHost(in); got != want {
			t.Errorf("safeHost(%q) = %q, want %q", in, got, want)
		}
	}
}

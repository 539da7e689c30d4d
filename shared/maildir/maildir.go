// Package maildir is the local export.Mailer: each mail is written, as a
// complete RFC 5322 message, into a Maildir (tmp/, new/, cur/) that any mail
// reader or a test can open. It stands in for SES when rooms-export runs on
// one machine; Rocket.Chat itself would hand the mail to its SMTP server.
//
// Delivery follows the Maildir convention (https://cr.yp.to/proto/maildir.html):
// the message is written and synced under tmp/ with a unique name, then
// renamed into new/, so a reader never sees a partial message.
package maildir

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/mailmsg"
)

// Mailer delivers mail into one Maildir. It is safe for concurrent use.
type Mailer struct {
	dir      string
	now      func() time.Time
	hostname string
}

// New returns a Mailer writing into dir, creating dir/tmp, dir/new and
// dir/cur (mode 0700) when they do not exist. now dates the messages and
// names their files.
func New(dir string, now func() time.Time) (*Mailer, error) {
	if dir == "" {
		return nil, fmt.Errorf("maildir: new: empty directory")
	}
	if now == nil {
		return nil, fmt.Errorf("maildir: new: nil clock")
	}
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("maildir: new: %w", err)
		}
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return &Mailer{dir: dir, now: now, hostname: safeHost(host)}, nil
}

// Dir is the Maildir the mailer writes into.
func (m *Mailer) Dir() string { return m.dir }

// Send builds the message (mailmsg.Build, with a random
// <hex@rooms-export.local> Message-ID) and delivers it into new/. On any
// error nothing is left in new/ or tmp/.
func (m *Mailer) Send(ctx context.Context, mail export.Mail) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("maildir: send: %w", err)
	}
	id, err := randomHex(16)
	if err != nil {
		return fmt.Errorf("maildir: send: message id: %w", err)
	}
	now := m.now()
	msg, err := mailmsg.Build(mail, mailmsg.Options{Date: now, MessageID: "<" + id + "@rooms-export.local>"})
	if err != nil {
		return fmt.Errorf("maildir: send: %w", err)
	}
	unique, err := randomHex(8)
	if err != nil {
		return fmt.Errorf("maildir: send: file name: %w", err)
	}
	name := fmt.Sprintf("%d.%s.%s", now.Unix(), unique, m.hostname)
	if err := m.deliver(name, msg); err != nil {
		return fmt.Errorf("maildir: send: %w", err)
	}
	return nil
}

// deliver writes msg to tmp/name, syncs it, and renames it to new/name.
func (m *Mailer) deliver(name string, msg []byte) (err error) {
	tmp := filepath.Join(m.dir, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create tmp file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close() // may already be closed; the write error is the one to report
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(msg); err != nil {
		return fmt.Errorf("write tmp file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync tmp file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close tmp file: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(m.dir, "new", name)); err != nil {
		return fmt.Errorf("move into new: %w", err)
	}
	syncDir(filepath.Join(m.dir, "new"))
	return nil
}

// syncDir makes a rename durable where the platform allows it; failing to
// sync a directory does not undo a delivery, so errors are ignored.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// safeHost encodes "/" and ":" in the host name as the Maildir convention
// asks (\057 and \072), and drops anything else that does not belong in a
// file name.
func safeHost(h string) string {
	var b strings.Builder
	for _, r := range h {
		switch {
		case r == '/':
			b.WriteString(`\057`)
		case r == ':':
			b.WriteString(`\072`)
		case r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "localhost"
	}
	return b.String()
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

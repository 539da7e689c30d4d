// Package sesmail is the export.Mailer that sends through Amazon SES v2
// (SendEmail with Raw content). It is what Rocket.Chat's Mailer does with its
// SMTP transport — one message carrying the HTML body, the text body and the
// attachment — with SES as the transport.
//
// The message is built by mailmsg (the same bytes the local Maildir mailer
// stores) and sent as Content.Raw, so the ZIP attachment and both bodies
// travel in one MIME message; SES v2's Simple content would also carry
// attachments, but then SES, not mailmsg, would decide the encoding and the
// header-injection rules. Two SES quotas are enforced before anything is
// sent: the 40 MB message size of the v2 API (a clear ErrTooLarge instead of
// an opaque rejection) and the 50 recipients per message (larger lists go out
// as several messages of at most 50 recipients each).
package sesmail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/mailmsg"
)

// API is the part of *sesv2.Client the mailer uses.
type API interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// SES v2 quotas (https://docs.aws.amazon.com/ses/latest/dg/quotas.html).
const (
	// MaxMessageBytes is the largest raw message SES v2 accepts, attachments
	// included (after their base64 encoding). AWS states "40 MB"; the decimal
	// reading is the smaller one, so it is the one never exceeded.
	MaxMessageBytes = 40_000_000
	// MaxRecipients is the most recipients (To, Cc and Bcc together) one
	// SES message may have.
	MaxRecipients = 50
)

// ErrTooLarge is wrapped by Send's error when a message is over the size
// limit. The service attaches archives only under its attachment limit
// (default 10 MB), so seeing it means that limit is set too high for SES.
var ErrTooLarge = errors.New("message too large for SES")

// Mailer sends mail through SES v2. Its fields may be changed before the
// first Send; it is then safe for concurrent use.
type Mailer struct {
	// Now dates the messages (the Date header).
	Now func() time.Time
	// MaxBytes is the size limit checked before sending; New sets
	// MaxMessageBytes.
	MaxBytes int

	client API
}

// New returns a Mailer sending through client, dated by time.Now.
func New(client API) *Mailer {
	return &Mailer{Now: time.Now, MaxBytes: MaxMessageBytes, client: client}
}

// Send builds the message with mailmsg.Build (Date from m.Now, a random
// Message-ID <hex@rooms-export>) and sends it as SES v2 raw content, with
// FromEmailAddress = mail.From and Destination.ToAddresses = mail.To.
// Rocket.Chat sends one message to all recipients; more than MaxRecipients
// are split into several messages, each addressed (header and envelope) to
// at most MaxRecipients of them, sent in order. If one fails, the ones before
// it were delivered; the error says how many recipients were reached.
// Errors never carry the message's content.
func (m *Mailer) Send(ctx context.Context, mail export.Mail) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sesmail: send: %w", err)
	}
	if len(mail.To) == 0 {
		// mailmsg refuses it too; checked here so that the batching below
		// always sends at least one message.
		return fmt.Errorf("sesmail: send: no recipients: %w", mailmsg.ErrInvalid)
	}
	now := m.Now()
	batches := batch(mail.To, MaxRecipients)
	raws := make([][]byte, len(batches))
	// Build every message before sending any, so that a message that cannot
	// be built or is too large fails the whole mail, not its second half.
	for i, to := range batches {
		part := mail
		part.To = to
		id, err := messageID()
		if err != nil {
			return fmt.Errorf("sesmail: send: %w", err)
		}
		raw, err := mailmsg.Build(part, mailmsg.Options{Date: now, MessageID: id})
		if err != nil {
			return fmt.Errorf("sesmail: send: %w", err)
		}
		if len(raw) > m.MaxBytes {
			return fmt.Errorf("sesmail: send: message is %d bytes, SES accepts at most %d: %w", len(raw), m.MaxBytes, ErrTooLarge)
		}
		raws[i] = raw
	}
	sent := 0
	for i, to := range batches {
		_, err := m.client.SendEmail(ctx, &sesv2.SendEmailInput{
			FromEmailAddress: aws.String(mail.From),
			Destination:      &types.Destination{ToAddresses: to},
			Content:          &types.EmailContent{Raw: &types.RawMessage{Data: raws[i]}},
		})
		if err != nil {
			if len(batches) == 1 {
				return fmt.Errorf("sesmail: send email: %w", err)
			}
			return fmt.Errorf("sesmail: send email %d of %d (%d of %d recipients already sent): %w",
				i+1, len(batches), sent, len(mail.To), err)
		}
		sent += len(to)
	}
	return nil
}

// batch splits addrs into consecutive slices of at most n.
func batch(addrs []string, n int) [][]string {
	var out [][]string
	for len(addrs) > n {
		out = append(out, addrs[:n:n])
		addrs = addrs[n:]
	}
	return append(out, addrs)
}

// messageID returns a Message-ID of 128 random bits.
func messageID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("message id: %w", err)
	}
	return "<" + hex.EncodeToString(b) + "@rooms-export>", nil
}

package sesmail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/mailmsg"
)

var _ export.Mailer = (*Mailer)(nil)

var fixedNow = time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)

var messageIDPattern = regexp.MustCompile(`^<[0-9a-f]{32}@rooms-export>$`)

// fakeSES records every SendEmail call and answers with err from the
// failAt-th call on (1-based; 0 never fails).
type fakeSES struct {
	mu     sync.Mutex
	inputs []*sesv2.SendEmailInput
	failAt int
	err    error
}

func (f *fakeSES) SendEmail(ctx context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	if f.failAt > 0 && len(f.inputs) >= f.failAt {
		return nil, f.err
	}
	return &sesv2.SendEmailOutput{MessageId: aws.String(fmt.Sprintf("fake-%d", len(f.inputs)))}, nil
}

func (f *fakeSES) calls() []*sesv2.SendEmailInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.inputs)
}

func newMailer(api API) *Mailer {
	m := New(api)
	m.Now = func() time.Time { return fixedNow }
	return m
}

func sample() export.Mail {
	return export.Mail{
		From:        "exports@rooms-export.test",
		To:          []string{"alice@example.com", "bob@example.org"},
		ReplyTo:     "carol@example.com",
		Subject:     "Room export: général",
		Text:        "secret body text\nsecond line",
		HTML:        "<p>secret body html</p>",
		Attachments: []export.MailAttachment{{Name: "general.zip", ContentType: "application/zip", Data: []byte("PK\x03\x04secret attachment bytes")}},
	}
}

func recipients(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("user%03d@example.com", i)
	}
	return out
}

func TestNewDefaults(t *testing.T) {
	m := New(&fakeSES{})
	if m.MaxBytes != MaxMessageBytes || MaxMessageBytes != 40_000_000 {
		t.Errorf("MaxBytes = %d, want %d", m.MaxBytes, MaxMessageBytes)
	}
	if m.Now == nil || time.Since(m.Now()) > time.Minute {
		t.Errorf("Now is not the wall clock")
	}
}

func TestSendUsesRawContent(t *testing.T) {
	fake := &fakeSES{}
	mail := sample()
	if err := newMailer(fake).Send(context.Background(), mail); err != nil {
		t.Fatalf("Send: %v", err)
	}
	calls := fake.calls()
	if len(calls) != 1 {
		t.Fatalf("%d SendEmail calls, want 1", len(calls))
	}
	in := calls[0]
	if aws.ToString(in.FromEmailAddress) != mail.From {
		t.Errorf("FromEmailAddress = %q", aws.ToString(in.FromEmailAddress))
	}
	if in.Destination == nil || !slices.Equal(in.Destination.ToAddresses, mail.To) ||
		len(in.Destination.CcAddresses)+len(in.Destination.BccAddresses) != 0 {
		t.Errorf("Destination = %+v", in.Destination)
	}
	if in.Content == nil || in.Content.Raw == nil || in.Content.Simple != nil || in.Content.Template != nil {
		t.Fatalf("Content = %+v, want Raw only", in.Content)
	}

	p := parseMessage(t, in.Content.Raw.Data)
	if got := addresses(t, p.Header, "From"); !slices.Equal(got, []string{mail.From}) {
		t.Errorf("From = %v", got)
	}
	if got := addresses(t, p.Header, "To"); !slices.Equal(got, mail.To) {
		t.Errorf("To = %v", got)
	}
	if got := addresses(t, p.Header, "Reply-To"); !slices.Equal(got, []string{mail.ReplyTo}) {
		t.Errorf("Reply-To = %v", got)
	}
	if p.Subject != mail.Subject {
		t.Errorf("Subject = %q", p.Subject)
	}
	date, err := p.Header.Date()
	if err != nil || !date.Equal(fixedNow) {
		t.Errorf("Date = %v, %v; want the injected clock %v", date, err, fixedNow)
	}
	if id := p.Header.Get("Message-ID"); !messageIDPattern.MatchString(id) {
		t.Errorf("Message-ID = %q", id)
	}
	if p.Text != strings.ReplaceAll(mail.Text, "\n", "\r\n") || p.HTML != mail.HTML {
		t.Errorf("bodies differ: text %q html %q", p.Text, p.HTML)
	}
	if len(p.Attachments) != 1 || p.Attachments[0].Name != "general.zip" ||
		p.Attachments[0].ContentType != "application/zip" || !bytes.Equal(p.Attachments[0].Data, mail.Attachments[0].Data) {
		t.Errorf("attachments = %+v", p.Attachments)
	}
}

func TestMessageIDsAreRandom(t *testing.T) {
	fake := &fakeSES{}
	m := newMailer(fake)
	for range 3 {
		if err := m.Send(context.Background(), sample()); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	seen := map[string]bool{}
	for _, in := range fake.calls() {
		id := parseMessage(t, in.Content.Raw.Data).Header.Get("Message-ID")
		if !messageIDPattern.MatchString(id) || seen[id] {
			t.Errorf("Message-ID %q is malformed or repeated", id)
		}
		seen[id] = true
	}
	if len(seen) != 3 {
		t.Errorf("%d distinct ids, want 3", len(seen))
	}
}

func TestSendErrorIsWrappedWithoutContent(t *testing.T) {
	boom := errors.New("MessageRejected: Email address is not verified")
	fake := &fakeSES{failAt: 1, err: boom}
	mail := sample()
	err := newMailer(fake).Send(context.Background(), mail)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap the SES error", err)
	}
	if !strings.HasPrefix(err.Error(), "sesmail: send email: ") {
		t.Errorf("err = %q, want the operation first", err)
	}
	for _, secret := range []string{"secret body", "secret attachment", "PK"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error carries message content %q", secret)
		}
	}
}

func TestInvalidMailIsNotSent(t *testing.T) {
	cases := map[string]func(*export.Mail){
		"no recipients":     func(m *export.Mail) { m.To = nil },
		"no sender":         func(m *export.Mail) { m.From = "" },
		"injected header":   func(m *export.Mail) { m.To = []string{"a@example.com\r\nBcc: evil@example.com"} },
		"display name":      func(m *export.Mail) { m.ReplyTo = "Carol <carol@example.com>" },
		"recipient in list": func(m *export.Mail) { m.To = []string{"a@example.com, b@example.com"} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			fake := &fakeSES{}
			mail := sample()
			mutate(&mail)
			err := newMailer(fake).Send(context.Background(), mail)
			if !errors.Is(err, mailmsg.ErrInvalid) {
				t.Errorf("err = %v, want mailmsg.ErrInvalid", err)
			}
			if n := len(fake.calls()); n != 0 {
				t.Errorf("%d SendEmail calls for an invalid mail", n)
			}
		})
	}
}

func TestCanceledContextSendsNothing(t *testing.T) {
	fake := &fakeSES{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := newMailer(fake).Send(ctx, sample())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if n := len(fake.calls()); n != 0 {
		t.Errorf("%d SendEmail calls after cancel", n)
	}
}

func TestSizeLimitBoundary(t *testing.T) {
	fake := &fakeSES{}
	m := newMailer(fake)
	if err := m.Send(context.Background(), sample()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	// Boundaries and Message-IDs have fixed lengths, so the same mail always
	// encodes to the same number of bytes.
	size := len(fake.calls()[0].Content.Raw.Data)

	m.MaxBytes = size
	if err := m.Send(context.Background(), sample()); err != nil {
		t.Errorf("a message of exactly MaxBytes: %v", err)
	}
	m.MaxBytes = size - 1
	err := m.Send(context.Background(), sample())
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("a message of MaxBytes+1: err = %v, want ErrTooLarge", err)
	}
	if n := len(fake.calls()); n != 2 {
		t.Errorf("%d SendEmail calls, want 2 (the too-large one is not sent)", n)
	}
}

func TestDefaultLimitRefusesAnAttachmentOverForty(t *testing.T) {
	fake := &fakeSES{}
	mail := sample()
	// 30 MB of attachment is over 40 MB once base64-encoded and folded.
	mail.Attachments[0].Data = bytes.Repeat([]byte{0x5a}, 30_000_000)
	err := newMailer(fake).Send(context.Background(), mail)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if !strings.Contains(err.Error(), "at most 40000000") {
		t.Errorf("err = %q, want the limit named", err)
	}
	if n := len(fake.calls()); n != 0 {
		t.Errorf("%d SendEmail calls for a too-large message", n)
	}
}

func TestRecipientsAreBatchedByFifty(t *testing.T) {
	for _, tc := range []struct{ n, calls int }{{1, 1}, {50, 1}, {51, 2}, {120, 3}} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			fake := &fakeSES{}
			mail := sample()
			mail.To = recipients(tc.n)
			if err := newMailer(fake).Send(context.Background(), mail); err != nil {
				t.Fatalf("Send: %v", err)
			}
			calls := fake.calls()
			if len(calls) != tc.calls {
				t.Fatalf("%d SendEmail calls, want %d", len(calls), tc.calls)
			}
			var all []string
			ids := map[string]bool{}
			for i, in := range calls {
				dest := in.Destination.ToAddresses
				if len(dest) > MaxRecipients || (i < len(calls)-1 && len(dest) != MaxRecipients) {
					t.Errorf("call %d has %d recipients", i, len(dest))
				}
				p := parseMessage(t, in.Content.Raw.Data)
				if got := addresses(t, p.Header, "To"); !slices.Equal(got, dest) {
					t.Errorf("call %d: To header %v differs from Destination %v", i, got, dest)
				}
				ids[p.Header.Get("Message-ID")] = true
				all = append(all, dest...)
			}
			if !slices.Equal(all, mail.To) {
				t.Errorf("recipients across calls = %v, want %v in order", all, mail.To)
			}
			if len(ids) != len(calls) {
				t.Errorf("batches share a Message-ID")
			}
		})
	}
}

func TestBatchFailureSaysWhoWasReached(t *testing.T) {
	boom := errors.New("Throttling")
	fake := &fakeSES{failAt: 2, err: boom}
	mail := sample()
	mail.To = recipients(120)
	err := newMailer(fake).Send(context.Background(), mail)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the SES error wrapped", err)
	}
	if !strings.Contains(err.Error(), "send email 2 of 3 (50 of 120 recipients already sent)") {
		t.Errorf("err = %q", err)
	}
	if n := len(fake.calls()); n != 2 {
		t.Errorf("%d SendEmail calls, want 2 (stop at the failure)", n)
	}
}

func TestBatch(t *testing.T) {
	got := batch(recipients(5), 2)
	if len(got) != 3 || len(got[0]) != 2 || len(got[1]) != 2 || len(got[2]) != 1 {
		t.Fatalf("batch = %v", got)
	}
	// Batches are capped: appending to one cannot overwrite the next.
	got[0] = append(got[0], "x@example.com")
	if got[1][0] != "user002@example.com" {
		t.Errorf("append to a batch changed the next one: %v", got[1])
	}
	if one := batch([]string{"a@example.com"}, 50); len(one) != 1 || len(one[0]) != 1 {
		t.Errorf("batch of one = %v", one)
	}
}

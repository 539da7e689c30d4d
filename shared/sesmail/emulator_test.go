package sesmail

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/rooms-export/rooms-export/shared/awstest"
	"github.com/rooms-export/rooms-export/shared/export"
)

// These tests send through a real *sesv2.Client to aws-ses-v2-local@2.10.2
// (infra/emulators). For raw content the emulator parses the message with
// mailparser and keeps only the parsed fields — from, destination, subject,
// bodies, attachments (content base64) — in GET /store; it ignores
// FromEmailAddress and Destination and reads the headers instead. So the
// tests check the store, parse the raw bytes that went on the wire (recorded
// on the way), and parse the message the emulator rebuilds from what it
// stored (GET /get-emlContent).

// recordingSES passes calls to a real client and keeps inputs and outputs.
type recordingSES struct {
	next    API
	mu      sync.Mutex
	inputs  []*sesv2.SendEmailInput
	outputs []*sesv2.SendEmailOutput
}

func (r *recordingSES) SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	out, err := r.next.SendEmail(ctx, in, optFns...)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inputs = append(r.inputs, in)
	r.outputs = append(r.outputs, out)
	return out, err
}

// storedEmail is one entry of the emulator's GET /store.
type storedEmail struct {
	MessageID   string   `json:"messageId"`
	From        string   `json:"from"`
	ReplyTo     []string `json:"replyTo"`
	Destination struct {
		To  []string `json:"to"`
		Cc  []string `json:"cc"`
		Bcc []string `json:"bcc"`
	} `json:"destination"`
	Subject string `json:"subject"`
	Body    struct {
		Text string `json:"text"`
		HTML string `json:"html"`
	} `json:"body"`
	Attachments []struct {
		Filename    string `json:"filename"`
		ContentType string `json:"contentType"`
		Content     string `json:"content"` // base64
		Size        int    `json:"size"`
	} `json:"attachments"`
}

func startSES(t *testing.T) (*awstest.Emulator, *recordingSES) {
	t.Helper()
	e, err := awstest.Start(awstest.SES)
	if err != nil {
		t.Fatalf("start SES emulator: %v", err)
	}
	t.Cleanup(e.Stop)
	return e, &recordingSES{next: sesv2.NewFromConfig(awstest.Config(e.Endpoint))}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, %v", u, resp.StatusCode, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: decode: %v", u, err)
	}
}

func storedEmails(t *testing.T, endpoint string) map[string]storedEmail {
	t.Helper()
	var store struct {
		Emails []storedEmail `json:"emails"`
	}
	getJSON(t, endpoint+"/store", &store)
	out := map[string]storedEmail{}
	for _, e := range store.Emails {
		out[e.MessageID] = e
	}
	return out
}

// emlFromEmulator is the message the emulator rebuilds (with nodemailer)
// from what it stored; the JSON carries it as a serialised Node Buffer.
func emlFromEmulator(t *testing.T, endpoint, messageID string) []byte {
	t.Helper()
	var eml struct {
		Body struct {
			Type string `json:"type"`
			Raw  []int  `json:"data"`
		} `json:"body"`
	}
	getJSON(t, endpoint+"/get-emlContent?messageId="+url.QueryEscape(messageID), &eml)
	if eml.Body.Type != "Buffer" || len(eml.Body.Raw) == 0 {
		t.Fatalf("get-emlContent: body is %q with %d bytes", eml.Body.Type, len(eml.Body.Raw))
	}
	out := make([]byte, len(eml.Body.Raw))
	for i, b := range eml.Body.Raw {
		out[i] = byte(b)
	}
	return out
}

// exportZip is a real archive, laid out like an export, with a random
// (incompressible) asset so the attachment spans many base64 lines.
func exportZip(t *testing.T) ([]byte, map[string][]byte) {
	t.Helper()
	asset := make([]byte, 200_000)
	if _, err := rand.Read(asset); err != nil {
		t.Fatal(err)
	}
	entries := map[string][]byte{
		"GENERAL.html":             []byte("<!doctype html><title>general</title><p>hello</p>\n"),
		"assets/f1-photo.bin":      asset,
		"manifest.json":            []byte(`{"messages":1}` + "\n"),
		"assets/f2-empty-file.txt": {},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(entries[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), entries
}

func checkZip(t *testing.T, where string, data []byte, want map[string][]byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("%s: open zip: %v", where, err)
	}
	if len(zr.File) != len(want) {
		t.Errorf("%s: %d entries, want %d", where, len(zr.File), len(want))
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("%s: open %s: %v", where, f.Name, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, want[f.Name]) {
			t.Errorf("%s: entry %s differs (%v)", where, f.Name, err)
		}
	}
}

func TestEmulatorReceivesRawMessageWithAttachment(t *testing.T) {
	e, rec := startSES(t)
	zipBytes, entries := exportZip(t)
	m := newMailer(rec)
	out := export.Mail{
		From:    "exports@rooms-export.test",
		To:      []string{"alice@example.com", "bob@example.org"},
		ReplyTo: "carol@example.com",
		Subject: "Room export: général — 2024",
		Text:    "The export of the room is attached: 2024-05-01-carol-abc.zip (3 messages).\nSecond line.",
		HTML:    "<p>The export of the room is <b>attached</b>.</p>",
		Attachments: []export.MailAttachment{
			{Name: "2024-05-01-carol-abc.zip", ContentType: "application/zip", Data: zipBytes},
		},
	}
	ctx, cancel := awstest.Context()
	defer cancel()
	if err := m.Send(ctx, out); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(rec.outputs) != 1 || rec.outputs[0] == nil || aws.ToString(rec.outputs[0].MessageId) == "" {
		t.Fatalf("SES answered %+v", rec.outputs)
	}
	sesID := aws.ToString(rec.outputs[0].MessageId)

	// 1. What the emulator parsed and stored.
	got, ok := storedEmails(t, e.Endpoint)[sesID]
	if !ok {
		t.Fatalf("message %s is not in the emulator's store", sesID)
	}
	if got.From != out.From {
		t.Errorf("stored from = %q", got.From)
	}
	to, err := mail.ParseAddressList(strings.Join(got.Destination.To, ", "))
	if err != nil {
		t.Fatalf("stored to %q: %v", got.Destination.To, err)
	}
	var toAddrs []string
	for _, a := range to {
		toAddrs = append(toAddrs, a.Address)
	}
	if !slices.Equal(toAddrs, out.To) || len(got.Destination.Cc)+len(got.Destination.Bcc) != 0 {
		t.Errorf("stored destination = %+v", got.Destination)
	}
	if !slices.Equal(got.ReplyTo, []string{out.ReplyTo}) {
		t.Errorf("stored reply-to = %v", got.ReplyTo)
	}
	if got.Subject != out.Subject {
		t.Errorf("stored subject = %q, want %q", got.Subject, out.Subject)
	}
	if got.Body.Text != out.Text || got.Body.HTML != out.HTML {
		t.Errorf("stored bodies differ: text %q html %q", got.Body.Text, got.Body.HTML)
	}
	if len(got.Attachments) != 1 {
		t.Fatalf("stored %d attachments, want 1", len(got.Attachments))
	}
	att := got.Attachments[0]
	stored, err := base64.StdEncoding.DecodeString(att.Content)
	if err != nil {
		t.Fatalf("stored attachment content: %v", err)
	}
	if att.Filename != out.Attachments[0].Name || att.ContentType != "application/zip" || att.Size != len(zipBytes) {
		t.Errorf("stored attachment = %s %s %d bytes", att.Filename, att.ContentType, att.Size)
	}
	if !bytes.Equal(stored, zipBytes) {
		t.Errorf("stored attachment bytes differ from the archive")
	}
	checkZip(t, "stored attachment", stored, entries)

	// 2. The raw message that went on the wire, parsed with net/mail and
	// mime/multipart.
	in := rec.inputs[0]
	if in.Content == nil || in.Content.Raw == nil || in.Content.Simple != nil {
		t.Fatalf("content = %+v, want Raw", in.Content)
	}
	wire := parseMessage(t, in.Content.Raw.Data)
	if wire.Subject != out.Subject || !slices.Equal(addresses(t, wire.Header, "To"), out.To) ||
		!slices.Equal(addresses(t, wire.Header, "From"), []string{out.From}) {
		t.Errorf("wire headers: subject %q, to %v", wire.Subject, wire.Header["To"])
	}
	if len(wire.Attachments) != 1 || !bytes.Equal(wire.Attachments[0].Data, zipBytes) {
		t.Errorf("wire attachment differs from the archive")
	}

	// 3. The message as the emulator rebuilds it from its store.
	rebuilt := parseMessage(t, emlFromEmulator(t, e.Endpoint, sesID))
	if rebuilt.Subject != out.Subject || !slices.Equal(addresses(t, rebuilt.Header, "To"), out.To) ||
		!slices.Equal(addresses(t, rebuilt.Header, "From"), []string{out.From}) {
		t.Errorf("rebuilt headers: subject %q, to %v, from %v", rebuilt.Subject, rebuilt.Header["To"], rebuilt.Header["From"])
	}
	if strings.ReplaceAll(rebuilt.Text, "\r\n", "\n") != out.Text || rebuilt.HTML != out.HTML {
		t.Errorf("rebuilt bodies differ: text %q html %q", rebuilt.Text, rebuilt.HTML)
	}
	if len(rebuilt.Attachments) != 1 || rebuilt.Attachments[0].Name != out.Attachments[0].Name {
		t.Fatalf("rebuilt attachments = %d", len(rebuilt.Attachments))
	}
	// The emulator keeps attachment content as a base64 string and hands it
	// to nodemailer without `encoding: "base64"` (dist/store.js,
	// convertToMailOptions), so the rebuilt part carries the base64 text as
	// its content: decode once more.
	rebuiltZip, err := base64.StdEncoding.DecodeString(string(rebuilt.Attachments[0].Data))
	if err != nil {
		t.Fatalf("rebuilt attachment is not the stored base64 text: %v", err)
	}
	if !bytes.Equal(rebuiltZip, zipBytes) {
		t.Errorf("rebuilt attachment bytes differ from the archive")
	}
	checkZip(t, "rebuilt attachment", rebuiltZip, entries)
}

func TestEmulatorReceivesEveryBatch(t *testing.T) {
	e, rec := startSES(t)
	out := sample()
	out.To = recipients(MaxRecipients + 7)
	ctx, cancel := awstest.Context()
	defer cancel()
	if err := newMailer(rec).Send(ctx, out); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(rec.outputs) != 2 {
		t.Fatalf("%d SendEmail calls, want 2", len(rec.outputs))
	}
	stored := storedEmails(t, e.Endpoint)
	var all []string
	for i, o := range rec.outputs {
		got, ok := stored[aws.ToString(o.MessageId)]
		if !ok {
			t.Fatalf("batch %d is not in the store", i)
		}
		to, err := mail.ParseAddressList(strings.Join(got.Destination.To, ", "))
		if err != nil {
			t.Fatalf("batch %d: to: %v", i, err)
		}
		for _, a := range to {
			all = append(all, a.Address)
		}
		if got.Subject != out.Subject || len(got.Attachments) != 1 {
			t.Errorf("batch %d: subject %q, %d attachments", i, got.Subject, len(got.Attachments))
		}
	}
	if !slices.Equal(all, out.To) {
		t.Errorf("recipients across batches = %d addresses, want the %d given, in order", len(all), len(out.To))
	}
}

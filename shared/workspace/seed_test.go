package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// recordingSink is an in-memory Sink that keeps every batch it was given.
type recordingSink struct {
	users   []chat.User
	tokens  []chat.Token
	perms   []chat.Permission
	rooms   []chat.Room
	subs    []chat.Subscription
	msgs    []chat.Message
	uploads []chat.Upload

	batches []string // "kind:len" per call, in call order
	failOn  string   // kind whose put fails
}

var errSinkDown = errors.New("sink down")

func (s *recordingSink) note(kind string, n int) error {
	s.batches = append(s.batches, fmt.Sprintf("%s:%d", kind, n))
	if kind == s.failOn {
		return fmt.Errorf("recording sink: put %s: %w", kind, errSinkDown)
	}
	return nil
}

func (s *recordingSink) PutUsers(_ context.Context, v []chat.User) error {
	s.users = append(s.users, v...)
	return s.note(KindUser, len(v))
}
func (s *recordingSink) PutTokens(_ context.Context, v []chat.Token) error {
	s.tokens = append(s.tokens, v...)
	return s.note(KindToken, len(v))
}
func (s *recordingSink) PutPermissions(_ context.Context, v []chat.Permission) error {
	s.perms = append(s.perms, v...)
	return s.note(KindPermission, len(v))
}
func (s *recordingSink) PutRooms(_ context.Context, v []chat.Room) error {
	s.rooms = append(s.rooms, v...)
	return s.note(KindRoom, len(v))
}
func (s *recordingSink) PutSubscriptions(_ context.Context, v []chat.Subscription) error {
	s.subs = append(s.subs, v...)
	return s.note(KindSubscription, len(v))
}
func (s *recordingSink) PutMessages(_ context.Context, v []chat.Message) error {
	s.msgs = append(s.msgs, v...)
	return s.note(KindMessage, len(v))
}
func (s *recordingSink) PutUploads(_ context.Context, v []chat.Upload) error {
	s.uploads = append(s.uploads, v...)
	return s.note(KindUpload, len(v))
}

// memFiles is a minimal in-memory export.FileStore.
type memFiles struct {
	mu       sync.Mutex
	objects  map[string][]byte
	types    map[string]string
	aborted  []string
	failPart bool // writers fail on Write
}

func newMemFiles() *memFiles {
	return &memFiles{objects: map[string][]byte{}, types: map[string]string{}}
}

var _ export.FileStore = (*memFiles)(nil)

// StartUpload and ResumeUpload: these tests need no resumable uploads.
func (f *memFiles) StartUpload(context.Context, string, export.ObjectInfo) (export.Upload, error) {
	return nil, errors.New("mem: no resumable uploads")
}
func (f *memFiles) ResumeUpload(context.Context, string, export.ObjectInfo, []byte) (export.Upload, error) {
	return nil, errors.New("mem: no resumable uploads")
}

type memWriter struct {
	f    *memFiles
	key  string
	info export.ObjectInfo
	buf  bytes.Buffer
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.f.failPart {
		return 0, errors.New("disk full")
	}
	return w.buf.Write(p)
}

func (w *memWriter) Commit() error {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	w.f.objects[w.key] = append([]byte{}, w.buf.Bytes()...)
	w.f.types[w.key] = w.info.ContentType
	return nil
}

func (w *memWriter) Abort() error {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	w.f.aborted = append(w.f.aborted, w.key)
	return nil
}

func (f *memFiles) Create(_ context.Context, key string, info export.ObjectInfo) (export.ObjectWriter, error) {
	return &memWriter{f: f, key: key, info: info}, nil
}

func (f *memFiles) Open(_ context.Context, key string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objects[key]
	if !ok {
		return nil, fmt.Errorf("mem: open %s: %w", key, chat.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (f *memFiles) Delete(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objects, key)
	return nil
}

func (f *memFiles) PresignGet(_ context.Context, key, _ string, _ time.Duration) (string, error) {
	return "mem://" + key, nil
}

// sample is a small workspace using every kind and the awkward fields.
func sample(nMessages int) (*recordingSink, map[string][]byte) {
	ts := time.Date(2021, 11, 25, 0, 0, 0, 0, time.UTC)
	edited := ts.Add(time.Minute)
	s := &recordingSink{
		users: []chat.User{
			{ID: "u1", Username: "zoe", Name: "Zoë Ångström", Emails: []string{"zoe@example.org"}, Roles: []string{"user"}, Active: true, Language: "sv"},
			{ID: "u2", Username: "gone", Active: false},
		},
		tokens: []chat.Token{{Hash: "aGFzaA==", UserID: "u1", CreatedAt: ts, Type: chat.TokenPersonal, Name: "demo"}},
		perms:  []chat.Permission{{ID: "mail-messages", Roles: []string{"admin"}}},
		rooms: []chat.Room{
			{ID: "r1", Type: chat.RoomChannel, Name: "general", Topic: "<b>hi</b>"},
			{ID: "u1u2", Type: chat.RoomDirect, Usernames: []string{"zoe", "gone"}},
		},
		subs:    []chat.Subscription{{RoomID: "r1", UserID: "u1", Roles: []string{"owner"}}},
		uploads: []chat.Upload{{ID: "f1", RoomID: "r1", Name: "a.png", Type: "image/png", Size: 3, StorageKey: "uploads/f1"}},
	}
	for i := range nMessages {
		s.msgs = append(s.msgs, chat.Message{
			ID: fmt.Sprintf("m%05d", i), RoomID: "r1", TS: ts.Add(time.Duration(i) * time.Millisecond),
			Msg: "line one\nline two <script>alert(1)</script> & \u2028 שלום", U: chat.UserRef{ID: "u1", Username: "zoe", Name: "Zoë Ångström"},
		})
	}
	s.msgs[0].Reactions = map[string]chat.Reaction{":tada:": {Usernames: []string{"zoe"}}}
	s.msgs[0].EditedAt = &edited
	s.msgs[0].EditedBy = &chat.UserRef{ID: "u1", Username: "zoe"}
	s.msgs[0].File = &chat.FileRef{ID: "f1", Name: "a.png", Type: "image/png", Size: 3}
	s.msgs[0].Files = []chat.FileRef{*s.msgs[0].File}
	s.msgs[0].Attachments = []chat.Attachment{{Title: "a.png", TitleLink: "/file-upload/f1/a.png", Type: "file", TS: &ts,
		Attachments: []chat.Attachment{{Text: "nested"}}}}
	s.msgs[1].Hidden = true
	s.msgs[1].Type = "uj"
	s.msgs[1].ThreadID = "m00000"
	blobs := map[string][]byte{"uploads/f1": {0x89, 'P', 'N'}, "uploads/empty": {}}
	return s, blobs
}

// writeAll puts everything in s (and the blobs) through sink.
func writeAll(t *testing.T, e *Encoder, s *recordingSink, blobs map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	for _, err := range []error{
		e.PutBlob(ctx, "uploads/f1", "image/png", blobs["uploads/f1"]),
		e.PutBlob(ctx, "uploads/empty", "text/plain", blobs["uploads/empty"]),
		e.PutMessages(ctx, s.msgs), // before the rooms: order in the file must not matter
		e.PutUsers(ctx, s.users),
		e.PutTokens(ctx, s.tokens),
		e.PutPermissions(ctx, s.perms),
		e.PutRooms(ctx, s.rooms),
		e.PutSubscriptions(ctx, s.subs),
		e.PutUploads(ctx, s.uploads),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestEncoderLoadRoundTrip(t *testing.T) {
	want, blobs := sample(1234)
	var buf bytes.Buffer
	writeAll(t, NewEncoder(&buf), want, blobs)

	lines := strings.Count(buf.String(), "\n")
	if wantLines := 2 + 1234 + 2 + 1 + 1 + 2 + 1 + 1; lines != wantLines {
		t.Fatalf("seed file has %d lines, want %d (one record a line)", lines, wantLines)
	}
	if !strings.Contains(buf.String(), "<script>") {
		t.Error("encoder escaped HTML; seed files should stay readable")
	}

	got := &recordingSink{}
	files := newMemFiles()
	counts, err := Load(context.Background(), &buf, got, files)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"users", got.users, want.users},
		{"tokens", got.tokens, want.tokens},
		{"permissions", got.perms, want.perms},
		{"rooms", got.rooms, want.rooms},
		{"subscriptions", got.subs, want.subs},
		{"messages", got.msgs, want.msgs},
		{"uploads", got.uploads, want.uploads},
		{"blobs", files.objects, blobs},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s differ after the round trip:\n got %+v\nwant %+v", c.name, c.got, c.want)
		}
	}
	if files.types["uploads/f1"] != "image/png" || files.types["uploads/empty"] != "text/plain" {
		t.Errorf("content types = %v", files.types)
	}
	wantCounts := Counts{Users: 2, Tokens: 1, Permissions: 1, Rooms: 2, Subscriptions: 1, Messages: 1234, Uploads: 1, Blobs: 2, BlobBytes: 3}
	if counts != wantCounts {
		t.Errorf("counts = %+v, want %+v", counts, wantCounts)
	}
	// Messages come in batches of at most BatchSize; the rest is flushed at
	// the end in dependency order.
	wantBatches := []string{"message:500", "message:500", "user:2", "token:1", "permission:1", "room:2", "subscription:1", "upload:1", "message:234"}
	if !reflect.DeepEqual(got.batches, wantBatches) {
		t.Errorf("batches = %v, want %v", got.batches, wantBatches)
	}
}

func TestCountsString(t *testing.T) {
	c := Counts{Users: 3, Tokens: 4, Permissions: 3, Rooms: 7, Subscriptions: 30, Messages: 2417, Uploads: 6, Blobs: 6, BlobBytes: 3 << 10}
	want := "3 users, 4 tokens, 3 permissions, 7 rooms, 30 subscriptions, 2417 messages, 6 uploads, 6 blobs (3.0 KiB)"
	if c.String() != want {
		t.Errorf("String() = %q, want %q", c.String(), want)
	}
	if s := (Counts{BlobBytes: 12}).String(); !strings.HasSuffix(s, "(12 B)") {
		t.Errorf("String() = %q", s)
	}
}

func TestLoadToleratesBlankLinesCRLFAndExtraFields(t *testing.T) {
	in := "\n" +
		`{"kind":"user","data":{"_id":"u1","username":"alice","active":true,"services":{"x":1}}}` + "\r\n" +
		"   \n" +
		`{"kind":"room","data":{"_id":"r1","t":"c","name":"general","ts":"2019-01-01T00:00:00Z"}}` + "\n"
	got := &recordingSink{}
	counts, err := Load(context.Background(), strings.NewReader(in), got, nil)
	if err != nil {
		t.Fatal(err)
	}
	if counts.Users != 1 || counts.Rooms != 1 {
		t.Fatalf("counts = %v", counts)
	}
	if !reflect.DeepEqual(got.users[0], chat.User{ID: "u1", Username: "alice", Active: true}) {
		t.Errorf("user = %+v", got.users[0])
	}
	if got.rooms[0].Name != "general" {
		t.Errorf("room = %+v", got.rooms[0])
	}
}

func TestLoadMalformedLineReportsLineNumber(t *testing.T) {
	good := `{"kind":"user","data":{"_id":"u1","username":"alice"}}`
	cases := []struct {
		name, bad, reason string
	}{
		{"not JSON", `{"kind":"user","data":{`, "not a JSON record"},
		{"no kind", `{"data":{"_id":"u1"}}`, `without "kind"`},
		{"unknown kind", `{"kind":"usr","data":{}}`, `unknown kind "usr"`},
		{"no data", `{"kind":"room"}`, "without data"},
		{"wrong type", `{"kind":"user","data":{"_id":7,"username":"x"}}`, "user record"},
		{"missing id", `{"kind":"message","data":{"rid":"r1","ts":"2020-01-01T00:00:00Z"}}`, `missing "_id"`},
		{"missing ts", `{"kind":"message","data":{"_id":"m1","rid":"r1"}}`, `missing "ts"`},
		{"bad date", `{"kind":"message","data":{"_id":"m1","rid":"r1","ts":"yesterday"}}`, "message record"},
		{"token without user", `{"kind":"token","data":{"hashedToken":"x"}}`, `missing "userId"`},
		{"blob without key", `{"kind":"blob","data":"AAAA"}`, `without "key"`},
		{"blob not base64", `{"kind":"blob","key":"uploads/x","data":"!!!"}`, "not base64"},
		{"blob not a string", `{"kind":"blob","key":"uploads/x","data":{}}`, "not base64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := good + "\n\n" + good + "\n" + c.bad + "\n" + good + "\n"
			got := &recordingSink{}
			_, err := Load(context.Background(), strings.NewReader(in), got, newMemFiles())
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a *LineError", err)
			}
			if le.Line != 4 {
				t.Errorf("line = %d, want 4 (blank lines count)", le.Line)
			}
			if !strings.Contains(err.Error(), "seed line 4: ") || !strings.Contains(err.Error(), c.reason) {
				t.Errorf("err = %q, want it to name line 4 and %q", err, c.reason)
			}
			if len(got.users) != 0 {
				t.Errorf("%d users written after the error; the batch was not due yet", len(got.users))
			}
		})
	}
}

func TestLoadBlobWithoutFileStore(t *testing.T) {
	in := `{"kind":"blob","key":"uploads/x","contentType":"text/plain","data":"aGk="}` + "\n"
	_, err := Load(context.Background(), strings.NewReader(in), &recordingSink{}, nil)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 1 || !strings.Contains(err.Error(), "no file store") {
		t.Fatalf("err = %v, want line 1: no file store", err)
	}
}

func TestLoadSinkErrorIsNotALineError(t *testing.T) {
	s, blobs := sample(3)
	var buf bytes.Buffer
	writeAll(t, NewEncoder(&buf), s, blobs)
	sink := &recordingSink{failOn: KindRoom}
	counts, err := Load(context.Background(), &buf, sink, newMemFiles())
	if !errors.Is(err, errSinkDown) {
		t.Fatalf("err = %v, want the sink's error", err)
	}
	var le *LineError
	if errors.As(err, &le) {
		t.Errorf("a sink failure was reported as a bad line: %v", err)
	}
	if counts.Rooms != 0 || counts.Users != 2 || counts.Blobs != 2 {
		t.Errorf("counts = %+v, want what was written before the failure", counts)
	}
}

func TestLoadStopsOnCancelledContext(t *testing.T) {
	s, blobs := sample(3)
	var buf bytes.Buffer
	writeAll(t, NewEncoder(&buf), s, blobs)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Load(ctx, &buf, &recordingSink{}, newMemFiles()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestEncoderRefusesCancelledContextAndEmptyKey(t *testing.T) {
	var buf bytes.Buffer
	e := NewEncoder(&buf)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.PutUsers(ctx, []chat.User{{ID: "u", Username: "u"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("PutUsers on a cancelled context: %v", err)
	}
	if err := e.PutBlob(context.Background(), "", "text/plain", nil); err == nil {
		t.Error("PutBlob accepted an empty key")
	}
	if err := e.PutMessages(context.Background(), nil); err != nil {
		t.Errorf("PutMessages(nil) = %v", err)
	}
	if buf.Len() != 0 {
		t.Errorf("wrote %q", buf.String())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("pipe closed") }

func TestEncoderReportsWriteErrors(t *testing.T) {
	e := NewEncoder(failingWriter{})
	err := e.PutRooms(context.Background(), []chat.Room{{ID: "r1", Type: "c"}})
	if err == nil || !strings.Contains(err.Error(), "workspace: write 1 room records") {
		t.Errorf("err = %v", err)
	}
	err = e.PutBlob(context.Background(), "uploads/x", "", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "workspace: write blob uploads/x") {
		t.Errorf("err = %v", err)
	}
}

func TestFileBlobs(t *testing.T) {
	ctx := context.Background()
	files := newMemFiles()
	b := FileBlobs{Files: files}
	if err := b.PutBlob(ctx, "uploads/a", "text/csv", []byte("a,b\n")); err != nil {
		t.Fatal(err)
	}
	rc, err := files.Open(ctx, "uploads/a")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	if string(data) != "a,b\n" || files.types["uploads/a"] != "text/csv" {
		t.Errorf("stored %q as %q", data, files.types["uploads/a"])
	}

	files.failPart = true
	if err := b.PutBlob(ctx, "uploads/b", "text/plain", []byte("x")); err == nil {
		t.Fatal("write failure not reported")
	}
	if _, ok := files.objects["uploads/b"]; ok {
		t.Error("a failed blob was committed")
	}
	if !reflect.DeepEqual(files.aborted, []string{"uploads/b"}) {
		t.Errorf("aborted = %v, want the failed blob aborted", files.aborted)
	}

	if err := (FileBlobs{}).PutBlob(ctx, "uploads/c", "", nil); err == nil {
		t.Error("FileBlobs without a store accepted a blob")
	}
}

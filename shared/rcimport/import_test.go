package rcimport

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// memSink is a workspace.Sink and BlobSink in memory, with the stores'
// upsert semantics (records keyed as the stores key them).
type memSink struct {
	mu      sync.Mutex
	users   map[string]chat.User
	tokens  map[string]chat.Token
	perms   map[string]chat.Permission
	rooms   map[string]chat.Room
	subs    map[string]chat.Subscription
	msgs    map[string]chat.Message
	uploads map[string]chat.Upload
	blobs   map[string][]byte
	types   map[string]string
	calls   int
}

func newMemSink() *memSink {
	return &memSink{users: map[string]chat.User{}, tokens: map[string]chat.Token{}, perms: map[string]chat.Permission{},
		rooms: map[string]chat.Room{}, subs: map[string]chat.Subscription{}, msgs: map[string]chat.Message{},
		uploads: map[string]chat.Upload{}, blobs: map[string][]byte{}, types: map[string]string{}}
}

var (
	_ workspace.Sink     = (*memSink)(nil)
	_ workspace.BlobSink = (*memSink)(nil)
)

func put[T any](s *memSink, m map[string]T, items []T, key func(T) string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	for _, it := range items {
		m[key(it)] = it
	}
	return nil
}

func (s *memSink) PutUsers(_ context.Context, v []chat.User) error {
	return put(s, s.users, v, func(u chat.User) string { return u.ID })
}
func (s *memSink) PutTokens(_ context.Context, v []chat.Token) error {
	return put(s, s.tokens, v, func(t chat.Token) string { return t.Hash })
}
func (s *memSink) PutPermissions(_ context.Context, v []chat.Permission) error {
	return put(s, s.perms, v, func(p chat.Permission) string { return p.ID })
}
func (s *memSink) PutRooms(_ context.Context, v []chat.Room) error {
	return put(s, s.rooms, v, func(r chat.Room) string { return r.ID })
}
func (s *memSink) PutSubscriptions(_ context.Context, v []chat.Subscription) error {
	return put(s, s.subs, v, func(x chat.Subscription) string { return x.RoomID + "/" + x.UserID })
}
func (s *memSink) PutMessages(_ context.Context, v []chat.Message) error {
	return put(s, s.msgs, v, func(m chat.Message) string { return m.ID })
}
func (s *memSink) PutUploads(_ context.Context, v []chat.Upload) error {
	return put(s, s.uploads, v, func(u chat.Upload) string { return u.ID })
}
func (s *memSink) PutBlob(_ context.Context, key, contentType string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[key] = bytes.Clone(data)
	s.types[key] = contentType
	return nil
}

// state is everything the sink holds, for comparisons.
func (s *memSink) state() []any {
	return []any{s.users, s.tokens, s.perms, s.rooms, s.subs, s.msgs, s.uploads, s.blobs, s.types}
}

// writeDump writes the fixture in a form and scans it.
func writeDump(t *testing.T, fx *fixture, form string) (Dump, string) {
	t.Helper()
	root, files := t.TempDir(), t.TempDir()
	fx.write(t, root, files, form)
	d, err := Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "rocketchat"); d.Dir != want {
		t.Fatalf("Scan found %s, want the database folder %s", d.Dir, want)
	}
	return d, files
}

// wantCounts is what the fixture must produce: read, imported, skipped.
func wantCounts(fx *fixture) map[string][3]int64 {
	good := func(c string) int64 { return int64(len(fx.colls[c]) - fx.bad[c]) }
	all := func(c string) int64 { return int64(len(fx.colls[c])) }
	w := map[string][3]int64{Tokens: {8, 7, 1}} // admin 3+1 bad, alice 2, dave 1, bob 1
	for _, c := range Collections() {
		w[c] = [3]int64{all(c), good(c), int64(fx.bad[c])}
	}
	return w
}

func checkCounts(t *testing.T, rep *Report, fx *fixture) {
	t.Helper()
	for name, want := range wantCounts(fx) {
		c := rep.Collection(name)
		if got := [3]int64{c.Read, c.Imported, c.Skipped}; got != want {
			t.Errorf("%s: read/imported/skipped = %v, want %v (reasons %v)", name, got, want, c.Reasons)
		}
	}
	f := rep.Files
	if f.Copied != 5 || f.FromGridFS != 3 || f.FromDir != 2 || f.Missing != 2 || f.Incomplete != 1 || f.TooLarge != 0 || f.NoTarget != 0 {
		t.Errorf("files = %+v", f)
	}
	var bytes int64
	for _, b := range fx.blobs {
		bytes += int64(len(b))
	}
	if f.Bytes != bytes {
		t.Errorf("file bytes = %d, want %d", f.Bytes, bytes)
	}
}

func TestImportEveryForm(t *testing.T) {
	fx := buildFixture(30)
	var first *memSink
	for _, form := range []string{formBSON, formBSONGzip, formRelaxed, formCanonical, formArray, formMixed} {
		t.Run(form, func(t *testing.T) {
			d, files := writeDump(t, fx, form)
			sink := newMemSink()
			var problems []Problem
			rep, err := Import(t.Context(), d, Options{Sink: sink, Blobs: sink, FilesDir: files, BatchSize: 7, TempDir: t.TempDir(),
				Problem: func(p Problem) { problems = append(problems, p) }})
			if err != nil {
				t.Fatal(err)
			}
			checkCounts(t, rep, fx)
			if int64(len(problems)) != rep.Skipped()+int64(len(rep.Files.Problems)) {
				t.Errorf("%d problems reported, %d skipped + %d file problems", len(problems), rep.Skipped(), len(rep.Files.Problems))
			}
			for _, p := range problems {
				if p.Collection == "" || p.Position == "" || p.Reason == "" {
					t.Errorf("problem without collection, position or reason: %+v", p)
				}
			}
			for id, want := range fx.blobs {
				if got, ok := sink.blobs[StorageKey(id)]; !ok || !bytes.Equal(got, want) {
					t.Errorf("blob %s: %d bytes stored (present %v), want %d", id, len(got), ok, len(want))
				}
			}
			if len(sink.blobs) != len(fx.blobs) {
				t.Errorf("blobs stored: %v", slices.Sorted(maps.Keys(sink.blobs)))
			}
			if first == nil {
				first = sink
				checkMapping(t, sink, fx)
				return
			}
			// Every form of the same dump imports the same records.
			if !reflect.DeepEqual(sink.state(), first.state()) {
				for i, s := range sink.state() {
					if !reflect.DeepEqual(s, first.state()[i]) {
						t.Errorf("form %s differs from BSON in part %d:\n got %+v\nwant %+v", form, i, s, first.state()[i])
					}
				}
			}
		})
	}
}

// checkMapping checks the records the fixture maps to, field by field.
func checkMapping(t *testing.T, s *memSink, fx *fixture) {
	t.Helper()
	admin := s.users[adminID]
	wantAdmin := chat.User{ID: adminID, Username: "admin", Name: "Åsa Admin", Emails: []string{"admin@example.org", "asa@example.org"},
		Roles: []string{"admin", "user"}, Active: true, Language: "sv"}
	if !reflect.DeepEqual(admin, wantAdmin) {
		t.Errorf("admin = %+v\nwant %+v", admin, wantAdmin)
	}
	if s.users[bobID].Active || s.users[daveID].Active || !s.users[botID].Active {
		t.Errorf("active: bob %v dave %v bot %v", s.users[bobID].Active, s.users[daveID].Active, s.users[botID].Active)
	}
	tokens := map[string]chat.Token{}
	for _, tok := range s.tokens {
		tokens[tok.Hash] = tok
	}
	check := func(plain, uid, typ, name string, when time.Time) {
		t.Helper()
		got, ok := tokens[export.HashToken(plain)]
		if !ok {
			t.Errorf("token of %s not imported", uid)
			return
		}
		if got.UserID != uid || got.Type != typ || got.Name != name || !got.CreatedAt.Equal(when) {
			t.Errorf("token of %s = user %s type %s name %q created %v; want %s %s %q %v", uid, got.UserID, got.Type, got.Name, got.CreatedAt, uid, typ, name, when)
		}
	}
	check(adminLoginToken, adminID, chat.TokenLogin, "", ms(testNow.Add(-24*time.Hour)))
	check(adminPAT, adminID, chat.TokenPersonal, "ci", ms(testNow.AddDate(-4, 0, 0)))
	check(adminExpiredToken, adminID, chat.TokenLogin, "", ms(testNow.AddDate(0, 0, -100)))
	check(aliceLegacyToken, aliceID, chat.TokenLogin, "", ms(testNow.Add(-time.Hour)))
	for h := range tokens {
		for _, plain := range []string{adminLoginToken, adminPAT, aliceToken, aliceLegacyToken, daveToken} {
			if h == plain {
				t.Errorf("a plaintext token was stored")
			}
		}
	}
	if p := s.perms["mail-messages"]; !reflect.DeepEqual(p.Roles, []string{"admin", "owner"}) {
		t.Errorf("mail-messages = %+v", p)
	}
	if p := s.perms["change-setting-Site_Url"]; p.Roles == nil || len(p.Roles) != 0 {
		t.Errorf("empty roles = %#v, want []", p.Roles)
	}
	wantRooms := map[string]chat.Room{
		generalID: {ID: generalID, Type: "c", Name: "general", FName: "General", Topic: "Everything <b>goes</b>"},
		projectID: {ID: projectID, Type: "p", Name: "project", FName: "Projekt ✨"},
		directID:  {ID: directID, Type: "d", Usernames: []string{"admin", "alice"}},
		discID:    {ID: discID, Type: "p", Name: "disc-name", FName: "A discussion", ParentID: generalID},
		teamRoom:  {ID: teamRoom, Type: "c", Name: "engineering", TeamID: "T-1"},
	}
	if !reflect.DeepEqual(s.rooms, wantRooms) {
		t.Errorf("rooms = %+v\nwant %+v", s.rooms, wantRooms)
	}
	if sub := s.subs[generalID+"/"+adminID]; !reflect.DeepEqual(sub, chat.Subscription{RoomID: generalID, UserID: adminID, Roles: []string{"owner"}}) {
		t.Errorf("subscription = %+v", sub)
	}
	if len(s.subs) != 6 {
		t.Errorf("%d subscriptions", len(s.subs))
	}
	up := s.uploads[fileGridSmall]
	if want := (chat.Upload{ID: fileGridSmall, RoomID: generalID, Name: "data.csv", Type: "text/csv", Size: 8, StorageKey: "uploads/" + fileGridSmall}); up != want {
		t.Errorf("upload = %+v, want %+v (size taken from the bytes)", up, want)
	}
	if _, ok := s.uploads[fileMissing]; !ok {
		t.Error("the upload whose bytes are lost was not imported")
	}
	if _, ok := s.uploads[fileIncomplete]; ok {
		t.Error("an incomplete upload was imported")
	}
	if s.types[StorageKey(fileGrid)] != "image/png" {
		t.Errorf("content type = %q", s.types[StorageKey(fileGrid)])
	}
	m5old := s.msgs["m05-old"]
	if !m5old.Hidden || m5old.Msg != "original text" {
		t.Errorf("hidden copy = %+v", m5old)
	}
	m8 := s.msgs["m08"]
	if m8.Type != "subscription-role-added" || m8.Role != "moderator" || m8.Msg != "alice" {
		t.Errorf("role message = %+v", m8)
	}
	if m7 := s.msgs["m07"]; m7.DiscussionID != discID || m7.Type != "discussion-created" {
		t.Errorf("discussion message = %+v", m7)
	}
	m5 := s.msgs["m05"]
	if m5.EditedAt == nil || m5.EditedBy == nil || m5.EditedBy.Username != "admin" || m5.EditedBy.ID != "x-admin" {
		t.Errorf("edited message = %+v", m5)
	}
	if m1 := s.msgs["m01"]; m1.U != (chat.UserRef{ID: adminID, Username: "admin", Name: "Åsa Admin"}) || m1.TS.Location() != time.UTC {
		t.Errorf("m01 = %+v", m1)
	}
	if len(s.msgs) != len(fx.msgs) {
		t.Errorf("%d messages, want %d", len(s.msgs), len(fx.msgs))
	}
}

// exportJSON exports a room as JSON through the service and returns the
// archive's document and its files.
func exportJSON(t *testing.T, svc *export.Service, jobs export.JobStore, files export.FileStore, user, token, rid, docName string) (doc []byte, entries map[string][]byte) {
	t.Helper()
	ctx := t.Context()
	body := `{"rid":"` + rid + `","type":"file","format":"json","dateFrom":"2000-01-01","dateTo":"2024-05-31"}`
	res, err := svc.Export(ctx, export.Credentials{UserID: user, Token: token}, []byte(body), "https://exports.example.org")
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if res.Status != chat.JobDone || res.URL == "" {
		t.Fatalf("export = %+v, want done with a link", res)
	}
	job, err := jobs.Job(ctx, res.ExportID)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := files.Open(ctx, job.Key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	entries = map[string][]byte{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		entries[f.Name] = b
	}
	doc, ok := entries[docName]
	if !ok {
		t.Fatalf("archive has no %s: %v", docName, slices.Sorted(maps.Keys(entries)))
	}
	return doc, entries
}

// checkExport compares an exported JSON document and its assets with the
// fixture's source messages and files.
func checkExport(t *testing.T, fx *fixture, doc []byte, entries map[string][]byte) {
	t.Helper()
	want := fx.generalLines()
	lines := strings.Split(strings.TrimRight(string(doc), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("export has %d lines, the source %d visible messages", len(lines), len(want))
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, `{"msg":`) {
			t.Fatalf("line %d does not start with msg (Rocket.Chat's key order)", i+1)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		var w map[string]any
		raw, _ := json.Marshal(want[i])
		json.Unmarshal(raw, &w)
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("line %d differs from the source message:\n got %v\nwant %v", i+1, got, w)
		}
	}
	for id, name := range map[string]string{fileGrid: "diagram.png", fileFS: "report.pdf", fileS3: "photo.jpg", fileGridSmall: "data.csv", fileGridEmpty: "empty.txt"} {
		got, ok := entries["assets/"+id+"-"+name]
		if !ok || !bytes.Equal(got, fx.blobs[id]) {
			t.Errorf("asset %s: present %v, %d bytes, want %d", id, ok, len(got), len(fx.blobs[id]))
		}
	}
	var man struct {
		Messages int64 `json:"messages"`
		Skipped  []struct {
			ID     string `json:"id"`
			Reason string `json:"reason"`
		} `json:"skipped"`
	}
	if err := json.Unmarshal(entries["manifest.json"], &man); err != nil {
		t.Fatal(err)
	}
	if man.Messages != int64(len(want)) || len(man.Skipped) != 1 || !strings.Contains(string(entries["manifest.json"]), fileMissing) {
		t.Errorf("manifest: %d messages, skipped %+v", man.Messages, man.Skipped)
	}
}

// checkLogins tries the imported tokens: which authenticate, and which not.
func checkLogins(t *testing.T, svc *export.Service) {
	t.Helper()
	body := []byte(`{"rid":"` + generalID + `","type":"file","format":"json"}`)
	for _, c := range []struct {
		user, token, code string
	}{
		{adminID, adminExpiredToken, chat.CodeUnauthorized}, // login token older than 90 days
		{daveID, daveToken, chat.CodeUnauthorized},          // active: false
		{bobID, bobToken, chat.CodeUnauthorized},            // no active field
		{aliceID, adminLoginToken, chat.CodeUnauthorized},   // someone else's token
		{aliceID, aliceToken, chat.CodeActionNotAllowed},    // authenticated; a plain user lacks mail-messages
		{aliceID, aliceLegacyToken, chat.CodeActionNotAllowed},
	} {
		_, err := svc.Export(t.Context(), export.Credentials{UserID: c.user, Token: c.token}, body, "https://exports.example.org")
		if got := chat.CodeOf(err); got != c.code {
			t.Errorf("%s with its token: %s (%v), want %s", c.user, got, err, c.code)
		}
	}
}

func TestReimportChangesNothing(t *testing.T) {
	fx := buildFixture(10)
	d, files := writeDump(t, fx, formCanonical)
	sink := newMemSink()
	opts := Options{Sink: sink, Blobs: sink, FilesDir: files, TempDir: t.TempDir()}
	rep1, err := Import(t.Context(), d, opts)
	if err != nil {
		t.Fatal(err)
	}
	before := cloneState(t, sink)
	rep2, err := Import(t.Context(), d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep1.Collections, rep2.Collections) || !reflect.DeepEqual(rep1.Files, rep2.Files) {
		t.Errorf("second run counted differently:\n%+v\n%+v", rep1.Collections, rep2.Collections)
	}
	if after := cloneState(t, sink); after != before {
		t.Error("the second import changed the records")
	}
}

// cloneState is the sink's state as JSON.
func cloneState(t *testing.T, s *memSink) string {
	b, err := json.Marshal(s.state())
	must(t, err)
	return string(b)
}

func TestDryRunWritesNothing(t *testing.T) {
	fx := buildFixture(10)
	d, files := writeDump(t, fx, formBSON)
	sink := &refusingSink{}
	var last Progress
	rep, err := Import(t.Context(), d, Options{Sink: sink, Blobs: sink, FilesDir: files, DryRun: true, TempDir: t.TempDir(),
		Progress: func(p Progress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, rep, fx)
	if sink.calls != 0 {
		t.Errorf("dry run called the sink %d times", sink.calls)
	}
	if !rep.DryRun || !last.Done || last.Fraction() != 1 {
		t.Errorf("dry run report %v, last progress %+v", rep.DryRun, last)
	}
	var out strings.Builder
	must(t, rep.WriteSummary(&out))
	if !strings.Contains(out.String(), "dry run: nothing was written") {
		t.Errorf("summary does not say it was a dry run:\n%s", out.String())
	}
}

// refusingSink fails every call.
type refusingSink struct{ calls int }

var errRefused = errors.New("refused")

func (s *refusingSink) fail() error                                             { s.calls++; return errRefused }
func (s *refusingSink) PutUsers(context.Context, []chat.User) error             { return s.fail() }
func (s *refusingSink) PutTokens(context.Context, []chat.Token) error           { return s.fail() }
func (s *refusingSink) PutPermissions(context.Context, []chat.Permission) error { return s.fail() }
func (s *refusingSink) PutRooms(context.Context, []chat.Room) error             { return s.fail() }
func (s *refusingSink) PutSubscriptions(context.Context, []chat.Subscription) error {
	return s.fail()
}
func (s *refusingSink) PutMessages(context.Context, []chat.Message) error { return s.fail() }
func (s *refusingSink) PutUploads(context.Context, []chat.Upload) error   { return s.fail() }
func (s *refusingSink) PutBlob(context.Context, string, string, []byte) error {
	return s.fail()
}

func TestSinkFailureStopsTheImport(t *testing.T) {
	fx := buildFixture(0)
	d, _ := writeDump(t, fx, formRelaxed)
	sink := &refusingSink{}
	rep, err := Import(t.Context(), d, Options{Sink: sink, TempDir: t.TempDir()})
	if !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "rcimport: write users") {
		t.Fatalf("err = %v, want the sink's error naming the collection", err)
	}
	if rep == nil || rep.Collection(Users).Imported != 0 || rep.Collection(Rooms).Read != 0 {
		t.Errorf("report after the failure: %+v", rep)
	}
}

func TestCancelledContext(t *testing.T) {
	fx := buildFixture(0)
	d, _ := writeDump(t, fx, formBSON)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Import(ctx, d, Options{Sink: newMemSink()}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestNoSinkWithoutDryRun(t *testing.T) {
	if _, err := Import(t.Context(), Dump{}, Options{}); err == nil {
		t.Fatal("Import without a sink did not fail")
	}
}

func TestMaxRecordBytes(t *testing.T) {
	fx := buildFixture(0)
	big := srcMsg{id: "huge", rid: generalID, ts: ms(testNow), msg: strings.Repeat("x", 5000), uid: adminID, user: "admin"}
	fx.colls[Messages] = append(fx.colls[Messages], big.doc())
	d, _ := writeDump(t, fx, formBSON)
	sink := newMemSink()
	rep, err := Import(t.Context(), d, Options{Sink: sink, MaxRecordBytes: 4000, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Collection(Messages)
	if _, ok := sink.msgs["huge"]; ok || c.Reasons["record larger than 4000 bytes"] != 1 {
		t.Errorf("huge message imported %v, reasons %v", ok, c.Reasons)
	}
}

func TestBlobsNilAndTooLarge(t *testing.T) {
	fx := buildFixture(0)
	d, files := writeDump(t, fx, formBSON)
	rep, err := Import(t.Context(), d, Options{Sink: newMemSink(), FilesDir: files, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files.NoTarget != 5 || rep.Files.Copied != 0 {
		t.Errorf("without Blobs: %+v", rep.Files)
	}
	sink := newMemSink()
	rep, err = Import(t.Context(), d, Options{Sink: sink, Blobs: sink, FilesDir: files, MaxFileBytes: 1000, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// diagram.png (2345 bytes) is over the limit; report.pdf is 509, photo.jpg 777.
	if rep.Files.TooLarge != 1 || rep.Files.Copied != 4 {
		t.Errorf("with a 1000-byte limit: %+v", rep.Files)
	}
	if _, ok := sink.blobs[StorageKey(fileGrid)]; ok {
		t.Error("a file over the limit was copied")
	}
}

func TestSummary(t *testing.T) {
	fx := buildFixture(3)
	d, files := writeDump(t, fx, formRelaxed)
	sink := newMemSink()
	rep, err := Import(t.Context(), d, Options{Sink: sink, Blobs: sink, FilesDir: files, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	must(t, rep.WriteSummary(&out))
	s := out.String()
	for _, want := range []string{
		"Imported " + d.Dir,
		"rocketchat_message.json (extjson lines)",
		"login tokens",
		`rocketchat_message: 1 × missing "ts" (first at line 7)`,
		`rocketchat_message: 1 × invalid Extended JSON (first at line 11`,
		`users: 1 × field "roles": want an array, got a string`,
		"users.services.resume.loginTokens: 1 × field \"services.resume.loginTokens[].hashedToken\": want a string, got an int32 (first at line 1, user u-admin)",
		"rocketchat_uploads: 1 × upload not complete",
		"rocketchat_uploads.chunks: 1 × chunk of a file missing from rocketchat_uploads.files",
		"uploaded files: 5 copied",
		"2 without bytes in the dump",
		"1 GridFS files with missing chunks",
		"note: rocketchat_roles: checked, not stored",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	for _, secret := range []string{adminLoginToken, export.HashToken(adminLoginToken), "filler message", "Hello *world*"} {
		if strings.Contains(s, secret) {
			t.Errorf("summary shows message text or a token")
		}
	}
}

// streamingSink is a memSink that takes blobs as streams.
type streamingSink struct {
	*memSink
	streamed int
}

func (s *streamingSink) PutBlobFrom(ctx context.Context, key, contentType string, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.streamed++
	return s.PutBlob(ctx, key, contentType, data)
}

func TestBlobStreamer(t *testing.T) {
	fx := buildFixture(0)
	d, files := writeDump(t, fx, formBSON)
	sink := &streamingSink{memSink: newMemSink()}
	rep, err := Import(t.Context(), d, Options{Sink: sink, Blobs: sink, FilesDir: files, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if sink.streamed != 5 || rep.Files.Copied != 5 {
		t.Errorf("streamed %d blobs, copied %d; want 5", sink.streamed, rep.Files.Copied)
	}
	for id, want := range fx.blobs {
		if got := sink.blobs[StorageKey(id)]; !bytes.Equal(got, want) {
			t.Errorf("blob %s differs", id)
		}
	}
}

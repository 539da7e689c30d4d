package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// recorder is an in-memory upsert store: a workspace.Sink and a
// workspace.BlobSink. Records are kept by key, so loading twice shows
// whether it equals loading once; calls counts every Put.
type recorder struct {
	users   map[string]chat.User
	tokens  map[string]chat.Token
	perms   map[string]chat.Permission
	rooms   map[string]chat.Room
	subs    map[string]chat.Subscription
	msgs    map[string]chat.Message
	uploads map[string]chat.Upload
	blobs   map[string]blob
	calls   int
	order   []string // first put of each kind
}

type blob struct {
	contentType string
	data        []byte
}

func newRecorder() *recorder {
	return &recorder{
		users: map[string]chat.User{}, tokens: map[string]chat.Token{}, perms: map[string]chat.Permission{},
		rooms: map[string]chat.Room{}, subs: map[string]chat.Subscription{}, msgs: map[string]chat.Message{},
		uploads: map[string]chat.Upload{}, blobs: map[string]blob{},
	}
}

var (
	_ workspace.Sink     = (*recorder)(nil)
	_ workspace.BlobSink = (*recorder)(nil)
)

func (r *recorder) note(kind string) {
	r.calls++
	if !slices.Contains(r.order, kind) {
		r.order = append(r.order, kind)
	}
}

func (r *recorder) PutUsers(_ context.Context, v []chat.User) error {
	r.note("users")
	for _, x := range v {
		r.users[x.ID] = x
	}
	return nil
}
func (r *recorder) PutTokens(_ context.Context, v []chat.Token) error {
	r.note("tokens")
	for _, x := range v {
		r.tokens[x.Hash] = x
	}
	return nil
}
func (r *recorder) PutPermissions(_ context.Context, v []chat.Permission) error {
	r.note("permissions")
	for _, x := range v {
		r.perms[x.ID] = x
	}
	return nil
}
func (r *recorder) PutRooms(_ context.Context, v []chat.Room) error {
	r.note("rooms")
	for _, x := range v {
		r.rooms[x.ID] = x
	}
	return nil
}
func (r *recorder) PutSubscriptions(_ context.Context, v []chat.Subscription) error {
	r.note("subscriptions")
	for _, x := range v {
		r.subs[x.RoomID+"/"+x.UserID] = x
	}
	return nil
}
func (r *recorder) PutMessages(_ context.Context, v []chat.Message) error {
	r.note("messages")
	if len(v) > workspace.BatchSize {
		return fmt.Errorf("recorder: batch of %d messages", len(v))
	}
	for _, x := range v {
		r.msgs[x.ID] = x
	}
	return nil
}
func (r *recorder) PutUploads(_ context.Context, v []chat.Upload) error {
	r.note("uploads")
	for _, x := range v {
		r.uploads[x.ID] = x
	}
	return nil
}
func (r *recorder) PutBlob(_ context.Context, key, contentType string, data []byte) error {
	r.note("blobs")
	r.blobs[key] = blob{contentType, bytes.Clone(data)}
	return nil
}

// state is everything but the call log, for comparisons.
func (r *recorder) state() []any {
	return []any{r.users, r.tokens, r.perms, r.rooms, r.subs, r.msgs, r.uploads, r.blobs}
}

var testNow = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 2*3600))

func load(t *testing.T, now time.Time) (*recorder, Summary) {
	t.Helper()
	r := newRecorder()
	s, err := Load(context.Background(), r, r, now)
	if err != nil {
		t.Fatal(err)
	}
	return r, s
}

func visible(r *recorder) []chat.Message {
	var out []chat.Message
	for _, m := range r.msgs {
		if !m.Hidden {
			out = append(out, m)
		}
	}
	return out
}

func TestSummaryMatchesRecords(t *testing.T) {
	r, s := load(t, testNow)
	var bytes int64
	for _, b := range r.blobs {
		bytes += int64(len(b.data))
	}
	want := workspace.Counts{
		Users: len(r.users), Tokens: len(r.tokens), Permissions: len(r.perms), Rooms: len(r.rooms),
		Subscriptions: len(r.subs), Messages: len(r.msgs), Uploads: len(r.uploads), Blobs: len(r.blobs), BlobBytes: bytes,
	}
	if s.Counts != want {
		t.Errorf("summary = %+v\nrecords = %+v (ids must be unique within each kind)", s.Counts, want)
	}
	// Blobs before the records that point at them, messages last.
	wantOrder := []string{"blobs", "uploads", "users", "tokens", "permissions", "rooms", "subscriptions", "messages"}
	if !reflect.DeepEqual(r.order, wantOrder) {
		t.Errorf("put order = %v, want %v", r.order, wantOrder)
	}
	if !strings.Contains(s.String(), "messages") {
		t.Errorf("String() = %q", s.String())
	}
}

func TestIDsAreUniqueAndRocketChatShaped(t *testing.T) {
	r, s := load(t, testNow)
	idShape := regexp.MustCompile(`^[` + idAlphabet + `]{17}$`)
	seen := map[string]string{}
	check := func(kind, id string) {
		t.Helper()
		if prev, ok := seen[id]; ok {
			t.Errorf("id %s used by a %s and a %s", id, prev, kind)
		}
		seen[id] = kind
		if kind != "room" || id != DirectRoomID {
			if !idShape.MatchString(id) {
				t.Errorf("%s id %q is not a 17-character Rocket.Chat id", kind, id)
			}
		}
	}
	for id := range r.users {
		check("user", id)
	}
	for id := range r.rooms {
		check("room", id)
	}
	for id := range r.msgs {
		check("message", id)
	}
	for id := range r.uploads {
		check("upload", id)
	}
	if len(r.msgs) != s.Messages {
		t.Errorf("%d distinct message ids for %d messages written", len(r.msgs), s.Messages)
	}
}

func TestEnoughMessagesInEveryRoom(t *testing.T) {
	r, _ := load(t, testNow)
	vis := visible(r)
	if len(vis) < 2000 {
		t.Fatalf("%d visible messages, want at least 2000", len(vis))
	}
	per := map[string]int{}
	for _, m := range vis {
		per[m.RoomID]++
	}
	for id := range r.rooms {
		if per[id] < 5 {
			t.Errorf("room %s has %d messages", id, per[id])
		}
		if id != GeneralRoomID && per[id] >= per[GeneralRoomID] {
			t.Errorf("room %s has more messages than general", id)
		}
	}
	if per[GeneralRoomID] < len(vis)/2 {
		t.Errorf("general has %d of %d messages, want most", per[GeneralRoomID], len(vis))
	}
	for k := range per {
		if _, ok := r.rooms[k]; !ok {
			t.Errorf("messages in unknown room %s", k)
		}
	}
}

func TestTimestampsInRange(t *testing.T) {
	r, _ := load(t, testNow)
	from, to := firstDay(), lastInstant()
	var first, last bool
	for _, m := range r.msgs {
		if m.TS.Before(from) || m.TS.After(to) {
			t.Errorf("message %s at %s is outside 2019-01-01..2021-11-25", m.ID, m.TS)
		}
		if m.TS.Location() != time.UTC || m.TS.Nanosecond()%1e6 != 0 {
			t.Errorf("message %s time %s is not UTC milliseconds", m.ID, m.TS)
		}
		first = first || m.TS.Equal(from)
		last = last || m.TS.Equal(to)
		if m.EditedAt != nil && !m.EditedAt.After(m.TS) {
			t.Errorf("message %s edited at %s, not after %s", m.ID, m.EditedAt, m.TS)
		}
	}
	if !first || !last {
		t.Errorf("want messages at the first and the last millisecond (first=%v last=%v)", first, last)
	}
}

func TestDayBoundariesAndSharedMilliseconds(t *testing.T) {
	r, _ := load(t, testNow)
	midnight := 0
	byTS := map[time.Time]int{}
	for _, m := range visible(r) {
		if m.TS.Equal(m.TS.Truncate(24 * time.Hour)) {
			midnight++
		}
		byTS[m.TS]++
	}
	if midnight < 5 {
		t.Errorf("%d messages at 00:00:00.000Z, want several", midnight)
	}
	shared := 0
	for _, n := range byTS {
		if n >= 3 {
			shared++
		}
	}
	if shared == 0 {
		t.Error("no millisecond shared by three messages")
	}
	if byTS[at(2021, 11, 25, 23, 59, 59, 999)] < 2 {
		t.Error("want two messages at the last millisecond of the range")
	}
	if byTS[at(2020, 2, 29, 0, 0, 0, 0)] == 0 {
		t.Error("no leap-day midnight message")
	}
}

func TestEverySystemMessageType(t *testing.T) {
	r, _ := load(t, testNow)
	types := map[string]int{}
	for _, m := range visible(r) {
		if m.Type != "" {
			types[m.Type]++
		}
	}
	for _, want := range []string{
		"uj", "ul", "au", "ru", "r", "room_changed_topic", "room_changed_description",
		"room_changed_announcement", "subscription-role-added", "subscription-role-removed",
		"message_pinned", "discussion-created", "rm", "user-muted", "user-unmuted",
		"ujt", "added-user-to-team",
	} {
		if types[want] == 0 {
			t.Errorf("no %q system message", want)
		}
	}
	for _, m := range r.msgs {
		switch m.Type {
		case "r":
			if r := r.rooms[m.RoomID]; m.Msg != r.Name {
				t.Errorf("rename message says %q, room is named %q", m.Msg, r.Name)
			}
		case "discussion-created":
			d, ok := r.rooms[m.DiscussionID]
			if !ok || d.ParentID != m.RoomID || m.Msg != d.FName {
				t.Errorf("discussion-created %s does not point at a discussion of its room", m.ID)
			}
		case "message_pinned":
			if len(m.Attachments) != 1 || m.Attachments[0].Text == "" {
				t.Errorf("pin %s does not carry the pinned message", m.ID)
			}
		case "uj", "ul", "au", "ru", "user-muted", "ujt", "added-user-to-team", "subscription-role-added":
			if !regexp.MustCompile(`^[a-z.]+$`).MatchString(m.Msg) {
				t.Errorf("%s message %s has msg %q, want a username", m.Type, m.ID, m.Msg)
			}
		}
	}
}

func TestThreadsEditsReactionsQuotes(t *testing.T) {
	r, _ := load(t, testNow)
	var replies, parents, edited, hidden, reacted, quotes int
	parentSet := map[string]bool{}
	for _, m := range r.msgs {
		if m.ThreadID != "" {
			replies++
			p, ok := r.msgs[m.ThreadID]
			switch {
			case !ok:
				t.Errorf("reply %s to a missing message", m.ID)
			case p.RoomID != m.RoomID || !p.TS.Before(m.TS):
				t.Errorf("reply %s is not after its parent in the same room", m.ID)
			}
			parentSet[m.ThreadID] = true
		}
		if m.Hidden {
			hidden++
			if !strings.Contains(m.Msg, HistoryMarker) {
				t.Errorf("hidden copy %s lacks HistoryMarker", m.ID)
			}
			if m.EditedAt == nil {
				t.Errorf("hidden copy %s has no edit stamp", m.ID)
			}
			continue
		}
		if strings.Contains(m.Msg, HistoryMarker) {
			t.Errorf("visible message %s contains HistoryMarker", m.ID)
		}
		if m.EditedAt != nil {
			edited++
			if m.EditedBy == nil || m.EditedBy.Username == "" {
				t.Errorf("edited message %s without editedBy", m.ID)
			}
			orig := r.msgs[makeID("history", m.ID)]
			if !orig.Hidden || orig.TS != m.TS || orig.RoomID != m.RoomID {
				t.Errorf("edited message %s has no hidden copy at its time", m.ID)
			}
		}
		if len(m.Reactions) > 0 {
			reacted++
			for e, re := range m.Reactions {
				if !strings.HasPrefix(e, ":") || len(re.Usernames) == 0 {
					t.Errorf("reaction %q on %s: %v", e, m.ID, re.Usernames)
				}
			}
		}
		for _, a := range m.Attachments {
			if a.MessageLink != "" && m.Type == "" {
				quotes++
				id := a.MessageLink[strings.LastIndex(a.MessageLink, "=")+1:]
				if q, ok := r.msgs[id]; !ok || q.Msg != a.Text {
					t.Errorf("quote in %s does not match message %s", m.ID, id)
				}
				if !strings.Contains(m.Msg, "[ ]("+a.MessageLink+")") {
					t.Errorf("quote in %s lacks Rocket.Chat's hidden link", m.ID)
				}
			}
			if len(a.Attachments) > 0 && a.MessageLink != "" {
				parentSet["nested-quote"] = true
			}
		}
	}
	parents = len(parentSet)
	for name, got := range map[string]int{"thread replies": replies, "thread parents": parents, "edited": edited, "hidden copies": hidden, "reacted": reacted, "quotes": quotes} {
		if got < 10 {
			t.Errorf("%d %s, want at least 10", got, name)
		}
	}
	if !parentSet["nested-quote"] {
		t.Error("no quote of a quote")
	}
	if hidden != edited {
		t.Errorf("%d hidden copies for %d edited messages", hidden, edited)
	}
}

func TestTextFeatures(t *testing.T) {
	r, _ := load(t, testNow)
	var all strings.Builder
	scripts := map[string]int{}
	multiline := 0
	for _, m := range visible(r) {
		all.WriteString(m.Msg)
		all.WriteByte(0)
		if strings.Contains(m.Msg, "\n") {
			multiline++
		}
		for _, c := range m.Msg {
			for name, tab := range map[string]*unicode.RangeTable{"Han": unicode.Han, "Arabic": unicode.Arabic, "Hebrew": unicode.Hebrew, "Latin-1 accents": unicode.Latin} {
				if tab == unicode.Latin && c < 0x80 {
					continue
				}
				if unicode.Is(tab, c) {
					scripts[name]++
				}
			}
		}
	}
	text := all.String()
	for _, want := range []string{
		"*bold*", "_italic_", "~strike~", "`inline code`", "```", "\n> ", "https://", "mailto:", "@alice", "@all", "#random",
		":tada:", "🎉", "👍🏽", "\u202e",
		"<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no message contains %q", want)
		}
	}
	for _, name := range []string{"Han", "Arabic", "Hebrew", "Latin-1 accents"} {
		if scripts[name] < 20 {
			t.Errorf("%d %s characters, want text in that script", scripts[name], name)
		}
	}
	if multiline < 5 {
		t.Errorf("%d multi-line messages", multiline)
	}
	long := 0
	for _, m := range r.msgs {
		long = max(long, len(m.Msg))
	}
	if long < 4000 {
		t.Errorf("longest message has %d bytes, want a long one", long)
	}
}

func TestUsersAndAuthors(t *testing.T) {
	r, _ := load(t, testNow)
	byName := map[string]chat.User{}
	nonASCII, inactive, noEmail := 0, 0, 0
	for _, u := range r.users {
		byName[u.Username] = u
		if strings.ContainsFunc(u.Name, func(c rune) bool { return c > 0x7f }) {
			nonASCII++
		}
		if !u.Active {
			inactive++
		}
		if len(u.Emails) == 0 && !slices.Contains(u.Roles, "bot") {
			noEmail++
		}
	}
	if nonASCII < 6 || inactive != 1 || noEmail != 1 {
		t.Errorf("non-ASCII names %d (want 6+), inactive %d (want 1), humans without email %d (want 1)", nonASCII, inactive, noEmail)
	}
	if u := r.users[AdminID]; u.Username != "admin" || !slices.Contains(u.Roles, "admin") || !slices.Contains(u.Roles, "user") || len(u.Emails) == 0 || !u.Active {
		t.Errorf("admin = %+v", u)
	}
	if u := r.users[AliceID]; u.Username != "alice" || !reflect.DeepEqual(u.Roles, []string{"user"}) {
		t.Errorf("alice = %+v", u)
	}
	if u := r.users[BobID]; u.Username != "bob" || !reflect.DeepEqual(u.Roles, []string{"user"}) {
		t.Errorf("bob = %+v", u)
	}
	if u := r.users[DaveID]; u.Active {
		t.Error("dave is active")
	}
	if u := r.users[EveID]; len(u.Emails) != 0 {
		t.Error("eve has an address")
	}
	ghosts := 0
	for _, m := range r.msgs {
		u, ok := r.users[m.U.ID]
		if !ok {
			ghosts++
			if m.U.Username != "ghost.user" {
				t.Errorf("message %s by unknown user %s", m.ID, m.U.Username)
			}
			continue
		}
		if u.Username != m.U.Username || u.Name != m.U.Name {
			t.Errorf("message %s stamp %+v does not match the user", m.ID, m.U)
		}
		if _, ok := r.subs[m.RoomID+"/"+m.U.ID]; !ok && m.Type == "" && m.U.Username != "eve" && m.U.Username != "dave" {
			t.Errorf("message %s by %s, not a member of %s", m.ID, m.U.Username, m.RoomID)
		}
		if m.U.ID == DaveID && m.TS.After(daveLeft()) && m.Type == "" {
			t.Errorf("dave writes after he left: %s", m.ID)
		}
	}
	if ghosts == 0 {
		t.Error("no message by a deleted user")
	}
}

func TestRoomsSubscriptionsPermissions(t *testing.T) {
	r, _ := load(t, testNow)
	want := map[string]struct{ t, name string }{
		GeneralRoomID:    {"c", "general"},
		RandomRoomID:     {"c", "random"},
		ProjectRoomID:    {"p", "project-phoenix"},
		SecretRoomID:     {"p", "hr-confidential"},
		DirectRoomID:     {"d", ""},
		DiscussionRoomID: {"c", DiscussionRoomID},
		TeamRoomID:       {"c", "engineering"},
	}
	for id, w := range want {
		got, ok := r.rooms[id]
		if !ok || got.Type != w.t || got.Name != w.name {
			t.Errorf("room %s = %+v, want t=%s name=%q", id, got, w.t, w.name)
		}
	}
	if d := r.rooms[DiscussionRoomID]; d.ParentID != GeneralRoomID || d.FName == "" {
		t.Errorf("discussion = %+v", d)
	}
	if tm := r.rooms[TeamRoomID]; tm.TeamID != TeamID {
		t.Errorf("team room = %+v", tm)
	}
	if dm := r.rooms[DirectRoomID]; !reflect.DeepEqual(dm.Usernames, []string{"admin", "alice"}) || DirectRoomID != min(AdminID, AliceID)+max(AdminID, AliceID) {
		t.Errorf("direct room = %+v", dm)
	}

	sub := func(rid, uid string) (chat.Subscription, bool) { s, ok := r.subs[rid+"/"+uid]; return s, ok }
	if s, ok := sub(ProjectRoomID, BobID); !ok || !reflect.DeepEqual(s.Roles, []string{"owner"}) {
		t.Errorf("bob's project subscription = %+v %v", s, ok)
	}
	for _, uid := range []string{AliceID, AdminID} {
		if s, ok := sub(ProjectRoomID, uid); !ok || slices.Contains(s.Roles, "owner") {
			t.Errorf("project subscription of %s = %+v %v", uid, s, ok)
		}
	}
	if _, ok := sub(SecretRoomID, AdminID); ok {
		t.Error("admin is a member of hr-confidential")
	}
	for _, uid := range []string{AliceID, AdminID} {
		if _, ok := sub(DirectRoomID, uid); !ok {
			t.Errorf("%s not in the direct message", uid)
		}
	}
	for k, s := range r.subs {
		if _, ok := r.users[s.UserID]; !ok {
			t.Errorf("subscription %s of an unknown user", k)
		}
		if _, ok := r.rooms[s.RoomID]; !ok {
			t.Errorf("subscription %s to an unknown room", k)
		}
	}

	perms := map[string][]string{
		"mail-messages":         {"admin", "owner"},
		"view-c-room":           {"admin", "user", "bot", "app"},
		"api-bypass-rate-limit": {"admin", "bot", "app"},
	}
	for id, roles := range perms {
		if got := r.perms[id].Roles; !reflect.DeepEqual(got, roles) {
			t.Errorf("permission %s = %v, want %v", id, got, roles)
		}
	}
}

// TestDocumentationExample checks the request of Rocket.Chat's rooms.export
// documentation works against the demo: the admin's id and token, the room,
// and messages between 2000-01-01 and 2021-11-25 (the whole last day in).
func TestDocumentationExample(t *testing.T) {
	r, _ := load(t, testNow)
	tok, ok := r.tokens[export.HashToken(AdminToken)]
	if !ok || tok.UserID != AdminID || tok.Type != chat.TokenPersonal {
		t.Fatalf("token of the documentation example = %+v %v", tok, ok)
	}
	admin := r.users[AdminID]
	if !admin.Active || !slices.Contains(admin.Roles, "admin") {
		t.Fatalf("admin = %+v", admin)
	}
	if !slices.Contains(r.perms["mail-messages"].Roles, "admin") {
		t.Fatal("admin may not mail messages")
	}
	room := r.rooms[GeneralRoomID]
	if room.Type != chat.RoomChannel || room.Name != "general" {
		t.Fatalf("room = %+v", room)
	}
	from := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2021, 11, 26, 0, 0, 0, 0, time.UTC) // dateTo + 1 day, inclusive
	in, all := 0, 0
	for _, m := range visible(r) {
		if m.RoomID != GeneralRoomID {
			continue
		}
		all++
		if !m.TS.Before(from) && !m.TS.After(to) {
			in++
		}
	}
	if in < 1500 || in != all {
		t.Errorf("%d of %d general messages in the documented range", in, all)
	}
}

func TestCredentialsAndTokenHashes(t *testing.T) {
	r, _ := load(t, testNow)
	creds := Credentials()
	if creds[0].UserID != AdminID || creds[0].Token != AdminToken || creds[0].Username != "admin" {
		t.Errorf("first credential = %+v, want the admin", creds[0])
	}
	if len(r.tokens) != len(creds) {
		t.Errorf("%d tokens for %d credentials", len(r.tokens), len(creds))
	}
	for _, c := range creds {
		u, ok := r.users[c.UserID]
		if !ok || u.Username != c.Username || c.Note == "" {
			t.Errorf("credential %s does not match a user (%+v)", c.Username, u)
		}
		sum := sha256.Sum256([]byte(c.Token))
		tok, ok := r.tokens[base64.StdEncoding.EncodeToString(sum[:])]
		if !ok || tok.UserID != c.UserID {
			t.Errorf("no token hash for %s", c.Username)
		}
		if tok.Type != chat.TokenPersonal {
			t.Errorf("token of %s is %q, want a personal access token", c.Username, tok.Type)
		}
		if !tok.CreatedAt.Equal(testNow.Truncate(time.Millisecond)) || tok.CreatedAt.Location() != time.UTC {
			t.Errorf("token of %s created %s, want now in UTC", c.Username, tok.CreatedAt)
		}
	}
	for h := range r.tokens {
		raw, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(raw) != sha256.Size {
			t.Errorf("token hash %q is not base64(sha256)", h)
		}
	}
	if _, ok := r.tokens[export.HashToken(Credentials()[4].Token)]; !ok || r.users[DaveID].Active {
		t.Error("the deactivated user should have a token")
	}

	// No plaintext token anywhere: encode the whole workspace and look.
	var seed bytes.Buffer
	if _, err := Load(context.Background(), workspace.NewEncoder(&seed), workspace.NewEncoder(&seed), testNow); err != nil {
		t.Fatal(err)
	}
	for _, c := range creds {
		if bytes.Contains(seed.Bytes(), []byte(c.Token)) {
			t.Errorf("the plaintext token of %s is stored", c.Username)
		}
	}
}

func TestDeterministicAndIdempotent(t *testing.T) {
	a, sa := load(t, testNow)
	b, sb := load(t, testNow)
	if !reflect.DeepEqual(a.state(), b.state()) || sa != sb {
		t.Fatal("two loads differ")
	}

	// Loading twice into one store equals loading once.
	twice := newRecorder()
	for range 2 {
		if _, err := Load(context.Background(), twice, twice, testNow); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(a.state(), twice.state()) {
		t.Error("loading twice differs from loading once")
	}

	// A later now changes token creation times and nothing else.
	later, _ := load(t, testNow.Add(48*time.Hour))
	for h, tok := range later.tokens {
		tok.CreatedAt = a.tokens[h].CreatedAt
		later.tokens[h] = tok
	}
	if !reflect.DeepEqual(a.state(), later.state()) {
		t.Error("something other than token times depends on now")
	}
}

func TestFiles(t *testing.T) {
	r, _ := load(t, testNow)
	if len(r.uploads) < 5 {
		t.Fatalf("%d uploads, want at least 5", len(r.uploads))
	}
	types := map[string]bool{}
	for id, u := range r.uploads {
		b, ok := r.blobs[u.StorageKey]
		if u.StorageKey != "uploads/"+id || !ok {
			t.Errorf("upload %s: storage key %q, blob found %v", id, u.StorageKey, ok)
			continue
		}
		if int64(len(b.data)) != u.Size || b.contentType != u.Type || u.Size == 0 {
			t.Errorf("upload %s: size %d/%d, type %q/%q", id, u.Size, len(b.data), u.Type, b.contentType)
		}
		if _, ok := r.rooms[u.RoomID]; !ok {
			t.Errorf("upload %s in unknown room %s", id, u.RoomID)
		}
		types[u.Type] = true
		if err := validFile(u.Type, b.data); err != nil {
			t.Errorf("upload %s (%s): %v", u.Name, u.Type, err)
		}
	}
	for _, want := range []string{"image/png", "text/plain", "text/csv", "application/pdf", "application/json"} {
		if !types[want] {
			t.Errorf("no %s upload", want)
		}
	}
	if len(r.blobs) != len(r.uploads) {
		t.Errorf("%d blobs for %d uploads", len(r.blobs), len(r.uploads))
	}

	referenced := map[string]bool{}
	multi := false
	for _, m := range r.msgs {
		fs := m.AllFiles()
		if len(fs) == 0 {
			continue
		}
		multi = multi || len(m.Files) > 1
		if m.File == nil || *m.File != m.Files[0] {
			t.Errorf("message %s: file is not files[0]", m.ID)
		}
		for i, f := range fs {
			u, ok := r.uploads[f.ID]
			if !ok || u.Name != f.Name || u.Size != f.Size || u.Type != f.Type || u.RoomID != m.RoomID {
				t.Errorf("message %s refers to upload %s inconsistently", m.ID, f.ID)
			}
			referenced[f.ID] = true
			if i >= len(m.Attachments) || m.Attachments[i].Type != "file" || !strings.HasPrefix(m.Attachments[i].TitleLink, "/file-upload/"+f.ID+"/") {
				t.Errorf("message %s lacks a file attachment for %s", m.ID, f.ID)
			}
		}
	}
	if len(referenced) != len(r.uploads) || !multi {
		t.Errorf("%d of %d uploads referenced; a message with several files: %v", len(referenced), len(r.uploads), multi)
	}
	unsafe := false
	for _, u := range r.uploads {
		unsafe = unsafe || strings.Contains(u.Name, "../")
	}
	if !unsafe {
		t.Error("no upload with a path-traversal name")
	}
}

// validFile checks the bytes really are a file of that type.
func validFile(contentType string, data []byte) error {
	switch contentType {
	case "image/png":
		_, err := png.Decode(bytes.NewReader(data))
		return err
	case "application/json":
		if !json.Valid(data) {
			return errors.New("invalid JSON")
		}
	case "text/csv":
		rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil {
			return err
		}
		if len(rows) < 2 {
			return errors.New("no data rows")
		}
	case "application/pdf":
		return validPDF(data)
	case "text/plain", "text/markdown":
		if !strings.HasSuffix(string(data), "\n") || strings.ContainsRune(string(data), unicode.ReplacementChar) {
			return errors.New("not a text file")
		}
	default:
		return fmt.Errorf("unexpected type")
	}
	return nil
}

// validPDF checks the header, the trailer and that every xref offset points
// at its object.
func validPDF(data []byte) error {
	s := string(data)
	if !strings.HasPrefix(s, "%PDF-1.") || !strings.HasSuffix(s, "%%EOF\n") {
		return errors.New("no PDF header or trailer")
	}
	i := strings.LastIndex(s, "startxref\n")
	end := strings.Index(s[i+10:], "\n")
	xref, err := strconv.Atoi(s[i+10 : i+10+end])
	if err != nil || !strings.HasPrefix(s[xref:], "xref\n") {
		return fmt.Errorf("startxref does not point at the xref table")
	}
	lines := strings.Split(s[xref:], "\n")
	n, _ := strconv.Atoi(strings.Fields(lines[1])[1])
	for obj := 1; obj < n; obj++ {
		off, err := strconv.Atoi(lines[2+obj][:10])
		if err != nil || !strings.HasPrefix(s[off:], fmt.Sprintf("%d 0 obj", obj)) {
			return fmt.Errorf("xref entry %d is wrong", obj)
		}
	}
	return nil
}

func TestSeedFileRoundTrip(t *testing.T) {
	want, _ := load(t, testNow)
	var seed bytes.Buffer
	enc := workspace.NewEncoder(&seed)
	if _, err := Load(context.Background(), enc, enc, testNow); err != nil {
		t.Fatal(err)
	}
	got := newRecorder()
	files := &memFiles{objects: map[string]blob{}}
	counts, err := workspace.Load(context.Background(), &seed, got, files)
	if err != nil {
		t.Fatal(err)
	}
	got.blobs = files.objects
	if !reflect.DeepEqual(want.state(), got.state()) {
		t.Error("the seed file does not load back to the demo workspace")
	}
	if counts.Messages != len(want.msgs) || counts.Blobs != len(want.blobs) {
		t.Errorf("counts = %v", counts)
	}
}

// TestFileBlobsAdapter loads the demo's files through workspace.FileBlobs.
func TestFileBlobsAdapter(t *testing.T) {
	want, _ := load(t, testNow)
	files := &memFiles{objects: map[string]blob{}}
	if _, err := Load(context.Background(), newRecorder(), workspace.FileBlobs{Files: files}, testNow); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(files.objects, want.blobs) {
		t.Error("files written through FileBlobs differ")
	}
}

func TestLoadReportsSinkErrors(t *testing.T) {
	boom := errors.New("boom")
	_, err := Load(context.Background(), failingSink{newRecorder(), boom}, newRecorder(), testNow)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "demo: put messages") {
		t.Errorf("err = %v", err)
	}
	_, err = Load(context.Background(), newRecorder(), workspace.FileBlobs{}, testNow)
	if err == nil || !strings.Contains(err.Error(), "demo: put file") {
		t.Errorf("err = %v", err)
	}
}

type failingSink struct {
	*recorder
	err error
}

func (f failingSink) PutMessages(context.Context, []chat.Message) error { return f.err }

// memFiles is a minimal export.FileStore.
type memFiles struct{ objects map[string]blob }

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

func (w *memWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }
func (w *memWriter) Commit() error {
	w.f.objects[w.key] = blob{w.info.ContentType, bytes.Clone(w.buf.Bytes())}
	return nil
}
func (w *memWriter) Abort() error { return nil }

func (f *memFiles) Create(_ context.Context, key string, info export.ObjectInfo) (export.ObjectWriter, error) {
	return &memWriter{f: f, key: key, info: info}, nil
}
func (f *memFiles) Open(_ context.Context, key string) (io.ReadCloser, error) {
	b, ok := f.objects[key]
	if !ok {
		return nil, chat.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b.data)), nil
}
func (f *memFiles) Delete(_ context.Context, key string) error { delete(f.objects, key); return nil }
func (f *memFiles) PresignGet(context.Context, string, string, time.Duration) (string, error) {
	return "", errors.New("mem: no presigning")
}

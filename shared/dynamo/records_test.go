package dynamo

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

var _ export.RecordReader = (*Store)(nil)

// TestReadRecords: one BatchGetItem answers every kind of record as its own
// method does — found, not found, not keyable — in the order asked, with a
// key asked twice read once.
func TestReadRecords(t *testing.T) {
	ctx := t.Context()
	rec := newRecorder(client)
	now := time.Now()
	s := NewWith(rec, freshTables(t), Options{Now: func() time.Time { return now }})
	when := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PutUsers(ctx, []chat.User{{ID: "u1", Username: "alice", Roles: []string{"user"}}}))
	must(s.PutTokens(ctx, []chat.Token{{Hash: "h1", UserID: "u1", CreatedAt: when}}))
	must(s.PutPermissions(ctx, []chat.Permission{{ID: "mail-messages", Roles: []string{"admin"}}, {ID: "nobody", Roles: nil}}))
	must(s.PutRooms(ctx, []chat.Room{{ID: "r1", Type: "c", Name: "general"}}))
	must(s.PutSubscriptions(ctx, []chat.Subscription{{RoomID: "r1", UserID: "u1", Roles: []string{"owner"}}}))

	keys := []export.RecordKey{
		{Kind: export.RecordUser, ID: "u1"},
		{Kind: export.RecordToken, ID: "h1"},
		{Kind: export.RecordPermission, ID: "mail-messages"},
		{Kind: export.RecordPermission, ID: "nobody"},
		{Kind: export.RecordRoom, ID: "r1"},
		{Kind: export.RecordSubscription, ID: "r1", User: "u1"},
		{Kind: export.RecordUser, ID: "u1"},                      // again
		{Kind: export.RecordRoom, ID: "missing"},                 // not stored
		{Kind: export.RecordSubscription, ID: "r1", User: "u2"},  // not stored
		{Kind: export.RecordUser, ID: strings.Repeat("x", 2000)}, // cannot be a key
		{Kind: export.RecordKind(99), ID: "u1"},
	}
	before := rec.count("BatchGetItem")
	got := s.ReadRecords(ctx, keys)
	if n := rec.count("BatchGetItem") - before; n != 1 || rec.count("GetItem") != 0 {
		t.Errorf("%d BatchGetItem and %d GetItem calls, want one BatchGetItem", n, rec.count("GetItem"))
	}
	if len(got) != len(keys) {
		t.Fatalf("%d results for %d keys", len(got), len(keys))
	}

	// what the single-record methods answer
	u, uerr := s.UserByID(ctx, "u1")
	tok, terr := s.TokenByHash(ctx, "h1")
	roles, perr := s.PermissionRoles(ctx, "mail-messages")
	none, nerr := s.PermissionRoles(ctx, "nobody")
	room, rerr := s.Room(ctx, "r1")
	sub, serr := s.Subscription(ctx, "r1", "u1")
	if err := errors.Join(uerr, terr, perr, nerr, rerr, serr); err != nil {
		t.Fatal(err)
	}
	for i, want := range []export.RecordResult{{User: u}, {Token: tok}, {Roles: roles}, {Roles: none}, {Room: room}, {Sub: sub}, {User: u}} {
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("key %d (%+v): %+v, want %+v", i, keys[i], got[i], want)
		}
	}
	if got[3].Roles == nil {
		t.Error("a permission granting no role: nil roles, want an empty list as PermissionRoles gives")
	}
	for i := 7; i <= 9; i++ {
		if !errors.Is(got[i].Err, chat.ErrNotFound) {
			t.Errorf("key %d (%.40v): %v, want not found", i, keys[i], got[i].Err)
		}
	}
	if got[10].Err == nil || errors.Is(got[10].Err, chat.ErrNotFound) {
		t.Errorf("unknown kind: %v, want an error other than not found", got[10].Err)
	}
	if u.ID != "u1" || tok.UserID != "u1" || len(roles) != 1 || room.Name != "general" || len(sub.Roles) != 1 {
		t.Errorf("seeded records read back wrong: %+v %+v %v %+v %+v", u, tok, roles, room, sub)
	}
}

// TestReadRecordsCanceled: a failed batch is every asked record's error,
// and it does not carry the keys (a token hash must not reach the log).
func TestReadRecordsCanceled(t *testing.T) {
	now := time.Now()
	s, _ := openAt(t, &now)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	got := s.ReadRecords(ctx, []export.RecordKey{{Kind: export.RecordToken, ID: "secret-hash"}, {Kind: export.RecordRoom, ID: "r1"}})
	for i, r := range got {
		if r.Err == nil || errors.Is(r.Err, chat.ErrNotFound) {
			t.Errorf("result %d: %v, want the batch's error", i, r.Err)
		} else if strings.Contains(r.Err.Error(), "secret-hash") {
			t.Errorf("result %d's error names the token hash: %v", i, r.Err)
		}
	}
}

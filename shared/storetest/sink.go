package storetest

import (
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// dbWorkspace is a small workspace: what a seed file holds.
type dbWorkspace struct {
	users  []chat.User
	tokens []chat.Token
	perms  []chat.Permission
	rooms  []chat.Room
	subs   []chat.Subscription
	msgs   []chat.Message
	ups    []chat.Upload
}

func dbSampleWorkspace() dbWorkspace {
	return dbWorkspace{
		users: []chat.User{
			{ID: "u1", Username: "alice", Name: "Alice", Emails: []string{"alice@example.com"}, Roles: []string{"admin"}, Active: true},
			{ID: "u2", Username: "bob", Roles: []string{"user"}, Active: true},
		},
		tokens: []chat.Token{{Hash: "dG9rZW4tMQ==", UserID: "u1", CreatedAt: dbAt(-time.Hour), Type: chat.TokenLogin}},
		perms:  []chat.Permission{{ID: "mail-messages", Roles: []string{"admin"}}},
		rooms:  []chat.Room{{ID: "GENERAL", Type: chat.RoomChannel, Name: "general"}, {ID: "p1", Type: chat.RoomGroup, Name: "secret"}},
		subs:   []chat.Subscription{{RoomID: "GENERAL", UserID: "u1"}, {RoomID: "p1", UserID: "u2", Roles: []string{"owner"}}},
		msgs: []chat.Message{
			dbMsg("m1", "GENERAL", dbAt(time.Minute)), dbMsg("m2", "GENERAL", dbAt(time.Minute)),
			dbHidden("m2old", "GENERAL", dbAt(time.Minute)), dbMsg("m3", "GENERAL", dbAt(2*time.Minute+time.Microsecond)),
			dbMsg("p1m1", "p1", dbAt(time.Minute)),
		},
		ups: []chat.Upload{{ID: "f1", RoomID: "GENERAL", Name: "a.txt", Size: 3, StorageKey: "uploads/f1"}},
	}
}

// dbLoad puts the whole workspace through the Sink, one call per kind.
func dbLoad(t *testing.T, s Store, w dbWorkspace) {
	t.Helper()
	ctx := t.Context()
	dbMust(t, s.PutUsers(ctx, w.users), "PutUsers")
	dbMust(t, s.PutTokens(ctx, w.tokens), "PutTokens")
	dbMust(t, s.PutPermissions(ctx, w.perms), "PutPermissions")
	dbMust(t, s.PutRooms(ctx, w.rooms), "PutRooms")
	dbMust(t, s.PutSubscriptions(ctx, w.subs), "PutSubscriptions")
	dbMust(t, s.PutMessages(ctx, w.msgs), "PutMessages")
	dbMust(t, s.PutUploads(ctx, w.ups), "PutUploads")
}

// dbCheckWorkspace reads every record of w back.
func dbCheckWorkspace(t *testing.T, s Store, w dbWorkspace) {
	t.Helper()
	ctx := t.Context()
	for _, u := range w.users {
		got, err := s.UserByUsername(ctx, u.Username)
		dbMust(t, err, "UserByUsername "+u.Username)
		dbEqual(t, "UserByUsername "+u.Username, got, u)
	}
	for _, tok := range w.tokens {
		got, err := s.TokenByHash(ctx, tok.Hash)
		dbMust(t, err, "TokenByHash")
		if got.UserID != tok.UserID || !got.CreatedAt.Equal(tok.CreatedAt) {
			t.Errorf("TokenByHash: got user %s created %v, want %s %v", got.UserID, got.CreatedAt, tok.UserID, tok.CreatedAt)
		}
	}
	for _, p := range w.perms {
		roles, err := s.PermissionRoles(ctx, p.ID)
		dbMust(t, err, "PermissionRoles "+p.ID)
		dbEqual(t, "PermissionRoles "+p.ID, roles, p.Roles)
	}
	for _, r := range w.rooms {
		got, err := s.Room(ctx, r.ID)
		dbMust(t, err, "Room "+r.ID)
		dbEqual(t, "Room "+r.ID, got, r)
		var msgs []chat.Message
		for _, m := range w.msgs {
			if m.RoomID == r.ID {
				msgs = append(msgs, m)
			}
		}
		want := dbSorted(msgs)
		page, more := dbPage(t, s, export.MessageQuery{RoomID: r.ID, From: dbAt(-time.Hour), To: dbAt(time.Hour), Limit: 100})
		dbSameMessages(t, "messages of "+r.ID, page, want)
		if more {
			t.Errorf("messages of %s: more = true, want false", r.ID)
		}
		if n := dbCount(t, s, r.ID, dbAt(-time.Hour), dbAt(time.Hour)); n != int64(len(want)) {
			t.Errorf("CountMessages %s = %d, want %d", r.ID, n, len(want))
		}
	}
	for _, sub := range w.subs {
		got, err := s.Subscription(ctx, sub.RoomID, sub.UserID)
		dbMust(t, err, "Subscription")
		dbEqual(t, "Subscription", got, sub)
	}
	for _, up := range w.ups {
		got, err := s.Upload(ctx, up.ID)
		dbMust(t, err, "Upload "+up.ID)
		dbEqual(t, "Upload "+up.ID, got, up)
	}
}

// dbSinkSuite checks workspace.Sink: Puts are upserts, so loading a seed
// twice leaves the store as loading it once.
func dbSinkSuite(t *testing.T, open func(t *testing.T) Store) {
	t.Run("LoadTwice", func(t *testing.T) {
		s := open(t)
		w := dbSampleWorkspace()
		dbLoad(t, s, w)
		dbCheckWorkspace(t, s, w)
		dbLoad(t, s, w)
		dbCheckWorkspace(t, s, w)
	})

	t.Run("EmptyBatches", func(t *testing.T) {
		s := open(t)
		dbLoad(t, s, dbWorkspace{})
		_, err := s.UserByID(t.Context(), "u1")
		dbWantNotFound(t, err, "UserByID after loading nothing")
	})

	t.Run("ReloadReplaces", func(t *testing.T) {
		s := open(t)
		w := dbSampleWorkspace()
		dbLoad(t, s, w)
		// a second export of the same workspace, taken later: edits replace
		w.users[1].Username = "robert"
		w.rooms[0].FName = "General"
		w.perms[0].Roles = []string{"admin", "owner"}
		w.msgs[0].Msg = "edited"
		w.msgs[3].TS = dbAt(-time.Minute)
		dbLoad(t, s, w)
		dbCheckWorkspace(t, s, w)
		_, err := s.UserByUsername(t.Context(), "bob")
		dbWantNotFound(t, err, "UserByUsername of the old name")
	})
}

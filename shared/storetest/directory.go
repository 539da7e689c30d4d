package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// dbDirectorySuite checks export.Directory over records loaded through the
// Sink: every lookup Rocket.Chat's rooms.export makes (users by id and
// username, login tokens, permissions, rooms, subscriptions, uploads).
func dbDirectorySuite(t *testing.T, open func(t *testing.T) Store) {
	t.Run("Users", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		alice := chat.User{ID: "u1", Username: "alice", Name: "Alice Liddell", Emails: []string{"alice@example.com", "a2@example.com"},
			Roles: []string{"user", "admin"}, Active: true, Language: "en"}
		bob := chat.User{ID: "u2", Username: "bob", Roles: []string{"user"}}
		dbMust(t, s.PutUsers(ctx, []chat.User{alice, bob}), "PutUsers")

		got, err := s.UserByID(ctx, "u1")
		dbMust(t, err, "UserByID u1")
		dbEqual(t, "UserByID u1", got, alice)
		got, err = s.UserByUsername(ctx, "bob")
		dbMust(t, err, "UserByUsername bob")
		dbEqual(t, "UserByUsername bob", got, bob)

		_, err = s.UserByID(ctx, "nobody")
		dbWantNotFound(t, err, "UserByID unknown")
		_, err = s.UserByUsername(ctx, "carol")
		dbWantNotFound(t, err, "UserByUsername unknown")
		_, err = s.UserByUsername(ctx, "Alice")
		dbWantNotFound(t, err, "UserByUsername is an exact match")
		_, err = s.UserByUsername(ctx, "u1")
		dbWantNotFound(t, err, "UserByUsername with an id")
	})

	t.Run("UserRename", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		dbMust(t, s.PutUsers(ctx, []chat.User{{ID: "u1", Username: "alice", Active: true}}), "PutUsers")
		renamed := chat.User{ID: "u1", Username: "alicia", Name: "Alicia", Active: true}
		dbMust(t, s.PutUsers(ctx, []chat.User{renamed}), "PutUsers rename")

		_, err := s.UserByUsername(ctx, "alice")
		dbWantNotFound(t, err, "UserByUsername old name")
		got, err := s.UserByUsername(ctx, "alicia")
		dbMust(t, err, "UserByUsername new name")
		dbEqual(t, "UserByUsername new name", got, renamed)
		got, err = s.UserByID(ctx, "u1")
		dbMust(t, err, "UserByID after rename")
		dbEqual(t, "UserByID after rename", got, renamed)
	})

	t.Run("UserSwapNames", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		dbMust(t, s.PutUsers(ctx, []chat.User{{ID: "u1", Username: "x"}, {ID: "u2", Username: "y"}}), "PutUsers")
		// one batch in which two users trade names
		dbMust(t, s.PutUsers(ctx, []chat.User{{ID: "u1", Username: "y"}, {ID: "u2", Username: "x"}}), "PutUsers swap")
		for name, id := range map[string]string{"x": "u2", "y": "u1"} {
			got, err := s.UserByUsername(ctx, name)
			dbMust(t, err, "UserByUsername "+name)
			if got.ID != id {
				t.Errorf("UserByUsername(%q).ID = %q, want %q", name, got.ID, id)
			}
		}
	})

	t.Run("Tokens", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		login := chat.Token{Hash: "aGFzaC1vbmU=", UserID: "u1", CreatedAt: time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC), Type: chat.TokenLogin}
		pat := chat.Token{Hash: "aGFzaC10d28=", UserID: "u2", CreatedAt: dbAt(0), Type: chat.TokenPersonal, Name: "ci"}
		dbMust(t, s.PutTokens(ctx, []chat.Token{login, pat}), "PutTokens")
		for _, want := range []chat.Token{login, pat} {
			got, err := s.TokenByHash(ctx, want.Hash)
			dbMust(t, err, "TokenByHash")
			got.CreatedAt, want.CreatedAt = dbUTC(got.CreatedAt), dbUTC(want.CreatedAt)
			dbEqual(t, "TokenByHash", got, want)
		}
		_, err := s.TokenByHash(ctx, "bm9wZQ==")
		dbWantNotFound(t, err, "TokenByHash unknown")
	})

	t.Run("Permissions", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		dbMust(t, s.PutPermissions(ctx, []chat.Permission{
			{ID: "mail-messages", Roles: []string{"admin"}},
			{ID: "view-c-room", Roles: []string{"admin", "user", "bot", "app"}},
			{ID: "api-bypass-rate-limit", Roles: []string{}},
		}), "PutPermissions")
		roles, err := s.PermissionRoles(ctx, "view-c-room")
		dbMust(t, err, "PermissionRoles view-c-room")
		dbEqual(t, "PermissionRoles view-c-room", roles, []string{"admin", "user", "bot", "app"})
		roles, err = s.PermissionRoles(ctx, "api-bypass-rate-limit")
		dbMust(t, err, "PermissionRoles with no roles")
		if len(roles) != 0 {
			t.Errorf("PermissionRoles with no roles = %v, want none", roles)
		}
		_, err = s.PermissionRoles(ctx, "no-such-permission")
		dbWantNotFound(t, err, "PermissionRoles unknown")

		// permissions are data, editable without a deploy: an upsert replaces the roles
		dbMust(t, s.PutPermissions(ctx, []chat.Permission{{ID: "mail-messages", Roles: []string{"admin", "owner"}}}), "PutPermissions edit")
		roles, err = s.PermissionRoles(ctx, "mail-messages")
		dbMust(t, err, "PermissionRoles after edit")
		dbEqual(t, "PermissionRoles after edit", roles, []string{"admin", "owner"})
	})

	t.Run("Rooms", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		general := chat.Room{ID: "GENERAL", Type: chat.RoomChannel, Name: "general", FName: "General", Topic: "all", TeamID: "team1"}
		discussion := chat.Room{ID: "disc1", Type: chat.RoomGroup, Name: "disc", ParentID: "GENERAL"}
		dm := chat.Room{ID: "u1u2", Type: chat.RoomDirect, Usernames: []string{"alice", "bob"}}
		dbMust(t, s.PutRooms(ctx, []chat.Room{general, discussion, dm}), "PutRooms")
		for _, want := range []chat.Room{general, discussion, dm} {
			got, err := s.Room(ctx, want.ID)
			dbMust(t, err, "Room "+want.ID)
			dbEqual(t, "Room "+want.ID, got, want)
		}
		_, err := s.Room(ctx, "nope")
		dbWantNotFound(t, err, "Room unknown")

		general.FName = "General chat"
		dbMust(t, s.PutRooms(ctx, []chat.Room{general}), "PutRooms rename")
		got, err := s.Room(ctx, "GENERAL")
		dbMust(t, err, "Room after rename")
		dbEqual(t, "Room after rename", got, general)
	})

	t.Run("Subscriptions", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		owner := chat.Subscription{RoomID: "r1", UserID: "u1", Roles: []string{"owner", "moderator"}}
		member := chat.Subscription{RoomID: "r1", UserID: "u2"}
		other := chat.Subscription{RoomID: "r2", UserID: "u2", Roles: []string{"leader"}}
		dbMust(t, s.PutSubscriptions(ctx, []chat.Subscription{owner, member, other}), "PutSubscriptions")
		for _, want := range []chat.Subscription{owner, member, other} {
			got, err := s.Subscription(ctx, want.RoomID, want.UserID)
			dbMust(t, err, "Subscription "+want.RoomID+"/"+want.UserID)
			dbEqual(t, "Subscription "+want.RoomID+"/"+want.UserID, got, want)
		}
		_, err := s.Subscription(ctx, "r2", "u1")
		dbWantNotFound(t, err, "Subscription of a non-member")
		_, err = s.Subscription(ctx, "r3", "u2")
		dbWantNotFound(t, err, "Subscription to an unknown room")
		_, err = s.Subscription(ctx, "u1", "r1")
		dbWantNotFound(t, err, "Subscription with swapped ids")
	})

	t.Run("Uploads", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		up := chat.Upload{ID: "f1", RoomID: "r1", Name: "report.pdf", Type: "application/pdf", Size: 12345, StorageKey: "uploads/r1/f1"}
		dbMust(t, s.PutUploads(ctx, []chat.Upload{up}), "PutUploads")
		got, err := s.Upload(ctx, "f1")
		dbMust(t, err, "Upload f1")
		dbEqual(t, "Upload f1", got, up)
		_, err = s.Upload(ctx, "f2")
		dbWantNotFound(t, err, "Upload unknown")
	})

	t.Run("UploadsBatch", func(t *testing.T) { dbUploadsBatch(t, open(t)) })
}

// dbUploadsBatch checks Directory.Uploads, the export's lookup of a page of
// files: found records as Upload returns them, unknown ids (and ids that
// cannot be keys) absent rather than errors, duplicates harmless, and more
// ids than one DynamoDB BatchGetItem takes (100).
func dbUploadsBatch(t *testing.T, s Store) {
	ctx := t.Context()
	for _, ids := range [][]string{nil, {}} {
		got, err := s.Uploads(ctx, ids)
		dbMust(t, err, "Uploads of no ids")
		if got == nil || len(got) != 0 {
			t.Errorf("Uploads(%#v) = %#v, want an empty map", ids, got)
		}
	}

	const n = 250
	ups := make([]chat.Upload, n)
	for i := range ups {
		ups[i] = chat.Upload{ID: fmt.Sprintf("up%03d", i), RoomID: "r1", Name: fmt.Sprintf("file %d.txt", i),
			Type: "text/plain", Size: int64(i) * 1000, StorageKey: fmt.Sprintf("uploads/r1/up%03d", i)}
	}
	// the optional fields left out, a name beyond ASCII, a size past 2^53
	ups[7] = chat.Upload{ID: "up007", Name: "ünïcødé 📎.png", StorageKey: "k7"}
	ups[8].Size = 1<<62 + 1
	dbMust(t, s.PutUploads(ctx, ups), "PutUploads")

	got, err := s.Uploads(ctx, []string{"missing"})
	dbMust(t, err, "Uploads of an unknown id")
	if len(got) != 0 {
		t.Errorf("Uploads of an unknown id = %+v, want an empty map", got)
	}

	// every id, last first, with unknown ids, duplicates and ids no store
	// can hold in between
	var ids []string
	want := make(map[string]chat.Upload, n)
	for i := n - 1; i >= 0; i-- {
		ids = append(ids, ups[i].ID)
		want[ups[i].ID] = ups[i]
		switch i % 25 {
		case 0:
			ids = append(ids, fmt.Sprintf("nope%03d", i), ups[i].ID)
		case 1:
			ids = append(ids, ups[i].ID+"x", "")
		}
	}
	ids = append(ids, "up\x00001", "up000")
	got, err = s.Uploads(ctx, ids)
	dbMust(t, err, "Uploads")
	if len(got) != n {
		t.Errorf("Uploads of %d ids (%d distinct uploads) = %d records, want %d", len(ids), n, len(got), n)
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("Uploads: %s missing", id)
			continue
		}
		dbEqual(t, "Uploads["+id+"]", g, w)
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("Uploads: unexpected id %q", id)
		}
	}

	// a batch reads what Upload reads, after an upsert too
	ups[3].Name = "renamed.txt"
	dbMust(t, s.PutUploads(ctx, ups[3:4]), "PutUploads again")
	got, err = s.Uploads(ctx, []string{"up003", "up004"})
	dbMust(t, err, "Uploads after an upsert")
	for _, id := range []string{"up003", "up004"} {
		one, err := s.Upload(ctx, id)
		dbMust(t, err, "Upload "+id)
		dbEqual(t, "Uploads and Upload of "+id, got[id], one)
	}
	dbEqual(t, "Uploads after an upsert", got["up003"], ups[3])
}

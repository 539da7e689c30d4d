package storetest

import (
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
}

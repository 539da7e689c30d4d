package gateway

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// The test workspace. Callers of the authorisation matrix are named
// <kind><subscribed>: A = admin, U = plain user, O = user who owns the rooms
// (subscription role "owner"; mail-messages is granted to admin and owner).
var testRooms = []chat.Room{
	{ID: "chan", Type: chat.RoomChannel, Name: "town-square"},
	{ID: "grp", Type: chat.RoomGroup, Name: "secret"},
	{ID: "dm", Type: chat.RoomDirect},
	{ID: "disc-p", Type: chat.RoomGroup, Name: "disc-of-group", ParentID: "grp"},
	{ID: "disc-c", Type: chat.RoomGroup, Name: "disc-of-channel", ParentID: "chan"},
}

func tokenOf(uid string) string { return "token-of-" + uid }

func seed(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	s := w.stack.Store
	var users []chat.User
	var tokens []chat.Token
	var subs []chat.Subscription
	add := func(u chat.User, tokType string, created time.Time) {
		users = append(users, u)
		tokens = append(tokens, chat.Token{Hash: export.HashToken(tokenOf(u.ID)), UserID: u.ID, CreatedAt: created, Type: tokType})
	}
	recent := w.now.Add(-24 * time.Hour)
	for _, kind := range []string{"A", "U", "O"} {
		for _, sub := range []string{"0", "1"} {
			roles := []string{"user"}
			if kind == "A" {
				roles = []string{"admin", "user"}
			}
			id := kind + sub
			add(chat.User{ID: id, Username: "user-" + id, Name: "User " + id, Emails: []string{id + "@example.com"}, Roles: roles, Active: true}, chat.TokenLogin, recent)
			if sub == "1" {
				for _, rid := range []string{"chan", "grp", "dm"} {
					s := chat.Subscription{RoomID: rid, UserID: id}
					if kind == "O" {
						s.Roles = []string{"owner"}
					}
					subs = append(subs, s)
				}
			}
		}
	}
	add(chat.User{ID: "inactive", Username: "gone", Roles: []string{"admin"}, Active: false}, chat.TokenPersonal, recent)
	add(chat.User{ID: "stale", Username: "stale", Roles: []string{"admin"}, Active: true}, chat.TokenLogin, w.now.Add(-91*24*time.Hour))
	add(chat.User{ID: "pat", Username: "pat", Roles: []string{"admin"}, Active: true, Emails: []string{"pat@example.com"}}, chat.TokenPersonal, w.now.Add(-900*24*time.Hour))
	add(chat.User{ID: "noemail", Username: "noemail", Roles: []string{"admin"}, Active: true}, chat.TokenPersonal, recent)
	users = append(users,
		chat.User{ID: "bob", Username: "bob", Emails: []string{"bob@example.com"}, Active: true, Roles: []string{"user"}},
		chat.User{ID: "mute", Username: "mute", Active: true, Roles: []string{"user"}},
		chat.User{ID: "badmail", Username: "badmail", Emails: []string{"not an address"}, Active: true, Roles: []string{"user"}})
	for _, uid := range []string{"inactive", "stale", "pat", "noemail"} {
		for _, r := range testRooms {
			subs = append(subs, chat.Subscription{RoomID: r.ID, UserID: uid})
		}
	}
	must(t, s.PutUsers(ctx, users))
	must(t, s.PutTokens(ctx, tokens))
	must(t, s.PutRooms(ctx, testRooms))
	must(t, s.PutSubscriptions(ctx, subs))
	must(t, s.PutPermissions(ctx, []chat.Permission{{ID: export.PermMailMessages, Roles: []string{"admin", "owner"}}}))
	var msgs []chat.Message
	for _, r := range testRooms {
		for i := range 3 {
			msgs = append(msgs, chat.Message{
				ID: fmt.Sprintf("%s-m%d", r.ID, i), RoomID: r.ID, Msg: fmt.Sprintf("hello %d in %s", i, r.ID),
				TS: time.Date(2021, 3, 1+i, 10, 0, 0, 0, time.UTC), U: chat.UserRef{ID: "A1", Username: "user-A1"},
			})
		}
	}
	must(t, s.PutMessages(ctx, msgs))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

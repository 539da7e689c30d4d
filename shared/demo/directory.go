package demo

import (
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// users is the demo directory. Six authors have non-ASCII names (Latin with
// diacritics, CJK, Arabic, Hebrew), dave is deactivated, eve has no address,
// and rocket.cat is Rocket.Chat's bot.
func users() []chat.User {
	return []chat.User{
		{ID: AdminID, Username: "admin", Name: "Administrator", Emails: []string{"admin@example.com"}, Roles: []string{"admin", "user"}, Active: true, Language: "en"},
		{ID: AliceID, Username: "alice", Name: "Alice Martin", Emails: []string{"alice@example.com"}, Roles: []string{"user"}, Active: true, Language: "en"},
		{ID: BobID, Username: "bob", Name: "Bob Kowalski", Emails: []string{"bob@example.com", "bob.kowalski@example.net"}, Roles: []string{"user"}, Active: true, Language: "pl"},
		{ID: "Jjt5dRSjMe4tMmNTe", Username: "zoe", Name: "Zoë Ångström", Emails: []string{"zoe@example.org"}, Roles: []string{"user"}, Active: true, Language: "sv"},
		{ID: "ZoRsTkpPHLGWqN8mG", Username: "lilei", Name: "李雷", Emails: []string{"li.lei@example.cn"}, Roles: []string{"user"}, Active: true, Language: "zh"},
		{ID: "EFSGSuAKRWJ5wxnY4", Username: "orjan", Name: "Ørjan Særheim", Emails: []string{"orjan@example.no"}, Roles: []string{"user"}, Active: true, Language: "nb"},
		{ID: "7br4mqyTjJNjojdEq", Username: "amira", Name: "أميرة الحداد", Emails: []string{"amira@example.com"}, Roles: []string{"user"}, Active: true, Language: "ar"},
		{ID: "be6gZ3LZbw7SXKjS8", Username: "noa", Name: "נועה כהן", Emails: []string{"noa@example.co.il"}, Roles: []string{"user"}, Active: true, Language: "he"},
		{ID: "iCXFBDnQ3mFCbnWSH", Username: "jose", Name: "José Núñez-Müller", Emails: []string{"jose@example.es"}, Roles: []string{"user"}, Active: true, Language: "es"},
		{ID: DaveID, Username: "dave", Name: "Dave Whitaker", Emails: []string{"dave@example.com"}, Roles: []string{"user"}, Active: false, Language: "en"},
		{ID: EveID, Username: "eve", Name: "Eve Nakamura", Roles: []string{"user"}, Active: true},
		{ID: BotID, Username: "rocket.cat", Name: "Rocket.Cat", Roles: []string{"bot"}, Active: true},
	}
}

// tokens gives every demo login (Credentials) a personal access token, stored
// as its hash only.
func tokens(now time.Time) []chat.Token {
	creds := Credentials()
	out := make([]chat.Token, len(creds))
	for i, c := range creds {
		out[i] = chat.Token{
			Hash:      export.HashToken(c.Token),
			UserID:    c.UserID,
			CreatedAt: now,
			Type:      chat.TokenPersonal,
			Name:      "demo-" + c.Username,
		}
	}
	return out
}

// permissions are Rocket.Chat's defaults, except mail-messages, which also
// goes to owner (see Load).
func permissions() []chat.Permission {
	return []chat.Permission{
		{ID: "mail-messages", Roles: []string{"admin", "owner"}},
		{ID: "view-c-room", Roles: []string{"admin", "user", "bot", "app"}},
		{ID: "api-bypass-rate-limit", Roles: []string{"admin", "bot", "app"}},
	}
}

// rooms are the demo rooms. The discussion's name is an id and its fname the
// title, as Rocket.Chat creates discussions.
func rooms() []chat.Room {
	return []chat.Room{
		{ID: GeneralRoomID, Type: chat.RoomChannel, Name: "general", FName: "general", Topic: "Company-wide announcements and chatter 📣"},
		{ID: RandomRoomID, Type: chat.RoomChannel, Name: "random", FName: "random", Topic: "Anything goes ☕"},
		{ID: ProjectRoomID, Type: chat.RoomGroup, Name: "project-phoenix", FName: "project-phoenix", Topic: "Phoenix: the 2021 relaunch"},
		{ID: SecretRoomID, Type: chat.RoomGroup, Name: "hr-confidential", FName: "hr-confidential"},
		{ID: DirectRoomID, Type: chat.RoomDirect, Usernames: []string{"admin", "alice"}},
		{ID: DiscussionRoomID, Type: chat.RoomChannel, Name: DiscussionRoomID, FName: "Release 2.0 / Q&A <planning> ✨", ParentID: GeneralRoomID},
		{ID: TeamRoomID, Type: chat.RoomChannel, Name: "engineering", FName: "Engineering & Ops", TeamID: TeamID},
	}
}

// members lists each room's members by username; the first is the room's
// owner (subscription role "owner"), except in the direct message.
func members() map[string][]string {
	return map[string][]string{
		GeneralRoomID:    {"admin", "alice", "bob", "zoe", "lilei", "orjan", "amira", "noa", "jose", "dave", "eve", "rocket.cat"},
		RandomRoomID:     {"admin", "alice", "bob", "zoe", "lilei", "orjan", "jose"},
		ProjectRoomID:    {"bob", "alice", "admin"},
		SecretRoomID:     {"zoe", "alice", "noa", "amira"}, // no admin
		DirectRoomID:     {"admin", "alice"},
		DiscussionRoomID: {"admin", "alice", "zoe", "bob"},
		TeamRoomID:       {"lilei", "admin", "bob", "orjan", "jose"},
	}
}

// subscriptions follow members: the owner gets ["owner"], alice is also a
// moderator of project-phoenix (a room role that does not grant
// mail-messages), and direct-message subscriptions carry no roles.
func subscriptions(byName map[string]chat.User) []chat.Subscription {
	var out []chat.Subscription
	m := members()
	for _, r := range rooms() {
		for i, name := range m[r.ID] {
			s := chat.Subscription{RoomID: r.ID, UserID: byName[name].ID}
			switch {
			case r.Type == chat.RoomDirect:
			case i == 0:
				s.Roles = []string{"owner"}
			case r.ID == ProjectRoomID && name == "alice":
				s.Roles = []string{"moderator"}
			}
			out = append(out, s)
		}
	}
	return out
}

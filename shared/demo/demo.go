// Package demo is the demo workspace: a small Rocket.Chat workspace seeded on
// the first local run, so that rooms.export can be tried at once with the
// request of Rocket.Chat's own documentation:
//
//	curl -H "X-Auth-Token: Zu-Z6eKzIIz7MCCRGeHi29bYkXZCJ4SxFC0JAasqm92" \
//	     -H "X-User-Id: d26x6zSkaPSe5gCyy" \
//	     -H "Content-type: application/json" \
//	     http://localhost:3000/api/v1/rooms.export \
//	     -d '{"rid": "iu7jtPAhvEeAS5tNq", "type": "file", "dateFrom": "2000-01-01", "dateTo": "2021-11-25", "format": "html"}'
//
// The workspace has users with non-ASCII names, a deactivated user and one
// without an address, public channels, private groups (one the admin is not a
// member of), a direct message, a discussion and a team, and over 2,000
// messages between 2019-01-01 and 2021-11-25 (UTC) that use every feature an
// export has to render: system messages, threads, edits with their hidden
// history, reactions, uploaded files, markdown, emoji, right-to-left and CJK
// text, HTML and script tags, quotes, day boundaries and messages sharing a
// millisecond.
//
// The data is deterministic: ids are derived from names by hashing and the
// text is drawn from a fixed-seed PCG, so every load writes the same records
// and loading twice leaves a store as loading once (Sink puts are upserts).
package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// The ids and the token of Rocket.Chat's rooms.export documentation example.
const (
	AdminID       = "d26x6zSkaPSe5gCyy"
	AdminToken    = "Zu-Z6eKzIIz7MCCRGeHi29bYkXZCJ4SxFC0JAasqm92"
	GeneralRoomID = "iu7jtPAhvEeAS5tNq"
)

// Other demo users that have a login (see Credentials).
const (
	AliceID = "GT8dSBmwQvkYb3Hmm" // plain user
	BobID   = "KgdYYYxEW7HBq2eDL" // plain user, owner of the private group ProjectRoomID
	EveID   = "waut3SxdHXTp9HrkY" // plain user without an email address
	DaveID  = "Nn6JGZ9LNhddEpsEs" // deactivated user (active=false) who still has a token
	BotID   = "KeoWwA7koRtpCnjts" // rocket.cat, role bot
)

// Demo rooms.
const (
	// RandomRoomID is a second public channel ("random").
	RandomRoomID = "buFPAMu9yPHDDqjhz"
	// ProjectRoomID is a private group ("project-phoenix") owned by bob, with
	// alice and the admin as members.
	ProjectRoomID = "f2voxi7WM5aCYs4p8"
	// SecretRoomID is a private group ("hr-confidential") the admin is NOT a
	// member of: an admin gets error-not-allowed there, as in Rocket.Chat.
	SecretRoomID = "P5zQX6w8a8zwoq5Sa"
	// DirectRoomID is the direct message between alice and the admin. Its id
	// is the two user ids sorted and joined, as Rocket.Chat builds it.
	DirectRoomID = AliceID + AdminID
	// DiscussionRoomID is a discussion of the general channel (prid).
	DiscussionRoomID = "ad4vTk6W4CG7pTtja"
	// TeamRoomID is the main room of the team TeamID ("engineering").
	TeamRoomID = "rfLCZyCg4qh6TfpcN"
	// TeamID is the id of the engineering team.
	TeamID = "FaGfXASYLe3SjTwgw"
)

// Credential is one demo login: what to put in X-User-Id and X-Auth-Token,
// and what the login is good for.
type Credential struct {
	UserID   string
	Username string
	Token    string
	Note     string
}

// Credentials lists every demo login, admin first, so a server can print them
// at start. The tokens are personal access tokens (they never expire, so an
// old local data directory keeps working); the store holds only their hashes.
func Credentials() []Credential {
	return []Credential{
		{AdminID, "admin", AdminToken, "admin: may export general, random, project-phoenix and the DM with alice; not a member of hr-confidential (error-not-allowed)"},
		{AliceID, "alice", "o3m4LEy7kpU4sjgC3sDAygkmG-K4E3GZ8mG0G0L3z7s", "plain user: lacks mail-messages (error-action-not-allowed)"},
		{BobID, "bob", "D7f48KhROVh_9vVQNUONysttIYcFCHG53XgH2HU98vQ", "owner of private group project-phoenix: may export it (owner has mail-messages in the demo)"},
		{EveID, "eve", "DbnnEvEPZpEhhE7HykO71tUDZK5T7tbLzqNAplipKFE", "plain user without an email address"},
		{DaveID, "dave", "AeIzNqtZdpqgtxUGV-3elDYetkPS2T4-4OXYndvbiI8", "deactivated user: the token is refused (401)"},
		{BotID, "rocket.cat", "UWyDtMNDYRF-a22YtG6ZrmsFwa4nDDHVEM3yUi6WNMk", "bot: exempt from the rate limit (api-bypass-rate-limit), lacks mail-messages"},
	}
}

// Summary counts what Load wrote, per kind.
type Summary struct {
	workspace.Counts
}

// Load writes the demo workspace into sink and the bytes of its uploaded files
// into blobs. Blobs go first and messages last, so no record ever points at
// something not yet written. Tokens are created at now (truncated to the
// millisecond); nothing else depends on it. Loading twice writes the same
// records again, which Sink's upsert contract makes harmless.
//
// Permissions follow Rocket.Chat's defaults except mail-messages, which the
// demo grants to admin and owner (Rocket.Chat: admin only) so that bob, a
// plain user who owns a private group, can export it: that shows room-scoped
// roles at work.
func Load(ctx context.Context, sink workspace.Sink, blobs workspace.BlobSink, now time.Time) (Summary, error) {
	ws, err := build(now)
	if err != nil {
		return Summary{}, fmt.Errorf("demo: build workspace: %w", err)
	}
	var s Summary
	for _, f := range ws.files {
		if err := blobs.PutBlob(ctx, f.upload.StorageKey, f.upload.Type, f.data); err != nil {
			return s, fmt.Errorf("demo: put file %s: %w", f.upload.ID, err)
		}
		s.Blobs++
		s.BlobBytes += int64(len(f.data))
	}
	uploads := make([]chat.Upload, len(ws.files))
	for i, f := range ws.files {
		uploads[i] = f.upload
	}
	steps := []struct {
		what string
		n    *int
		put  func() error
		len  int
	}{
		{"uploads", &s.Uploads, func() error { return sink.PutUploads(ctx, uploads) }, len(uploads)},
		{"users", &s.Users, func() error { return sink.PutUsers(ctx, ws.users) }, len(ws.users)},
		{"tokens", &s.Tokens, func() error { return sink.PutTokens(ctx, ws.tokens) }, len(ws.tokens)},
		{"permissions", &s.Permissions, func() error { return sink.PutPermissions(ctx, ws.perms) }, len(ws.perms)},
		{"rooms", &s.Rooms, func() error { return sink.PutRooms(ctx, ws.rooms) }, len(ws.rooms)},
		{"subscriptions", &s.Subscriptions, func() error { return sink.PutSubscriptions(ctx, ws.subs) }, len(ws.subs)},
	}
	for _, st := range steps {
		if err := st.put(); err != nil {
			return s, fmt.Errorf("demo: put %s: %w", st.what, err)
		}
		*st.n = st.len
	}
	for start := 0; start < len(ws.msgs); start += workspace.BatchSize {
		end := min(start+workspace.BatchSize, len(ws.msgs))
		if err := sink.PutMessages(ctx, ws.msgs[start:end:end]); err != nil {
			return s, fmt.Errorf("demo: put messages %d-%d: %w", start, end-1, err)
		}
		s.Messages = end
	}
	return s, nil
}

// Package workspace moves whole Rocket.Chat workspaces into a store: the Sink
// port every store implements for loading (the demo seed, seed files, imports),
// and the seed file format (newline-delimited JSON records).
package workspace

import (
	"context"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// Sink receives workspace records in batches. Puts are upserts: loading the
// same records twice leaves the store as loading them once.
type Sink interface {
	PutUsers(ctx context.Context, users []chat.User) error
	PutTokens(ctx context.Context, tokens []chat.Token) error
	PutPermissions(ctx context.Context, perms []chat.Permission) error
	PutRooms(ctx context.Context, rooms []chat.Room) error
	PutSubscriptions(ctx context.Context, subs []chat.Subscription) error
	PutMessages(ctx context.Context, msgs []chat.Message) error
	PutUploads(ctx context.Context, uploads []chat.Upload) error
}

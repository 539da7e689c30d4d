package export

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// Credentials are the X-User-Id and X-Auth-Token headers of a call.
type Credentials struct {
	UserID string
	Token  string
}

// Permissions the service checks, with Rocket.Chat's default roles, used
// when the permissions data has no record for them (SPEC §3).
const (
	PermMailMessages = "mail-messages"
	PermViewChannel  = "view-c-room"
	PermBypassRate   = "api-bypass-rate-limit"
)

var defaultPermissionRoles = map[string][]string{
	PermMailMessages: {"admin"},
	PermViewChannel:  {"admin", "user", "bot", "app"},
	PermBypassRate:   {"admin", "bot", "app"},
}

// HashToken is how tokens are stored: base64(sha256(token)), standard
// encoding with padding — Rocket.Chat's hashedToken, so hashes copied from a
// Rocket.Chat database work unchanged.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.StdEncoding.EncodeToString(sum[:])
}

var errUnauthorized = &chat.Error{Code: chat.CodeUnauthorized}

// Authenticate resolves credentials to an active user. Every failure is the
// same 401: the caller learns nothing about which part was wrong. The token
// is looked up by its hash, so no comparison touches the secret itself; the
// owner check is constant-time.
func (s *Service) Authenticate(ctx context.Context, c Credentials) (chat.User, error) {
	if c.UserID == "" || c.Token == "" {
		return chat.User{}, errUnauthorized
	}
	r := s.readTogether(ctx, authKeys(c)...)
	return s.authenticated(c, r[0], r[1])
}

// authKeys are the records Authenticate reads: the claimed user, then the
// token by its hash.
func authKeys(c Credentials) []RecordKey {
	return []RecordKey{{Kind: RecordUser, ID: c.UserID}, {Kind: RecordToken, ID: HashToken(c.Token)}}
}

// authenticated is Authenticate from the reads of authKeys(c).
func (s *Service) authenticated(c Credentials, user, token func() RecordResult) (chat.User, error) {
	res := token()
	tok, err := res.Token, res.Err
	if errors.Is(err, chat.ErrNotFound) {
		return chat.User{}, errUnauthorized
	}
	if err != nil {
		return chat.User{}, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(tok.UserID), []byte(c.UserID)) != 1 {
		return chat.User{}, errUnauthorized
	}
	if tok.Type != chat.TokenPersonal && s.now().After(tok.CreatedAt.Add(s.Config.TokenTTL)) {
		return chat.User{}, errUnauthorized
	}
	res = user()
	u, err := res.User, res.Err
	if errors.Is(err, chat.ErrNotFound) {
		return chat.User{}, errUnauthorized
	}
	if err != nil {
		return chat.User{}, fmt.Errorf("authenticate: %w", err)
	}
	if !u.Active {
		return chat.User{}, errUnauthorized
	}
	return u, nil
}

// later starts fn on a goroutine of its own and returns a function that
// waits for its result. A request's directory reads that do not depend on
// each other go out together with it — on DynamoDB one round trip instead of
// several — while the checks still look at the results in SPEC order, so
// the answers do not change. A result nobody waits for is dropped.
func later[T any](fn func() (T, error)) func() (T, error) {
	var v T
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		v, err = fn()
	}()
	return func() (T, error) {
		<-done
		return v, err
	}
}

// readTogether starts the reads of keys at once and returns, per key, a
// function that waits for its result: one ReadRecords call when the
// directory is a RecordReader, a goroutine per record otherwise (later).
func (s *Service) readTogether(ctx context.Context, keys ...RecordKey) []func() RecordResult {
	out := make([]func() RecordResult, len(keys))
	if rr, ok := s.Directory.(RecordReader); ok {
		all := later(func() ([]RecordResult, error) { return rr.ReadRecords(ctx, keys), nil })
		for i := range keys {
			out[i] = func() RecordResult {
				rs, _ := all()
				if i >= len(rs) {
					return RecordResult{Err: fmt.Errorf("read records: %d results for %d keys", len(rs), len(keys))}
				}
				return rs[i]
			}
		}
		return out
	}
	for i, k := range keys {
		one := later(func() (RecordResult, error) { return s.readRecord(ctx, k), nil })
		out[i] = func() RecordResult { r, _ := one(); return r }
	}
	return out
}

// readRecord reads one record through the Directory's own methods.
func (s *Service) readRecord(ctx context.Context, k RecordKey) (r RecordResult) {
	switch k.Kind {
	case RecordUser:
		r.User, r.Err = s.Directory.UserByID(ctx, k.ID)
	case RecordToken:
		r.Token, r.Err = s.Directory.TokenByHash(ctx, k.ID)
	case RecordPermission:
		r.Roles, r.Err = s.Directory.PermissionRoles(ctx, k.ID)
	case RecordRoom:
		r.Room, r.Err = s.Directory.Room(ctx, k.ID)
	case RecordSubscription:
		r.Sub, r.Err = s.Directory.Subscription(ctx, k.ID, k.User)
	default:
		r.Err = fmt.Errorf("read record: unknown kind %d", k.Kind)
	}
	return r
}

// roomRoles is the caller's roles in a room's scope: global roles plus the
// roles on their subscription (owner, moderator, leader, ...), and whether
// they are subscribed at all.
func (s *Service) roomRoles(ctx context.Context, u chat.User, rid string) (roles []string, subscribed bool, err error) {
	sub, err := s.Directory.Subscription(ctx, rid, u.ID)
	return subscriptionRoles(u, rid, sub, err)
}

// subscriptionRoles is roomRoles from the result of reading the caller's
// subscription to room rid.
func subscriptionRoles(u chat.User, rid string, sub chat.Subscription, err error) (roles []string, subscribed bool, _ error) {
	roles = slices.Clone(u.Roles)
	switch {
	case errors.Is(err, chat.ErrNotFound):
		return roles, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("subscription %s: %w", rid, err)
	}
	return append(roles, sub.Roles...), true, nil
}

// permissionGrant is the roles granted permission from the directory's
// answer: its record, or Rocket.Chat's default when the permissions data
// has none.
func permissionGrant(permission string, granted []string, err error) ([]string, error) {
	if errors.Is(err, chat.ErrNotFound) {
		return defaultPermissionRoles[permission], nil
	}
	if err != nil {
		return nil, fmt.Errorf("permission %s: %w", permission, err)
	}
	return granted, nil
}

// grants reports whether any of roles is among granted.
func grants(granted, roles []string) bool {
	for _, r := range roles {
		if slices.Contains(granted, r) {
			return true
		}
	}
	return false
}

// canAccess mirrors Rocket.Chat's canAccessRoom validators, any of which
// grants access: a public channel to holders of view-c-room; any room to its
// subscribers; a discussion to those who can access its parent. roles and
// subscribed are the caller's in room (roomRoles), which the caller has
// already read; viewChannel waits for the roles granted view-c-room (read
// with the request's other records).
func (s *Service) canAccess(ctx context.Context, u chat.User, room chat.Room, roles []string, subscribed bool, depth int, viewChannel func() ([]string, error)) (bool, error) {
	if subscribed {
		return true, nil
	}
	if room.Type == chat.RoomChannel {
		granted, err := viewChannel()
		if err != nil || grants(granted, roles) {
			return err == nil, err
		}
	}
	if room.ParentID != "" && depth < 4 {
		parent, err := s.Directory.Room(ctx, room.ParentID)
		if errors.Is(err, chat.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("parent room %s: %w", room.ParentID, err)
		}
		roles, subscribed, err := s.roomRoles(ctx, u, parent.ID)
		if err != nil {
			return false, err
		}
		return s.canAccess(ctx, u, parent, roles, subscribed, depth+1, viewChannel)
	}
	return false, nil
}

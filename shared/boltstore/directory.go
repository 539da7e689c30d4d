package boltstore

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// get reads one JSON record by key; a missing key is chat.ErrNotFound.
func (s *Store) get(ctx context.Context, bucket, key []byte, v any) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucket), key, v)
		if err != nil {
			return err
		}
		if !ok {
			return chat.ErrNotFound
		}
		return nil
	})
}

// getDirectory reads one directory record by key through the store's
// decoded records (decodedRecords); a missing key is chat.ErrNotFound.
func getDirectory[T any](ctx context.Context, s *Store, bucket, key []byte, clone func(T) T) (T, error) {
	var v T
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var found bool
		var err error
		v, found, err = getRecord(&s.records, tx.Bucket(bucket), bucket, key, clone)
		if err == nil && !found {
			err = chat.ErrNotFound
		}
		return err
	})
	return v, err
}

// UserByID returns the user with that _id (Rocket.Chat's Users.findOneById).
func (s *Store) UserByID(ctx context.Context, id string) (chat.User, error) {
	u, err := getDirectory(ctx, s, bucketUsers, []byte(id), cloneUser)
	if err != nil {
		return chat.User{}, fmt.Errorf("boltstore: get user %s: %w", id, err)
	}
	return u, nil
}

// UserByUsername returns the user with exactly that username (Rocket.Chat's
// Users.findOneByUsername: an exact, case-sensitive match).
func (s *Store) UserByUsername(ctx context.Context, username string) (chat.User, error) {
	var u chat.User
	err := s.view(ctx, func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketUsernames).Get([]byte(username))
		if id == nil {
			return chat.ErrNotFound
		}
		var ok bool
		var err error
		u, ok, err = getRecord(&s.records, tx.Bucket(bucketUsers), bucketUsers, id, cloneUser)
		if err != nil {
			return err
		}
		if !ok || u.Username != username { // a stale index entry
			return chat.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return chat.User{}, fmt.Errorf("boltstore: get user by username %s: %w", username, err)
	}
	return u, nil
}

// TokenByHash returns the token stored under its hash
// (services.resume.loginTokens.hashedToken in Rocket.Chat).
func (s *Store) TokenByHash(ctx context.Context, hash string) (chat.Token, error) {
	t, err := getDirectory(ctx, s, bucketTokens, []byte(hash), cloneToken)
	if err != nil {
		// never put the hash in an error: errors reach the log
		return chat.Token{}, fmt.Errorf("boltstore: get token: %w", err)
	}
	return t, nil
}

// PermissionRoles returns the roles granted a permission
// (rocketchat_permissions.roles); chat.ErrNotFound when it has no record,
// an empty slice when the record grants no role.
func (s *Store) PermissionRoles(ctx context.Context, permission string) ([]string, error) {
	p, err := getDirectory(ctx, s, bucketPermissions, []byte(permission), clonePermission)
	if err != nil {
		return nil, fmt.Errorf("boltstore: get permission %s: %w", permission, err)
	}
	if p.Roles == nil {
		return []string{}, nil
	}
	return p.Roles, nil
}

// Room returns the room with that _id.
func (s *Store) Room(ctx context.Context, rid string) (chat.Room, error) {
	r, err := getDirectory(ctx, s, bucketRooms, []byte(rid), cloneRoom)
	if err != nil {
		return chat.Room{}, fmt.Errorf("boltstore: get room %s: %w", rid, err)
	}
	return r, nil
}

// Subscription returns the user's subscription to the room (Rocket.Chat's
// Subscriptions.findOneByRoomIdAndUserId).
func (s *Store) Subscription(ctx context.Context, rid, uid string) (chat.Subscription, error) {
	sub, err := getDirectory(ctx, s, bucketSubs, joinKey(0, rid, uid), cloneSubscription)
	if err != nil {
		return chat.Subscription{}, fmt.Errorf("boltstore: get subscription %s/%s: %w", rid, uid, err)
	}
	return sub, nil
}

// putAll upserts records in one write transaction (so a batch is stored
// whole or not at all); key returns a record's key, or an error when the
// record cannot be stored. what names the records in errors.
func putAll[T any](ctx context.Context, s *Store, what string, bucket []byte, recs []T, key func(T) ([]byte, error)) error {
	if len(recs) == 0 {
		return nil
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for i, r := range recs {
			k, err := key(r)
			if err == nil {
				err = putJSON(b, k, r)
			}
			if err != nil {
				return fmt.Errorf("record %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltstore: put %s: %w", what, err)
	}
	return nil
}

// idKey is the key of a record stored by its id.
func idKey(what, id string) ([]byte, error) {
	if id == "" {
		return nil, fmt.Errorf("empty %s", what)
	}
	return []byte(id), nil
}

// PutUsers upserts users and keeps the username index right when a
// username changes (Rocket.Chat renames users in place).
func (s *Store) PutUsers(ctx context.Context, users []chat.User) error {
	if len(users) == 0 {
		return nil
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		ub, names := tx.Bucket(bucketUsers), tx.Bucket(bucketUsernames)
		for _, u := range users {
			if err := checkKeyPart("user id", u.ID); err != nil {
				return err
			}
			id := []byte(u.ID)
			var old chat.User
			had, err := getJSON(ub, id, &old)
			if err != nil {
				return fmt.Errorf("user %s: %w", u.ID, err)
			}
			if had && old.Username != "" && old.Username != u.Username {
				// drop the old name only if it still points at this user
				if owner := names.Get([]byte(old.Username)); owner != nil && string(owner) == u.ID {
					if err := names.Delete([]byte(old.Username)); err != nil {
						return fmt.Errorf("user %s: %w", u.ID, err)
					}
				}
			}
			if u.Username != "" {
				if err := names.Put([]byte(u.Username), id); err != nil {
					return fmt.Errorf("user %s: %w", u.ID, err)
				}
			}
			if err := putJSON(ub, id, u); err != nil {
				return fmt.Errorf("user %s: %w", u.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltstore: put users: %w", err)
	}
	return nil
}

// PutTokens upserts tokens by hash.
func (s *Store) PutTokens(ctx context.Context, tokens []chat.Token) error {
	return putAll(ctx, s, "tokens", bucketTokens, tokens, func(t chat.Token) ([]byte, error) { return idKey("token hash", t.Hash) })
}

// PutPermissions upserts permissions by id.
func (s *Store) PutPermissions(ctx context.Context, perms []chat.Permission) error {
	return putAll(ctx, s, "permissions", bucketPermissions, perms, func(p chat.Permission) ([]byte, error) { return idKey("permission id", p.ID) })
}

// PutRooms upserts rooms by id.
func (s *Store) PutRooms(ctx context.Context, rooms []chat.Room) error {
	return putAll(ctx, s, "rooms", bucketRooms, rooms, func(r chat.Room) ([]byte, error) { return idKey("room id", r.ID) })
}

// PutSubscriptions upserts subscriptions by (room, user).
func (s *Store) PutSubscriptions(ctx context.Context, subs []chat.Subscription) error {
	return putAll(ctx, s, "subscriptions", bucketSubs, subs, func(sub chat.Subscription) ([]byte, error) {
		if err := checkKeyPart("subscription rid", sub.RoomID); err != nil {
			return nil, err
		}
		if err := checkKeyPart("subscription uid", sub.UserID); err != nil {
			return nil, err
		}
		return joinKey(0, sub.RoomID, sub.UserID), nil
	})
}

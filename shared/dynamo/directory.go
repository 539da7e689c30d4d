package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// Partition key prefixes of the Directory table (see the package comment).
const (
	pfxUser     = "user#"
	pfxUsername = "username#"
	pfxToken    = "token#"
	pfxPerm     = "perm#"
	pfxRoom     = "room#"
	pfxSub      = "sub#"
	pfxUpload   = "upload#"
	pfxMsg      = "msg#"
)

// getByID reads the Directory record prefix+id into v. An id that cannot
// have been stored is chat.ErrNotFound without a request.
func (s *Store) getByID(ctx context.Context, what, prefix, id string, v any) error {
	if checkKeyPart(what, id) != nil {
		return chat.ErrNotFound
	}
	return s.getRecord(ctx, prefix+id, noSort, v)
}

// UserByID returns the user with that _id (Rocket.Chat's Users.findOneById).
func (s *Store) UserByID(ctx context.Context, id string) (chat.User, error) {
	var u chat.User
	if err := s.getByID(ctx, "user id", pfxUser, id, &u); err != nil {
		return chat.User{}, fmt.Errorf("dynamo: get user %s: %w", id, err)
	}
	return u, nil
}

// UserByUsername returns the user with exactly that username (Rocket.Chat's
// Users.findOneByUsername: an exact, case-sensitive match). The username
// item points at the user; a pointer left behind by a rename is ignored
// because the user it names no longer has the name.
func (s *Store) UserByUsername(ctx context.Context, username string) (chat.User, error) {
	u, err := s.userByUsername(ctx, username)
	if err != nil {
		return chat.User{}, fmt.Errorf("dynamo: get user by username %s: %w", username, err)
	}
	return u, nil
}

func (s *Store) userByUsername(ctx context.Context, username string) (chat.User, error) {
	if checkKeyPart("username", username) != nil {
		return chat.User{}, chat.ErrNotFound
	}
	item, err := s.getItem(ctx, s.t.Directory, pfxUsername+username, noSort, false, attrID)
	if err != nil {
		return chat.User{}, err
	}
	id, ok := getS(item, attrID)
	if !ok {
		return chat.User{}, chat.ErrNotFound
	}
	var u chat.User
	if err := s.getByID(ctx, "user id", pfxUser, id, &u); err != nil {
		return chat.User{}, err
	}
	if u.Username != username { // a stale pointer
		return chat.User{}, chat.ErrNotFound
	}
	return u, nil
}

// TokenByHash returns the token stored under its hash
// (services.resume.loginTokens.hashedToken in Rocket.Chat).
func (s *Store) TokenByHash(ctx context.Context, hash string) (chat.Token, error) {
	var t chat.Token
	if err := s.getByID(ctx, "token hash", pfxToken, hash, &t); err != nil {
		// never put the hash in an error: errors reach the log
		return chat.Token{}, fmt.Errorf("dynamo: get token: %w", err)
	}
	return t, nil
}

// PermissionRoles returns the roles granted a permission
// (rocketchat_permissions.roles); chat.ErrNotFound when it has no record,
// an empty slice when the record grants no role.
func (s *Store) PermissionRoles(ctx context.Context, permission string) ([]string, error) {
	var p chat.Permission
	if err := s.getByID(ctx, "permission id", pfxPerm, permission, &p); err != nil {
		return nil, fmt.Errorf("dynamo: get permission %s: %w", permission, err)
	}
	return grantedRoles(p), nil
}

// grantedRoles is a permission record's roles: an empty list, not nil,
// when it grants none.
func grantedRoles(p chat.Permission) []string {
	if p.Roles == nil {
		return []string{}
	}
	return p.Roles
}

// Room returns the room with that _id.
func (s *Store) Room(ctx context.Context, rid string) (chat.Room, error) {
	var r chat.Room
	if err := s.getByID(ctx, "room id", pfxRoom, rid, &r); err != nil {
		return chat.Room{}, fmt.Errorf("dynamo: get room %s: %w", rid, err)
	}
	return r, nil
}

// Subscription returns the user's subscription to the room (Rocket.Chat's
// Subscriptions.findOneByRoomIdAndUserId).
func (s *Store) Subscription(ctx context.Context, rid, uid string) (chat.Subscription, error) {
	var sub chat.Subscription
	err := chat.ErrNotFound
	if checkKeyPart("rid", rid) == nil && checkKeyPart("uid", uid) == nil {
		err = s.getRecord(ctx, pfxSub+rid, uid, &sub)
	}
	if err != nil {
		return chat.Subscription{}, fmt.Errorf("dynamo: get subscription %s/%s: %w", rid, uid, err)
	}
	return sub, nil
}

// Upload returns an uploaded file's metadata (rocketchat_uploads).
func (s *Store) Upload(ctx context.Context, id string) (chat.Upload, error) {
	var up chat.Upload
	if err := s.getByID(ctx, "upload id", pfxUpload, id, &up); err != nil {
		return chat.Upload{}, fmt.Errorf("dynamo: get upload %s: %w", id, err)
	}
	return up, nil
}

// Uploads returns the metadata of those of ids that are uploads, by id
// (Rocket.Chat's Uploads.find({_id: {$in: ids}})): the export's assets pass
// asks for a page of files at once, in BatchGetItem calls of 100 keys (a few
// at a time) instead of a GetItem per file. Ids that cannot have been stored
// are absent without a request.
func (s *Store) Uploads(ctx context.Context, ids []string) (map[string]chat.Upload, error) {
	seen := make(map[string]bool, len(ids))
	keys := make([]map[string]types.AttributeValue, 0, len(ids))
	for _, id := range ids {
		if seen[id] || checkKeyPart("upload id", id) != nil {
			continue
		}
		seen[id] = true
		keys = append(keys, itemKey(pfxUpload+id, noSort))
	}
	items, err := s.batchGet(ctx, s.t.Directory, keys, false, attrPK, attrData)
	if err != nil {
		return nil, fmt.Errorf("dynamo: get uploads: %w", err)
	}
	out := make(map[string]chat.Upload, len(items))
	for _, item := range items {
		pk, _ := getS(item, attrPK)
		id := strings.TrimPrefix(pk, pfxUpload)
		var up chat.Upload
		if err := decodeData(item, &up); err != nil {
			return nil, fmt.Errorf("dynamo: get uploads: upload %s: %w", id, err)
		}
		out[id] = up
	}
	return out, nil
}

// putRecords upserts Directory records with batch writes. key returns a
// record's (pk, sk), or an error when it cannot be stored; a record whose key
// comes again later in recs is skipped (the last one wins, as with puts one
// after another). Nothing is written when any record is refused. what names
// the records in errors.
func putRecords[T any](ctx context.Context, s *Store, what string, recs []T, key func(T) (string, string, error)) error {
	if len(recs) == 0 {
		return ctx.Err()
	}
	items := make([]map[string]types.AttributeValue, 0, len(recs))
	index := make(map[[2]string]int, len(recs))
	for i, r := range recs {
		pk, sk, err := key(r)
		if err != nil {
			return fmt.Errorf("dynamo: put %s: record %d: %w", what, i, err)
		}
		item, err := dataItem(pk, sk, r)
		if err != nil {
			return fmt.Errorf("dynamo: put %s: record %d: %w", what, i, err)
		}
		if j, dup := index[[2]string{pk, sk}]; dup {
			items[j] = item
			continue
		}
		index[[2]string{pk, sk}] = len(items)
		items = append(items, item)
	}
	writes := make([]write, len(items))
	for i, item := range items {
		writes[i] = putReq(s.t.Directory, item)
	}
	if err := s.batchWrite(ctx, writes); err != nil {
		return fmt.Errorf("dynamo: put %s: %w", what, err)
	}
	return nil
}

// idKey is the key of a record stored by its id under prefix.
func idKey(what, prefix, id string) (string, string, error) {
	if err := checkKeyPart(what, id); err != nil {
		return "", "", err
	}
	return prefix + id, noSort, nil
}

// PutUsers upserts users and keeps the username pointers right when a
// username changes (Rocket.Chat renames users in place). Users and their new
// names are written first; then an old name is deleted only if it still
// points at the renamed user (a conditional delete), so a name another user
// took is never lost. A delete that does not happen leaves a stale pointer,
// which readers ignore.
func (s *Store) PutUsers(ctx context.Context, users []chat.User) error {
	if len(users) == 0 {
		return ctx.Err()
	}
	last := make(map[string]int, len(users)) // id → index of its last record
	for i, u := range users {
		if err := checkKeyPart("user id", u.ID); err != nil {
			return fmt.Errorf("dynamo: put users: record %d: %w", i, err)
		}
		if u.Username != "" {
			if err := checkKeyPart("username", u.Username); err != nil {
				return fmt.Errorf("dynamo: put users: user %s: %w", u.ID, err)
			}
		}
		last[u.ID] = i
	}
	var (
		keys     []map[string]types.AttributeValue
		writes   []write
		newNames = make(map[string]bool, len(last))
	)
	for i, u := range users {
		if last[u.ID] != i {
			continue
		}
		keys = append(keys, itemKey(pfxUser+u.ID, noSort))
		item, err := dataItem(pfxUser+u.ID, noSort, u)
		if err != nil {
			return fmt.Errorf("dynamo: put users: user %s: %w", u.ID, err)
		}
		writes = append(writes, putReq(s.t.Directory, item))
		if u.Username != "" && !newNames[u.Username] {
			newNames[u.Username] = true
			ptr := itemKey(pfxUsername+u.Username, noSort)
			ptr[attrID] = attrS(u.ID)
			writes = append(writes, putReq(s.t.Directory, ptr))
		}
	}
	olds, err := s.batchGet(ctx, s.t.Directory, keys, true, attrData)
	if err != nil {
		return fmt.Errorf("dynamo: put users: read current users: %w", err)
	}
	if err := s.batchWrite(ctx, writes); err != nil {
		return fmt.Errorf("dynamo: put users: %w", err)
	}
	for _, item := range olds {
		var old chat.User
		if err := decodeData(item, &old); err != nil {
			return fmt.Errorf("dynamo: put users: read current users: %w", err)
		}
		if old.Username == "" || newNames[old.Username] || old.Username == users[last[old.ID]].Username {
			continue
		}
		if err := s.dropUsername(ctx, old.Username, old.ID); err != nil {
			return fmt.Errorf("dynamo: put users: user %s: %w", old.ID, err)
		}
	}
	return nil
}

// dropUsername deletes the pointer of name if it still points at uid.
func (s *Store) dropUsername(ctx context.Context, name, uid string) error {
	_, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 &s.t.Directory,
		Key:                       itemKey(pfxUsername+name, noSort),
		ConditionExpression:       ptr("#id = :uid"),
		ExpressionAttributeNames:  map[string]string{"#id": attrID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":uid": attrS(uid)},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("drop old username: %w", err)
	}
	return nil
}

// PutTokens upserts tokens by hash.
func (s *Store) PutTokens(ctx context.Context, tokens []chat.Token) error {
	return putRecords(ctx, s, "tokens", tokens, func(t chat.Token) (string, string, error) {
		return idKey("token hash", pfxToken, t.Hash)
	})
}

// PutPermissions upserts permissions by id.
func (s *Store) PutPermissions(ctx context.Context, perms []chat.Permission) error {
	return putRecords(ctx, s, "permissions", perms, func(p chat.Permission) (string, string, error) {
		return idKey("permission id", pfxPerm, p.ID)
	})
}

// PutRooms upserts rooms by id.
func (s *Store) PutRooms(ctx context.Context, rooms []chat.Room) error {
	return putRecords(ctx, s, "rooms", rooms, func(r chat.Room) (string, string, error) {
		return idKey("room id", pfxRoom, r.ID)
	})
}

// PutSubscriptions upserts subscriptions by (room, user).
func (s *Store) PutSubscriptions(ctx context.Context, subs []chat.Subscription) error {
	return putRecords(ctx, s, "subscriptions", subs, func(sub chat.Subscription) (string, string, error) {
		if err := checkKeyPart("subscription rid", sub.RoomID); err != nil {
			return "", "", err
		}
		if err := checkKeyPart("subscription uid", sub.UserID); err != nil {
			return "", "", err
		}
		return pfxSub + sub.RoomID, sub.UserID, nil
	})
}

// PutUploads upserts upload metadata by id.
func (s *Store) PutUploads(ctx context.Context, uploads []chat.Upload) error {
	return putRecords(ctx, s, "uploads", uploads, func(up chat.Upload) (string, string, error) {
		return idKey("upload id", pfxUpload, up.ID)
	})
}

// ptr returns a pointer to v, for the SDK's optional fields.
func ptr[T any](v T) *T { return &v }

// errNotFound reports whether err is chat.ErrNotFound.
func errNotFound(err error) bool { return errors.Is(err, chat.ErrNotFound) }

// ReadRecords reads directory records in one BatchGetItem
// (export.RecordReader): a request's token, user, permissions,
// subscription and room cost one request instead of one each. Keys that
// cannot have been stored are not found without a request.
func (s *Store) ReadRecords(ctx context.Context, keys []export.RecordKey) []export.RecordResult {
	out := make([]export.RecordResult, len(keys))
	type at struct{ pk, sk string }
	where := make([]at, len(keys))
	var batch []map[string]types.AttributeValue
	asked := map[at]bool{}
	for i, k := range keys {
		var err error
		switch k.Kind {
		case export.RecordUser:
			where[i], err = at{pfxUser + k.ID, noSort}, checkKeyPart("user id", k.ID)
		case export.RecordToken:
			where[i], err = at{pfxToken + k.ID, noSort}, checkKeyPart("token hash", k.ID)
		case export.RecordPermission:
			where[i], err = at{pfxPerm + k.ID, noSort}, checkKeyPart("permission id", k.ID)
		case export.RecordRoom:
			where[i], err = at{pfxRoom + k.ID, noSort}, checkKeyPart("room id", k.ID)
		case export.RecordSubscription:
			where[i], err = at{pfxSub + k.ID, k.User}, errors.Join(checkKeyPart("rid", k.ID), checkKeyPart("uid", k.User))
		default:
			out[i].Err = fmt.Errorf("dynamo: read records: unknown kind %d", k.Kind)
			continue
		}
		if err != nil {
			out[i].Err = chat.ErrNotFound
			continue
		}
		if !asked[where[i]] {
			asked[where[i]] = true
			batch = append(batch, itemKey(where[i].pk, where[i].sk))
		}
	}
	items, err := s.batchGet(ctx, s.t.Directory, batch, false, attrPK, attrSK, attrData)
	found := make(map[at]map[string]types.AttributeValue, len(items))
	for _, item := range items {
		pk, _ := getS(item, attrPK)
		sk, _ := getS(item, attrSK)
		found[at{pk, sk}] = item
	}
	for i, k := range keys {
		if out[i].Err != nil {
			continue
		}
		if err != nil {
			out[i].Err = fmt.Errorf("dynamo: read records: %w", err) // no key in it: a token hash must not reach the log
			continue
		}
		item, ok := found[where[i]]
		if !ok {
			out[i].Err = chat.ErrNotFound
			continue
		}
		r := &out[i]
		switch k.Kind {
		case export.RecordUser:
			r.Err = decodeData(item, &r.User)
		case export.RecordToken:
			r.Err = decodeData(item, &r.Token)
		case export.RecordPermission:
			var p chat.Permission
			if r.Err = decodeData(item, &p); r.Err == nil {
				r.Roles = grantedRoles(p)
			}
		case export.RecordRoom:
			r.Err = decodeData(item, &r.Room)
		case export.RecordSubscription:
			r.Err = decodeData(item, &r.Sub)
		}
		if r.Err != nil {
			r.Err = fmt.Errorf("dynamo: read records: kind %d: %w", k.Kind, r.Err)
		}
	}
	return out
}

package rcimport

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// The mappers turn one Rocket.Chat document into chat records. Each reads
// only the fields an export needs (SPEC §8), with Rocket.Chat's meanings;
// other fields are ignored. A document with a missing required field or a
// field of the wrong type is refused whole (*badDoc), so nothing of it is
// written.

// mapUser maps a users document: the user, and the tokens of
// services.resume.loginTokens. A token entry that cannot be used is left out
// and returned in badTokens; the user is still imported.
//
// Rocket.Chat keeps login tokens as {when, hashedToken} and personal access
// tokens as {hashedToken, type: "personalAccessToken", name, createdAt}; the
// hash is base64(sha256(token)), the one the service computes, so existing
// X-User-Id/X-Auth-Token pairs keep working. Very old Meteor versions stored
// {when, token} unhashed: such a token is hashed here and its plaintext
// dropped. A user without "active": true is deactivated, as Rocket.Chat's
// validateLoginAttempt treats it.
func mapUser(doc bson.Raw) (u chat.User, tokens []chat.Token, badTokens []*badDoc, err *badDoc) {
	f := &fields{}
	var services bson.Raw
	for _, el := range f.elements(doc) {
		v := el.Value()
		switch el.Key() {
		case "_id":
			u.ID = f.id("_id", v)
		case "username":
			u.Username = f.str("username", v)
		case "name":
			u.Name = f.str("name", v)
		case "emails":
			u.Emails = mapEmails(f, v)
		case "roles":
			u.Roles = f.strs("roles", v)
		case "active":
			u.Active = f.boolean("active", v)
		case "language":
			u.Language = f.str("language", v)
		case "services":
			services, _ = f.doc("services", v)
		}
	}
	if f.err != nil {
		return chat.User{}, nil, nil, f.err
	}
	if u.ID == "" {
		return chat.User{}, nil, nil, bad(`missing "_id"`)
	}
	if u.Username != "" {
		if why := checkID(u.Username); why != "" {
			return chat.User{}, nil, nil, bad(`field "username": ` + why)
		}
	}
	if services == nil {
		return u, nil, nil, nil
	}
	resume, ok := services.Lookup("resume").DocumentOK()
	if !ok {
		return u, nil, nil, nil
	}
	lf := &fields{path: "services.resume."}
	for _, tv := range lf.array("loginTokens", resume.Lookup("loginTokens")) {
		t, terr := mapToken(u.ID, tv)
		if terr != nil {
			badTokens = append(badTokens, terr)
			continue
		}
		tokens = append(tokens, t)
	}
	if lf.err != nil {
		badTokens = append(badTokens, lf.err)
	}
	return u, tokens, badTokens, nil
}

// mapEmails reads users.emails[].address, in order.
func mapEmails(f *fields, v bson.RawValue) []string {
	var out []string
	for _, e := range f.array("emails", v) {
		d, ok := f.doc("emails[]", e)
		if !ok {
			continue
		}
		ef := f.sub("emails[]")
		if addr := ef.str("address", d.Lookup("address")); addr != "" {
			out = append(out, addr)
		}
		propagate(f, ef)
	}
	return out
}

// mapToken maps one services.resume.loginTokens entry of user uid.
func mapToken(uid string, v bson.RawValue) (chat.Token, *badDoc) {
	d, ok := v.DocumentOK()
	if !ok {
		return chat.Token{}, bad(`"services.resume.loginTokens[]": not a document`)
	}
	f := &fields{path: "services.resume.loginTokens[]."}
	var (
		t          = chat.Token{UserID: uid, Type: chat.TokenLogin}
		plain      string
		when, made time.Time
		typ        string
		hasName    bool
	)
	for _, el := range f.elements(d) {
		v := el.Value()
		switch el.Key() {
		case "hashedToken":
			t.Hash = f.str("hashedToken", v)
		case "token":
			plain = f.str("token", v)
		case "when":
			when = f.date("when", v)
		case "createdAt":
			made = f.date("createdAt", v)
		case "type":
			typ = f.str("type", v)
		case "name":
			t.Name = f.str("name", v)
			hasName = !absent(v)
		}
	}
	if f.err != nil {
		return chat.Token{}, f.err
	}
	if t.Hash == "" && plain != "" {
		// Meteor's _hashLoginToken: the same hash the service compares.
		sum := sha256.Sum256([]byte(plain))
		t.Hash = base64.StdEncoding.EncodeToString(sum[:])
	}
	if t.Hash == "" {
		return chat.Token{}, bad(`login token without "hashedToken"`)
	}
	if why := checkID(t.Hash); why != "" {
		return chat.Token{}, bad(`login token "hashedToken": ` + why)
	}
	if typ == chat.TokenPersonal || hasName {
		t.Type = chat.TokenPersonal
	}
	t.CreatedAt = when
	if t.CreatedAt.IsZero() {
		t.CreatedAt = made
	}
	if t.CreatedAt.IsZero() && t.Type == chat.TokenLogin {
		// A login token expires counting from "when": without it there
		// is nothing to count from.
		return chat.Token{}, bad(`login token without "when"`)
	}
	return t, nil
}

// mapPermission maps a rocketchat_permissions document: _id → roles.
func mapPermission(doc bson.Raw) (chat.Permission, *badDoc) {
	f := &fields{}
	var p chat.Permission
	for _, el := range f.elements(doc) {
		v := el.Value()
		switch el.Key() {
		case "_id":
			p.ID = f.id("_id", v)
		case "roles":
			p.Roles = f.strs("roles", v)
		}
	}
	if f.err != nil {
		return chat.Permission{}, f.err
	}
	if p.ID == "" {
		return chat.Permission{}, bad(`missing "_id"`)
	}
	if p.Roles == nil {
		p.Roles = []string{}
	}
	return p, nil
}

// mapRole checks a rocketchat_roles document. Roles are not stored: users,
// subscriptions and permissions name them by _id (for the built-in roles
// the _id is the name), which is all the service compares.
func mapRole(doc bson.Raw) *badDoc {
	f := &fields{}
	var id string
	for _, el := range f.elements(doc) {
		switch el.Key() {
		case "_id":
			id = f.id("_id", el.Value())
		case "name":
			f.str("name", el.Value())
		}
	}
	if f.err != nil {
		return f.err
	}
	if id == "" {
		return bad(`missing "_id"`)
	}
	return nil
}

// mapRoom maps a rocketchat_room document.
func mapRoom(doc bson.Raw) (chat.Room, *badDoc) {
	f := &fields{}
	var r chat.Room
	for _, el := range f.elements(doc) {
		v := el.Value()
		switch el.Key() {
		case "_id":
			r.ID = f.id("_id", v)
		case "t":
			r.Type = f.str("t", v)
		case "name":
			r.Name = f.str("name", v)
		case "fname":
			r.FName = f.str("fname", v)
		case "topic":
			r.Topic = f.str("topic", v)
		case "prid":
			r.ParentID = f.str("prid", v)
		case "teamId":
			r.TeamID = f.str("teamId", v)
		case "usernames":
			r.Usernames = f.strs("usernames", v)
		}
	}
	if f.err != nil {
		return chat.Room{}, f.err
	}
	if r.ID == "" {
		return chat.Room{}, bad(`missing "_id"`)
	}
	if r.Type == "" {
		return chat.Room{}, bad(`missing "t"`)
	}
	return r, nil
}

// mapSubscription maps a rocketchat_subscription document: rid, u._id and
// the room-scoped roles.
func mapSubscription(doc bson.Raw) (chat.Subscription, *badDoc) {
	f := &fields{}
	var s chat.Subscription
	for _, el := range f.elements(doc) {
		v := el.Value()
		switch el.Key() {
		case "rid":
			s.RoomID = f.id("rid", v)
		case "u":
			if u, ok := f.doc("u", v); ok {
				uf := f.sub("u")
				s.UserID = uf.id("_id", u.Lookup("_id"))
				propagate(f, uf)
			}
		case "roles":
			s.Roles = f.strs("roles", v)
		}
	}
	if f.err != nil {
		return chat.Subscription{}, f.err
	}
	if s.RoomID == "" {
		return chat.Subscription{}, bad(`missing "rid"`)
	}
	if s.UserID == "" {
		return chat.Subscription{}, bad(`missing "u._id"`)
	}
	return s, nil
}

// mapMessage maps a rocketchat_message document, _hidden edit-history
// copies included (exports leave them out; the store keeps them apart).
func mapMessage(doc bson.Raw) (chat.Message, *badDoc) {
	f := &fields{}
	var m chat.Message
	for _, el := range f.elements(doc) {
		v := el.Value()
		switch el.Key() {
		case "_id":
			m.ID = f.id("_id", v)
		case "rid":
			m.RoomID = f.id("rid", v)
		case "ts":
			m.TS = f.date("ts", v)
		case "msg":
			m.Msg = f.str("msg", v)
		case "u":
			if d, ok := f.doc("u", v); ok {
				m.U = mapUserRef(f, "u", d)
			}
		case "t":
			m.Type = f.str("t", v)
		case "role":
			m.Role = f.str("role", v)
		case "tmid":
			m.ThreadID = f.str("tmid", v)
		case "drid":
			m.DiscussionID = f.str("drid", v)
		case "attachments":
			m.Attachments = mapAttachments(f, "attachments", v, 0)
		case "file":
			if d, ok := f.doc("file", v); ok {
				ref := mapFileRef(f, "file", d)
				m.File = &ref
			}
		case "files":
			for _, e := range f.array("files", v) {
				if d, ok := f.doc("files[]", e); ok {
					m.Files = append(m.Files, mapFileRef(f, "files[]", d))
				}
			}
		case "reactions":
			m.Reactions = mapReactions(f, v)
		case "editedAt":
			if t := f.date("editedAt", v); !t.IsZero() {
				m.EditedAt = &t
			}
		case "editedBy":
			if d, ok := f.doc("editedBy", v); ok {
				ref := mapUserRef(f, "editedBy", d)
				m.EditedBy = &ref
			}
		case "_hidden":
			m.Hidden = f.boolean("_hidden", v)
		}
	}
	if f.err != nil {
		return chat.Message{}, f.err
	}
	switch {
	case m.ID == "":
		return chat.Message{}, bad(`missing "_id"`)
	case m.RoomID == "":
		return chat.Message{}, bad(`missing "rid"`)
	case m.TS.IsZero():
		return chat.Message{}, bad(`missing "ts"`)
	}
	if m.File != nil && m.File.ID == "" {
		return chat.Message{}, bad(`missing "file._id"`)
	}
	for _, fr := range m.Files {
		if fr.ID == "" {
			return chat.Message{}, bad(`missing "files[]._id"`)
		}
	}
	return m, nil
}

// mapUserRef reads an author stamp {_id, username, name}.
func mapUserRef(f *fields, key string, d bson.Raw) chat.UserRef {
	sf := f.sub(key)
	var r chat.UserRef
	for _, el := range sf.elements(d) {
		v := el.Value()
		switch el.Key() {
		case "_id":
			r.ID = sf.str("_id", v)
		case "username":
			r.Username = sf.str("username", v)
		case "name":
			r.Name = sf.str("name", v)
		}
	}
	propagate(f, sf)
	return r
}

// mapFileRef reads message.file or one entry of message.files.
func mapFileRef(f *fields, key string, d bson.Raw) chat.FileRef {
	sf := f.sub(key)
	var r chat.FileRef
	for _, el := range sf.elements(d) {
		v := el.Value()
		switch el.Key() {
		case "_id":
			r.ID = sf.id("_id", v)
		case "name":
			r.Name = sf.str("name", v)
		case "type":
			r.Type = sf.str("type", v)
		case "size":
			r.Size = sf.integer("size", v)
		}
	}
	propagate(f, sf)
	return r
}

// propagate copies a sub-reader's error into its parent.
func propagate(parent, sub *fields) {
	if sub.err != nil && parent.err == nil {
		parent.err = sub.err
	}
}

// mapAttachments reads message.attachments: file cards and quoted messages,
// which nest (a quote of a quote).
func mapAttachments(f *fields, key string, v bson.RawValue, depth int) []chat.Attachment {
	vals := f.array(key, v)
	if len(vals) == 0 {
		return nil
	}
	if depth >= maxNesting {
		if f.err == nil {
			f.err = bad(fmt.Sprintf("field %q: attachments nested deeper than %d", f.path+key, maxNesting))
		}
		return nil
	}
	out := make([]chat.Attachment, 0, len(vals))
	for _, e := range vals {
		if absent(e) {
			continue
		}
		d, ok := f.doc(key+"[]", e)
		if !ok {
			return nil
		}
		af := f.sub(key + "[]")
		var a chat.Attachment
		for _, el := range af.elements(d) {
			v := el.Value()
			switch el.Key() {
			case "title":
				a.Title = af.str("title", v)
			case "title_link":
				a.TitleLink = af.str("title_link", v)
			case "text":
				a.Text = af.str("text", v)
			case "description":
				a.Description = af.str("description", v)
			case "author_name":
				a.AuthorName = af.str("author_name", v)
			case "message_link":
				a.MessageLink = af.str("message_link", v)
			case "image_url":
				a.ImageURL = af.str("image_url", v)
			case "type":
				a.Type = af.str("type", v)
			case "ts":
				a.TS = attachmentTS(af, v)
			case "attachments":
				a.Attachments = mapAttachments(af, "attachments", v, depth+1)
			}
		}
		propagate(f, af)
		if f.err != nil {
			return nil
		}
		out = append(out, a)
	}
	return out
}

// attachmentTS reads attachments[].ts: a date, or (as some integrations
// post it) an RFC 3339 string.
func attachmentTS(f *fields, v bson.RawValue) *time.Time {
	if absent(v) || f.err != nil {
		return nil
	}
	if s, ok := v.StringValueOK(); ok {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			f.err = bad(fmt.Sprintf("field %q: not an RFC 3339 date", f.path+"ts"))
			return nil
		}
		t = t.UTC()
		return &t
	}
	t := f.date("ts", v)
	if t.IsZero() {
		return nil
	}
	return &t
}

// mapReactions reads message.reactions: {":emoji:": {usernames: [...]}}.
func mapReactions(f *fields, v bson.RawValue) map[string]chat.Reaction {
	d, ok := f.doc("reactions", v)
	if !ok {
		return nil
	}
	rf := f.sub("reactions")
	out := map[string]chat.Reaction{}
	for _, el := range rf.elements(d) {
		// Errors name the emoji "<emoji>": reasons are grouped by their
		// text, which must not vary with the data.
		rd, ok := rf.doc("<emoji>", el.Value())
		if !ok {
			continue
		}
		ef := rf.sub("<emoji>")
		users := ef.strs("usernames", rd.Lookup("usernames"))
		propagate(rf, ef)
		if users == nil {
			users = []string{}
		}
		out[el.Key()] = chat.Reaction{Usernames: users}
	}
	propagate(f, rf)
	if len(out) == 0 {
		return nil
	}
	return out
}

// uploadDoc is a rocketchat_uploads document: the metadata to store, and
// where its bytes may be found.
type uploadDoc struct {
	upload    chat.Upload
	complete  bool     // false while Rocket.Chat was still receiving it
	extension string   // the FileSystem store names files <_id>.<extension>
	paths     []string // object paths of the AmazonS3, GoogleStorage and Webdav stores
}

// StorageKey is where an upload's bytes go in the file store.
func StorageKey(uploadID string) string { return "uploads/" + uploadID }

// mapUpload maps a rocketchat_uploads document. Its bytes are stored under
// StorageKey(_id), whatever store Rocket.Chat used.
func mapUpload(doc bson.Raw) (uploadDoc, *badDoc) {
	f := &fields{}
	u := uploadDoc{complete: true}
	for _, el := range f.elements(doc) {
		v := el.Value()
		switch el.Key() {
		case "_id":
			u.upload.ID = f.id("_id", v)
		case "rid":
			u.upload.RoomID = f.str("rid", v)
		case "name":
			u.upload.Name = f.str("name", v)
		case "type":
			u.upload.Type = f.str("type", v)
		case "size":
			u.upload.Size = f.integer("size", v)
		case "complete":
			if !absent(v) {
				u.complete = f.boolean("complete", v)
			}
		case "extension":
			u.extension = f.str("extension", v)
		case "AmazonS3", "GoogleStorage", "Webdav":
			if d, ok := f.doc(el.Key(), v); ok {
				sf := f.sub(el.Key())
				if p := sf.str("path", d.Lookup("path")); p != "" {
					u.paths = append(u.paths, p)
				}
				propagate(f, sf)
			}
		}
	}
	if f.err != nil {
		return uploadDoc{}, f.err
	}
	id := u.upload.ID
	switch {
	case id == "":
		return uploadDoc{}, bad(`missing "_id"`)
	case strings.ContainsAny(id, `/\`) || id == "." || id == "..":
		return uploadDoc{}, bad(`field "_id": not usable in a file name`)
	case u.upload.Size < 0:
		return uploadDoc{}, bad(`field "size": negative`)
	}
	u.upload.StorageKey = StorageKey(id)
	return u, nil
}

// gridFile is a document of rocketchat_uploads.files: a GridFS file's length
// and chunk size. Rocket.Chat's GridFS store uses the upload's _id as the
// GridFS file id.
type gridFile struct {
	id        string
	length    int64
	chunkSize int64
}

func mapGridFile(doc bson.Raw) (gridFile, *badDoc) {
	f := &fields{}
	var g gridFile
	for _, el := range f.elements(doc) {
		v := el.Value()
		switch el.Key() {
		case "_id":
			g.id = f.id("_id", v)
		case "length":
			g.length = f.integer("length", v)
		case "chunkSize":
			g.chunkSize = f.integer("chunkSize", v)
		}
	}
	switch {
	case f.err != nil:
		return gridFile{}, f.err
	case g.id == "":
		return gridFile{}, bad(`missing "_id"`)
	case g.length < 0:
		return gridFile{}, bad(`field "length": negative`)
	case g.chunkSize <= 0 && g.length > 0:
		return gridFile{}, bad(`field "chunkSize": not positive`)
	}
	return g, nil
}

// gridChunk is a document of rocketchat_uploads.chunks. data aliases the
// document's buffer: use it before reading the next document.
type gridChunk struct {
	fileID string
	n      int64
	data   []byte
}

func mapGridChunk(doc bson.Raw) (gridChunk, *badDoc) {
	f := &fields{}
	var c gridChunk
	hasData := false
	for _, el := range f.elements(doc) {
		v := el.Value()
		switch el.Key() {
		case "files_id":
			c.fileID = f.id("files_id", v)
		case "n":
			c.n = f.integer("n", v)
		case "data":
			if f.err == nil {
				_, data, ok := v.BinaryOK()
				if !ok {
					f.fail("data", "binary data", v)
				}
				c.data, hasData = data, ok
			}
		}
	}
	switch {
	case f.err != nil:
		return gridChunk{}, f.err
	case c.fileID == "":
		return gridChunk{}, bad(`missing "files_id"`)
	case !hasData:
		return gridChunk{}, bad(`missing "data"`)
	case c.n < 0:
		return gridChunk{}, bad(`field "n": negative`)
	}
	return c, nil
}

package rcimport

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rooms-export/rooms-export/shared/export"
)

// The fixture is a small Rocket.Chat workspace built by the tests as
// MongoDB documents, in the shapes Rocket.Chat stores them (with the fields
// an export ignores, too), and written as a dump in each form an operator
// may have: mongodump BSON, mongoexport relaxed and canonical Extended JSON
// one document a line, and a JSON array. Every collection also holds
// malformed documents, which the import must skip and report.

// testNow is the clock of the exports: login tokens are dated from it.
var testNow = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// Plaintext tokens: known to the tests, never in the dump (it has hashes).
const (
	adminLoginToken   = "admin-login-token-QmL6u2xY"
	adminPAT          = "admin-personal-token-9f2Kx"
	adminExpiredToken = "admin-old-login-token-77"
	aliceToken        = "alice-login-token-t0kT0k"
	aliceLegacyToken  = "alice-unhashed-legacy-token"
	daveToken         = "dave-login-token-zzz"
	bobToken          = "bob-token-without-active"
)

// Ids of the fixture.
const (
	adminID = "u-admin"
	aliceID = "u-alice"
	daveID  = "u-dave"
	bobID   = "u-bob"
	botID   = "rocket.cat"

	generalID = "GENERAL"
	projectID = "p-project"
	directID  = "u-adminu-alice"
	discID    = "d-disc"
	teamRoom  = "t-eng"
)

// Upload ids and where their bytes are.
const (
	fileGrid       = "f-grid"       // 3 GridFS chunks, written out of order
	fileGridSmall  = "f-grid-small" // 1 GridFS chunk
	fileGridEmpty  = "f-grid-empty" // GridFS, zero bytes
	fileFS         = "f-fs"         // FileSystem store: <id>.<extension> in the files dir
	fileS3         = "f-s3"         // AmazonS3 store: at AmazonS3.path in the files dir
	fileMissing    = "f-missing"    // bytes nowhere
	fileIncomplete = "f-incomplete" // complete: false
	fileHoley      = "f-holey"      // GridFS with a chunk missing
	s3Path         = "uniq/uploads/GENERAL/u-admin/f-s3"
	gridChunkSize  = 1000
)

func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

// srcFile is a message's file reference.
type srcFile struct {
	id, name, typ string
	size          int64
}

func (f srcFile) doc() bson.D {
	return bson.D{{Key: "_id", Value: f.id}, {Key: "name", Value: f.name}, {Key: "type", Value: f.typ}, {Key: "size", Value: f.size}, {Key: "format", Value: "ignored"}}
}

func (f srcFile) line() map[string]any {
	return map[string]any{"_id": f.id, "name": f.name, "type": f.typ, "size": f.size}
}

// srcAtt is a message attachment (a file card or a quote).
type srcAtt struct {
	title, titleLink, text, description, authorName, messageLink, imageURL, typ string
	ts                                                                          *time.Time
	atts                                                                        []srcAtt
}

func (a srcAtt) doc() bson.D {
	d := bson.D{{Key: "color", Value: "#ff0000"}, {Key: "title_link_download", Value: true}}
	for _, kv := range [][2]string{{"title", a.title}, {"title_link", a.titleLink}, {"text", a.text}, {"description", a.description},
		{"author_name", a.authorName}, {"message_link", a.messageLink}, {"image_url", a.imageURL}, {"type", a.typ}} {
		if kv[1] != "" {
			d = append(d, bson.E{Key: kv[0], Value: kv[1]})
		}
	}
	if a.ts != nil {
		d = append(d, bson.E{Key: "ts", Value: *a.ts})
	}
	if len(a.atts) > 0 {
		arr := bson.A{}
		for _, n := range a.atts {
			arr = append(arr, n.doc())
		}
		d = append(d, bson.E{Key: "attachments", Value: arr})
	}
	return d
}

func (a srcAtt) line() map[string]any {
	l := map[string]any{}
	for _, kv := range [][2]string{{"title", a.title}, {"title_link", a.titleLink}, {"text", a.text}, {"description", a.description},
		{"author_name", a.authorName}, {"message_link", a.messageLink}, {"image_url", a.imageURL}, {"type", a.typ}} {
		if kv[1] != "" {
			l[kv[0]] = kv[1]
		}
	}
	if a.ts != nil {
		l["ts"] = a.ts.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	if len(a.atts) > 0 {
		var arr []any
		for _, n := range a.atts {
			arr = append(arr, n.line())
		}
		l["attachments"] = arr
	}
	return l
}

// srcMsg is a message of the fixture: it writes the Rocket.Chat document
// and says what its line in a JSON export must be.
type srcMsg struct {
	id, rid             string
	ts                  time.Time
	msg                 string
	uid, user, name     string
	t, tmid, drid, role string
	hidden              bool
	editedAt            *time.Time
	editedBy            string
	reactions           map[string][]string
	file                *srcFile
	files               []srcFile
	atts                []srcAtt
}

func (m srcMsg) doc() bson.D {
	d := bson.D{
		{Key: "_id", Value: m.id}, {Key: "rid", Value: m.rid}, {Key: "msg", Value: m.msg}, {Key: "ts", Value: m.ts},
		{Key: "u", Value: bson.D{{Key: "_id", Value: m.uid}, {Key: "username", Value: m.user}, {Key: "name", Value: m.name}}},
		{Key: "_updatedAt", Value: m.ts}, {Key: "mentions", Value: bson.A{}}, {Key: "channels", Value: bson.A{}},
		{Key: "md", Value: bson.A{bson.D{{Key: "type", Value: "PARAGRAPH"}}}},
	}
	add := func(k string, v any) { d = append(d, bson.E{Key: k, Value: v}) }
	for _, kv := range [][2]string{{"t", m.t}, {"tmid", m.tmid}, {"drid", m.drid}, {"role", m.role}} {
		if kv[1] != "" {
			add(kv[0], kv[1])
		}
	}
	if m.hidden {
		add("_hidden", true)
		add("parent", "the-original")
	}
	if m.editedAt != nil {
		add("editedAt", *m.editedAt)
		add("editedBy", bson.D{{Key: "_id", Value: "x-" + m.editedBy}, {Key: "username", Value: m.editedBy}})
	}
	if len(m.reactions) > 0 {
		r := bson.D{}
		for _, k := range sortedKeys(m.reactions) {
			users := bson.A{}
			for _, u := range m.reactions[k] {
				users = append(users, u)
			}
			r = append(r, bson.E{Key: k, Value: bson.D{{Key: "usernames", Value: users}, {Key: "names", Value: bson.A{"ignored"}}}})
		}
		add("reactions", r)
	}
	if m.file != nil {
		add("file", m.file.doc())
	}
	if len(m.files) > 0 {
		arr := bson.A{}
		for _, f := range m.files {
			arr = append(arr, f.doc())
		}
		add("files", arr)
	}
	if len(m.atts) > 0 {
		arr := bson.A{}
		for _, a := range m.atts {
			arr = append(arr, a.doc())
		}
		add("attachments", arr)
	}
	return d
}

// line is the message's line in a JSON export (SPEC §5), as decoded JSON.
func (m srcMsg) line() map[string]any {
	l := map[string]any{"msg": m.msg, "username": m.user, "ts": m.ts.UTC().Format("2006-01-02T15:04:05.000Z"), "_id": m.id}
	if len(m.atts) > 0 {
		var arr []any
		for _, a := range m.atts {
			arr = append(arr, a.line())
		}
		l["attachments"] = arr
	}
	if m.t != "" {
		l["type"] = m.t
	}
	if m.tmid != "" {
		l["tmid"] = m.tmid
	}
	if m.editedAt != nil {
		l["editedAt"] = m.editedAt.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	if len(m.reactions) > 0 {
		r := map[string]any{}
		for k, users := range m.reactions {
			r[k] = map[string]any{"usernames": users}
		}
		l["reactions"] = r
	}
	files := m.files
	if len(files) == 0 && m.file != nil {
		files = []srcFile{*m.file}
	}
	if len(files) > 0 {
		var arr []any
		for _, f := range files {
			arr = append(arr, f.line())
		}
		l["files"] = arr
	}
	return l
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// corrupt marks a malformed entry whose form depends on the file format:
// bytes that are not BSON (mongodump), a line that is not JSON (mongoexport
// lines), an element that is JSON but not Extended JSON (a JSON array).
type corrupt struct{}

// fixture is a whole dump: documents per collection (bson.D, or corrupt{}),
// the expected outcome, and the files of the --files directory.
type fixture struct {
	colls    map[string][]any
	dirFiles map[string][]byte // relative path → bytes, for Options.FilesDir
	blobs    map[string][]byte // upload id → bytes the file store must get
	msgs     []srcMsg          // every good message (hidden copies too)
	bad      map[string]int    // collection → documents to be skipped
}

// buildFixture makes the workspace. Its GENERAL channel has filler
// messages beyond the scripted ones, enough to span several store pages.
func buildFixture(filler int) *fixture {
	fx := &fixture{colls: map[string][]any{}, dirFiles: map[string][]byte{}, blobs: map[string][]byte{}, bad: map[string]int{}}
	rnd := rand.New(rand.NewPCG(7, 11))
	bytesOf := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.UintN(256))
		}
		return b
	}
	add := func(coll string, docs ...any) {
		for _, d := range docs {
			if _, ok := d.(bson.D); !ok {
				fx.bad[coll]++
			}
			fx.colls[coll] = append(fx.colls[coll], d)
		}
	}
	badDoc := func(coll string, d bson.D) { fx.bad[coll]++; fx.colls[coll] = append(fx.colls[coll], badD(d)) }
	tok := func(when time.Time, plain string) bson.D {
		return bson.D{{Key: "when", Value: when}, {Key: "hashedToken", Value: export.HashToken(plain)}}
	}

	// users
	add(Users,
		bson.D{
			{Key: "_id", Value: adminID}, {Key: "createdAt", Value: ms(testNow.AddDate(-3, 0, 0))}, {Key: "username", Value: "admin"},
			{Key: "name", Value: "Åsa Admin"}, {Key: "emails", Value: bson.A{bson.D{{Key: "address", Value: "admin@example.org"}, {Key: "verified", Value: true}}, bson.D{{Key: "address", Value: "asa@example.org"}, {Key: "verified", Value: false}}}},
			{Key: "type", Value: "user"}, {Key: "status", Value: "online"}, {Key: "active", Value: true}, {Key: "roles", Value: bson.A{"admin", "user"}},
			{Key: "language", Value: "sv"}, {Key: "utcOffset", Value: 2},
			{Key: "services", Value: bson.D{
				{Key: "password", Value: bson.D{{Key: "bcrypt", Value: "$2b$10$notarealhashnotarealhashnotarealhashnotarealhashnot"}}},
				{Key: "resume", Value: bson.D{{Key: "loginTokens", Value: bson.A{
					tok(ms(testNow.Add(-24*time.Hour)), adminLoginToken),
					bson.D{{Key: "hashedToken", Value: export.HashToken(adminPAT)}, {Key: "type", Value: "personalAccessToken"},
						{Key: "createdAt", Value: ms(testNow.AddDate(-4, 0, 0))}, {Key: "lastTokenPart", Value: "9f2Kx"}, {Key: "name", Value: "ci"}, {Key: "bypassTwoFactor", Value: false}},
					tok(ms(testNow.AddDate(0, 0, -100)), adminExpiredToken),
					bson.D{{Key: "when", Value: ms(testNow)}, {Key: "hashedToken", Value: int32(7)}}, // malformed: skipped, user kept
				}}}},
			}},
		},
		bson.D{
			{Key: "_id", Value: aliceID}, {Key: "username", Value: "alice"}, {Key: "name", Value: "Alice Ångström"},
			{Key: "emails", Value: bson.A{bson.D{{Key: "address", Value: "alice@example.org"}}}}, {Key: "active", Value: true}, {Key: "roles", Value: bson.A{"user"}},
			{Key: "services", Value: bson.D{{Key: "resume", Value: bson.D{{Key: "loginTokens", Value: bson.A{
				tok(ms(testNow.Add(-time.Hour)), aliceToken),
				bson.D{{Key: "when", Value: ms(testNow.Add(-time.Hour))}, {Key: "token", Value: aliceLegacyToken}}, // Meteor before hashing
			}}}}}},
		},
		bson.D{{Key: "_id", Value: daveID}, {Key: "username", Value: "dave"}, {Key: "active", Value: false}, {Key: "roles", Value: bson.A{"admin"}},
			{Key: "services", Value: bson.D{{Key: "resume", Value: bson.D{{Key: "loginTokens", Value: bson.A{tok(ms(testNow.Add(-time.Hour)), daveToken)}}}}}}},
		// No "active" at all: Rocket.Chat treats that as not activated.
		bson.D{{Key: "_id", Value: bobID}, {Key: "username", Value: "bob"}, {Key: "roles", Value: bson.A{"admin"}},
			{Key: "services", Value: bson.D{{Key: "resume", Value: bson.D{{Key: "loginTokens", Value: bson.A{tok(ms(testNow.Add(-time.Hour)), bobToken)}}}}}}},
		bson.D{{Key: "_id", Value: botID}, {Key: "username", Value: "rocket.cat"}, {Key: "name", Value: "Rocket.Cat"}, {Key: "type", Value: "bot"}, {Key: "active", Value: true}, {Key: "roles", Value: bson.A{"bot"}}},
	)
	badDoc(Users, bson.D{{Key: "username", Value: "nobody"}})                                                          // no _id
	badDoc(Users, bson.D{{Key: "_id", Value: "u-str"}, {Key: "username", Value: "s"}, {Key: "roles", Value: "admin"}}) // roles not an array
	add(Users, corrupt{})

	// roles
	for _, r := range []string{"admin", "user", "bot", "owner", "moderator", "leader", "app"} {
		add(Roles, bson.D{{Key: "_id", Value: r}, {Key: "name", Value: r}, {Key: "scope", Value: "Users"}, {Key: "protected", Value: true}})
	}
	add(Roles, bson.D{{Key: "_id", Value: "kq8Nzw3RWhfJd2wyB"}, {Key: "name", Value: "auditor"}, {Key: "scope", Value: "Subscriptions"}})
	badDoc(Roles, bson.D{{Key: "name", Value: "no-id"}})
	add(Roles, corrupt{})

	// permissions
	add(Permissions,
		bson.D{{Key: "_id", Value: "mail-messages"}, {Key: "roles", Value: bson.A{"admin", "owner"}}, {Key: "_updatedAt", Value: ms(testNow)}},
		bson.D{{Key: "_id", Value: "view-c-room"}, {Key: "roles", Value: bson.A{"admin", "user", "bot", "app"}}},
		bson.D{{Key: "_id", Value: "api-bypass-rate-limit"}, {Key: "roles", Value: bson.A{"admin", "bot", "app"}}},
		bson.D{{Key: "_id", Value: "change-setting-Site_Url"}, {Key: "level", Value: "settings"}, {Key: "groupPermissionId", Value: "manage-selected-settings"}, {Key: "roles", Value: bson.A{}}},
	)
	badDoc(Permissions, bson.D{{Key: "_id", Value: "bad-roles"}, {Key: "roles", Value: bson.A{"admin", int32(3)}}})
	add(Permissions, corrupt{})

	// rooms
	add(Rooms,
		bson.D{{Key: "_id", Value: generalID}, {Key: "t", Value: "c"}, {Key: "name", Value: "general"}, {Key: "fname", Value: "General"}, {Key: "topic", Value: "Everything <b>goes</b>"},
			{Key: "default", Value: true}, {Key: "msgs", Value: int32(1234)}, {Key: "usersCount", Value: int32(3)}, {Key: "ts", Value: ms(testNow.AddDate(-3, 0, 0))}},
		bson.D{{Key: "_id", Value: projectID}, {Key: "t", Value: "p"}, {Key: "name", Value: "project"}, {Key: "fname", Value: "Projekt ✨"}, {Key: "u", Value: bson.D{{Key: "_id", Value: adminID}, {Key: "username", Value: "admin"}}}},
		bson.D{{Key: "_id", Value: directID}, {Key: "t", Value: "d"}, {Key: "usernames", Value: bson.A{"admin", "alice"}}, {Key: "uids", Value: bson.A{adminID, aliceID}}},
		bson.D{{Key: "_id", Value: discID}, {Key: "t", Value: "p"}, {Key: "name", Value: "disc-name"}, {Key: "fname", Value: "A discussion"}, {Key: "prid", Value: generalID}},
		bson.D{{Key: "_id", Value: teamRoom}, {Key: "t", Value: "c"}, {Key: "name", Value: "engineering"}, {Key: "teamId", Value: "T-1"}, {Key: "teamMain", Value: true}},
	)
	badDoc(Rooms, bson.D{{Key: "_id", Value: "r-no-type"}, {Key: "name", Value: "x"}})
	add(Rooms, corrupt{})

	// subscriptions
	sub := func(id, rid, uid, user string, roles ...string) bson.D {
		d := bson.D{{Key: "_id", Value: id}, {Key: "rid", Value: rid}, {Key: "u", Value: bson.D{{Key: "_id", Value: uid}, {Key: "username", Value: user}}},
			{Key: "open", Value: true}, {Key: "alert", Value: false}, {Key: "unread", Value: int32(0)}, {Key: "ls", Value: ms(testNow)}}
		if len(roles) > 0 {
			arr := bson.A{}
			for _, r := range roles {
				arr = append(arr, r)
			}
			d = append(d, bson.E{Key: "roles", Value: arr})
		}
		return d
	}
	add(Subscriptions,
		sub("s1", generalID, adminID, "admin", "owner"),
		sub("s2", generalID, aliceID, "alice"),
		sub("s3", projectID, adminID, "admin", "owner"),
		sub("s4", directID, adminID, "admin"),
		sub("s5", directID, aliceID, "alice"),
		sub("s6", discID, adminID, "admin"),
	)
	badDoc(Subscriptions, bson.D{{Key: "_id", Value: "s-bad"}, {Key: "rid", Value: generalID}})
	add(Subscriptions, corrupt{})

	// uploads and their bytes
	upload := func(id, name, typ, store string, size int64, extra ...bson.E) bson.D {
		d := bson.D{{Key: "_id", Value: id}, {Key: "name", Value: name}, {Key: "size", Value: size}, {Key: "type", Value: typ}, {Key: "rid", Value: generalID},
			{Key: "userId", Value: adminID}, {Key: "store", Value: store}, {Key: "complete", Value: true}, {Key: "uploading", Value: false},
			{Key: "progress", Value: 1.0}, {Key: "uploadedAt", Value: ms(testNow)}, {Key: "path", Value: "/ufs/" + store + "/" + id + "/" + name}}
		return append(d, extra...)
	}
	gridBytes := bytesOf(2*gridChunkSize + 345)
	smallBytes := []byte("a,b\n1,2\n")
	fsBytes := append([]byte("%PDF-1.4\n"), bytesOf(500)...)
	s3Bytes := bytesOf(777)
	holey := bytesOf(2*gridChunkSize + 1)
	fx.blobs[fileGrid], fx.blobs[fileGridSmall], fx.blobs[fileGridEmpty] = gridBytes, smallBytes, []byte{}
	fx.blobs[fileFS], fx.blobs[fileS3] = fsBytes, s3Bytes
	fx.dirFiles[fileFS+".pdf"] = fsBytes
	fx.dirFiles[filepath.FromSlash(s3Path)] = s3Bytes
	fx.dirFiles["unrelated.txt"] = []byte("not an upload")
	add(Uploads,
		upload(fileGrid, "diagram.png", "image/png", "GridFS:Uploads", int64(len(gridBytes)), bson.E{Key: "identify", Value: bson.D{{Key: "format", Value: "png"}}}),
		upload(fileGridSmall, "data.csv", "text/csv", "GridFS:Uploads", 0), // size missing in metadata: taken from the bytes
		upload(fileGridEmpty, "empty.txt", "text/plain", "GridFS:Uploads", 0),
		upload(fileFS, "report.pdf", "application/pdf", "FileSystem:Uploads", int64(len(fsBytes)), bson.E{Key: "extension", Value: "pdf"}),
		upload(fileS3, "photo.jpg", "image/jpeg", "AmazonS3:Uploads", int64(len(s3Bytes)), bson.E{Key: "AmazonS3", Value: bson.D{{Key: "path", Value: s3Path}}}),
		upload(fileMissing, "lost.txt", "text/plain", "GridFS:Uploads", 12),
		upload(fileHoley, "holey.bin", "application/octet-stream", "GridFS:Uploads", int64(len(holey))),
	)
	incomplete := upload(fileIncomplete, "partial.bin", "application/octet-stream", "GridFS:Uploads", 10)
	incomplete[7].Value = false // complete
	badDoc(Uploads, incomplete)
	badDoc(Uploads, bson.D{{Key: "_id", Value: "f-bad-size"}, {Key: "name", Value: "x"}, {Key: "size", Value: "big"}})
	badDoc(Uploads, bson.D{{Key: "_id", Value: "../escape"}, {Key: "name", Value: "x"}})
	add(Uploads, corrupt{})

	// GridFS bucket: files, then chunks out of order and interleaved
	gfile := func(id string, length int) bson.D {
		return bson.D{{Key: "_id", Value: id}, {Key: "length", Value: int64(length)}, {Key: "chunkSize", Value: int32(gridChunkSize)},
			{Key: "uploadDate", Value: ms(testNow)}, {Key: "filename", Value: id}, {Key: "contentType", Value: "application/octet-stream"}}
	}
	chunk := func(id string, n int, data []byte) bson.D {
		return bson.D{{Key: "_id", Value: bson.NewObjectIDFromTimestamp(testNow)}, {Key: "files_id", Value: id}, {Key: "n", Value: int32(n)},
			{Key: "data", Value: bson.Binary{Subtype: 0, Data: data}}}
	}
	part := func(b []byte, n int) []byte { return b[n*gridChunkSize : min(len(b), (n+1)*gridChunkSize)] }
	add(GridFSFiles, gfile(fileGrid, len(gridBytes)), gfile(fileGridSmall, len(smallBytes)), gfile(fileGridEmpty, 0), gfile(fileHoley, len(holey)))
	badDoc(GridFSFiles, bson.D{{Key: "_id", Value: "g-bad"}, {Key: "length", Value: int64(10)}}) // no chunkSize
	add(GridFSChunks,
		chunk(fileGrid, 2, part(gridBytes, 2)),
		chunk(fileGridSmall, 0, smallBytes),
		chunk(fileGrid, 0, part(gridBytes, 0)),
		chunk(fileHoley, 0, part(holey, 0)),
		chunk(fileHoley, 2, part(holey, 2)), // chunk 1 never comes
		chunk(fileGrid, 1, part(gridBytes, 1)),
	)
	badDoc(GridFSChunks, chunk("g-unknown", 0, []byte("x")))
	badDoc(GridFSChunks, chunk(fileGrid, 7, []byte("x")))
	add(GridFSChunks, corrupt{})

	// messages
	base := time.Date(2021, 11, 24, 9, 0, 0, 0, time.UTC)
	at := func(min int, msec int) time.Time {
		return base.Add(time.Duration(min)*time.Minute + time.Duration(msec)*time.Millisecond)
	}
	edited := at(30, 5)
	quoteTS := at(1, 0)
	admin := func(m srcMsg) srcMsg { m.uid, m.user, m.name = adminID, "admin", "Åsa Admin"; return m }
	alice := func(m srcMsg) srcMsg { m.uid, m.user, m.name = aliceID, "alice", "Alice Ångström"; return m }
	grid := srcFile{fileGrid, "diagram.png", "image/png", int64(len(gridBytes))}
	msgs := []srcMsg{
		admin(srcMsg{id: "m01", rid: generalID, ts: at(1, 0), msg: "Hello *world* — _ünïcödé_ 你好 שלום :tada:\nsecond line <script>alert(1)</script>"}),
		alice(srcMsg{id: "m02", rid: generalID, ts: at(2, 0), msg: "alice", t: "uj"}),
		admin(srcMsg{id: "m03", rid: generalID, ts: at(3, 0), msg: "", file: &grid, files: []srcFile{grid},
			atts: []srcAtt{{title: "diagram.png", titleLink: "/file-upload/f-grid/diagram.png", description: "the plan", imageURL: "/file-upload/f-grid/diagram.png", typ: "file"}}}),
		alice(srcMsg{id: "m04", rid: generalID, ts: at(4, 0), msg: "reply in thread", tmid: "m01",
			reactions: map[string][]string{":tada:": {"admin", "alice"}, ":+1:": {"alice"}}}),
		admin(srcMsg{id: "m05", rid: generalID, ts: at(5, 0), msg: "edited text", editedAt: &edited, editedBy: "admin"}),
		admin(srcMsg{id: "m05-old", rid: generalID, ts: at(5, 0), msg: "original text", hidden: true}),
		alice(srcMsg{id: "m06", rid: generalID, ts: at(6, 0), msg: "quoting",
			atts: []srcAtt{{text: "Hello *world*", authorName: "admin", messageLink: "http://chat.example.org/channel/general?msg=m01", ts: &quoteTS,
				atts: []srcAtt{{text: "nested quote"}}}}}),
		admin(srcMsg{id: "m07", rid: generalID, ts: at(7, 0), msg: "A discussion", t: "discussion-created", drid: discID}),
		admin(srcMsg{id: "m08", rid: generalID, ts: at(8, 0), msg: "alice", t: "subscription-role-added", role: "moderator"}),
		alice(srcMsg{id: "m09b", rid: generalID, ts: at(9, 123), msg: "same millisecond, later id"}),
		admin(srcMsg{id: "m09a", rid: generalID, ts: at(9, 123), msg: "same millisecond, earlier id"}),
		admin(srcMsg{id: "m10", rid: generalID, ts: at(10, 0), msg: "two files", files: []srcFile{
			{fileFS, "report.pdf", "application/pdf", int64(len(fsBytes))}, {fileS3, "photo.jpg", "image/jpeg", int64(len(s3Bytes))}}}),
		admin(srcMsg{id: "m11", rid: generalID, ts: at(11, 0), msg: "a file whose bytes are lost", file: &srcFile{fileMissing, "lost.txt", "text/plain", 12}}),
		admin(srcMsg{id: "m12", rid: generalID, ts: at(12, 0), msg: "small files", files: []srcFile{
			{fileGridSmall, "data.csv", "text/csv", int64(len(smallBytes))}, {fileGridEmpty, "empty.txt", "text/plain", 0}}}),
		admin(srcMsg{id: "p01", rid: projectID, ts: at(1, 0), msg: "private"}),
		alice(srcMsg{id: "d01", rid: directID, ts: at(1, 0), msg: "direct"}),
		admin(srcMsg{id: "x01", rid: discID, ts: at(1, 0), msg: "in the discussion"}),
	}
	for i := range filler {
		m := srcMsg{id: fmt.Sprintf("f%05d", i), rid: generalID, ts: at(60+i/7, i%7), msg: fmt.Sprintf("filler message %d with some text", i)}
		if i%2 == 0 {
			m = admin(m)
		} else {
			m = alice(m)
		}
		msgs = append(msgs, m)
	}
	fx.msgs = msgs
	for i, m := range msgs {
		add(Messages, m.doc())
		if i == 5 {
			badDoc(Messages, bson.D{{Key: "_id", Value: "no-ts"}, {Key: "rid", Value: generalID}, {Key: "msg", Value: "x"}})
			badDoc(Messages, bson.D{{Key: "_id", Value: "str-ts"}, {Key: "rid", Value: generalID}, {Key: "ts", Value: "2021-11-24T09:00:00Z"}})
			badDoc(Messages, bson.D{{Key: "_id", Value: "bad-u"}, {Key: "rid", Value: generalID}, {Key: "ts", Value: ms(base)}, {Key: "u", Value: "admin"}})
			badDoc(Messages, bson.D{{Key: "_id", Value: "bad-att"}, {Key: "rid", Value: generalID}, {Key: "ts", Value: ms(base)}, {Key: "attachments", Value: bson.D{{Key: "title", Value: "x"}}}})
			add(Messages, corrupt{})
		}
	}
	return fx
}

// badD marks a document that must be skipped (it is a bson.D all the same).
type badD bson.D

// generalLines is the expected JSON export of GENERAL, in (ts, _id) order.
func (fx *fixture) generalLines() []map[string]any {
	var ms []srcMsg
	for _, m := range fx.msgs {
		if m.rid == generalID && !m.hidden {
			ms = append(ms, m)
		}
	}
	sort.SliceStable(ms, func(i, j int) bool {
		if !ms[i].ts.Equal(ms[j].ts) {
			return ms[i].ts.Before(ms[j].ts)
		}
		return ms[i].id < ms[j].id
	})
	out := make([]map[string]any, len(ms))
	for i, m := range ms {
		out[i] = m.line()
	}
	return out
}

// Forms of a dump.
const (
	formBSON      = "bson"          // mongodump
	formBSONGzip  = "bson.gz"       // mongodump --gzip
	formRelaxed   = "relaxed"       // mongoexport (default: relaxed Extended JSON, one a line)
	formCanonical = "canonical"     // mongoexport --jsonFormat=canonical
	formArray     = "relaxed-array" // mongoexport --jsonArray
	formMixed     = "mixed"         // some collections BSON, some Extended JSON
)

// write writes the dump in one form into dir/<database>, like mongodump
// --out dir, and the --files directory into filesDir.
func (fx *fixture) write(t testing.TB, dir, filesDir, form string) {
	t.Helper()
	db := filepath.Join(dir, "rocketchat")
	must(t, os.MkdirAll(db, 0o755))
	for i, coll := range Collections() {
		f := form
		if form == formMixed {
			f = []string{formBSON, formRelaxed, formCanonical, formArray}[i%4]
		}
		writeCollection(t, db, coll, f, fx.colls[coll])
	}
	for rel, data := range fx.dirFiles {
		p := filepath.Join(filesDir, rel)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, data, 0o644))
	}
}

// writeCollection writes one collection file in a form.
func writeCollection(t testing.TB, dir, coll, form string, docs []any) {
	t.Helper()
	var buf bytes.Buffer
	switch form {
	case formBSON, formBSONGzip:
		for _, d := range docs {
			buf.Write(bsonBytes(t, d))
		}
	case formRelaxed, formCanonical:
		for _, d := range docs {
			buf.Write(extJSON(t, d, form == formCanonical, false))
			buf.WriteByte('\n')
		}
	case formArray:
		buf.WriteString("[")
		for i, d := range docs {
			if i > 0 {
				buf.WriteString(",\n")
			}
			buf.Write(extJSON(t, d, false, true))
		}
		buf.WriteString("]\n")
	default:
		t.Fatalf("unknown form %q", form)
	}
	name := coll + ".json"
	data := buf.Bytes()
	switch form {
	case formBSON:
		name = coll + ".bson"
	case formBSONGzip:
		name = coll + ".bson.gz"
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		w.Write(data)
		must(t, w.Close())
		data = gz.Bytes()
	}
	must(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	if form == formBSON || form == formBSONGzip {
		// mongodump writes metadata next to each collection; Scan must ignore it.
		must(t, os.WriteFile(filepath.Join(dir, coll+".metadata.json"), []byte(`{"indexes":[],"uuid":"x","collectionName":"`+coll+`"}`), 0o644))
	}
}

// bsonBytes is a document as mongodump writes it; corrupt{} becomes a
// document of the right length whose string length is wrong.
func bsonBytes(t testing.TB, d any) []byte {
	t.Helper()
	switch d := d.(type) {
	case bson.D:
		b, err := bson.Marshal(d)
		must(t, err)
		return b
	case badD:
		return bsonBytes(t, bson.D(d))
	case corrupt:
		b, err := bson.Marshal(bson.D{{Key: "_id", Value: "corrupt"}, {Key: "s", Value: "abcdef"}})
		must(t, err)
		// the string "corrupt" starts after 4 (doc length) + 1 (type) + 4 ("_id\0")
		binary.LittleEndian.PutUint32(b[9:], 1000)
		return b
	}
	t.Fatalf("unknown fixture entry %T", d)
	return nil
}

// extJSON is a document as mongoexport writes it; corrupt{} becomes a line
// that is not JSON, or (in an array, where that would end the file) a
// $date that is not a date.
func extJSON(t testing.TB, d any, canonical, inArray bool) []byte {
	t.Helper()
	switch d := d.(type) {
	case bson.D:
		b, err := bson.MarshalExtJSON(d, canonical, false)
		must(t, err)
		return b
	case badD:
		return extJSON(t, bson.D(d), canonical, inArray)
	case corrupt:
		if inArray {
			return []byte(`{"_id":"corrupt","ts":{"$date":"not a date"}}`)
		}
		return []byte(`{"_id":"corrupt","ts":{"$date":`)
	}
	t.Fatalf("unknown fixture entry %T", d)
	return nil
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

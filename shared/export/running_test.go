package export

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// countingDirectory answers token and job lookups with "not found" and
// notes how many calls Running counted while it was asked.
type countingDirectory struct {
	Directory
	JobStore
	running *atomic.Int64
	seen    []int64
}

func (d *countingDirectory) UserByID(context.Context, string) (chat.User, error) {
	return chat.User{}, chat.ErrNotFound
}

func (d *countingDirectory) TokenByHash(context.Context, string) (chat.Token, error) {
	d.seen = append(d.seen, d.running.Load())
	return chat.Token{}, chat.ErrNotFound
}

func (d *countingDirectory) Job(context.Context, string) (chat.Job, error) {
	d.seen = append(d.seen, d.running.Load())
	return chat.Job{}, chat.ErrNotFound
}

// TestRunningCounts: Export and Run count themselves in Service.Running
// while they work, and not after they return, failed or not.
func TestRunningCounts(t *testing.T) {
	var running atomic.Int64
	d := &countingDirectory{running: &running}
	s := &Service{Directory: d, Jobs: d, Running: &running}

	if _, err := s.Export(context.Background(), Credentials{UserID: "u", Token: "t"}, []byte(`{}`), "http://x"); err == nil {
		t.Fatal("Export with an unknown token succeeded")
	}
	if err := s.Run(context.Background(), "no-such-job"); err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("Run of an unknown job: %v", err)
	}
	if len(d.seen) != 2 || d.seen[0] != 1 || d.seen[1] != 1 {
		t.Errorf("Running during Export and Run: %v, want [1 1]", d.seen)
	}
	if n := running.Load(); n != 0 {
		t.Errorf("Running after both returned: %d, want 0", n)
	}

	s.Running = nil // unset: nothing counted, nothing breaks
	_, _ = s.Export(context.Background(), Credentials{UserID: "u", Token: "t"}, []byte(`{}`), "http://x")
	if n := running.Load(); n != 0 || len(d.seen) != 3 || d.seen[2] != 0 {
		t.Errorf("Running unset: counter %d, seen %v", n, d.seen)
	}
}

// uploadsDirectory answers Uploads from a map and records what it was asked.
type uploadsDirectory struct {
	Directory
	have  map[string]chat.Upload
	asked [][]string
}

func (d *uploadsDirectory) Uploads(_ context.Context, ids []string) (map[string]chat.Upload, error) {
	d.asked = append(d.asked, ids)
	out := map[string]chat.Upload{}
	for _, id := range ids {
		if u, ok := d.have[id]; ok {
			out[id] = u
		}
	}
	return out, nil
}

// TestLookupIDsKnown: records already looked up (found or not found) are
// not asked for again; a failed earlier lookup is, once per id.
func TestLookupIDsKnown(t *testing.T) {
	d := &uploadsDirectory{have: map[string]chat.Upload{"c": {ID: "c"}, "d": {ID: "d"}}}
	s := &Service{Directory: d}
	known := map[string]uploadResult{
		"a": {up: chat.Upload{ID: "a"}},
		"b": {err: chat.ErrNotFound},
		"c": {err: errors.New("throttled")},
	}
	got := s.lookupIDs(context.Background(), []string{"a", "b", "c", "d", "c", "a", "e"}, known)
	if len(d.asked) != 1 || strings.Join(d.asked[0], ",") != "c,d,e" {
		t.Fatalf("asked the directory for %v, want [[c d e]]", d.asked)
	}
	for id, want := range map[string]string{"a": "a", "c": "c", "d": "d"} {
		if r := got[id]; r.err != nil || r.up.ID != want {
			t.Errorf("%s: %+v", id, r)
		}
	}
	for _, id := range []string{"b", "e"} {
		if r := got[id]; !errors.Is(r.err, chat.ErrNotFound) {
			t.Errorf("%s: %+v, want not found", id, r)
		}
	}
	if len(got) != 5 {
		t.Errorf("%d results, want 5", len(got))
	}
}

// batchDirectory is a RecordReader whose records are in a map; any other
// Directory call panics (its Directory is nil).
type batchDirectory struct {
	Directory
	records map[RecordKey]RecordResult
	calls   [][]RecordKey
}

func (d *batchDirectory) ReadRecords(_ context.Context, keys []RecordKey) []RecordResult {
	d.calls = append(d.calls, keys)
	out := make([]RecordResult, len(keys))
	for i, k := range keys {
		r, ok := d.records[k]
		if !ok {
			r.Err = chat.ErrNotFound
		}
		out[i] = r
	}
	return out
}

// TestReadTogether: on a RecordReader a request's reads go out as one call
// — the token and the user, the three permissions, the subscription and
// the room — and the checks answer as they do record by record, in SPEC
// order: a wrong token is a 401 whatever the body and the room, a body
// that does not parse reads the token and user alone, a missing room is
// error-invalid-room, and a public channel is open to a non-member through
// view-c-room read in the same call (any other Directory call panics).
func TestReadTogether(t *testing.T) {
	hash := HashToken("tok")
	records := map[RecordKey]RecordResult{
		{Kind: RecordUser, ID: "u1"}:                 {User: chat.User{ID: "u1", Username: "admin", Active: true, Roles: []string{"admin", "user"}}},
		{Kind: RecordToken, ID: hash}:                {Token: chat.Token{Hash: hash, UserID: "u1", Type: chat.TokenPersonal}},
		{Kind: RecordPermission, ID: PermBypassRate}: {Roles: []string{"admin"}},
		{Kind: RecordRoom, ID: "open"}:               {Room: chat.Room{ID: "open", Type: chat.RoomChannel, Name: "open"}},
		// mail-messages and view-c-room have no record: the defaults apply
	}
	for _, c := range []struct {
		name, token, body string
		code              string // "" for no chat error
		keys              int
	}{
		{"missing room", "tok", `{"rid":"nope","type":"file","format":"json"}`, chat.CodeInvalidRoom, 7},
		{"wrong token, missing room", "bad", `{"rid":"nope","type":"file","format":"json"}`, chat.CodeUnauthorized, 7},
		{"wrong token, bad body", "bad", `{"rid":`, chat.CodeUnauthorized, 2},
		{"bad body", "tok", `{"rid":`, chat.CodeInvalidParams, 2},
		// past the access checks: the stores the export starts with
		{"public channel, not a member", "tok", `{"rid":"open","type":"file","format":"json"}`, "", 7},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := &batchDirectory{records: records}
			s := &Service{Directory: d, Messages: pastAccess{}, Jobs: pastAccess{}}
			_, err := s.Export(context.Background(), Credentials{UserID: "u1", Token: c.token}, []byte(c.body), "http://x")
			var ce *chat.Error
			switch {
			case c.code == "":
				if !errors.Is(err, errPastAccess) {
					t.Fatalf("Export: %v, want it to go past the access checks", err)
				}
			case !errors.As(err, &ce) || ce.Code != c.code:
				t.Fatalf("Export: %v, want %s", err, c.code)
			}
			if len(d.calls) != 1 || len(d.calls[0]) != c.keys {
				t.Errorf("ReadRecords calls %v, want one of %d records", d.calls, c.keys)
			}
		})
	}
}

var errPastAccess = errors.New("past the access checks")

// pastAccess is a message and job store that answers the first calls of
// an export that passed its checks with errPastAccess; any other call
// panics.
type pastAccess struct {
	MessageStore
	JobStore
}

func (pastAccess) MessagePage(context.Context, MessageQuery) ([]chat.Message, bool, error) {
	return nil, false, errPastAccess
}

func (pastAccess) ActiveJob(context.Context, string, string) (chat.Job, error) {
	return chat.Job{}, errPastAccess
}

package gen

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// recordingSink keeps what it is given and the order of the calls.
type recordingSink struct {
	calls    []string
	users    []chat.User
	tokens   []chat.Token
	rooms    []chat.Room
	subs     []chat.Subscription
	msgs     []chat.Message
	uploads  map[string]chat.Upload
	maxBatch int
}

var _ workspace.Sink = (*recordingSink)(nil)

func (s *recordingSink) PutUsers(_ context.Context, v []chat.User) error {
	s.calls = append(s.calls, "users")
	s.users = append(s.users, v...)
	return nil
}

func (s *recordingSink) PutTokens(_ context.Context, v []chat.Token) error {
	s.calls = append(s.calls, "tokens")
	s.tokens = append(s.tokens, v...)
	return nil
}

func (s *recordingSink) PutPermissions(context.Context, []chat.Permission) error {
	s.calls = append(s.calls, "permissions")
	return nil
}

func (s *recordingSink) PutRooms(_ context.Context, v []chat.Room) error {
	s.calls = append(s.calls, "rooms")
	s.rooms = append(s.rooms, v...)
	return nil
}

func (s *recordingSink) PutSubscriptions(_ context.Context, v []chat.Subscription) error {
	s.calls = append(s.calls, "subscriptions")
	s.subs = append(s.subs, v...)
	return nil
}

func (s *recordingSink) PutMessages(_ context.Context, v []chat.Message) error {
	s.calls = append(s.calls, "messages")
	s.maxBatch = max(s.maxBatch, len(v))
	s.msgs = append(s.msgs, v...)
	return nil
}

func (s *recordingSink) PutUploads(_ context.Context, v []chat.Upload) error {
	s.calls = append(s.calls, "uploads")
	if s.uploads == nil {
		s.uploads = map[string]chat.Upload{}
	}
	for _, u := range v {
		s.uploads[u.ID] = u
	}
	return nil
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := &recordingSink{}, &recordingSink{}
	cfg := Config{Messages: 3000, Seed: 7, Batch: 700}
	ha, ca, err := Generate(t.Context(), a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hb, cb, err := Generate(t.Context(), b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ha, hb) || !reflect.DeepEqual(ca, cb) || !reflect.DeepEqual(a.msgs, b.msgs) {
		t.Fatal("the same config wrote different rooms")
	}
	if ha.Room.ID != New(cfg).Header().Room.ID || ha.Token != New(Config{Seed: 7}).Header().Token {
		t.Fatal("the header must depend on the seed only")
	}
	if other := New(Config{Seed: 8}).Header(); other.Room.ID == ha.Room.ID || other.Token == ha.Token {
		t.Fatal("another seed must give another room")
	}
}

func TestGenerateStreamsInBatches(t *testing.T) {
	s := &recordingSink{}
	h, c, err := Generate(t.Context(), s, Config{Messages: 5000, Seed: 1, Batch: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if c.Messages != 5000 || len(s.msgs) != c.Messages+c.Hidden {
		t.Fatalf("counts %+v, %d messages written", c, len(s.msgs))
	}
	// A batch is Batch visible messages plus the history copies among them.
	if s.maxBatch > 1000+c.Hidden || s.maxBatch < 1000 {
		t.Fatalf("largest batch %d", s.maxBatch)
	}
	if got := strings.Join(s.calls[:4], ","); got != "users,tokens,rooms,subscriptions" {
		t.Fatalf("calls start %s", got)
	}
	// Every file's upload is written before the message that points at it.
	written := map[string]bool{}
	i := 0
	for _, call := range s.calls {
		if call == "uploads" {
			for id := range s.uploads {
				written[id] = true
			}
		}
		if call != "messages" {
			continue
		}
		for ; i < len(s.msgs); i++ {
			for _, f := range s.msgs[i].AllFiles() {
				if !written[f.ID] {
					t.Fatalf("message %s points at upload %s before it is written", s.msgs[i].ID, f.ID)
				}
			}
		}
	}
	if len(s.users) != DefaultAuthors+1 || len(s.subs) != len(s.users) || len(s.rooms) != 1 || len(s.tokens) != 1 {
		t.Fatalf("%d users, %d subs, %d rooms, %d tokens", len(s.users), len(s.subs), len(s.rooms), len(s.tokens))
	}
	if s.tokens[0].UserID != h.Exporter.ID || s.tokens[0].Hash == h.Token || s.tokens[0].Type != chat.TokenPersonal {
		t.Fatalf("token record %+v", s.tokens[0])
	}
}

func TestRoomLooksLikeAChatRoom(t *testing.T) {
	const n = 40000
	s := &recordingSink{}
	h, c, err := Generate(t.Context(), s, Config{Messages: n, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	share := func(k int) float64 { return float64(k) / n }
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > want*0.2 {
			t.Errorf("%s: %.3f of the messages, want about %.3f", what, got, want)
		}
	}
	near("system", share(c.System), shareSystem)
	near("files", share(c.Files), shareFile)
	near("replies", share(c.Replies), shareReply)
	near("reactions", share(c.Reactions), shareReaction)
	near("edited", share(c.Edited), shareEdited)
	if c.MultiLine < n/20 {
		t.Errorf("only %d multi-line messages", c.MultiLine)
	}
	if span := c.Last.Sub(c.First); span < 600*24*time.Hour || span > 860*24*time.Hour {
		t.Errorf("messages span %s, want about two years", span)
	}

	ids := map[string]chat.Message{}
	types := map[string]bool{}
	authors := map[string]int{}
	var prev time.Time
	var nonASCII, emoji, markdown int
	for _, m := range s.msgs {
		if m.Hidden {
			continue
		}
		if m.TS.Before(prev) {
			t.Fatalf("message %s goes back in time", m.ID)
		}
		prev = m.TS
		if _, dup := ids[m.ID]; dup {
			t.Fatalf("duplicate id %s", m.ID)
		}
		ids[m.ID] = m
		authors[m.U.Username]++
		if m.Type != "" {
			types[m.Type] = true
			continue
		}
		if m.ThreadID != "" {
			parent, ok := ids[m.ThreadID]
			if !ok || parent.ThreadID != "" || parent.Type != "" {
				t.Fatalf("reply %s points at %q, not an earlier top-level message", m.ID, m.ThreadID)
			}
		}
		text := m.Msg
		if fs := m.AllFiles(); len(fs) > 0 {
			if _, ok := s.uploads[fs[0].ID]; !ok || len(m.Attachments) != 1 {
				t.Fatalf("file message %s: upload or attachment missing", m.ID)
			}
			text = m.Attachments[0].Description
			if text == "" {
				continue
			}
		}
		if l := utf8.RuneCountInString(text); l < minText || l > maxText {
			t.Fatalf("message %s has %d characters", m.ID, l)
		}
		if strings.ContainsFunc(text, func(r rune) bool { return r > 0x7f && r < 0x1f000 }) {
			nonASCII++
		}
		if strings.ContainsFunc(text, func(r rune) bool { return r >= 0x1f300 }) {
			emoji++
		}
		if strings.ContainsAny(text, "*_`~") {
			markdown++
		}
	}
	if len(types) < 12 {
		t.Errorf("only %d system-message types", len(types))
	}
	if nonASCII < n/10 || emoji < n/20 || markdown < n/20 {
		t.Errorf("non-ASCII %d, emoji %d, markdown %d of %d", nonASCII, emoji, markdown, n)
	}
	if len(authors) != len(h.Authors) || authors[h.Authors[0].Username] < 3*authors[h.Authors[len(h.Authors)-1].Username] {
		t.Errorf("authors %v: want all of them, the first far more often than the last", authors)
	}
}

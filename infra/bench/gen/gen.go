// Package gen generates realistic Rocket.Chat rooms of any size for the
// benchmark (issue 4) and for tests that need a big room: varied text of
// 10–500 characters (words, markdown, non-ASCII scripts, emoji, several
// lines), about twenty authors who do not talk equally, 5% messages with an
// uploaded file, 3% system messages of various types, 10% thread replies,
// reactions, and edits with their hidden history copies, over about two years.
//
// Rooms are deterministic: everything is drawn from a PCG seeded with
// Config.Seed, so the same Config always writes the same records. Generate
// streams into a workspace.Sink in batches and never holds the room; a
// Generator yields one message at a time for callers that want them in
// memory (benchmarks of the renderers).
package gen

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// Defaults of Config.
const (
	DefaultAuthors = 20
	DefaultBatch   = 10000
	DefaultSpan    = 730 * 24 * time.Hour
)

// DefaultStart is the instant of the first message when Config.Start is zero.
func DefaultStart() time.Time { return time.Date(2023, 1, 1, 8, 0, 0, 0, time.UTC) }

// The shares of message kinds (of all visible messages).
const (
	shareSystem   = 0.03
	shareFile     = 0.05
	shareReply    = 0.10
	shareReaction = 0.07
	shareEdited   = 0.02
)

// Config describes one generated room. Zero fields take the defaults.
type Config struct {
	Messages int       // visible messages of the room
	Seed     uint64    // the same seed writes the same room
	Authors  int       // DefaultAuthors when 0
	Start    time.Time // first message; DefaultStart when zero
	Span     time.Duration
	Batch    int // messages per Sink.PutMessages call; DefaultBatch when 0
}

func (c Config) withDefaults() Config {
	if c.Authors <= 0 {
		c.Authors = DefaultAuthors
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart()
	}
	if c.Span <= 0 {
		c.Span = DefaultSpan
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	return c
}

// Header is everything about a generated room but its messages: the room,
// its authors, and an admin who may export it (a member with a personal
// access token, so it never expires). It depends only on the seed and the
// number of authors.
type Header struct {
	Room     chat.Room
	Authors  []chat.User
	Exporter chat.User
	// Token is the exporter's X-Auth-Token; the store keeps only its hash.
	Token string
}

// Credentials are the exporter's X-User-Id and X-Auth-Token.
func (h Header) Credentials() export.Credentials {
	return export.Credentials{UserID: h.Exporter.ID, Token: h.Token}
}

// Counts says what a room holds.
type Counts struct {
	Messages  int // visible messages
	Hidden    int // edit-history copies (_hidden), never exported
	System    int
	Replies   int
	Files     int // messages with a file (each has an upload record)
	Reactions int // messages with reactions
	Edited    int
	MultiLine int
	Bytes     int64 // bytes of message text
	First     time.Time
	Last      time.Time
}

// Item is one generated message, with the hidden history copy an edit left
// and the upload record of its file, when it has them.
type Item struct {
	Message chat.Message
	History *chat.Message
	Upload  *chat.Upload
}

// Generator yields the messages of a room in (ts, _id) order.
type Generator struct {
	cfg     Config
	rng     *rand.Rand
	hdr     Header
	weights []float64 // cumulative speaking weights of the authors
	parents ring      // recent top-level messages, for thread replies
	ts      int64     // ms of the last message
	gapMs   float64   // mean gap between messages
	n       int
	counts  Counts
}

// New returns a generator of the room cfg describes.
func New(cfg Config) *Generator {
	cfg = cfg.withDefaults()
	g := &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed_b3c4))}
	g.hdr = g.header()
	g.weights = zipf(len(g.hdr.Authors))
	g.ts = cfg.Start.UnixMilli()
	if cfg.Messages > 0 {
		g.gapMs = float64(cfg.Span.Milliseconds()) / float64(cfg.Messages)
	}
	return g
}

// Header returns the room, its authors and its exporter.
func (g *Generator) Header() Header { return g.hdr }

// Counts returns what the messages yielded so far hold.
func (g *Generator) Counts() Counts { return g.counts }

// More reports whether Next has messages left to yield.
func (g *Generator) More() bool { return g.n < g.cfg.Messages }

// Next yields the next message. Past Config.Messages it goes on: callers
// that want a fixed number stop at More.
func (g *Generator) Next() Item {
	g.n++
	// Exponential gaps: a Poisson process over the span, so that the last
	// message lands about Span after the first. A gap under a millisecond
	// puts two messages in the same millisecond, as happens in busy rooms.
	if g.n > 1 {
		g.ts += int64(g.rng.ExpFloat64() * g.gapMs)
	}
	ts := time.UnixMilli(g.ts).UTC()
	author := g.author()
	m := chat.Message{ID: g.id(), RoomID: g.hdr.Room.ID, TS: ts, U: ref(author)}
	var it Item
	switch r := g.rng.Float64(); {
	case r < shareSystem:
		g.system(&m)
		g.counts.System++
	default:
		if g.rng.Float64() < shareReply/(1-shareSystem) {
			if parent, ok := g.parents.pick(g.rng); ok {
				m.ThreadID = parent
				g.counts.Replies++
			}
		}
		m.Msg = g.text()
		if g.rng.Float64() < shareFile/(1-shareSystem) {
			it.Upload = g.file(&m)
			g.counts.Files++
		}
		if g.rng.Float64() < shareReaction/(1-shareSystem) {
			m.Reactions = g.reactions()
			g.counts.Reactions++
		}
		if g.rng.Float64() < shareEdited/(1-shareSystem) {
			it.History = g.edit(&m, author)
			g.counts.Edited++
			g.counts.Hidden++
		}
		if m.ThreadID == "" {
			g.parents.add(m.ID)
		}
	}
	if containsNewline(m.Msg) {
		g.counts.MultiLine++
	}
	g.counts.Messages++
	g.counts.Bytes += int64(len(m.Msg))
	if g.counts.First.IsZero() {
		g.counts.First = ts
	}
	g.counts.Last = ts
	it.Message = m
	return it
}

// Generate writes the room cfg describes into sink: its authors and
// exporter (with the exporter's token), the room and its subscriptions, then
// the messages in batches of cfg.Batch — each batch's upload records first,
// so no message points at an upload not yet written. It holds one batch at
// a time, whatever the size of the room.
func Generate(ctx context.Context, sink workspace.Sink, cfg Config) (Header, Counts, error) {
	g := New(cfg)
	h := g.Header()
	users := append(append([]chat.User(nil), h.Authors...), h.Exporter)
	if err := sink.PutUsers(ctx, users); err != nil {
		return h, Counts{}, fmt.Errorf("gen: put users: %w", err)
	}
	tok := chat.Token{Hash: export.HashToken(h.Token), UserID: h.Exporter.ID, CreatedAt: g.cfg.Start, Type: chat.TokenPersonal, Name: "benchmark"}
	if err := sink.PutTokens(ctx, []chat.Token{tok}); err != nil {
		return h, Counts{}, fmt.Errorf("gen: put tokens: %w", err)
	}
	if err := sink.PutRooms(ctx, []chat.Room{h.Room}); err != nil {
		return h, Counts{}, fmt.Errorf("gen: put room: %w", err)
	}
	subs := make([]chat.Subscription, 0, len(users))
	for _, u := range users {
		subs = append(subs, chat.Subscription{RoomID: h.Room.ID, UserID: u.ID})
	}
	subs[len(subs)-1].Roles = []string{"owner"}
	if err := sink.PutSubscriptions(ctx, subs); err != nil {
		return h, Counts{}, fmt.Errorf("gen: put subscriptions: %w", err)
	}
	batch := make([]chat.Message, 0, g.cfg.Batch+g.cfg.Batch/10)
	var uploads []chat.Upload
	flush := func() error {
		if len(uploads) > 0 {
			if err := sink.PutUploads(ctx, uploads); err != nil {
				return fmt.Errorf("gen: put uploads: %w", err)
			}
		}
		if len(batch) > 0 {
			if err := sink.PutMessages(ctx, batch); err != nil {
				return fmt.Errorf("gen: put messages: %w", err)
			}
		}
		batch, uploads = batch[:0], uploads[:0]
		return nil
	}
	for n := 0; g.More(); n++ {
		it := g.Next()
		batch = append(batch, it.Message)
		if it.History != nil {
			batch = append(batch, *it.History)
		}
		if it.Upload != nil {
			uploads = append(uploads, *it.Upload)
		}
		if (n+1)%g.cfg.Batch == 0 {
			if err := flush(); err != nil {
				return h, g.Counts(), err
			}
		}
	}
	if err := flush(); err != nil {
		return h, g.Counts(), err
	}
	return h, g.Counts(), nil
}

// header draws the room, the authors and the exporter.
func (g *Generator) header() Header {
	h := Header{Room: chat.Room{ID: g.id(), Type: chat.RoomChannel, Name: "bench-room", FName: "Benchmark room 📊", Topic: "Generated messages for the benchmark"}}
	for i := range g.cfg.Authors {
		p := people[i%len(people)]
		username := p.username
		if i >= len(people) {
			username = fmt.Sprintf("%s%d", p.username, i/len(people)+1)
		}
		h.Authors = append(h.Authors, chat.User{
			ID: g.id(), Username: username, Name: p.name, Emails: []string{username + "@example.com"},
			Roles: []string{"user"}, Active: true,
		})
	}
	h.Exporter = chat.User{ID: g.id(), Username: "bench.admin", Name: "Benchmark Admin",
		Emails: []string{"bench.admin@example.com"}, Roles: []string{"admin", "user"}, Active: true}
	h.Token = g.token()
	return h
}

// author draws who speaks: a few authors say most of it (Zipf-like weights).
func (g *Generator) author() chat.User {
	r := g.rng.Float64() * g.weights[len(g.weights)-1]
	for i, w := range g.weights {
		if r < w {
			return g.hdr.Authors[i]
		}
	}
	return g.hdr.Authors[len(g.hdr.Authors)-1]
}

// other draws an author other than u (u itself when there is no other).
func (g *Generator) other(u chat.UserRef) chat.User {
	a := g.hdr.Authors
	if len(a) == 1 {
		return a[0]
	}
	for {
		if v := a[g.rng.IntN(len(a))]; v.ID != u.ID {
			return v
		}
	}
}

// zipf returns the cumulative weights 1/(i+1)^0.9 of n authors.
func zipf(n int) []float64 {
	out := make([]float64, n)
	sum := 0.0
	for i := range out {
		sum += 1 / math.Pow(float64(i+1), 0.9)
		out[i] = sum
	}
	return out
}

const idAlphabet = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"

// id draws a 17-character Rocket.Chat-style id.
func (g *Generator) id() string {
	var b [17]byte
	for i := range b {
		b[i] = idAlphabet[g.rng.IntN(len(idAlphabet))]
	}
	return string(b[:])
}

// token draws a 43-character personal access token.
func (g *Generator) token() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var b [43]byte
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b[:])
}

func ref(u chat.User) chat.UserRef {
	return chat.UserRef{ID: u.ID, Username: u.Username, Name: u.Name}
}

// ring keeps the ids of the most recent top-level messages: replies go to
// recent threads, and memory stays bounded.
type ring struct {
	ids  [256]string
	n    int
	next int
}

func (r *ring) add(id string) {
	r.ids[r.next] = id
	r.next = (r.next + 1) % len(r.ids)
	r.n = min(r.n+1, len(r.ids))
}

// pick draws a recent id, favouring the newest.
func (r *ring) pick(rng *rand.Rand) (string, bool) {
	if r.n == 0 {
		return "", false
	}
	back := min(int(rng.ExpFloat64()*8), r.n-1) // 0 is the newest
	return r.ids[(r.next-1-back+2*len(r.ids))%len(r.ids)], true
}

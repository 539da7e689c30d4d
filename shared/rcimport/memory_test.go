package rcimport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// bigMessages is the volume of the memory test: enough that holding the
// dump's messages would show in the heap many times over the bound.
const (
	bigMessages = 100_000
	bigText     = 700 // bytes of text per message: a dump of about 80 MB
	// heapBound is how much the heap in use may grow during the import.
	heapBound = 48 << 20
)

// writeBigDump writes a mongodump of bigMessages messages in three rooms,
// plus the directory records an export needs.
func writeBigDump(t *testing.T, dir string) int64 {
	t.Helper()
	db := filepath.Join(dir, "rocketchat")
	must(t, os.MkdirAll(db, 0o755))
	fx := buildFixture(0)
	for _, c := range []string{Users, Rooms, Subscriptions, Permissions} {
		writeCollection(t, db, c, formBSON, fx.colls[c])
	}
	f, err := os.Create(filepath.Join(db, Messages+".bson"))
	must(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	text := strings.Repeat("lorem ipsum dolor sit amet, ", bigText/28+1)[:bigText]
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	rooms := []string{generalID, projectID, directID}
	// Each message is a template marshalled by the bson package once per
	// room (with and without reactions), its _id and ts patched in place:
	// generating 100,000 documents then costs next to nothing.
	u := bson.D{{Key: "_id", Value: adminID}, {Key: "username", Value: "admin"}, {Key: "name", Value: "Åsa Admin"}}
	react := bson.D{{Key: ":+1:", Value: bson.D{{Key: "usernames", Value: bson.A{"alice"}}}}}
	type template struct {
		doc        []byte
		idAt, tsAt int
	}
	var templates [2][3]template
	for r, rid := range rooms {
		for withReactions := range 2 {
			d := bson.D{{Key: "_id", Value: "big0000000"}, {Key: "rid", Value: rid}, {Key: "ts", Value: base}, {Key: "msg", Value: text}, {Key: "u", Value: u}}
			if withReactions == 1 {
				d = append(d, bson.E{Key: "reactions", Value: react})
			}
			b, err := bson.Marshal(d)
			must(t, err)
			templates[withReactions][r] = template{doc: b, idAt: bytes.Index(b, []byte("big0000000")), tsAt: bytes.Index(b, []byte("\x09ts\x00")) + 4}
		}
	}
	for i := range bigMessages {
		withReactions := 0
		if i%10 == 0 {
			withReactions = 1
		}
		tp := templates[withReactions][i%3]
		copy(tp.doc[tp.idAt:], fmt.Sprintf("big%07d", i))
		binary.LittleEndian.PutUint64(tp.doc[tp.tsAt:], uint64(base.Add(time.Duration(i)*time.Second).UnixMilli()))
		w.Write(tp.doc)
	}
	must(t, w.Flush())
	must(t, f.Close())
	fi, err := os.Stat(filepath.Join(db, Messages+".bson"))
	must(t, err)
	return fi.Size()
}

// heapSampler records the peak HeapInuse while it runs.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
}

func startSampler() *heapSampler {
	s := &heapSampler{stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > s.peak.Load() {
				s.peak.Store(ms.HeapInuse)
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *heapSampler) done() uint64 {
	close(s.stop)
	s.wg.Wait()
	return s.peak.Load()
}

// countingSink takes records and keeps only counts: the memory measured is
// the import's own (a store's caches are the store's business; the import
// into the real stores is shown end to end by the e2e tests).
type countingSink struct {
	msgs, bytes int64
	lastID      string
	lastTS      time.Time
	disordered  int64 // messages whose _id and ts do not follow the previous one's
}

func (s *countingSink) PutUsers(context.Context, []chat.User) error                 { return nil }
func (s *countingSink) PutTokens(context.Context, []chat.Token) error               { return nil }
func (s *countingSink) PutPermissions(context.Context, []chat.Permission) error     { return nil }
func (s *countingSink) PutRooms(context.Context, []chat.Room) error                 { return nil }
func (s *countingSink) PutSubscriptions(context.Context, []chat.Subscription) error { return nil }
func (s *countingSink) PutUploads(context.Context, []chat.Upload) error             { return nil }
func (s *countingSink) PutMessages(_ context.Context, msgs []chat.Message) error {
	for _, m := range msgs {
		s.msgs++
		s.bytes += int64(len(m.Msg))
		if m.ID <= s.lastID || !m.TS.After(s.lastTS) {
			s.disordered++
		}
		s.lastID, s.lastTS = m.ID, m.TS
	}
	return nil
}

// TestMemoryStaysFlat imports 100,000 messages (an 80 MB mongodump) and
// samples the heap throughout: its peak must stay within a bound far below
// the size of the dump, which it would exceed if the import held the
// messages (or their collection) in memory.
func TestMemoryStaysFlat(t *testing.T) {
	dir := t.TempDir()
	size := writeBigDump(t, dir)
	if size < 4*heapBound/3 {
		t.Fatalf("dump of %d bytes is too small to show anything", size)
	}
	d, err := Scan(dir)
	must(t, err)
	store := &countingSink{}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	s := startSampler()
	var progress int
	rep, err := Import(t.Context(), d, Options{Sink: store, TempDir: t.TempDir(), ProgressEvery: time.Millisecond,
		Progress: func(Progress) { progress++ }})
	peak := s.done()
	must(t, err)

	growth := int64(peak) - int64(before.HeapInuse)
	t.Logf("dump %d MB, heap in use before %d MB, peak %d MB (growth %d MB), %s", size>>20, before.HeapInuse>>20, peak>>20, growth>>20, rep.Elapsed)
	if growth > heapBound {
		t.Errorf("heap grew by %d MB importing a %d MB dump; want at most %d MB", growth>>20, size>>20, heapBound>>20)
	}
	if c := rep.Collection(Messages); c.Read != bigMessages || c.Imported != bigMessages || c.Skipped != 0 {
		t.Errorf("messages: %+v", c)
	}
	if progress < 2 {
		t.Errorf("progress reported %d times", progress)
	}
	if store.msgs != bigMessages || store.bytes < size/2 || store.disordered != 0 {
		t.Errorf("sink got %d messages (%d bytes of text, %d out of order), want %d", store.msgs, store.bytes, store.disordered, bigMessages)
	}
}

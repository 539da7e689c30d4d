package rcimport

import (
	"bufio"
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

	"github.com/rooms-export/rooms-export/shared/boltstore"
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
	for i := range bigMessages {
		m := srcMsg{id: fmt.Sprintf("big%07d", i), rid: rooms[i%3], ts: base.Add(time.Duration(i) * time.Second), msg: text,
			uid: adminID, user: "admin", name: "Åsa Admin"}
		if i%10 == 0 {
			m.reactions = map[string][]string{":+1:": {"alice"}}
		}
		b, err := bson.Marshal(m.doc())
		must(t, err)
		w.Write(b)
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

// TestMemoryStaysFlat imports 100,000 messages into the embedded store and
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
	store, err := boltstore.OpenWith(filepath.Join(t.TempDir(), "rooms-export.db"), boltstore.Options{NoSync: true})
	must(t, err)
	defer store.Close()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	s := startSampler()
	var progress int
	rep, err := Import(t.Context(), d, Options{Sink: store, TempDir: t.TempDir(), ProgressEvery: time.Millisecond,
		Progress: func(Progress) { progress++ }})
	peak := s.done()
	must(t, err)
	must(t, store.Sync())

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
	var total int64
	for _, rid := range []string{generalID, projectID, directID} {
		n, err := store.CountMessages(t.Context(), rid, time.Time{}, time.Now())
		must(t, err)
		total += n
	}
	if total != bigMessages {
		t.Errorf("store holds %d messages, want %d", total, bigMessages)
	}
}

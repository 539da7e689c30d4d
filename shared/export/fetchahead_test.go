package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// memFiles is a file store of contents by key that records its opens and
// the closes of what they returned. Until release is closed the first
// open waits (a guard of seconds fails it, not a timing check) for waitFor
// opens to be under way at once; broken keys fail their first read.
type memFiles struct {
	FileStore
	data map[string][]byte

	mu       sync.Mutex
	opens    map[string]int
	open     int // opened, not yet closed
	maxOpen  int
	closes   int
	waitFor  int
	started  int
	gathered chan struct{}
	broken   map[string]bool
	timedOut bool
}

func newMemFiles(n int, size int) *memFiles {
	m := &memFiles{data: map[string][]byte{}, opens: map[string]int{}, broken: map[string]bool{}, gathered: make(chan struct{})}
	for i := range n {
		m.data[fmt.Sprintf("k%02d", i)] = bytes.Repeat([]byte{byte('a' + i%26)}, size)
	}
	return m
}

func (m *memFiles) Open(_ context.Context, key string) (io.ReadCloser, error) {
	m.mu.Lock()
	m.opens[key]++
	m.started++
	first := m.started == 1
	if m.waitFor > 0 && m.started == m.waitFor {
		close(m.gathered)
	}
	data, ok := m.data[key]
	broken := m.broken[key]
	delete(m.broken, key)
	if ok {
		m.open++
		m.maxOpen = max(m.maxOpen, m.open)
	}
	m.mu.Unlock()
	if first && m.waitFor > 0 {
		select {
		case <-m.gathered:
		case <-time.After(10 * time.Second):
			m.mu.Lock()
			m.timedOut = true
			m.mu.Unlock()
		}
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	var r io.Reader = bytes.NewReader(data)
	if broken {
		r = io.MultiReader(bytes.NewReader(data[:1]), errReader{})
	}
	return &memReader{Reader: r, m: m}, nil
}

// count is how many times key was opened.
func (m *memFiles) count(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.opens[key]
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

type memReader struct {
	io.Reader
	m      *memFiles
	closed bool
}

func (r *memReader) Close() error {
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.m.open--
		r.m.closes++
	}
	return nil
}

func fileRefs(keys ...string) ([]chat.FileRef, map[string]uploadResult) {
	var files []chat.FileRef
	uploads := map[string]uploadResult{}
	for _, k := range keys {
		files = append(files, chat.FileRef{ID: "id-" + k})
		uploads["id-"+k] = uploadResult{up: chat.Upload{ID: "id-" + k, StorageKey: k, Size: 100}}
	}
	return files, uploads
}

// readKey reads key through the pass's reads.
func readKey(t *testing.T, a *assetReads, key string) string {
	t.Helper()
	rc, err := a.open(key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAssetReadsAhead: the pass's small files are read fetchesAhead at a
// time ahead of the copying — the first open finds the others under way —
// each once, in order, with their bytes, and nothing stays open.
func TestAssetReadsAhead(t *testing.T) {
	m := newMemFiles(20, 100)
	m.waitFor = fetchesAhead
	s := &Service{Files: m}
	a := &assetReads{ctx: context.Background(), s: s, n: fetchesAhead}
	var keys []string
	for i := range 20 {
		keys = append(keys, fmt.Sprintf("k%02d", i))
	}
	files, uploads := fileRefs(keys...)
	a.planFiles(files[:10], uploads) // two messages' worth
	a.planFiles(files[10:], uploads)
	for _, k := range keys {
		if got := readKey(t, a, k); got != string(m.data[k]) {
			t.Fatalf("%s: %d bytes, not its content", k, len(got))
		}
	}
	a.close()
	if m.timedOut {
		t.Fatalf("the first open never saw %d opens under way", fetchesAhead)
	}
	for _, k := range keys {
		if m.opens[k] != 1 {
			t.Errorf("%s opened %d times, want once", k, m.opens[k])
		}
	}
	if m.maxOpen > fetchesAhead+1 || m.open != 0 || m.closes != 20 {
		t.Errorf("at most %d open at once (want ≤ %d), %d still open, %d closed of 20", m.maxOpen, fetchesAhead+1, m.open, m.closes)
	}
}

// TestAssetReadsPlan: read ahead are the files the pass copies by its own
// rule — each file of a message once, found records only — and small ones
// only; the others, and a store without reads ahead, are opened when asked.
func TestAssetReadsPlan(t *testing.T) {
	files, uploads := fileRefs("k00", "k01", "k02")
	uploads["id-k01"] = uploadResult{up: chat.Upload{StorageKey: "k01", Size: maxFetchAhead + 1}} // big
	files = append(files, files[0], chat.FileRef{ID: "gone"}, chat.FileRef{ID: "failed"})
	uploads["gone"] = uploadResult{err: chat.ErrNotFound}
	uploads["failed"] = uploadResult{err: errors.New("throttled")}

	a := &assetReads{ctx: context.Background(), s: &Service{Files: newMemFiles(3, 10)}, n: 2}
	a.planFiles(files, uploads)
	keys := append(append([]string{}, a.plan...), keysOf(a.ahead)...)
	if got := strings.Join(keysOf(a.ahead), ","); got != "k00,k02" || len(a.plan) != 0 {
		t.Errorf("read ahead %s, planned %v; want k00,k02 and nothing more", got, keys)
	}
	a.close()

	local := &assetReads{ctx: context.Background(), s: &Service{Files: newMemFiles(3, 10)}}
	local.planFiles(files, uploads)
	if len(local.ahead)+len(local.plan) != 0 {
		t.Error("a store without reads ahead read ahead")
	}
	if got := readKey(t, local, "k01"); got != strings.Repeat("b", 10) {
		t.Errorf("plain open: %q", got)
	}
}

func keysOf(fs []fetched) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.key)
	}
	return out
}

// TestAssetReadsFailures: a read ahead that failed is tried again, once,
// as a plain open; a missing file stays missing (the pass skips it); a
// file bigger than its record said comes whole; what is under way when the
// pass stops is closed.
func TestAssetReadsFailures(t *testing.T) {
	m := newMemFiles(12, 10)
	m.data["big"] = bytes.Repeat([]byte("z"), maxFetchAhead+100)
	m.broken["k00"] = true
	s := &Service{Files: m}
	a := &assetReads{ctx: context.Background(), s: s, n: 4}
	files, uploads := fileRefs("k00", "missing", "big", "k01", "k02", "k03", "k04", "k05")
	a.planFiles(files, uploads)

	if got := readKey(t, a, "k00"); got != string(m.data["k00"]) || m.count("k00") != 2 {
		t.Errorf("broken read ahead: %q after %d opens, want its content after 2", got, m.count("k00"))
	}
	if _, err := a.open("missing"); !errors.Is(err, chat.ErrNotFound) || m.count("missing") != 1 {
		t.Errorf("missing file: %v after %d opens, want not found after 1", err, m.count("missing"))
	}
	if got := readKey(t, a, "big"); got != string(m.data["big"]) {
		t.Errorf("a file bigger than its record: %d bytes, want %d", len(got), len(m.data["big"]))
	}
	readKey(t, a, "k01")
	a.close() // k02.. under way
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.open != 0 {
		t.Errorf("%d files left open after close", m.open)
	}
	if len(a.ahead)+len(a.plan) != 0 {
		t.Error("close left reads")
	}
}

// slowFiles is memFiles whose opens wait latency for their first byte, as
// S3's GETs do.
type slowFiles struct {
	*memFiles
	latency time.Duration
}

func (s slowFiles) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	time.Sleep(s.latency)
	return s.memFiles.Open(ctx, key)
}

// BenchmarkAssetReads copies 64 files of 20 KB through the assets pass's
// reads from a store whose opens wait 2 ms (an emulator) or 20 ms (S3's
// first byte), one at a time as before ("serial") and read fetchesAhead
// ahead: files/s.
//
//	go test -run '^$' -bench AssetReads -benchtime 3x ./shared/export
func BenchmarkAssetReads(b *testing.B) {
	const n = 64
	var keys []string
	for i := range n {
		keys = append(keys, fmt.Sprintf("k%02d", i))
	}
	files, uploads := fileRefs(keys...)
	for _, latency := range []time.Duration{2 * time.Millisecond, 20 * time.Millisecond} {
		for _, ahead := range []int{0, fetchesAhead} {
			name := fmt.Sprintf("latency=%s/serial", latency)
			if ahead > 0 {
				name = fmt.Sprintf("latency=%s/ahead=%d", latency, ahead)
			}
			b.Run(name, func(b *testing.B) {
				s := &Service{Files: slowFiles{newMemFiles(n, 20<<10), latency}}
				for range b.N {
					a := &assetReads{ctx: context.Background(), s: s, n: ahead}
					a.planFiles(files, uploads)
					for _, k := range keys {
						rc, err := a.open(k)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := io.Copy(io.Discard, rc); err != nil {
							b.Fatal(err)
						}
						rc.Close()
					}
					a.close()
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "files/s")
			})
		}
	}
}

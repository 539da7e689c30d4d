package export

import (
	"archive/zip"
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/zipstream"
)

// memUpload is an Upload into memory.
type memUpload struct{ bytes.Buffer }

func (u *memUpload) Commit() error              { return nil }
func (u *memUpload) Abort() error               { return nil }
func (u *memUpload) Persisted() (int64, []byte) { return int64(u.Len()), nil }

// countingPool is a chunkPool that keeps every buffer given back and counts
// what it hands out: a sync.Pool may drop buffers at any time.
type countingPool struct {
	mu         sync.Mutex
	free       []any
	out, fresh int // buffers taken and not given back; Gets the pool could not serve
}

func (p *countingPool) Get() any {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out++
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b
	}
	p.fresh++
	return nil
}

func (p *countingPool) Put(b any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out--
	p.free = append(p.free, b)
}

// TestPipeGivesEveryChunkBack: the buffers a pipe takes for rendered output
// are all back in the pool once it is closed, so later exports take them
// again instead of allocating their own.
func TestPipeGivesEveryChunkBack(t *testing.T) {
	pool := &countingPool{}
	export := func() {
		up := &memUpload{}
		p := newZipPipe(zipstream.NewWriter(up, zipstream.Options{}), up, pool)
		at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, name := range []string{"a.json", "b.json", "manifest.json"} {
			if err := p.Create(name, zip.Deflate, at); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Write([]byte(strings.Repeat(name+" line\n", 20000))); err != nil { // > 2 chunks
				t.Fatal(err)
			}
		}
		if r := p.close(); r.err != nil {
			t.Fatal(r.err)
		}
		if _, err := zip.NewReader(bytes.NewReader(up.Bytes()), int64(up.Len())); err != nil {
			t.Fatalf("archive: %v", err)
		}
		p.stop() // a second stop (the exporter's deferred one) changes nothing
	}
	const exports = 20
	for i := range exports {
		export()
		if pool.out != 0 {
			t.Fatalf("export %d: %d chunks not given back", i+1, pool.out)
		}
	}
	// At most the chunks in flight at once are ever allocated: those
	// queued to the pipe's goroutine, the one it writes and the one filled.
	if limit := pipeQueue + 2; pool.fresh > limit {
		t.Fatalf("%d exports allocated %d chunks; want at most %d (the ones in flight at once)", exports, pool.fresh, limit)
	}
}

package zipstream

import (
	"bytes"
	"testing"

	"github.com/rooms-export/rooms-export/shared/spare"
)

// TestSpareBuffersAcrossWriters: archives written one after another, each
// on the buffers the one before left (spare), hold their own contents —
// different sizes and data each time, segments of several sizes and
// concurrent compressors too — and what is kept is of the first size and
// empty; small archives at the end leave some of each kind.
func TestSpareBuffersAcrossWriters(t *testing.T) {
	r := newRand(7)
	for i := range 40 {
		var out bytes.Buffer
		z := NewWriter(&out, Options{Concurrency: 1 + i%3})
		names := []string{"room.json", "manifest.json"}
		contents := map[string][]byte{
			"room.json":     jsonLines(r, roomSize(i)),
			"manifest.json": content(r, 50+i),
		}
		for _, n := range names {
			w, err := z.Create(n, Deflate, testTime)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(contents[n]); err != nil {
				t.Fatal(err)
			}
		}
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
		checkArchive(t, out.Bytes(), names, contents)
	}
	for name, p := range map[string]*spare.Pool{"content": &spareIns, "output": &spareOuts} {
		b, ok := p.Get().([]byte)
		if !ok {
			t.Fatalf("no spare %s buffer after 40 archives", name)
		}
		if len(b) != 0 || cap(b) != firstSegmentBuffer {
			t.Fatalf("spare %s buffer of length %d, capacity %d", name, len(b), cap(b))
		}
	}
}

// roomSize is the document size of the test's archive i: up to three
// segments, then small ones.
func roomSize(i int) int {
	if i >= 30 {
		return 2000 + i
	}
	return 1000 + i*99991%(3*SegmentSize)
}

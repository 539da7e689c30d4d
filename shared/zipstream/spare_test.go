package zipstream

import (
	"bytes"
	"testing"
)

// TestSpareBuffersAcrossWriters: archives written one after another, each
// on the buffers the one before left (spare), hold their own contents —
// different sizes and data each time, segments of several sizes and
// concurrent compressors too — and spare keeps at most maxSpare buffers of
// each kind, all of the first size and empty; small archives at the end
// leave some there.
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
	ins, outs := spareItems(&spare.ins), spareItems(&spare.outs)
	if len(ins) == 0 || len(outs) == 0 {
		t.Fatalf("spare holds %d content and %d output buffers after 40 archives, want some of each", len(ins), len(outs))
	}
	for _, list := range [][][]byte{ins, outs} {
		if len(list) > maxSpare {
			t.Fatalf("spare holds %d buffers of a kind, at most %d", len(list), maxSpare)
		}
		for _, b := range list {
			if len(b) != 0 || cap(b) != firstSegmentBuffer {
				t.Fatalf("spare buffer of length %d, capacity %d", len(b), cap(b))
			}
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

func spareItems(l *spareList[[]byte]) [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.items...)
}

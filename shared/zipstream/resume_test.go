package zipstream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
)

// uninterrupted writes the whole script with one Writer, checkpoints
// included, and returns the archive and the States of its checkpoints.
func uninterrupted(t testing.TB, ops []op, opts Options) ([]byte, []State) {
	t.Helper()
	var buf bytes.Buffer
	var states []State
	z := NewWriter(&buf, opts)
	play(t, z, nil, ops, func(s State) {
		if int64(buf.Len()) != s.Offset {
			t.Fatalf("after Checkpoint the destination holds %d bytes, State.Offset is %d", buf.Len(), s.Offset)
		}
		states = append(states, s)
	})
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), states
}

// withStops writes the script stopping at the checkpoints whose ordinals
// are in stops: there it keeps the bytes written so far, sends the State
// through JSON and goes on with a Writer resumed into a new buffer. It
// returns the concatenation of the pieces.
func withStops(t testing.TB, ops []op, opts Options, stops map[int]bool) []byte {
	t.Helper()
	var archive []byte
	piece := &bytes.Buffer{}
	z := NewWriter(piece, opts)
	var w io.Writer
	start, ordinal := 0, 0
	for i, o := range ops {
		if o.kind != opCheckpoint {
			continue
		}
		ordinal++
		if !stops[ordinal-1] {
			continue
		}
		w = play(t, z, w, ops[start:i], nil)
		s, err := z.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		archive = append(archive, piece.Bytes()...)
		if int64(len(archive)) != s.Offset {
			t.Fatalf("stop %d: %d bytes written, State.Offset is %d", ordinal-1, len(archive), s.Offset)
		}
		piece = &bytes.Buffer{}
		if z, err = Resume(piece, roundTrip(t, s), opts); err != nil {
			t.Fatalf("stop %d: %v", ordinal-1, err)
		}
		w, start = z, i+1
	}
	play(t, z, w, ops[start:], nil)
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return append(archive, piece.Bytes()...)
}

// firstDifference describes where two archives part, for failure messages.
func firstDifference(got, want []byte) string {
	n := min(len(got), len(want))
	for i := range n {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d of %d (want %d bytes)", i, len(got), len(want))
		}
	}
	return fmt.Sprintf("got %d bytes, want %d", len(got), len(want))
}

// Resume equals uninterrupted: stopping at any checkpoint, carrying the
// State through JSON and resuming yields exactly the bytes of a run that
// checkpointed at the same places but never stopped: at every checkpoint
// alone, at all of them in a row, at random sets of them, with the input
// after each stop split into different writes, at several levels.
func TestResumeEqualsUninterrupted(t *testing.T) {
	for _, c := range []struct {
		level int
		seed  uint64
	}{{0, 11}, {0, 12}, {flate.BestSpeed, 13}, {2, 14}, {6, 15}, {flate.HuffmanOnly, 16}} {
		t.Run(fmt.Sprintf("level%d-seed%d", c.level, c.seed), func(t *testing.T) {
			opts := Options{Level: c.level}
			ops := script(c.seed, 12, 80_000)
			ref, states := uninterrupted(t, ops, opts)
			names, contents := expected(ops)
			checkArchive(t, ref, names, contents)
			if len(states) < 20 {
				t.Fatalf("script has only %d checkpoints", len(states))
			}
			if states[0].Offset != 0 || states[0].Open != nil {
				t.Fatalf("checkpoint before the first entry: %+v", states[0])
			}
			if o := states[1].Open; o == nil || o.Size != 0 {
				t.Fatalf("checkpoint right after the first Create: %+v", states[1])
			}

			r := newRand(c.seed)
			singles := []int{0, 1, len(states) - 1} // no open entry, right after Create, last
			for range 12 {
				singles = append(singles, r.IntN(len(states)))
			}
			for _, k := range singles {
				if got := withStops(t, ops, opts, map[int]bool{k: true}); !bytes.Equal(got, ref) {
					t.Fatalf("stopped at checkpoint %d (offset %d): %s", k, states[k].Offset, firstDifference(got, ref))
				}
			}

			all := map[int]bool{}
			for k := range states {
				all[k] = true
			}
			if got := withStops(t, ops, opts, all); !bytes.Equal(got, ref) {
				t.Fatalf("stopped at every checkpoint: %s", firstDifference(got, ref))
			}

			for try := range 3 {
				some := map[int]bool{}
				for k := range states {
					if r.IntN(3) == 0 {
						some[k] = true
					}
				}
				rechunked := rechunk(ops, r)
				if got := withStops(t, rechunked, opts, some); !bytes.Equal(got, ref) {
					t.Fatalf("try %d, stops %v, writes split differently: %s", try, some, firstDifference(got, ref))
				}
			}
		})
	}
}

// A resumed entry's CRC-32, sizes and SHA-256 cover what was written before
// and after the stop.
func TestResumedEntriesKeepTheirDigests(t *testing.T) {
	ops := script(21, 6, 200_000)
	stops := map[int]bool{}
	for k := range 100 {
		stops[k] = k%2 == 1
	}
	archive := withStops(t, ops, Options{}, stops)
	names, contents := expected(ops)
	checkArchive(t, archive, names, contents)
	unzipTest(t, archive)
}

// The State is small: a record per finished entry plus a few hundred
// bytes for the open one.
func TestStateIsSmall(t *testing.T) {
	var buf bytes.Buffer
	z := NewWriter(&buf, Options{})
	w, err := z.Create("room.json", Deflate, testTime)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(jsonLines(newRand(1), 3<<20)); err != nil {
		t.Fatal(err)
	}
	s, err := z.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 500 {
		t.Fatalf("State with one open entry is %d bytes of JSON: %s", len(b), b)
	}
	for i := range 100 {
		if _, err := z.Create(fmt.Sprintf("assets/%03d-file.png", i), Store, testTime); err != nil {
			t.Fatal(err)
		}
	}
	s, err = z.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	b2, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if perEntry := (len(b2) - len(b)) / 100; perEntry > 300 {
		t.Fatalf("State grows by %d bytes per finished entry", perEntry)
	}
}

// Resume refuses States it cannot continue: another level or version, and
// States whose entries do not tile the archive up to Offset.
func TestResumeRefusesInconsistentStates(t *testing.T) {
	ops := script(31, 8, 250_000)
	_, states := uninterrupted(t, ops, Options{})
	var s State
	for _, st := range states {
		if st.Open != nil && len(st.Entries) > 0 && st.Open.Method == Deflate && st.Open.Size > 0 {
			s = st
		}
	}
	if s.Open == nil {
		t.Fatal("no checkpoint inside a deflated entry after a finished one")
	}
	if _, err := Resume(io.Discard, roundTrip(t, s), Options{}); err != nil {
		t.Fatalf("the untouched State is refused: %v", err)
	}
	for _, c := range []struct {
		name   string
		opts   Options
		change func(*State)
	}{
		{"other level", Options{Level: 6}, func(*State) {}},
		{"bad level", Options{Level: 42}, func(*State) {}},
		{"other version", Options{}, func(s *State) { s.Version = 2 }},
		{"offset", Options{}, func(s *State) { s.Offset++ }},
		{"open entry's compressed size", Options{}, func(s *State) { s.Open.CompressedSize-- }},
		{"open entry's offset", Options{}, func(s *State) { s.Open.Offset-- }},
		{"open entry's name", Options{}, func(s *State) { s.Open.Name = "../" + s.Open.Name }},
		{"open entry's method", Options{}, func(s *State) { s.Open.Method = 99 }},
		{"SHA-256 state", Options{}, func(s *State) { s.Open.SHA256State = s.Open.SHA256State[:10] }},
		{"finished entry's size", Options{}, func(s *State) { s.Entries[0].CompressedSize += 3 }},
		{"finished entry's SHA-256", Options{}, func(s *State) { s.Entries[0].SHA256 = "abc" }},
		{"finished entry lost", Options{}, func(s *State) { s.Entries = s.Entries[1:] }},
		{"negative size", Options{}, func(s *State) { s.Open.Size = -1 }},
	} {
		bad := roundTrip(t, s)
		c.change(&bad)
		if _, err := Resume(io.Discard, bad, c.opts); err == nil || !strings.HasPrefix(err.Error(), "zipstream: resume") {
			t.Fatalf("%s: Resume returned %v", c.name, err)
		}
	}
}

// A State taken right after Create and one taken with no open entry both
// resume; the first write after such a resume goes to the open entry.
func TestResumeAtEdges(t *testing.T) {
	var buf bytes.Buffer
	z := NewWriter(&buf, Options{})
	s0, err := z.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if s0.Offset != 0 || s0.Open != nil || len(s0.Entries) != 0 {
		t.Fatalf("empty writer's State: %+v", s0)
	}
	z, err = Resume(&buf, roundTrip(t, s0), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.Create("a.txt", Deflate, testTime); err != nil {
		t.Fatal(err)
	}
	s1, err := z.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if s1.Open == nil || s1.Open.Size != 0 || s1.Open.CompressedSize != 0 || s1.Offset != int64(buf.Len()) {
		t.Fatalf("State right after Create: %+v", s1)
	}
	z, err = Resume(&buf, roundTrip(t, s1), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	checkArchive(t, buf.Bytes(), []string{"a.txt"}, map[string][]byte{"a.txt": []byte("hello")})

	// An empty archive: just the end record.
	var empty bytes.Buffer
	if err := NewWriter(&empty, Options{}).Close(); err != nil {
		t.Fatal(err)
	}
	checkArchive(t, empty.Bytes(), nil, nil)
}

// The compressor is reused through Reset; its output must equal a new
// compressor's, or a resumed run (new compressor) and an uninterrupted one
// (reset compressor) would part. This pins the property the package relies
// on, for the library version in go.mod.
func TestCompressorResetEqualsNew(t *testing.T) {
	r := newRand(41)
	for _, level := range []int{flate.HuffmanOnly, 1, 2, 3, 4, 5, 6, 7, 8, 9} {
		var fresh, reset bytes.Buffer
		data := jsonLines(r, 150_000)
		// The same text as history: stale matches would be everywhere.
		history := append(content(r, 50_000), data...)
		fw, err := flate.NewWriter(&fresh, level)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
		fw.Close()
		rw, err := flate.NewWriter(io.Discard, level)
		if err != nil {
			t.Fatal(err)
		}
		rw.Write(history)
		rw.Flush()
		rw.Reset(&reset)
		rw.Write(data)
		rw.Close()
		if !bytes.Equal(fresh.Bytes(), reset.Bytes()) {
			t.Fatalf("level %d: a reset compressor writes other bytes than a new one", level)
		}
	}
}

// Entries of several segments: compressed on one core or several, and
// resumed with another concurrency than they started with, the archive is
// byte for byte the same, and a standard one.
func TestSegmentsAreTheSameOnAnyNumberOfCores(t *testing.T) {
	ops := script(31, 5, 3*SegmentSize)
	names, contents := expected(ops)
	big := 0
	for _, c := range contents {
		if len(c) > 2*SegmentSize {
			big++
		}
	}
	if big == 0 {
		t.Fatal("script has no entry of more than two segments")
	}
	ref, states := uninterrupted(t, ops, Options{Concurrency: 1})
	checkArchive(t, ref, names, contents)
	unzipTest(t, ref)
	for _, n := range []int{2, 3, 8} {
		if got, _ := uninterrupted(t, ops, Options{Concurrency: n}); !bytes.Equal(got, ref) {
			t.Fatalf("concurrency %d: %s", n, firstDifference(got, ref))
		}
	}
	r := newRand(31)
	some := map[int]bool{}
	for k := range states {
		if r.IntN(3) == 0 {
			some[k] = true
		}
	}
	if got := withStops(t, rechunk(ops, r), Options{Concurrency: 4}, some); !bytes.Equal(got, ref) {
		t.Fatalf("resumed at %d checkpoints on 4 workers: %s", len(some), firstDifference(got, ref))
	}
}

package zipstream

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"
)

// Archives written with checkpoints at random points read back with
// archive/zip and Info-ZIP unzip, contents, CRCs and dates intact.
func TestArchiveWithCheckpointsReadsBack(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		ops := script(seed, 12, 300_000)
		var buf bytes.Buffer
		z := NewWriter(&buf, Options{})
		play(t, z, nil, ops, nil)
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
		names, contents := expected(ops)
		checkArchive(t, buf.Bytes(), names, contents)
		unzipTest(t, buf.Bytes())
	}
}

// Entries reports every finished entry as archive/zip reads it back, with
// the SHA-256 the manifest lists.
func TestEntriesDescribeTheArchive(t *testing.T) {
	ops := script(4, 10, 200_000)
	var buf bytes.Buffer
	z := NewWriter(&buf, Options{})
	play(t, z, nil, ops, nil)
	if got := len(z.Entries()); got != 9 {
		t.Fatalf("before Close, Entries has %d entries, want the 9 finished ones", got)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	names, contents := expected(ops)
	zr := checkArchive(t, buf.Bytes(), names, contents)
	entries := z.Entries()
	if len(entries) != len(names) {
		t.Fatalf("Entries has %d entries, want %d", len(entries), len(names))
	}
	for i, e := range entries {
		f := zr.File[i]
		want := contents[f.Name]
		sum := sha256.Sum256(want)
		if e.Name != f.Name || e.Method != f.Method || !e.Modified.Equal(testTime) ||
			e.Size != int64(len(want)) || e.CRC32 != crc32.ChecksumIEEE(want) ||
			e.CompressedSize != int64(f.CompressedSize64) || e.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("entry %d: %+v does not describe %q (%d bytes, compressed %d)", i, e, f.Name, len(want), f.CompressedSize64)
		}
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		if off != e.Offset+localHeaderLen(e.Name, e.Modified) {
			t.Fatalf("entry %d: data at %d, header at %d", i, off, e.Offset)
		}
		if f.Flags&flagDataDescriptor == 0 {
			t.Fatalf("%q: flag bit 3 not set", f.Name)
		}
	}
}

// Names that need UTF-8 carry flag bit 11; plain ASCII names do not, as
// archive/zip writes them; unzip lists them as written.
func TestNonASCIINames(t *testing.T) {
	names := []string{"plain.json", "résumé.pdf", "日本語/ファイル.html", "emoji 😀.txt", "tilde~.txt"}
	contents := map[string][]byte{}
	var buf bytes.Buffer
	z := NewWriter(&buf, Options{})
	for i, name := range names {
		w, err := z.Create(name, Deflate, testTime)
		if err != nil {
			t.Fatal(err)
		}
		contents[name] = []byte(strings.Repeat(name, i+1))
		if _, err := w.Write(contents[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	zr := checkArchive(t, buf.Bytes(), names, contents)
	for _, f := range zr.File {
		utf := f.Flags&flagUTF8 != 0
		if want := f.Name != "plain.json"; utf != want {
			t.Fatalf("%q: UTF-8 flag %v, want %v", f.Name, utf, want)
		}
		if f.NonUTF8 {
			t.Fatalf("%q read as non-UTF-8", f.Name)
		}
	}
	unzipTest(t, buf.Bytes())
	if got, want := string(unzip(t, buf.Bytes(), "-Z1")), strings.Join(names, "\n")+"\n"; got != want {
		t.Fatalf("unzip lists\n%s\nwant\n%s", got, want)
	}
}

// Stored entries hold their content verbatim, right after the local header.
func TestStoredEntries(t *testing.T) {
	data := []byte("stored, not deflated: {\"msg\":\"hello\"}\n")
	var buf bytes.Buffer
	z := NewWriter(&buf, Options{})
	w, err := z.Create("a.json", Store, testTime)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := z.Create("empty.txt", Store, testTime); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	start := localHeaderLen("a.json", testTime)
	if got := buf.Bytes()[start : start+int64(len(data))]; !bytes.Equal(got, data) {
		t.Fatalf("stored data not verbatim after the header: %q", got)
	}
	e := z.Entries()
	if e[0].CompressedSize != int64(len(data)) || e[1].Size != 0 || e[1].CompressedSize != 0 {
		t.Fatalf("stored sizes wrong: %+v", e)
	}
	checkArchive(t, buf.Bytes(), []string{"a.json", "empty.txt"}, map[string][]byte{"a.json": data, "empty.txt": {}})
	unzipTest(t, buf.Bytes())
}

// The zero time writes no date, as archive/zip does; dates outside what
// the DOS and Unix fields hold are clamped instead of overflowing.
func TestModificationTimes(t *testing.T) {
	var buf bytes.Buffer
	z := NewWriter(&buf, Options{})
	early := time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		t    time.Time
	}{{"zero", time.Time{}}, {"early", early}, {"late", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}} {
		if _, err := z.Create(c.name, Deflate, c.t); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	zr := checkArchiveNames(t, buf.Bytes(), 3)
	if f := zr[0]; f.ModifiedDate != 0 || f.ModifiedTime != 0 || len(f.Extra) != 0 {
		t.Fatalf("zero time: DOS date %d time %d, extra %x", f.ModifiedDate, f.ModifiedTime, f.Extra)
	}
	if got := zr[1].Modified; !got.Equal(time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("early time read back as %v", got)
	}
	if got := zr[2].Modified; !got.Equal(time.Unix(1<<32-1, 0)) {
		t.Fatalf("late time read back as %v", got)
	}
}

// Create refuses names that could write outside the unpacking folder, and
// methods other than Store and Deflate, without disturbing the open entry.
func TestCreateRefusesUnsafeNames(t *testing.T) {
	var buf bytes.Buffer
	z := NewWriter(&buf, Options{})
	w, err := z.Create("ok.txt", Deflate, testTime)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", ".", "/etc/passwd", "../x", "a/../../b", "a/./b", "a//b", `a\b`, `..\x`,
		"dir/", "a\x00b", "line\nbreak", "bad\xffutf8", strings.Repeat("n", 1<<16)} {
		if _, err := z.Create(name, Deflate, testTime); err == nil {
			t.Fatalf("Create(%q) succeeded", name)
		}
	}
	if _, err := z.Create("x.bin", 12, testTime); err == nil {
		t.Fatal("Create with method 12 succeeded")
	}
	if _, err := w.Write([]byte("still open")); err != nil {
		t.Fatalf("refused Create disturbed the open entry: %v", err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	checkArchive(t, buf.Bytes(), []string{"ok.txt"}, map[string][]byte{"ok.txt": []byte("still open")})
}

// The io.Writer of a finished entry refuses writes; the Writer goes on.
func TestWritesAfterTheEntryEnds(t *testing.T) {
	var buf bytes.Buffer
	z := NewWriter(&buf, Options{})
	if _, err := z.Write([]byte("x")); err == nil {
		t.Fatal("Write with no open entry succeeded")
	}
	first, err := z.Create("a", Deflate, testTime)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.Create("b", Store, testTime); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Write([]byte("late")); err == nil {
		t.Fatal("write to a finished entry succeeded")
	}
	if _, err := z.Write([]byte("b's content")); err != nil {
		t.Fatalf("refused write stuck: %v", err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err == nil {
		t.Fatal("second Close succeeded")
	}
	if _, err := z.Checkpoint(); err == nil {
		t.Fatal("Checkpoint after Close succeeded")
	}
	if _, err := z.Create("c", Store, testTime); err == nil {
		t.Fatal("Create after Close succeeded")
	}
	checkArchive(t, buf.Bytes(), []string{"a", "b"}, map[string][]byte{"a": {}, "b": []byte("b's content")})
}

var errDiskFull = errors.New("disk full")

// failingWriter accepts limit bytes, then fails.
type failingWriter struct{ limit int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n := f.limit
		f.limit = 0
		return n, errDiskFull
	}
	f.limit -= len(p)
	return len(p), nil
}

// A write error from the destination sticks: every later call returns it,
// wrapped with the operation.
func TestWriteErrorSticks(t *testing.T) {
	for _, method := range []uint16{Store, Deflate} {
		z := NewWriter(&failingWriter{limit: 100_000}, Options{})
		w, err := z.Create("big.json", method, testTime)
		if err != nil {
			t.Fatal(err)
		}
		data := content(newRand(5), 1<<20)
		for err == nil {
			_, err = w.Write(data)
		}
		if !errors.Is(err, errDiskFull) || !strings.HasPrefix(err.Error(), "zipstream: ") {
			t.Fatalf("write error %v", err)
		}
		_, err1 := z.Create("next", Deflate, testTime)
		_, err2 := z.Checkpoint()
		_, err3 := z.Write([]byte("x"))
		err4 := z.Close()
		for _, e := range []error{err1, err2, err3, err4} {
			if !errors.Is(e, errDiskFull) {
				t.Fatalf("after a write error, a call returned %v", e)
			}
		}
	}
}

// An error that surfaces when Checkpoint flushes sticks too.
func TestCheckpointFlushErrorSticks(t *testing.T) {
	z := NewWriter(&failingWriter{limit: 10}, Options{})
	w, err := z.Create("a.json", Deflate, testTime)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("short enough to sit in the buffer")); err != nil {
		t.Fatal(err)
	}
	if _, err := z.Checkpoint(); !errors.Is(err, errDiskFull) {
		t.Fatalf("Checkpoint returned %v", err)
	}
	if _, err := w.Write([]byte("more")); !errors.Is(err, errDiskFull) {
		t.Fatalf("write after the failed checkpoint returned %v", err)
	}
}

func TestUnsupportedLevel(t *testing.T) {
	z := NewWriter(io.Discard, Options{Level: 12})
	if _, err := z.Create("a", Deflate, testTime); err == nil || !strings.Contains(err.Error(), "level 12") {
		t.Fatalf("Create with level 12: %v", err)
	}
	for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.BestCompression} {
		if _, err := (Options{Level: level}).level(); err != nil {
			t.Fatalf("level %d refused: %v", level, err)
		}
	}
}

// TestOutputBufferOfTheCallerNotPooled: a destination that is itself a
// bufio.Writer stays the caller's after Close; the next archive gets a
// buffer of its own.
func TestOutputBufferOfTheCallerNotPooled(t *testing.T) {
	var first, second bytes.Buffer
	dest := bufio.NewWriterSize(&first, 1<<20)
	z := NewWriter(dest, Options{})
	if _, err := z.Create("a.txt", Store, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := z.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	z2 := NewWriter(&second, Options{})
	if _, err := z2.Create("b.txt", Store, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := z2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := dest.Write([]byte("still mine")); err != nil {
		t.Fatal(err)
	}
	if err := dest.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(first.Bytes(), []byte("still mine")) || second.Len() == 0 {
		t.Fatalf("the caller's buffer was reused: first %d bytes, second %d", first.Len(), second.Len())
	}
	if _, err := zip.NewReader(bytes.NewReader(first.Bytes()[:first.Len()-len("still mine")]), int64(first.Len()-len("still mine"))); err != nil {
		t.Fatalf("first archive: %v", err)
	}
}

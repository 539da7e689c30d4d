package zipstream

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"testing"
)

// More than 65535 entries need the ZIP64 end records; archive/zip and
// unzip read every entry. A stop in the middle resumes to the same bytes.
func TestManyEntriesUseZip64EndRecords(t *testing.T) {
	const n = 1<<16 + 10
	var ops []op
	for i := range n {
		method := Store
		if i%5000 == 0 {
			method = Deflate
		}
		ops = append(ops, op{kind: opCreate, name: fmt.Sprintf("e/%05d.txt", i), method: method})
		ops = append(ops, op{kind: opWrite, data: []byte{byte(i), byte(i >> 8)}})
		if i == n/2 {
			ops = append(ops, op{kind: opCheckpoint})
		}
	}
	ref, states := uninterrupted(t, ops, Options{})
	if got := withStops(t, ops, Options{}, map[int]bool{0: true}); !bytes.Equal(got, ref) {
		t.Fatalf("resumed archive differs: %s", firstDifference(got, ref))
	}
	if len(states[0].Entries) != n/2 {
		t.Fatalf("State holds %d finished entries, want %d", len(states[0].Entries), n/2)
	}

	zr, err := zip.NewReader(bytes.NewReader(ref), int64(len(ref)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != n {
		t.Fatalf("archive/zip reads %d entries, want %d", len(zr.File), n)
	}
	for _, i := range []int{0, 5000, 65534, 65535, n - 1} {
		f := zr.File[i]
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, []byte{byte(i), byte(i >> 8)}) || f.Name != fmt.Sprintf("e/%05d.txt", i) {
			t.Fatalf("entry %d: %q %v %v", i, f.Name, got, err)
		}
	}
	end := ref[len(ref)-directoryEndLen-directory64LocLen-directory64EndLen:]
	if binary.LittleEndian.Uint32(end) != directory64EndSignature ||
		binary.LittleEndian.Uint64(end[32:]) != n {
		t.Fatalf("no ZIP64 end record with %d entries before the end record", n)
	}
	unzipTest(t, ref)
}

// The end records switch to ZIP64 at 65535 entries, as archive/zip's do:
// 0xFFFF in the 16-bit count means "see the ZIP64 record".
func TestZip64EndThreshold(t *testing.T) {
	if got := len(directoryEnd(uint16max-1, 0, 100, zip64Limit)); got != directoryEndLen {
		t.Fatalf("65534 entries: %d bytes of end records", got)
	}
	if got := len(directoryEnd(uint16max, 0, 100, zip64Limit)); got != directoryEndLen+directory64LocLen+directory64EndLen {
		t.Fatalf("65535 entries: %d bytes of end records", got)
	}
}

// With the ZIP64 threshold lowered, every ZIP64 path runs on a small
// archive: 64-bit data descriptors, ZIP64 extra fields in the central
// directory for sizes and offsets, ZIP64 end records. archive/zip and unzip
// read it, and it resumes to the same bytes.
func TestZip64RecordsWithLowThreshold(t *testing.T) {
	opts := Options{zip64Limit: 5000}
	ops := []op{
		{kind: opCreate, name: "small.txt", method: Deflate}, {kind: opWrite, data: []byte("under the limit, at offset 0")},
		{kind: opCreate, name: "big-stored.bin", method: Store}, {kind: opWrite, data: content(newRand(1), 7000)},
		{kind: opCheckpoint},
		{kind: opWrite, data: content(newRand(2), 3000)},
		{kind: opCreate, name: "big-deflated.json", method: Deflate}, {kind: opWrite, data: jsonLines(newRand(3), 40000)},
		{kind: opCheckpoint},
		{kind: opCreate, name: "late-small.txt", method: Deflate}, {kind: opWrite, data: []byte("small, but past the limit")},
	}
	ref, _ := uninterrupted(t, ops, opts)
	for _, stops := range []map[int]bool{{0: true}, {1: true}, {0: true, 1: true}} {
		if got := withStops(t, ops, opts, stops); !bytes.Equal(got, ref) {
			t.Fatalf("stops %v: %s", stops, firstDifference(got, ref))
		}
	}
	names, contents := expected(ops)
	zr := checkArchive(t, ref, names, contents)
	for i, f := range zr.File {
		needs64 := i > 0 // sizes or offset at or past the limit
		hasExtra := bytes.Contains(f.Extra, []byte{zip64ExtraID, 0, 24, 0})
		if hasExtra != needs64 || (f.ReaderVersion == zipVersion45) != needs64 {
			t.Fatalf("%q: ZIP64 extra %v, reader version %d; want ZIP64 %v", f.Name, hasExtra, f.ReaderVersion, needs64)
		}
		// The data descriptor after the data: 24 bytes when a size needs it.
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		dd := ref[off+int64(f.CompressedSize64):]
		if binary.LittleEndian.Uint32(dd) != dataDescriptorSignature || binary.LittleEndian.Uint32(dd[4:]) != f.CRC32 {
			t.Fatalf("%q: no data descriptor after the data", f.Name)
		}
		big := f.UncompressedSize64 >= 5000 || f.CompressedSize64 >= 5000
		if big && (binary.LittleEndian.Uint64(dd[8:]) != f.CompressedSize64 || binary.LittleEndian.Uint64(dd[16:]) != f.UncompressedSize64) {
			t.Fatalf("%q: data descriptor without 64-bit sizes", f.Name)
		}
		if !big && (binary.LittleEndian.Uint32(dd[8:]) != uint32(f.CompressedSize64) || binary.LittleEndian.Uint32(dd[12:]) != uint32(f.UncompressedSize64)) {
			t.Fatalf("%q: data descriptor without 32-bit sizes", f.Name)
		}
	}
	end := ref[len(ref)-directoryEndLen-directory64LocLen-directory64EndLen:]
	if binary.LittleEndian.Uint32(end) != directory64EndSignature {
		t.Fatal("no ZIP64 end record")
	}
	unzipTest(t, ref)
}

// sparseSink keeps the bytes of small writes and only counts large ones,
// which must be zeros; as an io.ReaderAt it reads zeros where it kept
// nothing. It lets a test write an archive of more than 4 GiB cheaply.
type sparseSink struct {
	n        int64
	kept     []span
	nonZero  bool
	keepUpTo int
}

type span struct {
	off  int64
	data []byte
}

var zeros = make([]byte, 1<<20)

func (s *sparseSink) Write(p []byte) (int, error) {
	if len(p) <= s.keepUpTo {
		s.kept = append(s.kept, span{s.n, bytes.Clone(p)})
	} else {
		for q := p; len(q) > 0; q = q[min(len(q), len(zeros)):] {
			if !bytes.Equal(q[:min(len(q), len(zeros))], zeros[:min(len(q), len(zeros))]) {
				s.nonZero = true
			}
		}
	}
	s.n += int64(len(p))
	return len(p), nil
}

func (s *sparseSink) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	for _, k := range s.kept {
		lo, hi := max(off, k.off), min(off+int64(len(p)), k.off+int64(len(k.data)))
		if lo < hi {
			copy(p[lo-off:hi-off], k.data[lo-k.off:hi-k.off])
		}
	}
	if off+int64(len(p)) > s.n {
		return int(max(0, s.n-off)), io.EOF
	}
	return len(p), nil
}

// The real thing: a stored entry of more than 4 GiB of zeros, then a small
// entry whose header lies past 4 GiB. archive/zip reads the sizes, the
// offsets and the small entry back.
func TestZip64PastFourGiB(t *testing.T) {
	const big = 1<<32 + 1<<20
	sink := &sparseSink{keepUpTo: bufferSize}
	z := NewWriter(sink, Options{})
	w, err := z.Create("zeros.bin", Store, testTime)
	if err != nil {
		t.Fatal(err)
	}
	for written := 0; written < big; written += len(zeros) {
		if _, err := w.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	small := []byte("after four gibibytes")
	if w, err = z.Create("after.txt", Deflate, testTime); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(small); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if sink.nonZero {
		t.Fatal("a large write carried something other than the stored zeros")
	}
	zr, err := zip.NewReader(sink, sink.n)
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 2 {
		t.Fatalf("archive has %d entries", len(zr.File))
	}
	f0, f1 := zr.File[0], zr.File[1]
	wantCRC := uint32(0)
	for written := 0; written < big; written += len(zeros) {
		wantCRC = crc32.Update(wantCRC, crc32.IEEETable, zeros)
	}
	if f0.UncompressedSize64 != big || f0.CompressedSize64 != big || f0.CRC32 != wantCRC || f0.UncompressedSize != uint32max {
		t.Fatalf("big entry: sizes %d/%d CRC %08x", f0.CompressedSize64, f0.UncompressedSize64, f0.CRC32)
	}
	off, err := f1.DataOffset()
	if err != nil {
		t.Fatal(err)
	}
	if off < 1<<32 {
		t.Fatalf("small entry's data at %d, not past 4 GiB", off)
	}
	rc, err := f1.Open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, small) {
		t.Fatalf("small entry past 4 GiB reads %q, %v", got, err)
	}
	e := z.Entries()
	if e[0].Size != big || e[0].CRC32 != wantCRC || e[1].Offset < 1<<32 {
		t.Fatalf("Entries: %+v", e)
	}
}

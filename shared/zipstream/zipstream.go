// Package zipstream writes ZIP archives as a stream that can stop at a
// checkpoint and resume, in another process, byte for byte where it stopped.
//
// Rocket.Chat builds its export archive in one go with the archiver npm
// package; a room of millions of messages does not fit one AWS Lambda
// invocation, so our worker must be able to stop and let the next invocation
// carry on. archive/zip cannot do that: its deflate state and offsets live in
// unexported fields. This package writes the same format archive/zip writes
// (PKWARE APPNOTE: local headers with flag bit 3 and a data descriptor after
// the data, the UTF-8 flag for names that need it, the extended-timestamp
// extra field, ZIP64 records exactly when sizes, offsets or the entry count
// need them, and a central directory at Close) and adds two things:
//
//   - [Writer.Checkpoint] returns a small JSON-serialisable [State]. For an
//     open Deflate entry it first ends the deflate block with a sync flush and
//     starts a fresh compressor, so that nothing written afterwards depends on
//     what came before.
//   - [Resume] rebuilds a Writer from a State. Fed the input the original
//     received after the checkpoint, it writes exactly the bytes the original
//     wrote after State.Offset.
//
// A Deflate entry is compressed in segments of SegmentSize bytes, each by a
// fresh compressor ending in a sync flush, on as many goroutines as
// Options.Concurrency allows: an export uses every core, and the entry is
// still one standard deflate stream.
//
// Deflate output depends only on the input since the last checkpoint, not on
// how that input is split into Write calls nor on the concurrency, so a
// caller may buffer differently after a resume. It does depend on the compression library and
// level: a State records the level, and a resume must run the same build of
// this package (a redeploy with another compressor version still produces a
// valid archive, just not the identical bytes).
//
// Every entry's CRC-32 and SHA-256 are computed as it is written
// ([Writer.Entries]); the export's manifest.json lists the SHA-256s.
package zipstream

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"runtime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"

	"github.com/rooms-export/rooms-export/shared/spare"
)

// Compression methods, the values archive/zip calls zip.Store and
// zip.Deflate.
const (
	Store   uint16 = 0
	Deflate uint16 = 8
)

// DefaultLevel is the deflate level used when Options.Level is 0:
// flate.BestSpeed of github.com/klauspost/compress/flate. On export-like
// newline-delimited JSON (BenchmarkWriter, CPU time on the 2-core dev
// machine) it runs at ~150-190 MB/s including CRC-32 and SHA-256, against
// ~100 MB/s for compress/flate's level 1, with a slightly smaller output
// (ratio 0.310 against 0.315); level 2 is a little slower for 2% less
// output, levels 5 and 6 are 1.6-1.8 times slower for 9% less. The export
// is CPU-bound and its 300,000 messages/s target leaves compression about
// 90 MB/s of input beside rendering, so speed wins.
const DefaultLevel = flate.BestSpeed

// bufferSize is the size of the buffer in front of the destination writer:
// headers, descriptors and small deflate blocks are gathered into writes of
// this size.
const bufferSize = 64 << 10

// zip64Limit is the value at or above which a size or offset needs a ZIP64
// record (archive/zip's uint32max).
const zip64Limit = 1<<32 - 1

// Options configures a Writer. The zero value selects DefaultLevel.
type Options struct {
	// Level is the deflate level of Deflate entries: flate.BestSpeed (1)
	// to flate.BestCompression (9), or flate.HuffmanOnly (-2); 0 selects
	// DefaultLevel. A resumed Writer must use the level of its State.
	Level int

	// Concurrency is how many segments of a Deflate entry are compressed
	// at once (see SegmentSize); 0 selects runtime.GOMAXPROCS. It changes
	// the speed, never the bytes: a resume may use another value.
	Concurrency int

	// zip64Limit, when non-zero, replaces the 4 GiB threshold above which
	// sizes and offsets need ZIP64 records, so tests can reach the ZIP64
	// code paths with small archives.
	zip64Limit uint64
}

// level returns the effective deflate level, or an error for one the
// compressor does not support.
func (o Options) level() (int, error) {
	switch {
	case o.Level == 0:
		return DefaultLevel, nil
	case o.Level == flate.HuffmanOnly, o.Level >= flate.BestSpeed && o.Level <= flate.BestCompression:
		return o.Level, nil
	default:
		return 0, fmt.Errorf("unsupported deflate level %d", o.Level)
	}
}

func (o Options) workers() int {
	if o.Concurrency > 0 {
		return o.Concurrency
	}
	return runtime.GOMAXPROCS(0)
}

func (o Options) limit() uint64 {
	if o.zip64Limit != 0 {
		return o.zip64Limit
	}
	return zip64Limit
}

// EntryInfo describes a finished entry: what its central-directory record
// holds, plus the SHA-256 of its uncompressed content.
type EntryInfo struct {
	Name     string    `json:"name"`
	Method   uint16    `json:"method"`
	Modified time.Time `json:"modified"`
	// Offset is where the entry's local header starts in the archive.
	Offset         int64  `json:"offset"`
	CRC32          uint32 `json:"crc32"`
	Size           int64  `json:"size"`
	CompressedSize int64  `json:"compressedSize"`
	// SHA256 is the lower-case hex SHA-256 of the uncompressed content.
	SHA256 string `json:"sha256,omitempty"`
}

// Writer writes a ZIP archive as a stream, without seeking, readable by
// archive/zip, Info-ZIP unzip, 7-Zip, Windows Explorer and macOS Archive
// Utility. It is not safe for concurrent use.
//
// A write error from the destination sticks: every later call returns it.
type Writer struct {
	bw     *bufio.Writer
	n      int64 // bytes handed to bw: the offset of the next byte
	level  int
	limit  uint64
	dir    []EntryInfo
	cur    *entry
	comp   *compressors // the compression of Deflate entries' segments
	err    error
	closed bool
}

// entry is the open entry.
type entry struct {
	info      EntryInfo // name, method, modified, offset
	dataStart int64     // archive offset of the entry's first data byte
	crc       uint32
	size      int64
	sha       hash.Hash
	deflate   bool
	seg       []byte // the segment being filled (Deflate)
	fresh     bool   // no input since the compressor (re)started
}

// NewWriter returns a Writer that writes an archive to w. An unsupported
// Options.Level is reported by the first Create.
func NewWriter(w io.Writer, opts Options) *Writer {
	z := &Writer{bw: newOutput(w), limit: opts.limit()}
	level, err := opts.level()
	if err != nil {
		z.err = fmt.Errorf("zipstream: new writer: %w", err)
	}
	z.level = level
	z.comp = newCompressors(level, opts.workers())
	return z
}

// emit appends p to the archive. An error sticks.
func (z *Writer) emit(p []byte) error {
	if z.err != nil {
		return z.err
	}
	n, err := z.bw.Write(p)
	z.n += int64(n)
	if err != nil {
		z.err = fmt.Errorf("zipstream: write archive: %w", err)
	}
	return z.err
}

// Create ends the open entry, if any, and starts an entry called name,
// compressed with method (Store or Deflate), dated modified (the zero time
// writes no date, as archive/zip does). It returns the io.Writer for the
// entry's content; it stays valid across checkpoints until the next Create
// or Close.
//
// The name must be a slash-separated relative path with no "." or ".."
// elements, no backslash and no control characters: the export sanitises
// every name taken from data, and this is the last line of defence that an
// archive never writes outside the folder it is unpacked into. Names ending
// in "/" (directory entries) are refused: unpackers create folders from the
// entries' paths.
func (z *Writer) Create(name string, method uint16, modified time.Time) (io.Writer, error) {
	if z.err != nil {
		return nil, z.err
	}
	if z.closed {
		return nil, fmt.Errorf("zipstream: create %q: writer is closed", name)
	}
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("zipstream: create %q: %w", name, err)
	}
	if method != Store && method != Deflate {
		return nil, fmt.Errorf("zipstream: create %q: unsupported method %d", name, method)
	}
	if err := z.endEntry(); err != nil {
		return nil, err
	}
	e := &entry{info: EntryInfo{
		Name:     name,
		Method:   method,
		Modified: clampModified(modified),
		Offset:   z.n,
	}}
	if err := z.emit(localHeader(e.info)); err != nil {
		return nil, err
	}
	e.dataStart = z.n
	e.sha = sha256.New()
	if err := z.startCompressor(e); err != nil {
		return nil, z.stick(fmt.Errorf("zipstream: create %q: %w", name, err))
	}
	z.cur = e
	return entryWriter{z: z, e: e}, nil
}

// startCompressor puts a Deflate entry at the start of a segment with a
// compressor in its initial state: a resumed Writer and the original then
// write the same bytes (the compressors are reused through Reset, which
// the flate package documents as equivalent to NewWriter).
func (z *Writer) startCompressor(e *entry) error {
	e.fresh = true
	e.deflate = e.info.Method == Deflate
	if e.deflate && e.seg == nil {
		e.seg = z.comp.buffer()
	}
	return nil
}

// endSegment compresses the entry's segment so far, ending it with a sync
// flush, or with the final block when final.
func (z *Writer) endSegment(e *entry, final bool) error {
	seg := e.seg
	e.seg = nil
	if err := z.comp.submit(seg, final, z.emit); err != nil {
		return z.stick(fmt.Errorf("zipstream: %q: %w", e.info.Name, err))
	}
	if !final {
		e.seg = z.comp.buffer()
	}
	return z.err
}

// drain emits every segment still being compressed.
func (z *Writer) drain() error {
	if err := z.comp.drain(z.emit); err != nil {
		return z.stick(fmt.Errorf("zipstream: %w", err))
	}
	return z.err
}

// entryWriter is the io.Writer Create returns.
type entryWriter struct {
	z *Writer
	e *entry
}

// Write adds p to the entry's content.
func (w entryWriter) Write(p []byte) (int, error) {
	z, e := w.z, w.e
	if z.err != nil {
		return 0, z.err
	}
	if z.cur != e {
		return 0, fmt.Errorf("zipstream: write %q: entry is finished", e.info.Name)
	}
	if len(p) == 0 {
		return 0, nil
	}
	e.crc = crc32.Update(e.crc, crc32.IEEETable, p)
	e.sha.Write(p)
	e.size += int64(len(p))
	e.fresh = false
	if !e.deflate {
		if err := z.emit(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	n := len(p)
	for len(p) > 0 {
		p = fill(&e.seg, p)
		if len(e.seg) == SegmentSize {
			if err := z.endSegment(e, false); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// Write adds p to the content of the open entry, like the io.Writer Create
// returned for it. After Resume it is how the caller goes on writing the
// entry that was open at the checkpoint.
func (z *Writer) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if z.cur == nil {
		return 0, errors.New("zipstream: write: no open entry")
	}
	return entryWriter{z: z, e: z.cur}.Write(p)
}

// stick records err as the sticky error unless one is already recorded, and
// returns the sticky error.
func (z *Writer) stick(err error) error {
	if z.err == nil {
		z.err = err
	}
	return z.err
}

// endEntry finishes the open entry: the compressor's final block, the data
// descriptor (24 bytes with 64-bit sizes when a size needs ZIP64, as
// archive/zip writes it) and its central-directory record.
func (z *Writer) endEntry() error {
	e := z.cur
	if e == nil {
		return nil
	}
	z.cur = nil
	if e.deflate {
		if err := z.endSegment(e, true); err != nil {
			return err
		}
		if err := z.drain(); err != nil {
			return err
		}
	}
	info := e.info
	info.CRC32 = e.crc
	info.Size = e.size
	info.CompressedSize = z.n - e.dataStart
	info.SHA256 = hex.EncodeToString(e.sha.Sum(nil))
	if err := z.emit(dataDescriptor(info, z.limit)); err != nil {
		return err
	}
	z.dir = append(z.dir, info)
	return nil
}

// Close ends the open entry and writes the central directory and the end
// records (ZIP64 ones when the entry count, the directory's size or its
// offset need them), then flushes everything to the destination. It does
// not close the destination.
func (z *Writer) Close() error {
	if z.err != nil {
		return z.err
	}
	if z.closed {
		return errors.New("zipstream: close: writer already closed")
	}
	if err := z.endEntry(); err != nil {
		return err
	}
	start := z.n
	for _, e := range z.dir {
		if err := z.emit(centralHeader(e, z.limit)); err != nil {
			return err
		}
	}
	if err := z.emit(directoryEnd(len(z.dir), start, z.n, z.limit)); err != nil {
		return err
	}
	if err := z.bw.Flush(); err != nil {
		return z.stick(fmt.Errorf("zipstream: close: %w", err))
	}
	z.closed = true
	z.comp.recycle()
	z.bw.Reset(nil)
	outputBuffers.Put(z.bw)
	z.bw = nil // nothing writes after Close: Write has no entry, Create and Checkpoint refuse
	return nil
}

// outputBuffers are the Writers' output buffers (bufferSize bytes), handed
// back by Close for the next archive: a process that writes many small
// archives would otherwise allocate and clear one for each (a few of them
// survive garbage collections: spare.Pool).
var outputBuffers spare.Pool // of *bufio.Writer

// newOutput is a buffer of bufferSize bytes in front of w.
func newOutput(w io.Writer) *bufio.Writer {
	bw, ok := outputBuffers.Get().(*bufio.Writer)
	if !ok {
		// not NewWriterSize(w, ...), which hands back w itself when w is
		// a big enough bufio.Writer: Close would then pool the caller's
		bw = bufio.NewWriterSize(io.Discard, bufferSize)
	}
	bw.Reset(w)
	return bw
}

// Entries returns the finished entries in archive order. The open entry is
// not among them until the next Create or Close ends it.
func (z *Writer) Entries() []EntryInfo {
	return append([]EntryInfo(nil), z.dir...)
}

// checkName reports why name cannot be an entry name, or nil.
func checkName(name string) error {
	if len(name) > 1<<16-1 {
		return errors.New("name longer than 65535 bytes")
	}
	if strings.HasSuffix(name, "/") {
		return errors.New("directory entries are not written")
	}
	if !utf8.ValidString(name) {
		return errors.New("name is not valid UTF-8")
	}
	if strings.ContainsRune(name, '\\') {
		return errors.New("name contains a backslash")
	}
	if strings.ContainsFunc(name, unicode.IsControl) {
		return errors.New("name contains a control character")
	}
	if !fs.ValidPath(name) || name == "." {
		return errors.New("name is not a clean relative path")
	}
	return nil
}

// clampModified keeps a date within what both the MS-DOS fields (from
// 1980-01-01) and the extended timestamp's unsigned 32-bit Unix time (up to
// 2106-02-07) can hold: archive/zip writes them from whatever it is given
// and overflows outside that range.
func clampModified(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	t = t.Round(0) // drop the monotonic reading
	if lo := time.Date(1980, 1, 1, 0, 0, 0, 0, t.Location()); t.Before(lo) {
		return lo
	}
	if hi := time.Unix(1<<32-1, 0).In(t.Location()); t.After(hi) {
		return hi
	}
	return t
}

// Written is the number of archive bytes produced so far (some may still
// sit in the buffer before the destination). Segments being compressed are
// not counted until they are emitted, which depends on timing when
// Options.Concurrency > 1; right after Create, Checkpoint or Close it
// depends only on what was written and where checkpoints were taken.
func (z *Writer) Written() int64 { return z.n }

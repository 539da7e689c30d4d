package rcimport

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Rocket.Chat's MongoDB collections that an import reads. GridFSFiles and
// GridFSChunks are the GridFS bucket of Rocket.Chat's GridFS upload store
// ("rocketchat_uploads"), which holds the bytes of uploaded files.
const (
	Users         = "users"
	Roles         = "rocketchat_roles"
	Permissions   = "rocketchat_permissions"
	Rooms         = "rocketchat_room"
	Subscriptions = "rocketchat_subscription"
	GridFSFiles   = "rocketchat_uploads.files"
	GridFSChunks  = "rocketchat_uploads.chunks"
	Uploads       = "rocketchat_uploads"
	Messages      = "rocketchat_message"

	// Tokens is the report line of the login tokens found in users
	// (services.resume.loginTokens); it is not a collection of its own.
	Tokens = "users.services.resume.loginTokens"
)

// Collections lists the collections in the order Import reads them: what
// others point at comes first (users before rooms, the GridFS bucket before
// the uploads that need its bytes, messages last), as workspace.Load writes
// a seed file.
func Collections() []string {
	return []string{Users, Roles, Permissions, Rooms, Subscriptions, GridFSFiles, GridFSChunks, Uploads, Messages}
}

// Formats of a collection file.
const (
	FormatBSON    = "bson"    // mongodump: BSON documents one after another
	FormatExtJSON = "extjson" // mongoexport: Extended JSON, one document a line or a JSON array
)

// fileKind is one name a collection file may have in a dump.
type fileKind struct {
	ext, format string
	gzip        bool
}

// fileKinds are the names a collection may have, BSON first (what Scan
// prefers when both are there).
func fileKinds() []fileKind {
	return []fileKind{
		{".bson", FormatBSON, false},
		{".bson.gz", FormatBSON, true}, // mongodump --gzip
		{".json", FormatExtJSON, false},
		{".json.gz", FormatExtJSON, true},
		{".jsonl", FormatExtJSON, false},
		{".ndjson", FormatExtJSON, false},
	}
}

// CollectionFile is the file holding one collection of a dump.
type CollectionFile struct {
	Collection string
	Path       string
	Format     string // FormatBSON or FormatExtJSON
	Gzip       bool
	Size       int64 // bytes on disk
}

// Dump is a directory of collection files, as mongodump (--out, optionally
// --gzip) or mongoexport (one file per collection) leaves them.
type Dump struct {
	Dir   string
	Files []CollectionFile // in Collections() order; collections without a file are absent
	Notes []string         // what Scan chose, when the directory was ambiguous
}

// File returns the file of a collection.
func (d Dump) File(collection string) (CollectionFile, bool) {
	for _, f := range d.Files {
		if f.Collection == collection {
			return f, true
		}
	}
	return CollectionFile{}, false
}

// TotalBytes is the size on disk of every collection file.
func (d Dump) TotalBytes() int64 {
	var n int64
	for _, f := range d.Files {
		n += f.Size
	}
	return n
}

// Scan finds the collection files of a Rocket.Chat dump in dir, or in its
// one subdirectory that has them (mongodump --out DIR writes DIR/<database>/).
// Each collection is <name>.bson or <name>.bson.gz (mongodump) or
// <name>.json, .json.gz, .jsonl or .ndjson (mongoexport); when both forms are
// present the BSON one is read and a note says so. It fails when no
// collection of Rocket.Chat is found.
func Scan(dir string) (Dump, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return Dump{}, fmt.Errorf("rcimport: scan %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return Dump{}, fmt.Errorf("rcimport: scan %s: not a directory (give the folder mongodump --out or mongoexport wrote into)", dir)
	}
	d, err := scanDir(dir)
	if err != nil {
		return Dump{}, err
	}
	if len(d.Files) > 0 {
		return d, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Dump{}, fmt.Errorf("rcimport: scan %s: %w", dir, err)
	}
	var found []Dump
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub, err := scanDir(filepath.Join(dir, e.Name()))
		if err != nil {
			return Dump{}, err
		}
		if len(sub.Files) > 0 {
			found = append(found, sub)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Dump{}, fmt.Errorf("rcimport: scan %s: no Rocket.Chat collection found (looked for users, rocketchat_room, rocketchat_message, ... as .bson from mongodump or .json from mongoexport, here and one level down)", dir)
	}
	names := make([]string, len(found))
	for i, f := range found {
		names[i] = f.Dir
	}
	return Dump{}, fmt.Errorf("rcimport: scan %s: several databases hold Rocket.Chat collections; give one of: %s", dir, strings.Join(names, ", "))
}

// scanDir looks for the collection files directly in dir.
func scanDir(dir string) (Dump, error) {
	d := Dump{Dir: dir}
	for _, c := range Collections() {
		var hits []CollectionFile
		for _, e := range fileKinds() {
			p := filepath.Join(dir, c+e.ext)
			fi, err := os.Stat(p)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return Dump{}, fmt.Errorf("rcimport: scan %s: %w", dir, err)
			}
			if !fi.Mode().IsRegular() {
				continue
			}
			hits = append(hits, CollectionFile{Collection: c, Path: p, Format: e.format, Gzip: e.gzip, Size: fi.Size()})
		}
		if len(hits) == 0 {
			continue
		}
		d.Files = append(d.Files, hits[0])
		if len(hits) > 1 {
			var others []string
			for _, h := range hits[1:] {
				others = append(others, filepath.Base(h.Path))
			}
			d.Notes = append(d.Notes, fmt.Sprintf("%s: read %s, ignored %s", c, filepath.Base(hits[0].Path), strings.Join(others, ", ")))
		}
	}
	return d, nil
}

// Limits of the readers.
const (
	// maxBSONDocument is the largest BSON document read: MongoDB's 16 MiB
	// plus the 16 KiB its internal documents may exceed it by.
	maxBSONDocument = 16<<20 + 16<<10
	// maxJSONDocument is the longest Extended JSON document (binary data
	// grows by a third in base64, and strings by their escapes).
	maxJSONDocument = 64 << 20
	// maxDetail bounds the detail of a problem (parser messages may quote
	// a little of the input).
	maxDetail = 160
)

// brokenFile is a defect after which the rest of a file cannot be read (a
// BSON length that cannot be right, a JSON array that stops parsing): the
// reader has lost its place.
type brokenFile struct{ reason, detail string }

func (e *brokenFile) Error() string { return e.reason }

// docReader yields the documents of one collection file. next returns
// io.EOF at the end, a *badDoc for a document it skipped (reading goes on),
// a *brokenFile when the rest cannot be read, or another error (an I/O
// failure). where describes the position of the document last returned.
type docReader interface {
	next() (bson.Raw, error)
	where() string
}

// countingReader counts the bytes read through it, for progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// openFile opens a collection file for reading: the docReader, the counter
// of bytes read from disk, the format as it turned out ("bson",
// "extjson lines", "extjson array", "+gzip") and a closer.
func openFile(f CollectionFile) (docReader, *countingReader, string, io.Closer, error) {
	file, err := os.Open(f.Path)
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("rcimport: open %s: %w", f.Path, err)
	}
	counter := &countingReader{r: file}
	var r io.Reader = counter
	closer := io.Closer(file)
	format := f.Format
	if f.Gzip {
		gz, err := gzip.NewReader(counter)
		if err != nil {
			file.Close()
			return nil, nil, "", nil, &brokenFile{reason: "not a gzip file", detail: scrub(err)}
		}
		r = gz
		format += "+gzip"
	}
	br := bufio.NewReaderSize(r, 256<<10)
	if f.Format == FormatBSON {
		return &bsonReader{r: br}, counter, format, closer, nil
	}
	first, err := firstByte(br)
	switch {
	case err == io.EOF:
		return emptyReader{}, counter, format, closer, nil
	case err != nil:
		file.Close()
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, "", nil, &brokenFile{reason: "invalid gzip data", detail: scrub(err)}
		}
		return nil, nil, "", nil, fmt.Errorf("rcimport: read %s: %w", f.Path, err)
	case first == '[':
		return newArrayReader(br), counter, strings.Replace(format, FormatExtJSON, FormatExtJSON+" array", 1), closer, nil
	case prettyFirstLine(br):
		return newStreamReader(br), counter, strings.Replace(format, FormatExtJSON, FormatExtJSON+" pretty", 1), closer, nil
	}
	return &linesReader{r: br}, counter, strings.Replace(format, FormatExtJSON, FormatExtJSON+" lines", 1), closer, nil
}

// prettyFirstLine reports whether the first line that is not blank holds
// only "{": mongoexport --pretty spreads each document over many lines.
func prettyFirstLine(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Size())
	b = bytes.TrimLeft(b, " \t\r\n")
	line, _, found := bytes.Cut(b, []byte("\n"))
	return found && string(bytes.TrimSpace(line)) == "{"
}

// firstByte consumes a UTF-8 byte order mark and peeks at the first byte
// that is not white space, leaving it and the white space before it unread
// (so that line numbers stay right).
func firstByte(br *bufio.Reader) (byte, error) {
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
	for n := 1; n <= br.Size(); n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			return 0, err
		}
		switch c := b[n-1]; c {
		case ' ', '\t', '\r', '\n':
			continue
		default:
			return c, nil
		}
	}
	return '{', nil // a buffer full of white space: read it as lines
}

type emptyReader struct{}

func (emptyReader) next() (bson.Raw, error) { return nil, io.EOF }
func (emptyReader) where() string           { return "start of file" }

// bsonReader reads mongodump's format: BSON documents back to back, each
// starting with its length (int32, little-endian). A document whose length
// is plausible but whose content is not valid BSON is skipped; a length that
// cannot be right breaks the file.
type bsonReader struct {
	r        *bufio.Reader
	buf      []byte
	index    int64 // 1-based number of the document last returned
	offset   int64 // byte offset of the document last returned
	consumed int64
}

func (b *bsonReader) where() string {
	return fmt.Sprintf("document %d (byte %d)", b.index, b.offset)
}

func (b *bsonReader) next() (bson.Raw, error) {
	var hdr [4]byte
	n, err := io.ReadFull(b.r, hdr[:])
	if err == io.EOF {
		return nil, io.EOF
	}
	b.index++
	b.offset = b.consumed
	if err == io.ErrUnexpectedEOF {
		return nil, &brokenFile{reason: "file ends inside a document", detail: fmt.Sprintf("%d trailing bytes", n)}
	}
	if err != nil {
		return nil, err
	}
	size := int64(int32(binary.LittleEndian.Uint32(hdr[:])))
	if size < 5 || size > maxBSONDocument {
		return nil, &brokenFile{reason: "invalid BSON document length", detail: fmt.Sprintf("length %d", size)}
	}
	if int64(cap(b.buf)) < size {
		b.buf = make([]byte, size)
	}
	buf := b.buf[:size]
	copy(buf, hdr[:])
	if _, err := io.ReadFull(b.r, buf[4:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, &brokenFile{reason: "file ends inside a document", detail: fmt.Sprintf("document of %d bytes", size)}
		}
		return nil, err
	}
	b.consumed += size
	raw := bson.Raw(buf)
	if err := raw.Validate(); err != nil {
		return nil, &badDoc{Reason: "invalid BSON", Detail: scrub(err)}
	}
	return raw, nil
}

// linesReader reads mongoexport's default output: one Extended JSON
// document a line (relaxed, or canonical with --jsonFormat=canonical).
// Blank lines are skipped; positions are line numbers.
type linesReader struct {
	r    *bufio.Reader
	line int64
	buf  []byte
}

func (l *linesReader) where() string { return fmt.Sprintf("line %d", l.line) }

func (l *linesReader) next() (bson.Raw, error) {
	for {
		line, tooLong, err := l.readLine()
		if err == io.EOF && len(line) == 0 && !tooLong {
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		l.line++
		if tooLong {
			return nil, &badDoc{Reason: "document too long", Detail: fmt.Sprintf("line longer than %d bytes", maxJSONDocument)}
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if err == io.EOF {
				return nil, io.EOF
			}
			continue
		}
		return decodeExtJSON(line)
	}
}

// readLine reads up to and including the next newline (or the end), keeping
// at most maxJSONDocument bytes; past that the rest of the line is read and
// dropped and tooLong is set.
func (l *linesReader) readLine() (line []byte, tooLong bool, err error) {
	l.buf = l.buf[:0]
	for {
		chunk, err := l.r.ReadSlice('\n')
		if !tooLong {
			if len(l.buf)+len(chunk) > maxJSONDocument {
				tooLong = true
				l.buf = l.buf[:0]
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return l.buf, tooLong, err
	}
}

// decodeExtJSON parses one Extended JSON document, canonical or relaxed.
func decodeExtJSON(doc []byte) (bson.Raw, error) {
	var raw bson.Raw
	if err := bson.UnmarshalExtJSON(doc, false, &raw); err != nil {
		return nil, &badDoc{Reason: "invalid Extended JSON", Detail: scrub(err)}
	}
	return raw, nil
}

// arrayReader reads mongoexport --jsonArray output: one JSON array of
// Extended JSON documents, read element by element. A syntax error breaks
// the file (a JSON stream cannot be resumed past one); an element that is
// JSON but not a valid Extended JSON document is skipped. Without brackets
// (bare) it reads documents one after another whatever the line breaks, as
// mongoexport --pretty writes them.
type arrayReader struct {
	dec     *json.Decoder
	index   int64
	bare    bool
	started bool
	done    bool
}

func newArrayReader(r io.Reader) *arrayReader { return &arrayReader{dec: json.NewDecoder(r)} }

func newStreamReader(r io.Reader) *arrayReader {
	return &arrayReader{dec: json.NewDecoder(r), bare: true, started: true}
}

func (a *arrayReader) where() string {
	if a.bare {
		return fmt.Sprintf("document %d", a.index)
	}
	return fmt.Sprintf("element %d", a.index)
}

func (a *arrayReader) next() (bson.Raw, error) {
	if a.done {
		return nil, io.EOF
	}
	if a.bare && !a.dec.More() {
		a.done = true
		return nil, io.EOF
	}
	if !a.started {
		a.started = true
		if _, err := a.dec.Token(); err != nil { // the '[' openFile saw
			return nil, &brokenFile{reason: "invalid JSON array", detail: scrub(err)}
		}
	}
	if !a.bare && !a.dec.More() {
		a.done = true
		if _, err := a.dec.Token(); err != nil {
			a.index++
			return nil, &brokenFile{reason: "invalid JSON array", detail: scrub(err)}
		}
		return nil, io.EOF
	}
	a.index++
	var el json.RawMessage
	if err := a.dec.Decode(&el); err != nil {
		a.done = true
		what, invalid := "the JSON array", "invalid JSON array"
		if a.bare {
			what, invalid = "a JSON document", "invalid JSON"
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &brokenFile{reason: "file ends inside " + what}
		}
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, &brokenFile{reason: invalid, detail: scrub(err)}
		}
		return nil, err
	}
	if len(el) > maxJSONDocument {
		return nil, &badDoc{Reason: "document too long", Detail: fmt.Sprintf("element longer than %d bytes", maxJSONDocument)}
	}
	return decodeExtJSON(el)
}

// scrub turns a parser's error into a problem's detail that cannot carry
// document content: parsers quote what they choke on (a string, a literal,
// a character), which may be message text or a token. The message is cut
// before the first quote, parenthesis or ": ", and the position it names, if
// any, is kept.
func scrub(err error) string {
	s := err.Error()
	cut := len(s)
	for _, m := range []string{"(", `"`, "'", ": ", ". Position", ", literal", "`"} {
		if i := strings.Index(s, m); i >= 0 && i < cut {
			cut = i
		}
	}
	out := strings.TrimSpace(strings.TrimRight(s[:cut], ".;, "))
	if pos := positionIn(s); pos != "" {
		out += " at position " + pos
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		out += fmt.Sprintf(" at byte %d", syn.Offset)
	}
	return clip(out)
}

// positionIn finds the number after "position" in a parser message.
func positionIn(s string) string {
	i := strings.Index(strings.ToLower(s), "position")
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(s[i+len("position"):], ": ")
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	return rest[:end]
}

// clip shortens a detail for a report.
func clip(s string) string {
	if len(s) <= maxDetail {
		return s
	}
	cut := maxDetail
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// sortedReasons returns reasons by count, then name.
func sortedReasons(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// mappedFile finds the memory maps of the database file in /proc/self/maps
// by device and inode (or, where a file system reports other numbers there,
// by path) and drops their pages with madvise(MADV_DONTNEED). On a shared,
// read-only file mapping that only clears the page-table entries: nothing is
// lost, the next read faults the page back in from the page cache. Only
// such mappings ("r--s") are touched, never a private or writable one.
type mappedFile struct {
	path  string // absolute, symlinks resolved
	major uint32
	minor uint32
	ino   uint64

	// statm is /proc/self/statm, kept open: pread of it is a sixth of
	// opening and reading it anew (2.5 against 15.5 µs), and an export of
	// a million messages looks at it some fifteen thousand times. nil:
	// read it anew.
	statm *os.File

	// base, once the store is open, is the address the store's mapping
	// starts at (bbolt's DB.Info().Data). A release finds the mapping in
	// /proc/self/maps once and keeps its range while base stays where it
	// was: bbolt maps the file once at its full size and remaps only in a
	// write transaction's commit, never while a read transaction — which
	// is where releases happen — is open, and a remap moves base.
	base   func() uintptr
	mu     sync.Mutex
	mapped [2]uintptr // the range of the mapping at base, from the last scan
	scans  int        // reads of /proc/self/maps (tests)
}

func newMappedFile(path string) (*mappedFile, error) {
	abs, err := filepath.Abs(path)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, fmt.Errorf("resolve path: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Stat(abs, &st); err != nil {
		return nil, fmt.Errorf("stat: %w", err)
	}
	f := &mappedFile{path: abs, major: unix.Major(st.Dev), minor: unix.Minor(st.Dev), ino: st.Ino}
	f.statm, _ = os.Open("/proc/self/statm") // nil: residentFileBytes instead
	return f, nil
}

// close lets go of statm.
func (f *mappedFile) close() {
	if f.statm != nil {
		f.statm.Close()
	}
}

// resident is residentFileBytes through the open statm.
func (f *mappedFile) resident() (int64, error) {
	if f.statm == nil {
		return residentFileBytes()
	}
	var buf [128]byte
	n, err := f.statm.ReadAt(buf[:], 0)
	if n == 0 && err != nil {
		return 0, err
	}
	return parseStatm(buf[:n])
}

// residentFileBytes is the process's file-backed resident memory: the
// "shared" field of /proc/self/statm (RssFile + RssShmem), in bytes.
func residentFileBytes() (int64, error) {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	return parseStatm(raw)
}

// parseStatm is the "shared" field of a /proc/self/statm line, in bytes.
func parseStatm(raw []byte) (int64, error) {
	f := bytes.Fields(raw)
	if len(f) < 3 {
		return 0, fmt.Errorf("statm: %q", raw)
	}
	pages, err := strconv.ParseInt(string(f[2]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("statm: %w", err)
	}
	return pages * int64(os.Getpagesize()), nil
}

// errNotMapped is release's error when the file has no shared read-only
// mapping in the process.
var errNotMapped = errors.New("database file not mapped")

// release drops the resident pages of every shared read-only mapping of
// the file: the store's own, whose range it keeps while base stays put,
// or, the first time and after a remap, every one /proc/self/maps lists.
func (f *mappedFile) release() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.base != nil && f.mapped[0] != 0 && f.base() == f.mapped[0] {
		start, end := f.mapped[0], f.mapped[1]
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_DONTNEED); errno == 0 {
			return nil
		}
	}
	f.mapped = [2]uintptr{}
	f.scans++
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return fmt.Errorf("release pages: %w", err)
	}
	var base uintptr
	if f.base != nil {
		base = f.base()
	}
	found := false
	for line := range bytes.Lines(maps) {
		start, end, ok := f.matches(bytes.TrimRight(line, "\n"))
		if !ok {
			continue
		}
		found = true
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_DONTNEED); errno != 0 {
			return fmt.Errorf("release pages: madvise: %w", errno)
		}
		if start == base {
			f.mapped = [2]uintptr{start, end}
		}
	}
	if !found {
		return fmt.Errorf("release pages of %s: %w", f.path, errNotMapped)
	}
	return nil
}

// matches parses one line of /proc/self/maps,
//
//	start-end perms offset major:minor inode pathname
//
// and reports the range when it is a shared read-only mapping of the file.
func (f *mappedFile) matches(line []byte) (start, end uintptr, ok bool) {
	var fields [5][]byte
	rest := line
	for i := range fields {
		rest = bytes.TrimLeft(rest, " ")
		j := bytes.IndexByte(rest, ' ')
		if j < 0 {
			if i < 4 {
				return 0, 0, false
			}
			j = len(rest)
		}
		fields[i], rest = rest[:j], rest[j:]
	}
	if string(fields[1]) != "r--s" {
		return 0, 0, false
	}
	name := bytes.TrimLeft(rest, " ")
	same := string(name) == f.path
	if !same {
		maj, mnr, ok := bytes.Cut(fields[3], []byte(":"))
		if !ok {
			return 0, 0, false
		}
		same = hexIs(maj, uint64(f.major)) && hexIs(mnr, uint64(f.minor)) && decIs(fields[4], f.ino)
	}
	if !same {
		return 0, 0, false
	}
	lo, hi, ok := bytes.Cut(fields[0], []byte("-"))
	if !ok {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(string(lo), 16, 64)
	e, err2 := strconv.ParseUint(string(hi), 16, 64)
	if err1 != nil || err2 != nil || e <= s {
		return 0, 0, false
	}
	return uintptr(s), uintptr(e), true
}

func hexIs(b []byte, want uint64) bool {
	v, err := strconv.ParseUint(string(b), 16, 64)
	return err == nil && v == want
}

func decIs(b []byte, want uint64) bool {
	v, err := strconv.ParseUint(string(b), 10, 64)
	return err == nil && v == want
}

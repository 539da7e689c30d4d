package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

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
}

func newMappedFile(path string) (mappedFile, error) {
	abs, err := filepath.Abs(path)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return mappedFile{}, fmt.Errorf("resolve path: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Stat(abs, &st); err != nil {
		return mappedFile{}, fmt.Errorf("stat: %w", err)
	}
	return mappedFile{path: abs, major: unix.Major(st.Dev), minor: unix.Minor(st.Dev), ino: st.Ino}, nil
}

// residentFileBytes is the process's file-backed resident memory: the
// "shared" field of /proc/self/statm (RssFile + RssShmem), in bytes.
func residentFileBytes() (int64, error) {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
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
// the file.
func (f mappedFile) release() error {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return fmt.Errorf("release pages: %w", err)
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
func (f mappedFile) matches(line []byte) (start, end uintptr, ok bool) {
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

package rcimport

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// gridSpool reassembles the GridFS files of rocketchat_uploads.files and
// .chunks on disk, so that memory does not grow with the number or size of
// the files. Each file id gets, in a private temporary directory:
//
//	<h>.meta  its length and chunk size (16 bytes)
//	<h>.data  its bytes, each chunk written at n·chunkSize
//	<h>.got   one byte per chunk, set when the chunk arrived
//
// where <h> is a hash of the id (ids may hold any character). Chunks may
// come in any order and interleave between files. With dryRun no bytes are
// written, only which chunks arrived.
type gridSpool struct {
	dir    string
	dryRun bool

	cur       string // <h> of the open file, or ""
	curMeta   gridMeta
	data, got *os.File
}

type gridMeta struct{ length, chunkSize int64 }

// chunks is how many chunks a file of that meta has.
func (m gridMeta) chunks() int64 {
	if m.length == 0 {
		return 0
	}
	return (m.length + m.chunkSize - 1) / m.chunkSize
}

func newGridSpool(parent string, dryRun bool) (*gridSpool, error) {
	dir, err := os.MkdirTemp(parent, "rcimport-gridfs-")
	if err != nil {
		return nil, fmt.Errorf("rcimport: gridfs spool: %w", err)
	}
	return &gridSpool{dir: dir, dryRun: dryRun}, nil
}

func spoolName(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

func (s *gridSpool) path(h, ext string) string { return filepath.Join(s.dir, h+ext) }

// addFile records a rocketchat_uploads.files document. A file id seen again
// starts over.
func (s *gridSpool) addFile(g gridFile) error {
	h := spoolName(g.id)
	if err := s.closeCur(); err != nil {
		return err
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(g.length))
	binary.BigEndian.PutUint64(b[8:], uint64(g.chunkSize))
	for _, ext := range []string{".data", ".got"} {
		if err := os.Remove(s.path(h, ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rcimport: gridfs spool: %w", err)
		}
	}
	if err := os.WriteFile(s.path(h, ".meta"), b[:], 0o600); err != nil {
		return fmt.Errorf("rcimport: gridfs spool: %w", err)
	}
	return nil
}

func (s *gridSpool) meta(h string) (gridMeta, bool, error) {
	b, err := os.ReadFile(s.path(h, ".meta"))
	if errors.Is(err, os.ErrNotExist) {
		return gridMeta{}, false, nil
	}
	if err != nil || len(b) != 16 {
		return gridMeta{}, false, fmt.Errorf("rcimport: gridfs spool: read meta: %v", err)
	}
	return gridMeta{length: int64(binary.BigEndian.Uint64(b[:8])), chunkSize: int64(binary.BigEndian.Uint64(b[8:]))}, true, nil
}

// addChunk places a rocketchat_uploads.chunks document. A chunk that does
// not fit its file is refused (*badDoc); an error is a spool failure.
func (s *gridSpool) addChunk(c gridChunk) (*badDoc, error) {
	h := spoolName(c.fileID)
	if h != s.cur {
		if err := s.closeCur(); err != nil {
			return nil, err
		}
		m, ok, err := s.meta(h)
		if err != nil {
			return nil, err
		}
		if !ok {
			return bad("chunk of a file missing from " + GridFSFiles), nil
		}
		if !s.dryRun {
			if s.data, err = os.OpenFile(s.path(h, ".data"), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
				return nil, fmt.Errorf("rcimport: gridfs spool: %w", err)
			}
		}
		if s.got, err = os.OpenFile(s.path(h, ".got"), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
			s.closeCur()
			return nil, fmt.Errorf("rcimport: gridfs spool: %w", err)
		}
		s.cur, s.curMeta = h, m
	}
	m := s.curMeta
	n := m.chunks()
	if c.n >= n {
		return &badDoc{Reason: "chunk number beyond the file's length", Detail: fmt.Sprintf("chunk %d of %d", c.n, n)}, nil
	}
	want := m.chunkSize
	if c.n == n-1 {
		want = m.length - c.n*m.chunkSize
	}
	if int64(len(c.data)) != want {
		return &badDoc{Reason: "chunk size does not match the file", Detail: fmt.Sprintf("chunk %d has %d bytes, want %d", c.n, len(c.data), want)}, nil
	}
	if s.data != nil {
		if _, err := s.data.WriteAt(c.data, c.n*m.chunkSize); err != nil {
			return nil, fmt.Errorf("rcimport: gridfs spool: %w", err)
		}
	}
	if _, err := s.got.WriteAt([]byte{1}, c.n); err != nil {
		return nil, fmt.Errorf("rcimport: gridfs spool: %w", err)
	}
	return nil, nil
}

func (s *gridSpool) closeCur() error {
	var errs []error
	for _, f := range []*os.File{s.data, s.got} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	s.data, s.got, s.cur = nil, nil, ""
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("rcimport: gridfs spool: %w", err)
	}
	return nil
}

// gridState is what the spool knows of one upload's bytes.
type gridState int

const (
	gridAbsent     gridState = iota // not a GridFS file of the dump
	gridIncomplete                  // some chunk is missing
	gridComplete
)

// open returns the reassembled bytes of the file with that id (nil with
// dryRun), their size and the state; missing names the first missing chunk.
func (s *gridSpool) open(id string) (r *os.File, size int64, state gridState, missing int64, err error) {
	if err := s.closeCur(); err != nil {
		return nil, 0, gridAbsent, 0, err
	}
	h := spoolName(id)
	m, ok, err := s.meta(h)
	if err != nil || !ok {
		return nil, 0, gridAbsent, 0, err
	}
	n := m.chunks()
	if n > 0 {
		got, err := os.ReadFile(s.path(h, ".got"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, 0, gridAbsent, 0, fmt.Errorf("rcimport: gridfs spool: %w", err)
		}
		for i := int64(0); i < n; i++ {
			if i >= int64(len(got)) || got[i] != 1 {
				return nil, 0, gridIncomplete, i, nil
			}
		}
	}
	if s.dryRun {
		return nil, m.length, gridComplete, 0, nil
	}
	f, err := os.OpenFile(s.path(h, ".data"), os.O_RDONLY|os.O_CREATE, 0o600) // an empty file has no chunks, so no .data
	if err != nil {
		return nil, 0, gridAbsent, 0, fmt.Errorf("rcimport: gridfs spool: %w", err)
	}
	return f, m.length, gridComplete, 0, nil
}

// close removes the spool.
func (s *gridSpool) close() error {
	err := s.closeCur()
	if rerr := os.RemoveAll(s.dir); rerr != nil && err == nil {
		err = fmt.Errorf("rcimport: gridfs spool: %w", rerr)
	}
	return err
}

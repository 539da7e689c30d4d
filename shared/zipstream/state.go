package zipstream

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// stateVersion is the State.Version this build writes and accepts.
const stateVersion = 1

// State is where a Writer stood at a checkpoint: everything Resume needs to
// go on writing the same archive. It is JSON-serialisable and small: a
// record per finished entry plus a few hundred bytes.
type State struct {
	// Version is the layout of this State; Resume refuses others.
	Version int `json:"version"`
	// Offset is the number of archive bytes written before the checkpoint;
	// all of them had reached the destination when Checkpoint returned.
	Offset int64 `json:"offset"`
	// Level is the deflate level of the archive's Deflate entries.
	Level int `json:"level"`
	// Entries are the finished entries, in archive order.
	Entries []EntryInfo `json:"entries,omitempty"`
	// Open is the entry being written, if any.
	Open *OpenEntry `json:"open,omitempty"`
}

// OpenEntry is the entry being written at a checkpoint: its CRC32, Size and
// CompressedSize cover the content written so far, and its SHA256 is empty.
type OpenEntry struct {
	EntryInfo
	// SHA256State is the marshalled state of the content's SHA-256
	// (crypto/sha256's encoding.BinaryMarshaler form). It holds the last
	// Size%64 bytes of content in clear, so a State is as confidential as
	// the archive itself.
	SHA256State []byte `json:"sha256State"`
}

// Checkpoint makes the archive resumable at this point and returns the
// State to resume from. It may be called at any time before Close: with no
// open entry, right after Create, or in the middle of an entry. For a
// Deflate entry that has received input since its compressor started, it
// ends the current deflate block with a sync flush and starts a fresh
// compressor, so that what follows does not depend on what came before (a
// resumed Writer starts with a fresh compressor too). Then it flushes every
// byte written so far to the destination.
//
// Rocket.Chat has no counterpart: its export runs in one process. The
// worker is meant to checkpoint when a part of its multipart upload is
// full: since every byte up to State.Offset has reached the destination,
// the part ends exactly there, and a stopped invocation loses at most the
// part it was filling.
func (z *Writer) Checkpoint() (State, error) {
	if z.err != nil {
		return State{}, z.err
	}
	if z.closed {
		return State{}, errors.New("zipstream: checkpoint: writer is closed")
	}
	e := z.cur
	if e != nil && e.deflate && !e.fresh {
		if err := z.endSegment(e, false); err != nil {
			return State{}, err
		}
		e.fresh = true
	}
	if err := z.drain(); err != nil {
		return State{}, err
	}
	if err := z.bw.Flush(); err != nil {
		return State{}, z.stick(fmt.Errorf("zipstream: checkpoint: %w", err))
	}
	s := State{Version: stateVersion, Offset: z.n, Level: z.level, Entries: z.Entries()}
	if e != nil {
		sha, err := e.sha.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return State{}, fmt.Errorf("zipstream: checkpoint %q: save SHA-256: %w", e.info.Name, err)
		}
		info := e.info
		info.CRC32, info.Size, info.CompressedSize = e.crc, e.size, z.n-e.dataStart
		s.Open = &OpenEntry{EntryInfo: info, SHA256State: sha}
	}
	return s, nil
}

// Resume returns a Writer that stands where the Writer that returned s
// stood: w receives the archive's bytes from s.Offset on. Fed the input the
// original received after the checkpoint, it writes exactly what the
// original wrote after s.Offset. opts must select the level s was written
// with. Resume checks that s is consistent (the entries tile the archive up
// to s.Offset) and refuses it otherwise.
func Resume(w io.Writer, s State, opts Options) (*Writer, error) {
	level, err := opts.level()
	if err != nil {
		return nil, fmt.Errorf("zipstream: resume: %w", err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("zipstream: resume: state version %d, want %d", s.Version, stateVersion)
	}
	if s.Level != level {
		return nil, fmt.Errorf("zipstream: resume: state written at level %d, options say %d", s.Level, level)
	}
	limit := opts.limit()
	if err := checkState(s, limit); err != nil {
		return nil, fmt.Errorf("zipstream: resume: %w", err)
	}
	z := &Writer{
		bw:    newOutput(w),
		n:     s.Offset,
		level: level,
		limit: limit,
		dir:   append([]EntryInfo(nil), s.Entries...),
		comp:  newCompressors(level, opts.workers()),
	}
	if o := s.Open; o != nil {
		sha := sha256.New()
		if err := sha.(encoding.BinaryUnmarshaler).UnmarshalBinary(o.SHA256State); err != nil {
			return nil, fmt.Errorf("zipstream: resume %q: restore SHA-256: %w", o.Name, err)
		}
		e := &entry{
			info:      EntryInfo{Name: o.Name, Method: o.Method, Modified: o.Modified, Offset: o.Offset},
			dataStart: s.Offset - o.CompressedSize,
			crc:       o.CRC32,
			size:      o.Size,
			sha:       sha,
		}
		if err := z.startCompressor(e); err != nil {
			return nil, fmt.Errorf("zipstream: resume %q: %w", o.Name, err)
		}
		z.cur = e
	}
	return z, nil
}

// checkState reports why s cannot describe an archive written by this
// package, or nil: every entry must start where the previous one ended,
// with a valid name, method, SHA-256 and sizes, and the last one must end at
// s.Offset.
func checkState(s State, limit uint64) error {
	var at int64
	for i, e := range s.Entries {
		if err := checkEntry(e, at); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		if sum, err := hex.DecodeString(e.SHA256); err != nil || len(sum) != sha256.Size {
			return fmt.Errorf("entry %d: SHA-256 %q is not 64 hex digits", i, e.SHA256)
		}
		at = e.Offset + localHeaderLen(e.Name, e.Modified) + e.CompressedSize + dataDescriptorSize(e, limit)
	}
	if o := s.Open; o != nil {
		if err := checkEntry(o.EntryInfo, at); err != nil {
			return fmt.Errorf("open entry: %w", err)
		}
		at = o.Offset + localHeaderLen(o.Name, o.Modified) + o.CompressedSize
	}
	if at != s.Offset {
		return fmt.Errorf("entries end at %d, state offset is %d", at, s.Offset)
	}
	return nil
}

// checkEntry checks one entry's fields; want is where it must start.
func checkEntry(e EntryInfo, want int64) error {
	if err := checkName(e.Name); err != nil {
		return fmt.Errorf("%q: %w", e.Name, err)
	}
	if e.Method != Store && e.Method != Deflate {
		return fmt.Errorf("%q: unsupported method %d", e.Name, e.Method)
	}
	if !e.Modified.Equal(clampModified(e.Modified)) {
		return fmt.Errorf("%q: modification time out of range", e.Name)
	}
	if e.Offset != want {
		return fmt.Errorf("%q: starts at %d, previous entry ends at %d", e.Name, e.Offset, want)
	}
	if e.Size < 0 || e.CompressedSize < 0 || (e.Method == Store && e.Size != e.CompressedSize) {
		return fmt.Errorf("%q: impossible sizes %d/%d", e.Name, e.CompressedSize, e.Size)
	}
	return nil
}

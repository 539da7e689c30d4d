package localfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// DefaultPartSize is how many bytes a resumable upload writes between two
// fsyncs when Store.PartSize is zero: the same 8 MiB as an S3 part, so a
// stopped export loses as much work locally as in AWS.
const DefaultPartSize = 8 << 20

// stateVersion is the version of the upload state format.
const stateVersion = 1

// uploadIDLen is the length, in hex digits, of an upload's random id.
const uploadIDLen = 32

// uploadState is what Persisted returns, JSON-encoded: enough for another
// process to find the upload's file and continue after its durable bytes.
type uploadState struct {
	V   int    `json:"v"`
	Key string `json:"key"`
	ID  string `json:"id"`
	N   int64  `json:"n"`
}

func (s *Store) partSize() int64 {
	if s.PartSize > 0 {
		return int64(s.PartSize)
	}
	return DefaultPartSize
}

// uploadPath is the temporary file of upload id of key:
// .tmp/<first 128 bits of sha256(key), hex>-<id>.upload. The key's hash lets
// whoever knows the key find its uploads; the id keeps two uploads of one key
// apart, so a state left from a committed or aborted upload never reopens a
// newer upload of the same key.
func (s *Store) uploadPath(key, id string) string {
	h := sha256.Sum256([]byte(key))
	return filepath.Join(s.dir, tmpDir, hex.EncodeToString(h[:16])+"-"+id+".upload")
}

// StartUpload begins a resumable upload of key: bytes go to a temporary file
// under .tmp/ named after the key and a random id, fsynced every PartSize
// bytes; Persisted reports the last fsync. Commit renames the file into
// place as Create's writers do; Abort removes it. Unlike a Create writer, an
// upload whose Write or Commit fails keeps its file, resumable from its last
// Persisted state, until Abort: a worker stopped mid-export resumes where it
// left off rather than starting again. info is not kept (see Create).
func (s *Store) StartUpload(ctx context.Context, key string, info export.ObjectInfo) (export.Upload, error) {
	if err := CheckKey(key); err != nil {
		return nil, fmt.Errorf("localfs: start upload: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("localfs: start upload %s: %w", key, err)
	}
	id, err := randomHex(uploadIDLen / 2)
	if err != nil {
		return nil, fmt.Errorf("localfs: start upload %s: %w", key, err)
	}
	return s.newUpload(key, id)
}

// newUpload starts upload id of key from nothing: in memory with
// KeepSmall, else in its new file. The name in .tmp/ is synced with the
// first part (writer.Write): until then Persisted reports nothing a crash
// could lose.
func (s *Store) newUpload(key, id string) (*writer, error) {
	w := &writer{s: s, tmp: s.uploadPath(key, id), dest: s.path(key), key: key, resumable: true, id: id, partSize: s.partSize()}
	if s.small != nil && s.smallLimit(w.partSize) > 0 {
		w.inMemory = true
		return w, nil
	}
	f, err := os.OpenFile(w.tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("localfs: start upload %s: %w", key, err)
	}
	w.f = f
	return w, nil
}

// ResumeUpload reopens the upload a Persisted state describes: the file is
// truncated to the persisted length and the returned Upload writes after it.
// Resuming again from the same (or an older) state of a live upload is
// harmless — the bytes before its offset never change. After Commit or Abort
// the file is gone and ResumeUpload fails with an error wrapping
// chat.ErrNotFound (with KeepSmall, a state of zero bytes whose upload was
// aborted, or lost in memory, starts the upload afresh; one whose object
// was committed still fails); a state of another key, or one that is not this store's,
// is refused. Two processes must not write one upload at the same time (the
// job's lease keeps a worker alone on its export): a write after another
// process's Commit would land in the committed file.
func (s *Store) ResumeUpload(ctx context.Context, key string, info export.ObjectInfo, state []byte) (export.Upload, error) {
	if err := CheckKey(key); err != nil {
		return nil, fmt.Errorf("localfs: resume upload: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("localfs: resume upload %s: %w", key, err)
	}
	st, err := decodeState(state, key)
	if err != nil {
		return nil, fmt.Errorf("localfs: resume upload %s: %w", key, err)
	}
	tmp := s.uploadPath(key, st.ID)
	f, err := os.OpenFile(tmp, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) && st.N == 0 && s.small != nil {
		// Nothing was durable, and the upload may have been in memory
		// only (KeepSmall): start it afresh, unless it was committed.
		o, err := s.openObject(ctx, key)
		switch {
		case err == nil:
			_ = o.Close()
			return nil, fmt.Errorf("localfs: resume upload %s: committed: %w", key, chat.ErrNotFound)
		case !errors.Is(err, chat.ErrNotFound):
			return nil, fmt.Errorf("localfs: resume upload %s: %w", key, err)
		}
		return s.newUpload(key, st.ID)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("localfs: resume upload %s: committed, aborted or not this store's: %w", key, chat.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("localfs: resume upload %s: %w", key, err)
	}
	if err := truncateTo(f, st.N); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("localfs: resume upload %s: %w", key, err)
	}
	return &writer{
		s: s, f: f, tmp: tmp, dest: s.path(key), key: key,
		resumable: true, id: st.ID, partSize: s.partSize(), n: st.N, synced: st.N,
		found: st.N > 0, // a state with bytes comes from a Persisted after the name was synced
	}, nil
}

// truncateTo drops what follows the first n bytes of f (written after the
// state was taken) and positions f at n.
func truncateTo(f *os.File, n int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < n {
		return fmt.Errorf("upload file holds %d bytes, fewer than the %d persisted", fi.Size(), n)
	}
	if err := f.Truncate(n); err != nil {
		return err
	}
	_, err = f.Seek(n, io.SeekStart)
	return err
}

// decodeState parses a Persisted state and checks it belongs to key. The id
// becomes part of a file name, so only the exact form StartUpload makes is
// accepted.
func decodeState(state []byte, key string) (uploadState, error) {
	var st uploadState
	dec := json.NewDecoder(bytes.NewReader(state))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return st, fmt.Errorf("invalid upload state: %w", err)
	}
	switch {
	case st.V != stateVersion:
		return st, fmt.Errorf("invalid upload state: version %d, want %d", st.V, stateVersion)
	case st.Key != key:
		return st, errors.New("invalid upload state: it is another key's")
	case !isLowerHex(st.ID, uploadIDLen):
		return st, errors.New("invalid upload state: malformed upload id")
	case st.N < 0:
		return st, fmt.Errorf("invalid upload state: negative length %d", st.N)
	}
	return st, nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Persisted returns how many bytes the upload has fsynced, and the state
// that resumes after them. The state is encoded again only when that count
// moves.
func (w *writer) Persisted() (int64, []byte) {
	if w.state == nil || w.stateAt != w.synced {
		// Marshalling strings and integers cannot fail.
		w.state, _ = json.Marshal(uploadState{V: stateVersion, Key: w.key, ID: w.id, N: w.synced})
		w.stateAt = w.synced
	}
	return w.synced, w.state
}

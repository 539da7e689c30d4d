// Package localfs is the local export.FileStore: objects are files under one
// directory, and download links are URLs signed with HMAC-SHA256 that the
// store's own HTTP handler checks and serves. It stands in for S3 and its
// presigned URLs when rooms-export runs on one machine, the way Rocket.Chat's
// FileSystem upload storage stands in for its S3 storage.
//
// An object is written to a private temporary file and renamed into place on
// Commit, so a reader sees either the whole object or nothing — the guarantee
// S3 gives a PutObject or a completed multipart upload. A resumable upload
// (StartUpload) writes to a temporary file another process can reopen from
// the upload's state, fsynced every PartSize bytes, so that an export
// stopped mid-way continues where its last checkpoint left it, as the S3
// store's multipart uploads do.
//
// Durability costs syncs, and on a busy server they are most of an export's
// time, so the store makes exactly the ones its promises need, and shares
// them between concurrent Commits where the platform allows. Commit: the
// object's bytes before its name (a crash never leaves a name over a partly
// written object), then the name before Commit returns (an export reported
// done survives a crash). On Linux each of the two is a sync of the whole
// file system (syncfs) that every Commit waiting for the same step shares
// (syncGroup), so a busy server pays two rounds of device flushes for a
// batch of exports instead of two per export; elsewhere it is an fsync of
// the file, then of the directory the rename wrote. A resumable upload:
// every PartSize bytes the file, and the first time also the temporary
// directory, since from then on Persisted hands out a state that must find
// the file after a crash. Nothing before that point is synced: a crash
// loses no reported progress, and a state of zero bytes resumes nothing.
//
// A store can keep small uploads out of the file system (KeepSmall): an
// upload that ends before it outgrows a few KiB is put into a database, in
// its next commit, when Commit is called, and never becomes a file. Most
// exports a server makes are that small (a month of a room), and for them
// the file costs more than the export: two inodes (on ext4 without a
// journal, creating one scans the inodes deleted in the last minutes), a
// rename and two syncs of the file system, each a round the request waits
// for. In the database the object rides on the commit of the job's save
// that follows it anyway.
package localfs

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// tmpDir is the directory, under the store's root, where objects are written
// before Commit. Keys may not start with it.
const tmpDir = ".tmp"

// maxKeyLen is S3's limit on object keys, kept so that keys valid here are
// valid there.
const maxKeyLen = 1024

// minSecret is the shortest HMAC key New accepts.
const minSecret = 16

// ErrInvalidKey is wrapped by the errors for keys the store refuses.
var ErrInvalidKey = errors.New("invalid object key")

// errFinished is returned by writes to a committed or aborted object.
var errFinished = errors.New("object already committed or aborted")

// Store keeps objects as files under a directory. It is safe for concurrent
// use; its ObjectWriters are not.
type Store struct {
	// Now is the clock PresignGet dates links with; time.Now when nil. Set
	// it before the store is used.
	Now func() time.Time
	// PartSize is how many bytes a resumable upload writes between two
	// fsyncs, and so how far Persisted may lag behind what was written
	// (DefaultPartSize when zero). Set it before the store is used.
	PartSize int

	dir    string
	secret []byte

	mu   sync.RWMutex
	base string // guarded by mu

	// syncFile and syncDir make a file's bytes and a directory's entries
	// durable (fsync), syncAll everything written to the store's file
	// system (wholeSync; nil where the platform has no such sync); tests
	// replace them to see what is synced.
	syncFile func(*os.File) error
	syncDir  func(dir string)
	syncAll  func() error
	shared   *syncGroup   // shares syncAll among Commits; nil without syncAll
	syncs    atomic.Int64 // syncs made, for Syncs

	small    SmallObjects // keeps small uploads (KeepSmall); nil: every object is a file
	smallMax int64
}

// SmallObjects is a database that keeps a store's small objects
// (boltstore.Store implements it).
type SmallObjects interface {
	// PutObject queues the object for the database's next commit and
	// returns without waiting: it is durable once a write to the database
	// made after the call has returned (its commits keep their order).
	// Object, HasObject and DeleteObject of the key wait for the commit.
	PutObject(key string, data []byte, modTime time.Time)
	// Object returns the object's bytes and when it was put; the error
	// wraps chat.ErrNotFound when there is none.
	Object(ctx context.Context, key string) ([]byte, time.Time, error)
	HasObject(ctx context.Context, key string) (bool, error)
	// DeleteObject removes the object durably; a missing one is no error.
	DeleteObject(ctx context.Context, key string) error
}

// DefaultSmallMax is the largest upload the embedded default keeps in its
// database (KeepSmall): a month of a busy room, zipped, is a few KiB.
const DefaultSmallMax = 64 << 10

// KeepSmall makes the resumable uploads (StartUpload) that are at most max
// bytes long (and shorter than PartSize) when committed objects of db
// instead of files. Their Commit returns once the object is queued for db's
// next commit; it is durable when a later write to db has returned — for
// an export, the save of its job that follows Commit, which the answer
// waits for. Until an upload outgrows max its bytes are in memory and no
// file exists: Persisted reports none durable, and a crash loses only
// that. Objects are read (Open, Handler) from db first, then from the
// files; Delete removes both. Call it before the store is used.
func (s *Store) KeepSmall(db SmallObjects, max int) {
	s.small, s.smallMax = db, int64(max)
}

// Syncs reports how many syncs the store has made — fsyncs of files and of
// directories, and syncs of the whole file system, each counted once however
// many Commits shared it: the load check prints them per request, since on
// a busy machine the disk's flushes are what an export waits for most.
func (s *Store) Syncs() int64 { return s.syncs.Load() }

// fsync makes f's bytes durable.
func (s *Store) fsync(f *os.File) error {
	s.syncs.Add(1)
	return s.syncFile(f)
}

// fsyncDir makes the entries of dir durable.
func (s *Store) fsyncDir(dir string) {
	s.syncs.Add(1)
	s.syncDir(dir)
}

// sharedSync makes everything written to the store's file system so far
// durable, with one sync shared by every Commit that asks at the same time.
func (s *Store) sharedSync() error {
	return s.shared.wait()
}

// New returns a store rooted at dir (created, with dir/.tmp, mode 0700, when
// missing) that signs links with key (an HMAC-SHA256 secret of at least 16
// bytes) and builds them on baseURL, the origin its Handler is served at.
// baseURL may be empty and set later with SetBaseURL.
func New(dir string, key []byte, baseURL string) (*Store, error) {
	if dir == "" {
		return nil, fmt.Errorf("localfs: new: empty directory")
	}
	if len(key) < minSecret {
		return nil, fmt.Errorf("localfs: new: signing key shorter than %d bytes", minSecret)
	}
	base, err := cleanBase(baseURL)
	if err != nil {
		return nil, fmt.Errorf("localfs: new: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, tmpDir), 0o700); err != nil {
		return nil, fmt.Errorf("localfs: new: %w", err)
	}
	s := &Store{
		dir: dir, secret: append([]byte(nil), key...), base: base,
		syncFile: (*os.File).Sync, syncDir: syncDir, syncAll: wholeSync(dir),
	}
	if s.syncAll != nil {
		s.shared = &syncGroup{sync: func() error {
			s.syncs.Add(1)
			return s.syncAll()
		}}
	}
	return s, nil
}

// SetBaseURL sets the origin links are built on ("http://127.0.0.1:8080"):
// the local server learns its address only after it listens. An invalid URL
// makes PresignGet fail until a valid one is set.
func (s *Store) SetBaseURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.base = strings.TrimRight(u, "/")
}

func (s *Store) baseURL() (string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return cleanBase(s.base)
}

func cleanBase(u string) (string, error) {
	if u == "" {
		return "", nil
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" || p.Fragment != "" || p.User != nil {
		return "", fmt.Errorf("base URL %q is not an http(s) origin", u)
	}
	return strings.TrimRight(u, "/"), nil
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// CheckKey reports why a key is refused, or nil. Keys are slash-separated
// relative paths: not empty, at most 1024 bytes of UTF-8, no leading slash,
// no empty, "." or ".." segments, no backslashes or control characters, and
// not under the store's private ".tmp/".
func CheckKey(key string) error {
	why := ""
	switch {
	case key == "":
		why = "empty"
	case len(key) > maxKeyLen:
		why = "too long"
	case !utf8.ValidString(key):
		why = "not UTF-8"
	case strings.HasPrefix(key, "/"):
		why = "absolute"
	case strings.ContainsRune(key, '\\'):
		why = "has a backslash"
	case strings.IndexFunc(key, unicode.IsControl) >= 0:
		why = "has a control character"
	}
	if why == "" {
		for i, seg := range strings.Split(key, "/") {
			switch {
			case seg == "":
				why = "has an empty segment"
			case seg == "." || seg == "..":
				why = "has a " + seg + " segment"
			case i == 0 && seg == tmpDir:
				why = "is under the reserved " + tmpDir + "/"
			}
			if why != "" {
				break
			}
		}
	}
	if why != "" {
		return fmt.Errorf("%w: %q %s", ErrInvalidKey, key, why)
	}
	return nil
}

func (s *Store) path(key string) string {
	return filepath.Join(s.dir, filepath.FromSlash(key))
}

// Create starts writing an object. The bytes go to a temporary file under
// .tmp/ and appear under key only when Commit succeeds. info is not kept:
// Handler derives the content type from the file name, and expiry is the
// link's (objects stay until deleted, where S3 has a lifecycle rule).
func (s *Store) Create(ctx context.Context, key string, info export.ObjectInfo) (export.ObjectWriter, error) {
	if err := CheckKey(key); err != nil {
		return nil, fmt.Errorf("localfs: create: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("localfs: create %s: %w", key, err)
	}
	name, err := randomHex(16)
	if err != nil {
		return nil, fmt.Errorf("localfs: create %s: %w", key, err)
	}
	tmp := filepath.Join(s.dir, tmpDir, name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("localfs: create %s: %w", key, err)
	}
	return &writer{s: s, f: f, tmp: tmp, dest: s.path(key), key: key}, nil
}

// writer is an object being written: by Create, or as a resumable upload
// (resumable set), which fsyncs every partSize bytes and reports how far it
// is durable.
type writer struct {
	s         *Store
	f         *os.File
	tmp, dest string
	key       string
	finished  bool  // committed or aborted
	err       error // why a write or commit of an upload failed; sticky

	// Resumable uploads only.
	resumable bool
	id        string // the upload's id, part of its file name and state
	partSize  int64  // bytes between fsyncs
	n, synced int64  // bytes written, and durably written
	found     bool   // the file's name in .tmp/ is durable (synced once)
	// inMemory: the upload's bytes are in mem and its file does not exist
	// yet (KeepSmall); it is created when the upload outgrows the limit.
	inMemory bool
	mem      []byte
	state    []byte // the encoded state for stateAt; nil until asked for
	stateAt  int64
}

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.finished {
		return 0, fmt.Errorf("localfs: write %s: %w", w.key, errFinished)
	}
	if w.inMemory {
		if w.n+int64(len(p)) <= w.s.smallLimit(w.partSize) {
			w.mem = append(w.mem, p...)
			w.n += int64(len(p))
			return len(p), nil
		}
		if err := w.spill(); err != nil {
			return 0, w.failUpload(fmt.Errorf("localfs: write %s: %w", w.key, err))
		}
	}
	n, err := w.f.Write(p)
	w.n += int64(n)
	if err != nil {
		return n, w.failUpload(fmt.Errorf("localfs: write %s: %w", w.key, err))
	}
	if w.resumable && w.n-w.synced >= w.partSize {
		if err := w.s.fsync(w.f); err != nil {
			return n, w.failUpload(fmt.Errorf("localfs: write %s: sync: %w", w.key, err))
		}
		if !w.found {
			// Persisted is about to report progress another process must
			// resume after a crash: the file's name has to be on disk too.
			w.s.fsyncDir(filepath.Dir(w.tmp))
			w.found = true
		}
		w.synced = w.n
	}
	return n, nil
}

// spill moves an upload kept in memory to its file, which it creates.
func (w *writer) spill() error {
	f, err := os.OpenFile(w.tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(w.mem); err != nil {
		_ = f.Close()
		_ = os.Remove(w.tmp)
		return err
	}
	w.f, w.inMemory, w.mem = f, false, nil
	return nil
}

// smallLimit is the length up to which an upload stays in memory: below a
// part, so that Persisted never has to report bytes that are not in a file.
func (s *Store) smallLimit(partSize int64) int64 {
	return min(s.smallMax, partSize-1)
}

// failUpload makes err sticky on a resumable upload: what follows the last
// fsync is unknown, so the upload takes no more bytes, but what Persisted
// reported stays resumable. A Create writer keeps today's behaviour (the
// error is returned, the caller decides).
func (w *writer) failUpload(err error) error {
	if w.resumable {
		w.err = err
	}
	return err
}

// Commit makes the object visible: it syncs the temporary file and renames
// it over key, replacing an older object there, and returns once the rename
// is durable (commit says how). On failure the key keeps its previous
// content — unless only that last sync failed: the new object is then in
// place, whole, but reported failed since a crash may lose it. A Create
// writer's temporary file is removed, a resumable upload's stays
// (resumable from its last Persisted state) until Abort.
func (w *writer) Commit() error {
	if w.err != nil {
		return w.err
	}
	if w.finished {
		return fmt.Errorf("localfs: commit %s: %w", w.key, errFinished)
	}
	if w.inMemory {
		w.s.small.PutObject(w.key, w.mem, w.s.now())
		w.finished, w.mem = true, nil
		return nil
	}
	if err := w.commit(); err != nil {
		err = fmt.Errorf("localfs: commit %s: %w", w.key, err)
		_ = w.f.Close() // may already be closed; the first error is the one to report
		if w.resumable {
			w.err = err
			return err
		}
		w.finished = true
		_ = os.Remove(w.tmp)
		return err
	}
	w.finished = true
	return nil
}

// commit is the one order that makes an object durable and never half
// visible: the file's bytes (and its inode: its size and where its blocks
// are) reach the disk before its name does, so a crash can leave no partly
// written object under the key, and the name before Commit returns, so an
// export reported done is on disk.
//
// With a shared sync (Linux) both steps are syncs of the whole file system:
// the first covers the file, the second the rename, the parent Commit may
// have created (exports/<id>/) and that parent's own entry — every block
// the object's name depends on, whatever the file system. A failure of the
// second step is returned with the object in place: it is whole (its bytes
// were durable before its name appeared), but its name may not survive a
// crash, and Commit must not report it done.
//
// Without one, the file is fsynced, then the directory the rename wrote.
// The temporary directory is not synced: the name the file leaves there
// does not matter. A new parent is not synced on its own: its entry reaches
// the disk with the synced directory on the file systems rooms-export runs
// on (ext4 commits it with the journal, or without one syncs a new
// directory's parent with it).
func (w *writer) commit() error {
	if w.s.shared != nil {
		if err := w.f.Close(); err != nil {
			return fmt.Errorf("close: %w", err)
		}
		if err := w.s.sharedSync(); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	} else {
		if err := w.s.fsync(w.f); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
		if err := w.f.Close(); err != nil {
			return fmt.Errorf("close: %w", err)
		}
	}
	w.synced = w.n
	parent := filepath.Dir(w.dest)
	if err := mkdirs(parent); err != nil {
		return err
	}
	if err := os.Rename(w.tmp, w.dest); err != nil {
		return err
	}
	if w.s.shared != nil {
		if err := w.s.sharedSync(); err != nil {
			return fmt.Errorf("sync the name: %w", err)
		}
	} else {
		w.s.fsyncDir(parent)
	}
	// Open reads the database first: a small object the file replaces
	// goes (the file is in place, so this is finished whatever the caller's
	// context says).
	if err := w.s.dropSmall(context.Background(), w.key); err != nil {
		return fmt.Errorf("replace the small object: %w", err)
	}
	return nil
}

// dropSmall deletes the small object under key, if there is one (a look
// first: a delete is a commit).
func (s *Store) dropSmall(ctx context.Context, key string) error {
	if s.small == nil {
		return nil
	}
	found, err := s.small.HasObject(ctx, key)
	if err == nil && found {
		err = s.small.DeleteObject(ctx, key)
	}
	return err
}

// mkdirs is os.MkdirAll for the common case of a key whose parent is new
// but whose grandparent exists (exports/<id>/<file>): one mkdir instead of
// MkdirAll's stat of every level.
func mkdirs(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	return os.MkdirAll(dir, 0o700)
}

// Abort discards what was written (for an upload: whatever process wrote
// it). Aborting twice, or after Commit, does nothing (so "defer w.Abort()"
// is safe); a committed object stays.
func (w *writer) Abort() error {
	if w.finished {
		return nil
	}
	w.finished = true
	if w.inMemory {
		w.mem = nil
		return nil
	}
	cerr := w.f.Close()
	if errors.Is(cerr, os.ErrClosed) {
		cerr = nil // closed by a failed Commit
	}
	if err := os.Remove(w.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("localfs: abort %s: %w", w.key, err)
	}
	if cerr != nil {
		return fmt.Errorf("localfs: abort %s: %w", w.key, cerr)
	}
	return nil
}

// syncDir makes a rename durable where the platform allows it; failing to
// sync a directory does not undo the rename, so errors are ignored.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// Open reads an object; the error wraps chat.ErrNotFound when there is none.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := s.openObject(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("localfs: open: %w", err)
	}
	return o, nil
}

// object is an object open for reading: its file, or a small object's
// bytes (KeepSmall).
type object struct {
	io.ReadSeeker
	io.Closer
	modTime time.Time
}

// openObject opens the object under key: the small object the database
// holds, else the regular file.
func (s *Store) openObject(ctx context.Context, key string) (*object, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if s.small != nil {
		data, mod, err := s.small.Object(ctx, key)
		if err == nil {
			return &object{ReadSeeker: bytes.NewReader(data), Closer: io.NopCloser(nil), modTime: mod}, nil // nothing to close
		}
		if !errors.Is(err, chat.ErrNotFound) {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	f, fi, err := s.openFile(key)
	if err != nil {
		return nil, err
	}
	return &object{ReadSeeker: f, Closer: f, modTime: fi.ModTime()}, nil
}

// openFile opens the regular file holding key, returning its info too.
func (s *Store) openFile(key string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(s.path(key))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil, fmt.Errorf("%s: %w", key, chat.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("%s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		// A "directory" made by longer keys is not an object.
		_ = f.Close()
		return nil, nil, fmt.Errorf("%s: %w", key, chat.ErrNotFound)
	}
	return f, fi, nil
}

// Delete removes an object (a small one and a file under the key, with
// KeepSmall). A missing object, or a key that only names a directory of
// other objects, is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return fmt.Errorf("localfs: delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("localfs: delete %s: %w", key, err)
	}
	if err := s.dropSmall(ctx, key); err != nil {
		return fmt.Errorf("localfs: delete %s: %w", key, err)
	}
	p := s.path(key)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("localfs: delete %s: %w", key, err)
	}
	if fi.IsDir() {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("localfs: delete %s: %w", key, err)
	}
	return nil
}

// PresignGet returns a link to the object that Handler honours until ttl
// passes: baseURL/files/<key>?expires=<unix>&name=<fileName>&sig=<mac>, where
// mac is the unpadded base64url HMAC-SHA256 of key, expires and name. The
// file name is sanitised with chat.SafeName (the key's last segment when
// empty). Like S3 presigning, it does not check that the object exists.
func (s *Store) PresignGet(ctx context.Context, key, fileName string, ttl time.Duration) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", fmt.Errorf("localfs: presign: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("localfs: presign %s: %w", key, err)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("localfs: presign %s: ttl %v is not positive", key, ttl)
	}
	base, err := s.baseURL()
	if err != nil {
		return "", fmt.Errorf("localfs: presign %s: %w", key, err)
	}
	if base == "" {
		return "", fmt.Errorf("localfs: presign %s: no base URL set", key)
	}
	name := chat.SafeName(fileName, path.Base(key))
	end := s.now().Add(ttl)
	expires := end.Unix()
	if end.After(time.Unix(expires, 0)) {
		expires++ // round up: the link lives at least ttl
	}
	q := url.Values{}
	q.Set("expires", strconv.FormatInt(expires, 10))
	q.Set("name", name)
	q.Set("sig", s.sign(key, expires, name))
	return base + "/files/" + escapeKey(key) + "?" + q.Encode(), nil
}

// escapeKey escapes each segment of a key for a URL path.
func escapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

// sign is the link signature: each field length-prefixed, so that no two
// different (key, expires, name) triples feed the MAC the same bytes.
func (s *Store) sign(key string, expires int64, name string) string {
	m := hmac.New(sha256.New, s.secret)
	for _, f := range []string{"localfs-link-v1", key, strconv.FormatInt(expires, 10), name} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		m.Write(n[:])
		m.Write([]byte(f))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

package localfs

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/storetest"
)

const testPartSize = 64 << 10

// uploadFiles lists the temporary files of uploads of key.
func uploadFiles(t *testing.T, s *Store, key string) []string {
	t.Helper()
	m, err := filepath.Glob(s.uploadPath(key, "*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestResumableContract(t *testing.T) {
	dir := t.TempDir() // every store value of the suite opens the same directory
	open := func(t *testing.T) *Store {
		s, err := New(dir, testSecret, "")
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		s.PartSize = testPartSize
		return s
	}
	storetest.RunResumable(t, func(t *testing.T) export.FileStore { return open(t) }, storetest.ResumableOptions{
		PartSize:  testPartSize,
		Leftovers: func(t *testing.T, key string) int { return len(uploadFiles(t, open(t), key)) },
	})
}

func newUploadStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(t.TempDir(), testSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	s.PartSize = testPartSize
	return s
}

func TestUploadFsyncsEveryPart(t *testing.T) {
	s := newUploadStore(t)
	u, err := s.StartUpload(t.Context(), "exports/a.zip", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	files := uploadFiles(t, s, "exports/a.zip")
	if len(files) != 1 || !strings.HasSuffix(files[0], ".upload") {
		t.Fatalf("upload files %v, want one .upload under .tmp/", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("upload file mode: %v %v", fi, err)
	}
	chunk := bytes.Repeat([]byte("x"), 1000)
	var want []int64
	var got []int64
	for i := 1; i <= 200; i++ {
		if _, err := u.Write(chunk); err != nil {
			t.Fatal(err)
		}
		n, _ := u.Persisted()
		got = append(got, n)
		// An fsync as soon as a part's worth is unsynced.
		if w := int64(i * 1000); len(want) == 0 && w >= testPartSize || len(want) > 0 && w-want[len(want)-1] >= testPartSize {
			want = append(want, w)
		}
		if len(want) == 0 && n != 0 || len(want) > 0 && n != want[len(want)-1] {
			t.Fatalf("after %d bytes Persisted = %d, want %v's last", i*1000, n, want)
		}
	}
	if len(want) != 3 {
		t.Fatalf("fsync points %v, want 3 in 200,000 bytes of %d-byte parts", want, testPartSize)
	}
	var st uploadState
	_, state := u.Persisted()
	if err := json.Unmarshal(state, &st); err != nil || st.Key != "exports/a.zip" || st.N != want[2] || !strings.Contains(files[0], st.ID) {
		t.Errorf("state %s (%v), want key, id of %s and n %d", state, err, files[0], want[2])
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	if n, _ := u.Persisted(); n != 200_000 {
		t.Errorf("Persisted after Commit = %d, want all 200000", n)
	}
	if left := uploadFiles(t, s, "exports/a.zip"); len(left) != 0 {
		t.Errorf("upload files %v left after Commit", left)
	}
}

func TestResumeTruncatesUnpersistedBytes(t *testing.T) {
	s := newUploadStore(t)
	ctx := t.Context()
	u, err := s.StartUpload(ctx, "k.zip", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	head := bytes.Repeat([]byte("a"), testPartSize)
	if _, err := u.Write(head); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write([]byte("unpersisted tail")); err != nil {
		t.Fatal(err)
	}
	n, state := u.Persisted()
	if n != testPartSize {
		t.Fatalf("Persisted = %d, want %d", n, testPartSize)
	}
	file := uploadFiles(t, s, "k.zip")[0]
	if fi, err := os.Stat(file); err != nil || fi.Size() != testPartSize+16 {
		t.Fatalf("upload file: %v %v", fi, err)
	}
	// Another process resumes; the dropped upload's file descriptor is
	// not used again.
	other, err := New(s.dir, testSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := other.ResumeUpload(ctx, "k.zip", export.ObjectInfo{}, state)
	if err != nil {
		t.Fatalf("ResumeUpload: %v", err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Size() != testPartSize {
		t.Fatalf("after resume the upload file holds %v bytes (%v), want %d", fi.Size(), err, testPartSize)
	}
	if _, err := r.Write([]byte("end")); err != nil {
		t.Fatal(err)
	}
	if err := r.Commit(); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(ctx, "k.zip")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	_ = rc.Close()
	if want := append(bytes.Clone(head), "end"...); !bytes.Equal(got, want) {
		t.Errorf("object of %d bytes, want the %d persisted and \"end\"", len(got), len(want))
	}
	if _, err := other.ResumeUpload(ctx, "k.zip", export.ObjectInfo{}, state); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("ResumeUpload after Commit = %v, want chat.ErrNotFound", err)
	}
}

func TestResumeRefusesBadStates(t *testing.T) {
	s := newUploadStore(t)
	ctx := t.Context()
	u, err := s.StartUpload(ctx, "k.zip", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(bytes.Repeat([]byte("b"), testPartSize)); err != nil {
		t.Fatal(err)
	}
	_, good := u.Persisted()
	var st uploadState
	if err := json.Unmarshal(good, &st); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(*uploadState)) []byte {
		c := st
		f(&c)
		b, _ := json.Marshal(c)
		return b
	}
	bad := map[string][]byte{
		"traversing id":    edit(func(c *uploadState) { c.ID = "../../../../etc/passwd" }),
		"upper-case id":    edit(func(c *uploadState) { c.ID = strings.ToUpper(c.ID) }),
		"short id":         edit(func(c *uploadState) { c.ID = c.ID[:8] }),
		"other version":    edit(func(c *uploadState) { c.V = 2 }),
		"negative length":  edit(func(c *uploadState) { c.N = -1 }),
		"beyond the file":  edit(func(c *uploadState) { c.N = 10 * testPartSize }),
		"other key":        edit(func(c *uploadState) { c.Key = "other.zip" }),
		"unknown field":    []byte(strings.Replace(string(good), `{`, `{"extra":1,`, 1)),
		"unknown upload":   edit(func(c *uploadState) { c.ID = strings.Repeat("0", uploadIDLen) }),
		"not a state":      []byte(`[1,2]`),
		"reserved key use": good,
	}
	for name, state := range bad {
		key := "k.zip"
		if name == "reserved key use" {
			key = ".tmp/k.zip"
		}
		if w, err := s.ResumeUpload(ctx, key, export.ObjectInfo{}, state); err == nil {
			_ = w.Abort()
			t.Errorf("%s: ResumeUpload succeeded", name)
		}
	}
	if n, _ := u.Persisted(); n != testPartSize {
		t.Fatalf("Persisted = %d", n)
	}
	// The refused resumes left the upload as it was.
	r, err := s.ResumeUpload(ctx, "k.zip", export.ObjectInfo{}, good)
	if err != nil {
		t.Fatalf("ResumeUpload with the good state: %v", err)
	}
	if err := r.Abort(); err != nil {
		t.Fatal(err)
	}
	if left := files(t, s.dir); len(left) != 0 {
		t.Errorf("after Abort the store holds %v", left)
	}
}

func TestFailedUploadCommitStaysResumable(t *testing.T) {
	s := newUploadStore(t)
	ctx := t.Context()
	put(t, s, "a", "file a")
	// "a" is a file, so "a/b" cannot be committed.
	u, err := s.StartUpload(ctx, "a/b", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("c"), testPartSize+10)
	if _, err := u.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(); err == nil {
		t.Fatal("Commit under a file succeeded")
	}
	if _, err := u.Write([]byte("x")); err == nil {
		t.Error("Write after a failed Commit succeeded")
	}
	if err := u.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
	n, state := u.Persisted()
	if n != int64(len(data)) {
		t.Errorf("Persisted after a failed Commit = %d, want the %d synced", n, len(data))
	}
	if left := uploadFiles(t, s, "a/b"); len(left) != 1 {
		t.Fatalf("upload files %v after a failed Commit, want the one kept for a resume", left)
	}
	// The obstacle goes; a resume commits what was persisted.
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	r, err := s.ResumeUpload(ctx, "a/b", export.ObjectInfo{}, state)
	if err != nil {
		t.Fatalf("ResumeUpload: %v", err)
	}
	if err := r.Commit(); err != nil {
		t.Fatalf("Commit after resume: %v", err)
	}
	if err := u.Abort(); err != nil {
		t.Errorf("Abort of the failed upload after another committed it: %v", err)
	}
	rc, err := s.Open(ctx, "a/b")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	_ = rc.Close()
	if !bytes.Equal(got, data) {
		t.Errorf("object of %d bytes, want %d", len(got), len(data))
	}
}

func TestAbortRemovesUploadOfAnotherProcess(t *testing.T) {
	s := newUploadStore(t)
	ctx := t.Context()
	u, err := s.StartUpload(ctx, "x/y.zip", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(bytes.Repeat([]byte("d"), 3*testPartSize)); err != nil {
		t.Fatal(err)
	}
	_, state := u.Persisted()
	r, err := s.ResumeUpload(ctx, "x/y.zip", export.ObjectInfo{}, state)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if left := files(t, s.dir); len(left) != 0 {
		t.Errorf("after Abort the store holds %v", left)
	}
	if _, err := s.ResumeUpload(ctx, "x/y.zip", export.ObjectInfo{}, state); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("ResumeUpload after Abort = %v, want chat.ErrNotFound", err)
	}
	// The first process, unaware, cannot bring the object into being.
	if _, err := u.Write([]byte("late")); err == nil {
		if err := u.Commit(); err == nil {
			t.Error("Commit of an upload another process aborted succeeded")
		}
	}
	if _, err := s.Open(ctx, "x/y.zip"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("Open after Abort = %v, want chat.ErrNotFound", err)
	}
}

// syncLog records what a store syncs, in order: "file <path>" or "dir <path>",
// paths relative to the store's root; at each sync it also notes whether
// the object's final file exists yet.
type syncLog struct {
	s      *Store
	dest   string
	events []string
}

func recordSyncs(s *Store, key string) *syncLog {
	l := &syncLog{s: s, dest: s.path(key)}
	rel := func(p string) string { r, _ := filepath.Rel(s.dir, p); return filepath.ToSlash(r) }
	placed := func() string {
		if _, err := os.Stat(l.dest); err == nil {
			return " (placed)"
		}
		return ""
	}
	s.syncFile = func(f *os.File) error {
		l.events = append(l.events, "file "+rel(f.Name())+placed())
		return f.Sync()
	}
	s.syncDir = func(dir string) {
		l.events = append(l.events, "dir "+rel(dir)+placed())
		syncDir(dir)
	}
	if all := wholeSync(s.dir); all != nil {
		s.syncAll = func() error {
			l.events = append(l.events, "all"+placed())
			return all()
		}
	}
	return l
}

// TestSyncsAreTheOnesDurabilityNeeds: a small object costs two syncs — of
// its bytes before its name appears, then of the name — and a resumable
// upload syncs the temporary directory once, with its first part, when
// Persisted starts reporting progress that must survive a crash. Where the
// store shares syncs of the whole file system (Linux), the object's two are
// such syncs; without them, the file and then the directory holding the name.
func TestSyncsAreTheOnesDurabilityNeeds(t *testing.T) {
	modes := []struct {
		name        string
		shared      bool
		before      func(tmp string) string // the sync before the rename
		afterPlaced string                  // the sync after it
	}{
		{"per file", false, func(tmp string) string { return "file .tmp/" + tmp }, ""},
		{"shared", true, func(string) string { return "all" }, "all (placed)"},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := newUploadStore(t)
			if m.shared && s.shared == nil {
				t.Logf("no shared sync on %s: the per-file mode is the store's", runtime.GOOS)
				return
			}
			if !m.shared {
				s.shared = nil
			}
			syncsAreTheOnesDurabilityNeeds(t, s, m.before, m.afterPlaced)
		})
	}
}

func syncsAreTheOnesDurabilityNeeds(t *testing.T, s *Store, before func(tmp string) string, afterPlaced string) {
	ctx := t.Context()
	log := recordSyncs(s, "exports/j1/a.zip")
	w, err := s.Create(ctx, "exports/j1/a.zip", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	tmp := ""
	if ents, _ := os.ReadDir(filepath.Join(s.dir, tmpDir)); len(ents) == 1 {
		tmp = ents[0].Name()
	}
	io.WriteString(w, "small archive")
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if afterPlaced == "" {
		afterPlaced = "dir exports/j1 (placed)"
	}
	if want := []string{before(tmp), afterPlaced}; !slices.Equal(log.events, want) {
		t.Errorf("Create+Commit synced %v, want %v: the bytes, then the name once the object is in place", log.events, want)
	}

	log = recordSyncs(s, "exports/j2/b.zip")
	u, err := s.StartUpload(ctx, "exports/j2/b.zip", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("less than a part"))
	if len(log.events) != 0 {
		t.Errorf("a new upload with less than a part synced: %v", log.events)
	}
	part := bytes.Repeat([]byte("p"), testPartSize)
	for range 3 {
		if _, err := u.Write(part); err != nil {
			t.Fatal(err)
		}
	}
	tmp = filepath.Base(uploadFiles(t, s, "exports/j2/b.zip")[0])
	want := []string{"file .tmp/" + tmp, "dir .tmp", "file .tmp/" + tmp, "file .tmp/" + tmp}
	if !slices.Equal(log.events, want) {
		t.Errorf("three parts synced %v, want %v", log.events, want)
	}
	n, state := u.Persisted()
	if n != 3*testPartSize+16 {
		t.Errorf("Persisted = %d", n)
	}

	// Resumed from a state with bytes, the name is known to be durable.
	log.events = nil
	r, err := s.ResumeUpload(ctx, "exports/j2/b.zip", export.ObjectInfo{}, state)
	if err != nil {
		t.Fatal(err)
	}
	r.Write(part)
	if err := r.Commit(); err != nil {
		t.Fatal(err)
	}
	if afterPlaced == "dir exports/j1 (placed)" {
		afterPlaced = "dir exports/j2 (placed)"
	}
	want = []string{"file .tmp/" + tmp, before(tmp), afterPlaced}
	if !slices.Equal(log.events, want) {
		t.Errorf("resumed upload synced %v, want %v", log.events, want)
	}
	got, err := os.ReadFile(s.path("exports/j2/b.zip"))
	if err != nil || len(got) != 4*testPartSize+16 {
		t.Errorf("committed upload: %d bytes, %v", len(got), err)
	}
	if n := s.Syncs(); n != 2+4+3 {
		t.Errorf("Syncs = %d, want the 9 syncs above", n)
	}
}

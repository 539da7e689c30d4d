package localfs

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/boltstore"
	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/storetest"
)

// testSmallMax is the KeepSmall limit of these tests: below testPartSize,
// so the resumable contract's uploads of a part and more become files and
// its small ones database objects.
const testSmallMax = 4 << 10

// smallDB is a boltstore database for KeepSmall, closed with the test.
func smallDB(t *testing.T) *boltstore.Store {
	t.Helper()
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "rooms.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// readObject reads the object under key through Open.
func readObject(t *testing.T, s *Store, key string) []byte {
	t.Helper()
	r, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSmallFileStoreContract(t *testing.T) {
	storetest.RunFileStore(t, func(t *testing.T) export.FileStore {
		s, _ := served(t, time.Now)
		s.KeepSmall(smallDB(t), testSmallMax)
		return s
	})
}

func TestSmallResumableContract(t *testing.T) {
	dir := t.TempDir() // every store value of the suite opens the same directory and database
	db := smallDB(t)
	open := func(t *testing.T) *Store {
		s, err := New(dir, testSecret, "")
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		s.PartSize = testPartSize
		s.KeepSmall(db, testSmallMax)
		return s
	}
	storetest.RunResumable(t, func(t *testing.T) export.FileStore { return open(t) }, storetest.ResumableOptions{
		PartSize:  testPartSize,
		Leftovers: func(t *testing.T, key string) int { return len(uploadFiles(t, open(t), key)) },
	})
}

// TestSmallUploadIsNoFile: an upload that stays under the limit creates no
// file at all — none in .tmp/ while it is written, none under its key when
// committed — and is read back, downloaded (ranges too) and deleted from
// the database; a bigger one is a file from the moment it outgrows the
// limit.
func TestSmallUploadIsNoFile(t *testing.T) {
	s, _ := served(t, time.Now)
	db := smallDB(t)
	s.KeepSmall(db, testSmallMax)
	ctx := t.Context()

	small := bytes.Repeat([]byte("small "), 100)
	u, err := s.StartUpload(ctx, "exports/s/small.zip", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(small); err != nil {
		t.Fatal(err)
	}
	if n := len(uploadFiles(t, s, "exports/s/small.zip")); n != 0 {
		t.Fatalf("%d temporary files for an upload under the limit", n)
	}
	if n, _ := u.Persisted(); n != 0 {
		t.Fatalf("Persisted = %d for bytes only in memory", n)
	}
	if _, err := s.Open(ctx, "exports/s/small.zip"); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("Open before Commit: %v, want ErrNotFound", err)
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := files(t, s.dir); len(got) != 0 {
		t.Fatalf("a small upload left files %v", got)
	}
	if got, _, err := db.Object(ctx, "exports/s/small.zip"); err != nil || !bytes.Equal(got, small) {
		t.Fatalf("database object = %d bytes, %v; want the %d written", len(got), err, len(small))
	}
	if got := readObject(t, s, "exports/s/small.zip"); !bytes.Equal(got, small) {
		t.Fatalf("Open read %d bytes, want %d", len(got), len(small))
	}
	link, err := s.PresignGet(ctx, "exports/s/small.zip", "room.zip", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, http.MethodGet, link, nil); resp.StatusCode != http.StatusOK || body != string(small) {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp, body := get(t, http.MethodGet, link, map[string]string{"Range": "bytes=6-10"}); resp.StatusCode != http.StatusPartialContent || body != "small" {
		t.Fatalf("range download: %d %q", resp.StatusCode, body)
	}
	if err := s.Delete(ctx, "exports/s/small.zip"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, http.MethodGet, link, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("download after Delete: %d, want 404", resp.StatusCode)
	}

	big := bytes.Repeat([]byte("big "), testSmallMax/4+1)
	u, err = s.StartUpload(ctx, "exports/b/big.zip", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(big[:testSmallMax]); err != nil {
		t.Fatal(err)
	}
	if n := len(uploadFiles(t, s, "exports/b/big.zip")); n != 0 {
		t.Fatalf("%d temporary files at the limit", n)
	}
	if _, err := u.Write(big[testSmallMax:]); err != nil {
		t.Fatal(err)
	}
	if n := len(uploadFiles(t, s, "exports/b/big.zip")); n != 1 {
		t.Fatalf("%d temporary files past the limit, want 1", n)
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	if found, err := db.HasObject(ctx, "exports/b/big.zip"); err != nil || found {
		t.Fatalf("an upload past the limit is in the database (%v, %v)", found, err)
	}
	if got := files(t, s.dir); len(got) != 1 {
		t.Fatalf("files after committing a big upload: %v", got)
	}
}

// TestFileReplacesSmallObject: a file committed under the key of a small
// object replaces it (Open reads the database first, so the small object
// must go), and a small object committed over a file is what Open reads.
func TestFileReplacesSmallObject(t *testing.T) {
	s := newUploadStore(t)
	db := smallDB(t)
	s.KeepSmall(db, testSmallMax)
	ctx := t.Context()
	upload := func(data []byte) {
		t.Helper()
		u, err := s.StartUpload(ctx, "exports/r/r.zip", export.ObjectInfo{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := u.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	read := func() []byte { return readObject(t, s, "exports/r/r.zip") }
	small, big := []byte("small one"), bytes.Repeat([]byte("B"), 2*testSmallMax)
	upload(small)
	upload(big)
	if got := read(); !bytes.Equal(got, big) {
		t.Fatalf("after a file replaced a small object Open read %d bytes, want the file's %d", len(got), len(big))
	}
	if found, _ := db.HasObject(ctx, "exports/r/r.zip"); found {
		t.Fatal("the replaced small object is still in the database")
	}
	upload(small)
	if got := read(); !bytes.Equal(got, small) {
		t.Fatalf("after a small object replaced a file Open read %q", got)
	}
	if err := s.Delete(ctx, "exports/r/r.zip"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, "exports/r/r.zip"); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("Open after Delete: %v, want ErrNotFound (both the object and the file gone)", err)
	}
}

// TestSmallResumeOfZeroBytes: an upload kept in memory reports nothing
// durable; its state resumes afresh while the upload is not committed
// (the process that wrote it is gone), and fails once its object is.
func TestSmallResumeOfZeroBytes(t *testing.T) {
	s := newUploadStore(t)
	s.KeepSmall(smallDB(t), testSmallMax)
	ctx := t.Context()
	u, err := s.StartUpload(ctx, "exports/z/z.zip", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write([]byte("lost with the process")); err != nil {
		t.Fatal(err)
	}
	_, state := u.Persisted()
	again, err := s.ResumeUpload(ctx, "exports/z/z.zip", export.ObjectInfo{}, state)
	if err != nil {
		t.Fatalf("resume of a zero-byte state of an upload in memory: %v", err)
	}
	if _, err := again.Write([]byte("written again")); err != nil {
		t.Fatal(err)
	}
	if err := again.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResumeUpload(ctx, "exports/z/z.zip", export.ObjectInfo{}, state); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("resume after the object was committed: %v, want ErrNotFound", err)
	}
	if b := readObject(t, s, "exports/z/z.zip"); string(b) != "written again" {
		t.Fatalf("object = %q", b)
	}
}

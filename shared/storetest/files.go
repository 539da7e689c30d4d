package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// fsBigChunk is larger than the 5 MiB minimum S3 multipart part, so that an
// adapter that switches to multipart uploads past a threshold takes that
// path.
const fsBigChunk = 6*1024*1024 + 512*1024

// RunFileStore runs the export.FileStore contract against the stores open
// returns. open is called once per subtest and must return a working store
// whose PresignGet URLs can be fetched with a plain http.Get from this
// process (for the local store: its Handler served by httptest and the base
// URL set, all inside open; for S3: an emulator endpoint). Every subtest
// writes under its own random key prefix, so stores may share a bucket.
func RunFileStore(t *testing.T, open func(t *testing.T) export.FileStore) {
	t.Helper()

	t.Run("WriteInChunksCommitOpen", func(t *testing.T) {
		st, ctx, key := fsSetup(t, open, "chunks.bin")
		chunks := [][]byte{fsRandom(t, 1), fsRandom(t, 1000), fsRandom(t, fsBigChunk), fsRandom(t, 70_000), {}, fsRandom(t, 3)}
		w := fsCreate(ctx, t, st, key)
		var all []byte
		for i, c := range chunks {
			n, err := w.Write(c)
			if err != nil || n != len(c) {
				t.Fatalf("Write chunk %d (%d bytes) = %d, %v", i, len(c), n, err)
			}
			all = append(all, c...)
		}
		if err := w.Commit(); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if got := fsReadAll(ctx, t, st, key); !bytes.Equal(got, all) {
			t.Fatalf("read back %d bytes (sha256 %s), want %d (sha256 %s)", len(got), fsDigest(got), len(all), fsDigest(all))
		}
	})

	t.Run("EmptyObject", func(t *testing.T) {
		st, ctx, key := fsSetup(t, open, "empty.bin")
		w := fsCreate(ctx, t, st, key)
		if err := w.Commit(); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if got := fsReadAll(ctx, t, st, key); len(got) != 0 {
			t.Fatalf("read back %d bytes, want 0", len(got))
		}
	})

	t.Run("NotVisibleBeforeCommit", func(t *testing.T) {
		st, ctx, key := fsSetup(t, open, "pending.bin")
		data := fsRandom(t, 10_000)
		w := fsCreate(ctx, t, st, key)
		if _, err := w.Write(data); err != nil {
			t.Fatalf("Write: %v", err)
		}
		fsWantNotFound(ctx, t, st, key, "before Commit")
		if err := w.Commit(); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if got := fsReadAll(ctx, t, st, key); !bytes.Equal(got, data) {
			t.Fatalf("after Commit: read back %d bytes, want the %d written", len(got), len(data))
		}
	})

	t.Run("AbortLeavesNothing", func(t *testing.T) {
		st, ctx, key := fsSetup(t, open, "aborted.bin")
		w := fsCreate(ctx, t, st, key)
		if _, err := w.Write(fsRandom(t, 20_000)); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if err := w.Abort(); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		fsWantNotFound(ctx, t, st, key, "after Abort")
		if _, err := w.Write([]byte("more")); err == nil {
			t.Errorf("Write after Abort succeeded")
		}
		if err := w.Commit(); err == nil {
			t.Errorf("Commit after Abort succeeded")
		}
		fsWantNotFound(ctx, t, st, key, "after Commit of an aborted object")
	})

	t.Run("WriteAfterCommitFails", func(t *testing.T) {
		st, ctx, key := fsSetup(t, open, "committed.bin")
		w := fsCreate(ctx, t, st, key)
		if _, err := w.Write([]byte("final")); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if err := w.Commit(); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if _, err := w.Write([]byte("late")); err == nil {
			t.Errorf("Write after Commit succeeded")
		}
		if got := fsReadAll(ctx, t, st, key); string(got) != "final" {
			t.Errorf("object = %q after a late write, want %q", got, "final")
		}
	})

	t.Run("CommitReplaces", func(t *testing.T) {
		st, ctx, key := fsSetup(t, open, "replaced.bin")
		for _, content := range []string{"first version, longer", "second"} {
			w := fsCreate(ctx, t, st, key)
			if _, err := w.Write([]byte(content)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if err := w.Commit(); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if got := fsReadAll(ctx, t, st, key); string(got) != content {
				t.Fatalf("object = %q, want %q", got, content)
			}
		}
	})

	t.Run("OpenMissing", func(t *testing.T) {
		st, ctx, key := fsSetup(t, open, "missing.bin")
		fsWantNotFound(ctx, t, st, key, "never written")
	})

	t.Run("DeleteIdempotent", func(t *testing.T) {
		st, ctx, key := fsSetup(t, open, "deleted.bin")
		w := fsCreate(ctx, t, st, key)
		if _, err := w.Write([]byte("bytes")); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if err := w.Commit(); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		for i := range 2 {
			if err := st.Delete(ctx, key); err != nil {
				t.Fatalf("Delete #%d: %v", i+1, err)
			}
			fsWantNotFound(ctx, t, st, key, "after Delete")
		}
		if err := st.Delete(ctx, key+".never"); err != nil {
			t.Errorf("Delete of a key never written: %v", err)
		}
	})

	t.Run("PresignGetDownloads", func(t *testing.T) {
		st, ctx, key := fsSetup(t, open, "export.zip")
		data := fsRandom(t, 300_000)
		w := fsCreate(ctx, t, st, key)
		if _, err := w.Write(data); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if err := w.Commit(); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		link, err := st.PresignGet(ctx, key, "general 2024-01.zip", time.Hour)
		if err != nil {
			t.Fatalf("PresignGet: %v", err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
		if err != nil {
			t.Fatalf("PresignGet URL does not make a request: %v", err)
		}
		client := &http.Client{Timeout: time.Minute}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET presigned URL: %v", err)
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("read download: %v", err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET presigned URL: status %d", resp.StatusCode)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("downloaded %d bytes, want the %d stored", len(got), len(data))
		}
	})
}

// setup opens a store for one subtest and picks a key no other test uses.
func fsSetup(t *testing.T, open func(t *testing.T) export.FileStore, name string) (export.FileStore, context.Context, string) {
	t.Helper()
	st := open(t)
	if st == nil {
		t.Fatal("open returned a nil FileStore")
	}
	return st, t.Context(), "storetest/" + hex.EncodeToString(fsRandom(t, 8)) + "/" + name
}

func fsCreate(ctx context.Context, t *testing.T, st export.FileStore, key string) export.ObjectWriter {
	t.Helper()
	w, err := st.Create(ctx, key, export.ObjectInfo{
		ContentType: "application/octet-stream",
		FileName:    "file.bin",
		Expires:     time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatalf("Create %s: %v", key, err)
	}
	return w
}

func fsReadAll(ctx context.Context, t *testing.T, st export.FileStore, key string) []byte {
	t.Helper()
	r, err := st.Open(ctx, key)
	if err != nil {
		t.Fatalf("Open %s: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func fsWantNotFound(ctx context.Context, t *testing.T, st export.FileStore, key, when string) {
	t.Helper()
	r, err := st.Open(ctx, key)
	if err == nil {
		_ = r.Close()
		t.Fatalf("Open %s %s succeeded, want chat.ErrNotFound", key, when)
	}
	if !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("Open %s %s = %v, want chat.ErrNotFound", key, when, err)
	}
}

func fsRandom(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func fsDigest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

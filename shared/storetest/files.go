package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// ResumableOptions describes a backend to RunResumable.
type ResumableOptions struct {
	// PartSize is how many bytes an Upload of the store writes between the
	// points where Persisted advances (the S3 part size, the local store's
	// fsync interval). The suite writes objects of a few parts and expects
	// Persisted to lag what was written by at most two parts: the part being
	// filled and one in flight.
	PartSize int
	// Leftovers, when set, counts what uploads of key left in storage besides
	// the object (pending multipart uploads, temporary files). The suite
	// expects none after Abort.
	Leftovers func(t *testing.T, key string) int
	// CannotAbort says the backend cannot abort a started multipart upload
	// (s3rver 3.7.1): Abort must then report an error, the object must still
	// never appear, and the checks that need a working abort are left out.
	CannotAbort bool
}

// RunResumable runs the resumable-upload contract (export.FileStore's
// StartUpload, ResumeUpload and Upload.Persisted) against the stores open
// returns: a big export spans several worker invocations, each of which
// may stop without a word (time limit, crash, redeploy) and leave its last
// checkpoint to the next. A "crash" here is an Upload dropped without
// Commit or Abort; the next "process" opens a new store value and resumes
// from the state, after a round trip through JSON as a checkpoint would
// make. open is called several times per subtest and every call must
// return a new store value on the same storage (bucket, directory), as
// another process would open it. Subtests write under their own random
// keys.
func RunResumable(t *testing.T, open func(t *testing.T) export.FileStore, opts ResumableOptions) {
	t.Helper()
	if opts.PartSize <= 0 {
		t.Fatalf("RunResumable: PartSize %d is not positive", opts.PartSize)
	}
	part := opts.PartSize
	// size is 3.5 parts and some: several points where Persisted advances,
	// and a short last part.
	size := 3*part + part/2 + 13

	t.Run("CrashAndResumeAcrossProcesses", func(t *testing.T) {
		st, ctx, key := fsSetup(t, open, "resumed.zip")
		data := fsRandom(t, 5*part+part/2+13)
		u := startUpload(ctx, t, st, key, opts)
		span := 2*part + part/2 + 101 // bytes each process writes before it crashes
		u.write(data, 0, span)
		cp := u.checkpoint()
		crashes := 0
		for cp.Offset < int64(len(data)) {
			if crashes++; crashes > 10 {
				t.Fatalf("no end after %d resumes: checkpoint at %d of %d bytes", crashes, cp.Offset, len(data))
			}
			if cp.Offset == 0 {
				t.Fatalf("process %d persisted nothing after writing %d bytes", crashes, span)
			}
			fsWantNotFound(ctx, t, st, key, "while the upload is resumable")
			st = open(t) // another process
			u = resumeUpload(ctx, t, st, key, cp, opts)
			end := min(int(cp.Offset)+span, len(data))
			u.write(data, int(cp.Offset), end)
			if end == len(data) {
				break
			}
			next := u.checkpoint()
			if next.Offset <= cp.Offset {
				t.Fatalf("process %d wrote %d bytes after offset %d and persisted none of them", crashes+1, span, cp.Offset)
			}
			cp = next
		}
		if crashes < 2 {
			t.Errorf("the object was written in %d resumes, want at least 2", crashes)
		}
		if err := u.u.Commit(); err != nil {
			t.Fatalf("Commit after %d resumes: %v", crashes, err)
		}
		if got := fsReadAll(ctx, t, st, key); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes (sha256 %s), want %d (sha256 %s)", len(got), fsDigest(got), len(data), fsDigest(data))
		}
	})

	t.Run("ResumeTwiceFromOneState", func(t *testing.T) {
		st, ctx, key := fsSetup(t, open, "twice.zip")
		data := fsRandom(t, size)
		u := startUpload(ctx, t, st, key, opts)
		u.write(data, 0, 2*part+part/2+1)
		cp := u.checkpoint()
		if cp.Offset == 0 {
			t.Fatalf("nothing persisted after %d bytes", 2*part+part/2+1)
		}
		// The first resume writes other bytes past the checkpoint, persists
		// some of them and crashes before its checkpoint is saved; the next
		// resume starts from the same state again.
		other := fsRandom(t, len(data))
		u = resumeUpload(ctx, t, open(t), key, cp, opts)
		u.write(other, int(cp.Offset), len(other))
		st = open(t)
		u = resumeUpload(ctx, t, st, key, cp, opts)
		u.write(data, int(cp.Offset), len(data))
		if err := u.u.Commit(); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if got := fsReadAll(ctx, t, st, key); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes (sha256 %s), want the %d of the second resume (sha256 %s)", len(got), fsDigest(got), len(data), fsDigest(data))
		}
	})

	t.Run("AbortAfterResumeLeavesNothing", func(t *testing.T) {
		st, ctx, key := fsSetup(t, open, "aborted.zip")
		data := fsRandom(t, size)
		u := startUpload(ctx, t, st, key, opts)
		u.write(data, 0, 2*part+part/2+1)
		cp := u.checkpoint()
		st = open(t)
		u = resumeUpload(ctx, t, st, key, cp, opts)
		u.write(data, int(cp.Offset), int(cp.Offset)+part/2)
		err := u.u.Abort()
		if opts.CannotAbort {
			if err == nil {
				t.Errorf("Abort on a backend that cannot abort uploads succeeded")
			}
		} else if err != nil {
			t.Fatalf("Abort of a resumed upload: %v", err)
		}
		fsWantNotFound(ctx, t, st, key, "after Abort")
		if err := u.u.Abort(); err != nil {
			t.Errorf("second Abort: %v", err)
		}
		if _, err := u.u.Write([]byte("more")); err == nil {
			t.Errorf("Write after Abort succeeded")
		}
		if err := u.u.Commit(); err == nil {
			t.Errorf("Commit after Abort succeeded")
		}
		if opts.CannotAbort {
			fsWantNotFound(ctx, t, st, key, "after Commit of an aborted upload")
			return
		}
		if opts.Leftovers != nil {
			if n := opts.Leftovers(t, key); n != 0 {
				t.Errorf("%d uploads left in storage after Abort", n)
			}
		}
		// A resume from a state taken before the Abort must fail, now or
		// at the latest when the rest is committed.
		if u2, err := st.ResumeUpload(ctx, key, fsInfo(), cp.Upload); err == nil {
			_, werr := u2.Write(data[cp.Offset:])
			if werr == nil {
				werr = u2.Commit()
			}
			if werr == nil {
				t.Errorf("resuming an aborted upload and committing succeeded")
			}
			_ = u2.Abort()
		}
		fsWantNotFound(ctx, t, st, key, "after a resume of an aborted upload")
	})

	t.Run("ResumeAfterCommitLeavesTheObject", func(t *testing.T) {
		st, ctx, key := fsSetup(t, open, "committed.zip")
		data := fsRandom(t, size)
		u := startUpload(ctx, t, st, key, opts)
		u.write(data, 0, 2*part+part/2+1)
		cp := u.checkpoint()
		if cp.Offset == 0 {
			t.Fatalf("nothing persisted after %d bytes", 2*part+part/2+1)
		}
		u.write(data, 2*part+part/2+1, len(data))
		if err := u.u.Commit(); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if err := u.u.Abort(); err != nil {
			t.Errorf("Abort after Commit = %v, want a no-op", err)
		}
		// A stale checkpoint resumed after Commit: the object must keep
		// the committed bytes whatever the resumed upload writes.
		other := fsRandom(t, len(data))
		if u2, err := open(t).ResumeUpload(ctx, key, fsInfo(), cp.Upload); err == nil {
			if _, err := u2.Write(other[cp.Offset:]); err == nil {
				_ = u2.Commit()
			}
			_ = u2.Abort()
		}
		if got := fsReadAll(ctx, t, st, key); !bytes.Equal(got, data) {
			t.Fatalf("after a resume of a committed upload the object holds %d bytes (sha256 %s), want the committed %d (sha256 %s)", len(got), fsDigest(got), len(data), fsDigest(data))
		}
	})

	t.Run("NothingPersistedStartsAfresh", func(t *testing.T) {
		st, ctx, key := fsSetup(t, open, "fresh.zip")
		data := fsRandom(t, part+part/2)
		u := startUpload(ctx, t, st, key, opts)
		u.write(data, 0, part/2)
		cp := u.checkpoint()
		if cp.Offset != 0 {
			t.Fatalf("Persisted = %d after %d bytes, less than a part of %d", cp.Offset, part/2, part)
		}
		st = open(t)
		u = resumeUpload(ctx, t, st, key, cp, opts)
		u.write(data, 0, len(data))
		if err := u.u.Commit(); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if got := fsReadAll(ctx, t, st, key); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, want %d", len(got), len(data))
		}
	})

	t.Run("SmallAndEmptyObjects", func(t *testing.T) {
		for _, n := range []int{0, 1, 1000} {
			st, ctx, key := fsSetup(t, open, "small.bin")
			data := fsRandom(t, n)
			u := startUpload(ctx, t, st, key, opts)
			u.write(data, 0, n)
			if err := u.u.Commit(); err != nil {
				t.Fatalf("Commit of %d bytes: %v", n, err)
			}
			if got := fsReadAll(ctx, t, st, key); !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, want %d", len(got), n)
			}
			if _, err := u.u.Write([]byte("late")); err == nil {
				t.Errorf("Write after Commit succeeded")
			}
			if err := u.u.Commit(); err == nil {
				t.Errorf("second Commit succeeded")
			}
		}
	})

	t.Run("ForeignStateIsRefused", func(t *testing.T) {
		st, ctx, key := fsSetup(t, open, "mine.zip")
		u := startUpload(ctx, t, st, key, opts)
		u.write(fsRandom(t, part+part/2), 0, part+part/2)
		_, state := u.u.Persisted()
		bad := map[string][]byte{
			"nil":          nil,
			"empty":        {},
			"not JSON":     []byte("not json"),
			"JSON null":    []byte("null"),
			"empty object": []byte("{}"),
			"truncated":    state[:len(state)/2],
		}
		for name, s := range bad {
			if w, err := st.ResumeUpload(ctx, key, fsInfo(), s); err == nil {
				_ = w.Abort()
				t.Errorf("ResumeUpload with a %s state succeeded", name)
			}
		}
		if w, err := st.ResumeUpload(ctx, key+".other", fsInfo(), state); err == nil {
			_ = w.Abort()
			t.Errorf("ResumeUpload of another key with this key's state succeeded")
		}
		fsWantNotFound(ctx, t, st, key+".other", "after a refused resume")
		if err := u.u.Abort(); err != nil && !opts.CannotAbort {
			t.Errorf("Abort: %v", err)
		}
	})
}

// resumeCheckpoint is what a worker would save of an upload: the offset the
// next process writes from, and the upload's state.
type resumeCheckpoint struct {
	Offset int64  `json:"offset"`
	Upload []byte `json:"upload"`
}

// resumingUpload is an Upload under test, with what was written to it.
type resumingUpload struct {
	t         *testing.T
	u         export.Upload
	key       string
	opts      ResumableOptions
	written   int64 // offset in the object of the next byte
	persisted int64 // the last Persisted count seen
}

func startUpload(ctx context.Context, t *testing.T, st export.FileStore, key string, opts ResumableOptions) *resumingUpload {
	t.Helper()
	u, err := st.StartUpload(ctx, key, fsInfo())
	if err != nil {
		t.Fatalf("StartUpload %s: %v", key, err)
	}
	r := &resumingUpload{t: t, u: u, key: key, opts: opts}
	r.check()
	return r
}

// resumeUpload resumes from cp, after a round trip of cp through JSON, and
// checks the upload starts at the checkpoint's offset.
func resumeUpload(ctx context.Context, t *testing.T, st export.FileStore, key string, cp resumeCheckpoint, opts ResumableOptions) *resumingUpload {
	t.Helper()
	b, err := json.Marshal(cp)
	if err != nil {
		t.Fatalf("encode checkpoint: %v", err)
	}
	var back resumeCheckpoint
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("decode checkpoint: %v", err)
	}
	if back.Offset != cp.Offset || !bytes.Equal(back.Upload, cp.Upload) {
		t.Fatalf("the checkpoint changed in a JSON round trip")
	}
	u, err := st.ResumeUpload(ctx, key, fsInfo(), back.Upload)
	if err != nil {
		t.Fatalf("ResumeUpload %s at %d: %v", key, cp.Offset, err)
	}
	r := &resumingUpload{t: t, u: u, key: key, opts: opts, written: cp.Offset, persisted: cp.Offset}
	if n, _ := u.Persisted(); n != cp.Offset {
		t.Fatalf("a resumed upload reports %d bytes persisted, want the checkpoint's %d", n, cp.Offset)
	}
	return r
}

// write writes data[from:to] in odd-sized chunks, checking Persisted after
// each.
func (r *resumingUpload) write(data []byte, from, to int) {
	r.t.Helper()
	if int64(from) != r.written {
		r.t.Fatalf("writing from %d, but the upload is at %d", from, r.written)
	}
	part := r.opts.PartSize
	sizes := []int{1, 4093, part/3 + 7, 65_537, part + 11, 17}
	for i := 0; from < to; i++ {
		n := min(sizes[i%len(sizes)], to-from)
		k, err := r.u.Write(data[from : from+n])
		if err != nil || k != n {
			r.t.Fatalf("Write of %d bytes at %d = %d, %v", n, from, k, err)
		}
		from += n
		r.written += int64(n)
		r.check()
	}
}

// check checks what Persisted reports against what was written: never
// more, never less than before, at most two parts behind, and a small
// state.
func (r *resumingUpload) check() {
	r.t.Helper()
	n, state := r.u.Persisted()
	switch {
	case n < r.persisted:
		r.t.Fatalf("Persisted went back from %d to %d", r.persisted, n)
	case n > r.written:
		r.t.Fatalf("Persisted = %d after %d bytes written", n, r.written)
	case r.written-n > 2*int64(r.opts.PartSize):
		r.t.Fatalf("Persisted = %d after %d bytes written: more than two parts of %d behind", n, r.written, r.opts.PartSize)
	case len(state) == 0:
		r.t.Fatalf("Persisted returned an empty state")
	}
	// At most a few KB per GB: 32 bytes per part and a header.
	if limit := 512 + len(r.key) + 32*int(n/int64(r.opts.PartSize)); len(state) > limit {
		r.t.Fatalf("state of %d bytes for %d bytes persisted, want at most %d", len(state), n, limit)
	}
	r.persisted = n
}

// checkpoint is what a worker would save now.
func (r *resumingUpload) checkpoint() resumeCheckpoint {
	r.t.Helper()
	n, state := r.u.Persisted()
	r.persisted = n
	return resumeCheckpoint{Offset: n, Upload: bytes.Clone(state)}
}

func fsInfo() export.ObjectInfo {
	return export.ObjectInfo{ContentType: "application/zip", FileName: "export.zip", Expires: time.Now().Add(time.Hour)}
}

package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/s3store"
	"github.com/rooms-export/rooms-export/shared/storetest"
)

func TestResumableContract(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			opts := storetest.ResumableOptions{PartSize: s3store.MinPartSize, CannotAbort: !b.abortsUploads}
			if b.abortsUploads {
				opts.Leftovers = b.pendingUploads
			}
			storetest.RunResumable(t, func(t *testing.T) export.FileStore { return b.store(nil, s3store.MinPartSize) }, opts)
		})
	}
}

func startUpload(t *testing.T, st *s3store.Store, key string) export.Upload {
	t.Helper()
	u, err := st.StartUpload(t.Context(), key, export.ObjectInfo{ContentType: "application/zip", FileName: "export.zip"})
	if err != nil {
		t.Fatalf("StartUpload %s: %v", key, err)
	}
	return u
}

// writeChunks writes data in 1 MiB chunks and returns the first error.
func writeChunks(u export.Upload, data []byte) error {
	for off := 0; off < len(data); off += 1 << 20 {
		if _, err := u.Write(data[off:min(off+1<<20, len(data))]); err != nil {
			return err
		}
	}
	return nil
}

// TestFailedPartLeavesUploadResumable: a part that fails past the SDK's
// retries ends the invocation, not the export: nothing is aborted, and the
// next invocation continues from the last confirmed part.
func TestFailedPartLeavesUploadResumable(t *testing.T) {
	const part = s3store.MinPartSize
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			rec := &recorder{API: b.client, failPart: 3}
			key := newKey(t, "faulty.zip")
			u := startUpload(t, b.store(rec, part), key)
			data := random(t, 4*part+1)
			err := writeChunks(u, data)
			if !errors.Is(err, errInjected) {
				t.Fatalf("Write = %v, want the injected UploadPart failure", err)
			}
			if err := u.Commit(); !errors.Is(err, errInjected) {
				t.Errorf("Commit after a failed Write = %v, want the same failure", err)
			}
			n, state := u.Persisted()
			if n != 2*part {
				t.Fatalf("Persisted = %d after part 3 failed, want parts 1 and 2 (%d)", n, 2*part)
			}
			c := rec.snapshot()
			if len(c.aborted) != 0 || len(c.uploadIDs) != 1 {
				t.Fatalf("created %v, aborted %v: want one upload, not aborted", c.uploadIDs, c.aborted)
			}
			if b.abortsUploads {
				if n := b.pendingUploads(t, key); n != 1 {
					t.Fatalf("%d multipart uploads pending, want the one to resume", n)
				}
			}

			rec2 := &recorder{API: b.client}
			r, err := b.store(rec2, part).ResumeUpload(t.Context(), key, export.ObjectInfo{}, state)
			if err != nil {
				t.Fatalf("ResumeUpload: %v", err)
			}
			if err := writeChunks(r, data[n:]); err != nil {
				t.Fatalf("Write after resume: %v", err)
			}
			if err := r.Commit(); err != nil {
				t.Fatalf("Commit after resume: %v", err)
			}
			if got := readAll(t, b.store(nil, 0), key); !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes (sha256 %s), want %d (sha256 %s)", len(got), digest(got), len(data), digest(data))
			}
			c2 := rec2.snapshot()
			if c2.count["CreateMultipartUpload"] != 0 || c2.count["CompleteMultipartUpload"] != 1 || c2.count["PutObject"] != 0 {
				t.Errorf("resumed calls %v, want the same upload completed", c2.count)
			}
			// Parts 1 and 2 are not sent again: the resume starts at part 3.
			if fmt.Sprint(c2.partSizes) != fmt.Sprint([]int64{0, 0, part, part, 1}) {
				t.Errorf("resumed part sizes by number %v, want parts 3-5 only", c2.partSizes)
			}
			if err := u.Abort(); err != nil && b.abortsUploads {
				t.Errorf("Abort of the failed upload after the resume committed: %v", err)
			}
			if got := readAll(t, b.store(nil, 0), key); !bytes.Equal(got, data) {
				t.Errorf("the object changed after a stale Abort")
			}
		})
	}
}

// TestDeadlineLeavesUploadResumable: a Lambda whose context ends mid-part
// leaves the upload for the next invocation.
func TestDeadlineLeavesUploadResumable(t *testing.T) {
	const part = s3store.MinPartSize
	b := backends[0]
	rec := &recorder{API: b.client}
	key := newKey(t, "deadline.zip")
	ctx, cancel := context.WithCancel(t.Context())
	u, err := b.store(rec, part).StartUpload(ctx, key, export.ObjectInfo{ContentType: "application/zip"})
	if err != nil {
		t.Fatal(err)
	}
	data := random(t, 3*part+500)
	if err := writeChunks(u, data[:2*part+1]); err != nil {
		t.Fatal(err)
	}
	cancel()
	err = writeChunks(u, data[2*part+1:])
	if err == nil {
		err = u.Commit()
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Write/Commit after the deadline = %v, want context.Canceled", err)
	}
	if c := rec.snapshot(); len(c.aborted) != 0 {
		t.Fatalf("aborted %v at the deadline, want the upload kept", c.aborted)
	}
	n, state := u.Persisted()
	if n != part && n != 2*part {
		t.Fatalf("Persisted = %d, want 1 or 2 parts", n)
	}
	r, err := b.store(nil, part).ResumeUpload(t.Context(), key, export.ObjectInfo{}, state)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeChunks(r, data[n:]); err != nil {
		t.Fatal(err)
	}
	if err := r.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, b.store(nil, 0), key); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(data))
	}
	if n := b.pendingUploads(t, key); n != 0 {
		t.Errorf("%d multipart uploads left", n)
	}
}

// gatedAPI holds UploadPart of part `hold` until release is closed.
type gatedAPI struct {
	s3store.API
	hold    int32
	release chan struct{}
}

func (g *gatedAPI) UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	if aws.ToInt32(in.PartNumber) == g.hold {
		select {
		case <-g.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.API.UploadPart(ctx, in, opts...)
}

func TestPersistedCountsOnlyConfirmedParts(t *testing.T) {
	const part = s3store.MinPartSize
	b := backends[0]
	gate := &gatedAPI{API: b.client, hold: 2, release: make(chan struct{})}
	key := newKey(t, "gated.zip")
	u := startUpload(t, b.store(gate, part), key)
	data := random(t, 2*part+1)
	if err := writeChunks(u, data); err != nil {
		t.Fatal(err)
	}
	// Part 1 was awaited before part 2 started; part 2 is held.
	for range 3 {
		if n, _ := u.Persisted(); n != part {
			t.Fatalf("Persisted = %d while part 2 is in flight, want %d", n, part)
		}
	}
	close(gate.release)
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, _ := u.Persisted()
		if n == 2*part {
			break
		}
		if n != part || time.Now().After(deadline) {
			t.Fatalf("Persisted = %d after part 2 was released, want %d", n, 2*part)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Persisted took part 2's result: the writer goes on from there.
	if err := u.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got := readAll(t, b.store(nil, 0), key); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(data))
	}
}

// TestResumeOfAnUploadWithoutParts: the multipart upload was created but
// its first part was never confirmed; the resume continues that upload (so
// an Abort reaches it) from byte 0.
func TestResumeOfAnUploadWithoutParts(t *testing.T) {
	const part = s3store.MinPartSize
	b := backends[0]
	for _, size := range []int{0, 10, part + 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			gate := &gatedAPI{API: b.client, hold: 1, release: make(chan struct{})}
			defer close(gate.release)
			rec := &recorder{API: gate}
			key := newKey(t, "unconfirmed.zip")
			u := startUpload(t, b.store(rec, part), key)
			if err := writeChunks(u, random(t, part+1)); err != nil {
				t.Fatal(err)
			}
			n, state := u.Persisted()
			if n != 0 || len(rec.snapshot().uploadIDs) != 1 {
				t.Fatalf("Persisted = %d, uploads %v: want 0 with the upload created", n, rec.snapshot().uploadIDs)
			}
			rec2 := &recorder{API: b.client}
			r, err := b.store(rec2, part).ResumeUpload(t.Context(), key, export.ObjectInfo{}, state)
			if err != nil {
				t.Fatal(err)
			}
			data := random(t, size)
			if err := writeChunks(r, data); err != nil {
				t.Fatal(err)
			}
			if err := r.Commit(); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if got := readAll(t, b.store(nil, 0), key); !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, want %d", len(got), len(data))
			}
			c := rec2.snapshot()
			if c.count["CreateMultipartUpload"] != 0 {
				t.Errorf("the resume created another upload: %v", c.count)
			}
			if n := b.pendingUploads(t, key); n != 0 {
				t.Errorf("%d multipart uploads left", n)
			}
		})
	}
}

func TestAbortOfResumedUploadAbortsTheOriginal(t *testing.T) {
	const part = s3store.MinPartSize
	b := backends[0]
	rec := &recorder{API: b.client}
	key := newKey(t, "abandoned.zip")
	u := startUpload(t, b.store(rec, part), key)
	if err := writeChunks(u, random(t, 2*part+1)); err != nil {
		t.Fatal(err)
	}
	_, state := u.Persisted()
	rec2 := &recorder{API: b.client}
	r, err := b.store(rec2, part).ResumeUpload(t.Context(), key, export.ObjectInfo{}, state)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if created, aborted := rec.snapshot().uploadIDs, rec2.snapshot().aborted; len(created) != 1 || fmt.Sprint(aborted) != fmt.Sprint(created) {
		t.Errorf("aborted %v, want the upload the first process created %v", aborted, created)
	}
	if n := b.pendingUploads(t, key); n != 0 {
		t.Errorf("%d multipart uploads left", n)
	}
	// The first process's part in flight, if any, ends; its writes fail.
	if _, err := u.Write(random(t, part)); err == nil {
		if err := u.Commit(); err == nil {
			t.Error("the first process committed an aborted upload")
		}
	}
	fsWantNotFound(t, b.store(nil, 0), key, "after Abort")
}

func TestUploadChecks(t *testing.T) {
	b := backends[0]
	info := export.ObjectInfo{}
	for _, size := range []int{-1, 1 << 20, s3store.MaxPartSize + 1} {
		if _, err := b.store(nil, size).StartUpload(t.Context(), "a.zip", info); err == nil {
			t.Errorf("StartUpload with part size %d succeeded", size)
		}
	}
	st := b.store(nil, 0)
	if _, err := st.StartUpload(t.Context(), "", info); err == nil {
		t.Error("StartUpload of an empty key succeeded")
	}
	u := startUpload(t, st, newKey(t, "x.zip"))
	_, state := u.Persisted()
	if err := u.Abort(); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := st.StartUpload(cancelled, "a.zip", info); !errors.Is(err, context.Canceled) {
		t.Errorf("StartUpload with a cancelled context = %v", err)
	}
	if _, err := st.ResumeUpload(cancelled, "a.zip", info, state); !errors.Is(err, context.Canceled) {
		t.Errorf("ResumeUpload with a cancelled context = %v", err)
	}
	if _, err := st.ResumeUpload(t.Context(), "", info, state); err == nil {
		t.Error("ResumeUpload of an empty key succeeded")
	}
}

// TestUploadMemoryStaysNearTwoParts: asking Persisted after every write
// costs no part-sized allocations.
func TestUploadMemoryStaysNearTwoParts(t *testing.T) {
	const part = s3store.MinPartSize
	api := &discardAPI{}
	st := s3store.New(api, nil, "bucket")
	st.PartSize = part
	u, err := st.StartUpload(t.Context(), "big.zip", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	chunk := random(t, 64<<10)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var last int64
	for range 24 * part / len(chunk) {
		if _, err := u.Write(chunk); err != nil {
			t.Fatal(err)
		}
		n, state := u.Persisted()
		if n < last || len(state) > 1024 {
			t.Fatalf("Persisted = %d (state of %d bytes) after %d", n, len(state), last)
		}
		last = n
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if api.parts != 24 || api.bytes != 24*part {
		t.Fatalf("uploaded %d parts, %d bytes; want 24, %d", api.parts, api.bytes, 24*part)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*part {
		t.Errorf("writing 24 parts allocated %d MiB, want at most 4 parts (%d MiB)", alloc>>20, 4*part>>20)
	}
}

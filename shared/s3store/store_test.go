package s3store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/rooms-export/rooms-export/shared/awstest"
	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/s3store"
	"github.com/rooms-export/rooms-export/shared/storetest"
)

var _ export.FileStore = (*s3store.Store)(nil)

var (
	_ s3store.API       = (*s3.Client)(nil)
	_ s3store.Presigner = (*s3.PresignClient)(nil)
)

// backend is an S3 emulator the tests run against.
type backend struct {
	name   string
	client *s3.Client
	bucket string
	// abortsUploads: the emulator implements AbortMultipartUpload and
	// ListMultipartUploads (gofakes3 does; s3rver 3.7.1 does neither, and
	// answers an abort with an error).
	abortsUploads bool
	// enforcesExpiry: the emulator refuses expired presigned URLs (s3rver
	// does; gofakes3 does not check presigned URLs at all).
	enforcesExpiry bool
}

// backends are started once for the test binary by TestMain.
var backends []backend

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	fake := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer fake.Close()
	emu, err := awstest.Start(awstest.S3)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer emu.Stop()

	s3rverCfg := awstest.Config(emu.Endpoint)
	// s3rver knows one access key only.
	s3rverCfg.Credentials = credentials.NewStaticCredentialsProvider("S3RVER", "S3RVER", "")
	backends = []backend{
		{name: "gofakes3", client: newClient(awstest.Config(fake.URL)), bucket: "exports", abortsUploads: true},
		{name: "s3rver", client: newClient(s3rverCfg), bucket: "exports", enforcesExpiry: true},
	}
	ctx, cancel := awstest.Context()
	defer cancel()
	for _, b := range backends {
		if _, err := b.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.bucket)}); err != nil {
			fmt.Fprintf(os.Stderr, "%s: create bucket: %v\n", b.name, err)
			return 1
		}
	}
	return m.Run()
}

func newClient(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// store returns a store on b whose client calls go through api (b.client
// when nil).
func (b backend) store(api s3store.API, partSize int) *s3store.Store {
	if api == nil {
		api = b.client
	}
	s := s3store.New(api, s3.NewPresignClient(b.client), b.bucket)
	s.PartSize = partSize
	return s
}

// pendingUploads counts the multipart uploads in progress under key.
func (b backend) pendingUploads(t *testing.T, key string) int {
	t.Helper()
	out, err := b.client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(b.bucket), Prefix: aws.String(key)})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	return len(out.Uploads)
}

func TestFileStoreContract(t *testing.T) {
	for _, b := range backends {
		for _, size := range []int{0, s3store.MinPartSize} {
			t.Run(fmt.Sprintf("%s/PartSize=%d", b.name, size), func(t *testing.T) {
				storetest.RunFileStore(t, func(t *testing.T) export.FileStore { return b.store(nil, size) })
			})
		}
	}
}

func TestMultipartRoundTrip(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			rec := &recorder{API: b.client}
			st := b.store(rec, s3store.MinPartSize)
			key := newKey(t, "big.zip")
			data := random(t, 20<<20+12_345)
			expires := time.Now().Add(48 * time.Hour).Truncate(time.Second)
			w, err := st.Create(t.Context(), key, export.ObjectInfo{ContentType: "application/zip", FileName: "Général – 2024.zip", Expires: expires})
			if err != nil {
				t.Fatal(err)
			}
			// Odd-sized chunks, so that writes straddle part boundaries.
			sizes := []int{1, 4093, 1<<20 + 7, 333_333, 2_999_999, 17}
			for off, i := 0, 0; off < len(data); i++ {
				n := min(sizes[i%len(sizes)], len(data)-off)
				if k, err := w.Write(data[off : off+n]); err != nil || k != n {
					t.Fatalf("Write %d bytes at %d = %d, %v", n, off, k, err)
				}
				off += n
			}
			fsWantNotFound(t, st, key, "before Commit")
			if err := w.Commit(); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if got := readAll(t, st, key); !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes (sha256 %s), want %d (sha256 %s)", len(got), digest(got), len(data), digest(data))
			}

			c := rec.snapshot()
			wantParts := []int64{s3store.MinPartSize, s3store.MinPartSize, s3store.MinPartSize, s3store.MinPartSize, 12_345}
			if fmt.Sprint(c.partSizes) != fmt.Sprint(wantParts) {
				t.Errorf("part sizes %v, want %v", c.partSizes, wantParts)
			}
			if c.count["CreateMultipartUpload"] != 1 || c.count["CompleteMultipartUpload"] != 1 || c.count["PutObject"] != 0 || c.count["AbortMultipartUpload"] != 0 {
				t.Errorf("calls %v, want one create, one complete, no put, no abort", c.count)
			}
			if len(c.creates) == 1 {
				in := c.creates[0]
				if aws.ToString(in.ContentType) != "application/zip" || in.Expires == nil || !in.Expires.Equal(expires) {
					t.Errorf("CreateMultipartUpload: content type %q, expires %v", aws.ToString(in.ContentType), in.Expires)
				}
				wantDisposition(t, "CreateMultipartUpload", aws.ToString(in.ContentDisposition), "Général – 2024.zip")
			}
			head, err := b.client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
			if err != nil {
				t.Fatalf("HeadObject: %v", err)
			}
			if aws.ToString(head.ContentType) != "application/zip" || aws.ToInt64(head.ContentLength) != int64(len(data)) {
				t.Errorf("stored object: content type %q, length %d", aws.ToString(head.ContentType), aws.ToInt64(head.ContentLength))
			}
			wantDisposition(t, "stored object", aws.ToString(head.ContentDisposition), "Général – 2024.zip")
		})
	}
}

// TestPartBoundaries checks that an object of at most one part is a single
// PutObject and that a full part is uploaded only when more bytes follow, so
// the last part is never empty.
func TestPartBoundaries(t *testing.T) {
	const part = s3store.MinPartSize
	b := backends[0]
	cases := []struct {
		size      int
		puts      int
		partSizes []int64
	}{
		{0, 1, nil},
		{part - 1, 1, nil},
		{part, 1, nil},
		{part + 1, 0, []int64{part, 1}},
		{2 * part, 0, []int64{part, part}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.size), func(t *testing.T) {
			rec := &recorder{API: b.client}
			st := b.store(rec, part)
			key := newKey(t, "boundary.bin")
			data := random(t, c.size)
			w := create(t, st, key)
			// Write in two halves, the first ending at the part boundary.
			cut := min(part, len(data))
			for _, p := range [][]byte{data[:cut], data[cut:]} {
				if _, err := w.Write(p); err != nil {
					t.Fatalf("Write: %v", err)
				}
			}
			if err := w.Commit(); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			got := rec.snapshot()
			if got.count["PutObject"] != c.puts || fmt.Sprint(got.partSizes) != fmt.Sprint(c.partSizes) {
				t.Errorf("%d PutObject, parts %v; want %d, %v", got.count["PutObject"], got.partSizes, c.puts, c.partSizes)
			}
			if back := readAll(t, st, key); !bytes.Equal(back, data) {
				t.Errorf("read back %d bytes, want %d", len(back), len(data))
			}
		})
	}
}

func TestAbortDuringMultipartLeavesNothing(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			rec := &recorder{API: b.client}
			st := b.store(rec, s3store.MinPartSize)
			key := newKey(t, "aborted.zip")
			w := create(t, st, key)
			if _, err := w.Write(random(t, 2*s3store.MinPartSize+100)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if b.abortsUploads {
				if n := b.pendingUploads(t, key); n != 1 {
					t.Fatalf("%d multipart uploads in progress before Abort, want 1", n)
				}
			}
			err := w.Abort()
			c := rec.snapshot()
			if len(c.uploadIDs) != 1 || fmt.Sprint(c.aborted) != fmt.Sprint(c.uploadIDs) {
				t.Errorf("aborted uploads %v, want the one created %v", c.aborted, c.uploadIDs)
			}
			if c.count["CompleteMultipartUpload"] != 0 || len(c.partSizes) != 2 {
				t.Errorf("calls %v, parts %v: want two parts and no completion", c.count, c.partSizes)
			}
			if b.abortsUploads {
				if err != nil {
					t.Fatalf("Abort: %v", err)
				}
				if n := b.pendingUploads(t, key); n != 0 {
					t.Errorf("%d multipart uploads left after Abort", n)
				}
			} else if err == nil || !strings.Contains(err.Error(), "abort multipart upload") {
				// s3rver cannot abort: the failure must reach the caller.
				t.Errorf("Abort on an emulator without AbortMultipartUpload = %v, want its error", err)
			}
			fsWantNotFound(t, st, key, "after Abort")
			if _, err := w.Write([]byte("x")); err == nil {
				t.Error("Write after Abort succeeded")
			}
			if err := w.Commit(); err == nil {
				t.Error("Commit after Abort succeeded")
			}
			if err := w.Abort(); err != nil {
				t.Errorf("second Abort: %v", err)
			}
			fsWantNotFound(t, st, key, "after Commit of an aborted object")
		})
	}
}

var errInjected = errors.New("injected failure")

func TestFailedUploadPartAbortsUpload(t *testing.T) {
	const part = s3store.MinPartSize
	for _, b := range backends {
		for _, tc := range []struct {
			name string
			size int // object size: part 3 fails either in a Write (when part 4 is flushed) or in Commit (part 3 is the last)
		}{
			{"InWrite", 4*part + 1},
			{"InCommit", 2*part + 10},
		} {
			t.Run(b.name+"/"+tc.name, func(t *testing.T) {
				rec := &recorder{API: b.client, failPart: 3}
				st := b.store(rec, part)
				key := newKey(t, "faulty.zip")
				w := create(t, st, key)
				data := random(t, tc.size)
				var err error
				for off := 0; off < len(data) && err == nil; off += 1 << 20 {
					_, err = w.Write(data[off:min(off+1<<20, len(data))])
				}
				writeFailed := err != nil
				if err == nil {
					err = w.Commit()
				} else if cerr := w.Commit(); cerr == nil {
					t.Error("Commit after a failed Write succeeded")
				}
				if !errors.Is(err, errInjected) {
					t.Fatalf("Write/Commit = %v, want the injected UploadPart failure", err)
				}
				if wantInWrite := tc.name == "InWrite"; writeFailed != wantInWrite {
					t.Errorf("failure surfaced in Write: %v, want %v", writeFailed, wantInWrite)
				}
				c := rec.snapshot()
				if len(c.uploadIDs) != 1 || fmt.Sprint(c.aborted) != fmt.Sprint(c.uploadIDs) {
					t.Errorf("aborted uploads %v, want the one created %v", c.aborted, c.uploadIDs)
				}
				if c.count["CompleteMultipartUpload"] != 0 {
					t.Errorf("CompleteMultipartUpload called after a failed part")
				}
				if b.abortsUploads {
					if strings.Contains(err.Error(), "abort multipart upload") {
						t.Errorf("abort failed: %v", err)
					}
					if n := b.pendingUploads(t, key); n != 0 {
						t.Errorf("%d multipart uploads left after the failure", n)
					}
				}
				fsWantNotFound(t, st, key, "after a failed part")
				if _, werr := w.Write([]byte("more")); werr == nil {
					t.Error("Write after the failure succeeded")
				}
				if aerr := w.Abort(); aerr != nil {
					t.Errorf("Abort after the failure (already aborted) = %v", aerr)
				}
				if len(rec.snapshot().aborted) != 1 {
					t.Errorf("upload aborted %d times, want once", len(rec.snapshot().aborted))
				}
			})
		}
	}
}

func TestFailedCommitLeavesPreviousVersion(t *testing.T) {
	b := backends[0]
	for _, tc := range []struct {
		op   string
		size int
	}{
		{"PutObject", 1000},
		{"CompleteMultipartUpload", s3store.MinPartSize + 1000},
	} {
		t.Run(tc.op, func(t *testing.T) {
			key := newKey(t, "versioned.zip")
			first := random(t, 500)
			put(t, b.store(nil, 0), key, first)

			rec := &recorder{API: b.client, failOp: tc.op}
			st := b.store(rec, s3store.MinPartSize)
			w := create(t, st, key)
			if _, err := w.Write(random(t, tc.size)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if err := w.Commit(); !errors.Is(err, errInjected) {
				t.Fatalf("Commit = %v, want the injected %s failure", err, tc.op)
			}
			c := rec.snapshot()
			if fmt.Sprint(c.aborted) != fmt.Sprint(c.uploadIDs) {
				t.Errorf("aborted uploads %v, want those created %v", c.aborted, c.uploadIDs)
			}
			if n := b.pendingUploads(t, key); n != 0 {
				t.Errorf("%d multipart uploads left after a failed commit", n)
			}
			if got := readAll(t, st, key); !bytes.Equal(got, first) {
				t.Errorf("after a failed commit the key holds %d bytes, want the previous %d", len(got), len(first))
			}
			if err := w.Commit(); err == nil {
				t.Error("second Commit succeeded")
			}
		})
	}
}

func TestAbortOfAnUploadAlreadyGone(t *testing.T) {
	b := backends[0]
	rec := &recorder{API: b.client, abortTwice: true}
	st := b.store(rec, s3store.MinPartSize)
	key := newKey(t, "gone.zip")
	w := create(t, st, key)
	if _, err := w.Write(random(t, s3store.MinPartSize+1)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	// The second abort gets NoSuchUpload: nothing is pending, so that is success.
	if err := w.Abort(); err != nil {
		t.Errorf("Abort of an upload already aborted = %v, want nil", err)
	}
	if c := rec.snapshot(); len(c.aborted) != 1 {
		t.Errorf("aborted %v, want one upload", c.aborted)
	}
	if n := b.pendingUploads(t, key); n != 0 {
		t.Errorf("%d multipart uploads left", n)
	}
	fsWantNotFound(t, st, key, "after Abort")
}

func TestCancelledContextStillAborts(t *testing.T) {
	b := backends[0]
	rec := &recorder{API: b.client}
	st := b.store(rec, s3store.MinPartSize)
	key := newKey(t, "cancelled.zip")
	ctx, cancel := context.WithCancel(t.Context())
	w, err := st.Create(ctx, key, export.ObjectInfo{ContentType: "application/zip", FileName: "x.zip"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(random(t, s3store.MinPartSize+1)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	cancel()
	_, err = w.Write(random(t, s3store.MinPartSize))
	if err == nil {
		err = w.Commit()
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Write/Commit after cancel = %v, want context.Canceled", err)
	}
	c := rec.snapshot()
	if len(c.uploadIDs) != 1 || fmt.Sprint(c.aborted) != fmt.Sprint(c.uploadIDs) || c.abortCtxErr != nil {
		t.Errorf("aborted %v (context error %v), want %v aborted on a live context", c.aborted, c.abortCtxErr, c.uploadIDs)
	}
	if n := b.pendingUploads(t, key); n != 0 {
		t.Errorf("%d multipart uploads left", n)
	}
	fsWantNotFound(t, st, key, "after a cancelled write")
}

func TestPresignedDownload(t *testing.T) {
	for _, b := range backends {
		for _, name := range []string{"Général – 2024.zip", "general 2024-01.zip"} {
			t.Run(b.name+"/"+name, func(t *testing.T) {
				st := b.store(nil, 0)
				key := newKey(t, "export.zip")
				data := random(t, 100_000)
				put(t, st, key, data)
				link, err := st.PresignGet(t.Context(), key, name, time.Minute)
				if err != nil {
					t.Fatalf("PresignGet: %v", err)
				}
				u, err := url.Parse(link)
				if err != nil {
					t.Fatal(err)
				}
				// Only the host is signed: a browser's plain GET matches the signature.
				if q := u.Query(); q.Get("X-Amz-SignedHeaders") != "host" || q.Get("X-Amz-Expires") != "60" {
					t.Errorf("signed headers %q, expires %q; want host, 60", q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Expires"))
				}
				status, header, body := get(t, link)
				if status != http.StatusOK || !bytes.Equal(body, data) {
					t.Fatalf("GET = %d with %d bytes, want 200 with the %d stored", status, len(body), len(data))
				}
				wantDisposition(t, "download", header.Get("Content-Disposition"), name)
			})
		}
	}
}

func TestPresignedURLExpires(t *testing.T) {
	for _, b := range backends {
		if !b.enforcesExpiry {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			st := b.store(nil, 0)
			key := newKey(t, "soon.zip")
			put(t, st, key, []byte("short-lived"))
			short, err := st.PresignGet(t.Context(), key, "soon.zip", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			long, err := st.PresignGet(t.Context(), key, "soon.zip", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(2100 * time.Millisecond)
			if status, _, body := get(t, short); status != http.StatusForbidden || !bytes.Contains(body, []byte("expired")) {
				t.Errorf("GET of a 1s link after 2s = %d %q, want 403 expired", status, body)
			}
			if status, _, body := get(t, long); status != http.StatusOK || string(body) != "short-lived" {
				t.Errorf("GET of a 1h link = %d %q, want 200", status, body)
			}
		})
	}
}

func TestPresignArguments(t *testing.T) {
	st := backends[0].store(nil, 0)
	ctx := t.Context()
	for _, ttl := range []time.Duration{0, -time.Second, s3store.MaxPresignTTL + time.Second} {
		if _, err := st.PresignGet(ctx, "a.zip", "a.zip", ttl); err == nil {
			t.Errorf("PresignGet with ttl %v succeeded", ttl)
		}
	}
	for ttl, want := range map[time.Duration]string{
		1500 * time.Millisecond: "2",
		time.Millisecond:        "1",
		s3store.MaxPresignTTL:   "604800",
	} {
		link, err := st.PresignGet(ctx, "a.zip", "a.zip", ttl)
		if err != nil {
			t.Fatalf("PresignGet ttl %v: %v", ttl, err)
		}
		if got := query(t, link).Get("X-Amz-Expires"); got != want {
			t.Errorf("ttl %v: X-Amz-Expires %s, want %s (rounded up)", ttl, got, want)
		}
	}
	link, err := st.PresignGet(ctx, "dir/b.json", "../../evil\r\nX-Injected: 1.zip", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	wantDisposition(t, "hostile name", query(t, link).Get("response-content-disposition"), chat.SafeName("../../evil\r\nX-Injected: 1.zip", "b.json"))
	link, err = st.PresignGet(ctx, "dir/b.json", "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	wantDisposition(t, "empty name", query(t, link).Get("response-content-disposition"), "b.json")
	if _, err := st.PresignGet(ctx, "", "a.zip", time.Minute); err == nil {
		t.Error("PresignGet of an empty key succeeded")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := st.PresignGet(cancelled, "a.zip", "a.zip", time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("PresignGet with a cancelled context = %v", err)
	}
}

func TestCreateChecks(t *testing.T) {
	b := backends[0]
	info := export.ObjectInfo{ContentType: "application/zip", FileName: "a.zip"}
	for _, size := range []int{-1, 1 << 20, s3store.MinPartSize - 1, s3store.MaxPartSize + 1} {
		if _, err := b.store(nil, size).Create(t.Context(), "a.zip", info); err == nil {
			t.Errorf("Create with part size %d succeeded", size)
		}
	}
	st := b.store(nil, 0)
	for _, key := range []string{"", strings.Repeat("k", 1025), "bad\xffutf8"} {
		if _, err := st.Create(t.Context(), key, info); err == nil {
			t.Errorf("Create with key %q succeeded", key)
		}
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := st.Create(cancelled, "a.zip", info); !errors.Is(err, context.Canceled) {
		t.Errorf("Create with a cancelled context = %v", err)
	}
}

func TestMissingBucketIsNotNotFound(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			st := s3store.New(b.client, s3.NewPresignClient(b.client), "no-such-bucket")
			_, err := st.Open(t.Context(), "a.zip")
			if err == nil || errors.Is(err, chat.ErrNotFound) {
				t.Errorf("Open in a missing bucket = %v, want an error other than chat.ErrNotFound", err)
			}
		})
	}
}

// TestMemoryStaysNearTwoParts writes 24 parts through a client that discards
// them and checks that the writer allocated about two parts, not 24.
func TestMemoryStaysNearTwoParts(t *testing.T) {
	const part = s3store.MinPartSize
	api := &discardAPI{}
	st := s3store.New(api, nil, "bucket")
	st.PartSize = part
	w, err := st.Create(t.Context(), "big.zip", export.ObjectInfo{})
	if err != nil {
		t.Fatal(err)
	}
	chunk := random(t, 64<<10)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 24 * part / len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
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

// recorder wraps an S3 client: it records the calls made and fails the
// failPart-th UploadPart, or every call to failOp, with errInjected.
type recorder struct {
	s3store.API
	failPart int
	failOp   string
	// abortTwice aborts each upload once before the call it records, as a
	// retry whose first answer was lost would.
	abortTwice bool

	mu    sync.Mutex
	calls calls
}

// calls is what a recorder saw.
type calls struct {
	count       map[string]int
	partSizes   []int64 // UploadPart body sizes, by part number
	creates     []*s3.CreateMultipartUploadInput
	uploadIDs   []string // created
	aborted     []string // aborted
	abortCtxErr error    // the context error seen by the last abort
}

func (r *recorder) note(op string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls.count == nil {
		r.calls.count = map[string]int{}
	}
	r.calls.count[op]++
	if op == r.failOp || (op == "UploadPart" && r.calls.count[op] == r.failPart) {
		return fmt.Errorf("%s: %w", op, errInjected)
	}
	return nil
}

func (r *recorder) snapshot() calls {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	c.count = map[string]int{}
	for k, v := range r.calls.count {
		c.count[k] = v
	}
	c.partSizes = append([]int64(nil), r.calls.partSizes...)
	c.aborted = append([]string(nil), r.calls.aborted...)
	c.uploadIDs = append([]string(nil), r.calls.uploadIDs...)
	return c
}

func (r *recorder) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if err := r.note("PutObject"); err != nil {
		return nil, err
	}
	return r.API.PutObject(ctx, in, opts...)
}

func (r *recorder) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	if err := r.note("CreateMultipartUpload"); err != nil {
		return nil, err
	}
	out, err := r.API.CreateMultipartUpload(ctx, in, opts...)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls.creates = append(r.calls.creates, in)
	if err == nil {
		r.calls.uploadIDs = append(r.calls.uploadIDs, aws.ToString(out.UploadId))
	}
	return out, err
}

func (r *recorder) UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	r.mu.Lock()
	n := int(aws.ToInt32(in.PartNumber))
	for len(r.calls.partSizes) < n {
		r.calls.partSizes = append(r.calls.partSizes, 0)
	}
	r.calls.partSizes[n-1] = aws.ToInt64(in.ContentLength)
	r.mu.Unlock()
	if err := r.note("UploadPart"); err != nil {
		return nil, err
	}
	return r.API.UploadPart(ctx, in, opts...)
}

func (r *recorder) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	if err := r.note("CompleteMultipartUpload"); err != nil {
		return nil, err
	}
	return r.API.CompleteMultipartUpload(ctx, in, opts...)
}

func (r *recorder) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	r.mu.Lock()
	r.calls.aborted = append(r.calls.aborted, aws.ToString(in.UploadId))
	r.calls.abortCtxErr = ctx.Err()
	r.mu.Unlock()
	if err := r.note("AbortMultipartUpload"); err != nil {
		return nil, err
	}
	if r.abortTwice {
		if _, err := r.API.AbortMultipartUpload(ctx, in, opts...); err != nil {
			return nil, err
		}
	}
	return r.API.AbortMultipartUpload(ctx, in, opts...)
}

// discardAPI accepts multipart uploads and throws the bytes away.
type discardAPI struct {
	s3store.API // nil: other calls panic

	mu           sync.Mutex
	parts, bytes int
}

func (d *discardAPI) CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	return &s3.CreateMultipartUploadOutput{UploadId: aws.String("upload-1")}, nil
}

func (d *discardAPI) UploadPart(_ context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	n, err := io.Copy(io.Discard, in.Body)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.parts++
	d.bytes += int(n)
	return &s3.UploadPartOutput{ETag: aws.String(fmt.Sprintf(`"etag-%d"`, aws.ToInt32(in.PartNumber)))}, nil
}

func (d *discardAPI) CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	return &s3.CompleteMultipartUploadOutput{}, nil
}

func newKey(t *testing.T, name string) string {
	return "s3store-test/" + hex.EncodeToString(random(t, 8)) + "/" + name
}

func create(t *testing.T, st *s3store.Store, key string) export.ObjectWriter {
	t.Helper()
	w, err := st.Create(t.Context(), key, export.ObjectInfo{ContentType: "application/zip", FileName: "export.zip", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatalf("Create %s: %v", key, err)
	}
	return w
}

func put(t *testing.T, st *s3store.Store, key string, data []byte) {
	t.Helper()
	w := create(t, st, key)
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func readAll(t *testing.T, st *s3store.Store, key string) []byte {
	t.Helper()
	r, err := st.Open(t.Context(), key)
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

func fsWantNotFound(t *testing.T, st *s3store.Store, key, when string) {
	t.Helper()
	r, err := st.Open(t.Context(), key)
	if err == nil {
		r.Close()
		t.Fatalf("Open %s %s succeeded, want chat.ErrNotFound", key, when)
	}
	if !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("Open %s %s = %v, want chat.ErrNotFound", key, when, err)
	}
}

// wantDisposition checks that a Content-Disposition value is an attachment
// offering name.
func wantDisposition(t *testing.T, what, value, name string) {
	t.Helper()
	disp, params, err := mime.ParseMediaType(value)
	if err != nil || disp != "attachment" || params["filename"] != name {
		t.Errorf("%s: Content-Disposition %q (%v), want attachment named %q", what, value, err, name)
	}
	if strings.ContainsAny(value, "\r\n") || !isASCII(value) {
		t.Errorf("%s: Content-Disposition %q is not a safe ASCII header value", what, value)
	}
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func get(t *testing.T, link string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, link, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read GET body: %v", err)
	}
	return resp.StatusCode, resp.Header, body
}

func query(t *testing.T, link string) url.Values {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

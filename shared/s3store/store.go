// Package s3store is the export.FileStore on Amazon S3: export archives are
// streamed into a bucket as they are produced, and download links are S3
// presigned GET URLs. It stands in, in AWS, for the local store (localfs),
// the way Rocket.Chat's AmazonS3 upload storage stands in for its FileSystem
// storage.
//
// An object is written the way S3 makes atomic: bytes are buffered into parts
// of PartSize (8 MiB by default); an object that fits in one part is sent with
// a single PutObject on Commit, a bigger one becomes a multipart upload whose
// parts are uploaded while the next part fills, and which appears under its
// key only when CompleteMultipartUpload succeeds. Abort, a failed Write and a
// failed Commit all call AbortMultipartUpload, so no half-written object and
// no orphaned upload is left (the bucket's lifecycle rule that aborts
// incomplete multipart uploads is the backstop when even that call fails).
// Memory stays at about two parts whatever the size of the object.
//
// A resumable upload (StartUpload) is the same multipart upload, but its
// state — the upload id and the ETag and CRC32 of every confirmed part — is
// handed to the caller (Persisted), so that the next Lambda invocation can
// continue it (ResumeUpload) after a timeout, crash or redeploy; a failure
// then leaves the upload for that next invocation instead of aborting it.
//
// The Lambda main builds the clients; s3store takes them ready-made:
//
//	client := s3.NewFromConfig(cfg)
//	store := s3store.New(client, s3.NewPresignClient(client), bucket)
//
// To point it at an emulator (gofakes3, s3rver, MinIO, ...) give the client a
// base endpoint and path-style addressing, and use an http:// endpoint:
// over https the SDK sends aws-chunked bodies with trailing checksums, which
// those emulators store as part of the object:
//
//	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
//		o.BaseEndpoint = aws.String("http://127.0.0.1:4569") // S3_ENDPOINT
//		o.UsePathStyle = true
//	})
//
// s3rver 3.7.1 accepts only the access key S3RVER (secret S3RVER), and it
// implements neither AbortMultipartUpload nor ListMultipartUploads: against
// it an abort of a started multipart upload reports that error (the object
// is still never visible).
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// Part sizes and limits of S3 multipart uploads.
const (
	// DefaultPartSize is the part size when Store.PartSize is zero.
	DefaultPartSize = 8 << 20
	// MinPartSize is S3's smallest part size (every part but the last).
	MinPartSize = 5 << 20
	// MaxPartSize is S3's largest part size.
	MaxPartSize = 5 << 30
	// MaxParts is S3's largest part number: with DefaultPartSize an object
	// can reach 78 GiB.
	MaxParts = 10000
	// MaxPresignTTL is the longest a SigV4 presigned URL can live.
	MaxPresignTTL = 7 * 24 * time.Hour
	// maxKeyLen is S3's limit on object keys, in bytes.
	maxKeyLen = 1024
)

// abortTimeout bounds the AbortMultipartUpload made while cleaning up, which
// runs even when the writer's context is cancelled (a Lambda past its
// deadline still tries to leave nothing behind).
const abortTimeout = 30 * time.Second

// API is the narrow S3 client interface the store uses; *s3.Client
// satisfies it.
type API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(ctx context.Context, in *s3.UploadPartInput, optFns ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Presigner is the narrow presign interface the store uses;
// *s3.PresignClient satisfies it.
type Presigner interface {
	PresignGetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

// errFinished is returned by writes to a committed or aborted object.
var errFinished = errors.New("object already committed or aborted")

// Store keeps objects in one S3 bucket. It is safe for concurrent use; its
// ObjectWriters are not.
type Store struct {
	// PartSize is the multipart part size in bytes (DefaultPartSize when
	// zero); it must lie within [MinPartSize, MaxPartSize]. Each writer
	// holds at most two parts in memory. Set it before the store is used.
	PartSize int

	client  API
	presign Presigner
	bucket  string
}

// New returns a store writing to bucket through client, and presigning
// download links with presign.
func New(client API, presign Presigner, bucket string) *Store {
	return &Store{client: client, presign: presign, bucket: bucket}
}

func (s *Store) partSize() (int, error) {
	switch n := s.PartSize; {
	case n == 0:
		return DefaultPartSize, nil
	case n < MinPartSize || n > MaxPartSize:
		return 0, fmt.Errorf("part size %d is outside S3's [%d, %d]", n, MinPartSize, MaxPartSize)
	default:
		return n, nil
	}
}

// checkKey refuses keys S3 would refuse: empty, longer than 1024 bytes, or
// not UTF-8.
func checkKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty object key")
	case len(key) > maxKeyLen:
		return fmt.Errorf("object key of %d bytes is longer than %d", len(key), maxKeyLen)
	case !utf8.ValidString(key):
		return errors.New("object key is not UTF-8")
	}
	return nil
}

// disposition is the Content-Disposition offered to downloaders: attachment,
// with the name sanitised by chat.SafeName (the key's last segment when
// empty) and encoded by mime.FormatMediaType, which quotes an ASCII name
// (filename="general 2024.zip") and writes any other as an RFC 2231 extended
// parameter (filename*=utf-8 and the percent-encoded bytes), so the header
// stays ASCII as S3 requires.
func disposition(fileName, key string) string {
	name := chat.SafeName(fileName, path.Base(key))
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return "attachment"
}

// Create starts writing an object. The writer keeps ctx for the requests it
// makes while the object is written and committed. The object carries
// info.ContentType, a Content-Disposition naming info.FileName, and
// info.Expires as its Expires header (the deletion itself is the bucket's
// lifecycle rule). Nothing is sent to S3 until more than one part has been
// written, or Commit.
func (s *Store) Create(ctx context.Context, key string, info export.ObjectInfo) (export.ObjectWriter, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("s3store: create: %w", err)
	}
	size, err := s.partSize()
	if err != nil {
		return nil, fmt.Errorf("s3store: create %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3store: create %s: %w", key, err)
	}
	return s.newWriter(ctx, key, info, size), nil
}

func (s *Store) newWriter(ctx context.Context, key string, info export.ObjectInfo, size int) *writer {
	w := &writer{
		ctx:         ctx,
		client:      s.client,
		bucket:      s.bucket,
		key:         key,
		size:        size,
		disposition: disposition(info.FileName, key),
	}
	if info.ContentType != "" {
		w.contentType = aws.String(info.ContentType)
	}
	if !info.Expires.IsZero() {
		w.expires = aws.Time(info.Expires)
	}
	return w
}

// writer is an object being written. buf is the part being filled; spare is
// the buffer of the last part uploaded, reused once that upload has ended, so
// at most two parts are held whatever the object's size. A full part is
// uploaded only when the next byte arrives: the last part is then never
// empty, and an object of at most one part is a single PutObject.
type writer struct {
	ctx         context.Context
	client      API
	bucket, key string
	size        int

	contentType *string
	disposition string
	expires     *time.Time

	buf, spare []byte
	uploadID   string // set once the multipart upload is created
	parts      []types.CompletedPart
	inflight   chan partResult // the part being uploaded; nil when none
	finished   bool            // committed, aborted, or failed (Create's writers only)
	err        error           // why a write or commit failed

	// Resumable uploads only (see upload.go).
	resumable bool
	full      int    // parts[:full] are confirmed full-size parts: what Persisted reports
	state     []byte // the encoded state for stateFull parts of upload stateUpID; nil until asked for
	stateFull int
	stateUpID string
}

// partResult is the outcome of one UploadPart.
type partResult struct {
	part types.CompletedPart
	buf  []byte
	err  error
}

// Write buffers p, uploading each part once it is full and more bytes
// follow. A failure aborts the upload; the writer is then finished.
func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.finished {
		return 0, fmt.Errorf("s3store: write %s: %w", w.key, errFinished)
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == w.size {
			if err := w.flush(); err != nil {
				return n, w.fail(err)
			}
		}
		c := min(len(p), w.size-len(w.buf))
		w.buf = grow(w.buf, c, w.size)
		w.buf = append(w.buf, p[:c]...)
		n += c
		p = p[c:]
	}
	return n, nil
}

// grow makes room for n more bytes in b without letting its capacity pass
// limit: small objects stay small, a full part is allocated once.
func grow(b []byte, n, limit int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	c := max(2*cap(b), len(b)+n, 64<<10)
	c = min(c, limit)
	nb := make([]byte, len(b), c)
	copy(nb, b)
	return nb
}

// flush sends the full buffer as the next part: it creates the multipart
// upload on the first part, waits for the previous part's upload (taking its
// buffer back as the next one to fill) and starts this part's upload.
func (w *writer) flush() error {
	if w.uploadID == "" {
		out, err := w.client.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{
			Bucket:             aws.String(w.bucket),
			Key:                aws.String(w.key),
			ContentType:        w.contentType,
			ContentDisposition: aws.String(w.disposition),
			Expires:            w.expires,
			ChecksumAlgorithm:  types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			return fmt.Errorf("create multipart upload: %w", err)
		}
		if out.UploadId == nil || *out.UploadId == "" {
			return errors.New("create multipart upload: no upload id in the response")
		}
		w.uploadID = *out.UploadId
	}
	if err := w.wait(); err != nil {
		return err
	}
	if err := w.startPart(); err != nil {
		return err
	}
	if w.spare == nil {
		// The first part: from now on every buffer is a full part.
		w.spare = make([]byte, 0, w.size)
	}
	w.buf, w.spare = w.spare[:0], nil
	return nil
}

// startPart starts uploading buf as the next part, in the background.
func (w *writer) startPart() error {
	num := len(w.parts) + 1
	if num > MaxParts {
		return fmt.Errorf("object needs more than %d parts of %d bytes", MaxParts, w.size)
	}
	ch := make(chan partResult, 1)
	w.inflight = ch
	go func(ctx context.Context, client API, in *s3.UploadPartInput, buf []byte) {
		out, err := client.UploadPart(ctx, in)
		r := partResult{buf: buf}
		switch {
		case err != nil:
			r.err = fmt.Errorf("upload part %d: %w", *in.PartNumber, err)
		case out.ETag == nil:
			r.err = fmt.Errorf("upload part %d: no ETag in the response", *in.PartNumber)
		default:
			r.part = types.CompletedPart{
				PartNumber:    in.PartNumber,
				ETag:          out.ETag,
				ChecksumCRC32: out.ChecksumCRC32,
			}
		}
		ch <- r
	}(w.ctx, w.client, &s3.UploadPartInput{
		Bucket:            aws.String(w.bucket),
		Key:               aws.String(w.key),
		UploadId:          aws.String(w.uploadID),
		PartNumber:        aws.Int32(int32(num)),
		Body:              bytes.NewReader(w.buf), // seekable: the SDK checksums it and can retry
		ContentLength:     aws.Int64(int64(len(w.buf))),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	}, w.buf)
	return nil
}

// wait waits for the part being uploaded, if any, records it and takes its
// buffer back as spare.
func (w *writer) wait() error {
	if w.inflight == nil {
		return nil
	}
	return w.record(<-w.inflight)
}

// record takes the outcome of the part that was in flight.
func (w *writer) record(r partResult) error {
	w.inflight = nil
	w.spare = r.buf[:0]
	if r.err != nil {
		return r.err
	}
	w.parts = append(w.parts, r.part)
	if len(r.buf) == w.size && w.full == len(w.parts)-1 {
		w.full++
	}
	return nil
}

// fail ends a writer whose write failed: it keeps the error for later
// calls and returns it. A Create writer is finished and its multipart upload
// aborted; a resumable upload's stays, resumable from its last Persisted
// state, until Abort.
func (w *writer) fail(err error) error {
	err = fmt.Errorf("s3store: write %s: %w", w.key, err)
	if w.resumable {
		_ = w.wait() // the part in flight is not persisted either way
		w.err = err
		w.buf, w.spare = nil, nil
		return err
	}
	w.finished = true
	if aerr := w.abortUpload(); aerr != nil {
		err = errors.Join(err, aerr)
	}
	w.err = err
	w.buf, w.spare = nil, nil
	return err
}

// abortUpload waits for the part in flight and aborts the multipart upload,
// if one was started, on a context that outlives the writer's.
func (w *writer) abortUpload() error {
	_ = w.wait() // the upload is being discarded; its error no longer matters
	if w.uploadID == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), abortTimeout)
	defer cancel()
	_, err := w.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(w.bucket),
		Key:      aws.String(w.key),
		UploadId: aws.String(w.uploadID),
	})
	if err != nil && !isNoSuchUpload(err) {
		return fmt.Errorf("s3store: abort multipart upload of %s: %w", w.key, err)
	}
	return nil
}

// isNoSuchUpload reports whether S3 says the upload is gone: already aborted
// (a retried abort whose first answer was lost) or completed. Either way
// nothing is pending, which is what an abort is for.
func isNoSuchUpload(err error) bool {
	var nsu *types.NoSuchUpload
	var api smithy.APIError
	return errors.As(err, &nsu) || (errors.As(err, &api) && api.ErrorCode() == "NoSuchUpload")
}

// Commit makes the object visible: a PutObject when it fits in one part,
// otherwise the last part and CompleteMultipartUpload. On failure the key
// keeps its previous content; a Create writer's multipart upload is
// aborted, a resumable upload's stays, resumable from its last Persisted
// state, until Abort.
func (w *writer) Commit() error {
	if w.err != nil {
		return w.err
	}
	if w.finished {
		return fmt.Errorf("s3store: commit %s: %w", w.key, errFinished)
	}
	err := w.commit()
	w.buf, w.spare = nil, nil
	if err == nil {
		w.finished = true
		return nil
	}
	w.err = fmt.Errorf("s3store: commit %s: %w", w.key, err)
	if w.resumable {
		return w.err
	}
	w.finished = true
	if aerr := w.abortUpload(); aerr != nil {
		w.err = errors.Join(w.err, aerr)
	}
	return w.err
}

func (w *writer) commit() error {
	if w.uploadID == "" {
		return w.putObject()
	}
	if err := w.wait(); err != nil {
		return err
	}
	if len(w.parts) == 0 && len(w.buf) == 0 {
		// A resumed upload that never got a part: S3 completes no upload
		// without one, so the empty object is a PutObject.
		if err := w.putObject(); err != nil {
			return err
		}
		// The object is in place; the upload is only litter now.
		_ = w.abortUpload()
		return nil
	}
	return w.completeUpload()
}

// putObject sends the buffer as the whole object.
func (w *writer) putObject() error {
	_, err := w.client.PutObject(w.ctx, &s3.PutObjectInput{
		Bucket:             aws.String(w.bucket),
		Key:                aws.String(w.key),
		Body:               bytes.NewReader(w.buf),
		ContentLength:      aws.Int64(int64(len(w.buf))),
		ContentType:        w.contentType,
		ContentDisposition: aws.String(w.disposition),
		Expires:            w.expires,
		ChecksumAlgorithm:  types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return fmt.Errorf("put object: %w", err)
	}
	return nil
}

// completeUpload uploads the last part and completes the multipart upload.
func (w *writer) completeUpload() error {
	if err := w.wait(); err != nil {
		return err
	}
	if len(w.buf) > 0 {
		if err := w.startPart(); err != nil {
			return err
		}
		if err := w.wait(); err != nil {
			return err
		}
	}
	_, err := w.client.CompleteMultipartUpload(w.ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(w.bucket),
		Key:             aws.String(w.key),
		UploadId:        aws.String(w.uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts},
	})
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	return nil
}

// Abort discards what was written: the multipart upload, if one was
// started (by this process or, for a resumed upload, another), is aborted,
// and nothing appears under the key. Aborting twice, after Commit, or after
// a Create writer's failed write or commit (which already aborted) does
// nothing, so "defer w.Abort()" is safe.
func (w *writer) Abort() error {
	if w.finished {
		return nil
	}
	w.finished = true
	w.buf = nil
	err := w.abortUpload()
	w.spare = nil
	return err
}

// Open reads an object; the error wraps chat.ErrNotFound when there is none
// (a missing bucket is a configuration error, not a missing object).
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("s3store: open: %w", err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if isNotFound(err) {
		return nil, fmt.Errorf("s3store: open %s: %w", key, chat.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("s3store: open %s: %w", key, err)
	}
	return out.Body, nil
}

// Delete removes an object. S3 answers a delete of a missing key with
// success; an emulator's 404 is taken the same way.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("s3store: delete: %w", err)
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("s3store: delete %s: %w", key, err)
	}
	return nil
}

// PresignGet returns a presigned GetObject URL valid for ttl (rounded up to
// a whole second, at most MaxPresignTTL), whose response carries
// Content-Disposition: attachment with fileName (sanitised; the key's last
// segment when empty). Only the host is signed, so a plain GET of the URL
// works. Like S3 presigning, it does not check that the object exists, and
// the URL dies with the credentials that signed it (SPEC §5: the link handed
// out is ours, and redirects to a fresh presigned URL).
func (s *Store) PresignGet(ctx context.Context, key, fileName string, ttl time.Duration) (string, error) {
	if err := checkKey(key); err != nil {
		return "", fmt.Errorf("s3store: presign: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("s3store: presign %s: %w", key, err)
	}
	if ttl <= 0 || ttl > MaxPresignTTL {
		return "", fmt.Errorf("s3store: presign %s: ttl %v is outside (0, %v]", key, ttl, MaxPresignTTL)
	}
	if rem := ttl % time.Second; rem != 0 {
		ttl += time.Second - rem
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket:                     aws.String(s.bucket),
		Key:                        aws.String(key),
		ResponseContentDisposition: aws.String(disposition(fileName, key)),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("s3store: presign %s: %w", key, err)
	}
	return req.URL, nil
}

// isNotFound reports whether err says the object does not exist: S3's
// NoSuchKey (GetObject) or NotFound (HEAD), or a bare 404 from an emulator,
// but not NoSuchBucket.
func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		case "NoSuchBucket":
			return false
		}
	}
	var status interface{ HTTPStatusCode() int }
	return errors.As(err, &status) && status.HTTPStatusCode() == 404
}

package s3store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/rooms-export/rooms-export/shared/export"
)

// StartUpload begins a resumable upload of key: it is written as Create
// writes (parts of PartSize uploaded while the next fills, a single
// PutObject for an object of at most one part), and Persisted reports the
// parts whose UploadPart has returned, with the state another process needs
// to continue the same multipart upload: its id and those parts' ETags and
// CRC32s. Unlike a Create writer, an upload whose Write or Commit fails (a
// cancelled context at the Lambda's deadline, S3 throttling past the SDK's
// retries) is not aborted: it stays resumable from its last Persisted state
// until Abort, which the caller makes when the job has failed for good.
func (s *Store) StartUpload(ctx context.Context, key string, info export.ObjectInfo) (export.Upload, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("s3store: start upload: %w", err)
	}
	size, err := s.partSize()
	if err != nil {
		return nil, fmt.Errorf("s3store: start upload %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3store: start upload %s: %w", key, err)
	}
	w := s.newWriter(ctx, key, info, size)
	w.resumable = true
	return w, nil
}

// ResumeUpload continues the upload a Persisted state describes, with the
// state's part size and the next part number; Commit completes the multipart
// upload with the parts of the state and those written since, and Abort
// aborts it. A state taken before the multipart upload was created starts
// afresh, as StartUpload does. Pass the info the upload was started with:
// it applies when the upload starts afresh (or, having no part yet, ends as
// a PutObject); a multipart upload keeps the headers it was created with.
//
// Resuming again from the same (or an older) state of a live upload is
// harmless: parts after the state's are uploaded again under the same
// numbers, which S3 replaces, and Commit lists only the parts this Upload
// knows. After Commit or Abort, S3 answers the first UploadPart or the
// completion with NoSuchUpload, so the resumed Upload fails instead of
// touching the object. ResumeUpload itself makes no request.
func (s *Store) ResumeUpload(ctx context.Context, key string, info export.ObjectInfo, state []byte) (export.Upload, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("s3store: resume upload: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3store: resume upload %s: %w", key, err)
	}
	st, err := decodeState(state, key)
	if err != nil {
		return nil, fmt.Errorf("s3store: resume upload %s: %w", key, err)
	}
	w := s.newWriter(ctx, key, info, st.PartSize)
	w.resumable = true
	w.uploadID = st.UploadID
	w.parts = st.parts
	w.full = len(st.parts)
	return w, nil
}

// Persisted returns how many bytes S3 has confirmed (the full parts whose
// UploadPart has returned; a part still in flight, the part being filled and
// the last, short part are not counted) and the state that resumes after
// them. It picks up the part in flight if its upload has ended, without
// waiting for it. The state is encoded again only when the count moves.
func (w *writer) Persisted() (int64, []byte) {
	if w.inflight != nil && w.err == nil && !w.finished {
		select {
		case r := <-w.inflight:
			if err := w.record(r); err != nil {
				// The next Write or Commit reports it; the upload stays
				// resumable from the parts confirmed before.
				w.err = fmt.Errorf("s3store: write %s: %w", w.key, err)
				w.buf, w.spare = nil, nil
			}
		default:
		}
	}
	if w.state == nil || w.stateFull != w.full || w.stateUpID != w.uploadID {
		w.state = encodeState(w.key, w.uploadID, w.size, w.parts[:w.full])
		w.stateFull, w.stateUpID = w.full, w.uploadID
	}
	return int64(w.full) * int64(w.size), w.state
}

// completedPart is the part numbered n as CompleteMultipartUpload takes it.
func completedPart(n int, etag string, crc *string) types.CompletedPart {
	return types.CompletedPart{PartNumber: aws.Int32(int32(n)), ETag: aws.String(etag), ChecksumCRC32: crc}
}

package workspace

import (
	"context"
	"errors"
	"fmt"

	"github.com/rooms-export/rooms-export/shared/export"
)

// BlobSink receives the bytes of uploaded files (what Rocket.Chat keeps in its
// upload storage: GridFS, a file system or S3), keyed by chat.Upload.StorageKey.
// Putting the same key twice replaces the bytes.
type BlobSink interface {
	PutBlob(ctx context.Context, key, contentType string, data []byte) error
}

// FileBlobs is a BlobSink that writes each blob as an object of a FileStore.
type FileBlobs struct {
	Files export.FileStore
}

var _ BlobSink = FileBlobs{}

// PutBlob stores data under key: Create, Write, Commit, so the object is
// visible only once complete. A failed write aborts the object.
func (b FileBlobs) PutBlob(ctx context.Context, key, contentType string, data []byte) error {
	if b.Files == nil {
		return fmt.Errorf("workspace: put blob %s: no file store", key)
	}
	w, err := b.Files.Create(ctx, key, export.ObjectInfo{ContentType: contentType})
	if err != nil {
		return fmt.Errorf("workspace: create blob %s: %w", key, err)
	}
	if _, err := w.Write(data); err != nil {
		return errors.Join(fmt.Errorf("workspace: write blob %s: %w", key, err), abort(w, key))
	}
	if err := w.Commit(); err != nil {
		return fmt.Errorf("workspace: commit blob %s: %w", key, err)
	}
	return nil
}

// abort discards a half-written object, reporting only a failure to do so.
func abort(w export.ObjectWriter, key string) error {
	if err := w.Abort(); err != nil {
		return fmt.Errorf("workspace: abort blob %s: %w", key, err)
	}
	return nil
}

package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// Record kinds of a seed file. A seed file is newline-delimited JSON, one
// record a line:
//
//	{"kind":"user","data":{"_id":"...","username":"..."}}
//	{"kind":"blob","key":"uploads/ID","contentType":"image/png","data":"<base64>"}
//
// data holds the chat record with Rocket.Chat's field names (the JSON tags of
// package chat), so a line can be written by hand from a Rocket.Chat database
// document; for a blob it holds the file's bytes (standard base64), so a seed
// file is self-contained.
const (
	KindUser         = "user"
	KindToken        = "token"
	KindPermission   = "permission"
	KindRoom         = "room"
	KindSubscription = "subscription"
	KindMessage      = "message"
	KindUpload       = "upload"
	KindBlob         = "blob"
)

// record is one line of a seed file as it is read: data is decoded once the
// kind is known.
type record struct {
	Kind        string          `json:"kind"`
	Key         string          `json:"key,omitempty"`
	ContentType string          `json:"contentType,omitempty"`
	Data        json.RawMessage `json:"data"`
}

// outRecord is one line of a seed file as it is written.
type outRecord struct {
	Kind        string `json:"kind"`
	Key         string `json:"key,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Data        any    `json:"data"`
}

// Encoder writes a seed file. It is a Sink, so anything that loads a store
// (the demo workspace, an import) can write a seed file instead, and a
// BlobSink, so file bytes travel in the same file.
//
// Each Put call writes its whole batch with one Write on the underlying
// writer; an Encoder does no buffering of its own and needs no Flush.
// An Encoder is not safe for concurrent use.
type Encoder struct {
	w   io.Writer
	buf bytes.Buffer
	enc *json.Encoder // writes into buf
}

// NewEncoder returns an Encoder that writes records to w. Text is written as
// is (no \u003c escapes for < > &), so a seed file stays readable.
func NewEncoder(w io.Writer) *Encoder {
	e := &Encoder{w: w}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}

var (
	_ Sink     = (*Encoder)(nil)
	_ BlobSink = (*Encoder)(nil)
)

// PutUsers writes one user record per user.
func (e *Encoder) PutUsers(ctx context.Context, users []chat.User) error {
	return encodeAll(ctx, e, KindUser, users)
}

// PutTokens writes one token record per token (hashes only: a Token never
// holds a plaintext token).
func (e *Encoder) PutTokens(ctx context.Context, tokens []chat.Token) error {
	return encodeAll(ctx, e, KindToken, tokens)
}

// PutPermissions writes one permission record per permission.
func (e *Encoder) PutPermissions(ctx context.Context, perms []chat.Permission) error {
	return encodeAll(ctx, e, KindPermission, perms)
}

// PutRooms writes one room record per room.
func (e *Encoder) PutRooms(ctx context.Context, rooms []chat.Room) error {
	return encodeAll(ctx, e, KindRoom, rooms)
}

// PutSubscriptions writes one subscription record per subscription.
func (e *Encoder) PutSubscriptions(ctx context.Context, subs []chat.Subscription) error {
	return encodeAll(ctx, e, KindSubscription, subs)
}

// PutMessages writes one message record per message, hidden edit-history
// copies included (they are part of the workspace; exports leave them out).
func (e *Encoder) PutMessages(ctx context.Context, msgs []chat.Message) error {
	return encodeAll(ctx, e, KindMessage, msgs)
}

// PutUploads writes one upload record per upload.
func (e *Encoder) PutUploads(ctx context.Context, uploads []chat.Upload) error {
	return encodeAll(ctx, e, KindUpload, uploads)
}

// PutBlob writes a blob record carrying a file's bytes under key.
func (e *Encoder) PutBlob(ctx context.Context, key, contentType string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("workspace: encode blob %s: %w", key, err)
	}
	if key == "" {
		return fmt.Errorf("workspace: encode blob: empty key")
	}
	if data == nil {
		data = []byte{} // an empty file, not a null
	}
	e.buf.Reset()
	// []byte marshals as standard base64 with padding.
	if err := e.enc.Encode(outRecord{Kind: KindBlob, Key: key, ContentType: contentType, Data: data}); err != nil {
		return fmt.Errorf("workspace: encode blob %s: %w", key, err)
	}
	if _, err := e.w.Write(e.buf.Bytes()); err != nil {
		return fmt.Errorf("workspace: write blob %s: %w", key, err)
	}
	return nil
}

// encodeAll writes one record of kind per item, as a single Write.
func encodeAll[T any](ctx context.Context, e *Encoder, kind string, items []T) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("workspace: encode %s records: %w", kind, err)
	}
	if len(items) == 0 {
		return nil
	}
	e.buf.Reset()
	for i := range items {
		if err := e.enc.Encode(outRecord{Kind: kind, Data: items[i]}); err != nil {
			return fmt.Errorf("workspace: encode %s record %d: %w", kind, i, err)
		}
	}
	if _, err := e.w.Write(e.buf.Bytes()); err != nil {
		return fmt.Errorf("workspace: write %d %s records: %w", len(items), kind, err)
	}
	return nil
}

package workspace

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// BatchSize is how many records of one kind Load hands a Sink per call.
const BatchSize = 500

// MaxLineBytes is the longest seed-file line Load accepts: a blob line holds
// its file base64-encoded, so this allows files of about 48 MiB.
const MaxLineBytes = 64 << 20

// LineError is a seed-file line Load could not use.
type LineError struct {
	Line int // 1-based
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("seed line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// Counts is how many records of each kind a load wrote.
type Counts struct {
	Users         int
	Tokens        int
	Permissions   int
	Rooms         int
	Subscriptions int
	Messages      int
	Uploads       int
	Blobs         int
	BlobBytes     int64
}

// String is a one-line summary, e.g. "3 users, 4 tokens, ..., 5 blobs (12.0 KiB)".
func (c Counts) String() string {
	return fmt.Sprintf("%d users, %d tokens, %d permissions, %d rooms, %d subscriptions, %d messages, %d uploads, %d blobs (%s)",
		c.Users, c.Tokens, c.Permissions, c.Rooms, c.Subscriptions, c.Messages, c.Uploads, c.Blobs, byteSize(c.BlobBytes))
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Load reads a seed file from r and writes its records into sink, and its
// blobs into files (Create, Write, Commit under the blob's key). It streams:
// records are handed to sink in batches of at most BatchSize per kind, and
// blobs are written as they are read, so memory does not grow with the file.
// What is left in the batches at the end is written in dependency order
// (users, tokens, permissions, rooms, subscriptions, uploads, messages).
//
// Blank lines are skipped; unknown fields inside data are ignored (a record
// copied from a Rocket.Chat document may carry more than we keep). A line that
// is not a valid record stops the load with a *LineError naming its line;
// batches already written stay written, which is harmless because Sink puts
// are upserts. An error from sink or files is returned wrapped as it came. files may be nil when the seed file holds no blobs.
// The returned Counts is what was written, also on error.
func Load(ctx context.Context, r io.Reader, sink Sink, files export.FileStore) (Counts, error) {
	l := newLoader(sink)
	if files != nil {
		l.blobs = FileBlobs{Files: files}
	}
	return l.run(ctx, r)
}

// batch collects records of one kind until BatchSize, then puts them.
type batch[T any] struct {
	items []T
	put   func(context.Context, []T) error
	count *int
}

func (b *batch[T]) add(ctx context.Context, v T) error {
	b.items = append(b.items, v)
	if len(b.items) >= BatchSize {
		return b.flush(ctx)
	}
	return nil
}

func (b *batch[T]) flush(ctx context.Context) error {
	if len(b.items) == 0 {
		return nil
	}
	if err := b.put(ctx, b.items); err != nil {
		return err
	}
	*b.count += len(b.items)
	b.items = nil // the sink may keep the slice it was given
	return nil
}

type loader struct {
	blobs  BlobSink
	counts Counts

	users   batch[chat.User]
	tokens  batch[chat.Token]
	perms   batch[chat.Permission]
	rooms   batch[chat.Room]
	subs    batch[chat.Subscription]
	uploads batch[chat.Upload]
	msgs    batch[chat.Message]
}

func newLoader(sink Sink) *loader {
	l := &loader{}
	l.users = batch[chat.User]{put: sink.PutUsers, count: &l.counts.Users}
	l.tokens = batch[chat.Token]{put: sink.PutTokens, count: &l.counts.Tokens}
	l.perms = batch[chat.Permission]{put: sink.PutPermissions, count: &l.counts.Permissions}
	l.rooms = batch[chat.Room]{put: sink.PutRooms, count: &l.counts.Rooms}
	l.subs = batch[chat.Subscription]{put: sink.PutSubscriptions, count: &l.counts.Subscriptions}
	l.uploads = batch[chat.Upload]{put: sink.PutUploads, count: &l.counts.Uploads}
	l.msgs = batch[chat.Message]{put: sink.PutMessages, count: &l.counts.Messages}
	return l
}

func (l *loader) run(ctx context.Context, r io.Reader) (Counts, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	line := 0
	for sc.Scan() {
		line++
		if err := ctx.Err(); err != nil {
			return l.counts, fmt.Errorf("workspace: load seed: %w", err)
		}
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		if err := l.record(ctx, text); err != nil {
			if bad, ok := err.(errBadLine); ok {
				err = &LineError{Line: line, Err: bad.error}
			}
			return l.counts, fmt.Errorf("workspace: load seed: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = &LineError{Line: line + 1, Err: fmt.Errorf("line longer than %d bytes", MaxLineBytes)}
		}
		return l.counts, fmt.Errorf("workspace: load seed: %w", err)
	}
	for _, flush := range []func(context.Context) error{
		l.users.flush, l.tokens.flush, l.perms.flush, l.rooms.flush,
		l.subs.flush, l.uploads.flush, l.msgs.flush,
	} {
		if err := flush(ctx); err != nil {
			return l.counts, fmt.Errorf("workspace: load seed: %w", err)
		}
	}
	return l.counts, nil
}

// record decodes one line and adds it to its batch (or writes its blob).
func (l *loader) record(ctx context.Context, text []byte) error {
	var rec record
	if err := json.Unmarshal(text, &rec); err != nil {
		return errBadLine{fmt.Errorf("not a JSON record: %w", err)}
	}
	if rec.Kind == "" {
		return errBadLine{errors.New(`record without "kind"`)}
	}
	if len(rec.Data) == 0 || string(rec.Data) == "null" {
		return errBadLine{fmt.Errorf("%s record without data", rec.Kind)}
	}
	switch rec.Kind {
	case KindUser:
		return add(ctx, &l.users, rec, func(u chat.User) error { return need("_id", u.ID, "username", u.Username) })
	case KindToken:
		return add(ctx, &l.tokens, rec, func(t chat.Token) error { return need("hashedToken", t.Hash, "userId", t.UserID) })
	case KindPermission:
		return add(ctx, &l.perms, rec, func(p chat.Permission) error { return need("_id", p.ID) })
	case KindRoom:
		return add(ctx, &l.rooms, rec, func(r chat.Room) error { return need("_id", r.ID, "t", r.Type) })
	case KindSubscription:
		return add(ctx, &l.subs, rec, func(s chat.Subscription) error { return need("rid", s.RoomID, "uid", s.UserID) })
	case KindMessage:
		return add(ctx, &l.msgs, rec, func(m chat.Message) error {
			if err := need("_id", m.ID, "rid", m.RoomID); err != nil {
				return err
			}
			if m.TS.IsZero() {
				return errors.New(`missing "ts"`)
			}
			return nil
		})
	case KindUpload:
		return add(ctx, &l.uploads, rec, func(u chat.Upload) error { return need("_id", u.ID, "storageKey", u.StorageKey) })
	case KindBlob:
		return l.blob(ctx, rec)
	}
	kind := rec.Kind
	if len(kind) > 40 {
		kind = kind[:40] + "…"
	}
	return errBadLine{fmt.Errorf("unknown kind %q", kind)}
}

// errBadLine marks an error in the line itself (as opposed to one from the
// sink or the file store while handling it).
type errBadLine struct{ error }

func (e errBadLine) Unwrap() error { return e.error }

// add decodes rec.Data into a T, checks it and adds it to b.
func add[T any](ctx context.Context, b *batch[T], rec record, check func(T) error) error {
	var v T
	if err := json.Unmarshal(rec.Data, &v); err != nil {
		return errBadLine{fmt.Errorf("%s record: %w", rec.Kind, err)}
	}
	if err := check(v); err != nil {
		return errBadLine{fmt.Errorf("%s record: %w", rec.Kind, err)}
	}
	return b.add(ctx, v)
}

func (l *loader) blob(ctx context.Context, rec record) error {
	if rec.Key == "" {
		return errBadLine{errors.New(`blob record without "key"`)}
	}
	var data []byte
	if err := json.Unmarshal(rec.Data, &data); err != nil {
		return errBadLine{fmt.Errorf("blob %s: data is not base64: %w", rec.Key, err)}
	}
	if l.blobs == nil {
		return errBadLine{fmt.Errorf("blob %s: no file store to write it to", rec.Key)}
	}
	if err := l.blobs.PutBlob(ctx, rec.Key, rec.ContentType, data); err != nil {
		return err
	}
	l.counts.Blobs++
	l.counts.BlobBytes += int64(len(data))
	return nil
}

// need names the fields, given as (name, value) pairs, whose value is empty.
func need(pairs ...string) error {
	var missing []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			missing = append(missing, `"`+pairs[i]+`"`)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return nil
}

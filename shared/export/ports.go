package export

import (
	"context"
	"io"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/mailmsg"
)

// The ports the service needs. Each backend (the embedded store, DynamoDB,
// S3, SES, ...) implements them; every "not found" is chat.ErrNotFound
// (possibly wrapped), never a nil record with a nil error.

// Directory answers who a caller is and what they may see.
type Directory interface {
	// UserByID returns the user with that _id.
	UserByID(ctx context.Context, id string) (chat.User, error)
	// UserByUsername returns the user with that username (exact match).
	UserByUsername(ctx context.Context, username string) (chat.User, error)
	// TokenByHash returns the token stored under base64(sha256(token)).
	TokenByHash(ctx context.Context, hash string) (chat.Token, error)
	// PermissionRoles returns the roles granted a permission; ErrNotFound
	// when the permission has no record (the service then applies its default).
	PermissionRoles(ctx context.Context, permission string) ([]string, error)
	// Room returns the room with that _id.
	Room(ctx context.Context, rid string) (chat.Room, error)
	// Subscription returns the user's subscription to the room.
	Subscription(ctx context.Context, rid, uid string) (chat.Subscription, error)
	// Upload returns an uploaded file's metadata.
	Upload(ctx context.Context, id string) (chat.Upload, error)
	// Uploads returns the metadata of those of ids that are uploads, keyed
	// by id: unknown ids are absent (not an error), duplicates are fine, and
	// no ids cost no request. The export's assets pass looks up a page of
	// files with one call instead of one Upload per file (issue 4).
	Uploads(ctx context.Context, ids []string) (map[string]chat.Upload, error)
}

// RecordReader is a Directory that reads several of its records in one
// call (DynamoDB: one BatchGetItem instead of a GetItem each). A request's
// reads that go out together (the token and the user, the permissions, the
// subscription and the room) then cost one request to the store instead
// of one each; a Directory without it is read a record at a time.
type RecordReader interface {
	// ReadRecords returns one result per key, in order: the record, or
	// its error (chat.ErrNotFound, possibly wrapped, when there is none).
	ReadRecords(ctx context.Context, keys []RecordKey) []RecordResult
}

// RecordKind is the kind of directory record a RecordKey names.
type RecordKind uint8

const (
	RecordUser         RecordKind = iota + 1 // ID: the user's _id
	RecordToken                              // ID: the token's hash (HashToken)
	RecordPermission                         // ID: the permission's _id
	RecordRoom                               // ID: the room's _id
	RecordSubscription                       // ID: the room's _id; User: the user's
)

// RecordKey names one directory record.
type RecordKey struct {
	Kind RecordKind
	ID   string
	User string // a subscription's user
}

// RecordResult is one record ReadRecords read: the field of its kind, or
// Err. A permission's result is its roles, as PermissionRoles returns them.
type RecordResult struct {
	User  chat.User
	Token chat.Token
	Roles []string
	Room  chat.Room
	Sub   chat.Subscription
	Err   error
}

// Cursor is a keyset position in a room's message order (ts, _id): a page
// starts strictly after it. The zero Cursor starts at the beginning.
type Cursor struct {
	TS time.Time `json:"ts"`
	ID string    `json:"id"`
}

// IsZero reports whether the cursor is the start of the range.
func (c Cursor) IsZero() bool { return c.ID == "" && c.TS.IsZero() }

// MessageQuery selects one page of a room's messages.
type MessageQuery struct {
	RoomID string
	From   time.Time // inclusive
	To     time.Time // inclusive
	After  Cursor    // exclusive; zero means from the start
	Limit  int       // page size, > 0
}

// MessageStore reads a room's messages by time range, page by page, in
// (ts, _id) order, without scans. Hidden edit-history copies are left out.
type MessageStore interface {
	// MessagePage returns up to q.Limit messages after q.After and whether
	// more may follow.
	MessagePage(ctx context.Context, q MessageQuery) (msgs []chat.Message, more bool, err error)
	// FileMessages is MessagePage restricted to the messages that carry
	// files (file or files): the export's assets pass reads only those, from
	// an index the store keeps, instead of the whole room again.
	FileMessages(ctx context.Context, q MessageQuery) (msgs []chat.Message, more bool, err error)
	// CountMessages estimates how many messages the range holds.
	CountMessages(ctx context.Context, rid string, from, to time.Time) (int64, error)
	// MessagesByID returns those of the ids that are messages of the room,
	// in (ts, _id) order; other ids are ignored.
	MessagesByID(ctx context.Context, rid string, ids []string) ([]chat.Message, error)
}

// JobStore keeps export jobs.
type JobStore interface {
	// CreateJob stores a new job; chat.ErrConflict if its id exists.
	CreateJob(ctx context.Context, job chat.Job) error
	// Job returns the job with that id.
	Job(ctx context.Context, id string) (chat.Job, error)
	// UpdateJob replaces a job, provided its UpdatedAt still equals
	// prevUpdatedAt (optimistic locking); chat.ErrConflict otherwise.
	UpdateJob(ctx context.Context, job chat.Job, prevUpdatedAt time.Time) error
	// ActiveJob returns the newest queued or running job created with that
	// dedup key, or chat.ErrNotFound.
	ActiveJob(ctx context.Context, ownerID, dedupKey string) (chat.Job, error)
}

// RateDecision is the outcome of one rate-limit check.
type RateDecision struct {
	Allowed   bool
	Limit     int
	Remaining int
	Reset     time.Time // when the current window ends
}

// RateLimiter counts calls per key in fixed windows, in shared storage (Lambda
// runs many copies, so process memory is not enough).
type RateLimiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (RateDecision, error)
}

// ObjectWriter receives an object as it is produced. Nothing is visible under
// the key until Commit succeeds; Abort discards what was written.
type ObjectWriter interface {
	io.Writer
	Commit() error
	Abort() error
}

// Upload is an ObjectWriter whose progress survives the process: a big
// export spans several worker invocations, and the next one continues the
// archive where the last checkpoint left it (issue 4) instead of starting
// over, as Rocket.Chat's single-process export would have to.
type Upload interface {
	ObjectWriter
	// Persisted returns how many bytes are durably stored and the opaque
	// state (JSON-serialisable bytes, small: at most a few KB per GB) that resumes the upload after them.
	Persisted() (n int64, state []byte)
}

// ObjectInfo describes an object being created.
type ObjectInfo struct {
	ContentType string
	FileName    string // offered to the downloader (Content-Disposition)
	Expires     time.Time
}

// FileStore holds export archives and uploaded files.
type FileStore interface {
	// Create starts writing an object under key.
	Create(ctx context.Context, key string, info ObjectInfo) (ObjectWriter, error)
	// StartUpload begins an object like Create, but its upload outlives this
	// process: Persisted tells how far it is durable and how to resume it.
	StartUpload(ctx context.Context, key string, info ObjectInfo) (Upload, error)
	// ResumeUpload reopens an upload from the state a Persisted call returned.
	// The returned Upload is positioned right after the persisted bytes: the
	// caller writes what follows them. Resuming twice from the same state, or
	// after Commit or Abort, must fail or be harmless — never corrupt the object.
	ResumeUpload(ctx context.Context, key string, info ObjectInfo, state []byte) (Upload, error)
	// Open reads an object; chat.ErrNotFound when it does not exist.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes an object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// PresignGet returns a URL that downloads the object until ttl passes.
	PresignGet(ctx context.Context, key, fileName string, ttl time.Duration) (string, error)
}

// Mail is one outgoing message, and MailAttachment a file attached to it.
// They are mailmsg's types, which build the RFC 5322 form and refuse header
// injection; every mailer (Maildir, SES) sends through mailmsg.
type (
	Mail           = mailmsg.Mail
	MailAttachment = mailmsg.Attachment
)

// Mailer sends mail (SES in AWS, a Maildir locally).
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// Dispatcher hands a job to background work (the worker Lambda in AWS, a
// goroutine locally). The worker calls Service.Run with the id.
type Dispatcher interface {
	Dispatch(ctx context.Context, jobID string) error
}

package chat

import "time"

// Job statuses, as the status endpoint reports them (SPEC §5).
const (
	JobQueued  = "queued"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// Delivery types of rooms.export.
const (
	DeliveryFile  = "file"
	DeliveryEmail = "email"
)

// Document formats.
const (
	FormatHTML = "html"
	FormatJSON = "json"
)

// Job is one export: what was asked, by whom, and how far it got. It is the
// record behind GET rooms.export.status and the unit of background work.
type Job struct {
	ID       string    `json:"id"`
	OwnerID  string    `json:"ownerId"`
	RoomID   string    `json:"rid"`
	Type     string    `json:"type"`   // DeliveryFile or DeliveryEmail
	Format   string    `json:"format"` // FormatHTML or FormatJSON
	From     time.Time `json:"from"`   // first instant, inclusive
	To       time.Time `json:"to"`     // last instant, inclusive
	TimeZone string    `json:"timezone"`
	DedupKey string    `json:"dedupKey,omitempty"` // identical requests by one user share it
	Request  []byte    `json:"request,omitempty"`  // the request body as received (JSON), for the manifest
	LinkBase string    `json:"linkBase,omitempty"` // public base URL the download link is built on
	// Background is set when the export was handed to background work; the
	// owner is then mailed the link when it is ready, as Rocket.Chat does.
	Background bool `json:"background,omitempty"`

	// Email delivery.
	Recipients []string `json:"recipients,omitempty"`
	Subject    string   `json:"subject,omitempty"`
	ReplyTo    string   `json:"replyTo,omitempty"`

	Status    string     `json:"status"`
	Exported  int64      `json:"exported"`
	Total     int64      `json:"total"` // estimate
	Bytes     int64      `json:"bytes"`
	Key       string     `json:"key,omitempty"`      // object key of the finished archive
	FileName  string     `json:"fileName,omitempty"` // archive name offered to the user
	Error     string     `json:"error,omitempty"`    // reason a user can read, when failed
	Attempts  int        `json:"attempts"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
	ExpiresAt time.Time  `json:"expiresAt"` // the archive and its link expire then
	DoneAt    *time.Time `json:"doneAt,omitempty"`

	// StartedAt is when the first run began: the export's time in its
	// header, entry times and file name, the same across resumed runs.
	StartedAt *time.Time `json:"startedAt,omitempty"`
	// Checkpoint names the saved state a resumed run goes on from ("" before
	// the first checkpoint and after the end).
	Checkpoint string `json:"checkpoint,omitempty"`
}

// Active reports whether the job is still queued or running.
func (j Job) Active() bool { return j.Status == JobQueued || j.Status == JobRunning }

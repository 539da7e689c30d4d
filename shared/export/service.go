// Package export is the rooms.export use case: authenticate the caller,
// authorise the room, read its messages for a date range, render them, and
// deliver the result as a ZIP behind a signed link or by mail. It owns the
// ports (ports.go) that the backends implement; it imports no SDK.
package export

import (
	"crypto/rand"
	"sync/atomic"
	"time"

	"github.com/rooms-export/rooms-export/shared/render"
	"github.com/rooms-export/rooms-export/shared/spare"
)

// Config holds the service's limits and defaults. Zero values are replaced
// by Rocket.Chat's defaults in WithDefaults.
type Config struct {
	TokenTTL        time.Duration // login tokens expire after this (Rocket.Chat: 90 days)
	RateLimit       int           // calls per window per user on rooms.export
	RateWindow      time.Duration
	LinkTTL         time.Duration // lifetime of a download link and of the archive
	PresignTTL      time.Duration // lifetime of the storage URL a link redirects to
	AttachmentLimit int64         // largest archive attached to a mail, bytes
	InlineBudget    time.Duration // how long the API works on an export before handing it over
	WorkerBudget    time.Duration // how long one background run works (0: until its context's deadline)
	DeadlineMargin  time.Duration // a run stops this long before its context's deadline
	CheckpointBytes int           // rendered bytes between checkpoints
	MaxRuns         int           // a job not done after this many runs fails
	PageSize        int           // messages read per store call
	StaleAfter      time.Duration // a running job not saved for this long is taken over
	HTMLPerPage     int           // messages per HTML page; bigger exports get pages and an index.html
	// AssetsAhead, for stores whose calls wait on the network
	// (RemoteAssetsAhead), saves the assets pass store calls: a run that
	// renders the whole document remembers its messages with files (up to
	// 1 MiB of them) and does not read the files index at all; otherwise
	// AssetsAhead pages of the index are read, with their upload records,
	// while the document is still being written. 0, right for the embedded
	// store, where the export is bound by CPU and both would only hold
	// memory, reads the index after the document.
	AssetsAhead int
	MailFrom    string // the From of every mail
}

// WithDefaults fills unset limits with the defaults of SPEC §2, §5, §6, §7.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.TokenTTL, 90*24*time.Hour)
	def(&c.RateWindow, 60*time.Second)
	def(&c.LinkTTL, 7*24*time.Hour)
	def(&c.PresignTTL, 5*time.Minute)
	def(&c.StaleAfter, 16*time.Minute) // longer than a Lambda can run
	if c.RateLimit <= 0 {
		c.RateLimit = 10
	}
	if c.AttachmentLimit <= 0 {
		c.AttachmentLimit = 10 << 20
	}
	def(&c.InlineBudget, 5*time.Second)
	def(&c.DeadlineMargin, 30*time.Second)
	if c.MaxRuns <= 0 {
		c.MaxRuns = 100
	}
	if c.CheckpointBytes <= 0 {
		c.CheckpointBytes = 4 << 20
	}
	if c.HTMLPerPage <= 0 {
		c.HTMLPerPage = render.DefaultPerPage
	}
	if c.PageSize <= 0 {
		c.PageSize = 500
	}
	if c.MailFrom == "" {
		c.MailFrom = "rooms-export@localhost"
	}
	return c
}

// Service runs exports. All fields are required except Now and NewID.
type Service struct {
	Directory  Directory
	Messages   MessageStore
	Jobs       JobStore
	Limiter    RateLimiter
	Files      FileStore
	Mailer     Mailer
	Dispatcher Dispatcher
	Links      LinkSigner
	Config     Config

	Now   func() time.Time // the one clock; time.Now when nil
	NewID func() string    // job ids; random 17-char Rocket.Chat-style ids when nil

	// Running, when set, counts the Export and Run calls under way (the
	// embedded default tunes its garbage collector by it).
	Running *atomic.Int64

	// chunks are the ZIP pipes' buffers of rendered output (pipeChunk
	// bytes), shared by the exports a process runs one after another: a
	// server of many small exports would otherwise allocate and clear
	// them anew for every one.
	chunks spare.Pool
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) newID() string {
	if s.NewID != nil {
		return s.NewID()
	}
	return RandomID(17)
}

const idAlphabet = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"

// RandomID returns n characters from crypto/rand in the alphabet Rocket.Chat's
// Random.id uses.
func RandomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

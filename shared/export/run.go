package export

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/render"
)

// ExportsPrefix is where archives are stored; the bucket's lifecycle rule
// expires objects under it.
const ExportsPrefix = "exports/"

// progressEvery is how many messages pass between progress saves.
const progressEvery = 5000

// Run performs one export job: it writes the archive to the file store as
// it is produced, then delivers it. It is what the worker calls for
// background jobs, and what Export calls inline for small ones. A job that is
// no longer queued (done, failed, or taken by another run) is left alone, so
// duplicate deliveries produce one export. A failed job ends "failed" with a
// reason the user can read, nothing half-written stays in storage, and the
// returned error carries the detail for the log.
func (s *Service) Run(ctx context.Context, jobID string) error {
	job, err := s.Jobs.Job(ctx, jobID)
	if err != nil {
		return fmt.Errorf("run %s: %w", jobID, err)
	}
	switch {
	case job.Status == chat.JobQueued:
	case job.Status == chat.JobRunning && s.now().Sub(job.UpdatedAt) > s.Config.StaleAfter:
		// A run that died (the Lambda time limit, a crash, a redeploy)
		// left it running: start it again.
	default:
		return nil
	}
	job.Status = chat.JobRunning
	job.Attempts++
	if err := s.save(ctx, &job); errors.Is(err, chat.ErrConflict) {
		return nil // another run took it
	} else if err != nil {
		return fmt.Errorf("run %s: %w", jobID, err)
	}
	if err := s.build(ctx, &job); err != nil {
		reason := "the export could not be written"
		var ce *chat.Error
		if errors.As(err, &ce) {
			reason = ce.Reason
		}
		s.fail(ctx, job.ID, reason)
		return fmt.Errorf("run %s: %w", jobID, err)
	}
	if err := s.deliver(ctx, job); err != nil {
		s.fail(ctx, job.ID, "the export was made but the mail could not be sent")
		return fmt.Errorf("run %s: deliver: %w", jobID, err)
	}
	now := s.now()
	job.Status, job.DoneAt = chat.JobDone, &now
	if err := s.save(ctx, &job); err != nil {
		return fmt.Errorf("run %s: finish: %w", jobID, err)
	}
	return nil
}

// save writes the job with optimistic locking and advances UpdatedAt.
func (s *Service) save(ctx context.Context, job *chat.Job) error {
	prev := job.UpdatedAt
	job.UpdatedAt = s.now()
	if !job.UpdatedAt.After(prev) {
		job.UpdatedAt = prev.Add(time.Microsecond)
	}
	if err := s.Jobs.UpdateJob(ctx, *job, prev); err != nil {
		job.UpdatedAt = prev
		return err
	}
	return nil
}

// fail marks a job failed with a reason a user can read and tells the owner
// when the job ran in the background. It is best effort: it runs on paths
// that already have an error to report.
func (s *Service) fail(ctx context.Context, jobID, reason string) {
	ctx = context.WithoutCancel(ctx)
	for range 3 {
		job, err := s.Jobs.Job(ctx, jobID)
		if err != nil || !job.Active() {
			return // gone, or already ended with its own outcome
		}
		job.Status, job.Error = chat.JobFailed, reason
		if err := s.save(ctx, &job); errors.Is(err, chat.ErrConflict) {
			continue
		}
		if job.Background {
			s.notify(ctx, job, "Your export failed", "Your export of this room failed: "+reason+".\nPlease try again or ask your administrator.")
		}
		return
	}
}

// notify mails the owner of a background job, as Rocket.Chat does when an
// export is ready. Best effort: the status endpoint has the same news.
func (s *Service) notify(ctx context.Context, job chat.Job, subject, text string) {
	owner, err := s.Directory.UserByID(ctx, job.OwnerID)
	if err != nil || firstEmail(owner) == "" {
		return
	}
	_ = s.Mailer.Send(ctx, Mail{From: s.Config.MailFrom, To: []string{firstEmail(owner)}, Subject: subject, Text: text})
}

// deliver sends an email export (the ZIP attached when it is under the
// limit, the link otherwise), or tells the owner of a background file export
// that it is ready.
func (s *Service) deliver(ctx context.Context, job chat.Job) error {
	link := s.Links.Link(job.LinkBase, job.ID, job.ExpiresAt)
	expires := job.ExpiresAt.UTC().Format("2006-01-02 15:04 MST")
	if job.Type == chat.DeliveryFile {
		if job.Background {
			s.notify(ctx, job, "Your export is ready", fmt.Sprintf("Your export %s is ready (%d messages).\n\nDownload it until %s:\n%s\n", job.FileName, job.Exported, expires, link))
		}
		return nil
	}
	m := Mail{From: s.Config.MailFrom, To: job.Recipients, ReplyTo: job.ReplyTo, Subject: job.Subject}
	if job.Bytes <= s.Config.AttachmentLimit {
		rc, err := s.Files.Open(ctx, job.Key)
		if err != nil {
			return fmt.Errorf("open archive: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, s.Config.AttachmentLimit+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		m.Text = fmt.Sprintf("The export of the room is attached: %s (%d messages).\n", job.FileName, job.Exported)
		m.Attachments = []MailAttachment{{Name: job.FileName, ContentType: "application/zip", Data: data}}
	} else {
		m.Text = fmt.Sprintf("The export of the room is ready: %s (%d messages, %d bytes).\n\nDownload it until %s:\n%s\n", job.FileName, job.Exported, job.Bytes, expires, link)
	}
	return s.Mailer.Send(ctx, m)
}

// build writes the archive of SPEC §5 to the file store as it is produced:
// the document, the assets its messages reference, and manifest.json. The
// object becomes visible only when everything was written.
func (s *Service) build(ctx context.Context, job *chat.Job) (err error) {
	room, err := s.Directory.Room(ctx, job.RoomID)
	if err != nil {
		return fmt.Errorf("room %s: %w", job.RoomID, err)
	}
	owner, err := s.Directory.UserByID(ctx, job.OwnerID)
	if err != nil {
		return fmt.Errorf("owner %s: %w", job.OwnerID, err)
	}
	loc, err := time.LoadLocation(job.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	exportedAt := s.now()
	job.FileName = archiveName(exportedAt, owner, job)
	job.Key = ExportsPrefix + job.ID + "/" + job.FileName
	ow, err := s.Files.Create(ctx, job.Key, ObjectInfo{ContentType: "application/zip", FileName: job.FileName, Expires: job.ExpiresAt})
	if err != nil {
		return fmt.Errorf("create %s: %w", job.Key, err)
	}
	committed := false
	defer func() {
		if !committed {
			ow.Abort()
		}
	}()
	counted := &countingWriter{w: ow}
	buf := bufio.NewWriterSize(counted, 256<<10)
	a := &archive{zw: zip.NewWriter(buf), modified: exportedAt, skipped: []manifestSkip{}}

	// The document: one JSON entry, or the HTML page (pages and an
	// index.html when the room is big), each page an entry of its own.
	var doc render.Document
	if job.Format == chat.FormatJSON {
		w, err := a.create(documentName(room, job.Format), true)
		if err != nil {
			return err
		}
		doc = render.NewJSON(w)
	} else {
		doc = render.NewHTMLBook(func(name string) (io.Writer, error) { return a.create(name, true) }, render.BookOptions{
			PerPage:  s.Config.HTMLPerPage,
			BaseName: chat.SafeName(room.ID, "room"),
			Options:  render.Options{Parents: s.threadParent(ctx, room.ID)},
		})
	}
	hdr := render.Header{Room: room, From: job.From, To: job.To, Location: loc, ExportedAt: exportedAt, ExportedBy: owner.DisplayName(), Total: job.Total}
	if err := doc.Begin(hdr); err != nil {
		return err
	}
	var count, withFiles int64
	err = s.eachMessage(ctx, job.RoomID, job.From, job.To, func(m chat.Message) error {
		if err := doc.Message(m); err != nil {
			return err
		}
		count++
		if len(m.AllFiles()) > 0 {
			withFiles++
		}
		if count%progressEvery == 0 {
			job.Exported = count
			if err := s.save(ctx, job); err != nil {
				return fmt.Errorf("save progress: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := doc.End(count); err != nil {
		return err
	}
	a.close()

	// The assets: a second pass over the same range, so that nothing about
	// the room is held in memory between the passes.
	if withFiles > 0 {
		written := map[string]bool{}
		err = s.eachMessage(ctx, job.RoomID, job.From, job.To, func(m chat.Message) error {
			for _, f := range m.AllFiles() {
				if written[f.ID] {
					continue
				}
				written[f.ID] = true
				if err := s.writeAsset(ctx, a, f); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}

	// The manifest, then the archive is complete.
	man := manifest{
		Version: 1, ExportID: job.ID, Request: json.RawMessage(job.Request),
		Room: manifestRoom{ID: room.ID, Name: room.DisplayName(), Type: room.Type},
		From: job.From.UTC().Format(time.RFC3339Nano), To: job.To.UTC().Format(time.RFC3339Nano),
		TimeZone: loc.String(), Format: job.Format, ExportedAt: exportedAt.Format(time.RFC3339Nano),
		ExportedBy: owner.Username, Messages: count, Assets: a.assets, Entries: a.entries, SkippedCount: a.nskipped, Skipped: a.skipped,
	}
	if len(man.Request) == 0 {
		man.Request = json.RawMessage("null")
	}
	mw, err := a.create("manifest.json", true)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(mw)
	enc.SetIndent("", "  ")
	if err := enc.Encode(man); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := a.zw.Close(); err != nil {
		return fmt.Errorf("close zip: %w", err)
	}
	if err := buf.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", job.Key, err)
	}
	if err := ow.Commit(); err != nil {
		return fmt.Errorf("commit %s: %w", job.Key, err)
	}
	committed = true
	job.Exported, job.Bytes = count, counted.n
	return nil
}

// threadParent looks up a thread parent for the HTML document, which links
// a reply to the page holding its parent or quotes a parent from outside
// the exported range (render.Options.Parents).
func (s *Service) threadParent(ctx context.Context, rid string) func(id string) (chat.Message, error) {
	return func(id string) (chat.Message, error) {
		msgs, err := s.Messages.MessagesByID(ctx, rid, []string{id})
		if err != nil {
			return chat.Message{}, fmt.Errorf("thread parent %s: %w", id, err)
		}
		if len(msgs) == 0 {
			return chat.Message{}, fmt.Errorf("thread parent %s: %w", id, chat.ErrNotFound)
		}
		return msgs[0], nil
	}
}

// writeAsset copies one uploaded file into assets/. A file whose record or
// bytes are gone is listed in the manifest's skipped items, not an error.
func (s *Service) writeAsset(ctx context.Context, a *archive, f chat.FileRef) error {
	up, err := s.Directory.Upload(ctx, f.ID)
	if errors.Is(err, chat.ErrNotFound) {
		a.skip(f, "upload record not found")
		return nil
	}
	if err != nil {
		return fmt.Errorf("upload %s: %w", f.ID, err)
	}
	rc, err := s.Files.Open(ctx, up.StorageKey)
	if errors.Is(err, chat.ErrNotFound) {
		a.skip(f, "file content not found")
		return nil
	}
	if err != nil {
		return fmt.Errorf("open upload %s: %w", f.ID, err)
	}
	defer rc.Close()
	w, err := a.create(chat.AssetPath(f), compressible(up.Type))
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, rc); err != nil {
		return fmt.Errorf("copy upload %s: %w", f.ID, err)
	}
	a.close()
	a.assets++
	return nil
}

// eachMessage is the one page iterator: it walks a room's range in
// (ts, _id) order, one store page at a time.
func (s *Service) eachMessage(ctx context.Context, rid string, from, to time.Time, fn func(chat.Message) error) error {
	q := MessageQuery{RoomID: rid, From: from, To: to, Limit: s.Config.PageSize}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, more, err := s.Messages.MessagePage(ctx, q)
		if err != nil {
			return fmt.Errorf("read messages of %s: %w", rid, err)
		}
		for _, m := range page {
			if err := fn(m); err != nil {
				return err
			}
		}
		if !more || len(page) == 0 {
			return nil
		}
		last := page[len(page)-1]
		q.After = Cursor{TS: last.TS, ID: last.ID}
	}
}

// archiveName is Rocket.Chat's: <YYYY-MM-DD>-<user name>[-data]-<random id>.zip.
func archiveName(now time.Time, owner chat.User, job *chat.Job) string {
	name := now.UTC().Format(time.DateOnly) + "-" + chat.SafeName(owner.Username, owner.ID)
	if job.Format == chat.FormatJSON {
		name += "-data"
	}
	return name + "-" + job.ID + ".zip"
}

// documentName is Rocket.Chat's: <rid>.html, or <room name>.json (<rid>.json
// for direct messages, which have no name).
func documentName(room chat.Room, format string) string {
	if format != chat.FormatJSON {
		return chat.SafeName(room.ID, "room") + ".html"
	}
	if room.Type == chat.RoomDirect || room.Name == "" {
		return chat.SafeName(room.ID, "room") + ".json"
	}
	return chat.SafeName(room.Name, room.ID) + ".json"
}

func compressible(contentType string) bool {
	switch {
	case strings.HasPrefix(contentType, "image/") && contentType != "image/svg+xml",
		strings.HasPrefix(contentType, "video/"), strings.HasPrefix(contentType, "audio/"),
		contentType == "application/zip", contentType == "application/gzip", contentType == "application/pdf":
		return false
	}
	return true
}

// archive writes ZIP entries and records their size and SHA-256 for the manifest.
type archive struct {
	zw       *zip.Writer
	modified time.Time
	cur      *manifestEntry
	h        hash.Hash
	n        *countingWriter
	entries  []manifestEntry
	skipped  []manifestSkip
	nskipped int
	assets   int
}

func (a *archive) create(name string, deflate bool) (io.Writer, error) {
	a.close()
	method := zip.Store
	if deflate {
		method = zip.Deflate
	}
	w, err := a.zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: a.modified})
	if err != nil {
		return nil, fmt.Errorf("zip entry %s: %w", name, err)
	}
	a.cur, a.h = &manifestEntry{Name: name}, sha256.New()
	a.n = &countingWriter{w: io.MultiWriter(w, a.h)}
	return a.n, nil
}

// close finishes the bookkeeping of the current entry.
func (a *archive) close() {
	if a.cur == nil {
		return
	}
	a.cur.Size, a.cur.SHA256 = a.n.n, hex.EncodeToString(a.h.Sum(nil))
	a.entries = append(a.entries, *a.cur)
	a.cur = nil
}

// maxSkipped bounds the manifest's list of skipped items; the count goes on.
const maxSkipped = 1000

func (a *archive) skip(f chat.FileRef, reason string) {
	a.nskipped++
	if len(a.skipped) < maxSkipped {
		a.skipped = append(a.skipped, manifestSkip{FileID: f.ID, Name: f.Name, Reason: reason})
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// manifest is manifest.json: what was asked, what the archive holds.
type manifest struct {
	Version    int             `json:"version"`
	ExportID   string          `json:"exportId"`
	Request    json.RawMessage `json:"request"`
	Room       manifestRoom    `json:"room"`
	From       string          `json:"from"`
	To         string          `json:"to"`
	TimeZone   string          `json:"timezone"`
	Format     string          `json:"format"`
	ExportedAt string          `json:"exportedAt"`
	ExportedBy string          `json:"exportedBy"`
	Messages   int64           `json:"messages"`
	Assets     int             `json:"assets"`
	Entries    []manifestEntry `json:"entries"`
	// SkippedCount counts files that could not be included; Skipped lists
	// the first maxSkipped of them with the reason.
	SkippedCount int            `json:"skippedCount"`
	Skipped      []manifestSkip `json:"skipped"`
}

type manifestRoom struct {
	ID   string `json:"_id"`
	Name string `json:"name"`
	Type string `json:"t"`
}

type manifestEntry struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

type manifestSkip struct {
	FileID string `json:"fileId"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

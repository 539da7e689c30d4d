package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// ExportsPrefix is where archives are stored; the bucket's lifecycle rule
// expires objects under it.
const ExportsPrefix = "exports/"

// Progress saves: every progressEvery messages the exporter saves the job's
// count, unless it saved it less than progressInterval ago. The status
// document then moves about once a second however fast the export runs, and
// a fast one does not spend a store write (a PutItem on DynamoDB) on every
// few thousand messages.
const (
	progressEvery    = 5000
	progressInterval = time.Second
)

// Run performs one export job in the background (the worker, the local
// runner): it writes the archive to the file store as it is produced, then
// delivers it. It stops before the context's deadline (less
// Config.DeadlineMargin) or after Config.WorkerBudget, leaving a checkpoint
// and handing the rest to another run. A job that is no longer queued
// (done, failed, or taken by another run) is left alone, so duplicate
// deliveries produce one export. A failed job ends "failed" with a reason
// the user can read, nothing half-written stays in storage, and the
// returned error carries the detail for the log.
func (s *Service) Run(ctx context.Context, jobID string) error {
	if r := s.Running; r != nil {
		r.Add(1)
		defer r.Add(-1)
	}
	deadline := time.Time{}
	if s.Config.WorkerBudget > 0 {
		deadline = s.now().Add(s.Config.WorkerBudget)
	}
	if dl, ok := ctx.Deadline(); ok {
		if dl = dl.Add(-s.Config.DeadlineMargin); deadline.IsZero() || dl.Before(deadline) {
			deadline = dl
		}
	}
	return s.run(ctx, jobID, deadline)
}

// run performs a job until it is done or the deadline (zero: none) passes.
func (s *Service) run(ctx context.Context, jobID string, deadline time.Time) error {
	job, err := s.Jobs.Job(ctx, jobID)
	if err != nil {
		return fmt.Errorf("run %s: %w", jobID, err)
	}
	switch {
	case job.Status == chat.JobQueued:
	case job.Status == chat.JobRunning && s.now().Sub(job.UpdatedAt) > s.Config.StaleAfter:
		// A run that died (the Lambda time limit, a crash, a redeploy)
		// left it running: go on from its checkpoint.
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
	return s.execute(ctx, &job, deadline, nil)
}

// known is what a run may start with instead of reading it: the room and
// the owner, as the request that created the job read them.
type known struct {
	room  chat.Room
	owner chat.User
	first *firstPage // the document's first page, read with the request
}

// firstPage is a page read before the job started (Service.start).
type firstPage struct {
	msgs []chat.Message
	more bool
	// uploads, when not nil, waits for the upload records of msgs' files,
	// looked up as soon as the page was read.
	uploads func() (map[string]uploadResult, error)
	fetched *requestFetches // the first of those files, read ahead; nil: none
}

// execute performs a job this run has claimed (status running, saved); k,
// when not nil, holds the job's room and owner.
func (s *Service) execute(ctx context.Context, jp *chat.Job, deadline time.Time, k *known) error {
	job, jobID := *jp, jp.ID
	defer func() { *jp = job }()
	if job.Attempts > s.Config.MaxRuns {
		// Runs that never get far enough to save a checkpoint would hand
		// the same work over for ever.
		s.discard(ctx, &job)
		s.fail(ctx, job.ID, "the export did not finish")
		return fmt.Errorf("run %s: gave up after %d runs", jobID, job.Attempts-1)
	}
	err := s.build(ctx, &job, deadline, k)
	switch {
	case errors.Is(err, errLost):
		return nil
	case errors.Is(err, errBudget):
		return s.handOver(ctx, &job)
	case err != nil:
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

// discard removes what an abandoned job left in storage: its upload and
// its checkpoint. Best effort.
func (s *Service) discard(ctx context.Context, job *chat.Job) {
	e := &exporter{s: s, job: job}
	if cp, err := e.loadCheckpoint(ctx); err == nil {
		if up, err := s.Files.ResumeUpload(ctx, job.Key, e.info(), cp.Upload); err == nil {
			up.Abort()
		}
	}
	e.dropCheckpoint(ctx)
}

// handOver queues a job whose run ran out of time and dispatches the next
// run, which goes on from the checkpoint. The owner will be mailed the link.
func (s *Service) handOver(ctx context.Context, job *chat.Job) error {
	job.Status, job.Background = chat.JobQueued, true
	if err := s.save(ctx, job); errors.Is(err, chat.ErrConflict) {
		return nil
	} else if err != nil {
		return fmt.Errorf("run %s: hand over: %w", job.ID, err)
	}
	if err := s.Dispatcher.Dispatch(ctx, job.ID); err != nil {
		s.fail(ctx, job.ID, "the export could not be continued in the background")
		return fmt.Errorf("run %s: dispatch: %w", job.ID, err)
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

// threadParent looks up a thread parent for the HTML document, which links
// a reply to the page holding its parent or quotes a parent from outside
// the exported range (render.Options.Parents). It takes what ahead (nil:
// none) looked up ahead, when it has it, and asks the store otherwise.
func (s *Service) threadParent(ctx context.Context, rid string, ahead *threadParents) func(id string) (chat.Message, error) {
	return func(id string) (chat.Message, error) {
		if m, found, ok := ahead.take(id); ok {
			if !found {
				return chat.Message{}, fmt.Errorf("thread parent %s: %w", id, chat.ErrNotFound)
			}
			return m, nil
		}
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

// eachMessage is the one page iterator: it walks a room's range in
// (ts, _id) order after a cursor, one store page at a time, with read
// (the store's MessagePage or FileMessages). Pages are read ahead on a
// goroutine of their own while fn works through the current one, so store
// latency, what read does beside reading, and rendering overlap.
func (s *Service) eachMessage(ctx context.Context, read func(context.Context, MessageQuery) ([]chat.Message, bool, error), rid string, from, to time.Time, after Cursor, fn func(chat.Message) error) error {
	return s.eachPage(ctx, read, nil, rid, from, to, after, nil, fn)
}

type pageResult struct {
	msgs     []chat.Message
	more     bool
	err      error
	prepared any // what prep returned for msgs
}

// pagesAhead is how many pages the reader may have read that fn has not
// started: enough that reading never waits for a short stall downstream,
// few enough that memory stays a few pages.
const pagesAhead = 2

// eachPage is eachMessage with two more steps for each page: prep, when
// not nil, runs on a goroutine of its own between the reader and fn (work
// done ahead, such as rendering: render.Preparer), and page, when not nil,
// sees each page before its messages, on the caller's goroutine.
func (s *Service) eachPage(ctx context.Context, read func(context.Context, MessageQuery) ([]chat.Message, bool, error), prep func([]chat.Message), rid string, from, to time.Time, after Cursor, page func([]chat.Message) error, fn func(chat.Message) error) error {
	var p func([]chat.Message) any
	if prep != nil {
		p = func(msgs []chat.Message) any { prep(msgs); return nil }
	}
	var pg func([]chat.Message, any) error
	if page != nil {
		pg = func(msgs []chat.Message, _ any) error { return page(msgs) }
	}
	st := s.streamPages(ctx, read, p, rid, from, to, after, pagesAhead)
	defer st.stop()
	return st.walk(pg, fn)
}

// pageStream is a walk's reading, started by streamPages: pages read ahead
// (and prepared) on goroutines of their own until walk takes them.
type pageStream struct {
	ctx    context.Context
	cancel context.CancelFunc
	rid    string
	pages  <-chan pageResult
	wg     sync.WaitGroup // the reader and the preparer
}

// streamPages starts reading a room's range after a cursor with read, up
// to ahead pages before they are taken, each then given to prep (when not
// nil) on a second goroutine; what prep returns travels with the page to
// walk. It may start long before walk, so that the reading of one pass
// overlaps the work of another; stop ends it. Reads run under ctx, not
// under the stream's own context: stop lets a read in flight end rather
// than abort it (an aborted request is wasted work for the store, and
// takes dynalite down), and starts no other.
func (s *Service) streamPages(ctx context.Context, read func(context.Context, MessageQuery) ([]chat.Message, bool, error), prep func([]chat.Message) any, rid string, from, to time.Time, after Cursor, ahead int) *pageStream {
	readCtx := ctx
	ctx, cancel := context.WithCancel(ctx)
	send := func(ch chan<- pageResult, r pageResult) bool {
		select {
		case ch <- r:
			return true
		case <-ctx.Done():
			return false
		}
	}
	st := &pageStream{ctx: ctx, cancel: cancel, rid: rid}
	fetched := make(chan pageResult, ahead)
	st.wg.Go(func() {
		defer close(fetched)
		q := MessageQuery{RoomID: rid, From: from, To: to, After: after, Limit: s.Config.PageSize}
		for ctx.Err() == nil {
			msgs, more, err := read(readCtx, q)
			if !send(fetched, pageResult{msgs: msgs, more: more, err: err}) || err != nil || !more || len(msgs) == 0 {
				return
			}
			last := msgs[len(msgs)-1]
			q.After = Cursor{TS: last.TS, ID: last.ID}
		}
	})
	st.pages = fetched
	if prep != nil {
		prepared := make(chan pageResult, 1)
		st.pages = prepared
		st.wg.Go(func() {
			defer close(prepared)
			for r := range fetched {
				if r.err == nil {
					r.prepared = prep(r.msgs)
				}
				if !send(prepared, r) {
					return
				}
			}
		})
	}
	return st
}

// stop ends the reading and waits for its goroutines: once it returns,
// nothing calls read or prep any more (they may touch the caller's state,
// as a document's first page and its thread parents do). A read in flight
// and a page being prepared are finished first. The stream must not be
// walked afterwards.
func (st *pageStream) stop() {
	st.cancel()
	st.wg.Wait()
}

// walk hands the stream's pages, with what prep returned for them, to page
// and their messages to fn, in order, until the range ends, fn or page
// fails, or the context ends.
func (st *pageStream) walk(page func([]chat.Message, any) error, fn func(chat.Message) error) error {
	for r := range st.pages {
		if r.err != nil {
			return fmt.Errorf("read messages of %s: %w", st.rid, r.err)
		}
		if err := st.ctx.Err(); err != nil {
			return err
		}
		if page != nil {
			if err := page(r.msgs, r.prepared); err != nil {
				return err
			}
		}
		for _, m := range r.msgs {
			if err := fn(m); err != nil {
				return err
			}
		}
	}
	return st.ctx.Err()
}

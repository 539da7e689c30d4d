package export

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/render"
	"github.com/rooms-export/rooms-export/shared/zipstream"
)

// Checkpoints. A big export runs across several invocations (the API's
// inline budget, then worker runs of at most a Lambda's lifetime), so the
// archive is written in a way that can stop and go on byte for byte:
//
//   - after every CheckpointBytes of rendered output (at the next message
//     boundary; an HTML document where one of its pages begins, see
//     docSnapshotDue) the ZIP writer restarts its compressor and the
//     renderer's and writer's state are snapshotted — at points fixed by
//     the output itself, so an export that stops produces the same bytes
//     as one that never did;
//   - the upload persists in parts; when a part is durable, the newest
//     snapshot it covers is saved (with the upload's state) as the job's
//     checkpoint, so a stop loses at most a part of work;
//   - the next run resumes the upload, regenerates from the snapshot and
//     skips the bytes the upload already holds.
//
// Rocket.Chat has no counterpart: its export runs in one process and is lost
// with it.

// CheckpointsPrefix is where checkpoints are kept in the file store.
const CheckpointsPrefix = "checkpoints/"

const (
	phaseDocument = "document"
	phaseAssets   = "assets"
)

// errBudget stops a run whose time is up; errLost stops one whose job was
// taken by another run. Neither is a failure of the export.
var (
	errBudget = errors.New("budget spent")
	errLost   = errors.New("job taken by another run")
)

// checkpoint is a snapshot of a running export.
type checkpoint struct {
	Version   int             `json:"version"`
	Phase     string          `json:"phase"`
	After     Cursor          `json:"after"`     // the last message done in this phase
	Count     int64           `json:"count"`     // messages rendered
	WithFiles int64           `json:"withFiles"` // of which carry files
	In        int64           `json:"in"`        // rendered bytes written into the archive
	Zip       zipstream.State `json:"zip"`
	Doc       json.RawMessage `json:"doc,omitempty"`
	Assets    int             `json:"assets"`
	Skipped   []manifestSkip  `json:"skipped"`
	NSkipped  int             `json:"skippedCount"`
	Upload    []byte          `json:"upload,omitempty"`
	Persisted int64           `json:"persisted"`
}

// exporter is one run of an export.
type exporter struct {
	s        *Service
	job      *chat.Job
	room     chat.Room
	owner    chat.User
	loc      *time.Location
	at       time.Time // the export's time: header, entry times, file name
	deadline time.Time

	up      Upload
	pipe    *zipPipe // the ZIP writer, in a goroutine of its own
	doc     render.Document
	cp      checkpoint    // the live position and counters
	pending []pendingSnap // snapshots not yet covered by durable bytes
	saved   int64         // durable bytes at the last saved checkpoint
	snapIn  int64         // pipe.in at the last snapshot
	// opened is set when the document opens an entry (an HTML page) and
	// cleared after each message: whether that message began a page.
	opened bool

	parents *threadParents // the HTML document's thread parents looked up ahead; nil: none

	ahead *pageStream // the files index read during the document pass
	seen  seenFiles   // the document pass's messages with files
	first *firstPage  // the document's first page, when the request read it
	// uploads waits for the upload records the request looked up for
	// the first page's files; nil when it did not.
	uploads func() (map[string]uploadResult, error)
	fetched *requestFetches // files the request read ahead; nil: none
	reads   *assetReads     // the assets pass's files
}

// pendingSnap is a snapshot waiting for the upload's durable bytes to
// cover it. The document's state stays a render snapshot, which shares
// most of its memory with the live document, until the checkpoint is
// saved: an HTML book's encoded state lists the ids of its current page
// (hundreds of KB), and a part's worth of snapshots can be pending.
type pendingSnap struct {
	cp  checkpoint
	doc json.Marshaler // encoded into cp.Doc when saved; nil between documents
}

func (e *exporter) info() ObjectInfo {
	return ObjectInfo{ContentType: "application/zip", FileName: e.job.FileName, Expires: e.job.ExpiresAt}
}

// build writes the archive of SPEC §5 to the file store as it is produced —
// the document, the assets its messages reference, manifest.json — starting
// from the job's checkpoint when it has one. It returns errBudget when the
// deadline came first (the checkpoint then holds what is durable), errLost
// when another run took the job, nil when the object is complete.
func (s *Service) build(ctx context.Context, job *chat.Job, deadline time.Time, k *known) (err error) {
	e := &exporter{s: s, job: job, deadline: deadline, parents: s.newThreadParents(*job)}
	if k != nil {
		e.room, e.owner, e.first = k.room, k.owner, k.first
		if k.first != nil {
			e.uploads, e.fetched = k.first.uploads, k.first.fetched
		}
	}
	e.reads = &assetReads{ctx: ctx, s: s, request: e.fetched}
	if s.Config.AssetsAhead > 0 {
		e.reads.n = fetchesAhead
	}
	defer e.reads.close()
	if k == nil {
		if e.room, err = s.Directory.Room(ctx, job.RoomID); err != nil {
			return fmt.Errorf("room %s: %w", job.RoomID, err)
		}
		if e.owner, err = s.Directory.UserByID(ctx, job.OwnerID); err != nil {
			return fmt.Errorf("owner %s: %w", job.OwnerID, err)
		}
	}
	if e.loc, err = time.LoadLocation(job.TimeZone); err != nil {
		e.loc = time.UTC
	}
	if job.StartedAt == nil {
		at := s.now()
		job.StartedAt = &at
		job.FileName = archiveName(at, e.owner, job)
		job.Key = ExportsPrefix + job.ID + "/" + job.FileName
	}
	e.at = *job.StartedAt

	defer func() {
		if e.pipe != nil {
			e.pipe.stop()
		}
		switch {
		case err == nil, errors.Is(err, errLost):
			// Done, or another run owns the upload now.
		case errors.Is(err, errBudget) && job.Checkpoint != "":
			// The upload stays for the next run.
		default:
			if e.up != nil {
				e.up.Abort()
			}
			e.dropCheckpoint(ctx)
		}
	}()
	if err := e.open(ctx); err != nil {
		return err
	}
	defer func() {
		if e.ahead != nil {
			e.ahead.stop()
		}
		if e.seen.lookups != nil {
			e.seen.lookups.close(false)
		}
	}()
	if e.cp.Phase == phaseDocument {
		if s.Config.AssetsAhead > 0 {
			if e.cp.After.IsZero() {
				// the whole document in this run: its files may be
				// remembered, and the index read only if they do not fit
				e.seen.on = true
			} else {
				e.ahead = e.readAssets(ctx, Cursor{}, s.Config.AssetsAhead)
			}
		}
		if err := e.document(ctx); err != nil {
			return err
		}
	}
	if e.seen.on {
		err = e.seenAssets(ctx)
	} else {
		err = e.assets(ctx, e.ahead)
	}
	if err != nil {
		return err
	}
	if err := e.finish(); err != nil {
		return err
	}
	e.dropCheckpoint(ctx)
	return nil
}

// open starts the upload and the archive, or resumes both from the job's
// checkpoint.
func (e *exporter) open(ctx context.Context) error {
	hdr := e.header()
	if e.job.Checkpoint != "" {
		cp, err := e.loadCheckpoint(ctx)
		if err == nil {
			err = e.resume(ctx, cp, hdr)
		}
		if err == nil {
			return nil
		}
		// A checkpoint that cannot be used costs the work it saved, not
		// the export: start over.
		e.dropCheckpoint(ctx)
	}
	up, err := e.s.Files.StartUpload(ctx, e.job.Key, e.info())
	if err != nil {
		return fmt.Errorf("start upload %s: %w", e.job.Key, err)
	}
	e.up = up
	e.pipe = newZipPipe(zipstream.NewWriter(up, zipstream.Options{}), up, &e.s.chunks)
	e.cp = checkpoint{Version: 1, Phase: phaseDocument, Skipped: []manifestSkip{}}
	if e.job.Format == chat.FormatJSON {
		if err := e.pipe.Create(documentName(e.room, e.job.Format), zip.Deflate, e.at); err != nil {
			return err
		}
		e.doc = render.NewJSON(e.pipe)
	} else {
		e.doc = render.NewHTMLBook(e.openEntry, e.bookOptions(ctx))
	}
	return e.doc.Begin(hdr)
}

func (e *exporter) resume(ctx context.Context, cp checkpoint, hdr render.Header) error {
	up, err := e.s.Files.ResumeUpload(ctx, e.job.Key, e.info(), cp.Upload)
	if err != nil {
		return fmt.Errorf("resume upload: %w", err)
	}
	skip := cp.Persisted - cp.Zip.Offset
	if skip < 0 {
		up.Abort()
		return fmt.Errorf("checkpoint at %d is past the durable %d bytes", cp.Zip.Offset, cp.Persisted)
	}
	zw, err := zipstream.Resume(&skipWriter{skip: skip, w: up}, cp.Zip, zipstream.Options{})
	if err != nil {
		up.Abort()
		return fmt.Errorf("resume archive: %w", err)
	}
	e.up, e.pipe, e.cp, e.saved = up, newZipPipe(zw, up, &e.s.chunks), cp, cp.Persisted
	e.pipe.in, e.snapIn = cp.In, cp.In
	e.cp.Upload, e.cp.Persisted = nil, 0
	if cp.Phase != phaseDocument {
		return nil
	}
	if e.job.Format == chat.FormatJSON {
		e.doc, err = render.ResumeJSON(e.pipe, cp.Doc)
	} else {
		e.doc, err = render.ResumeHTMLBook(e.openEntry, e.bookOptions(ctx), hdr, e.pipe, cp.Doc)
	}
	return err
}

func (e *exporter) header() render.Header {
	return render.Header{Room: e.room, From: e.job.From, To: e.job.To, Location: e.loc,
		ExportedAt: e.at, ExportedBy: e.owner.DisplayName(), Total: e.job.Total}
}

func (e *exporter) bookOptions(ctx context.Context) render.BookOptions {
	return render.BookOptions{
		PerPage:  e.s.Config.HTMLPerPage,
		BaseName: chat.SafeName(e.room.ID, "room"),
		Options:  render.Options{Parents: e.s.threadParent(ctx, e.room.ID, e.parents)},
	}
}

func (e *exporter) openEntry(name string) (io.Writer, error) {
	if err := e.pipe.Create(name, zip.Deflate, e.at); err != nil {
		return nil, err
	}
	e.opened = true
	return e.pipe, nil
}

// due reports whether enough output has been rendered since the last
// snapshot for the next one.
func (e *exporter) due() bool {
	return e.pipe.in-e.snapIn >= int64(e.s.Config.CheckpointBytes)
}

// docSnapshotDue is due for the document pass, after each message. An
// HTML document is snapshotted where one of its pages begins (after the
// page's first message) once half of CheckpointBytes has been rendered
// since the last snapshot, and elsewhere only past twice CheckpointBytes
// (a page of long messages, or a single page). Why: a snapshot holds the
// ids seen on its page (render.Snapshotter), and the exporter keeps it
// until the upload's durable bytes cover it — up to a part of output,
// some eight pages of a big book. Taken mid-page, every pending snapshot
// kept a page's whole id array alive after the document had moved on
// (1.5 MB of a million-message export's heap, a MiB and more of its peak
// RSS); taken where a page begins, it holds one id. Where snapshots fall
// depends only on the output, so a resumed run takes them where the
// original did; they are at most twice as far apart as before, still a
// fraction of an upload part.
func (e *exporter) docSnapshotDue() bool {
	opened := e.opened
	e.opened = false
	if e.job.Format == chat.FormatJSON {
		return e.due()
	}
	n, c := e.pipe.in-e.snapIn, int64(e.s.Config.CheckpointBytes)
	if opened {
		return n >= c/2
	}
	return n >= 2*c
}

// document renders the messages after the checkpoint's cursor. A document
// that can render ahead (render.Preparer) does so on the goroutine that
// reads the next page.
func (e *exporter) document(ctx context.Context) error {
	var prep func([]chat.Message)
	if p, ok := e.doc.(render.Preparer); ok {
		prep = p.Prepare
	}
	read := e.s.Messages.MessagePage
	if first := e.first; first != nil && e.cp.After.IsZero() {
		e.first = nil
		read = func(ctx context.Context, q MessageQuery) ([]chat.Message, bool, error) {
			if first != nil && q.After.IsZero() {
				p := first
				first = nil
				return p.msgs, p.more, nil
			}
			return e.s.Messages.MessagePage(ctx, q)
		}
	}
	e.opened = false // the entry Begin opened is no message's
	err := e.s.eachDocumentPage(ctx, e.parents, read, prep, e.job.RoomID, e.job.From, e.job.To, e.cp.After, func(m chat.Message) error {
		if err := e.doc.Message(m); err != nil {
			return err
		}
		e.cp.Count++
		if files := m.AllFiles(); len(files) > 0 {
			e.cp.WithFiles++
			e.seeFiles(ctx, m, files)
		}
		e.cp.After = Cursor{TS: m.TS, ID: m.ID}
		if e.docSnapshotDue() {
			return e.checkpoint(ctx, true)
		}
		if e.cp.Count%progressEvery == 0 && e.s.now().Sub(e.job.UpdatedAt) >= progressInterval {
			return e.progress(ctx)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := e.doc.End(e.cp.Count); err != nil {
		return err
	}
	e.job.Exported = e.cp.Count
	e.cp.Phase, e.cp.After, e.cp.Doc = phaseAssets, Cursor{}, nil
	if e.cp.WithFiles == 0 {
		// Only the manifest follows: a checkpoint here would save little
		// and cost a compressor restart (WithFiles is the same in every
		// run, so runs still agree byte for byte). Out of budget, the next
		// run goes on from the last checkpoint.
		if !e.deadline.IsZero() && e.s.now().After(e.deadline) {
			return errBudget
		}
		return nil
	}
	return e.checkpoint(ctx, false)
}

// RemoteAssetsAhead is the Config.AssetsAhead of a service whose store
// calls wait on the network (DynamoDB): enough pages of the files index
// read during the document pass that most of the assets pass's reading
// overlaps the document's.
const RemoteAssetsAhead = 4

// readAssets starts reading the files index after a cursor, up to ahead
// pages before they are taken, each page with the upload records of its
// files, looked up in one call by the goroutine that prepares the pages.
func (e *exporter) readAssets(ctx context.Context, after Cursor, ahead int) *pageStream {
	lookup := func(msgs []chat.Message) any { return e.lookupUploads(ctx, msgs) }
	return e.s.streamPages(ctx, e.s.Messages.FileMessages, lookup, e.job.RoomID, e.job.From, e.job.To, after, ahead)
}

// assets copies the uploaded files of the exported messages into assets/:
// a second pass, over the store's index of messages with files, so nothing
// of the room is held in memory and the rest of it is not read again. ahead,
// when not nil, is the reading of the index started with the document
// pass; otherwise it starts here, after the checkpoint's cursor.
func (e *exporter) assets(ctx context.Context, ahead *pageStream) error {
	if e.cp.WithFiles == 0 {
		return nil
	}
	pages := ahead
	if pages == nil {
		pages = e.readAssets(ctx, e.cp.After, pagesAhead)
		defer pages.stop()
	}
	var uploads map[string]uploadResult
	looked := func(msgs []chat.Message, prepared any) error {
		uploads = prepared.(map[string]uploadResult)
		for _, m := range msgs {
			e.reads.planFiles(m.AllFiles(), uploads)
		}
		return nil
	}
	return pages.walk(looked, func(m chat.Message) error {
		return e.messageAssets(ctx, Cursor{TS: m.TS, ID: m.ID}, m.AllFiles(), uploads)
	})
}

// messageAssets writes the files of the message at cursor at, each once,
// and checkpoints when one is due.
func (e *exporter) messageAssets(ctx context.Context, at Cursor, files []chat.FileRef, uploads map[string]uploadResult) error {
	if len(files) == 0 {
		return nil
	}
	seen := map[string]bool{}
	for _, f := range files {
		if seen[f.ID] {
			continue
		}
		seen[f.ID] = true
		if err := e.writeAsset(f, uploads[f.ID]); err != nil {
			return err
		}
	}
	e.cp.After = at
	if e.due() {
		return e.checkpoint(ctx, false)
	}
	return nil
}

// seenFiles are the document pass's messages with files, remembered (for a
// store whose reads are round trips: Config.AssetsAhead) so that the assets
// pass need not read the files index: a small export then sends no Query
// for it, a big one fewer. Their upload records are looked up on a
// goroutine of their own while the document is still being written, a
// page's worth of files at a time. Only a run that renders the whole
// document remembers them, and only up to maxSeenFiles bytes: past that
// they are dropped and the index is read as before, ahead of the assets
// pass. The index holds the same messages in the same (ts, _id) order, so
// the archive is the same byte for byte either way.
type seenFiles struct {
	on      bool
	size    int
	msgs    []seenMessage
	lookups *seenLookups
}

type seenMessage struct {
	at    Cursor
	files []chat.FileRef
}

// maxSeenFiles bounds what seenFiles holds, with the upload records looked
// up: some eight thousand messages with a file each.
const maxSeenFiles = 4 << 20

// seeFiles remembers a message's files while they fit.
func (e *exporter) seeFiles(ctx context.Context, m chat.Message, files []chat.FileRef) {
	k := &e.seen
	if !k.on {
		return
	}
	k.size += 64 + len(m.ID)
	for _, f := range files {
		// the reference, and an estimate of its upload record
		k.size += 56 + len(f.ID) + len(f.Name) + len(f.Type) + 256 + len(f.ID) + len(f.Name) + len(f.Type)
	}
	if k.size > maxSeenFiles {
		if k.lookups != nil {
			k.lookups.close(false)
		}
		*k = seenFiles{}
		e.ahead = e.readAssets(ctx, Cursor{}, e.s.Config.AssetsAhead)
		return
	}
	k.msgs = append(k.msgs, seenMessage{at: Cursor{TS: m.TS, ID: m.ID}, files: files})
	if k.lookups == nil {
		k.lookups = e.startLookups(ctx)
	}
	k.lookups.add(files)
}

// seenAssets is the assets pass over the remembered messages, with the
// upload records looked up for them.
func (e *exporter) seenAssets(ctx context.Context) error {
	k := e.seen
	if len(k.msgs) == 0 {
		return nil
	}
	uploads := k.lookups.close(true)
	for _, m := range k.msgs {
		e.reads.planFiles(m.files, uploads)
	}
	for _, m := range k.msgs {
		if err := e.messageAssets(ctx, m.at, m.files, uploads); err != nil {
			return err
		}
	}
	return nil
}

// seenLookups looks up the upload records of the remembered files on a
// goroutine of its own, in batches of a page of files (one store call
// each), in the order the files were seen.
type seenLookups struct {
	mu      sync.Mutex
	wake    *sync.Cond
	ids     []string // files not yet taken for a lookup
	closed  bool     // no more files come
	dropped bool     // the lookups are no longer wanted
	found   map[string]uploadResult
	done    chan struct{}
}

func (e *exporter) startLookups(ctx context.Context) *seenLookups {
	l := &seenLookups{found: map[string]uploadResult{}, done: make(chan struct{})}
	l.wake = sync.NewCond(&l.mu)
	batch := e.s.Config.PageSize
	go func() {
		defer close(l.done)
		for {
			l.mu.Lock()
			for !l.closed && len(l.ids) < batch {
				l.wake.Wait()
			}
			ids := l.ids
			if len(ids) > batch {
				ids = ids[:batch]
			}
			l.ids = l.ids[len(ids):]
			stop := l.dropped || len(ids) == 0
			l.mu.Unlock()
			if stop {
				return
			}
			found := e.lookupIDs(ctx, ids)
			l.mu.Lock()
			maps.Copy(l.found, found)
			l.mu.Unlock()
		}
	}()
	return l
}

// add queues files for lookup.
func (l *seenLookups) add(files []chat.FileRef) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range files {
		l.ids = append(l.ids, f.ID)
	}
	l.wake.Signal()
}

// close says no more files come. Kept, it waits for the last lookups and
// returns every record looked up; otherwise the lookups stop after the one
// under way (without cutting it short) and nothing is returned.
func (l *seenLookups) close(keep bool) map[string]uploadResult {
	l.mu.Lock()
	l.closed, l.dropped = true, !keep
	l.wake.Signal()
	l.mu.Unlock()
	if !keep {
		return nil
	}
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.found
}

// uploadResult is the lookup of one file's upload record: the record, or
// the error that writeAsset reports (chat.ErrNotFound: skipped).
type uploadResult struct {
	up  chat.Upload
	err error
}

// lookupUploads reads the upload records of a page's files in one call to
// the directory (one read transaction, or BatchGetItem calls of 100 keys),
// not one per file. A failed lookup is every file's error: the first file
// the page writes fails the export with it.
func (e *exporter) lookupUploads(ctx context.Context, page []chat.Message) map[string]uploadResult {
	return e.lookupIDs(ctx, fileIDs(page))
}

// fileIDs lists the upload ids of a page's files, in order.
func fileIDs(page []chat.Message) []string {
	var ids []string
	for _, m := range page {
		for _, f := range m.AllFiles() {
			ids = append(ids, f.ID)
		}
	}
	return ids
}

// lookupIDs reads the upload records of ids (repeats allowed) in one call,
// but for those the request looked up already (firstPage.uploads).
func (e *exporter) lookupIDs(ctx context.Context, ids []string) map[string]uploadResult {
	var known map[string]uploadResult
	if e.uploads != nil {
		known, _ = e.uploads()
	}
	return e.s.lookupIDs(ctx, ids, known)
}

// lookupIDs reads the upload records of ids (repeats allowed) in one call.
// Those in known with an answer (found or not found) are taken from it.
func (s *Service) lookupIDs(ctx context.Context, all []string, known map[string]uploadResult) map[string]uploadResult {
	var ids []string
	out := make(map[string]uploadResult, len(all))
	for _, id := range all {
		if _, dup := out[id]; dup {
			continue
		}
		if r, ok := known[id]; ok && (r.err == nil || errors.Is(r.err, chat.ErrNotFound)) {
			out[id] = r
			continue
		}
		out[id] = uploadResult{}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return out
	}
	found, err := s.Directory.Uploads(ctx, ids)
	for _, id := range ids {
		r := uploadResult{err: err}
		if err == nil {
			up, ok := found[id]
			r = uploadResult{up: up}
			if !ok {
				r.err = chat.ErrNotFound
			}
		}
		out[id] = r
	}
	return out
}

// writeAsset copies one uploaded file into assets/. A file whose record or
// bytes are gone is listed in the manifest's skipped items, not an error.
func (e *exporter) writeAsset(f chat.FileRef, r uploadResult) error {
	up, err := r.up, r.err
	if errors.Is(err, chat.ErrNotFound) {
		e.skip(f, "upload record not found")
		return nil
	}
	if err != nil {
		return fmt.Errorf("upload %s: %w", f.ID, err)
	}
	rc, err := e.reads.open(up.StorageKey)
	if errors.Is(err, chat.ErrNotFound) {
		e.skip(f, "file content not found")
		return nil
	}
	if err != nil {
		return fmt.Errorf("open upload %s: %w", f.ID, err)
	}
	defer rc.Close()
	method := zip.Store
	if compressible(up.Type) {
		method = zip.Deflate
	}
	if err := e.pipe.Create(chat.AssetPath(f), method, e.at); err != nil {
		return err
	}
	if _, err := io.Copy(e.pipe, rc); err != nil {
		return fmt.Errorf("copy upload %s: %w", f.ID, err)
	}
	e.cp.Assets++
	return nil
}

func (e *exporter) skip(f chat.FileRef, reason string) {
	e.cp.NSkipped++
	if len(e.cp.Skipped) < maxSkipped {
		e.cp.Skipped = append(e.cp.Skipped, manifestSkip{FileID: f.ID, Name: f.Name, Reason: reason})
	}
}

// finish writes manifest.json, ends the archive and commits the upload.
func (e *exporter) finish() error {
	job := e.job
	// Creating the manifest's entry ends the last one: Entries then lists
	// every entry before the manifest.
	if err := e.pipe.Create("manifest.json", zip.Deflate, e.at); err != nil {
		return err
	}
	done := e.pipe.barrier(false)
	if done.err != nil {
		return fmt.Errorf("write archive: %w", done.err)
	}
	man := manifest{
		Version: 1, ExportID: job.ID, Request: json.RawMessage(job.Request),
		Room: manifestRoom{ID: e.room.ID, Name: e.room.DisplayName(), Type: e.room.Type},
		From: job.From.UTC().Format(time.RFC3339Nano), To: job.To.UTC().Format(time.RFC3339Nano),
		TimeZone: e.loc.String(), Format: job.Format, Schema: render.MessageSchemaID,
		ExportedAt: e.at.UTC().Format(time.RFC3339Nano), ExportedBy: e.owner.Username,
		Messages: e.cp.Count, Assets: e.cp.Assets, SkippedCount: e.cp.NSkipped, Skipped: e.cp.Skipped,
		Entries: []manifestEntry{},
	}
	if job.Format != chat.FormatJSON {
		man.Schema = ""
	}
	if len(man.Request) == 0 {
		man.Request = json.RawMessage("null")
	}
	if man.Skipped == nil {
		man.Skipped = []manifestSkip{}
	}
	for _, en := range done.entries {
		man.Entries = append(man.Entries, manifestEntry{Name: en.Name, Size: en.Size, SHA256: en.SHA256})
	}
	enc := json.NewEncoder(e.pipe)
	enc.SetIndent("", "  ")
	if err := enc.Encode(man); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	closed := e.pipe.close()
	if closed.err != nil {
		return fmt.Errorf("close archive: %w", closed.err)
	}
	if err := e.up.Commit(); err != nil {
		return fmt.Errorf("commit %s: %w", job.Key, err)
	}
	job.Exported, job.Bytes = e.cp.Count, closed.written
	return nil
}

// checkpoint takes a snapshot at this point of the document (withDoc) or
// between documents, saves the newest snapshot the durable bytes cover, and
// stops the run when its time is up.
func (e *exporter) checkpoint(ctx context.Context, withDoc bool) error {
	snap := e.cp
	r := e.pipe.barrier(true)
	if r.err != nil {
		return fmt.Errorf("checkpoint archive: %w", r.err)
	}
	e.snapIn = e.pipe.in
	snap.Zip, snap.In = r.state, e.pipe.in
	var err error
	snap.Skipped = append([]manifestSkip{}, e.cp.Skipped...)
	p := pendingSnap{cp: snap}
	if withDoc {
		ds, ok := e.doc.(render.Snapshotter)
		if !ok {
			return errors.New("checkpoint: the document cannot be snapshotted")
		}
		if p.doc, err = ds.Snapshot(); err != nil {
			return fmt.Errorf("checkpoint document: %w", err)
		}
	}
	e.pending = append(e.pending, p)
	if err := e.persist(ctx, r.persisted, r.upload); err != nil {
		return err
	}
	if !e.deadline.IsZero() && e.s.now().After(e.deadline) {
		return errBudget
	}
	return nil
}

// persist saves, as the job's checkpoint, the newest pending snapshot that
// the upload's durable bytes cover, when they have grown.
func (e *exporter) persist(ctx context.Context, n int64, state []byte) error {
	if n <= e.saved {
		return nil
	}
	best := -1
	for i, p := range e.pending {
		if p.cp.Zip.Offset <= n {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	cp, doc := e.pending[best].cp, e.pending[best].doc
	// Drop the saved snapshot and the older ones it supersedes, without
	// leaving them reachable in the slice's array.
	rest := copy(e.pending, e.pending[best+1:])
	clear(e.pending[rest:])
	e.pending = e.pending[:rest]
	if doc != nil {
		var err error
		if cp.Doc, err = doc.MarshalJSON(); err != nil {
			return fmt.Errorf("checkpoint document: %w", err)
		}
	}
	cp.Upload, cp.Persisted = state, n
	if err := e.saveCheckpoint(ctx, cp); err != nil {
		return err
	}
	e.saved = n
	e.job.Exported = cp.Count
	return e.progress(ctx)
}

// progress saves the job's counters; losing the job stops the run.
func (e *exporter) progress(ctx context.Context) error {
	if e.cp.Phase == phaseDocument && e.cp.Count > e.job.Exported {
		e.job.Exported = e.cp.Count
	}
	err := e.s.save(ctx, e.job)
	if errors.Is(err, chat.ErrConflict) {
		return errLost
	}
	if err != nil {
		return fmt.Errorf("save progress: %w", err)
	}
	return nil
}

func (e *exporter) checkpointKey() string { return CheckpointsPrefix + e.job.ID + ".json" }

func (e *exporter) saveCheckpoint(ctx context.Context, cp checkpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	w, err := e.s.Files.Create(ctx, e.checkpointKey(), ObjectInfo{ContentType: "application/json", FileName: "checkpoint.json", Expires: e.job.ExpiresAt})
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		w.Abort()
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if err := w.Commit(); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	e.job.Checkpoint = e.checkpointKey()
	return nil
}

func (e *exporter) loadCheckpoint(ctx context.Context) (checkpoint, error) {
	var cp checkpoint
	rc, err := e.s.Files.Open(ctx, e.job.Checkpoint)
	if err != nil {
		return cp, fmt.Errorf("open checkpoint: %w", err)
	}
	defer rc.Close()
	if err := json.NewDecoder(rc).Decode(&cp); err != nil {
		return cp, fmt.Errorf("read checkpoint: %w", err)
	}
	if cp.Version != 1 || (cp.Phase != phaseDocument && cp.Phase != phaseAssets) {
		return cp, fmt.Errorf("checkpoint version %d phase %q unknown", cp.Version, cp.Phase)
	}
	return cp, nil
}

func (e *exporter) dropCheckpoint(ctx context.Context) {
	if e.job.Checkpoint != "" {
		_ = e.s.Files.Delete(context.WithoutCancel(ctx), e.job.Checkpoint)
		e.job.Checkpoint = ""
	}
}

// skipWriter drops the first skip bytes: on resume, the archive is
// regenerated from a snapshot that may lie before the durable end of the
// upload, and those bytes are already stored.
type skipWriter struct {
	skip int64
	w    io.Writer
}

func (s *skipWriter) Write(p []byte) (int, error) {
	n := len(p)
	if s.skip > 0 {
		if int64(len(p)) <= s.skip {
			s.skip -= int64(len(p))
			return n, nil
		}
		p = p[s.skip:]
		s.skip = 0
	}
	if _, err := s.w.Write(p); err != nil {
		return 0, err
	}
	return n, nil
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

// maxSkipped bounds the manifest's list of skipped items; the count goes on.
const maxSkipped = 1000

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
	Schema     string          `json:"schema,omitempty"` // JSON: the schema every line follows
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

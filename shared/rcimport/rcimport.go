// Package rcimport imports a Rocket.Chat workspace from a MongoDB dump —
// mongodump's BSON files or mongoexport's Extended JSON (canonical or
// relaxed, one document a line or a JSON array) — into any store that
// implements workspace.Sink, and the bytes of uploaded files into a
// workspace.BlobSink.
//
// It reads the collections an export needs (users with their login tokens,
// rocketchat_roles, rocketchat_permissions, rocketchat_room,
// rocketchat_subscription, rocketchat_uploads and the GridFS bucket
// rocketchat_uploads.files/.chunks, rocketchat_message) and maps each
// document to the chat types with Rocket.Chat's field meanings (SPEC §8).
// Login tokens keep the hash Rocket.Chat stores, so existing
// X-User-Id/X-Auth-Token pairs go on working; no plaintext token is ever
// read or written.
//
// An import streams: documents are read one at a time, records go to the
// sink in batches (Options.BatchSize), GridFS files are reassembled in a
// temporary directory rather than in memory, so memory does not grow with
// the dump. Sink puts are upserts, so running an import again leaves the
// store as one run does. A document that cannot be used (a missing id, a
// field of the wrong type, bytes that are not BSON or Extended JSON) is
// reported with its collection and position and skipped, whole; it never
// stops the import. Only a failing sink, a failing file system or a
// cancelled context do.
package rcimport

import (
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// Defaults of Options.
const (
	DefaultMaxFileBytes  = 1 << 30
	DefaultProgressEvery = 250 * time.Millisecond
)

// Options tune Import. Sink is required unless DryRun is set.
type Options struct {
	// Sink receives the records.
	Sink workspace.Sink
	// Blobs receives the bytes of uploaded files, under each upload's
	// StorageKey. When nil, bytes found in the dump are counted in
	// FileReport.NoTarget and not copied. A Blobs that implements
	// BlobStreamer, or is a workspace.FileBlobs, receives each file as a
	// stream; any other gets it in memory (at most MaxFileBytes).
	Blobs workspace.BlobSink
	// FilesDir is a directory holding upload bytes outside the database:
	// Rocket.Chat's FileSystem store (files named <_id> or
	// <_id>.<extension>), or a copy of its S3, Google Cloud Storage or
	// WebDAV bucket (files at the upload's AmazonS3.path,
	// GoogleStorage.path or Webdav.path).
	FilesDir string
	// DryRun reads and checks everything and counts what would be
	// imported, writing nothing to Sink or Blobs.
	DryRun bool
	// BatchSize is how many records of one kind go to the sink per call;
	// workspace.BatchSize when 0.
	BatchSize int
	// MaxRecordBytes, when positive, refuses records whose JSON is longer
	// (DynamoDB items are at most 400 KB): they are skipped and reported
	// instead of failing a whole batch.
	MaxRecordBytes int
	// MaxFileBytes is the largest upload copied; DefaultMaxFileBytes when 0.
	MaxFileBytes int64
	// TempDir is where GridFS files are reassembled; os.TempDir() when "".
	TempDir string
	// Progress, when set, is called at most every ProgressEvery while the
	// import runs, and once at the end with Done set.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Problem, when set, is called for every document skipped.
	Problem func(Problem)
	// Now is the clock of Elapsed and progress; time.Now when nil.
	Now func() time.Time
}

// BlobStreamer is a BlobSink that can take a file as a stream, so that big
// uploads are never held in memory.
type BlobStreamer interface {
	PutBlobFrom(ctx context.Context, key, contentType string, r io.Reader) error
}

// Import reads the dump into o.Sink and o.Blobs. The Report is returned
// also with an error, saying what was done before it; running the import
// again then completes it.
func Import(ctx context.Context, d Dump, o Options) (*Report, error) {
	if o.Sink == nil && !o.DryRun {
		return nil, errors.New("rcimport: import: no sink (set Options.Sink, or DryRun)")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = workspace.BatchSize
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = DefaultProgressEvery
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	rep := &Report{Dir: d.Dir, DryRun: o.DryRun, Notes: d.Notes}
	for _, c := range Collections() {
		rep.Collections = append(rep.Collections, CollectionReport{Collection: c})
		if c == Users {
			rep.Collections = append(rep.Collections, CollectionReport{Collection: Tokens})
		}
	}
	rep.Collection(Roles).Note = "checked, not stored: users, subscriptions and permissions name roles by _id, which is all an export compares"
	im := &importer{o: o, d: d, rep: rep, start: o.Now()}
	im.last = im.start
	im.initBatches()
	err := im.run(ctx)
	if im.spool != nil {
		if cerr := im.spool.close(); err == nil {
			err = cerr
		}
	}
	rep.Elapsed = o.Now().Sub(im.start)
	if err == nil && o.Progress != nil {
		o.Progress(im.progress("", true))
	}
	return rep, err
}

// importer is the state of one Import.
type importer struct {
	o     Options
	d     Dump
	rep   *Report
	start time.Time
	last  time.Time // last progress call

	doneBytes int64           // bytes of the files already read
	counter   *countingReader // the file being read
	docs      int64
	spool     *gridSpool

	users   batch[chat.User]
	tokens  batch[chat.Token]
	perms   batch[chat.Permission]
	rooms   batch[chat.Room]
	subs    batch[chat.Subscription]
	uploads batch[chat.Upload]
	msgs    batch[chat.Message]
}

// batch collects records of one kind until BatchSize, then puts them. put
// is nil in a dry run: the records are only counted.
type batch[T any] struct {
	im    *importer
	items []T
	put   func(context.Context, []T) error
	rep   *CollectionReport
}

func (im *importer) initBatches() {
	im.users = batch[chat.User]{im: im, rep: im.rep.Collection(Users)}
	im.tokens = batch[chat.Token]{im: im, rep: im.rep.Collection(Tokens)}
	im.perms = batch[chat.Permission]{im: im, rep: im.rep.Collection(Permissions)}
	im.rooms = batch[chat.Room]{im: im, rep: im.rep.Collection(Rooms)}
	im.subs = batch[chat.Subscription]{im: im, rep: im.rep.Collection(Subscriptions)}
	im.uploads = batch[chat.Upload]{im: im, rep: im.rep.Collection(Uploads)}
	im.msgs = batch[chat.Message]{im: im, rep: im.rep.Collection(Messages)}
	if im.o.DryRun {
		return
	}
	s := im.o.Sink
	im.users.put, im.tokens.put, im.perms.put = s.PutUsers, s.PutTokens, s.PutPermissions
	im.rooms.put, im.subs.put, im.uploads.put, im.msgs.put = s.PutRooms, s.PutSubscriptions, s.PutUploads, s.PutMessages
}

// add queues a record; a record too big for MaxRecordBytes is refused.
func (b *batch[T]) add(ctx context.Context, v T) (*badDoc, error) {
	if limit := b.im.o.MaxRecordBytes; limit > 0 {
		raw, err := json.Marshal(v)
		if err != nil {
			return &badDoc{Reason: "record cannot be encoded", Detail: scrub(err)}, nil
		}
		if len(raw) > limit {
			return &badDoc{Reason: fmt.Sprintf("record larger than %d bytes", limit), Detail: fmt.Sprintf("%d bytes", len(raw))}, nil
		}
	}
	b.items = append(b.items, v)
	if len(b.items) >= b.im.o.BatchSize {
		return nil, b.flush(ctx)
	}
	return nil, nil
}

// flush writes the queued records.
func (b *batch[T]) flush(ctx context.Context) error {
	if len(b.items) == 0 {
		return nil
	}
	if b.put != nil {
		if err := b.put(ctx, b.items); err != nil {
			return fmt.Errorf("rcimport: write %s: %w", b.rep.Collection, err)
		}
	}
	b.rep.Imported += int64(len(b.items))
	b.items = nil // the sink may keep the slice it was given
	return nil
}

func (im *importer) run(ctx context.Context) error {
	for _, c := range Collections() {
		if err := im.collection(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// collection reads one collection file through its handler.
func (im *importer) collection(ctx context.Context, name string) error {
	cr := im.rep.Collection(name)
	cf, ok := im.d.File(name)
	if !ok {
		return nil
	}
	cr.File, cr.Format = cf.Path, cf.Format
	defer func() {
		im.doneBytes += cf.Size
		im.counter = nil
	}()
	if (name == GridFSFiles || name == GridFSChunks) && im.spool == nil {
		s, err := newGridSpool(im.o.TempDir, im.o.DryRun)
		if err != nil {
			return err
		}
		im.spool = s
	}
	src, counter, format, closer, err := openFile(cf)
	var broken *brokenFile
	if errors.As(err, &broken) {
		cr.Read++
		im.skip(cr, "start of file", &badDoc{Reason: broken.reason, Detail: broken.detail}, true)
		return nil
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	cr.Format, im.counter = format, counter
	im.tick(name)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("rcimport: import %s: %w", name, err)
		}
		raw, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var bd *badDoc
			switch {
			case errors.As(err, &bd):
				cr.Read++
				im.docs++
				im.skip(cr, src.where(), bd, false)
				continue
			case errors.As(err, &broken):
				cr.Read++
				im.skip(cr, src.where(), &badDoc{Reason: broken.reason, Detail: broken.detail}, true)
			case isDataError(err):
				cr.Read++
				im.skip(cr, src.where(), &badDoc{Reason: "invalid gzip data", Detail: scrub(err)}, true)
			default:
				return fmt.Errorf("rcimport: read %s: %w", cf.Path, err)
			}
			break // the reader lost its place: the rest of the file is not read
		}
		cr.Read++
		im.docs++
		bd, err := im.handle(ctx, name, raw, src.where())
		if err != nil {
			return err
		}
		if bd != nil {
			im.skip(cr, src.where(), bd, false)
		}
		im.tick(name)
	}
	switch name {
	case Users:
		if err := im.users.flush(ctx); err != nil {
			return err
		}
		return im.tokens.flush(ctx)
	case Permissions:
		return im.perms.flush(ctx)
	case Rooms:
		return im.rooms.flush(ctx)
	case Subscriptions:
		return im.subs.flush(ctx)
	case Uploads:
		return im.uploads.flush(ctx)
	case Messages:
		return im.msgs.flush(ctx)
	}
	return nil
}

// isDataError reports whether a read failed on corrupt compressed data
// (as opposed to the file system failing).
func isDataError(err error) bool {
	var corrupt flate.CorruptInputError
	return errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &corrupt)
}

// handle maps one document of a collection and queues its records. A
// *badDoc refuses the document; an error stops the import.
func (im *importer) handle(ctx context.Context, name string, raw bson.Raw, where string) (*badDoc, error) {
	switch name {
	case Users:
		u, toks, badToks, bd := mapUser(raw)
		if bd != nil {
			return bd, nil
		}
		if bd, err := im.users.add(ctx, u); bd != nil || err != nil {
			return bd, err
		}
		tr := im.rep.Collection(Tokens)
		at := where + ", user " + u.ID
		for _, b := range badToks {
			tr.Read++
			im.skip(tr, at, b, false)
		}
		for _, t := range toks {
			tr.Read++
			bd, err := im.tokens.add(ctx, t)
			if err != nil {
				return nil, err
			}
			if bd != nil {
				im.skip(tr, at, bd, false)
			}
		}
		return nil, nil
	case Roles:
		if bd := mapRole(raw); bd != nil {
			return bd, nil
		}
		im.rep.Collection(Roles).Imported++
		return nil, nil
	case Permissions:
		p, bd := mapPermission(raw)
		if bd != nil {
			return bd, nil
		}
		return im.perms.add(ctx, p)
	case Rooms:
		r, bd := mapRoom(raw)
		if bd != nil {
			return bd, nil
		}
		return im.rooms.add(ctx, r)
	case Subscriptions:
		s, bd := mapSubscription(raw)
		if bd != nil {
			return bd, nil
		}
		return im.subs.add(ctx, s)
	case GridFSFiles:
		g, bd := mapGridFile(raw)
		if bd != nil {
			return bd, nil
		}
		if err := im.spool.addFile(g); err != nil {
			return nil, err
		}
		im.rep.Collection(GridFSFiles).Imported++
		return nil, nil
	case GridFSChunks:
		c, bd := mapGridChunk(raw)
		if bd != nil {
			return bd, nil
		}
		bd, err := im.spool.addChunk(c)
		if bd == nil && err == nil {
			im.rep.Collection(GridFSChunks).Imported++
		}
		return bd, err
	case Uploads:
		u, bd := mapUpload(raw)
		if bd != nil {
			return bd, nil
		}
		if !u.complete {
			return bad("upload not complete (Rocket.Chat was still receiving it)"), nil
		}
		size, err := im.copyBytes(ctx, u)
		if err != nil {
			return nil, err
		}
		if u.upload.Size == 0 && size > 0 {
			u.upload.Size = size
		}
		return im.uploads.add(ctx, u.upload)
	case Messages:
		m, bd := mapMessage(raw)
		if bd != nil {
			return bd, nil
		}
		return im.msgs.add(ctx, m)
	}
	return nil, nil
}

// skip records a refused document.
func (im *importer) skip(cr *CollectionReport, where string, bd *badDoc, rest bool) {
	cr.Skipped++
	if cr.Reasons == nil {
		cr.Reasons = map[string]int64{}
	}
	cr.Reasons[bd.Reason]++
	p := Problem{Collection: cr.Collection, Position: where, Reason: bd.Reason, Detail: bd.Detail, Rest: rest}
	if len(cr.Problems) < MaxProblems {
		cr.Problems = append(cr.Problems, p)
	}
	if im.o.Problem != nil {
		im.o.Problem(p)
	}
}

// fileProblem records a problem with an upload's bytes.
func (im *importer) fileProblem(p Problem) {
	if len(im.rep.Files.Problems) < MaxProblems {
		im.rep.Files.Problems = append(im.rep.Files.Problems, p)
	}
	if im.o.Problem != nil {
		im.o.Problem(p)
	}
}

// tick calls Progress when it is due.
func (im *importer) tick(name string) {
	if im.o.Progress == nil {
		return
	}
	now := im.o.Now()
	if now.Sub(im.last) < im.o.ProgressEvery {
		return
	}
	im.last = now
	im.o.Progress(im.progress(name, false))
}

func (im *importer) progress(name string, done bool) Progress {
	p := Progress{Collection: name, Docs: im.docs, Bytes: im.doneBytes, TotalBytes: im.d.TotalBytes(), Elapsed: im.o.Now().Sub(im.start), Done: done}
	if im.counter != nil {
		p.Bytes += im.counter.n
	}
	return p
}

// copyBytes copies an upload's bytes, from the GridFS bucket of the dump or
// from FilesDir, to the blob sink, and returns their size (0 when they were
// not found).
func (im *importer) copyBytes(ctx context.Context, u uploadDoc) (int64, error) {
	fr := &im.rep.Files
	id := u.upload.ID
	var (
		src   *os.File
		size  int64
		found *int64
	)
	if im.spool != nil {
		f, n, state, missing, err := im.spool.open(id)
		if err != nil {
			return 0, err
		}
		switch state {
		case gridComplete:
			src, size, found = f, n, &fr.FromGridFS
		case gridIncomplete:
			fr.Incomplete++
			im.fileProblem(Problem{Collection: GridFSChunks, Position: "file " + id, Reason: "GridFS file has missing chunks", Detail: fmt.Sprintf("chunk %d is missing", missing)})
		}
	}
	if found == nil && im.o.FilesDir != "" {
		if p, n, ok := findInDir(im.o.FilesDir, u); ok {
			size, found = n, &fr.FromDir
			if !im.o.DryRun && im.o.Blobs != nil && n <= im.o.MaxFileBytes {
				f, err := os.Open(p)
				if err != nil {
					return 0, fmt.Errorf("rcimport: copy upload %s: %w", id, err)
				}
				src = f
			}
		}
	}
	if src != nil {
		defer src.Close()
	}
	switch {
	case found == nil:
		fr.Missing++
		return 0, nil
	case size > im.o.MaxFileBytes:
		fr.TooLarge++
		im.fileProblem(Problem{Collection: Uploads, Position: "upload " + id, Reason: "file larger than the copy limit", Detail: fmt.Sprintf("%d bytes", size)})
		return size, nil
	case im.o.DryRun:
	case im.o.Blobs == nil:
		fr.NoTarget++
		return size, nil
	default:
		if err := im.putBlob(ctx, u.upload, src, size); err != nil {
			return 0, err
		}
	}
	fr.Copied++
	fr.Bytes += size
	*found++
	return size, nil
}

// putBlob hands one file to the blob sink, streaming when it can.
func (im *importer) putBlob(ctx context.Context, up chat.Upload, src io.Reader, size int64) error {
	key := up.StorageKey
	var err error
	switch b := im.o.Blobs.(type) {
	case BlobStreamer:
		err = b.PutBlobFrom(ctx, key, up.Type, src)
	case workspace.FileBlobs:
		if b.Files == nil {
			err = b.PutBlob(ctx, key, up.Type, nil) // reports the missing store
			break
		}
		err = streamTo(ctx, b.Files, key, up.Type, src)
	default:
		var data []byte
		data, err = io.ReadAll(io.LimitReader(src, size+1))
		if err == nil && int64(len(data)) != size {
			err = fmt.Errorf("read %d bytes, want %d", len(data), size)
		}
		if err == nil {
			err = b.PutBlob(ctx, key, up.Type, data)
		}
	}
	if err != nil {
		return fmt.Errorf("rcimport: copy upload %s: %w", up.ID, err)
	}
	return nil
}

// streamTo writes src as an object of files: Create, Write, Commit, so the
// object is visible only once complete (workspace.FileBlobs, streaming).
func streamTo(ctx context.Context, files export.FileStore, key, contentType string, src io.Reader) error {
	w, err := files.Create(ctx, key, export.ObjectInfo{ContentType: contentType})
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, src); err != nil {
		return errors.Join(err, w.Abort())
	}
	return w.Commit()
}

// findInDir looks for an upload's bytes under dir: as Rocket.Chat's
// FileSystem store names them (<_id>.<extension>, or <_id>), then at the
// object path its S3, Google Cloud Storage or WebDAV store recorded. Paths
// that would leave dir are not followed.
func findInDir(dir string, u uploadDoc) (path string, size int64, ok bool) {
	id := u.upload.ID
	var cands []string
	if u.extension != "" {
		cands = append(cands, id+"."+u.extension)
	}
	cands = append(cands, id)
	cands = append(cands, u.paths...)
	for _, c := range cands {
		c = filepath.FromSlash(c)
		if !filepath.IsLocal(c) {
			continue
		}
		p := filepath.Join(dir, c)
		fi, err := os.Stat(p)
		if err == nil && fi.Mode().IsRegular() {
			return p, fi.Size(), true
		}
	}
	return "", 0, false
}

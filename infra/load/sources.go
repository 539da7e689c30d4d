package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/demo"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/rcimport"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// source is something to load. load writes it into tgt (nil in a dry run:
// everything is read and checked, nothing written) and returns the summary
// for the person running the command, also when it fails.
type source interface {
	load(ctx context.Context, tgt *target, p *progress) (summary string, err error)
}

// openSource checks the --from argument and what it names.
func openSource(c config) (source, error) {
	kind, arg, hasArg := strings.Cut(c.from, ":")
	if c.filesDir != "" && kind != "rocketchat" {
		return nil, fmt.Errorf("--files applies to --from rocketchat:DIR only")
	}
	switch {
	case c.from == "demo":
		return demoSource{}, nil
	case kind == "seed" && hasArg:
		if arg == "" {
			return nil, fmt.Errorf("--from seed:FILE needs a file name")
		}
		fi, err := os.Stat(arg)
		if err != nil {
			return nil, fmt.Errorf("seed file: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("seed file %s is not a regular file", arg)
		}
		return seedSource{path: arg, size: fi.Size()}, nil
	case kind == "rocketchat" && hasArg:
		if arg == "" {
			return nil, fmt.Errorf("--from rocketchat:DIR needs the dump's folder")
		}
		d, err := rcimport.Scan(arg)
		if err != nil {
			return nil, err
		}
		if c.filesDir != "" {
			fi, err := os.Stat(c.filesDir)
			if err != nil {
				return nil, fmt.Errorf("--files: %w", err)
			}
			if !fi.IsDir() {
				return nil, fmt.Errorf("--files %s is not a folder", c.filesDir)
			}
		}
		return rcSource{dump: d, filesDir: c.filesDir}, nil
	}
	return nil, fmt.Errorf("unknown source --from %q: want demo, seed:FILE or rocketchat:DIR", c.from)
}

// demoSource is the demo workspace of shared/demo.
type demoSource struct{}

func (demoSource) load(ctx context.Context, tgt *target, p *progress) (string, error) {
	p.begin("demo workspace", 0, nil)
	var (
		sink  workspace.Sink     = discardSink{}
		blobs workspace.BlobSink = discardSink{}
	)
	if tgt != nil {
		sink, blobs = tgt.sink, tgt.blobs
	}
	sum, err := demo.Load(ctx, p.counting(sink), blobs, time.Now())
	out := fmt.Sprintf("Demo workspace: %s\n", sum)
	if err == nil {
		p.end()
	}
	if err == nil && tgt != nil {
		c := demo.Credentials()[0]
		out += fmt.Sprintf("Try it with X-User-Id: %s, X-Auth-Token: %s (rid %s); make run prints every demo login.\n", c.UserID, c.Token, demo.GeneralRoomID)
	}
	return out, err
}

// seedSource is a seed file (workspace.Load's format).
type seedSource struct {
	path string
	size int64
}

func (s seedSource) load(ctx context.Context, tgt *target, p *progress) (string, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return "", fmt.Errorf("seed file: %w", err)
	}
	defer f.Close()
	r := &countingReader{r: f}
	p.begin("seed file", s.size, func() int64 { return r.n })
	var (
		sink  workspace.Sink   = discardSink{}
		files export.FileStore = discardFiles{}
	)
	if tgt != nil {
		sink, files = tgt.sink, tgt.files
	}
	counts, err := workspace.Load(ctx, r, p.counting(sink), files)
	if err == nil {
		p.end()
	}
	return fmt.Sprintf("Seed file %s: %s\n", s.path, counts), err
}

// rcSource is a Rocket.Chat dump (shared/rcimport).
type rcSource struct {
	dump     rcimport.Dump
	filesDir string
}

func (s rcSource) load(ctx context.Context, tgt *target, p *progress) (string, error) {
	o := rcimport.Options{FilesDir: s.filesDir, DryRun: tgt == nil, Progress: p.update, ProgressEvery: p.every}
	if tgt != nil {
		o.Sink, o.Blobs, o.MaxRecordBytes = tgt.sink, tgt.blobs, tgt.maxRecordBytes
	}
	rep, err := rcimport.Import(ctx, s.dump, o)
	if rep == nil {
		return "", err
	}
	var b strings.Builder
	if werr := rep.WriteSummary(&b); werr != nil && err == nil {
		err = werr
	}
	return b.String(), err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// discardSink takes records and blobs and keeps nothing: what a dry run of
// the demo or a seed file writes to.
type discardSink struct{}

func (discardSink) PutUsers(context.Context, []chat.User) error                 { return nil }
func (discardSink) PutTokens(context.Context, []chat.Token) error               { return nil }
func (discardSink) PutPermissions(context.Context, []chat.Permission) error     { return nil }
func (discardSink) PutRooms(context.Context, []chat.Room) error                 { return nil }
func (discardSink) PutSubscriptions(context.Context, []chat.Subscription) error { return nil }
func (discardSink) PutMessages(context.Context, []chat.Message) error           { return nil }
func (discardSink) PutUploads(context.Context, []chat.Upload) error             { return nil }
func (discardSink) PutBlob(context.Context, string, string, []byte) error       { return nil }

// discardFiles is an export.FileStore that keeps nothing (workspace.Load
// writes seed-file blobs to a FileStore with Create). Methods it does not
// define belong to the nil FileStore it embeds: a dry run never calls them.
type discardFiles struct{ export.FileStore }

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) Commit() error               { return nil }
func (discardWriter) Abort() error                { return nil }

func (discardFiles) Create(context.Context, string, export.ObjectInfo) (export.ObjectWriter, error) {
	return discardWriter{}, nil
}
func (discardFiles) Open(_ context.Context, key string) (io.ReadCloser, error) {
	return nil, fmt.Errorf("discard: open %s: %w", key, chat.ErrNotFound)
}
func (discardFiles) Delete(context.Context, string) error { return nil }
func (discardFiles) PresignGet(_ context.Context, key, _ string, _ time.Duration) (string, error) {
	return "", fmt.Errorf("discard: presign %s: nothing is stored", key)
}

var (
	_ workspace.Sink     = discardSink{}
	_ workspace.BlobSink = discardSink{}
	_ export.FileStore   = discardFiles{}
)

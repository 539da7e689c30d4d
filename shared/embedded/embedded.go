// Package embedded wires the embedded default: the export service on one
// bbolt file, a directory of files and a Maildir outbox, with background
// exports run in-process. It is what the local server and the end-to-end
// tests run; no cloud account is involved.
package embedded

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rooms-export/rooms-export/shared/boltstore"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/localfs"
	"github.com/rooms-export/rooms-export/shared/maildir"
)

// Stack is the embedded default, opened on a data directory:
//
//	<dir>/rooms-export.db  the database (users, rooms, messages, jobs, ...)
//	<dir>/files/           uploads and export archives (small archives are in the database)
//	<dir>/outbox/new/      every mail sent, one RFC 5322 file each (Maildir)
//	<dir>/link.key         the secret that signs download links
type Stack struct {
	Dir     string
	Store   *boltstore.Store
	Files   *localfs.Store
	Outbox  *maildir.Mailer
	Service *export.Service
	Runner  *Runner
}

// Open opens (creating when needed) the embedded default under dir.
// baseURL is where the local server is reachable; it can be set later
// with SetBaseURL once the server listens.
func Open(dir string, cfg export.Config, log *slog.Logger) (*Stack, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	key, err := signingKey(filepath.Join(dir, "link.key"))
	if err != nil {
		return nil, err
	}
	store, err := boltstore.Open(filepath.Join(dir, "rooms-export.db"))
	if err != nil {
		return nil, err
	}
	files, err := localfs.New(filepath.Join(dir, "files"), key, "")
	if err != nil {
		store.Close()
		return nil, err
	}
	// Small exports are kept in the database: their save commits them (localfs.KeepSmall).
	files.KeepSmall(store, localfs.DefaultSmallMax)
	outbox, err := maildir.New(filepath.Join(dir, "outbox"), time.Now)
	if err != nil {
		store.Close()
		return nil, err
	}
	st := &Stack{Dir: dir, Store: store, Files: files, Outbox: outbox}
	st.Runner = &Runner{Log: log, sem: make(chan struct{}, 2)}
	st.Service = &export.Service{
		Directory: store, Messages: store, Jobs: store, Limiter: store,
		Files: files, Mailer: outbox, Dispatcher: st.Runner,
		Links:   export.LinkSigner{Key: key},
		Config:  cfg.WithDefaults(),
		Running: &running,
	}
	st.Runner.run = st.Service.Run
	return st, nil
}

// SetBaseURL tells the stack where the local server listens, for presigned file URLs.
func (s *Stack) SetBaseURL(u string) { s.Files.SetBaseURL(u) }

// Close waits for background exports and closes the database.
func (s *Stack) Close() error {
	s.Runner.Wait()
	return s.Store.Close()
}

// signingKey reads the link-signing secret, creating it on first use.
func signingKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err == nil && len(key) >= 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("embedded: read signing key: %w", err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("embedded: signing key: %w", err)
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("embedded: write signing key: %w", err)
	}
	return key, nil
}

// Runner is the local export.Dispatcher: background exports run in this
// process, at most two at a time, the way the worker Lambda runs them in AWS.
type Runner struct {
	Log *slog.Logger
	run func(ctx context.Context, jobID string) error
	sem chan struct{}
	wg  sync.WaitGroup
}

// Dispatch starts the job in the background and returns at once.
func (r *Runner) Dispatch(ctx context.Context, jobID string) error {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.sem <- struct{}{}
		defer func() { <-r.sem }()
		if err := r.run(context.WithoutCancel(ctx), jobID); err != nil && r.Log != nil {
			r.Log.Error("background export failed", "job_id", jobID, "error", err.Error())
		}
	}()
	return nil
}

// Wait blocks until every dispatched export has ended.
func (r *Runner) Wait() { r.wg.Wait() }

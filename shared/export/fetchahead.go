package export

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// Reading files ahead, on a store whose reads are round trips
// (Config.AssetsAhead > 0: S3). An asset copied straight from its GET
// waits for that GET's first byte, one file after another: at S3's tens of
// milliseconds a room's files went into its archive at a few dozen a
// second, whatever their size. Small files are read whole ahead of the
// copying instead, several at once; big ones, whose transfer outweighs the
// wait, are still opened when their turn comes. Nothing read ahead is held
// open on the network while it waits (S3 drops idle connections), and
// memory stays bounded: fetchesAhead files of at most maxFetchAhead bytes.
const (
	maxFetchAhead = 256 << 10 // bytes of the biggest file read ahead
	fetchesAhead  = 8         // files the assets pass reads ahead of the one it copies
	firstFetches  = 4         // files of the first page the request reads ahead
)

// fetchable reports whether a file is read ahead: its record is found and
// says it is small.
func fetchable(r uploadResult) bool {
	return r.err == nil && r.up.Size <= maxFetchAhead
}

// fetch reads key whole on a goroutine of its own and returns a function
// that waits for it, as a reader. A file bigger than its record said comes
// back as what was read followed by the rest of the open body.
func (s *Service) fetch(ctx context.Context, key string) func() (io.ReadCloser, error) {
	return later(func() (io.ReadCloser, error) {
		rc, err := s.Files.Open(ctx, key)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxFetchAhead+1))
		if err != nil {
			rc.Close()
			return nil, err
		}
		if len(data) <= maxFetchAhead {
			rc.Close()
			return io.NopCloser(bytes.NewReader(data)), nil
		}
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(data), rc), rc}, nil
	})
}

// fetched is a read started ahead, for the file under key.
type fetched struct {
	key  string
	read func() (io.ReadCloser, error)
}

// discard waits for reads started ahead and closes what they opened.
func discard(reads []fetched) {
	for _, f := range reads {
		if rc, err := f.read(); err == nil {
			rc.Close()
		}
	}
}

// requestFetches are the first few small files of the document's first
// page, read as soon as their upload records are in, while the job is
// being created (Service.start): on S3 their GETs overlap the job's
// PutItems instead of following the document, and a small export with a
// file answers one round trip sooner. Each is taken once, by the asset it
// is for; close discards those nobody took.
type requestFetches struct {
	ready chan struct{} // closed once the reads are started
	mu    sync.Mutex
	reads map[string]func() (io.ReadCloser, error) // by storage key, not yet taken
}

// fetchFirst starts reading the first firstFetches small files among ids
// once uploads has their records.
func (s *Service) fetchFirst(ctx context.Context, ids []string, uploads func() (map[string]uploadResult, error)) *requestFetches {
	f := &requestFetches{ready: make(chan struct{}), reads: map[string]func() (io.ReadCloser, error){}}
	go func() {
		defer close(f.ready)
		found, err := uploads()
		if err != nil {
			return
		}
		for _, id := range ids {
			if len(f.reads) == firstFetches {
				break
			}
			if r, ok := found[id]; ok && fetchable(r) && f.reads[r.up.StorageKey] == nil {
				f.reads[r.up.StorageKey] = s.fetch(ctx, r.up.StorageKey)
			}
		}
	}()
	return f
}

// take is the read of key started ahead, if there is one not yet taken.
// It waits until the reads are started (the upload records are in), not
// for the read itself.
func (f *requestFetches) take(key string) (func() (io.ReadCloser, error), bool) {
	if f == nil {
		return nil, false
	}
	<-f.ready
	f.mu.Lock()
	defer f.mu.Unlock()
	read, ok := f.reads[key]
	delete(f.reads, key)
	return read, ok
}

// close discards the reads nobody took, once they end, and makes take find
// nothing more.
func (f *requestFetches) close() {
	if f == nil {
		return
	}
	<-f.ready
	f.mu.Lock()
	left := make([]fetched, 0, len(f.reads))
	for key, read := range f.reads {
		left = append(left, fetched{key, read})
	}
	f.reads = nil
	f.mu.Unlock()
	discard(left)
}

// assetReads gives the assets pass its files: the small ones read ahead,
// up to n at a time in the order the pass copies them (plan), the others
// opened when asked for. Only the pass's goroutine uses it.
type assetReads struct {
	ctx     context.Context
	s       *Service
	request *requestFetches // the request's reads, taken before starting others
	n       int             // reads under way at most; 0: none ahead
	plan    []string        // keys to read ahead, in copy order, not yet started
	ahead   []fetched       // started, in copy order
}

// planFiles adds a message's files to the reads ahead by the rule the pass
// copies them by (messageAssets, writeAsset): each file once, those whose
// record is found, in order — the small ones.
func (a *assetReads) planFiles(files []chat.FileRef, uploads map[string]uploadResult) {
	if a.n == 0 {
		return
	}
	for i, f := range files {
		if r := uploads[f.ID]; fetchable(r) && !repeated(files[:i], f.ID) {
			a.plan = append(a.plan, r.up.StorageKey)
		}
	}
	a.start()
}

func repeated(files []chat.FileRef, id string) bool {
	for _, f := range files {
		if f.ID == id {
			return true
		}
	}
	return false
}

// start starts planned reads until n are under way.
func (a *assetReads) start() {
	for len(a.ahead) < a.n && len(a.plan) > 0 {
		key := a.plan[0]
		a.plan = a.plan[1:]
		read, ok := a.request.take(key)
		if !ok {
			read = a.s.fetch(a.ctx, key)
		}
		a.ahead = append(a.ahead, fetched{key, read})
	}
}

// open is key's reader: the read started ahead for it when it is the next
// one (a read ahead that failed on anything but a missing file is tried
// again, once, as a plain open), the request's, or a plain open.
func (a *assetReads) open(key string) (io.ReadCloser, error) {
	var read func() (io.ReadCloser, error)
	if len(a.ahead) > 0 && a.ahead[0].key == key {
		read = a.ahead[0].read
		a.ahead = a.ahead[1:]
		a.start()
	} else if r, ok := a.request.take(key); ok {
		read = r
	}
	if read != nil {
		rc, err := read()
		if err == nil || errors.Is(err, chat.ErrNotFound) || a.ctx.Err() != nil {
			return rc, err
		}
	}
	return a.s.Files.Open(a.ctx, key)
}

// close discards the reads under way and forgets the plan.
func (a *assetReads) close() {
	discard(a.ahead)
	a.ahead, a.plan = nil, nil
}

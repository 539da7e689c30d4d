package export

import (
	"context"
	"io"
	"sync"
)

// firstOpens is how many of the first page's files an inline export opens
// ahead (Service.openAhead).
const firstOpens = 4

// opensAhead are uploads whose bytes were asked for before the run wanted
// them: the first few files of the document's first page, opened as soon
// as their upload records are known, while the job is being created. On S3
// their GETs then overlap the job's PutItems instead of following the
// document: a small export with a file answers one round trip sooner.
// Each open is taken once, by the asset it is for; close closes those
// nobody took.
type opensAhead struct {
	ready chan struct{} // closed once the opens are started
	mu    sync.Mutex
	opens map[string]func() (io.ReadCloser, error) // by storage key, not yet taken
}

// openAhead opens, on goroutines of their own, the files among the first
// firstOpens of ids whose upload records uploads finds.
func (s *Service) openAhead(ctx context.Context, ids []string, uploads func() (map[string]uploadResult, error)) *opensAhead {
	o := &opensAhead{ready: make(chan struct{}), opens: map[string]func() (io.ReadCloser, error){}}
	go func() {
		defer close(o.ready)
		found, err := uploads()
		if err != nil {
			return
		}
		for _, id := range ids {
			r, ok := found[id]
			if len(o.opens) == firstOpens {
				break
			}
			if !ok || r.err != nil || o.opens[r.up.StorageKey] != nil {
				continue
			}
			o.opens[r.up.StorageKey] = later(func() (io.ReadCloser, error) { return s.Files.Open(ctx, r.up.StorageKey) })
		}
	}()
	return o
}

// take is the open of key started ahead, if there is one not yet taken.
// It waits until the opens are started (the upload records are in), not
// for the open itself.
func (o *opensAhead) take(key string) (func() (io.ReadCloser, error), bool) {
	if o == nil {
		return nil, false
	}
	<-o.ready
	o.mu.Lock()
	defer o.mu.Unlock()
	open, ok := o.opens[key]
	delete(o.opens, key)
	return open, ok
}

// close closes the files opened ahead that nobody took, once their opens
// return, and makes take find nothing more.
func (o *opensAhead) close() {
	if o == nil {
		return
	}
	<-o.ready
	o.mu.Lock()
	left := o.opens
	o.opens = nil
	o.mu.Unlock()
	for _, open := range left {
		if rc, err := open(); err == nil {
			rc.Close()
		}
	}
}

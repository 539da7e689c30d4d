// Package spare is a sync.Pool that keeps a few of its values across
// garbage collections. A busy server of small exports collects garbage
// every few tens of milliseconds, and every collection empties a sync.Pool:
// the buffers each export needs (a pipe chunk, an archive's output buffer,
// its first segment buffers) were allocated and cleared again for almost
// every one. A Pool hands out and takes back its kept values first, and
// bounds them, so what it holds for good stays small.
package spare

import "sync"

// DefaultKeep is how many values a Pool whose Keep is zero keeps.
const DefaultKeep = 4

// Pool is a sync.Pool whose first Keep values put back are kept across
// collections. The zero value is ready to use; set Keep before use.
type Pool struct {
	Keep int // values kept across collections (DefaultKeep when zero)

	mu   sync.Mutex
	kept []any // guarded by mu
	pool sync.Pool
}

// Get returns a kept value, else one from the sync.Pool, else nil.
func (p *Pool) Get() any {
	p.mu.Lock()
	if n := len(p.kept); n > 0 {
		v := p.kept[n-1]
		p.kept[n-1] = nil
		p.kept = p.kept[:n-1]
		p.mu.Unlock()
		return v
	}
	p.mu.Unlock()
	return p.pool.Get()
}

// Put keeps v while fewer than Keep values are kept, else pools it.
func (p *Pool) Put(v any) {
	p.mu.Lock()
	if len(p.kept) < p.keep() {
		p.kept = append(p.kept, v)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.pool.Put(v)
}

func (p *Pool) keep() int {
	if p.Keep > 0 {
		return p.Keep
	}
	return DefaultKeep
}

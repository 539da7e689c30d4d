package localfs

import (
	"runtime"
	"sync"
)

// syncGroup shares one sync of the whole file system among the Commits that
// need one at the same time, the way boltstore's group commit shares a
// database commit: on a busy server every export used to pay its own device
// flushes, each waited for in turn by the disk.
//
// A caller of wait needs a sync that starts after its call — one that began
// earlier may have missed its writes. The calls that arrive while a sync runs
// form the next round; when the sync ends, one of them leads that round (one
// sync for all of them) and the others wait for its outcome. Nobody leads
// more than one round, so no caller's answer waits for syncs made for calls
// that came after it.
type syncGroup struct {
	sync func() error // makes every write to the file system so far durable

	mu   sync.Mutex
	next *syncRound // the round the next sync covers; nil when nobody waits; guarded by mu
	busy bool       // a round is being synced or handed to its leader; guarded by mu
}

// syncRound is one sync and the calls it answers.
type syncRound struct {
	lead chan struct{} // one of the round's callers receives the lead (buffer 1)
	done chan struct{} // closed when the sync has returned
	err  error         // the sync's error; read once done is closed
	n    int           // callers in the round; guarded by the group's mu
}

// wait returns once a sync that started after the call has ended, with that
// sync's error.
func (g *syncGroup) wait() error {
	g.mu.Lock()
	r := g.next
	if r == nil {
		r = &syncRound{lead: make(chan struct{}, 1), done: make(chan struct{})}
		g.next = r
	}
	r.n++
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if !lead {
		select {
		case <-r.done:
			return r.err
		case <-r.lead:
		}
	}
	g.run(r)
	return r.err
}

// run syncs round r, which is g.next: calls that arrive from now on join a
// later round, since this sync may start before their writes. Then it hands
// the lead to the round that formed meanwhile, or ends the busy spell.
func (g *syncGroup) run(r *syncRound) {
	g.mu.Lock()
	g.next = nil
	g.mu.Unlock()
	r.err = g.sync()
	close(r.done)
	g.mu.Lock()
	n := g.next
	if n == nil {
		g.busy = false
	} else {
		n.lead <- struct{}{} // busy stays set: the lead passes on
	}
	g.mu.Unlock()
	if n != nil {
		// As in boltstore's group: the new leader is runnable on this P and
		// would otherwise wait for this goroutine to block, while every
		// caller of its round waits on it.
		runtime.Gosched()
	}
}

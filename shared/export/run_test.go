package export

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// pagedRoom serves n messages in pages of the query's limit, after the
// query's cursor, as a store's MessagePage does.
type pagedRoom struct {
	msgs []chat.Message
	mu   sync.Mutex
	read int           // pages served
	fail int           // serve an error as this page (1-based; 0: never)
	hold chan struct{} // when not nil, each read waits for it to close
}

func newPagedRoom(n int) *pagedRoom {
	r := &pagedRoom{}
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		r.msgs = append(r.msgs, chat.Message{ID: fmt.Sprintf("m%04d", i), RoomID: "r", TS: at.Add(time.Duration(i) * time.Second)})
	}
	return r
}

func (r *pagedRoom) page(ctx context.Context, q MessageQuery) ([]chat.Message, bool, error) {
	if r.hold != nil {
		select {
		case <-r.hold:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	r.mu.Lock()
	r.read++
	n := r.read
	r.mu.Unlock()
	if n == r.fail {
		return nil, false, errors.New("store unavailable")
	}
	i := 0
	if !q.After.TS.IsZero() {
		i = slices.IndexFunc(r.msgs, func(m chat.Message) bool { return m.ID == q.After.ID }) + 1
	}
	end := min(i+q.Limit, len(r.msgs))
	return r.msgs[i:end], end < len(r.msgs), nil
}

func (r *pagedRoom) pages() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.read
}

func iteratorService() *Service { return &Service{Config: Config{PageSize: 10}} }

// Every message reaches fn once, in order; prep sees every page before fn
// sees its messages, and page sees it too.
func TestEachPageOrderAndStages(t *testing.T) {
	for _, n := range []int{0, 1, 10, 95} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			room := newPagedRoom(n)
			var mu sync.Mutex
			prepared := map[string]bool{}
			var pages, got []string
			prep := func(msgs []chat.Message) {
				mu.Lock()
				defer mu.Unlock()
				for _, m := range msgs {
					if prepared[m.ID] {
						t.Errorf("%s prepared twice", m.ID)
					}
					prepared[m.ID] = true
				}
			}
			err := iteratorService().eachPage(t.Context(), room.page, prep, "r", time.Time{}, time.Time{}, Cursor{},
				func(msgs []chat.Message) error {
					if len(msgs) > 0 {
						pages = append(pages, msgs[0].ID)
					}
					return nil
				},
				func(m chat.Message) error {
					mu.Lock()
					defer mu.Unlock()
					if !prepared[m.ID] {
						t.Errorf("%s reached fn before prep", m.ID)
					}
					got = append(got, m.ID)
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			want := make([]string, n)
			for i := range want {
				want[i] = fmt.Sprintf("m%04d", i)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("fn saw %v, want %v", got, want)
			}
			if len(pages) != (n+9)/10 {
				t.Fatalf("page saw %d pages, want %d", len(pages), (n+9)/10)
			}
		})
	}
}

// A read error ends the walk with it, after the pages before it.
func TestEachPageReadError(t *testing.T) {
	room := newPagedRoom(50)
	room.fail = 3
	var seen int
	err := iteratorService().eachMessage(t.Context(), room.page, "r", time.Time{}, time.Time{}, Cursor{}, func(chat.Message) error {
		seen++
		return nil
	})
	if err == nil || seen != 20 {
		t.Fatalf("err = %v after %d messages; want the read error after 20", err, seen)
	}
}

// When fn stops the walk, the reader stops too: it reads at most the pages
// it may hold ahead, and nothing after eachPage has returned.
func TestEachPageStopsTheReader(t *testing.T) {
	room := newPagedRoom(1000)
	stop := errors.New("stop")
	err := iteratorService().eachPage(t.Context(), room.page, func([]chat.Message) {}, "r", time.Time{}, time.Time{}, Cursor{}, nil,
		func(m chat.Message) error {
			if m.ID == "m0005" {
				time.Sleep(20 * time.Millisecond) // let the reader run ahead as far as it may
				return stop
			}
			return nil
		})
	if !errors.Is(err, stop) {
		t.Fatalf("err = %v, want stop", err)
	}
	after := room.pages()
	// the page fn was on, one prepared and waiting, one in prep's hands,
	// pagesAhead read and waiting, one in the reader's hands
	if limit := 1 + 1 + 1 + pagesAhead + 1; after > limit {
		t.Fatalf("reader read %d pages for a walk stopped on the first; at most %d", after, limit)
	}
	time.Sleep(20 * time.Millisecond)
	if n := room.pages(); n != after {
		t.Fatalf("reader went on after the walk returned: %d pages, then %d", after, n)
	}
}

// A cancelled context ends a walk whose read is waiting.
func TestEachPageCancelled(t *testing.T) {
	room := newPagedRoom(50)
	room.hold = make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(10*time.Millisecond, cancel)
	err := iteratorService().eachMessage(ctx, room.page, "r", time.Time{}, time.Time{}, Cursor{}, func(chat.Message) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// A walk that stops while the reader waits for a page lets that read end
// (it is not cancelled: an aborted request is wasted work for the store,
// and takes dynalite down) and returns once it has, starting no other.
func TestEachPageStopLetsAReadInFlightEnd(t *testing.T) {
	room := newPagedRoom(50)
	started, release := make(chan struct{}), make(chan struct{})
	var (
		mu      sync.Mutex
		reads   int
		ended   bool
		readErr error // the context's error as the read in flight ended
	)
	read := func(ctx context.Context, q MessageQuery) ([]chat.Message, bool, error) {
		mu.Lock()
		reads++
		n := reads
		mu.Unlock()
		if n == 2 {
			close(started)
			<-release
			mu.Lock()
			ended, readErr = true, ctx.Err()
			mu.Unlock()
		}
		return room.page(ctx, q)
	}
	stop := errors.New("stop")
	err := iteratorService().eachMessage(t.Context(), read, "r", time.Time{}, time.Time{}, Cursor{}, func(chat.Message) error {
		<-started // the second page's read is in flight
		time.AfterFunc(20*time.Millisecond, func() { close(release) })
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("err = %v, want stop", err)
	}
	mu.Lock()
	defer mu.Unlock()
	switch {
	case !ended:
		t.Fatal("the walk returned before the read in flight ended")
	case readErr != nil:
		t.Fatalf("the read in flight was cancelled: %v", readErr)
	case reads != 2:
		t.Fatalf("%d reads; want 2 (none after the stop)", reads)
	}
}

package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/render"
)

// threadRoom is a MessageStore of one room that records its MessagesByID
// calls: a paged room whose replies point at parents on the same HTML page,
// on the page before, outside the exported range, and nowhere.
type threadRoom struct {
	*pagedRoom
	outside map[string]chat.Message // stored, but before the exported range
	mu      sync.Mutex
	byID    [][]string // the ids of each MessagesByID call, sorted
	failOn  string     // the first MessagesByID call with this id fails
}

// Replies of the room below: reply index -> parent. Pages of the store are
// 10 messages, the book's pages 25, so the book starts pages at 25 and 50.
var threadReplies = map[int]string{
	5:  "m0002", // same store page: on the book's page
	12: "m0003", // page before in the store, same book page
	26: "m0020", // book page before: looked up
	27: "old1",  // before the range: looked up and quoted
	28: "gone",  // no such message: looked up
	29: "m0020", // in the book's cache
	33: "old1",  // quoted on this book page already
	52: "m0040", // book page before: looked up
	55: "old1",  // in the book's cache
}

func newThreadRoom() *threadRoom {
	r := &threadRoom{pagedRoom: newPagedRoom(60), outside: map[string]chat.Message{}}
	for i := range r.msgs {
		m := &r.msgs[i]
		m.U = chat.UserRef{ID: "u1", Username: "alice"}
		m.Msg = fmt.Sprintf("message **%d**", i)
		m.ThreadID = threadReplies[i]
	}
	r.outside["old1"] = chat.Message{ID: "old1", RoomID: "r", TS: r.msgs[0].TS.Add(-time.Hour), U: chat.UserRef{ID: "u2", Username: "bob"}, Msg: "the _old_ question"}
	return r
}

func (r *threadRoom) MessagePage(ctx context.Context, q MessageQuery) ([]chat.Message, bool, error) {
	return r.page(ctx, q)
}

func (r *threadRoom) FileMessages(context.Context, MessageQuery) ([]chat.Message, bool, error) {
	return nil, false, nil
}

func (r *threadRoom) CountMessages(context.Context, string, time.Time, time.Time) (int64, error) {
	return int64(len(r.msgs)), nil
}

func (r *threadRoom) MessagesByID(_ context.Context, rid string, ids []string) ([]chat.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byID = append(r.byID, slices.Sorted(slices.Values(ids)))
	if r.failOn != "" && slices.Contains(ids, r.failOn) {
		r.failOn = ""
		return nil, errors.New("store unavailable")
	}
	var out []chat.Message
	for _, m := range r.msgs {
		if slices.Contains(ids, m.ID) && rid == "r" {
			out = append(out, m)
		}
	}
	for _, id := range ids {
		if m, ok := r.outside[id]; ok && rid == "r" {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b chat.Message) int { return a.TS.Compare(b.TS) })
	return out, nil
}

func (r *threadRoom) calls() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.byID)
}

// renderBook renders the room as an HTML book of 25 messages a page through
// the service's page walk, as the exporter does, and returns its entries.
func renderBook(t *testing.T, s *Service, tp *threadParents, room *threadRoom) map[string]string {
	t.Helper()
	entries := map[string]*bytes.Buffer{}
	open := func(name string) (io.Writer, error) {
		entries[name] = &bytes.Buffer{}
		return entries[name], nil
	}
	doc := render.NewHTMLBook(open, render.BookOptions{PerPage: s.Config.HTMLPerPage, BaseName: "r",
		Options: render.Options{Parents: s.threadParent(t.Context(), "r", tp)}})
	from, to := room.msgs[0].TS, room.msgs[len(room.msgs)-1].TS
	at := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	if err := doc.Begin(render.Header{Room: chat.Room{ID: "r", Name: "general"}, From: from, To: to, ExportedAt: at, Total: int64(len(room.msgs))}); err != nil {
		t.Fatal(err)
	}
	err := s.eachDocumentPage(t.Context(), tp, room.MessagePage, doc.(render.Preparer).Prepare, "r", from, to, Cursor{}, doc.Message)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.End(int64(len(room.msgs))); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, b := range entries {
		out[name] = b.String()
	}
	return out
}

func threadService(room *threadRoom, ahead int) *Service {
	return &Service{Messages: room, Config: Config{PageSize: 10, HTMLPerPage: 25, AssetsAhead: ahead}}
}

func htmlJob() chat.Job { return chat.Job{RoomID: "r", Format: chat.FormatHTML} }

// The parents a store page's replies need are looked up in one call per
// page, ahead of rendering, and the book's lookups take those answers: two
// calls (m0020, old1 and gone for the second book page; m0040 for the
// third) instead of one per parent, and the same book.
func TestThreadParentsOneCallPerPage(t *testing.T) {
	plain := newThreadRoom()
	want := renderBook(t, threadService(plain, 0), nil, plain)
	if got := plain.calls(); len(got) != 4 {
		t.Fatalf("without prefetching the book looked up %v; want its 4 parents one by one", got)
	}
	if !strings.Contains(want["r-0002.html"], "the <em>old</em> question") {
		t.Fatal("the parent outside the range is not quoted")
	}

	room := newThreadRoom()
	s := threadService(room, 1)
	got := renderBook(t, s, s.newThreadParents(htmlJob()), room)
	calls := room.calls()
	slices.SortFunc(calls, slices.Compare)
	if wantCalls := [][]string{{"gone", "m0020", "old1"}, {"m0040"}}; !slices.EqualFunc(calls, wantCalls, slices.Equal) {
		t.Fatalf("MessagesByID calls %v, want %v", calls, wantCalls)
	}
	if !maps.Equal(got, want) {
		t.Fatal("the book differs from the one rendered without prefetching")
	}
}

// A failed batch costs nothing but its call: the book looks those parents
// up itself, with the same result.
func TestThreadParentsFailedBatch(t *testing.T) {
	plain := newThreadRoom()
	want := renderBook(t, threadService(plain, 0), nil, plain)

	room := newThreadRoom()
	room.failOn = "m0020"
	s := threadService(room, 1)
	got := renderBook(t, s, s.newThreadParents(htmlJob()), room)
	if !maps.Equal(got, want) {
		t.Fatal("the book differs from the one rendered without prefetching")
	}
	// the failed batch, its 3 parents one by one, the batch of m0040
	if n := len(room.calls()); n != 5 {
		t.Fatalf("MessagesByID calls %v, want 5", room.calls())
	}
}

// No prefetching where it would not pay or could not mirror the book: JSON
// documents, the embedded store (AssetsAhead 0), and a walk that starts
// after a cursor (a resumed run, whose book pages begin where it cannot
// know).
func TestThreadParentsOnlyWhereTheyHelp(t *testing.T) {
	room := newThreadRoom()
	ctx := t.Context()
	if threadService(room, 1).newThreadParents(chat.Job{RoomID: "r", Format: chat.FormatJSON}) != nil {
		t.Error("a JSON document has a thread-parent prefetcher")
	}
	if threadService(room, 0).newThreadParents(htmlJob()) != nil {
		t.Error("an embedded-store run has a thread-parent prefetcher")
	}
	tp := threadService(room, 1).newThreadParents(htmlJob())
	var read int
	base := func(context.Context, MessageQuery) ([]chat.Message, bool, error) {
		read++
		return room.msgs[30:40], true, nil
	}
	resumed := tp.reading(ctx, base, Cursor{TS: room.msgs[29].TS, ID: room.msgs[29].ID})
	if _, _, err := resumed(ctx, MessageQuery{}); err != nil || read != 1 {
		t.Fatalf("read %d pages (%v)", read, err)
	}
	tp.wait()
	if len(room.calls()) != 0 {
		t.Fatalf("a resumed walk looked up %v ahead", room.calls())
	}
}

// blockingLookups is a threadRoom whose MessagesByID waits for release and
// records whether its context had ended by then.
type blockingLookups struct {
	*threadRoom
	release  chan struct{}
	finished chan error // ctx.Err() of each lookup, once done
}

func (r *blockingLookups) MessagesByID(ctx context.Context, rid string, ids []string) ([]chat.Message, error) {
	<-r.release
	err := ctx.Err()
	defer func() { r.finished <- err }()
	return r.threadRoom.MessagesByID(ctx, rid, ids)
}

// A walk that ends while a lookup is in flight waits for it, and does not
// cancel it: an aborted request can take an emulator down, and a lookup
// must not outlive its export.
func TestThreadParentsWalkWaitsForLookups(t *testing.T) {
	room := &blockingLookups{threadRoom: newThreadRoom(), release: make(chan struct{}), finished: make(chan error, 8)}
	s := &Service{Messages: room, Config: Config{PageSize: 10, HTMLPerPage: 25, AssetsAhead: 1}}
	stop := errors.New("stop")
	time.AfterFunc(20*time.Millisecond, func() { close(room.release) })
	err := s.eachDocumentPage(t.Context(), s.newThreadParents(htmlJob()), room.MessagePage, nil, "r", time.Time{}, time.Time{}, Cursor{}, func(m chat.Message) error {
		if m.ID == "m0030" {
			return stop // the batch of the third store page is in flight
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("walk ended with %v, want stop", err)
	}
	select {
	case err := <-room.finished:
		if err != nil {
			t.Fatalf("the lookup in flight was cancelled: %v", err)
		}
	default:
		t.Fatal("the walk returned before the lookup in flight ended")
	}
}

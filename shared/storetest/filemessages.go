package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// dbWithFile is a message carrying an uploaded file (files, or the legacy file).
func dbWithFile(id, rid string, ts time.Time, legacy bool) chat.Message {
	m := dbMsg(id, rid, ts)
	f := chat.FileRef{ID: "f-" + id, Name: id + ".txt", Type: "text/plain", Size: 3}
	if legacy {
		m.File = &f
	} else {
		m.Files = []chat.FileRef{f}
	}
	return m
}

// dbAllFilePages reads FileMessages page by page to the end.
func dbAllFilePages(t *testing.T, s Store, rid string, from, to time.Time, limit int) []chat.Message {
	t.Helper()
	var all []chat.Message
	q := export.MessageQuery{RoomID: rid, From: from, To: to, Limit: limit}
	for range 1000 {
		page, more, err := s.FileMessages(t.Context(), q)
		dbMust(t, err, fmt.Sprintf("FileMessages limit %d after %v", limit, q.After))
		if len(page) > limit {
			t.Fatalf("FileMessages limit %d returned %d messages", limit, len(page))
		}
		all = append(all, page...)
		if !more {
			return all
		}
		if len(page) == 0 {
			t.Fatalf("FileMessages limit %d after %v: empty page with more = true", limit, q.After)
		}
		last := page[len(page)-1]
		q.After = export.Cursor{TS: last.TS, ID: last.ID}
	}
	t.Fatalf("FileMessages limit %d: no end after 1000 pages", limit)
	return nil
}

// dbFileMessagesSuite checks the files index behind FileMessages: it holds
// exactly the visible messages that carry files, in (ts, _id) order, and
// follows every re-put.
func dbFileMessagesSuite(t *testing.T, open func(t *testing.T) Store) {
	from, to := dbAt(0), dbAt(time.Hour)
	t.Run("OnlyMessagesWithFiles", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		a := dbWithFile("a", "r1", dbAt(time.Minute), false)
		b := dbMsg("b", "r1", dbAt(2*time.Minute))
		c := dbWithFile("c", "r1", dbAt(3*time.Minute), true)
		d := dbWithFile("d", "r1", dbAt(3*time.Minute), false) // same ms as c: ordered by _id
		h := dbWithFile("h", "r1", dbAt(4*time.Minute), false)
		h.Hidden = true
		o := dbWithFile("o", "r2", dbAt(time.Minute), false)
		late := dbWithFile("late", "r1", dbAt(2*time.Hour), false)
		dbMust(t, s.PutMessages(ctx, []chat.Message{a, b, c, d, h, o, late}), "PutMessages")
		for _, limit := range []int{1, 2, 10} {
			dbSameMessages(t, fmt.Sprintf("FileMessages limit %d", limit), dbAllFilePages(t, s, "r1", from, to, limit), dbSorted([]chat.Message{a, c, d}))
		}
		// bounds are inclusive, as for MessagePage
		page, _, err := s.FileMessages(ctx, export.MessageQuery{RoomID: "r1", From: dbAt(3 * time.Minute), To: dbAt(3 * time.Minute), Limit: 10})
		dbMust(t, err, "FileMessages at one ms")
		dbSameMessages(t, "FileMessages at one ms", page, dbSorted([]chat.Message{c, d}))
		// a cursor inside the run of one millisecond
		page, _, err = s.FileMessages(ctx, export.MessageQuery{RoomID: "r1", From: from, To: to, After: export.Cursor{TS: dbAt(3 * time.Minute), ID: "c"}, Limit: 10})
		dbMust(t, err, "FileMessages after c")
		dbSameMessages(t, "FileMessages after c", page, dbSorted([]chat.Message{d}))
	})
	t.Run("FollowsRePuts", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		a := dbWithFile("a", "r1", dbAt(time.Minute), false)
		b := dbMsg("b", "r1", dbAt(2*time.Minute))
		dbMust(t, s.PutMessages(ctx, []chat.Message{a, b}), "PutMessages")
		// b gains a file, a loses its file
		b = dbWithFile("b", "r1", dbAt(2*time.Minute), false)
		a.Files = nil
		dbMust(t, s.PutMessages(ctx, []chat.Message{a, b}), "PutMessages swap")
		dbSameMessages(t, "after swapping files", dbAllFilePages(t, s, "r1", from, to, 10), dbSorted([]chat.Message{b}))
		// b moves in time, then to another room, then is hidden
		b.TS = dbAt(5 * time.Minute)
		dbMust(t, s.PutMessages(ctx, []chat.Message{b}), "PutMessages move")
		dbSameMessages(t, "after moving b", dbAllFilePages(t, s, "r1", from, to, 10), dbSorted([]chat.Message{b}))
		b.RoomID = "r2"
		dbMust(t, s.PutMessages(ctx, []chat.Message{b}), "PutMessages other room")
		if got := dbAllFilePages(t, s, "r1", from, to, 10); len(got) != 0 {
			t.Errorf("r1 still lists %v", dbIDs(got))
		}
		dbSameMessages(t, "r2 after moving b", dbAllFilePages(t, s, "r2", from, to, 10), dbSorted([]chat.Message{b}))
		b.Hidden = true
		dbMust(t, s.PutMessages(ctx, []chat.Message{b}), "PutMessages hide")
		if got := dbAllFilePages(t, s, "r2", from, to, 10); len(got) != 0 {
			t.Errorf("a hidden message is listed: %v", dbIDs(got))
		}
		// loading the same batch twice changes nothing
		c := dbWithFile("c", "r1", dbAt(7*time.Minute), true)
		dbMust(t, s.PutMessages(ctx, []chat.Message{c}), "PutMessages c")
		dbMust(t, s.PutMessages(ctx, []chat.Message{c}), "PutMessages c again")
		dbSameMessages(t, "after loading twice", dbAllFilePages(t, s, "r1", from, to, 10), dbSorted([]chat.Message{c}))
	})
}

package storetest

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// dbMsg is a plain message of room rid at ts.
func dbMsg(id, rid string, ts time.Time) chat.Message {
	return chat.Message{ID: id, RoomID: rid, TS: ts, Msg: "text of " + id, U: chat.UserRef{ID: "u1", Username: "alice"}}
}

// dbHidden is an edit-history copy, which no read returns.
func dbHidden(id, rid string, ts time.Time) chat.Message {
	m := dbMsg(id, rid, ts)
	m.Hidden = true
	return m
}

// dbNormMessage is m as a store returns it: ts truncated to the millisecond,
// every time in UTC.
func dbNormMessage(m chat.Message) chat.Message {
	m.TS = m.TS.Truncate(time.Millisecond).UTC()
	m.EditedAt = dbUTCPtr(m.EditedAt)
	m.Attachments = dbNormAttachments(m.Attachments)
	return m
}

func dbNormAttachments(as []chat.Attachment) []chat.Attachment {
	if as == nil {
		return nil
	}
	out := make([]chat.Attachment, len(as))
	for i, a := range as {
		a.TS = dbUTCPtr(a.TS)
		a.Attachments = dbNormAttachments(a.Attachments)
		out[i] = a
	}
	return out
}

// dbSorted returns the visible messages among msgs, normalised, in
// (ts, _id) order: what the store should return.
func dbSorted(msgs []chat.Message) []chat.Message {
	var out []chat.Message
	for _, m := range msgs {
		if !m.Hidden {
			out = append(out, dbNormMessage(m))
		}
	}
	slices.SortFunc(out, func(a, b chat.Message) int {
		return cmp.Or(a.TS.Compare(b.TS), strings.Compare(a.ID, b.ID))
	})
	return out
}

// dbIDs lists the ids of msgs, for readable failures.
func dbIDs(msgs []chat.Message) []string {
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID + "@" + m.TS.UTC().Format("15:04:05.000")
	}
	return ids
}

// dbSameMessages checks got against want: same ids in the same order, then
// the same content.
func dbSameMessages(t *testing.T, op string, got, want []chat.Message) {
	t.Helper()
	gotIDs, wantIDs := dbIDs(got), dbIDs(want)
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("%s: messages\n got  %v\n want %v", op, gotIDs, wantIDs)
		return
	}
	for i := range got {
		if g, w := dbNormMessage(got[i]), want[i]; !reflect.DeepEqual(g, w) {
			t.Errorf("%s: message %s\n got  %+v\n want %+v", op, w.ID, g, w)
		}
	}
}

// dbAllPages reads a range page by page with limit and returns every message
// read. It checks the paging contract on the way: no page is longer than
// the limit, and only the last page may be empty (a store may say more
// follow and then return an empty last page, though exact is preferred).
func dbAllPages(t *testing.T, s Store, rid string, from, to time.Time, limit int) []chat.Message {
	t.Helper()
	var all []chat.Message
	q := export.MessageQuery{RoomID: rid, From: from, To: to, Limit: limit}
	for range 1000 {
		page, more, err := s.MessagePage(t.Context(), q)
		dbMust(t, err, fmt.Sprintf("MessagePage limit %d after %v", limit, q.After))
		if len(page) > limit {
			t.Fatalf("MessagePage limit %d returned %d messages", limit, len(page))
		}
		all = append(all, page...)
		if !more {
			return all
		}
		if len(page) == 0 {
			// a caller cannot move a cursor past an empty page
			t.Fatalf("MessagePage limit %d after %v: empty page with more = true", limit, q.After)
		}
		last := page[len(page)-1]
		q.After = export.Cursor{TS: last.TS, ID: last.ID}
	}
	t.Fatalf("MessagePage limit %d: no end after 1000 pages", limit)
	return nil
}

// dbPage reads one page and fails the test on error.
func dbPage(t *testing.T, s Store, q export.MessageQuery) ([]chat.Message, bool) {
	t.Helper()
	page, more, err := s.MessagePage(t.Context(), q)
	dbMust(t, err, fmt.Sprintf("MessagePage %s after %v limit %d", q.RoomID, q.After, q.Limit))
	return page, more
}

// dbCount counts a range and fails the test on error.
func dbCount(t *testing.T, s Store, rid string, from, to time.Time) int64 {
	t.Helper()
	n, err := s.CountMessages(t.Context(), rid, from, to)
	dbMust(t, err, "CountMessages "+rid)
	return n
}

// dbMessageSuite checks export.MessageStore: Rocket.Chat's
// findVisibleByRoomIdBetweenTimestamps sorted by ts (with _id breaking ties,
// for exact keyset paging), and the id lookup of the email form.
func dbMessageSuite(t *testing.T, open func(t *testing.T) Store) {
	day := 24 * time.Hour
	from, to := dbAt(0), dbAt(day)

	t.Run("RoundTrip", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		edited := time.Date(2024, 3, 10, 13, 0, 0, 250_000_000, time.FixedZone("CET", 3600))
		quoted := dbAt(-time.Hour)
		full := chat.Message{
			ID: "full", RoomID: "r1", TS: dbAt(time.Hour + 123*time.Millisecond + 456789),
			Msg: "**hello**\nworld", U: chat.UserRef{ID: "u1", Username: "alice", Name: "Alice"},
			ThreadID: "parent1", DiscussionID: "disc1",
			Attachments: []chat.Attachment{{Title: "quote", TitleLink: "https://example.com/x", Text: "quoted", Description: "d",
				AuthorName: "bob", MessageLink: "https://chat.example.com/msg", ImageURL: "https://example.com/i.png", Type: "file", TS: &quoted,
				Attachments: []chat.Attachment{{Text: "nested"}}}},
			File:      &chat.FileRef{ID: "f1", Name: "a.png", Type: "image/png", Size: 10},
			Files:     []chat.FileRef{{ID: "f1", Name: "a.png", Type: "image/png", Size: 10}, {ID: "f2", Name: "b.txt", Size: 3}},
			Reactions: map[string]chat.Reaction{":+1:": {Usernames: []string{"bob", "carol"}}},
			EditedAt:  &edited,
			EditedBy:  &chat.UserRef{ID: "u1", Username: "alice"},
		}
		system := chat.Message{ID: "sys", RoomID: "r1", TS: dbAt(2 * time.Hour), Type: "uj", Msg: "alice", U: chat.UserRef{ID: "u1", Username: "alice"}}
		dbMust(t, s.PutMessages(ctx, []chat.Message{full, system}), "PutMessages")

		want := dbSorted([]chat.Message{full, system})
		if !want[0].TS.Equal(dbAt(time.Hour + 123*time.Millisecond)) {
			t.Fatalf("test setup: normalised ts %v", want[0].TS)
		}
		page, more := dbPage(t, s, export.MessageQuery{RoomID: "r1", From: from, To: to, Limit: 10})
		dbSameMessages(t, "MessagePage", page, want)
		if more {
			t.Errorf("MessagePage of the whole room: more = true, want false")
		}
		if len(page) > 0 && !page[0].TS.Equal(dbAt(time.Hour+123*time.Millisecond)) {
			t.Errorf("ts not truncated to the millisecond: %v", page[0].TS)
		}
		byID, err := s.MessagesByID(ctx, "r1", []string{"sys", "full"})
		dbMust(t, err, "MessagesByID")
		dbSameMessages(t, "MessagesByID", byID, want)
	})

	t.Run("SameMillisecondOrderedByID", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		at := dbAt(time.Hour)
		msgs := []chat.Message{
			dbMsg("c", "r1", at), dbMsg("a", "r1", at.Add(300*time.Microsecond)), dbMsg("b", "r1", at.Add(999*time.Microsecond)),
			dbMsg("z", "r1", at.Add(-time.Millisecond)), dbMsg("0", "r1", at.Add(time.Millisecond)),
		}
		// several batches, out of order
		dbMust(t, s.PutMessages(ctx, msgs[3:]), "PutMessages 1")
		dbMust(t, s.PutMessages(ctx, msgs[:3]), "PutMessages 2")
		page, _ := dbPage(t, s, export.MessageQuery{RoomID: "r1", From: from, To: to, Limit: 100})
		got := make([]string, len(page))
		for i, m := range page {
			got[i] = m.ID
		}
		dbEqual(t, "order", got, []string{"z", "a", "b", "c", "0"})
	})

	t.Run("InclusiveBounds", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		msgs := []chat.Message{
			dbMsg("before", "r1", from.Add(-time.Millisecond)),
			dbMsg("atFrom", "r1", from),
			dbMsg("middle", "r1", from.Add(time.Hour)),
			dbMsg("atTo", "r1", to),
			dbMsg("after", "r1", to.Add(time.Millisecond)),
		}
		dbMust(t, s.PutMessages(ctx, msgs), "PutMessages")
		want := dbSorted(msgs[1:4])
		page, more := dbPage(t, s, export.MessageQuery{RoomID: "r1", From: from, To: to, Limit: 100})
		dbSameMessages(t, "MessagePage [From, To]", page, want)
		if more {
			t.Errorf("MessagePage [From, To]: more = true, want false (the next message is after To)")
		}
		if n := dbCount(t, s, "r1", from, to); n != 3 {
			t.Errorf("CountMessages [From, To] = %d, want 3", n)
		}

		// millisecond precision: bounds inside a millisecond round inwards
		half := 500 * time.Microsecond
		page, _ = dbPage(t, s, export.MessageQuery{RoomID: "r1", From: from.Add(-half), To: to.Add(half), Limit: 100})
		dbSameMessages(t, "MessagePage with sub-millisecond bounds", page, want)
		page, _ = dbPage(t, s, export.MessageQuery{RoomID: "r1", From: from.Add(half), To: to.Add(-half), Limit: 100})
		dbSameMessages(t, "MessagePage with bounds inside the first and last millisecond", page, dbSorted(msgs[2:3]))
		if n := dbCount(t, s, "r1", from.Add(half), to.Add(-half)); n != 1 {
			t.Errorf("CountMessages with bounds inside the first and last millisecond = %d, want 1", n)
		}

		// a range of one instant
		page, _ = dbPage(t, s, export.MessageQuery{RoomID: "r1", From: to, To: to, Limit: 100})
		dbSameMessages(t, "MessagePage [To, To]", page, dbSorted(msgs[3:4]))
		// an empty range
		page, more = dbPage(t, s, export.MessageQuery{RoomID: "r1", From: to, To: from, Limit: 100})
		if len(page) != 0 || more {
			t.Errorf("MessagePage with From after To = %v more=%v, want nothing", dbIDs(page), more)
		}
		if n := dbCount(t, s, "r1", to, from); n != 0 {
			t.Errorf("CountMessages with From after To = %d, want 0", n)
		}
	})

	// A room with runs of messages in the same millisecond, hidden copies
	// and neighbours whose keys sort next to it.
	var room []chat.Message
	for i := range 30 {
		ts := dbAt(time.Duration(i/4) * time.Minute) // runs of 4 at the same ts
		room = append(room, dbMsg(fmt.Sprintf("m%02d", 29-i), "room", ts))
		if i%7 == 3 {
			room = append(room, dbHidden(fmt.Sprintf("h%02d", i), "room", ts))
		}
	}
	neighbours := []chat.Message{
		dbMsg("n1", "room2", dbAt(time.Minute)), dbMsg("n2", "roo", dbAt(time.Minute)),
		dbMsg("n3", "room ", dbAt(2*time.Minute)), dbMsg("n4", "Room", dbAt(3*time.Minute)),
		dbMsg("n5", "r", dbAt(0)),
	}
	loadRoom := func(t *testing.T) Store {
		t.Helper()
		s := open(t)
		dbMust(t, s.PutMessages(t.Context(), neighbours), "PutMessages neighbours")
		dbMust(t, s.PutMessages(t.Context(), room), "PutMessages room")
		return s
	}
	wantRoom := dbSorted(room)

	t.Run("Paging", func(t *testing.T) {
		s := loadRoom(t)
		one, more := dbPage(t, s, export.MessageQuery{RoomID: "room", From: from, To: to, Limit: 1000})
		dbSameMessages(t, "one big page", one, wantRoom)
		if more {
			t.Errorf("one big page: more = true, want false")
		}
		for _, limit := range []int{1, 2, 3, 4, 5, 7, len(wantRoom) - 1, len(wantRoom), len(wantRoom) + 1} {
			got := dbAllPages(t, s, "room", from, to, limit)
			dbSameMessages(t, fmt.Sprintf("pages of %d", limit), got, one)
		}
		// a page that stops before the end must say more follow
		_, more = dbPage(t, s, export.MessageQuery{RoomID: "room", From: from, To: to, Limit: len(wantRoom) - 1})
		if !more {
			t.Errorf("a page one short of the range: more = false, want true")
		}
	})

	t.Run("CursorInSameMillisecondRun", func(t *testing.T) {
		s := loadRoom(t)
		// wantRoom[4:8] share one ts; start after the second of them
		run := wantRoom[4:8]
		if !run[0].TS.Equal(run[3].TS) {
			t.Fatalf("test setup: %v is not a run", dbIDs(run))
		}
		after := export.Cursor{TS: run[1].TS, ID: run[1].ID}
		page, more := dbPage(t, s, export.MessageQuery{RoomID: "room", From: from, To: to, After: after, Limit: 2})
		dbSameMessages(t, "page after the 2nd of a run", page, run[2:4])
		if !more {
			t.Errorf("page after the 2nd of a run: more = false, want true")
		}
		// a cursor id between two ids of the run
		between := export.Cursor{TS: run[1].TS, ID: run[1].ID + "~"}
		page, _ = dbPage(t, s, export.MessageQuery{RoomID: "room", From: from, To: to, After: between, Limit: 3})
		dbSameMessages(t, "page after an id between two of a run", page, wantRoom[6:9])
		// after the last message of the run: the next ts
		page, _ = dbPage(t, s, export.MessageQuery{RoomID: "room", From: from, To: to, After: export.Cursor{TS: run[3].TS, ID: run[3].ID}, Limit: 1})
		dbSameMessages(t, "page after the end of a run", page, wantRoom[8:9])
		// a cursor before From starts at From
		page, _ = dbPage(t, s, export.MessageQuery{RoomID: "room", From: run[0].TS, To: to, After: export.Cursor{TS: from.Add(-day), ID: "zzz"}, Limit: 2})
		dbSameMessages(t, "cursor before From", page, run[0:2])
		// a cursor on the last message: nothing more
		last := wantRoom[len(wantRoom)-1]
		page, more = dbPage(t, s, export.MessageQuery{RoomID: "room", From: from, To: to, After: export.Cursor{TS: last.TS, ID: last.ID}, Limit: 5})
		if len(page) != 0 || more {
			t.Errorf("page after the last message = %v more=%v, want nothing", dbIDs(page), more)
		}
	})

	t.Run("HiddenExcluded", func(t *testing.T) {
		s := loadRoom(t)
		for _, m := range dbAllPages(t, s, "room", from, to, 3) {
			if m.Hidden || strings.HasPrefix(m.ID, "h") {
				t.Errorf("hidden message %s returned", m.ID)
			}
		}
		byID, err := s.MessagesByID(t.Context(), "room", []string{"h03", "h10"})
		dbMust(t, err, "MessagesByID hidden")
		if len(byID) != 0 {
			t.Errorf("MessagesByID returned hidden messages %v", dbIDs(byID))
		}
	})

	t.Run("OtherRoomsExcluded", func(t *testing.T) {
		s := loadRoom(t)
		got := dbAllPages(t, s, "room", from, to, 4)
		dbSameMessages(t, "room", got, wantRoom)
		for _, rid := range []string{"room2", "roo", "room ", "Room", "r"} {
			var want []chat.Message
			for _, m := range neighbours {
				if m.RoomID == rid {
					want = append(want, m)
				}
			}
			page, _ := dbPage(t, s, export.MessageQuery{RoomID: rid, From: from, To: to, Limit: 100})
			dbSameMessages(t, "neighbour room "+rid, page, dbSorted(want))
			if n := dbCount(t, s, rid, from, to); n != int64(len(want)) {
				t.Errorf("CountMessages %q = %d, want %d", rid, n, len(want))
			}
		}
		page, more := dbPage(t, s, export.MessageQuery{RoomID: "unknown", From: from, To: to, Limit: 100})
		if len(page) != 0 || more {
			t.Errorf("MessagePage of an unknown room = %v more=%v, want nothing", dbIDs(page), more)
		}
	})

	t.Run("Count", func(t *testing.T) {
		s := loadRoom(t)
		if n := dbCount(t, s, "room", from, to); n != int64(len(wantRoom)) {
			t.Errorf("CountMessages whole room = %d, want %d", n, len(wantRoom))
		}
		// minutes 1 and 2: the 2nd and 3rd runs of 4
		if n := dbCount(t, s, "room", dbAt(time.Minute), dbAt(2*time.Minute)); n != 8 {
			t.Errorf("CountMessages of two runs = %d, want 8", n)
		}
		if n := dbCount(t, s, "room", dbAt(time.Hour), to); n != 0 {
			t.Errorf("CountMessages of a range with no message = %d, want 0", n)
		}
		if n := dbCount(t, s, "unknown", from, to); n != 0 {
			t.Errorf("CountMessages of an unknown room = %d, want 0", n)
		}
	})

	t.Run("MessagesByID", func(t *testing.T) {
		s := loadRoom(t)
		ids := []string{"m03", "n1", "nope", "h03", "m27", "m03", "m15", "m27", "n5"}
		got, err := s.MessagesByID(t.Context(), "room", ids)
		dbMust(t, err, "MessagesByID")
		var want []chat.Message
		for _, m := range room {
			if m.ID == "m03" || m.ID == "m27" || m.ID == "m15" {
				want = append(want, m)
			}
		}
		dbSameMessages(t, "MessagesByID with foreign, unknown, hidden and repeated ids", got, dbSorted(want))

		got, err = s.MessagesByID(t.Context(), "room", nil)
		dbMust(t, err, "MessagesByID no ids")
		if len(got) != 0 {
			t.Errorf("MessagesByID with no ids = %v, want none", dbIDs(got))
		}
		got, err = s.MessagesByID(t.Context(), "room2", []string{"m03", "n1"})
		dbMust(t, err, "MessagesByID room2")
		dbSameMessages(t, "MessagesByID room2", got, dbSorted(neighbours[:1]))
	})

	t.Run("RePut", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		a, b, c := dbMsg("a", "r1", dbAt(time.Minute)), dbMsg("b", "r1", dbAt(2*time.Minute)), dbMsg("c", "r1", dbAt(3*time.Minute))
		dbMust(t, s.PutMessages(ctx, []chat.Message{a, b, c}), "PutMessages")

		// an edit at the same ts replaces the text
		a.Msg = "edited"
		dbMust(t, s.PutMessages(ctx, []chat.Message{a}), "PutMessages edit")
		// a changed ts moves the message: one copy, at the new place
		b.TS = dbAt(4 * time.Minute)
		b.Msg = "moved"
		dbMust(t, s.PutMessages(ctx, []chat.Message{b}), "PutMessages move")
		want := dbSorted([]chat.Message{a, b, c})
		dbSameMessages(t, "after re-puts", dbAllPages(t, s, "r1", from, to, 1), want)
		if n := dbCount(t, s, "r1", from, to); n != 3 {
			t.Errorf("CountMessages after re-puts = %d, want 3", n)
		}
		byID, err := s.MessagesByID(ctx, "r1", []string{"b"})
		dbMust(t, err, "MessagesByID moved")
		dbSameMessages(t, "MessagesByID moved", byID, dbSorted([]chat.Message{b}))
		old, _ := dbPage(t, s, export.MessageQuery{RoomID: "r1", From: dbAt(2 * time.Minute), To: dbAt(2 * time.Minute), Limit: 10})
		if len(old) != 0 {
			t.Errorf("old place of a moved message still holds %v", dbIDs(old))
		}

		// re-put as hidden: gone from every read
		c.Hidden = true
		dbMust(t, s.PutMessages(ctx, []chat.Message{c}), "PutMessages hide")
		dbSameMessages(t, "after hiding", dbAllPages(t, s, "r1", from, to, 10), dbSorted([]chat.Message{a, b}))
		// and visible again
		c.Hidden = false
		dbMust(t, s.PutMessages(ctx, []chat.Message{c}), "PutMessages unhide")
		dbSameMessages(t, "after unhiding", dbAllPages(t, s, "r1", from, to, 10), want)

		// a message moved to another room leaves the first one
		a.RoomID = "r2"
		dbMust(t, s.PutMessages(ctx, []chat.Message{a}), "PutMessages other room")
		dbSameMessages(t, "r1 after moving a", dbAllPages(t, s, "r1", from, to, 10), dbSorted([]chat.Message{b, c}))
		dbSameMessages(t, "r2 after moving a", dbAllPages(t, s, "r2", from, to, 10), dbSorted([]chat.Message{a}))
		byID, err = s.MessagesByID(ctx, "r1", []string{"a"})
		dbMust(t, err, "MessagesByID moved room")
		if len(byID) != 0 {
			t.Errorf("MessagesByID in the old room = %v, want none", dbIDs(byID))
		}

		// the same id twice in one batch: the last one wins
		d1, d2 := dbMsg("d", "r1", dbAt(5*time.Minute)), dbMsg("d", "r1", dbAt(6*time.Minute))
		d2.Msg = "second"
		dbMust(t, s.PutMessages(ctx, []chat.Message{d1, d2}), "PutMessages duplicate")
		dbSameMessages(t, "same id twice in a batch", dbAllPages(t, s, "r1", from, to, 2), dbSorted([]chat.Message{b, c, d2}))
	})
}

package dynamo

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// dayCounters reads the room's counters directly: day (as a date) → count.
func dayCounters(t *testing.T, tables Tables, rid string) map[string]int64 {
	t.Helper()
	out, err := client.Query(t.Context(), &dynamodb.QueryInput{
		TableName:                 &tables.Directory,
		KeyConditionExpression:    ptr("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": attrS(pfxDays + rid)},
	})
	if err != nil {
		t.Fatalf("Query counters of %s: %v", rid, err)
	}
	got := map[string]int64{}
	for _, item := range out.Items {
		sk, _ := getS(item, attrSK)
		ms, ok := keyMillis(sk + "#")
		if !ok {
			t.Fatalf("counter key %q is not a day", sk)
		}
		n, _ := getN(item, attrCount)
		got[time.UnixMilli(ms*msPerDay).UTC().Format(time.DateOnly)] = n
	}
	return got
}

// dayMsg is a message of room rid on 2024-03-<day> at hh:mm.
func dayMsg(id, rid string, day, hh, mm int) chat.Message {
	return chat.Message{ID: id, RoomID: rid, TS: time.Date(2024, 3, day, hh, mm, 0, 0, time.UTC), Msg: "m " + id,
		U: chat.UserRef{ID: "u1", Username: "alice"}}
}

// TestDayCountersFollowPuts: the counters count each visible message once,
// in its room and day, through re-puts, visibility changes and moves.
func TestDayCountersFollowPuts(t *testing.T) {
	now := time.Now()
	s, tables := openAt(t, &now)
	ctx := t.Context()
	put := func(what string, msgs ...chat.Message) {
		t.Helper()
		if err := s.PutMessages(ctx, msgs); err != nil {
			t.Fatalf("PutMessages (%s): %v", what, err)
		}
	}
	check := func(what, rid string, want map[string]int64) {
		t.Helper()
		if got := dayCounters(t, tables, rid); !maps.Equal(got, want) {
			t.Errorf("%s: counters of %s = %v, want %v", what, rid, got, want)
		}
	}
	a, b, c := dayMsg("a", "r1", 1, 9, 0), dayMsg("b", "r1", 1, 23, 59), dayMsg("c", "r1", 2, 0, 0)
	h := dayMsg("h", "r1", 1, 10, 0)
	h.Hidden = true
	put("first load", a, b, c, h)
	check("first load", "r1", map[string]int64{"2024-03-01": 2, "2024-03-02": 1})

	put("re-put", a, b, c, h)
	put("same id twice in one call", a, a)
	check("re-puts", "r1", map[string]int64{"2024-03-01": 2, "2024-03-02": 1})

	hiddenA := a
	hiddenA.Hidden = true
	put("hide a", hiddenA)
	check("a hidden", "r1", map[string]int64{"2024-03-01": 1, "2024-03-02": 1})
	put("show a", a)
	check("a shown again", "r1", map[string]int64{"2024-03-01": 2, "2024-03-02": 1})

	// b moves past midnight into the next day, then to another room
	later := b
	later.TS = b.TS.Add(2 * time.Minute)
	put("b to the next day", later)
	check("b moved a day", "r1", map[string]int64{"2024-03-01": 1, "2024-03-02": 2})
	elsewhere := later
	elsewhere.RoomID = "r2"
	put("b to r2", elsewhere)
	check("b moved out", "r1", map[string]int64{"2024-03-01": 1, "2024-03-02": 1})
	check("b moved in", "r2", map[string]int64{"2024-03-02": 1})

	// the hidden copy becomes visible in another day
	shown := h
	shown.Hidden, shown.TS = false, time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)
	put("show h", shown)
	check("h shown", "r1", map[string]int64{"2024-03-01": 1, "2024-03-02": 1, "2024-03-05": 1})

	// and the counts agree with the messages
	for _, tc := range []struct {
		rid  string
		want int64
	}{{"r1", 3}, {"r2", 1}} {
		n, err := s.CountMessages(ctx, tc.rid, time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC))
		if err != nil || n != tc.want {
			t.Errorf("CountMessages %s = %d, %v; want %d", tc.rid, n, err, tc.want)
		}
	}
}

// TestCountMessagesAcrossManyDays compares CountMessages with a count of
// the messages themselves over many ranges — bounds on day boundaries, in
// the first and last millisecond of a day, before 1970 and at the far ends
// of time — and checks that it costs a few Queries, not a pass over the
// room.
func TestCountMessagesAcrossManyDays(t *testing.T) {
	now := time.Now()
	rec := newRecorder(client)
	s := NewWith(rec, freshTables(t), Options{Now: func() time.Time { return now }})
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(4, 2))
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var stamps []time.Time
	for i := range 600 {
		var ts time.Time
		switch i % 6 {
		case 0: // exactly midnight
			ts = start.AddDate(0, 0, rng.IntN(60))
		case 1: // the last millisecond of a day
			ts = start.AddDate(0, 0, rng.IntN(60)).Add(-time.Millisecond)
		default:
			ts = start.Add(time.Duration(rng.Int64N(int64(60 * 24 * time.Hour))))
		}
		stamps = append(stamps, ts)
	}
	stamps = append(stamps, time.Date(1969, 12, 31, 23, 59, 59, 999e6, time.UTC), time.Date(1969, 12, 30, 7, 0, 0, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC))
	var msgs []chat.Message
	for i, ts := range stamps {
		m := chat.Message{ID: fmt.Sprintf("m%04d", i), RoomID: "r1", TS: ts, Msg: "x", U: chat.UserRef{ID: "u1", Username: "alice"}}
		m.Hidden = i%10 == 3
		msgs = append(msgs, m)
	}
	if err := s.PutMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	// every fourth message moves by up to two days, some into hiding
	for i := range msgs {
		if i%4 == 0 {
			msgs[i].TS = msgs[i].TS.Add(time.Duration(rng.Int64N(int64(96*time.Hour))) - 48*time.Hour)
			msgs[i].Hidden = i%8 == 0
		}
	}
	if err := s.PutMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	want := func(from, to time.Time) int64 {
		var n int64
		for _, m := range msgs {
			ts := time.UnixMilli(m.TS.UnixMilli())
			if !m.Hidden && !ts.Before(from) && !ts.After(to) {
				n++
			}
		}
		return n
	}
	day := func(d int) time.Time { return start.AddDate(0, 0, d) }
	ranges := [][2]time.Time{
		{time.Time{}, time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)},
		{day(3), day(10)},
		{day(3), day(10).Add(-time.Millisecond)},
		{day(3).Add(time.Millisecond), day(10).Add(-time.Nanosecond)},
		{day(3).Add(-time.Nanosecond), day(3).Add(time.Nanosecond)},
		{day(3).Add(500 * time.Microsecond), day(4).Add(-500 * time.Microsecond)},
		{day(-1), day(1)},
		{time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(1969, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 999e6, time.UTC)},
	}
	for range 40 {
		a := start.Add(time.Duration(rng.Int64N(int64(62*24*time.Hour))) - 24*time.Hour)
		b := a.Add(time.Duration(rng.Int64N(int64(20 * 24 * time.Hour))))
		ranges = append(ranges, [2]time.Time{a, b})
	}
	for _, r := range ranges {
		from, to := r[0], r[1]
		before := rec.count("Query")
		n, err := s.CountMessages(ctx, "r1", from, to)
		if err != nil {
			t.Fatalf("CountMessages [%v, %v]: %v", from, to, err)
		}
		if w := want(from, to); n != w {
			t.Errorf("CountMessages [%v, %v] = %d, want %d", from, to, n, w)
		}
		if q := rec.count("Query") - before; q > 3 {
			t.Errorf("CountMessages [%v, %v] sent %d Queries, want at most 3", from, to, q)
		}
	}
	if n, err := s.CountMessages(ctx, "nobody", time.Time{}, start.AddDate(1, 0, 0)); err != nil || n != 0 {
		t.Errorf("CountMessages of an unknown room = %d, %v; want 0", n, err)
	}
}

// TestCountersForAnOlderTable: messages stored by a version without
// counters (pointers without n, no counter items) are counted exactly by
// the fallback, and loading them again builds their counters.
func TestCountersForAnOlderTable(t *testing.T) {
	now := time.Now()
	s, tables := openAt(t, &now)
	ctx := t.Context()
	msgs := []chat.Message{dayMsg("a", "r1", 1, 9, 0), dayMsg("b", "r1", 2, 9, 0), dayMsg("c", "r1", 3, 9, 0), dayMsg("d", "r1", 3, 10, 0)}
	if err := s.PutMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	// what an older version left: no counters, pointers without the mark
	for day := range dayCounters(t, tables, "r1") {
		d, _ := time.Parse(time.DateOnly, day)
		key := itemKey(pfxDays+"r1", sortableInt(d.UnixMilli()/msPerDay))
		if _, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &tables.Directory, Key: key}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range msgs {
		old := itemKey(pfxMsg+m.ID, noSort)
		old[attrRoom], old[attrMsgKey] = attrS(m.RoomID), attrS(messageSK(m.TS.UnixMilli(), m.ID, false))
		if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &tables.Directory, Item: old}); err != nil {
			t.Fatal(err)
		}
	}
	whole := func(what string) {
		t.Helper()
		n, err := s.CountMessages(ctx, "r1", time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC))
		if err != nil || n != 4 {
			t.Errorf("CountMessages %s = %d, %v; want 4", what, n, err)
		}
	}
	whole("without counters")

	if err := s.PutMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"2024-03-01": 1, "2024-03-02": 1, "2024-03-03": 2}
	if got := dayCounters(t, tables, "r1"); !maps.Equal(got, want) {
		t.Errorf("counters after loading again = %v, want %v", got, want)
	}
	if p := rawItem(t, tables.Directory, pfxMsg+"a", noSort); p[attrCounted] == "" {
		t.Errorf("pointer of a = %v after loading again, want the counted mark", p)
	}
	whole("after loading again")
	// a third load changes nothing
	if err := s.PutMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if got := dayCounters(t, tables, "r1"); !maps.Equal(got, want) {
		t.Errorf("counters after a third load = %v, want %v", got, want)
	}
}

// TestReputWritesNoCounter: loading the same messages again sends no
// UpdateItem; a first load sends one per (room, day), however many
// messages the day has.
func TestReputWritesNoCounter(t *testing.T) {
	now := time.Now()
	rec := newRecorder(client)
	s := NewWith(rec, freshTables(t), Options{Now: func() time.Time { return now }})
	ctx := t.Context()
	var msgs []chat.Message
	for i := range 90 {
		msgs = append(msgs, dayMsg(fmt.Sprintf("m%02d", i), "r1", 1+i%3, 8, i/3))
	}
	if err := s.PutMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if n := rec.count("UpdateItem"); n != 3 {
		t.Errorf("first load of 3 days sent %d UpdateItems, want 3", n)
	}
	if err := s.PutMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if n := rec.count("UpdateItem"); n != 3 {
		t.Errorf("loading again sent %d more UpdateItems, want none", n-3)
	}
}

// failingUpdates fails every UpdateItem.
type failingUpdates struct{ API }

func (failingUpdates) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, fmt.Errorf("injected failure")
}

// TestCounterFailureStopsBeforeThePointers: when the counters cannot be
// updated PutMessages fails, and the pointers of moved messages still
// record the old place — so putting them again applies the whole delta.
func TestCounterFailureStopsBeforeThePointers(t *testing.T) {
	now := time.Now()
	tables := freshTables(t)
	s := NewWith(client, tables, Options{Now: func() time.Time { return now }})
	ctx := t.Context()
	a := dayMsg("a", "r1", 1, 9, 0)
	if err := s.PutMessages(ctx, []chat.Message{a}); err != nil {
		t.Fatal(err)
	}
	moved := a
	moved.TS = moved.TS.AddDate(0, 0, 1)
	broken := NewWith(failingUpdates{client}, tables, Options{Now: func() time.Time { return now }})
	if err := broken.PutMessages(ctx, []chat.Message{moved}); err == nil {
		t.Fatal("PutMessages succeeded although the counters could not be updated")
	}
	if p := rawItem(t, tables.Directory, pfxMsg+"a", noSort); p[attrMsgKey] != messageSK(a.TS.UnixMilli(), "a", false) {
		t.Errorf("pointer of a = %v after the failed move, want the old place", p)
	}
	if err := s.PutMessages(ctx, []chat.Message{moved}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"2024-03-01": 0, "2024-03-02": 1}
	if got := dayCounters(t, tables, "r1"); !maps.Equal(got, want) {
		t.Errorf("counters after the repeated move = %v, want %v", got, want)
	}
}

func TestKeyMillisInvertsMessageKeys(t *testing.T) {
	for _, ms := range []int64{0, 1, -1, 86_399_999, -86_400_000, 1_709_251_200_000, math.MaxInt64, math.MinInt64} {
		got, ok := keyMillis(messageSK(ms, "id", false))
		if !ok || got != ms {
			t.Errorf("keyMillis(messageSK(%d)) = %d, %v", ms, got, ok)
		}
	}
	for _, mk := range []string{"", messageSK(5, "id", true), filesSK(messageSK(5, "id", false)), "2" + messageSK(5, "id", false)[1:], "1000000000000000000x#id"} {
		if _, ok := keyMillis(mk); ok {
			t.Errorf("keyMillis(%q) accepted a key that is not a visible message's", mk)
		}
	}
	for ms, want := range map[int64]int64{0: 0, msPerDay - 1: 0, msPerDay: 1, -1: -1, -msPerDay: -1, -msPerDay - 1: -2} {
		if got := dayOf(ms); got != want {
			t.Errorf("dayOf(%d) = %d, want %d", ms, got, want)
		}
	}
}

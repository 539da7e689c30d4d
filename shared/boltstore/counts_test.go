package boltstore

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// countModel is what the store should hold: each id's room, ts (ms) and
// whether it is hidden.
type countModel map[string]chat.Message

func (m countModel) count(rid string, fromMs, toMs int64) int64 {
	var n int64
	for _, msg := range m {
		if ms := msg.TS.UnixMilli(); msg.RoomID == rid && !msg.Hidden && ms >= fromMs && ms <= toMs {
			n++
		}
	}
	return n
}

// checkCounters compares the msgdays bucket with the model, counter by
// counter: no counter missing, none extra, none zero.
func checkCounters(t *testing.T, s *Store, model countModel) {
	t.Helper()
	want := map[string]int64{}
	for _, msg := range model {
		if !msg.Hidden {
			want[string(dayKey([]byte(msg.RoomID), dayOf(msg.TS.UnixMilli())))]++
		}
	}
	got := map[string]int64{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMsgDays).ForEach(func(k, v []byte) error {
			got[string(k)] = int64(binary.BigEndian.Uint64(v))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("day counters\n got  %v\n want %v", got, want)
	}
}

// TestDayCountersFollowEveryPut puts random batches — new messages, edits,
// moves across days and rooms, hides and unhides, one id twice in a batch,
// timestamps on day boundaries — and checks every counter and counts of
// random ranges, whole days and partial ones, against a model.
func TestDayCountersFollowEveryPut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rooms.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	r := rand.New(rand.NewPCG(7, 11))
	day0 := time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC).UnixMilli()
	rooms := []string{"room", "room2", "roo"} // prefixes of one another
	randTS := func() int64 {
		day := day0 + int64(r.IntN(6))*msPerDay
		switch r.IntN(4) {
		case 0:
			return day // midnight: the first ms of a day
		case 1:
			return day - 1 // the last ms of the day before
		}
		return day + r.Int64N(msPerDay)
	}
	randRange := func() (int64, int64) {
		a, b := randTS()+r.Int64N(3)-1, randTS()+r.Int64N(3)-1
		if r.IntN(8) == 0 {
			a, b = day0-10*msPerDay, day0+20*msPerDay // everything
		}
		return min(a, b), max(a, b)
	}
	model := countModel{}
	for round := range 300 {
		batch := make([]chat.Message, 1+r.IntN(6))
		for i := range batch {
			m := chat.Message{ID: fmt.Sprintf("m%02d", r.IntN(40)), RoomID: rooms[r.IntN(len(rooms))],
				TS: time.UnixMilli(randTS()).UTC(), Msg: "x", Hidden: r.IntN(5) == 0}
			if i > 0 && r.IntN(6) == 0 {
				m.ID = batch[i-1].ID // the same id twice: the last one wins
			}
			batch[i] = m
		}
		if err := s.PutMessages(ctx, batch); err != nil {
			t.Fatal(err)
		}
		for _, m := range batch {
			model[m.ID] = m
		}
		checkCounters(t, s, model)
		for range 5 {
			rid := rooms[r.IntN(len(rooms))]
			from, to := randRange()
			sub := time.Duration(r.IntN(2)) * 500 * time.Microsecond // bounds inside a millisecond round inwards
			got, err := s.CountMessages(ctx, rid, time.UnixMilli(from).Add(-sub), time.UnixMilli(to).Add(sub))
			if err != nil {
				t.Fatal(err)
			}
			if want := model.count(rid, from, to); got != want {
				t.Fatalf("round %d: CountMessages(%s, %v, %v) = %d, want %d", round, rid,
					time.UnixMilli(from).UTC(), time.UnixMilli(to).UTC(), got, want)
			}
		}
	}

	// a file from before the counters: they are rebuilt at Open
	err = s.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketMsgDays) })
	if err == nil {
		err = s.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkCounters(t, s, model)
	for _, rid := range rooms {
		from, to := day0-msPerDay, day0+10*msPerDay
		if got, err := s.CountMessages(ctx, rid, time.UnixMilli(from), time.UnixMilli(to)); err != nil || got != model.count(rid, from, to) {
			t.Errorf("CountMessages(%s) after rebuilding the counters = %d, %v; want %d", rid, got, err, model.count(rid, from, to))
		}
	}
}

func TestDayOfRoundsDown(t *testing.T) {
	for ms, want := range map[int64]int64{0: 0, 1: 0, msPerDay - 1: 0, msPerDay: 1, -1: -1, -msPerDay: -1, -msPerDay - 1: -2} {
		if got := dayOf(ms); got != want {
			t.Errorf("dayOf(%d) = %d, want %d", ms, got, want)
		}
	}
}

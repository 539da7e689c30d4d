package boltstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// TestPageSliceFitsThePage: a short page is not given room for the whole
// limit (a small export's biggest allocation once), and pages of every
// length around the first growth hold the right messages in order.
func TestPageSliceFitsThePage(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var msgs []chat.Message
	for i := range 300 {
		msgs = append(msgs, chat.Message{ID: fmt.Sprintf("m%04d", i), RoomID: "r1", TS: ts.Add(time.Duration(i) * time.Second), Msg: "x"})
	}
	if err := s.PutMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, firstPageCap - 1, firstPageCap, firstPageCap + 1, 200, 300} {
		page, more, err := s.MessagePage(ctx, export.MessageQuery{
			RoomID: "r1", From: ts, To: ts.Add(time.Duration(n-1) * time.Second), Limit: 500,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != n || more {
			t.Fatalf("%d messages: page of %d, more %v", n, len(page), more)
		}
		for i, m := range page {
			if m.ID != msgs[i].ID {
				t.Fatalf("%d messages: [%d] is %s, want %s", n, i, m.ID, msgs[i].ID)
			}
		}
		if n <= firstPageCap && cap(page) >= 2*firstPageCap { // the allocator may round up a little
			t.Errorf("a page of %d messages has room for %d", n, cap(page))
		}
	}
	for _, c := range []struct{ n, limit, want int }{
		{0, 500, firstPageCap}, {0, 10, 10}, {0, 2 * firstPageCap, 2 * firstPageCap}, {firstPageCap, 500, 500 - firstPageCap}, {1000, 5000, 1024},
	} {
		if got := pageGrowth(c.n, c.limit); got != c.want {
			t.Errorf("pageGrowth(%d, %d) = %d, want %d", c.n, c.limit, got, c.want)
		}
	}
}

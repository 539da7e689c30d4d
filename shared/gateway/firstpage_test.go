package gateway

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// readCounts is a MessageStore that counts page reads and counts.
type readCounts struct {
	export.MessageStore
	pages, counts atomic.Int64
}

func (r *readCounts) MessagePage(ctx context.Context, q export.MessageQuery) ([]chat.Message, bool, error) {
	r.pages.Add(1)
	return r.MessageStore.MessagePage(ctx, q)
}

func (r *readCounts) CountMessages(ctx context.Context, rid string, from, to time.Time) (int64, error) {
	r.counts.Add(1)
	return r.MessageStore.CountMessages(ctx, rid, from, to)
}

// TestFirstPageReadWithTheRequest: the request reads the document's first
// page beside its duplicate check and the export renders it without reading
// it again; a range that fits in that page is not counted (its total is the
// page), a bigger one is, once.
func TestFirstPageReadWithTheRequest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pageSize int
		counts   int64
	}{
		{"fits in a page", 500, 0},
		{"several pages", 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, export.Config{PageSize: tc.pageSize})
			seed(t, w)
			reads := &readCounts{MessageStore: w.stack.Service.Messages}
			w.stack.Service.Messages = reads
			resp := w.post("A1", tokenOf("A1"), fileBody("chan", "json"))
			b := body(t, resp)
			if b["status"] != "done" {
				t.Fatalf("export: %s", resp.Body)
			}
			st := w.status(t, "A1", b["exportId"].(string))
			if st["total"] != st["exported"] || st["exported"].(float64) == 0 {
				t.Errorf("status %v: want total = exported > 0", st)
			}
			n := int64(st["exported"].(float64))
			pages := (n + int64(tc.pageSize) - 1) / int64(tc.pageSize) // each page read once
			if p, c := reads.pages.Load(), reads.counts.Load(); p != pages || c != tc.counts {
				t.Errorf("%d messages: %d page reads and %d counts, want %d and %d", n, p, c, pages, tc.counts)
			}
		})
	}
}

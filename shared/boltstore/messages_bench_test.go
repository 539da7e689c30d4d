package boltstore_test

// Benchmarks of the embedded store's message paging, the loop every export
// runs, on a generated room (infra/bench/gen). An external test package:
// gen reaches boltstore's imports through workspace and export.

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/infra/bench/gen"
	"github.com/rooms-export/rooms-export/shared/boltstore"
	"github.com/rooms-export/rooms-export/shared/export"
)

// benchRoomSize is the generated room's size: big enough that pages come
// from all over the file, small enough to generate in a couple of seconds.
const benchRoomSize = 50000

// BenchmarkMessages pages through a generated room: one page per op at
// several page sizes (continuing from the cursor, wrapping at the end), the
// whole room per op at the service's page size, and the count Export
// starts with (day counters, keys only in the partial days at the ends).
// Each reports messages/s.
func BenchmarkMessages(b *testing.B) {
	store, err := boltstore.OpenWith(filepath.Join(b.TempDir(), "bench.db"), boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	h, _, err := gen.Generate(b.Context(), store, gen.Config{Messages: benchRoomSize, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	whole := export.MessageQuery{RoomID: h.Room.ID, From: time.Unix(0, 0), To: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}

	for _, limit := range []int{100, 500, 2000} {
		b.Run("page="+strconv.Itoa(limit), func(b *testing.B) {
			q := whole
			q.Limit = limit
			read := 0
			b.ReportAllocs()
			for b.Loop() {
				page, more, err := store.MessagePage(b.Context(), q)
				if err != nil {
					b.Fatal(err)
				}
				read += len(page)
				q.After = export.Cursor{}
				if more {
					last := page[len(page)-1]
					q.After = export.Cursor{TS: last.TS, ID: last.ID}
				}
			}
			b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "msgs/s")
		})
	}

	b.Run("scan", func(b *testing.B) {
		read := 0
		for b.Loop() {
			q := whole
			q.Limit = 500
			for {
				page, more, err := store.MessagePage(b.Context(), q)
				if err != nil {
					b.Fatal(err)
				}
				read += len(page)
				if !more {
					break
				}
				last := page[len(page)-1]
				q.After = export.Cursor{TS: last.TS, ID: last.ID}
			}
		}
		if read%benchRoomSize != 0 {
			b.Fatalf("read %d messages, not whole rooms of %d", read, benchRoomSize)
		}
		b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "msgs/s")
	})

	b.Run("count", func(b *testing.B) {
		var counted int64
		for b.Loop() {
			n, err := store.CountMessages(b.Context(), whole.RoomID, whole.From, whole.To)
			if err != nil {
				b.Fatal(err)
			}
			counted += n
		}
		b.ReportMetric(float64(counted)/b.Elapsed().Seconds(), "msgs/s")
	})
}

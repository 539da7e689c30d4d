package boltstore

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// TestWritesGrowTheFileWhileAReadIsOpen: a read transaction stays open (a
// long export walking its pages) while other calls write enough to grow a
// fresh file many times over. Were the file remapped on growth, the first
// commit past the map would wait for that read to end, and here it never
// would: the writes must all finish while it is still open.
func TestWritesGrowTheFileWhileAReadIsOpen(t *testing.T) {
	if mapSize == 0 {
		t.Skip("32-bit platform: the file is mapped at bbolt's default size and remapped as it grows")
	}
	path := filepath.Join(t.TempDir(), "rooms.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tx, err := s.db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	before := tx.Size() // the file's used size, pages × page size

	done := make(chan error, 1)
	go func() {
		ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		text := strings.Repeat("a message long enough to fill pages quickly ", 20)
		for n := 0; n < 8000; n += 500 {
			batch := make([]chat.Message, 500)
			for i := range batch {
				batch[i] = chat.Message{ID: fmt.Sprintf("m%06d", n+i), RoomID: "r1", TS: ts.Add(time.Duration(n+i) * time.Second),
					Msg: text, U: chat.UserRef{ID: "u1", Username: "alice"}}
			}
			if err := s.PutMessages(t.Context(), batch); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("writes still blocked after a minute while a read transaction is open: the file was remapped")
	}
	var after int64
	if err := s.db.View(func(tx *bolt.Tx) error { after = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	if after < 64*before || after < 4<<20 {
		t.Fatalf("the data grew from %d to %d bytes only: the test did not outgrow a map sized to the fresh file", before, after)
	}
}

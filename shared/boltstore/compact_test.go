package boltstore

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/infra/bench/gen"
	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// snapshot is a digest of every bucket of the file: its keys and values in
// order.
func snapshot(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			h, n := sha256.New(), 0
			err := b.ForEach(func(k, v []byte) error {
				h.Write(binary.AppendUvarint(nil, uint64(len(k))))
				h.Write(k)
				h.Write(binary.AppendUvarint(nil, uint64(len(v))))
				h.Write(v)
				n++
				return nil
			})
			out[string(name)] = fmt.Sprintf("%d keys %x", n, h.Sum(nil))
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCompactKeepsEveryRecordAndShrinks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rooms.db")
	s, err := OpenWith(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	// a bulk load in small batches: random ids scatter the pages
	h, counts, err := gen.Generate(t.Context(), s, gen.Config{Messages: 20000, Seed: 3, Batch: 500})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.CreateJob(t.Context(), chat.Job{ID: "j1", OwnerID: "u1", Status: chat.JobQueued, CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Allow(t.Context(), "u1", 10, time.Minute, at); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before, sizeBefore := snapshot(t, path), fileSize(t, path)

	if err := Compact(path); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	after, sizeAfter := snapshot(t, path), fileSize(t, path)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("Compact changed the records:\n before %v\n after  %v", before, after)
	}
	t.Logf("file %d kB before, %d kB after", sizeBefore>>10, sizeAfter>>10)
	if sizeAfter >= sizeBefore {
		t.Errorf("Compact did not shrink a fragmented file: %d bytes, then %d", sizeBefore, sizeAfter)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("compacted file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Errorf("the temporary file is left behind: %v", err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all := export.MessageQuery{RoomID: h.Room.ID, From: time.Unix(0, 0), To: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 1000}
	if n, err := s.CountMessages(t.Context(), all.RoomID, all.From, all.To); err != nil || n != int64(counts.Messages) {
		t.Errorf("CountMessages after Compact = %d, %v; want %d", n, err, counts.Messages)
	}
	files := 0
	for {
		page, more, err := s.FileMessages(t.Context(), all)
		if err != nil {
			t.Fatal(err)
		}
		files += len(page)
		if !more {
			break
		}
		all.After = export.Cursor{TS: page[len(page)-1].TS, ID: page[len(page)-1].ID}
	}
	if files != counts.Files {
		t.Errorf("FileMessages after Compact: %d messages, want %d", files, counts.Files)
	}
	if j, err := s.Job(t.Context(), "j1"); err != nil || j.Status != chat.JobQueued {
		t.Errorf("Job after Compact = %+v, %v", j, err)
	}
}

func TestCompactRefusesAnOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rooms.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = Compact(path)
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("Compact of a file in use = %v, want a lock error", err)
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Errorf("a refused Compact left a file behind: %v", err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

package boltstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// uploadLikeJSON checks that up comes back from the v1 codec exactly as it
// came back from the JSON the store wrote before.
func uploadLikeJSON(t testing.TB, up chat.Upload) {
	t.Helper()
	raw, err := json.Marshal(up)
	if err != nil {
		t.Fatal(err)
	}
	var want chat.Upload
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	v := encodeUpload(&up)
	if v[0] != codecV1 {
		t.Fatalf("record starts with %#x, want %#x", v[0], codecV1)
	}
	var got chat.Upload
	if err := decodeUpload(v, &got); err != nil {
		t.Fatalf("decode of a fresh record: %v", err)
	}
	if got != want {
		t.Fatalf("codec and JSON round trips differ\n codec %#v\n JSON  %#v", got, want)
	}
}

func TestUploadCodecMatchesJSON(t *testing.T) {
	for _, up := range []chat.Upload{
		{},
		{ID: "f1", RoomID: "r1", Name: "report.pdf", Type: "application/pdf", Size: 12345, StorageKey: "uploads/r1/f1"},
		{ID: "f2", Name: "ünïcødé 📎.png", Size: -1, StorageKey: "k"},
		{ID: "f3", Name: "bad \xff\xfe utf-8 \xe2\x82", Type: "text/\x00plain", Size: 1<<63 - 1},
		{ID: "f4", Name: string(make([]byte, 300)), Size: -1 << 63},
	} {
		uploadLikeJSON(t, up)
	}
}

func FuzzUploadCodecMatchesJSON(f *testing.F) {
	f.Add("f1", "r1", "a.txt", "text/plain", int64(3), "uploads/f1")
	f.Add("", "", "\xff", "", int64(-1), "")
	f.Fuzz(func(t *testing.T, id, rid, name, typ string, size int64, key string) {
		uploadLikeJSON(t, chat.Upload{ID: id, RoomID: rid, Name: name, Type: typ, Size: size, StorageKey: key})
	})
}

func TestDecodeUploadRefusesDamagedRecords(t *testing.T) {
	v := encodeUpload(&chat.Upload{ID: "f1", Name: "a.txt", Size: 300, StorageKey: "k"})
	for name, bad := range map[string][]byte{
		"empty":          nil,
		"unknown format": append([]byte{0x7f}, v[1:]...),
		"cut short":      v[:len(v)-1],
		"trailing bytes": append(v[:len(v):len(v)], 0),
		"bad JSON":       []byte(`{"_id":`),
	} {
		var up chat.Upload
		if err := decodeUpload(bad, &up); err == nil {
			t.Errorf("%s: decode = %+v, want an error", name, up)
		} else if up != (chat.Upload{}) {
			t.Errorf("%s: a failed decode left %+v", name, up)
		}
	}
}

// TestReadsJSONUploadsWrittenByOlderVersions: files written before the
// codec hold JSON upload records; Upload and Uploads read them, and a
// re-put writes the binary form.
func TestReadsJSONUploadsWrittenByOlderVersions(t *testing.T) {
	s, ctx := openTemp(t), t.Context()
	old := chat.Upload{ID: "old1", RoomID: "r1", Name: "a.txt", Type: "text/plain", Size: 3, StorageKey: "uploads/old1"}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketUploads), []byte(old.ID), old)
	})
	if err != nil {
		t.Fatal(err)
	}
	fresh := chat.Upload{ID: "new1", Name: "b.bin", Size: 4, StorageKey: "uploads/new1"}
	if err := s.PutUploads(ctx, []chat.Upload{fresh}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Upload(ctx, old.ID); err != nil || got != old {
		t.Errorf("Upload of a JSON record = %+v, %v; want %+v", got, err, old)
	}
	got, err := s.Uploads(ctx, []string{"new1", "old1"})
	if err != nil || !reflect.DeepEqual(got, map[string]chat.Upload{"old1": old, "new1": fresh}) {
		t.Errorf("Uploads of a JSON and a binary record = %+v, %v", got, err)
	}

	if err := s.PutUploads(ctx, []chat.Upload{old}); err != nil {
		t.Fatal(err)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketUploads).Get([]byte(old.ID)); len(v) == 0 || v[0] != codecV1 {
			return errors.New("a re-put upload is not stored in the binary format")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// TestUploadsCorruptRecordIsAnError: a record the codec cannot read fails
// the batch (it is not reported as missing, which would skip the file).
func TestUploadsCorruptRecordIsAnError(t *testing.T) {
	s, ctx := openTemp(t), t.Context()
	err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketUploads).Put([]byte("f1"), []byte{0x7f}) })
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Uploads(ctx, []string{"f1"}); !errors.Is(err, errCorruptUpload) {
		t.Errorf("Uploads of a corrupt record = %+v, %v; want errCorruptUpload", got, err)
	}
}

// TestUploadsTellThePager: a batch counts as one lookup per distinct id
// (plus the transaction's own), as separate Upload calls did, so the pager
// still releases what the lookups map in.
func TestUploadsTellThePager(t *testing.T) {
	s, ctx := openTemp(t), t.Context()
	if err := s.PutUploads(ctx, []chat.Upload{{ID: "a", StorageKey: "k"}, {ID: "b", StorageKey: "k"}}); err != nil {
		t.Fatal(err)
	}
	s.pages.checkEvery = 1 << 40 // count, never release
	s.pages.read.Store(0)
	if _, err := s.Uploads(ctx, []string{"b", "a", "zz", "a", "b"}); err != nil {
		t.Fatal(err)
	}
	if got, want := s.pages.read.Load(), int64(4*lookupBytes); got != want {
		t.Errorf("pager counted %d bytes for 3 distinct ids, want %d", got, want)
	}
}

// BenchmarkUploads compares a page of upload lookups made one by one (as
// the exporter did) with one batch.
func BenchmarkUploads(b *testing.B) {
	s, ctx := openTemp(b), b.Context()
	const total, page = 5000, 250
	ups := make([]chat.Upload, total)
	for i := range ups {
		id := fmt.Sprintf("%017x", uint64(i)*0x9e3779b97f4a7c15>>4)
		ups[i] = chat.Upload{ID: id, RoomID: "GENERAL", Name: "photo " + id + ".jpg", Type: "image/jpeg", Size: int64(i) * 977, StorageKey: "uploads/" + id}
	}
	if err := s.PutUploads(ctx, ups); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, page)
	for i := range ids {
		ids[i] = ups[(i*37)%total].ID
	}
	b.Run("one by one", func(b *testing.B) {
		for b.Loop() {
			for _, id := range ids {
				if _, err := s.Upload(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*page), "ns/id")
	})
	b.Run("batch", func(b *testing.B) {
		for b.Loop() {
			if got, err := s.Uploads(ctx, ids); err != nil || len(got) != page {
				b.Fatalf("Uploads = %d records, %v", len(got), err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*page), "ns/id")
	})
}

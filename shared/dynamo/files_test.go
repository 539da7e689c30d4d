package dynamo

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// writeCounter is an API that counts the puts and deletes of the
// BatchWriteItem calls sent through it.
type writeCounter struct {
	API
	mu            sync.Mutex
	puts, deletes int
	index         int // writes whose sort key is a files-index key
}

func (w *writeCounter) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	w.mu.Lock()
	for _, reqs := range in.RequestItems {
		for _, r := range reqs {
			var item map[string]types.AttributeValue
			if r.PutRequest != nil {
				w.puts++
				item = r.PutRequest.Item
			} else {
				w.deletes++
				item = r.DeleteRequest.Key
			}
			if sk, _ := getS(item, attrSK); len(sk) > 0 && sk[:1] == filesMark {
				w.index++
			}
		}
	}
	w.mu.Unlock()
	return w.API.BatchWriteItem(ctx, in, o...)
}

func (w *writeCounter) reset() (puts, deletes, index int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	puts, deletes, index = w.puts, w.deletes, w.index
	w.puts, w.deletes, w.index = 0, 0, 0
	return puts, deletes, index
}

// fileMsg is a message in r1 at minute min, with a file when withFile.
func fileMsg(id string, min int, withFile bool) chat.Message {
	m := chat.Message{ID: id, RoomID: "r1", TS: time.Date(2024, 3, 10, 12, min, 0, 0, time.UTC), Msg: "m " + id,
		U: chat.UserRef{ID: "u1", Username: "alice"}}
	if withFile {
		m.Files = []chat.FileRef{{ID: "f-" + id, Name: id + ".png"}}
	}
	return m
}

// TestFilesIndexItems checks the index's items themselves: an entry beside
// each visible message with files, holding the same d, and the pointer's
// flag that says it is there.
func TestFilesIndexItems(t *testing.T) {
	now := time.Now()
	s, tables := openAt(t, &now)
	ctx := t.Context()
	mk := func(m chat.Message) string { return messageSK(m.TS.UnixMilli(), m.ID, m.Hidden) }
	a, b := fileMsg("a", 1, true), fileMsg("b", 2, false)
	if err := s.PutMessages(ctx, []chat.Message{a, b}); err != nil {
		t.Fatal(err)
	}
	main, entry := rawItem(t, tables.Messages, "r1", mk(a)), rawItem(t, tables.Messages, "r1", filesSK(mk(a)))
	if entry == nil || entry[attrData] != main[attrData] {
		t.Errorf("index entry of a (present: %v) does not hold the d of its message", entry != nil)
	}
	if p := rawItem(t, tables.Directory, "msg#a", noSort); p[attrFiles] == "" {
		t.Errorf("pointer of a = %v, want the files flag", p)
	}
	if e := rawItem(t, tables.Messages, "r1", filesSK(mk(b))); e != nil {
		t.Errorf("b has no file but an index entry %s", e[attrSK])
	}
	if p := rawItem(t, tables.Directory, "msg#b", noSort); p == nil || p[attrFiles] != "" {
		t.Errorf("pointer of b = %v, want no files flag", p)
	}

	// a moves in time: the entry moves with it
	moved := a
	moved.TS = moved.TS.Add(time.Minute)
	if err := s.PutMessages(ctx, []chat.Message{moved}); err != nil {
		t.Fatal(err)
	}
	if e := rawItem(t, tables.Messages, "r1", filesSK(mk(a))); e != nil {
		t.Errorf("the old index entry of a moved message is still there: %s", e[attrSK])
	}
	if e := rawItem(t, tables.Messages, "r1", filesSK(mk(moved))); e == nil {
		t.Error("a moved message with files has no index entry")
	}
	// a loses its file: entry and flag go
	moved.Files = nil
	if err := s.PutMessages(ctx, []chat.Message{moved}); err != nil {
		t.Fatal(err)
	}
	if e := rawItem(t, tables.Messages, "r1", filesSK(mk(moved))); e != nil {
		t.Errorf("index entry of a message that lost its file: %s", e[attrSK])
	}
	if p := rawItem(t, tables.Directory, "msg#a", noSort); p[attrFiles] != "" {
		t.Errorf("pointer of a = %v after it lost its file", p)
	}
}

// TestFilesIndexCostsNothingWithoutFiles: loading messages without files
// writes what it wrote before the index (the message and its pointer), and
// loading them again only the messages; a message with files adds one put.
func TestFilesIndexCostsNothingWithoutFiles(t *testing.T) {
	now := time.Now()
	w := &writeCounter{API: client}
	s := NewWith(w, freshTables(t), Options{Now: func() time.Time { return now }})
	ctx := t.Context()
	var msgs []chat.Message
	for i := range 30 {
		msgs = append(msgs, fileMsg(fmt.Sprintf("m%02d", i), i, i%10 == 0))
	}
	if err := s.PutMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if puts, dels, index := w.reset(); puts != 30*2+3 || dels != 0 || index != 3 {
		t.Errorf("first load: %d puts, %d deletes, %d index writes; want 63, 0, 3", puts, dels, index)
	}
	if err := s.PutMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if puts, dels, index := w.reset(); puts != 30+3 || dels != 0 || index != 3 {
		t.Errorf("second load: %d puts, %d deletes, %d index writes; want 33, 0, 3", puts, dels, index)
	}
}

// TestReputBuildsAMissingIndex: messages stored before the files index
// existed (no entry, no flag on the pointer) get their entries when they are
// loaded again — the way to index a table written by an older version.
func TestReputBuildsAMissingIndex(t *testing.T) {
	now := time.Now()
	s, tables := openAt(t, &now)
	ctx := t.Context()
	a := fileMsg("a", 1, true)
	if err := s.PutMessages(ctx, []chat.Message{a}); err != nil {
		t.Fatal(err)
	}
	// what an older version left: the message and a pointer without the flag
	mk := messageSK(a.TS.UnixMilli(), a.ID, false)
	if _, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &tables.Messages, Key: itemKey("r1", filesSK(mk))}); err != nil {
		t.Fatal(err)
	}
	old := itemKey("msg#a", noSort)
	old[attrRoom], old[attrMsgKey] = attrS("r1"), attrS(mk)
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &tables.Directory, Item: old}); err != nil {
		t.Fatal(err)
	}
	q := export.MessageQuery{RoomID: "r1", From: a.TS.Add(-time.Hour), To: a.TS.Add(time.Hour), Limit: 10}
	if page, _, err := s.FileMessages(ctx, q); err != nil || len(page) != 0 {
		t.Fatalf("FileMessages before the reload = %d messages, %v; want none", len(page), err)
	}
	if err := s.PutMessages(ctx, []chat.Message{a}); err != nil {
		t.Fatal(err)
	}
	page, more, err := s.FileMessages(ctx, q)
	if err != nil || more || len(page) != 1 || page[0].ID != "a" || len(page[0].Files) != 1 {
		t.Errorf("FileMessages after the reload = %d messages, more %v, %v; want a with its file", len(page), more, err)
	}
}

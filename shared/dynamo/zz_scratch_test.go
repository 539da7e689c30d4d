package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rooms-export/rooms-export/infra/bench/gen"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/localfs"
	"github.com/rooms-export/rooms-export/shared/maildir"
)

type timer struct {
	API
	mu sync.Mutex
	d  map[string]time.Duration
	n  map[string]int
}

func (r *timer) add(op string, start time.Time) {
	r.mu.Lock()
	r.d[op] += time.Since(start)
	r.n[op]++
	r.mu.Unlock()
}
func (r *timer) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	defer r.add("GetItem", time.Now())
	return r.API.GetItem(ctx, in, o...)
}
func (r *timer) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	op := "Query"
	if in.Select != "" {
		op = "QueryCount"
	}
	defer r.add(op, time.Now())
	return r.API.Query(ctx, in, o...)
}
func (r *timer) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	defer r.add("BatchGetItem", time.Now())
	return r.API.BatchGetItem(ctx, in, o...)
}
func (r *timer) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	defer r.add("UpdateItem", time.Now())
	return r.API.UpdateItem(ctx, in, o...)
}
func (r *timer) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	defer r.add("PutItem", time.Now())
	return r.API.PutItem(ctx, in, o...)
}

type noDispatch struct{}

func (noDispatch) Dispatch(context.Context, string) error { return fmt.Errorf("no") }

func TestZZScratch(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SCRATCH_N"))
	if n == 0 {
		return
	}
	ctx := t.Context()
	formats := []string{"json"}
	if os.Getenv("SCRATCH_HTML") != "" {
		formats = append(formats, "html")
	}
	tables := freshTables(t)
	load := New(client, tables)
	start := time.Now()
	h, _, err := gen.Generate(ctx, load, gen.Config{Messages: n, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load %v", time.Since(start))
	tm := &timer{API: client, d: map[string]time.Duration{}, n: map[string]int{}}
	store := New(tm, tables)
	dir := t.TempDir()
	key := make([]byte, 32)
	rand.Read(key)
	files, _ := localfs.New(filepath.Join(dir, "files"), key, "http://127.0.0.1")
	outbox, _ := maildir.New(filepath.Join(dir, "outbox"), time.Now)
	svc := &export.Service{
		Directory: store, Messages: store, Jobs: store, Limiter: store,
		Files: files, Mailer: outbox, Dispatcher: noDispatch{},
		Links:  export.LinkSigner{Key: key},
		Config: export.Config{InlineBudget: 24 * time.Hour}.WithDefaults(),
	}
	for _, format := range formats {
		body, _ := json.Marshal(map[string]string{"rid": h.Room.ID, "type": "file", "format": format, "dateFrom": "2000-01-01", "dateTo": "2099-12-31"})
		tm.d, tm.n = map[string]time.Duration{}, map[string]int{}
		start := time.Now()
		if _, err := svc.Export(ctx, h.Credentials(), body, "http://127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		t.Logf("export %s %v", format, time.Since(start))
		for op, d := range tm.d {
			t.Logf("  %s: %d calls, %v", op, tm.n[op], d)
		}
	}
	{
		var ids []string
		g := gen.New(gen.Config{Messages: n, Seed: 1})
		for g.More() {
			if it := g.Next(); it.Upload != nil && len(ids) < 100 {
				ids = append(ids, it.Upload.ID)
			}
		}
		var keys []map[string]types.AttributeValue
		for _, id := range ids {
			keys = append(keys, itemKey(pfxUpload+id, noSort))
		}
		for range 3 {
			start := time.Now()
			items, err := store.batchGet(ctx, tables.Directory, keys, false, attrData)
			t.Logf("batchGet %d uploads: %d items in %v", len(keys), len(items), time.Since(start))
			start = time.Now()
			for _, id := range ids {
				if _, err := store.Upload(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("100 Upload calls: %v", time.Since(start))
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 3 {
		in := &dynamodb.QueryInput{
			TableName:                &tables.Messages,
			KeyConditionExpression:   ptr("#pk = :pk AND #sk < :hidden"),
			ProjectionExpression:     ptr("#d"),
			ExpressionAttributeNames: map[string]string{"#pk": "pk", "#sk": "sk", "#d": "d"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": attrS(h.Room.ID), ":hidden": attrS("h"),
			},
			Limit: ptr(int32(500)),
		}
		start := time.Now()
		for {
			out, err := client.Query(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
		t.Logf("raw %v", time.Since(start))
		q := export.MessageQuery{RoomID: h.Room.ID, From: time.Unix(0, 0), To: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 500}
		tm.d, tm.n = map[string]time.Duration{}, map[string]int{}
		start = time.Now()
		c := 0
		for {
			page, more, err := store.MessagePage(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			c += len(page)
			if !more {
				break
			}
			q.After = export.Cursor{TS: page[len(page)-1].TS, ID: page[len(page)-1].ID}
		}
		t.Logf("walk %d %v; query time %v", c, time.Since(start), tm.d["Query"])
	}
}

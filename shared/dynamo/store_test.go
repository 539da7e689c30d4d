package dynamo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rooms-export/rooms-export/shared/awstest"
	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/storetest"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

var (
	_ export.Directory    = (*Store)(nil)
	_ export.MessageStore = (*Store)(nil)
	_ export.JobStore     = (*Store)(nil)
	_ export.RateLimiter  = (*Store)(nil)
	_ workspace.Sink      = (*Store)(nil)
	_ storetest.Store     = (*Store)(nil)
	_ API                 = (*dynamodb.Client)(nil)
)

// client talks to the dynalite this test binary started.
var client *dynamodb.Client

func TestMain(m *testing.M) {
	emu, err := awstest.Start(awstest.DynamoDB)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	client = dynamodb.NewFromConfig(awstest.Config(emu.Endpoint))
	code := m.Run()
	emu.Stop()
	os.Exit(code)
}

// suiteNow is the clock of the contract suite: the storetest data is built
// around 2024-03-10, and the jobs it writes expire a week later.
func suiteNow() time.Time { return time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC) }

// tableSeq makes table names unique within the emulator.
var tableSeq atomic.Int64

// freshTables creates three empty tables with a prefix no other test uses.
func freshTables(t testing.TB) Tables {
	t.Helper()
	p := fmt.Sprintf("t%d-", tableSeq.Add(1))
	tables := Tables{Directory: p + "directory", Messages: p + "messages", Jobs: p + "jobs"}
	if err := CreateTables(t.Context(), client, tables); err != nil {
		t.Fatalf("CreateTables: %v", err)
	}
	return tables
}

// recorder is an API that counts the operations sent through it.
type recorder struct {
	API
	mu  sync.Mutex
	ops map[string]int
}

func newRecorder(api API) *recorder { return &recorder{API: api, ops: map[string]int{}} }

func (r *recorder) note(op string) {
	r.mu.Lock()
	r.ops[op]++
	r.mu.Unlock()
}

func (r *recorder) count(op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ops[op]
}

func (r *recorder) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	r.note("GetItem")
	return r.API.GetItem(ctx, in, o...)
}

func (r *recorder) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	r.note("PutItem")
	return r.API.PutItem(ctx, in, o...)
}

func (r *recorder) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	r.note("UpdateItem")
	return r.API.UpdateItem(ctx, in, o...)
}

func (r *recorder) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	r.note("DeleteItem")
	return r.API.DeleteItem(ctx, in, o...)
}

func (r *recorder) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	r.note("Query")
	return r.API.Query(ctx, in, o...)
}

func (r *recorder) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	r.note("BatchGetItem")
	return r.API.BatchGetItem(ctx, in, o...)
}

func (r *recorder) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	r.note("BatchWriteItem")
	return r.API.BatchWriteItem(ctx, in, o...)
}

// TestContract runs the shared database contract against dynalite, every
// request going through a recorder, and then checks which operations the
// store used: no Scan (the API interface has none, so the compiler already
// guarantees it; this shows the suite exercised the reads that replace it).
func TestContract(t *testing.T) {
	rec := newRecorder(client)
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return NewWith(rec, freshTables(t), Options{Now: suiteNow})
	})
	allowed := []string{"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem", "BatchWriteItem"}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for op := range rec.ops {
		if !slices.Contains(allowed, op) {
			t.Errorf("the store used %s", op)
		}
	}
	for _, op := range []string{"GetItem", "Query", "BatchGetItem", "BatchWriteItem", "UpdateItem", "PutItem"} {
		if rec.ops[op] == 0 {
			t.Errorf("the contract suite never used %s", op)
		}
	}
}

// TestAPIHasNoScan pins the compile-time guarantee: the client interface the
// store holds offers only key-addressed reads and writes.
func TestAPIHasNoScan(t *testing.T) {
	api := reflect.TypeFor[API]()
	var methods []string
	for i := range api.NumMethod() {
		methods = append(methods, api.Method(i).Name)
	}
	want := []string{"BatchGetItem", "BatchWriteItem", "DeleteItem", "GetItem", "PutItem", "Query", "UpdateItem"}
	if !slices.Equal(methods, want) {
		t.Errorf("API methods = %v, want exactly %v", methods, want)
	}
	// the policy actions the template grants follow the interface
	var actions []string
	for _, m := range methods {
		actions = append(actions, "dynamodb:"+m)
	}
	if got := IAMActions(); !slices.Equal(got, actions) {
		t.Errorf("IAMActions() = %v, want %v", got, actions)
	}
}

func TestTableDefinitions(t *testing.T) {
	tables := Tables{Directory: "d", Messages: "m", Jobs: "j"}
	defs := TableDefinitions(tables)
	var names []string
	for _, d := range defs {
		names = append(names, *d.TableName)
		if d.BillingMode != "PAY_PER_REQUEST" {
			t.Errorf("%s: billing mode %s", *d.TableName, d.BillingMode)
		}
		var keys []string
		for _, k := range d.KeySchema {
			keys = append(keys, *k.AttributeName+":"+string(k.KeyType))
		}
		if !slices.Equal(keys, []string{"pk:HASH", "sk:RANGE"}) {
			t.Errorf("%s: key schema %v", *d.TableName, keys)
		}
		for _, a := range d.AttributeDefinitions {
			if a.AttributeType != "S" {
				t.Errorf("%s: attribute %s has type %s", *d.TableName, *a.AttributeName, a.AttributeType)
			}
		}
	}
	if !slices.Equal(names, []string{"d", "m", "j"}) {
		t.Errorf("tables = %v", names)
	}
}

func TestCreateTablesTwice(t *testing.T) {
	tables := freshTables(t)
	if err := CreateTables(t.Context(), client, tables); err != nil {
		t.Fatalf("second CreateTables: %v", err)
	}
	out, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: &tables.Messages})
	if err != nil {
		t.Fatal(err)
	}
	if out.Table.TableStatus != "ACTIVE" {
		t.Errorf("status = %s", out.Table.TableStatus)
	}
}

func TestKeyEncodingsSortAsTime(t *testing.T) {
	ints := []int64{-1 << 63, -1e15, -1001, -1000, -1, 0, 1, 999, 1000, 1710072000000, 1e18, 1<<63 - 1}
	for i := 1; i < len(ints); i++ {
		a, b := sortableInt(ints[i-1]), sortableInt(ints[i])
		if len(a) != 20 || len(b) != 20 || a >= b {
			t.Errorf("sortableInt(%d) = %s does not sort before sortableInt(%d) = %s", ints[i-1], a, ints[i], b)
		}
	}
	if got := sortableInt(1710072000000); got != "10000001710072000000" {
		t.Errorf("sortableInt of a 2024 ms = %s", got)
	}
	times := []time.Time{
		{},
		time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(-1, 999_999_999),
		time.Unix(0, 0),
		time.Unix(0, 1),
		time.Date(2024, 3, 10, 12, 0, 0, 999_999_999, time.UTC),
		time.Date(2024, 3, 10, 12, 0, 1, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		if a, b := sortableInstant(times[i-1]), sortableInstant(times[i]); a >= b {
			t.Errorf("instant %s does not sort before %s", a, b)
		}
	}
	// a millisecond's keys lie between its prefix and its range end, and
	// before the next millisecond's; hidden keys after every visible one
	for _, id := range []string{"", "a", "zzz", "~~~", "\U0010FFFF", "a#b$"} {
		k := messageSK(5, id, false)
		if !(msKey(5) <= k && k <= rangeEnd(5) && rangeEnd(5) < msKey(6)) {
			t.Errorf("key %q of ms 5 is outside [%q, %q]", k, msKey(5), rangeEnd(5))
		}
		if h := messageSK(-5, id, true); h <= rangeEnd(1<<62) {
			t.Errorf("hidden key %q sorts among visible keys", h)
		}
	}
	if c, f := ceilMillis(time.Unix(0, -1)), floorMillis(time.Unix(0, -1)); c != 0 || f != -1 {
		t.Errorf("ceil, floor of -1ns = %d, %d; want 0, -1", c, f)
	}
}

// openAt opens a store on fresh tables whose clock reads *now.
func openAt(t *testing.T, now *time.Time) (*Store, Tables) {
	t.Helper()
	tables := freshTables(t)
	return NewWith(client, tables, Options{Now: func() time.Time { return *now }}), tables
}

// rawItem reads an item directly, bypassing the store.
func rawItem(t *testing.T, table, pk, sk string) map[string]string {
	t.Helper()
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: &table, Key: itemKey(pk, sk)})
	if err != nil {
		t.Fatalf("GetItem %s %s: %v", pk, sk, err)
	}
	if len(out.Item) == 0 {
		return nil
	}
	flat := map[string]string{}
	for name := range out.Item {
		if v, ok := getS(out.Item, name); ok {
			flat[name] = v
		} else if n, ok := getN(out.Item, name); ok {
			flat[name] = fmt.Sprint(n)
		}
	}
	return flat
}

func TestJobsExpireByTTL(t *testing.T) {
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	s, tables := openAt(t, &now)
	ctx := t.Context()
	j := chat.Job{ID: "j1", OwnerID: "u1", DedupKey: "k", Status: chat.JobRunning,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(7 * 24 * time.Hour)}
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	wantTTL := fmt.Sprint(j.ExpiresAt.Add(DefaultJobRetention).Unix())
	if item := rawItem(t, tables.Jobs, "job#j1", "-"); item[TTLAttribute] != wantTTL {
		t.Errorf("job item ttl = %q, want %s", item[TTLAttribute], wantTTL)
	}
	if item := rawItem(t, tables.Jobs, "active#u1", activeSK(j)); item[TTLAttribute] != wantTTL || item[attrID] != "j1" {
		t.Errorf("active entry = %v, want id j1 and ttl %s", item, wantTTL)
	}

	// the day before the ttl everything is there
	now = j.ExpiresAt.Add(DefaultJobRetention - 24*time.Hour)
	if _, err := s.Job(ctx, "j1"); err != nil {
		t.Errorf("Job before its ttl: %v", err)
	}
	if got, err := s.ActiveJob(ctx, "u1", "k"); err != nil || got.ID != "j1" {
		t.Errorf("ActiveJob before the ttl = %s, %v", got.ID, err)
	}

	// past it, the unswept items read as absent (dynalite never sweeps)
	now = j.ExpiresAt.Add(DefaultJobRetention + time.Second)
	if _, err := s.Job(ctx, "j1"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("Job past its ttl: %v, want not found", err)
	}
	if _, err := s.ActiveJob(ctx, "u1", "k"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("ActiveJob past the ttl: %v, want not found", err)
	}
	next := j
	next.UpdatedAt = now
	if err := s.UpdateJob(ctx, next, j.UpdatedAt); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("UpdateJob past the ttl: %v, want not found", err)
	}

	// a job without ExpiresAt never expires
	forever := chat.Job{ID: "j2", OwnerID: "u1", Status: chat.JobDone, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateJob(ctx, forever); err != nil {
		t.Fatal(err)
	}
	if item := rawItem(t, tables.Jobs, "job#j2", "-"); item == nil || item[TTLAttribute] != "" {
		t.Errorf("job without ExpiresAt: item %v, want one with no ttl", item)
	}
	now = now.AddDate(100, 0, 0)
	if _, err := s.Job(ctx, "j2"); err != nil {
		t.Errorf("Job without ExpiresAt a century later: %v", err)
	}
}

func TestActiveIndexFollowsJobs(t *testing.T) {
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	s, tables := openAt(t, &now)
	ctx := t.Context()
	j := chat.Job{ID: "j1", OwnerID: "u1", DedupKey: "k", Status: chat.JobQueued, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if rawItem(t, tables.Jobs, "active#u1", activeSK(j)) == nil {
		t.Fatal("a queued job has no active entry")
	}
	done := j
	done.Status, done.UpdatedAt = chat.JobDone, now.Add(time.Second)
	if err := s.UpdateJob(ctx, done, j.UpdatedAt); err != nil {
		t.Fatal(err)
	}
	if item := rawItem(t, tables.Jobs, "active#u1", activeSK(j)); item != nil {
		t.Errorf("a done job keeps its active entry: %v", item)
	}

	// an entry whose job ended without it being deleted (an interrupted
	// update) is skipped
	if err := s.putActive(ctx, done); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ActiveJob(ctx, "u1", "k"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("ActiveJob with a stale entry: %v, want not found", err)
	}
	// and so is one whose job now has another dedup key
	other := chat.Job{ID: "j2", OwnerID: "u1", DedupKey: "k2", Status: chat.JobQueued, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateJob(ctx, other); err != nil {
		t.Fatal(err)
	}
	moved := other
	moved.DedupKey = "k"
	if err := s.putActive(ctx, moved); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ActiveJob(ctx, "u1", "k"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("ActiveJob with an entry of a job with another key: %v, want not found", err)
	}
	if got, err := s.ActiveJob(ctx, "u1", "k2"); err != nil || got.ID != "j2" {
		t.Errorf("ActiveJob(k2) = %s, %v", got.ID, err)
	}
	// a dedup key with the separator in it is its own key
	hashy := chat.Job{ID: "j3", OwnerID: "u1", DedupKey: "k#2", Status: chat.JobQueued, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateJob(ctx, hashy); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"k#2": "j3", "k2": "j2"} {
		if got, err := s.ActiveJob(ctx, "u1", key); err != nil || got.ID != want {
			t.Errorf("ActiveJob(%q) = %s, %v; want %s", key, got.ID, err, want)
		}
	}
}

func TestRateCounterCarriesTTL(t *testing.T) {
	now := time.Date(2024, 5, 1, 0, 0, 30, 0, time.UTC)
	s, tables := openAt(t, &now)
	if _, err := s.Allow(t.Context(), "rooms.export:u1", 10, time.Minute, now); err != nil {
		t.Fatal(err)
	}
	start := now.Truncate(time.Minute)
	item := rawItem(t, tables.Jobs, "rate#rooms.export:u1", sortableInstant(start))
	if item[attrCount] != "1" || item[TTLAttribute] != fmt.Sprint(start.Add(time.Minute).Unix()) {
		t.Errorf("counter item = %v, want c 1 and ttl at the window's end", item)
	}
}

func TestStaleUsernamePointerIgnored(t *testing.T) {
	now := time.Now()
	s, tables := openAt(t, &now)
	ctx := t.Context()
	if err := s.PutUsers(ctx, []chat.User{{ID: "u1", Username: "alice"}}); err != nil {
		t.Fatal(err)
	}
	// a pointer left behind (as an interrupted rename leaves it)
	stale := itemKey("username#old", "-")
	stale[attrID] = attrS("u1")
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &tables.Directory, Item: stale}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByUsername(ctx, "old"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("UserByUsername through a stale pointer: %v, want not found", err)
	}
	// u2 takes the name while u1's record still has it; renaming u1 then
	// must not drop the pointer, which is u2's now
	if err := s.PutUsers(ctx, []chat.User{{ID: "u2", Username: "alice"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutUsers(ctx, []chat.User{{ID: "u1", Username: "alicia"}}); err != nil {
		t.Fatal(err)
	}
	if u, err := s.UserByUsername(ctx, "alice"); err != nil || u.ID != "u2" {
		t.Errorf("UserByUsername(alice) = %+v, %v; want u2", u, err)
	}
}

func TestRejectsRecordsThatCannotBeKeyed(t *testing.T) {
	now := time.Now()
	s, _ := openAt(t, &now)
	ctx := t.Context()
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	long := strings.Repeat("x", 2000)
	cases := map[string]error{
		"message without id":        s.PutMessages(ctx, []chat.Message{{RoomID: "r", TS: ts}}),
		"message without room":      s.PutMessages(ctx, []chat.Message{{ID: "m", TS: ts}}),
		"message id not UTF-8":      s.PutMessages(ctx, []chat.Message{{ID: "m\xff", RoomID: "r", TS: ts}}),
		"message id too long":       s.PutMessages(ctx, []chat.Message{{ID: long, RoomID: "r", TS: ts}}),
		"user without id":           s.PutUsers(ctx, []chat.User{{Username: "x"}}),
		"username not UTF-8":        s.PutUsers(ctx, []chat.User{{ID: "u", Username: "\xfe"}}),
		"token without hash":        s.PutTokens(ctx, []chat.Token{{UserID: "u"}}),
		"permission without id":     s.PutPermissions(ctx, []chat.Permission{{Roles: []string{"admin"}}}),
		"room without id":           s.PutRooms(ctx, []chat.Room{{Name: "x"}}),
		"subscription without uid":  s.PutSubscriptions(ctx, []chat.Subscription{{RoomID: "r"}}),
		"upload without id":         s.PutUploads(ctx, []chat.Upload{{Name: "x"}}),
		"job without id":            s.CreateJob(ctx, chat.Job{OwnerID: "u"}),
		"job without owner":         s.CreateJob(ctx, chat.Job{ID: "j"}),
		"job with a huge dedup key": s.CreateJob(ctx, chat.Job{ID: "j", OwnerID: "u", DedupKey: long}),
	}
	for name, err := range cases {
		if err == nil || !strings.HasPrefix(err.Error(), "dynamo: ") {
			t.Errorf("%s: error = %v, want a dynamo error", name, err)
		}
	}
	// a refused batch writes nothing
	err := s.PutMessages(ctx, []chat.Message{{ID: "ok", RoomID: "r", TS: ts}, {ID: "", RoomID: "r", TS: ts}})
	if err == nil {
		t.Fatal("PutMessages with a bad record succeeded")
	}
	if got, _ := s.MessagesByID(ctx, "r", []string{"ok"}); len(got) != 0 {
		t.Errorf("a refused batch stored %d messages", len(got))
	}
	// ids that cannot have been stored are simply not found
	for name, err := range map[string]error{
		"UserByID long":     second(s.UserByID(ctx, long)),
		"Room not UTF-8":    second(s.Room(ctx, "\xff")),
		"Subscription ''":   second(s.Subscription(ctx, "r", "")),
		"Job ''":            second(s.Job(ctx, "")),
		"ActiveJob no user": second(s.ActiveJob(ctx, "", "k")),
		"TokenByHash ''":    second(s.TokenByHash(ctx, "")),
	} {
		if !errors.Is(err, chat.ErrNotFound) {
			t.Errorf("%s: %v, want not found", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestBadArguments(t *testing.T) {
	now := time.Now()
	s, _ := openAt(t, &now)
	ctx := t.Context()
	if _, _, err := s.MessagePage(ctx, export.MessageQuery{RoomID: "r", To: now, Limit: 0}); err == nil {
		t.Error("MessagePage with Limit 0 succeeded")
	}
	if _, err := s.Allow(ctx, "k", 1, 0, now); err == nil {
		t.Error("Allow with a zero window succeeded")
	}
	d, err := s.Allow(ctx, "k", 0, time.Minute, now)
	if err != nil || d.Allowed || d.Remaining != 0 {
		t.Errorf("Allow with limit 0 = %+v, %v; want refused", d, err)
	}
}

func TestCanceledContext(t *testing.T) {
	now := time.Now()
	s, _ := openAt(t, &now)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Room(ctx, "r"); !errors.Is(err, context.Canceled) {
		t.Errorf("Room with a canceled context: %v", err)
	}
	if err := s.PutRooms(ctx, []chat.Room{{ID: "r"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("PutRooms with a canceled context: %v", err)
	}
	if _, err := s.Room(t.Context(), "r"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("a canceled put stored the room: %v", err)
	}
}

// TestLargeBatchesAndBigPages goes past every request limit: more than 25
// writes and 100 keys per call, and Query responses cut at 1 MB.
func TestLargeBatchesAndBigPages(t *testing.T) {
	now := time.Now()
	tables := freshTables(t)
	rec := newRecorder(client)
	s := NewWith(rec, tables, Options{Now: func() time.Time { return now }})
	ctx := t.Context()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

	var msgs []chat.Message
	var ids []string
	for i := range 260 {
		m := chat.Message{ID: fmt.Sprintf("m%03d", i), RoomID: "small", TS: base.Add(time.Duration(i%50) * time.Second), Msg: "hi"}
		msgs = append(msgs, m)
		ids = append(ids, m.ID)
	}
	if err := s.PutMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if n := rec.count("BatchWriteItem"); n < 260*2/25 {
		t.Errorf("260 messages and pointers in %d BatchWriteItem calls, want at least %d", n, 260*2/25)
	}
	got, err := s.MessagesByID(ctx, "small", ids)
	if err != nil || len(got) != 260 {
		t.Fatalf("MessagesByID of 260 ids = %d messages, %v", len(got), err)
	}
	for i := 1; i < len(got); i++ {
		if a, b := got[i-1], got[i]; a.TS.After(b.TS) || (a.TS.Equal(b.TS) && a.ID >= b.ID) {
			t.Fatalf("MessagesByID out of order at %d: %s@%v, %s@%v", i, a.ID, a.TS, b.ID, b.TS)
		}
	}

	// 40 messages of 100 kB: a page of 30 needs several Query responses
	big := strings.Repeat("x", 100_000)
	msgs = msgs[:0]
	for i := range 40 {
		msgs = append(msgs, chat.Message{ID: fmt.Sprintf("b%02d", i), RoomID: "big", TS: base.Add(time.Duration(i) * time.Second), Msg: big})
	}
	if err := s.PutMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	before := rec.count("Query")
	page, more, err := s.MessagePage(ctx, export.MessageQuery{RoomID: "big", From: base, To: base.Add(time.Hour), Limit: 30})
	if err != nil || len(page) != 30 || !more {
		t.Fatalf("page of 30 big messages = %d, more %v, %v", len(page), more, err)
	}
	if page[29].ID != "b29" {
		t.Errorf("last of the page = %s, want b29", page[29].ID)
	}
	if q := rec.count("Query") - before; q < 3 {
		t.Errorf("30 messages of 100 kB in %d Query responses; DynamoDB cuts them at 1 MB", q)
	}
	page, more, err = s.MessagePage(ctx, export.MessageQuery{RoomID: "big", From: base, To: base.Add(time.Hour), Limit: 30,
		After: export.Cursor{TS: page[29].TS, ID: page[29].ID}})
	if err != nil || len(page) != 10 || more {
		t.Errorf("second page = %d, more %v, %v; want 10, false", len(page), more, err)
	}
	if n, err := s.CountMessages(ctx, "big", base, base.Add(time.Hour)); err != nil || n != 40 {
		t.Errorf("CountMessages of 4 MB = %d, %v; want 40", n, err)
	}
}

// benchRoom stores a room of 10,000 messages (r1, one a second from
// 2024-01-01) for the paging benchmarks, made like infra/bench's rooms:
// text of varied length with line breaks, quotes, markup and non-ASCII
// letters, every tenth message a thread reply, one in seven with
// reactions, one in twenty with a file.
func benchRoom(b *testing.B) (*Store, Tables, time.Time) {
	b.Helper()
	tables := freshTables(b)
	s, ctx := New(client, tables), b.Context()
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	words := []string{"deploy", "the", "*release*", "Grüße", "naïve", "`query()`", "\"quoted\"", "<b>", "東京", "👋🏽", "https://docs.example.com/a?b=1&c=2", ":tada:", "@alice", "\n"}
	users := []chat.UserRef{{ID: "u1", Username: "alice", Name: "Alice Ørsted"}, {ID: "u2", Username: "bob", Name: "Bob"}, {ID: "u3", Username: "chen.wei", Name: "Chen Wei 陈伟"}}
	msgs := make([]chat.Message, 0, 10000)
	for i := range cap(msgs) {
		var text strings.Builder
		for w := range 3 + (i*7)%60 {
			if w > 0 {
				text.WriteByte(' ')
			}
			text.WriteString(words[(i+w*w)%len(words)])
		}
		m := chat.Message{ID: fmt.Sprintf("m%06d", i), RoomID: "r1", TS: ts.Add(time.Duration(i) * time.Second),
			Msg: text.String(), U: users[i%len(users)]}
		if i%10 == 9 {
			m.ThreadID = fmt.Sprintf("m%06d", i-9)
		}
		if i%7 == 3 {
			m.Reactions = map[string]chat.Reaction{":+1:": {Usernames: []string{"bob", "chen.wei"}}}
		}
		if i%20 == 5 {
			m.Files = []chat.FileRef{{ID: fmt.Sprintf("f%06d", i), Name: "report.pdf", Type: "application/pdf", Size: 12345}}
			m.Attachments = []chat.Attachment{{Title: "report.pdf", TitleLink: "/file-upload/f/report.pdf", Type: "file"}}
		}
		msgs = append(msgs, m)
	}
	if err := s.PutMessages(ctx, msgs); err != nil {
		b.Fatal(err)
	}
	return s, tables, ts
}

// BenchmarkMessagePage pages through a room of 10,000 messages, 500 at a
// time, as an export does; ns/op is the whole room. BenchmarkQueryRaw is the
// floor it is measured against.
func BenchmarkMessagePage(b *testing.B) {
	s, _, ts := benchRoom(b)
	ctx := b.Context()
	q := export.MessageQuery{RoomID: "r1", From: ts, To: ts.Add(24 * time.Hour), Limit: 500}
	for b.Loop() {
		q.After = export.Cursor{}
		n := 0
		for {
			page, more, err := s.MessagePage(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			n += len(page)
			if !more {
				break
			}
			last := page[len(page)-1]
			q.After = export.Cursor{TS: last.TS, ID: last.ID}
		}
		if n != 10000 {
			b.Fatalf("paged %d messages, want 10000", n)
		}
	}
}

// BenchmarkQueryRaw pages through the room of BenchmarkMessagePage with
// the SDK alone (500 items per Query, projection d, nothing decoded), as
// infra/bench's raw Query does.
func BenchmarkQueryRaw(b *testing.B) {
	_, tables, _ := benchRoom(b)
	ctx := b.Context()
	for b.Loop() {
		in := &dynamodb.QueryInput{
			TableName:                &tables.Messages,
			KeyConditionExpression:   ptr("#pk = :pk AND #sk < :hidden"),
			ProjectionExpression:     ptr("#d"),
			ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK, "#d": attrData},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": attrS("r1"), ":hidden": attrS(hiddenMark),
			},
			Limit: ptr(int32(500)),
		}
		n := 0
		for {
			out, err := client.Query(ctx, in)
			if err != nil {
				b.Fatal(err)
			}
			n += len(out.Items)
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
		if n != 10000 {
			b.Fatalf("read %d items, want 10000", n)
		}
	}
}

// TestActiveEntryWrittenOncePerStore: saves of an active job from the
// version this store wrote put only the job; a store that did not write the
// version it replaces (another process, a takeover) puts the entry again,
// and the entry follows the job to its end either way.
func TestActiveEntryWrittenOncePerStore(t *testing.T) {
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	tables := freshTables(t)
	clock := func() time.Time { return now }
	rec := newRecorder(client)
	s := NewWith(rec, tables, Options{Now: clock})
	ctx := t.Context()
	j := chat.Job{ID: "j1", OwnerID: "u1", DedupKey: "k", Status: chat.JobQueued, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if got := rec.count("PutItem"); got != 2 {
		t.Fatalf("CreateJob: %d PutItems, want 2 (entry, job)", got)
	}
	save := func(st *Store, status string, exported int64) {
		t.Helper()
		prev := j.UpdatedAt
		j.Status, j.Exported, j.UpdatedAt = status, exported, prev.Add(time.Second)
		if err := st.UpdateJob(ctx, j, prev); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		save(s, chat.JobRunning, int64(i))
	}
	if got := rec.count("PutItem"); got != 5 {
		t.Errorf("three saves of a running job: %d PutItems in all, want 5 (no entry again)", got)
	}
	if got, err := s.ActiveJob(ctx, "u1", "k"); err != nil || got.Exported != 2 {
		t.Fatalf("ActiveJob after the saves = %+v, %v", got, err)
	}

	// another process takes over: it does not know the entry, so it puts it
	other := newRecorder(client)
	o := NewWith(other, tables, Options{Now: clock})
	save(o, chat.JobRunning, 10)
	if got := other.count("PutItem"); got != 2 {
		t.Errorf("a takeover's first save: %d PutItems, want 2 (entry, job)", got)
	}
	// the first store's next save starts from a version it did not write:
	// it fails on the condition, and forgets what it knew
	stale := j
	stale.UpdatedAt = stale.UpdatedAt.Add(time.Second)
	if err := s.UpdateJob(ctx, stale, j.UpdatedAt.Add(-time.Second)); !errors.Is(err, chat.ErrConflict) {
		t.Fatalf("save from a version another store replaced: %v, want a conflict", err)
	}
	// a new expiry is a new entry: it is put even from a known version
	before := other.count("PutItem")
	j.ExpiresAt = j.ExpiresAt.Add(time.Hour)
	save(o, chat.JobRunning, 11)
	if got := other.count("PutItem") - before; got != 2 {
		t.Errorf("save with a new ttl: %d PutItems, want 2", got)
	}
	if item := rawItem(t, tables.Jobs, "active#u1", activeSK(j)); item[TTLAttribute] != fmt.Sprint(s.jobTTLOrZero(j)) {
		t.Errorf("entry after the new expiry = %v", item)
	}
	save(o, chat.JobDone, 12)
	if item := rawItem(t, tables.Jobs, "active#u1", activeSK(j)); item != nil {
		t.Errorf("a done job keeps its active entry: %v", item)
	}
	if _, err := o.ActiveJob(ctx, "u1", "k"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("ActiveJob after the end: %v, want not found", err)
	}
}

// jobTTLOrZero is the ttl an item of j carries, 0 for none.
func (s *Store) jobTTLOrZero(j chat.Job) int64 {
	ttl, _ := s.jobTTL(j)
	return ttl
}

// failingEntries is an API whose PutItems of active-index entries fail.
type failingEntries struct{ API }

func (f failingEntries) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if pk, ok := in.Item[attrPK].(*types.AttributeValueMemberS); ok && strings.HasPrefix(pk.Value, pfxActive) {
		return nil, errors.New("injected: entry put failed")
	}
	return f.API.PutItem(ctx, in, o...)
}

// TestCreateJobWithoutItsEntryLeavesNoJob: the entry and the job are put at
// once; when the entry's put fails, CreateJob fails and the job is gone.
func TestCreateJobWithoutItsEntryLeavesNoJob(t *testing.T) {
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	tables := freshTables(t)
	s := NewWith(failingEntries{client}, tables, Options{Now: func() time.Time { return now }})
	j := chat.Job{ID: "j1", OwnerID: "u1", DedupKey: "k", Status: chat.JobRunning, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateJob(t.Context(), j); err == nil || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("CreateJob with a failing entry put: %v, want its error", err)
	}
	if item := rawItem(t, tables.Jobs, pfxJob+"j1", noSort); item != nil {
		t.Errorf("the job stayed without its entry: %v", item)
	}
	// a job that is not active has no entry to fail
	done := j
	done.ID, done.Status = "j2", chat.JobDone
	if err := s.CreateJob(t.Context(), done); err != nil {
		t.Fatalf("CreateJob of a done job: %v", err)
	}
}

// TestEndingAJobAnotherRunSavedKeepsItsEntry: a store that ends a job from
// the version it wrote deletes the entry while it puts the job; when the put
// fails because another run saved the job since, the entry is put back for
// the job still active.
func TestEndingAJobAnotherRunSavedKeepsItsEntry(t *testing.T) {
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	tables := freshTables(t)
	clock := func() time.Time { return now }
	s := NewWith(client, tables, Options{Now: clock})
	o := NewWith(client, tables, Options{Now: clock})
	ctx := t.Context()
	j := chat.Job{ID: "j1", OwnerID: "u1", DedupKey: "k", Status: chat.JobRunning, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	taken := j
	taken.Attempts, taken.UpdatedAt = 2, now.Add(time.Second)
	if err := o.UpdateJob(ctx, taken, j.UpdatedAt); err != nil {
		t.Fatal(err)
	}
	done := j
	done.Status, done.UpdatedAt = chat.JobDone, now.Add(2*time.Second)
	if err := s.UpdateJob(ctx, done, j.UpdatedAt); !errors.Is(err, chat.ErrConflict) {
		t.Fatalf("ending a job another run saved: %v, want a conflict", err)
	}
	if got, err := o.ActiveJob(ctx, "u1", "k"); err != nil || got.Attempts != 2 {
		t.Fatalf("ActiveJob after the failed end = %+v, %v; want the other run's job", got, err)
	}
	// the other run ends it: the entry goes
	fin := taken
	fin.Status, fin.UpdatedAt = chat.JobDone, now.Add(3*time.Second)
	if err := o.UpdateJob(ctx, fin, taken.UpdatedAt); err != nil {
		t.Fatal(err)
	}
	if item := rawItem(t, tables.Jobs, "active#u1", activeSK(j)); item != nil {
		t.Errorf("a done job keeps its active entry: %v", item)
	}
}

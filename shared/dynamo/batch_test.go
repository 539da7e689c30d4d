package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// stingy is an API that, while its budget lasts, lets DynamoDB process only
// the first half (rounded down) of each table's part of a batch and hands
// the rest back as unprocessed, as DynamoDB does under throttling.
type stingy struct {
	API
	mu         sync.Mutex
	writeCut   int // BatchWriteItem calls still to cut short; < 0: every call
	getCut     int // the same for BatchGetItem
	writeCalls int
	getCalls   int
	writesSent int // write requests received, retries included
}

// take reports whether a call is cut short, and counts it against budget.
func (f *stingy) take(budget *int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if *budget == 0 {
		return false
	}
	if *budget > 0 {
		*budget--
	}
	return true
}

func (f *stingy) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	f.mu.Lock()
	f.writeCalls++
	for _, reqs := range in.RequestItems {
		f.writesSent += len(reqs)
	}
	f.mu.Unlock()
	if !f.take(&f.writeCut) {
		return f.API.BatchWriteItem(ctx, in, o...)
	}
	send, rest := map[string][]types.WriteRequest{}, map[string][]types.WriteRequest{}
	for table, reqs := range in.RequestItems {
		half := len(reqs) / 2
		if half > 0 {
			send[table] = reqs[:half]
		}
		rest[table] = reqs[half:]
	}
	if len(send) > 0 {
		out, err := f.API.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: send}, o...)
		if err != nil {
			return nil, err
		}
		if len(out.UnprocessedItems) > 0 {
			return nil, errors.New("stingy: the emulator left items unprocessed")
		}
	}
	return &dynamodb.BatchWriteItemOutput{UnprocessedItems: rest}, nil
}

func (f *stingy) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	f.mu.Lock()
	f.getCalls++
	f.mu.Unlock()
	if !f.take(&f.getCut) {
		return f.API.BatchGetItem(ctx, in, o...)
	}
	send, rest := map[string]types.KeysAndAttributes{}, map[string]types.KeysAndAttributes{}
	for table, ka := range in.RequestItems {
		half := len(ka.Keys) / 2
		first, second := ka, ka
		first.Keys, second.Keys = ka.Keys[:half], ka.Keys[half:]
		if half > 0 {
			send[table] = first
		}
		rest[table] = second
	}
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}, UnprocessedKeys: rest}
	if len(send) > 0 {
		got, err := f.API.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: send}, o...)
		if err != nil {
			return nil, err
		}
		out.Responses = got.Responses
	}
	return out, nil
}

// stingyStore is a store on fresh tables behind a stingy client whose
// backoff pauses are recorded instead of slept.
func stingyStore(t *testing.T, writeCut, getCut int) (*Store, *stingy, *[]int) {
	t.Helper()
	f := &stingy{API: client, writeCut: writeCut, getCut: getCut}
	s := New(f, freshTables(t))
	var (
		mu       sync.Mutex
		attempts []int
	)
	s.backoff = func(attempt int) time.Duration {
		mu.Lock()
		attempts = append(attempts, attempt)
		mu.Unlock()
		return time.Microsecond
	}
	return s, f, &attempts
}

func TestUnprocessedItemsAreRetried(t *testing.T) {
	s, f, attempts := stingyStore(t, 6, 0)
	ctx := t.Context()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var msgs []chat.Message
	var ids []string
	for i := range 60 {
		msgs = append(msgs, chat.Message{ID: fmt.Sprintf("m%02d", i), RoomID: "r", TS: base.Add(time.Duration(i) * time.Second), Msg: "x"})
		ids = append(ids, msgs[i].ID)
	}
	if err := s.PutMessages(ctx, msgs); err != nil {
		t.Fatalf("PutMessages through a throttled client: %v", err)
	}
	// 120 writes (messages and pointers) took more than the 5 calls of 25
	// they fill, and every write was sent again until it was processed
	if f.writeCalls <= 5 || f.writesSent <= 120 {
		t.Errorf("BatchWriteItem calls = %d carrying %d writes; want retries beyond 5 calls and 120 writes", f.writeCalls, f.writesSent)
	}
	if len(*attempts) == 0 {
		t.Errorf("no backoff before a retry")
	}
	n, err := s.CountMessages(ctx, "r", base, base.Add(time.Hour))
	if err != nil || n != 60 {
		t.Fatalf("CountMessages after throttled writes = %d, %v; want 60", n, err)
	}

	// reads: BatchGetItem calls cut short
	f.mu.Lock()
	f.getCut, f.getCalls = 3, 0
	f.mu.Unlock()
	got, err := s.MessagesByID(ctx, "r", ids)
	if err != nil || len(got) != 60 {
		t.Fatalf("MessagesByID through a throttled client = %d messages, %v; want 60", len(got), err)
	}
	if f.getCalls <= 2 {
		t.Errorf("BatchGetItem calls = %d; want retries beyond the 2 calls of a clean read", f.getCalls)
	}
}

func TestBackoffGrowsPerChunk(t *testing.T) {
	s, _, attempts := stingyStore(t, 3, 0)
	rooms := []chat.Room{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}, {ID: "e"}, {ID: "f"}, {ID: "g"}, {ID: "h"}}
	if err := s.PutRooms(t.Context(), rooms); err != nil {
		t.Fatal(err)
	}
	// one chunk of 8: 4 processed, then 2, then 1, then the last 1
	if got := fmt.Sprint(*attempts); got != "[0 1 2]" {
		t.Errorf("backoff attempts = %s, want [0 1 2]", got)
	}
	for _, r := range rooms {
		if _, err := s.Room(t.Context(), r.ID); err != nil {
			t.Errorf("Room %s after throttled writes: %v", r.ID, err)
		}
	}
}

func TestUnprocessedItemsGiveUp(t *testing.T) {
	s, f, _ := stingyStore(t, -1, -1)
	// one write per chunk: half of 1 is 0, so nothing is ever processed
	err := s.PutRooms(t.Context(), []chat.Room{{ID: "r"}})
	if err == nil || !strings.Contains(err.Error(), "unprocessed after 10 attempts") {
		t.Fatalf("PutRooms through a client that processes nothing: %v", err)
	}
	if f.writeCalls != maxBatchAttempts {
		t.Errorf("BatchWriteItem calls = %d, want %d", f.writeCalls, maxBatchAttempts)
	}
	_, err = s.MessagesByID(t.Context(), "r", []string{"m"})
	if err == nil || !strings.Contains(err.Error(), "unprocessed after 10 attempts") {
		t.Errorf("MessagesByID through a client that processes nothing: %v", err)
	}
}

func TestBackoffStopsWithTheContext(t *testing.T) {
	s, _, _ := stingyStore(t, -1, -1)
	s.backoff = func(int) time.Duration { return time.Hour }
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := s.PutRooms(ctx, []chat.Room{{ID: "r"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("PutRooms waiting on backoff past its deadline: %v", err)
	}
}

func TestJitterBackoffBounds(t *testing.T) {
	for attempt := range 40 {
		limit := backoffCap
		if attempt < 16 {
			limit = min(backoffCap, backoffBase<<attempt)
		}
		for range 50 {
			if d := jitterBackoff(attempt); d <= 0 || d > limit+time.Millisecond {
				t.Fatalf("jitterBackoff(%d) = %v, want in (0, %v]", attempt, d, limit+time.Millisecond)
			}
		}
	}
}

package dynamo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Batch limits of DynamoDB, and how often a batch's unprocessed part is
// sent again before the call gives up.
const (
	batchWriteMax    = 25
	batchGetMax      = 100
	maxBatchAttempts = 10
	backoffBase      = 25 * time.Millisecond
	backoffCap       = 2 * time.Second
)

// jitterBackoff is exponential backoff with full jitter, as the AWS
// architecture blog recommends for retrying unprocessed batch items: a
// random pause in [0, min(cap, base·2^attempt)).
func jitterBackoff(attempt int) time.Duration {
	d := backoffCap
	if attempt < 16 {
		d = min(backoffCap, backoffBase<<attempt)
	}
	return rand.N(d) + time.Millisecond
}

// sleep pauses for d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parallel runs fn(ctx, i) for i in [0, n), at most s.concurrency at a time,
// and returns the first error; once one fails the others see a canceled
// context and no new ones start.
func (s *Store) parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	if n == 1 {
		return fn(ctx, 0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		sem   = make(chan struct{}, s.concurrency)
	)
	fail := func(err error) {
		once.Do(func() { first = err; cancel() })
	}
loop:
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// write is one request of a BatchWriteItem: a put or a delete in a table.
type write struct {
	table string
	req   types.WriteRequest
}

func putReq(table string, item map[string]types.AttributeValue) write {
	return write{table, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}}
}

func deleteReq(table, pk, sk string) write {
	return write{table, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: itemKey(pk, sk)}}}
}

// batchWrite sends the writes in BatchWriteItem calls of at most 25, a few
// at a time, and sends UnprocessedItems again with backoff until none are
// left or maxBatchAttempts calls were made. Writes of one call must not name
// the same item twice; calls are not ordered, so neither may writes of one
// batchWrite.
func (s *Store) batchWrite(ctx context.Context, writes []write) error {
	if len(writes) == 0 {
		return ctx.Err()
	}
	chunks := (len(writes) + batchWriteMax - 1) / batchWriteMax
	return s.parallel(ctx, chunks, func(ctx context.Context, i int) error {
		chunk := writes[i*batchWriteMax : min((i+1)*batchWriteMax, len(writes))]
		pending := make(map[string][]types.WriteRequest)
		for _, w := range chunk {
			pending[w.table] = append(pending[w.table], w.req)
		}
		for attempt := 0; ; attempt++ {
			out, err := s.api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return fmt.Errorf("batch write: %w", err)
			}
			if len(out.UnprocessedItems) == 0 {
				return nil
			}
			pending = out.UnprocessedItems
			if attempt+1 >= maxBatchAttempts {
				n := 0
				for _, reqs := range pending {
					n += len(reqs)
				}
				return fmt.Errorf("batch write: %d items still unprocessed after %d attempts", n, maxBatchAttempts)
			}
			if err := sleep(ctx, s.backoff(attempt)); err != nil {
				return err
			}
		}
	})
}

// batchGet reads the items with the given keys from one table with
// BatchGetItem calls of at most 100 keys, a few at a time, and asks again
// for UnprocessedKeys with backoff. Keys must be distinct. Items come back
// in no particular order; missing ones are left out.
func (s *Store) batchGet(ctx context.Context, table string, keys []map[string]types.AttributeValue, consistent bool, names ...string) ([]map[string]types.AttributeValue, error) {
	if len(keys) == 0 {
		return nil, ctx.Err()
	}
	p := projection(names...)
	var (
		mu    sync.Mutex
		items []map[string]types.AttributeValue
	)
	chunks := (len(keys) + batchGetMax - 1) / batchGetMax
	err := s.parallel(ctx, chunks, func(ctx context.Context, i int) error {
		pending := map[string]types.KeysAndAttributes{table: {
			Keys:                     keys[i*batchGetMax : min((i+1)*batchGetMax, len(keys))],
			ConsistentRead:           &consistent,
			ProjectionExpression:     &p.expr,
			ExpressionAttributeNames: p.names,
		}}
		for attempt := 0; ; attempt++ {
			out, err := s.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return fmt.Errorf("batch get: %w", err)
			}
			mu.Lock()
			items = append(items, out.Responses[table]...)
			mu.Unlock()
			if len(out.UnprocessedKeys) == 0 {
				return nil
			}
			pending = out.UnprocessedKeys
			if attempt+1 >= maxBatchAttempts {
				return fmt.Errorf("batch get: %d keys still unprocessed after %d attempts", len(pending[table].Keys), maxBatchAttempts)
			}
			if err := sleep(ctx, s.backoff(attempt)); err != nil {
				return err
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return items, nil
}

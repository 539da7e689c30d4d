package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rooms-export/rooms-export/shared/export"
)

// Allow counts a call under key in the fixed window [now.Truncate(window),
// +window). Rocket.Chat's API limiter allows numRequestsAllowed calls per
// intervalTimeInMS in one process's memory; here the windows are aligned and
// the counters shared by every Lambda instance. One UpdateItem per call:
// ADD c 1 under the condition that c is absent or below the limit, so
// concurrent callers are serialised by DynamoDB and the call that would
// exceed the limit is refused (the condition fails) and not counted. The
// counter's ttl is the end of its window.
func (s *Store) Allow(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (export.RateDecision, error) {
	if window <= 0 {
		return export.RateDecision{}, fmt.Errorf("dynamo: rate limit %s: window %s is not positive", key, window)
	}
	if err := checkKeyPart("rate-limit key", key); err != nil {
		return export.RateDecision{}, fmt.Errorf("dynamo: rate limit: %w", err)
	}
	start := now.Truncate(window)
	reset := start.Add(window)
	d := export.RateDecision{Limit: limit, Reset: reset}
	if limit <= 0 {
		return d, ctx.Err()
	}
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.t.Jobs,
		Key:                      itemKey(pfxRate+key, sortableInstant(start)),
		UpdateExpression:         ptr("ADD #c :one SET #ttl = :ttl"),
		ConditionExpression:      ptr("attribute_not_exists(#c) OR #c < :limit"),
		ExpressionAttributeNames: map[string]string{"#c": attrCount, "#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": attrN(1), ":limit": attrN(int64(limit)), ":ttl": attrN(unixCeil(reset)),
		},
		ReturnValues: types.ReturnValueUpdatedNew,
	})
	if isConditionFailed(err) {
		return d, nil // refused: the window's calls are used up
	}
	if err != nil {
		return export.RateDecision{}, fmt.Errorf("dynamo: rate limit %s: %w", key, err)
	}
	n, ok := getN(out.Attributes, attrCount)
	if !ok {
		return export.RateDecision{}, fmt.Errorf("dynamo: rate limit %s: the update returned no count", key)
	}
	d.Allowed = true
	d.Remaining = max(limit-int(n), 0)
	return d, nil
}

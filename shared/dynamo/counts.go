package dynamo

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Day counters, as in the embedded store (shared/boltstore/counts.go): for
// each room and UTC day, how many visible messages it has. CountMessages —
// which every export runs before its first page, inside the API request —
// adds up the counters of the whole days in its range and COUNT-Queries only
// the partial days at its ends, so it reads a few hundred small items
// instead of every message of the room (a COUNT Query reads each item it
// counts: about 400 sequential 1 MB pages for a million messages).
//
// The counters live in the Directory table, in a key space of their own:
//
//	Directory  days#<rid>  <day>  c: visible messages of the room that day
//
// <day> is the day's number since the epoch in sortableInt form, so a range
// of days is one BETWEEN. No Query of the Messages table can reach them:
// its visible range, sk < "h", holds only message keys.
//
// PutMessages keeps them: it already reads each message's pointer (msg#<id>)
// before writing, which says where the message was; the pointer's n says the
// message is counted in the day of that place. From old and new places it
// gathers one delta per (room, day) and sends each as an UpdateItem ADD, so
// re-putting a message changes nothing and a message that moves (ts, room)
// or whose visibility changes moves between counters. A counter that drops
// to zero stays, with 0: deleting it would race with a concurrent ADD.
//
// Limits, since DynamoDB transactions are not used (dynalite has none):
//   - Two calls that put the same messages at the same time both see the
//     old pointers and both apply the delta, so the counters count those
//     messages twice. Concurrent loaders of the same messages are not
//     supported; concurrent loaders of different messages are (ADD
//     commutes).
//   - The counters are updated after the messages are written and before
//     the pointers of moved messages are: a call cut short can leave the
//     counters of the days it touched off by up to its own messages (low
//     for new messages whose pointers were written, high for moved ones
//     whose counters were), and putting the same messages again does not
//     repair that. CountMessages is then an estimate, which is all the port
//     promises; the export itself never depends on it.
//   - Messages stored by a version without counters have pointers without
//     n: loading them again (the loader is idempotent) counts them and marks
//     their pointers. Until then, CountMessages falls back to an exact COUNT
//     of the whole days when it finds no counter at all in them, which is
//     exact for a room loaded entirely before the counters existed; a room
//     loaded partly before and partly after counts low until it is loaded
//     again.

// pfxDays is the Directory partition key prefix of a room's day counters.
const pfxDays = "days#"

// attrCounted marks a pointer whose message is counted in the day counter
// of the place the pointer records.
const attrCounted = "n"

// msPerDay is the length of a counter's day, and dayBound (about 142,000
// years, in milliseconds) the farthest from the epoch that CountMessages
// uses counters.
const (
	msPerDay = 24 * 60 * 60 * 1000
	dayBound = 1 << 52
)

// dayOf is the day of a millisecond timestamp (days since the epoch, rounded
// down).
func dayOf(ms int64) int64 {
	d := ms / msPerDay
	if ms%msPerDay < 0 {
		d--
	}
	return d
}

// keyMillis is the timestamp of a visible message's sort key
// (<ts>#<_id>, <ts> in sortableInt form); ok is false for any other key.
func keyMillis(mk string) (ms int64, ok bool) {
	if len(mk) < 21 || mk[20] != '#' || (mk[0] != '0' && mk[0] != '1') {
		return 0, false
	}
	u, err := strconv.ParseUint(mk[1:20], 10, 64)
	if err != nil {
		return 0, false
	}
	if mk[0] == '0' {
		return int64(u - 1e19), true // wraps back to u - 10^19 < 0
	}
	return int64(u), true
}

// dayRef names one counter: a room's day.
type dayRef struct {
	rid string
	day int64
}

// dayDeltas gathers the changes of one PutMessages to the counters.
type dayDeltas map[dayRef]int64

// count adds delta to the counter of the message stored at (rid, mk) when
// counted is set and mk is a visible message's key.
func (d dayDeltas) count(rid, mk string, counted bool, delta int64) {
	if ms, ok := keyMillis(mk); ok && counted {
		d[dayRef{rid, dayOf(ms)}] += delta
	}
}

// applyDays sends the non-zero deltas, one UpdateItem ADD per counter, a
// few at a time.
func (s *Store) applyDays(ctx context.Context, deltas dayDeltas) error {
	refs := make([]dayRef, 0, len(deltas))
	for ref, n := range deltas {
		if n != 0 {
			refs = append(refs, ref)
		}
	}
	if len(refs) == 0 {
		return ctx.Err()
	}
	return s.parallel(ctx, len(refs), func(ctx context.Context, i int) error {
		ref := refs[i]
		_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 &s.t.Directory,
			Key:                       itemKey(pfxDays+ref.rid, sortableInt(ref.day)),
			UpdateExpression:          ptr("ADD #c :d"),
			ExpressionAttributeNames:  map[string]string{"#c": attrCount},
			ExpressionAttributeValues: map[string]types.AttributeValue{":d": attrN(deltas[ref])},
		})
		if err != nil {
			return fmt.Errorf("day counter %s/%d: %w", ref.rid, ref.day, err)
		}
		return nil
	})
}

// countRange counts the room's visible messages with fromMs <= ts <= toMs
// (fromMs <= toMs): the counters of the whole days in the range, and COUNT
// Queries of the partial days at its ends, the three requests at once.
func (s *Store) countRange(ctx context.Context, rid string, fromMs, toMs int64) (int64, error) {
	// the first day starting at or after fromMs and the last one ending at
	// or before toMs; counters are used only within ±dayBound, so that the
	// day arithmetic never overflows (the ends beyond are counted exactly)
	first := dayOf(max(fromMs, -dayBound)-1) + 1
	last := dayOf(min(toMs, dayBound)+1) - 1
	if first > last {
		return s.countKeys(ctx, rid, fromMs, toMs)
	}
	var (
		head, tail, days int64
		found            bool
	)
	err := s.parallel(ctx, 3, func(ctx context.Context, i int) error {
		var err error
		switch i {
		case 0:
			head, err = s.countKeys(ctx, rid, fromMs, first*msPerDay-1)
		case 1:
			tail, err = s.countKeys(ctx, rid, (last+1)*msPerDay, toMs)
		default:
			days, found, err = s.sumDays(ctx, rid, first, last)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	if !found {
		// no counter at all: days without messages, or messages stored
		// before the counters existed; an exact count tells them apart
		// (and reads nothing in the first case)
		if days, err = s.countKeys(ctx, rid, first*msPerDay, (last+1)*msPerDay-1); err != nil {
			return 0, err
		}
	}
	return max(head+tail+days, 0), nil
}

// countKeys counts the room's visible messages with fromMs <= ts <= toMs
// with COUNT Queries, which return no items; nothing is asked when the
// range is empty.
func (s *Store) countKeys(ctx context.Context, rid string, fromMs, toMs int64) (int64, error) {
	if fromMs > toMs {
		return 0, ctx.Err()
	}
	in := s.queryInput(rid, messageRange{lo: msKey(fromMs), hi: rangeEnd(toMs)})
	in.Select = types.SelectCount
	var n int64
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("count keys: %w", err)
		}
		n += int64(out.Count)
		if len(out.LastEvaluatedKey) == 0 {
			return n, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// sumDays adds up the room's counters of the days first..last; found is
// false when there is none.
func (s *Store) sumDays(ctx context.Context, rid string, first, last int64) (n int64, found bool, err error) {
	p := projection(attrCount)
	in := &dynamodb.QueryInput{
		TableName:              &s.t.Directory,
		KeyConditionExpression: ptr("#pk = :pk AND #sk BETWEEN :lo AND :hi"),
		ProjectionExpression:   &p.expr,
		ExpressionAttributeNames: map[string]string{
			"#pk": attrPK, "#sk": attrSK,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": attrS(pfxDays + rid), ":lo": attrS(sortableInt(first)), ":hi": attrS(sortableInt(last)),
		},
	}
	for ph, name := range p.names {
		in.ExpressionAttributeNames[ph] = name
	}
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return 0, false, fmt.Errorf("day counters: %w", err)
		}
		for _, item := range out.Items {
			c, _ := getN(item, attrCount)
			n += c
			found = true
		}
		if len(out.LastEvaluatedKey) == 0 {
			return n, found, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

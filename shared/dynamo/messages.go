package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// Sort-key marks. Visible messages' sort keys start with a digit; hiddenMark
// starts the key of a hidden copy and filesMark the key of a files-index
// entry. Both sort after every digit, so no time range of visible keys
// reaches them, and filesMark sorts after hiddenMark, so sk < hiddenMark
// stays the whole visible room.
const (
	hiddenMark = "h"
	filesMark  = "i"
)

// msKey is the sort-key prefix of every message of the millisecond ms.
func msKey(ms int64) string { return sortableInt(ms) }

// messageSK is a message's sort key: <ts>#<_id>, with the hidden mark
// before it for a hidden copy.
func messageSK(ms int64, id string, hidden bool) string {
	k := msKey(ms) + "#" + id
	if hidden {
		return hiddenMark + k
	}
	return k
}

// filesSK is the sort key of the files-index entry of the visible message
// whose sort key is mk.
func filesSK(mk string) string { return filesMark + mk }

// rangeEnd is a sort key after every key of the millisecond ms and before
// every key of the next one: "$" follows the "#" separator.
func rangeEnd(ms int64) string { return msKey(ms) + "$" }

// messageRange is the part of a room a query reads: sort keys in [lo, hi],
// starting after start when it is set. ok is false when the range is empty.
type messageRange struct {
	lo, hi, start string
}

// pageRange computes the sort-key range of a page: [From, To] at
// millisecond precision, rounded inwards (stored ts have ms precision), and
// strictly after the cursor. An exact cursor inside the range becomes the
// query's ExclusiveStartKey; a cursor with sub-millisecond precision starts
// at the next millisecond, since nothing stored at floor(ts) is after it.
func pageRange(from, to time.Time, after export.Cursor) (messageRange, bool) {
	fromMs, toMs := ceilMillis(from), floorMillis(to)
	if fromMs > toMs {
		return messageRange{}, false
	}
	r := messageRange{lo: msKey(fromMs), hi: rangeEnd(toMs)}
	if after.IsZero() {
		return r, true
	}
	if after.TS.Nanosecond()%int(time.Millisecond) != 0 {
		afterMs := floorMillis(after.TS)
		if afterMs >= toMs {
			return messageRange{}, false
		}
		if afterMs+1 > fromMs {
			r.lo = msKey(afterMs + 1)
		}
		return r, true
	}
	a := msKey(floorMillis(after.TS)) + "#" + after.ID
	switch {
	case a >= r.hi:
		return messageRange{}, false
	case a >= r.lo:
		r.start = a
	}
	return r, true
}

// marked is the range of the keys that start with mark followed by a key
// of r: the same messages in another key space (the files index).
func (r messageRange) marked(mark string) messageRange {
	if mark == "" {
		return r
	}
	r.lo, r.hi = mark+r.lo, mark+r.hi
	if r.start != "" {
		r.start = mark + r.start
	}
	return r
}

// queryInput is a Query of the room's sort keys in r.
func (s *Store) queryInput(rid string, r messageRange) *dynamodb.QueryInput {
	in := &dynamodb.QueryInput{
		TableName:                &s.t.Messages,
		KeyConditionExpression:   ptr("#pk = :pk AND #sk BETWEEN :lo AND :hi"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": attrS(rid), ":lo": attrS(r.lo), ":hi": attrS(r.hi),
		},
	}
	if r.start != "" {
		in.ExclusiveStartKey = itemKey(rid, r.start)
	}
	return in
}

// MessagePage returns the room's visible messages with From <= ts <= To
// (inclusive, millisecond precision), strictly after q.After in (ts, _id)
// order: Rocket.Chat's Messages.findVisibleByRoomIdBetweenTimestamps sorted
// by ts, with _id breaking ties so that keyset paging is exact. It asks for
// one message more than the limit, so more is true exactly when another
// message follows the page; it Queries on when DynamoDB stops a response
// early (at 1 MB).
func (s *Store) MessagePage(ctx context.Context, q export.MessageQuery) ([]chat.Message, bool, error) {
	return s.page(ctx, q, "", "message page")
}

// FileMessages is MessagePage restricted to the visible messages that carry
// files (file or files), read from the room's files index (sort keys
// i<ts>#<_id>, which PutMessages keeps), one Query per page like
// MessagePage: the export's assets pass (Rocket.Chat's exporter copies the
// uploads its messages reference) reads only those instead of the whole
// room again.
func (s *Store) FileMessages(ctx context.Context, q export.MessageQuery) ([]chat.Message, bool, error) {
	return s.page(ctx, q, filesMark, "file messages")
}

// page is MessagePage over the sort keys that start with mark followed by a
// message key: "" for the messages, filesMark for the files index.
func (s *Store) page(ctx context.Context, q export.MessageQuery, mark, op string) ([]chat.Message, bool, error) {
	if q.Limit <= 0 {
		return nil, false, fmt.Errorf("dynamo: %s %s: limit %d is not positive", op, q.RoomID, q.Limit)
	}
	r, ok := pageRange(q.From, q.To, q.After)
	if !ok || checkKeyPart("rid", q.RoomID) != nil {
		return nil, false, ctx.Err()
	}
	want := min(q.Limit, math.MaxInt32-1) + 1
	in := s.queryInput(q.RoomID, r.marked(mark))
	p := projection(attrData)
	in.ProjectionExpression = &p.expr
	for ph, name := range p.names {
		in.ExpressionAttributeNames[ph] = name
	}
	msgs := make([]chat.Message, 0, min(want, 1024))
	var dec messageReader
	var raw rawPage // reads the items' d from the response (rawquery.go)
	more := false
	for {
		in.Limit = ptr(int32(want - len(msgs)))
		out, err := s.api.Query(ctx, in, raw.option)
		if err != nil {
			return nil, false, fmt.Errorf("dynamo: %s %s: %w", op, q.RoomID, err)
		}
		n, lastKey := len(out.Items), out.LastEvaluatedKey
		if raw.ok {
			n, lastKey = len(raw.data), raw.lastKey
		}
		for i := range n {
			if len(msgs) == q.Limit {
				more = true
				break
			}
			msgs = append(msgs, chat.Message{})
			m := &msgs[len(msgs)-1]
			if raw.ok {
				err = rawMessage(&dec, raw.data[i], m)
			} else {
				err = itemMessage(&dec, out.Items[i], m)
			}
			if err != nil {
				return nil, false, fmt.Errorf("dynamo: %s %s: %w", op, q.RoomID, err)
			}
		}
		if more || len(lastKey) == 0 {
			return msgs, more, nil
		}
		in.ExclusiveStartKey = lastKey
	}
}

// itemMessage decodes the message an item of the Messages table holds.
func itemMessage(dec *messageReader, item map[string]types.AttributeValue, m *chat.Message) error {
	raw, ok := getS(item, attrData)
	if !ok {
		return errors.New("item has no data attribute")
	}
	return dec.decode(raw, m)
}

// rawMessage decodes the message an item's d, as rawPage read it, holds.
func rawMessage(dec *messageReader, d rawData, m *chat.Message) error {
	if !d.ok {
		return errors.New("item has no data attribute")
	}
	return dec.decode(d.s, m)
}

// CountMessages counts the room's visible messages with from <= ts <= to,
// exactly (the port allows an estimate), from the day counters PutMessages
// keeps (see counts.go): one Query of the counters of the whole days in the
// range, and COUNT Queries, which return no items, of the partial days at
// its ends — a few requests whatever the size of the room.
func (s *Store) CountMessages(ctx context.Context, rid string, from, to time.Time) (int64, error) {
	fromMs, toMs := ceilMillis(from), floorMillis(to)
	if fromMs > toMs || checkKeyPart("rid", rid) != nil {
		return 0, ctx.Err()
	}
	n, err := s.countRange(ctx, rid, fromMs, toMs)
	if err != nil {
		return 0, fmt.Errorf("dynamo: count messages %s: %w", rid, err)
	}
	return n, nil
}

// MessagesByID returns the visible messages of the room among ids, each once,
// in (ts, _id) order; ids of other rooms, hidden copies and unknown ids are
// ignored, as Rocket.Chat's rooms.export (email with messages) filters by rid.
// It reads the ids' pointers, then the messages they point at: two batched
// reads whatever the number of ids.
func (s *Store) MessagesByID(ctx context.Context, rid string, ids []string) ([]chat.Message, error) {
	if checkKeyPart("rid", rid) != nil || len(ids) == 0 {
		return nil, ctx.Err()
	}
	seen := make(map[string]bool, len(ids))
	var keys []map[string]types.AttributeValue
	for _, id := range ids {
		if seen[id] || checkKeyPart("message id", id) != nil {
			continue
		}
		seen[id] = true
		keys = append(keys, itemKey(pfxMsg+id, noSort))
	}
	ptrs, err := s.batchGet(ctx, s.t.Directory, keys, false, attrRoom, attrMsgKey)
	if err != nil {
		return nil, fmt.Errorf("dynamo: messages by id in %s: %w", rid, err)
	}
	keys = keys[:0]
	for _, p := range ptrs {
		room, _ := getS(p, attrRoom)
		mk, ok := getS(p, attrMsgKey)
		if room != rid || !ok || strings.HasPrefix(mk, hiddenMark) {
			continue
		}
		keys = append(keys, itemKey(rid, mk))
	}
	items, err := s.batchGet(ctx, s.t.Messages, keys, false, attrSK, attrData)
	if err != nil {
		return nil, fmt.Errorf("dynamo: messages by id in %s: %w", rid, err)
	}
	// the sort keys of one room are in (ts, _id) order
	slices.SortFunc(items, func(a, b map[string]types.AttributeValue) int {
		ka, _ := getS(a, attrSK)
		kb, _ := getS(b, attrSK)
		return strings.Compare(ka, kb)
	})
	out := make([]chat.Message, len(items))
	var dec messageReader
	for i, item := range items {
		if err := itemMessage(&dec, item, &out[i]); err != nil {
			return nil, fmt.Errorf("dynamo: messages by id in %s: %w", rid, err)
		}
	}
	return out, nil
}

// hasFiles reports whether a message belongs in the files index: it is
// visible and carries files (file or files).
func hasFiles(m chat.Message) bool { return !m.Hidden && (m.File != nil || len(m.Files) > 0) }

// msgPlace is where a message is stored, as its pointer records it: its
// Messages key (rid, mk), whether it has a files-index entry, and whether
// it is counted in the day counter of that place (visible messages are,
// once PutMessages has written them since the counters exist).
type msgPlace struct {
	rid, mk        string
	files, counted bool
}

// PutMessages upserts messages. ts is truncated to the millisecond and stored
// in UTC, as Rocket.Chat's MongoDB dates are; the same id twice in one call
// stores the last. A re-put that changes ts, room or _hidden moves the
// message, leaving exactly one copy; the files index follows (an entry for
// every visible message with files, none for the others). Without
// transactions the writes go in three steps, each repaired by putting the
// same messages again if a failure cuts it short: (1) the messages and their
// files-index entries at their new keys, with the pointers of messages never
// seen before; (2) the deletion of old copies of moved messages and of index
// entries no longer wanted; (3) the day counters behind CountMessages, one
// ADD per (room, day) whose count changed; (4) the pointers of messages
// whose place changed. Until step 2 ends a moved message may be read at
// both places; it is never missing. The pointer records whether an index
// entry exists, so that loading messages without files writes nothing for
// the index, and whether the message is counted, so that re-putting it
// changes no counter. Step 3 is the exception to the repair by re-putting:
// see counts.go for what a call cut short, or two calls putting the same
// messages at once, do to the counters.
func (s *Store) PutMessages(ctx context.Context, msgs []chat.Message) error {
	if len(msgs) == 0 {
		return ctx.Err()
	}
	last := make(map[string]int, len(msgs))
	for i, m := range msgs {
		if err := checkKeyPart("message id", m.ID); err != nil {
			return fmt.Errorf("dynamo: put messages: record %d: %w", i, err)
		}
		if err := checkKeyPart("message rid", m.RoomID); err != nil {
			return fmt.Errorf("dynamo: put messages: message %s: %w", m.ID, err)
		}
		last[m.ID] = i
	}
	keys := make([]map[string]types.AttributeValue, 0, len(last))
	for i, m := range msgs {
		if last[m.ID] == i {
			keys = append(keys, itemKey(pfxMsg+m.ID, noSort))
		}
	}
	ptrs, err := s.batchGet(ctx, s.t.Directory, keys, true, attrPK, attrRoom, attrMsgKey, attrFiles, attrCounted)
	if err != nil {
		return fmt.Errorf("dynamo: put messages: read pointers: %w", err)
	}
	olds := make(map[string]msgPlace, len(ptrs))
	for _, p := range ptrs {
		pk, _ := getS(p, attrPK)
		room, _ := getS(p, attrRoom)
		mk, _ := getS(p, attrMsgKey)
		_, files := p[attrFiles]
		_, counted := p[attrCounted]
		olds[strings.TrimPrefix(pk, pfxMsg)] = msgPlace{room, mk, files, counted}
	}

	var puts, deletes, moves []write
	days := dayDeltas{}
	for i, m := range msgs {
		if last[m.ID] != i {
			continue
		}
		ms := floorMillis(m.TS)
		m.TS = time.UnixMilli(ms).UTC()
		now := msgPlace{m.RoomID, messageSK(ms, m.ID, m.Hidden), hasFiles(m), !m.Hidden}
		item, err := dataItem(now.rid, now.mk, m)
		if err != nil {
			return fmt.Errorf("dynamo: put messages: message %s: %w", m.ID, err)
		}
		puts = append(puts, putReq(s.t.Messages, item))
		if now.files {
			entry := itemKey(now.rid, filesSK(now.mk))
			entry[attrData] = item[attrData]
			puts = append(puts, putReq(s.t.Messages, entry))
		}
		pointer := itemKey(pfxMsg+m.ID, noSort)
		pointer[attrRoom], pointer[attrMsgKey] = attrS(now.rid), attrS(now.mk)
		if now.files {
			pointer[attrFiles] = attrN(1)
		}
		if now.counted {
			pointer[attrCounted] = attrN(1)
		}
		old, had := olds[m.ID]
		days.count(old.rid, old.mk, old.counted, -1)
		days.count(now.rid, now.mk, now.counted, +1)
		moved := old.rid != now.rid || old.mk != now.mk
		switch {
		case !had:
			puts = append(puts, putReq(s.t.Directory, pointer))
			continue
		case moved && old.rid != "" && old.mk != "":
			deletes = append(deletes, deleteReq(s.t.Messages, old.rid, old.mk))
		}
		if old.files && (moved || !now.files) && old.rid != "" && old.mk != "" {
			deletes = append(deletes, deleteReq(s.t.Messages, old.rid, filesSK(old.mk)))
		}
		if old != now {
			moves = append(moves, putReq(s.t.Directory, pointer))
		}
	}
	for _, step := range [][]write{puts, deletes} {
		if err := s.batchWrite(ctx, step); err != nil {
			return fmt.Errorf("dynamo: put messages: %w", err)
		}
	}
	if err := s.applyDays(ctx, days); err != nil {
		return fmt.Errorf("dynamo: put messages: %w", err)
	}
	if err := s.batchWrite(ctx, moves); err != nil {
		return fmt.Errorf("dynamo: put messages: %w", err)
	}
	return nil
}

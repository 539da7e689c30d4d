// Package dynamo is the DynamoDB adapter of rooms-export: one *Store that
// implements every database port of the service (export.Directory,
// export.MessageStore, export.JobStore, export.RateLimiter) and the
// workspace.Sink used to load it, with the same semantics as the embedded
// store (shared/boltstore) — both pass shared/storetest.
//
// Every read is a GetItem, a BatchGetItem or a Query; no code path scans a
// table (the API interface does not even offer Scan). Nothing uses
// transactions (dynalite, the emulator the tests run against, has none):
// multi-item writes are ordered so that an interrupted write leaves either
// the old state or a state that the next identical write repairs, and readers
// verify index entries against the records they point at.
//
// # Tables
//
// Three tables, each keyed by pk (S, partition) and sk (S, sort). A record is
// stored whole as JSON in the string attribute d (one attribute decodes
// fastest; messages, read by the hundred thousand, through messageReader,
// made for them, from Query answers that rawPage reads without the SDK's
// decoding); "-" is the sort key of records that need none.
//
//	Directory  pk                  sk             attributes
//	           user#<_id>          -              d: User
//	           username#<name>     -              id: the user's _id (readers check the user still has the name)
//	           token#<hashedToken> -              d: Token
//	           perm#<_id>          -              d: Permission
//	           room#<rid>          -              d: Room
//	           sub#<rid>           <uid>          d: Subscription
//	           upload#<_id>        -              d: Upload
//	           msg#<_id>           -              rid, mk: where the message is (its Messages key);
//	                                              f: present when it has a files-index entry;
//	                                              n: it is counted in its day's counter
//	           days#<rid>          <day>          c: visible messages of that UTC day (counts.go)
//
//	Messages   <rid>               <ts>#<_id>     d: Message (visible messages)
//	           <rid>               h<ts>#<_id>    d: Message (_hidden edit-history copies)
//	           <rid>               i<ts>#<_id>    d: Message (files index: the visible
//	                                              messages with file or files)
//
//	Jobs       job#<id>            -              d: Job, updatedAt (RFC 3339, ns), ttl
//	           active#<ownerId>    <len(dedupKey)>#<dedupKey>#<createdAt>#<id>
//	                                              id, ttl (queued and running jobs only)
//	           rate#<key>          <windowStart>  c: calls counted, ttl
//
// <ts> is the message's Unix time in milliseconds as 20 characters whose
// string order is numeric order ("1" and 19 digits for ts >= 0, "0" and 19
// digits of ts+10^19 before 1970), so a room's sort keys are in Rocket.Chat's
// (ts, _id) order and a time range is one BETWEEN. Hidden copies share the
// room's partition but their sort keys start with "h", after every digit, so
// no range ever reads them: pages and counts skip them without a filter. The
// files index, which FileMessages reads instead of the whole room, lives in
// the same partition under "i" (after "h": sk < "h" is still exactly the
// visible room); an entry repeats the message's d, so that a page of it is
// one Query, like a page of messages. Keeping it in the room's partition
// rather than in a partition of its own (such as <rid>#files) means no room
// id, whatever characters it holds, can name another room's index. The
// pointer's f says whether an entry exists, so that PutMessages deletes one
// only when there is one: loading messages without files costs no index
// write at all. Tables written before the index existed get their entries
// when their messages are loaded again.
// <createdAt> and <windowStart> are instants at nanosecond precision in the
// same sortable form (seconds, ".", 9 digits of nanoseconds). The length
// prefix of the dedup key makes "k1" and "k1#x" different prefixes.
//
// # Expiry
//
// Items that expire carry ttl, in Unix seconds (the table's TTL attribute,
// TTLAttribute): jobs and their active-index entries at ExpiresAt plus
// Options.JobRetention, rate-limit counters when their window ends. DynamoDB
// deletes such items up to days late and dynalite never does, so reads treat
// an item whose ttl has passed as absent. Rate-limit counters need no such
// filter: their key holds the window start, so an ended window is never read
// again. The clock is Options.Now: tests that build jobs around fixed dates
// must pass the same fixed clock, or their jobs read as long expired.
package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// Tables names the three tables a Store uses.
type Tables struct{ Directory, Messages, Jobs string }

// API is the part of the DynamoDB client the store uses; *dynamodb.Client
// satisfies it. It has no Scan: that no read scans a table is checked by the
// compiler.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Attribute names. TTLAttribute is the Jobs table's TimeToLiveSpecification
// attribute (template.yaml declares the same).
const (
	TTLAttribute = "ttl"

	attrPK      = "pk"
	attrSK      = "sk"
	attrData    = "d"
	attrID      = "id"
	attrRoom    = "rid"
	attrMsgKey  = "mk"
	attrFiles   = "f"
	attrUpdated = "updatedAt"
	attrCount   = "c"
)

// noSort is the sort key of records that need none.
const noSort = "-"

// Defaults of Options.
const (
	DefaultJobRetention = 30 * 24 * time.Hour
	DefaultConcurrency  = 4
)

// Options tune NewWith. The zero value is what New uses.
type Options struct {
	// Now is the clock that decides whether an item's ttl has passed;
	// time.Now when nil.
	Now func() time.Time
	// JobRetention is how long a job record (and its dedup entry) outlives
	// the job's ExpiresAt before DynamoDB may delete it; DefaultJobRetention
	// when 0. A job past that is reported as not found.
	JobRetention time.Duration
	// Concurrency bounds the batch requests one call sends at a time;
	// DefaultConcurrency when 0.
	Concurrency int
}

// Store is the DynamoDB database. It is safe for concurrent use; it keeps no
// state between calls besides its configuration.
type Store struct {
	api          API
	t            Tables
	now          func() time.Time
	jobRetention time.Duration
	concurrency  int
	// backoff is the pause before retry attempt n (0-based) of a batch's
	// unprocessed items.
	backoff func(attempt int) time.Duration
	// indexed remembers the active-index entries this store wrote, so that
	// saving an active job again does not put an entry it already has
	// (jobs.go, activeMarks).
	indexed activeMarks
}

// New returns a store over the three tables, with the default Options.
func New(client API, t Tables) *Store { return NewWith(client, t, Options{}) }

// NewWith returns a store over the three tables.
func NewWith(client API, t Tables, o Options) *Store {
	s := &Store{api: client, t: t, now: o.Now, jobRetention: o.JobRetention, concurrency: o.Concurrency, backoff: jitterBackoff}
	if s.now == nil {
		s.now = time.Now
	}
	if s.jobRetention <= 0 {
		s.jobRetention = DefaultJobRetention
	}
	if s.concurrency <= 0 {
		s.concurrency = DefaultConcurrency
	}
	return s
}

// Key size limits of DynamoDB (bytes of UTF-8), and the most a part taken
// from data may use so that prefixes and suffixes still fit.
const (
	maxPartitionKey = 2048
	maxSortKey      = 1024
	maxKeyPart      = 960
)

// checkKeyPart rejects values that cannot be part of a key: empty ones, ones
// that are not UTF-8 (DynamoDB strings are UTF-8; the SDK would silently
// replace the bad bytes, so two values could share a key), and long ones.
func checkKeyPart(what, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("empty %s", what)
	case !utf8.ValidString(v):
		return fmt.Errorf("%s is not valid UTF-8", what)
	case len(v) > maxKeyPart:
		return fmt.Errorf("%s is longer than %d bytes", what, maxKeyPart)
	}
	return nil
}

// attrS is a string attribute value.
func attrS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// attrN is a number attribute value.
func attrN(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// itemKey is the primary key (pk, sk).
func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: attrS(pk), attrSK: attrS(sk)}
}

// getS returns a string attribute of an item.
func getS(item map[string]types.AttributeValue, name string) (string, bool) {
	v, ok := item[name].(*types.AttributeValueMemberS)
	if !ok {
		return "", false
	}
	return v.Value, true
}

// getN returns a number attribute of an item as an int64.
func getN(item map[string]types.AttributeValue, name string) (int64, bool) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	return n, err == nil
}

// dataItem is a record item: its key and the record as JSON in d.
func dataItem(pk, sk string, v any) (map[string]types.AttributeValue, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	item := itemKey(pk, sk)
	item[attrData] = attrS(string(raw))
	return item, nil
}

// decodeData decodes the d attribute of an item into v.
func decodeData(item map[string]types.AttributeValue, v any) error {
	raw, ok := getS(item, attrData)
	if !ok {
		return errors.New("item has no data attribute")
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// expired reports whether an item's ttl has passed at now.
func expired(item map[string]types.AttributeValue, now time.Time) bool {
	ttl, ok := getN(item, TTLAttribute)
	return ok && ttl <= now.Unix()
}

// isConditionFailed reports whether err is a lost condition expression.
func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// proj is a ProjectionExpression with placeholders for its names, so that
// no attribute name can clash with a reserved word.
type proj struct {
	expr  string
	names map[string]string
}

// projection builds the projection of the named attributes.
func projection(names ...string) proj {
	p := proj{names: make(map[string]string, len(names))}
	for i, n := range names {
		ph := "#p" + strconv.Itoa(i)
		if i > 0 {
			p.expr += ", "
		}
		p.expr += ph
		p.names[ph] = n
	}
	return p
}

// getItem reads one item (or nil when absent) from a table.
func (s *Store) getItem(ctx context.Context, table, pk, sk string, consistent bool, names ...string) (map[string]types.AttributeValue, error) {
	p := projection(names...)
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                &table,
		Key:                      itemKey(pk, sk),
		ConsistentRead:           &consistent,
		ProjectionExpression:     &p.expr,
		ExpressionAttributeNames: p.names,
	})
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}

// getRecord reads the record stored under (pk, sk) of the Directory into v;
// chat.ErrNotFound when there is none.
func (s *Store) getRecord(ctx context.Context, pk, sk string, v any) error {
	item, err := s.getItem(ctx, s.t.Directory, pk, sk, false, attrData)
	if err != nil {
		return err
	}
	if item == nil {
		return chat.ErrNotFound
	}
	return decodeData(item, v)
}

// sortableInt renders n as 20 characters whose string order is numeric
// order: "1" and 19 digits for n >= 0, "0" and the 19 digits of n+10^19 for
// n < 0.
func sortableInt(n int64) string {
	b := make([]byte, 20)
	u := uint64(n)
	b[0] = '1'
	if n < 0 {
		b[0] = '0'
		u += 1e19 // wraps to n + 10^19, which is in [0, 10^19)
	}
	for i := 19; i > 0; i-- {
		b[i] = byte('0' + u%10)
		u /= 10
	}
	return string(b)
}

// sortableInstant renders t at nanosecond precision so that string order is
// time order: sortableInt of the Unix seconds, ".", 9 digits of nanoseconds.
func sortableInstant(t time.Time) string {
	ns := strconv.Itoa(t.Nanosecond())
	return sortableInt(t.Unix()) + "." + "000000000"[len(ns):] + ns
}

// floorMillis is t in Unix milliseconds, rounded down.
func floorMillis(t time.Time) int64 { return t.UnixMilli() }

// ceilMillis is t in Unix milliseconds, rounded up.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		ms++
	}
	return ms
}

// unixCeil is t in Unix seconds, rounded up: a ttl never ends before t.
func unixCeil(t time.Time) int64 {
	sec := t.Unix()
	if t.Nanosecond() != 0 {
		sec++
	}
	return sec
}

package dynamo

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// sdkOnly is an API that drops per-call options, so Query answers are
// always decoded by the SDK: the path rawPage must agree with.
type sdkOnly struct{ API }

func (a sdkOnly) Query(ctx context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return a.API.Query(ctx, in)
}

// awkwardText is message text that exercises every escape a response can
// hold: quotes, backslashes, control characters, line breaks, non-ASCII
// and a character outside the BMP.
var awkwardText = []string{
	`plain`, `"quoted" and \backslashed\`, "line\nbreak\ttab\r", "bell\x07 and nul-free \x1f",
	"naïve café — 東京 🎉", `</script><b>&amp;</b>`, "",
}

// The items read from the response body are the items the SDK reads: every
// message of a room paged through MessagePage (several Query responses a
// page, LastEvaluatedKey included) is the same either way, and the raw
// reader was the one that ran.
func TestRawPageReadsWhatTheSDKReads(t *testing.T) {
	tables := freshTables(t)
	ctx := t.Context()
	s := New(client, tables)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var msgs []chat.Message
	for i := range 120 {
		m := chat.Message{ID: fmt.Sprintf("m%03d", i), RoomID: "r", TS: base.Add(time.Duration(i/3) * time.Second),
			Msg: awkwardText[i%len(awkwardText)] + strings.Repeat("x", i*300), U: chat.UserRef{ID: "u", Username: "ü\"ser"}}
		if i%5 == 0 {
			m.Reactions = map[string]chat.Reaction{":tada:": {Usernames: []string{"a", "b\\c"}}}
		}
		if i%7 == 0 {
			m.File = &chat.FileRef{ID: "f" + m.ID, Name: "the \"file\".png", Type: "image/png"}
		}
		msgs = append(msgs, m)
	}
	if err := s.PutMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	sdk := New(sdkOnly{client}, tables)
	for _, read := range []string{"messages", "files"} {
		q := export.MessageQuery{RoomID: "r", From: base, To: base.Add(time.Hour), Limit: 25}
		for {
			page, more, err := pageOf(ctx, s, read, q)
			if err != nil {
				t.Fatal(err)
			}
			want, wantMore, err := pageOf(ctx, sdk, read, q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(page, want) || more != wantMore {
				t.Fatalf("%s after %v: read from the body %d messages (more %v), by the SDK %d (more %v)", read, q.After, len(page), more, len(want), wantMore)
			}
			if !more {
				break
			}
			q.After = export.Cursor{TS: page[len(page)-1].TS, ID: page[len(page)-1].ID}
		}
	}

	// the raw reader ran, and read the same d and LastEvaluatedKey
	in := s.queryInput("r", messageRange{lo: msKey(base.UnixMilli()), hi: rangeEnd(base.Add(time.Hour).UnixMilli())})
	in.ProjectionExpression, in.Limit = aws.String("#d"), aws.Int32(40)
	in.ExpressionAttributeNames["#d"] = attrData
	var raw rawPage
	if _, err := client.Query(ctx, in, raw.option); err != nil || !raw.ok {
		t.Fatalf("raw reader: ok %v, %v", raw.ok, err)
	}
	out, err := client.Query(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw.data) != len(out.Items) || !reflect.DeepEqual(raw.lastKey, out.LastEvaluatedKey) {
		t.Fatalf("raw reader read %d items, last key %v; the SDK %d, %v", len(raw.data), raw.lastKey, len(out.Items), out.LastEvaluatedKey)
	}
	for i, item := range out.Items {
		d, _ := getS(item, attrData)
		if raw.data[i] != (rawData{s: d, ok: true}) {
			t.Fatalf("item %d: raw d differs from the SDK's", i)
		}
	}
}

func pageOf(ctx context.Context, s *Store, read string, q export.MessageQuery) ([]chat.Message, bool, error) {
	if read == "files" {
		return s.FileMessages(ctx, q)
	}
	return s.MessagePage(ctx, q)
}

// What the raw reader was not made for is left to the SDK: parse gives up.
func TestRawPageGivesUp(t *testing.T) {
	for _, body := range []string{
		`{"Items":[{"d":{"N":"1"}}]}`,                                        // not a string attribute
		`{"Items":[{"d":{"S":"a","N":"1"}}]}`,                                // two members
		`{"Items":[{"d":{"S":"\ud83c\udf89"}}]}`,                             // a surrogate pair escape
		`{"Items":[{"d":{"S":"bad \x"}}]}`,                                   // an unknown escape
		`{"Items":[{"d":{"S":"a"}}]} trailing`,                               // not one value
		`{"Items":[{"d":{"S":"a"}}],"LastEvaluatedKey":{"pk":{"B":"AA=="}}}`, // a binary key
		`{"Items":[{"d":{"S":"a"}}`,                                          // cut short
		`{"It\u0065ms":[]}`,                                                  // an escaped key
	} {
		var p rawPage
		if p.parse(body) {
			t.Errorf("parse(%s) = true, want false", body)
		}
	}
	var p rawPage
	body := `{"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.5},"Count":2,"Items":[{"d":{"S":"{\"a\":\"\\n\"}"}},{"x":{"S":"y"}}],` +
		`"LastEvaluatedKey":{"pk":{"S":"r"},"sk":{"S":"1#m"}},"ScannedCount":2,"Flag":true,"None":null,"List":[1,-2e3,"s"]}`
	if !p.parse(body) {
		t.Fatal("parse of a well-formed answer gave up")
	}
	want := []rawData{{s: `{"a":"\n"}`, ok: true}, {}}
	wantKey := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "r"}, "sk": &types.AttributeValueMemberS{Value: "1#m"}}
	if !reflect.DeepEqual(p.data, want) || !reflect.DeepEqual(p.lastKey, wantKey) {
		t.Fatalf("parse read %+v, %v", p.data, p.lastKey)
	}
}

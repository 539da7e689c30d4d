package dynamo

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// rawPage reads the answer to a Query of message records (items that hold
// only the string attribute d) straight from the response body, instead of
// letting the SDK build an AttributeValue map per item: with the SDK's
// decoding the reader of an export spent about a quarter of its processor
// time there, between one page and the request for the next, while the
// emulator (and the other core) waited (infra/bench's profile of the AWS
// leg). It is a per-call option of Query: when it understood the body, it
// holds the items' d and the LastEvaluatedKey and hands the SDK an empty
// answer; anything else it was not made for — another attribute type, an
// escape it does not undo exactly as the SDK does, an error status — is
// left to the SDK untouched, so the result never depends on which path
// read it. A client that ignores per-call options (a test's fake) simply
// never fills it.
type rawPage struct {
	ok      bool
	data    []rawData
	lastKey map[string]types.AttributeValue
	buf     []byte // unescaping scratch
}

// rawData is one item's d, and whether it had one.
type rawData struct {
	s  string
	ok bool
}

// option installs the page's reader on a Query's middleware stack, next to
// the SDK's deserializer (and inside the response checksum's validation,
// which wraps the body the reader reads).
func (p *rawPage) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Deserialize.Insert(p, "OperationDeserializer", middleware.After)
	})
}

// ID names the middleware.
func (*rawPage) ID() string { return "rooms-export:RawQueryPage" }

// HandleDeserialize reads a successful response's body and, when it parses
// it, replaces it with an empty answer for the SDK's deserializer.
func (p *rawPage) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	p.ok = false
	if err != nil {
		return out, md, err
	}
	resp, isHTTP := out.RawResponse.(*smithyhttp.Response)
	if !isHTTP || resp.StatusCode != http.StatusOK || resp.Body == nil {
		return out, md, err
	}
	// Read into a string whose room is the announced length: one
	// allocation, not io.ReadAll's doublings and a copy.
	var b strings.Builder
	if n := resp.ContentLength; n > 0 && n <= maxRawBody {
		b.Grow(int(n))
	}
	_, rerr := io.Copy(&b, resp.Body)
	resp.Body.Close()
	body := b.String()
	if rerr != nil {
		// the SDK reads what was read, then the same error (a checksum
		// mismatch, a broken connection), and decides as it always does
		resp.Body = io.NopCloser(io.MultiReader(strings.NewReader(body), errReader{rerr}))
		return out, md, err
	}
	if p.parse(body) {
		p.ok = true
		resp.Body = io.NopCloser(strings.NewReader("{}"))
	} else {
		resp.Body = io.NopCloser(strings.NewReader(body))
	}
	return out, md, err
}

// maxRawBody bounds the room reserved ahead for a response: a Query answer
// holds at most 1 MB of items (and little else).
const maxRawBody = 4 << 20

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// parse reads a Query's JSON answer: Items (each an object of string
// attributes, of which it keeps d) and LastEvaluatedKey (string
// attributes); other members are skipped. False means it gave up.
func (p *rawPage) parse(body string) bool {
	p.data, p.lastKey = p.data[:0], nil
	d := scanner{s: body, buf: p.buf}
	defer func() { p.buf = d.buf }()
	for more := d.open('{', '}'); more && !d.bad; more = d.next('}') {
		switch d.key() {
		case "Items":
			for item := d.open('[', ']'); item && !d.bad; item = d.next(']') {
				var v rawData
				for attr := d.open('{', '}'); attr && !d.bad; attr = d.next('}') {
					name := d.key()
					s := d.stringValue()
					if name == attrData {
						v = rawData{s: s, ok: true}
					}
				}
				p.data = append(p.data, v)
			}
		case "LastEvaluatedKey":
			p.lastKey = map[string]types.AttributeValue{}
			for attr := d.open('{', '}'); attr && !d.bad; attr = d.next('}') {
				name := strings.Clone(d.key()) // not a window on the body
				p.lastKey[name] = &types.AttributeValueMemberS{Value: strings.Clone(d.stringValue())}
			}
		default:
			d.skip()
		}
	}
	d.space()
	return !d.bad && d.i == len(d.s)
}

// stringValue reads an attribute value that must be a string: {"S": "..."}.
func (d *scanner) stringValue() string {
	if !d.open('{', '}') || d.key() != "S" {
		d.fail()
		return ""
	}
	s := d.str()
	if d.next('}') {
		d.fail() // more than one member
	}
	return s
}

// skip consumes one JSON value of any kind.
func (d *scanner) skip() {
	d.space()
	if d.bad || d.i >= len(d.s) {
		d.fail()
		return
	}
	switch d.s[d.i] {
	case '"':
		d.str()
	case '{':
		for more := d.open('{', '}'); more && !d.bad; more = d.next('}') {
			d.key()
			d.skip()
		}
	case '[':
		for more := d.open('[', ']'); more && !d.bad; more = d.next(']') {
			d.skip()
		}
	default: // a number, true, false or null
		j := d.i
		for j < len(d.s) && strings.IndexByte("+-.0123456789Eaeflnrstu", d.s[j]) >= 0 {
			j++
		}
		if j == d.i {
			d.fail()
		}
		d.i = j
	}
}

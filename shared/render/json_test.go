package render

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// jsonKeys returns the top-level keys of one JSON object, in order.
func jsonKeys(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("line is not an object: %v %v", tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("read key: %v", err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("read value of %v: %v", tok, err)
		}
	}
	return keys
}

// jsonLines renders msgs as a JSON document and splits it into lines.
func jsonLines(t *testing.T, msgs []chat.Message) [][]byte {
	t.Helper()
	out := renderDoc(t, newJSONBuf, sampleHeader(berlin(t)), msgs)
	if len(msgs) == 0 {
		if len(out) != 0 {
			t.Fatalf("empty document wrote %q", out)
		}
		return nil
	}
	if !bytes.HasSuffix(out, []byte("\n")) {
		t.Fatalf("document does not end with a newline")
	}
	return bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
}

func TestJSONOneLinePerMessage(t *testing.T) {
	msgs := sampleMessages()
	lines := jsonLines(t, msgs)
	if len(lines) != len(msgs) {
		t.Fatalf("got %d lines for %d messages (a header or footer line, or a raw newline inside a line?)", len(lines), len(msgs))
	}
	for i, line := range lines {
		var got struct {
			ID string `json:"_id"`
		}
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("line %d is not JSON: %v", i+1, err)
		}
		if got.ID != msgs[i].ID {
			t.Errorf("line %d has _id %q, want %q (order kept)", i+1, got.ID, msgs[i].ID)
		}
	}
}

func TestJSONKeyOrder(t *testing.T) {
	full := chat.Message{
		ID: "m1", Msg: "hi", U: alice, TS: at(0), Type: "uj", ThreadID: "m0",
		Attachments: []chat.Attachment{{Text: "quoted"}},
		EditedAt:    ptr(at(time.Minute)),
		Reactions:   map[string]chat.Reaction{":+1:": {Usernames: []string{"bob"}}},
		Files:       []chat.FileRef{{ID: "f1", Name: "a.txt"}},
	}
	minimal := chat.Message{ID: "m2", Msg: "", U: bob, TS: at(0)}
	lines := jsonLines(t, []chat.Message{full, minimal})

	want := []string{"msg", "username", "ts", "attachments", "type", "_id", "tmid", "editedAt", "reactions", "files"}
	if got := jsonKeys(t, lines[0]); !slices.Equal(got, want) {
		t.Errorf("keys of a full message:\n got %v\nwant %v", got, want)
	}
	// Optional keys are left out, "msg" never is (Rocket.Chat writes it even when empty).
	if got, want := jsonKeys(t, lines[1]), []string{"msg", "username", "ts", "_id"}; !slices.Equal(got, want) {
		t.Errorf("keys of a minimal message:\n got %v\nwant %v", got, want)
	}
}

func TestJSONTimestamps(t *testing.T) {
	tsRE := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)
	cases := []struct {
		name string
		ts   time.Time
		want string
	}{
		{"milliseconds", time.Date(2021, 3, 4, 5, 6, 7, 8_000_000, time.UTC), "2021-03-04T05:06:07.008Z"},
		{"whole second keeps .000", time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC), "2021-03-04T05:06:07.000Z"},
		{"sub-millisecond truncated", time.Date(2021, 3, 4, 5, 6, 7, 999_999_999, time.UTC), "2021-03-04T05:06:07.999Z"},
		{"other zone converted to UTC", time.Date(2021, 3, 4, 6, 6, 7, 8_000_000, time.FixedZone("CET", 3600)), "2021-03-04T05:06:07.008Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			edited := c.ts.Add(time.Hour)
			lines := jsonLines(t, []chat.Message{{ID: "m", TS: c.ts, U: bob, EditedAt: &edited}})
			var got struct {
				TS       string `json:"ts"`
				EditedAt string `json:"editedAt"`
			}
			if err := json.Unmarshal(lines[0], &got); err != nil {
				t.Fatal(err)
			}
			if got.TS != c.want {
				t.Errorf("ts = %q, want %q", got.TS, c.want)
			}
			if !tsRE.MatchString(got.EditedAt) {
				t.Errorf("editedAt = %q, want the ts format", got.EditedAt)
			}
		})
	}
}

func TestJSONIgnoresLocation(t *testing.T) {
	// The header's zone is Europe/Berlin; JSON timestamps stay UTC.
	lines := jsonLines(t, sampleMessages())
	last := lines[len(lines)-1]
	if !bytes.Contains(last, []byte(`"ts":"2021-03-04T23:36:07.008Z"`)) {
		t.Errorf("last line does not carry its UTC ts: %s", last)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	in := chat.Message{
		ID: "m1", Msg: "multi\nline with \"quotes\", \\ and ünïcödé 🎉", U: zoe, TS: at(0), ThreadID: "m0",
		Attachments: []chat.Attachment{{Title: "t", TitleLink: "https://example.com", Text: "x", TS: ptr(at(time.Second).In(time.FixedZone("X", 7200))),
			Attachments: []chat.Attachment{{AuthorName: "bob", Text: "nested"}}}},
		EditedAt:  ptr(at(time.Minute)),
		Reactions: map[string]chat.Reaction{":b:": {Usernames: []string{"x", "y"}}, ":a:": {}},
		File:      &chat.FileRef{ID: "f1", Name: "a b.png", Type: "image/png", Size: 12},
	}
	origAttTS := *in.Attachments[0].TS
	line := jsonLines(t, []chat.Message{in})[0]

	var got jsonMessage
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	want := jsonMessage{
		Msg: in.Msg, Username: "zoë.m", TS: "2021-03-04T05:06:07.008Z", ID: "m1", ThreadID: "m0",
		EditedAt:    "2021-03-04T05:07:07.008Z",
		Attachments: []jsonAttachment{{Title: "t", TitleLink: "https://example.com", Text: "x", TS: "2021-03-04T05:06:08.008Z", Attachments: []jsonAttachment{{AuthorName: "bob", Text: "nested"}}}},
		Reactions:   map[string]chat.Reaction{":a:": {Usernames: []string{}}, ":b:": {Usernames: []string{"x", "y"}}},
		Files:       []jsonFile{{ID: "f1", Name: "a b.png", Type: "image/png", Size: 12}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	// Reaction keys are sorted, and a reaction without users still has its list.
	if !bytes.Contains(line, []byte(`"reactions":{":a:":{"usernames":[]},":b:":{"usernames":["x","y"]}}`)) {
		t.Errorf("reactions not sorted or not in Rocket.Chat's shape: %s", line)
	}
	// Files always carry all four keys.
	if !bytes.Contains(line, []byte(`"files":[{"_id":"f1","name":"a b.png","type":"image/png","size":12}]`)) {
		t.Errorf("files not in {_id,name,type,size} shape: %s", line)
	}
	// The caller's message is not modified by the UTC conversion.
	if !in.Attachments[0].TS.Equal(origAttTS) || in.Attachments[0].TS.Location() != origAttTS.Location() {
		t.Errorf("the input attachment's ts was modified")
	}
}

func TestJSONDatesHaveOneFormat(t *testing.T) {
	// Every date of a line is UTC with exactly three fraction digits, the
	// attachments' too, whatever the stored zone and precision.
	whole := time.Date(2021, 3, 4, 5, 6, 7, 0, time.FixedZone("X", -5*3600))
	fine := time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)
	line := jsonLines(t, []chat.Message{{ID: "m1", U: bob, TS: whole, EditedAt: &fine,
		Attachments: []chat.Attachment{{Text: "q", TS: &whole, Attachments: []chat.Attachment{{Text: "n", TS: &fine}}}}}})[0]
	for _, want := range []string{`"ts":"2021-03-04T10:06:07.000Z"`, `"editedAt":"2021-03-04T05:06:07.123Z"`, `"ts":"2021-03-04T05:06:07.123Z"`} {
		if !bytes.Contains(line, []byte(want)) {
			t.Errorf("line lacks %s: %s", want, line)
		}
	}
	if bytes.Count(line, []byte(`"ts":"2021-03-04T10:06:07.000Z"`)) != 2 {
		t.Errorf("the message and its attachment should both carry the .000Z form: %s", line)
	}
}

func TestJSONEscaping(t *testing.T) {
	text := "</script><script>alert(1)</script> & \x00\x01\x1b bell\a \u2028\u2029 end"
	line := jsonLines(t, []chat.Message{{ID: "m1", Msg: text, U: chat.UserRef{Username: "<b>"}, TS: at(0)}})[0]
	for _, raw := range []string{"<", ">", "&", "\x00", "\x01", "\x1b", "\a", "\u2028", "\u2029"} {
		if bytes.Contains(line, []byte(raw)) {
			t.Errorf("line holds a raw %q: %s", raw, line)
		}
	}
	var got struct {
		Msg      string `json:"msg"`
		Username string `json:"username"`
	}
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatal(err)
	}
	if got.Msg != text || got.Username != "<b>" {
		t.Errorf("escaped text does not decode back: %q %q", got.Msg, got.Username)
	}
}

func TestJSONNoHeaderOrFooter(t *testing.T) {
	if lines := jsonLines(t, nil); len(lines) != 0 {
		t.Errorf("an empty export wrote %d lines", len(lines))
	}
	sc := bufio.NewScanner(bytes.NewReader(renderDoc(t, newJSONBuf, sampleHeader(nil), sampleMessages()[:2])))
	n := 0
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), `{"msg":`) {
			t.Errorf("line %d is not a message: %s", n+1, sc.Text())
		}
		n++
	}
	if n != 2 {
		t.Errorf("got %d lines, want 2", n)
	}
}

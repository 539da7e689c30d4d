package boltstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rooms-export/rooms-export/infra/bench/gen"
	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// entropy draws choices from fuzz input, so that the fuzzer steers the
// messages it builds; past the end of the input every draw is 0.
type entropy struct{ b []byte }

func (e *entropy) byte() byte {
	if len(e.b) == 0 {
		return 0
	}
	c := e.b[0]
	e.b = e.b[1:]
	return c
}

func (e *entropy) intn(n int) int { return int(e.byte()) % n }

func (e *entropy) uint64() uint64 {
	var x uint64
	for range 8 {
		x = x<<8 | uint64(e.byte())
	}
	return x
}

// fuzzStrings are the strings messages are built from: empty, ASCII,
// markup, other scripts, emoji, control characters, and invalid UTF-8 of
// several kinds (a stray byte, a cut sequence, an encoded surrogate).
var fuzzStrings = []string{
	"", "a", "hello world", "**bold** _it_ ~strike~ `code`", "<script>&amp;</script>",
	"héllo wörld", "日本語のテキスト", "مرحبا", "👍🏽 🇫🇷 👨‍👩‍👧", "line one\nline two\r\n\ttab",
	"\x00nul\x00", "\u2028\u2029", "\ufffd valid replacement", "\xff", "a\xc3", "\xed\xa0\x80 surrogate",
	"\xe2\x82", "ok\x80\x80ok", `quote " and backslash \`, "https://example.com/a?b=c&d=e#f",
}

// fuzzZones are time zones with whole-minute offsets (JSON keeps only those).
var fuzzZones = []*time.Location{time.UTC, time.FixedZone("CET", 3600), time.FixedZone("", -5*3600-30*60), time.FixedZone("X", 14*3600)}

func (e *entropy) string() string {
	switch e.intn(8) {
	case 0: // a few raw bytes, often invalid UTF-8
		n := e.intn(12)
		b := make([]byte, n)
		for i := range b {
			b[i] = e.byte()
		}
		return string(b)
	case 1:
		return string(bytes.Repeat([]byte("long text "), 1+e.intn(200)))
	}
	return fuzzStrings[e.intn(len(fuzzStrings))]
}

func (e *entropy) time() time.Time {
	switch e.intn(6) {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(0, 0)
	case 2:
		return time.Now() // with a monotonic reading, which neither form keeps
	}
	// any instant JSON can write: years 0001 to 9999, to the nanosecond
	lo, hi := time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC).Unix(), time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC).Unix()
	sec := lo + int64(e.uint64()%uint64(hi-lo))
	nsec := int64(e.uint64() % 1e9)
	if e.intn(2) == 0 {
		nsec -= nsec % 1e6 // milliseconds, as stored ts are
	}
	return time.Unix(sec, nsec).In(fuzzZones[e.intn(len(fuzzZones))])
}

var timeType = reflect.TypeFor[time.Time]()

// fill sets v, whatever its type, from e: every field of a message, so that
// a field added to chat.Message and forgotten by the codec fails the test.
func fill(t testing.TB, e *entropy, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(e.string())
	case reflect.Bool:
		v.SetBool(e.intn(2) == 0)
	case reflect.Int, reflect.Int64, reflect.Int32:
		switch e.intn(4) {
		case 0:
			v.SetInt(0)
		case 1:
			v.SetInt(-int64(e.uint64() >> 1))
		default:
			v.SetInt(int64(e.uint64() >> 1))
		}
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(e.time()))
			return
		}
		for i := range v.NumField() {
			fill(t, e, v.Field(i), depth)
		}
	case reflect.Pointer:
		if e.intn(3) == 0 {
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(t, e, p.Elem(), depth)
		v.Set(p)
	case reflect.Slice:
		switch n := e.intn(5); {
		case n == 0:
		case n == 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		case depth < 3:
			s := reflect.MakeSlice(v.Type(), n-1, n-1)
			for i := range n - 1 {
				fill(t, e, s.Index(i), depth+1)
			}
			v.Set(s)
		}
	case reflect.Map:
		switch n := e.intn(5); {
		case n == 0:
		case n == 1:
			v.Set(reflect.MakeMap(v.Type()))
		default:
			m := reflect.MakeMap(v.Type())
			for range n - 1 {
				k, x := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
				fill(t, e, k, depth+1)
				fill(t, e, x, depth+1)
				m.SetMapIndex(k, x)
			}
			v.Set(m)
		}
	default:
		t.Fatalf("the fuzz test does not know how to fill a %s (%s): teach it, and the codec", v.Kind(), v.Type())
	}
}

// utcTimes sets every time in v to UTC: the codec reads times back in UTC,
// JSON in the zone they were written in; the instants must be equal.
func utcTimes(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC()))
			return
		}
		for i := range v.NumField() {
			utcTimes(v.Field(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			utcTimes(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			utcTimes(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			x := reflect.New(v.Type().Elem()).Elem()
			x.Set(v.MapIndex(k))
			utcTimes(x)
			v.SetMapIndex(k, x)
		}
	}
}

// utc is m with every time in UTC.
func utc(m chat.Message) chat.Message {
	utcTimes(reflect.ValueOf(&m).Elem())
	return m
}

// jsonRoundTrip is what the store returned before the codec: m through
// json.Marshal and json.Unmarshal. ok is false when JSON cannot hold m.
func jsonRoundTrip(t testing.TB, m chat.Message) (chat.Message, bool) {
	raw, err := json.Marshal(m)
	if err != nil {
		return chat.Message{}, false
	}
	var back chat.Message
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("JSON cannot read what it wrote: %v", err)
	}
	utcTimes(reflect.ValueOf(&back).Elem())
	return back, true
}

// codecRoundTrip is m through encodeMessage and decodeMessage.
func codecRoundTrip(t testing.TB, m chat.Message) chat.Message {
	t.Helper()
	v, err := encodeMessage(&m)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	if v[0] != codecV1 {
		t.Fatalf("record starts with %#x, want the format byte %#x", v[0], codecV1)
	}
	var back chat.Message
	if err := decodeMessage(v, &back); err != nil {
		t.Fatalf("decode of a fresh record: %v", err)
	}
	utcTimes(reflect.ValueOf(&back).Elem())
	return back
}

// checkLikeJSON checks that the codec keeps m exactly as JSON did.
func checkLikeJSON(t testing.TB, m chat.Message) {
	t.Helper()
	want, ok := jsonRoundTrip(t, m)
	if !ok {
		return // JSON refused it (a year past 9999): nothing to compare with
	}
	if _, err := encodeMessage(&m); errors.Is(err, errTooDeep) {
		return // refused on purpose, before it is stored
	}
	if got := codecRoundTrip(t, m); !reflect.DeepEqual(got, want) {
		t.Fatalf("codec and JSON round trips differ\n codec %#v\n JSON  %#v", got, want)
	}
}

// fuzzSeeds are inputs for the fuzz tests: plain go test runs them all.
func fuzzSeeds() [][]byte {
	seeds := [][]byte{nil, {0xff}, bytes.Repeat([]byte{1}, 64), bytes.Repeat([]byte{3, 4, 1, 2}, 100)}
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		b := make([]byte, 32+r.IntN(480))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzCodecMatchesJSON builds messages of every shape from the fuzz input
// and checks that the codec's round trip equals the JSON round trip that
// the store did before.
func FuzzCodecMatchesJSON(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m chat.Message
		fill(t, &entropy{b: data}, reflect.ValueOf(&m).Elem(), 0)
		checkLikeJSON(t, m)
	})
}

// FuzzDecodeNeverPanics feeds damaged records to the decoder: it must
// refuse them or read a message that encodes back to the same message.
func FuzzDecodeNeverPanics(f *testing.F) {
	for _, s := range fuzzSeeds()[:100] {
		var m chat.Message
		fill(f, &entropy{b: s}, reflect.ValueOf(&m).Elem(), 0)
		v, err := encodeMessage(&m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v)
		if len(v) > 3 {
			f.Add(v[:len(v)/2])
			broken := bytes.Clone(v)
			broken[len(v)/3] ^= 0x80
			f.Add(broken)
		}
	}
	f.Add([]byte(`{"_id":"x"}`))
	f.Add([]byte{codecV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m chat.Message
		if err := decodeMessage(data, &m); err != nil {
			if !reflect.DeepEqual(m, chat.Message{}) && len(data) > 0 && data[0] == codecV1 {
				t.Errorf("a refused record left a partial message: %+v", m)
			}
			return
		}
		if _, err := valueHasFiles(data); err != nil {
			t.Errorf("valueHasFiles refuses a record decodeMessage reads: %v", err)
		}
		checkLikeJSON(t, m)
	})
}

func TestCodecKeepsEveryField(t *testing.T) {
	edited := time.Date(2024, 3, 10, 13, 0, 0, 250_000_001, time.FixedZone("CET", 3600))
	quoted := time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
	full := chat.Message{
		ID: "full", RoomID: "r1", TS: time.UnixMilli(1710072000123).UTC(),
		Msg: "**hello**\nworld", U: chat.UserRef{ID: "u1", Username: "alice", Name: "Alice"},
		Type: "subscription-role-added", Role: "moderator", ThreadID: "parent1", DiscussionID: "disc1",
		Attachments: []chat.Attachment{{Title: "quote", TitleLink: "https://example.com/x", Text: "quoted", Description: "d",
			AuthorName: "bob", MessageLink: "https://chat.example.com/msg", ImageURL: "https://example.com/i.png", Type: "file", TS: &quoted,
			Attachments: []chat.Attachment{{Text: "nested", Attachments: []chat.Attachment{{}}}}}},
		File:      &chat.FileRef{ID: "f1", Name: "a.png", Type: "image/png", Size: 10},
		Files:     []chat.FileRef{{ID: "f1", Name: "a.png", Type: "image/png", Size: 1 << 40}, {ID: "f2", Name: "b.txt", Size: -3}},
		Reactions: map[string]chat.Reaction{":+1:": {Usernames: []string{"bob", "carol"}}, ":x:": {Usernames: []string{}}, ":nil:": {}},
		EditedAt:  &edited,
		EditedBy:  &chat.UserRef{ID: "u1", Username: "alice"},
		Hidden:    true,
	}
	checkLikeJSON(t, full)
	got := codecRoundTrip(t, full)
	if got.Reactions[":x:"].Usernames == nil || got.Reactions[":nil:"].Usernames != nil {
		t.Errorf("reactions lost nil apart from empty: %#v", got.Reactions)
	}
	if !got.EditedAt.Equal(edited) || got.EditedAt.Nanosecond() != 250_000_001 {
		t.Errorf("editedAt = %v, want %v to the nanosecond", got.EditedAt, edited)
	}
	checkLikeJSON(t, chat.Message{})
	checkLikeJSON(t, chat.Message{ID: "bad\xff", Msg: "a\xc3", Reactions: map[string]chat.Reaction{"\xff": {}, "\xfe": {Usernames: []string{"x"}}}})
}

func TestCodecRefusesDeepAttachments(t *testing.T) {
	a := chat.Attachment{Text: "bottom"}
	for range maxAttachmentDepth {
		a = chat.Attachment{Attachments: []chat.Attachment{a}}
	}
	m := chat.Message{ID: "deep", Attachments: []chat.Attachment{a}}
	if _, err := encodeMessage(&m); err == nil {
		t.Fatalf("encoded attachments nested %d deep", maxAttachmentDepth+1)
	}
	m.Attachments = a.Attachments
	checkLikeJSON(t, m)
}

func TestDecodeRefusesDamagedRecords(t *testing.T) {
	m := chat.Message{ID: "m1", RoomID: "r1", TS: time.UnixMilli(1).UTC(), Msg: "text", Files: []chat.FileRef{{ID: "f", Name: "n"}}}
	v, err := encodeMessage(&m)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":          nil,
		"unknown format": append([]byte{0x7f}, v[1:]...),
		"cut":            v[:len(v)-1],
		"trailing bytes": append(bytes.Clone(v), 0),
		"unknown flag":   append([]byte{codecV1, 0x80, 0x80, 0x01}, v[2:]...),
		"bad JSON":       []byte(`{"_id":`),
	}
	for name, raw := range cases {
		var got chat.Message
		if err := decodeMessage(raw, &got); err == nil {
			t.Errorf("%s: decoded %+v", name, got)
		}
	}
}

// legacyJSON is a message value as the versions before the codec wrote it
// (json.Marshal of chat.Message): it must still be read.
const legacyJSON = `{"_id":"old1","rid":"r1","ts":"2024-03-10T12:00:00.123Z","msg":"written \u003cbefore\u003e the codec","u":{"_id":"u1","username":"alice","name":"Alice"},` +
	`"tmid":"p1","attachments":[{"title":"t","ts":"2024-03-10T13:00:00.5+01:00","attachments":[{"text":"in"}]}],` +
	`"files":[{"_id":"f1","name":"a.txt","type":"text/plain","size":3}],"reactions":{":+1:":{"usernames":["bob"]},":-1:":{"usernames":null}},` +
	`"editedAt":"2024-03-10T12:05:00.000000001Z","editedBy":{"_id":"u1","username":"alice"}}`

// TestReadsJSONWrittenByOlderVersions writes a file as the versions before
// the codec, the files index and the day counters did — JSON values, no
// filemsgs or msgdays bucket — and opens it: every read returns the old
// messages, and the index and the counters are built on the way.
func TestReadsJSONWrittenByOlderVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	var want chat.Message
	if err := json.Unmarshal([]byte(legacyJSON), &want); err != nil {
		t.Fatal(err)
	}
	utcTimes(reflect.ValueOf(&want).Elem())
	plain := chat.Message{ID: "old2", RoomID: "r1", TS: want.TS.Add(time.Second), Msg: "no file", U: want.U}
	plainJSON, err := json.Marshal(plain)
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets() {
			if bytes.Equal(name, bucketFileMsgs) || bytes.Equal(name, bucketMsgDays) {
				continue // older versions had no files index and no day counters
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		for _, r := range []struct {
			m   chat.Message
			raw []byte
		}{{want, []byte(legacyJSON)}, {plain, plainJSON}} {
			k := messageKey(r.m.RoomID, r.m.TS.UnixMilli(), r.m.ID)
			if err := tx.Bucket(bucketMessages).Put(k, r.raw); err != nil {
				return err
			}
			if err := tx.Bucket(bucketMsgIDs).Put([]byte(r.m.ID), k); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = db.Close()
	}
	if err != nil {
		t.Fatal(err)
	}

	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open of a file without the files index: %v", err)
	}
	defer s.Close()
	ctx := t.Context()
	q := export.MessageQuery{RoomID: "r1", From: want.TS, To: plain.TS, Limit: 10}
	page, _, err := s.MessagePage(ctx, q)
	if err != nil || len(page) != 2 {
		t.Fatalf("MessagePage of JSON records = %d messages, %v; want 2", len(page), err)
	}
	if !reflect.DeepEqual(utc(page[0]), want) || !reflect.DeepEqual(utc(page[1]), plain) {
		t.Errorf("MessagePage of JSON records:\n got  %#v\n want %#v", page, []chat.Message{want, plain})
	}
	files, _, err := s.FileMessages(ctx, q)
	if err != nil || len(files) != 1 || !reflect.DeepEqual(utc(files[0]), want) {
		t.Errorf("FileMessages after indexing an old file = %+v, %v; want only %s", files, err, want.ID)
	}
	// whole days come from the day counters, built at Open
	if n, err := s.CountMessages(ctx, "r1", want.TS.AddDate(0, 0, -3), want.TS.AddDate(0, 0, 3)); err != nil || n != 2 {
		t.Errorf("CountMessages over days of an old file = %d, %v; want 2", n, err)
	}
	byID, err := s.MessagesByID(ctx, "r1", []string{"old1"})
	if err != nil || len(byID) != 1 || !reflect.DeepEqual(utc(byID[0]), want) {
		t.Errorf("MessagesByID of a JSON record = %+v, %v", byID, err)
	}
	// a re-put writes the new format, and the index follows it
	plain.Files = []chat.FileRef{{ID: "f2", Name: "b.txt"}}
	if err := s.PutMessages(ctx, []chat.Message{plain}); err != nil {
		t.Fatal(err)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMessages).Get(messageKey("r1", plain.TS.UnixMilli(), plain.ID)); len(v) == 0 || v[0] != codecV1 {
			return errors.New("a re-put message is not stored in the binary format")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if files, _, err := s.FileMessages(ctx, q); err != nil || len(files) != 2 {
		t.Errorf("FileMessages after a re-put = %d messages, %v; want 2", len(files), err)
	}
}

// benchMessages draws n messages of a realistic room (infra/bench/gen).
func benchMessages(n int) []chat.Message {
	g := gen.New(gen.Config{Messages: n, Seed: 1})
	msgs := make([]chat.Message, 0, n)
	for g.More() {
		msgs = append(msgs, g.Next().Message)
	}
	return msgs
}

// BenchmarkDecode compares the decoders on a realistic room's records:
// json is what every read paid before the codec, binary what it pays now.
// Each reports messages/s and bytes per record.
func BenchmarkDecode(b *testing.B) {
	msgs := benchMessages(10000)
	for _, format := range []string{"json", "binary"} {
		b.Run(format, func(b *testing.B) {
			values := make([][]byte, len(msgs))
			size := 0
			for i := range msgs {
				var err error
				if format == "json" {
					values[i], err = json.Marshal(msgs[i])
				} else {
					values[i], err = encodeMessage(&msgs[i])
				}
				if err != nil {
					b.Fatal(err)
				}
				size += len(values[i])
			}
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				// a page of 500, decoded into fresh slots as MessagePage does
				page := make([]chat.Message, 500)
				for i := range page {
					if err := decodeInto(values[n%len(values)], &page[i]); err != nil {
						b.Fatal(err)
					}
					n++
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(size)/float64(len(values)), "B/record")
		})
	}
}

// BenchmarkEncode is the write side of the same comparison.
func BenchmarkEncode(b *testing.B) {
	msgs := benchMessages(10000)
	b.Run("json", func(b *testing.B) {
		n := 0
		for b.Loop() {
			if _, err := json.Marshal(&msgs[n%len(msgs)]); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("binary", func(b *testing.B) {
		n := 0
		for b.Loop() {
			if _, err := encodeMessage(&msgs[n%len(msgs)]); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	})
}

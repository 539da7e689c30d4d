package dynamo

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// fullMessage sets every field of a message and of the records it holds,
// with text that needs escapes, non-ASCII text and times with fractions.
func fullMessage() chat.Message {
	edited := time.Date(2024, 3, 10, 12, 0, 1, 500_000_000, time.UTC)
	quoted := time.Date(2023, 12, 31, 23, 59, 59, 123_456_789, time.UTC)
	return chat.Message{
		ID: "m1", RoomID: "GENERAL", TS: time.Date(2024, 3, 10, 12, 0, 0, 7_000_000, time.UTC),
		Msg:  "line one\nline \"two\" <b>&amp;</b> \\ \t Grüße 👋🏽 \u2028 \x01",
		U:    chat.UserRef{ID: "u1", Username: "alice", Name: "Alice Ørsted"},
		Type: "subscription-role-added", Role: "owner", ThreadID: "parent",
		Attachments: []chat.Attachment{{
			Title: "report.pdf", TitleLink: "/file-upload/f1/report.pdf", Text: "quoted\ttext", Description: "the report",
			AuthorName: "bob", MessageLink: "https://chat.example.com/channel/general?msg=m0", ImageURL: "https://chat.example.com/i.png",
			Type: "file", TS: &quoted,
			Attachments: []chat.Attachment{{Text: "nested", Attachments: []chat.Attachment{}}},
		}},
		File:         &chat.FileRef{ID: "f1", Name: "report.pdf", Type: "application/pdf", Size: 1 << 40},
		Files:        []chat.FileRef{{ID: "f1", Name: "report.pdf", Type: "application/pdf", Size: 12}, {ID: "f2", Name: "b.png"}},
		Reactions:    map[string]chat.Reaction{":+1:": {Usernames: []string{"bob", "carol"}}, ":tada:": {Usernames: []string{}}, ":eyes:": {}},
		EditedAt:     &edited,
		EditedBy:     &chat.UserRef{ID: "u1", Username: "alice"},
		Hidden:       true,
		DiscussionID: "d1",
	}
}

// TestFullMessageSetsEveryField makes a new field of the records a message
// holds fail here until fullMessage sets it — and so until the fast path
// reads it (TestFastPathReadsWhatPutMessagesWrites).
func TestFullMessageSetsEveryField(t *testing.T) {
	walked := map[reflect.Type]bool{reflect.TypeFor[time.Time](): true}
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			if walked[v.Type()] {
				return
			}
			walked[v.Type()] = true
			for i := range v.NumField() {
				f := v.Field(i)
				name := path + "." + v.Type().Field(i).Name
				if f.IsZero() {
					t.Errorf("fullMessage leaves %s unset", name)
					continue
				}
				walk(name, f)
			}
		case reflect.Pointer:
			walk(path, v.Elem())
		case reflect.Slice:
			if v.Len() > 0 {
				walk(path+"[0]", v.Index(0))
			}
		}
	}
	walk("Message", reflect.ValueOf(fullMessage()))
}

// TestFastPathReadsWhatPutMessagesWrites: the records PutMessages writes
// never need json.Unmarshal, and the fast path gives what it would.
func TestFastPathReadsWhatPutMessagesWrites(t *testing.T) {
	msgs := []chat.Message{
		fullMessage(),
		{ID: "m2", RoomID: "r", TS: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), U: chat.UserRef{ID: "u", Username: "u"}},
		{ID: "m3", RoomID: "r", TS: time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC), Msg: strings.Repeat("x", 1000)},
		{ID: "m4", RoomID: "r", TS: time.Date(2024, 2, 29, 1, 2, 3, 100_000_000, time.UTC), Reactions: map[string]chat.Reaction{}},
	}
	for _, m := range msgs {
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var want, got chat.Message
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		if !new(messageReader).fast(string(raw), &got) {
			t.Errorf("message %s: the fast path gave up on what json.Marshal wrote", m.ID)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("message %s: fast path\n%#v\nwant\n%#v", m.ID, got, want)
		}
	}
}

// TestFastPathOnRandomMessages: whatever text, files, reactions and
// attachments a message holds, the record json.Marshal writes for it (with
// UTC times, as PutMessages stores them) takes the fast path and decodes as
// json.Unmarshal decodes it.
func TestFastPathOnRandomMessages(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	texts := []string{"", "plain", "line\nbreak", "quote \" back \\ slash", "<a href='x'>&amp;</a>", "tab\tcr\r\x00\x1f\x7f",
		"Grüße 東京 👋🏽", "\u2028\u2029", "invalid \xff\xfe bytes", "\U0010FFFF", strings.Repeat("long ", 200)}
	text := func() string { return texts[rng.IntN(len(texts))] + texts[rng.IntN(len(texts))] }
	instant := func() time.Time {
		return time.Unix(rng.Int64N(1<<35)-1<<34, rng.Int64N(1e9)).UTC()
	}
	var (
		buf    []byte
		reader messageReader
	)
	for i := range 3000 {
		m := chat.Message{ID: text(), RoomID: text(), TS: instant(), Msg: text(), U: chat.UserRef{ID: text(), Username: text(), Name: text()},
			Type: text(), Role: text(), ThreadID: text(), Hidden: rng.IntN(2) == 0, DiscussionID: text()}
		for range rng.IntN(3) {
			a := chat.Attachment{Title: text(), TitleLink: text(), Text: text(), Description: text(), Type: text()}
			if rng.IntN(2) == 0 {
				ts := instant()
				a.TS = &ts
				a.Attachments = []chat.Attachment{{Text: text(), AuthorName: text(), MessageLink: text(), ImageURL: text()}}
			}
			m.Attachments = append(m.Attachments, a)
		}
		if rng.IntN(4) == 0 {
			m.File = &chat.FileRef{ID: text(), Name: text(), Type: text(), Size: rng.Int64() - 1<<62}
		}
		for range rng.IntN(3) {
			m.Files = append(m.Files, chat.FileRef{ID: text(), Name: text(), Size: rng.Int64N(1 << 40)})
		}
		if n := rng.IntN(4); n > 0 {
			m.Reactions = map[string]chat.Reaction{}
			for range n {
				var r chat.Reaction
				for range rng.IntN(3) {
					r.Usernames = append(r.Usernames, text())
				}
				m.Reactions[":"+text()+":"] = r
			}
		}
		if rng.IntN(3) == 0 {
			at := instant()
			m.EditedAt, m.EditedBy = &at, &chat.UserRef{ID: text(), Username: text()}
		}
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		buf = append(buf[:0], raw...)
		var want, got chat.Message
		if err := json.Unmarshal(buf, &want); err != nil {
			t.Fatal(err)
		}
		if !reader.fast(string(raw), &got) {
			t.Fatalf("message %d: the fast path gave up on a record json.Marshal wrote", i)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("message %d: the fast path and json.Unmarshal differ", i)
		}
	}
}

// TestDecodeMessageFallsBack: records the fast path was not made for still
// decode as json.Unmarshal decodes them, errors included.
func TestDecodeMessageFallsBack(t *testing.T) {
	for _, raw := range []string{
		`{"_id":"a","ts":"2024-03-10T12:00:00+01:00"}`,          // zone offset
		`{"_id":"a","ID":"b"}`,                                  // case-folded key
		`{"_id":"a","_id":"b"}`,                                 // repeated key
		`{"_id":"a","extra":{"x":[1,2,{"y":null}]}}`,            // unknown key
		`{"_id":"a","file":null,"files":null,"reactions":null}`, // null
		`{"_id":"\ud83d\ude00 \ud800"}`,                         // surrogates
		"{\"_id\":\"\xff\"}",                                    // invalid UTF-8
		`{"_id":"a","files":[{"size":1.5}]}`,                    // not an integer
		`{"_id":"a","ts":"2024-02-30T00:00:00Z"}`,               // no such day
		`{"_id":"a"} x`,                                         // trailing data
		`{"_id":"a",}`,                                          // malformed
		` { "_id" : "a" , "msg" : "b\u00e9" } `,                 // whitespace
		`[]`,
		``,
	} {
		var want, got chat.Message
		wantErr := json.Unmarshal([]byte(raw), &want)
		err := new(messageReader).decode(raw, &got)
		if (err != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("decode(%q) = %#v, %v; json.Unmarshal gives %#v, %v", raw, got, err, want, wantErr)
		}
	}
}

// FuzzDecodeMessage holds messageReader.decode to json.Unmarshal on any
// input.
func FuzzDecodeMessage(f *testing.F) {
	full, _ := json.Marshal(fullMessage())
	f.Add(string(full))
	f.Add(`{"_id":"a","rid":"r","ts":"2024-03-10T12:00:00.5Z","msg":"x\u003cy","u":{"_id":"u","username":"n"}}`)
	f.Add(`{"files":[],"attachments":[{"ts":"0000-01-01T00:00:00Z"}],"reactions":{":a:":{"usernames":null}}}`)
	f.Add(`{"file":{"size":-9223372036854775808},"_hidden":false,"editedAt":"2024-12-31T23:59:59.123456789Z"}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var want, got chat.Message
		wantErr := json.Unmarshal([]byte(raw), &want)
		err := new(messageReader).decode(raw, &got)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("decode(%q) error %v; json.Unmarshal's %v", raw, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decode(%q) =\n%#v\njson.Unmarshal gives\n%#v", raw, got, want)
		}
	})
}

// BenchmarkDecodeMessage decodes a typical record (text, author, a
// reaction); compare with BenchmarkDecodeMessageJSON, json.Unmarshal alone.
func BenchmarkDecodeMessage(b *testing.B) {
	raw := benchRecord(b)
	var r messageReader
	for b.Loop() {
		var m chat.Message
		if err := r.decode(raw, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMessageJSON(b *testing.B) {
	raw := []byte(benchRecord(b))
	for b.Loop() {
		var m chat.Message
		if err := json.Unmarshal(raw, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func benchRecord(b *testing.B) string {
	raw, err := json.Marshal(chat.Message{
		ID: "QjLZgWgb3c7pZx2kM", RoomID: "FYAZX2MYiDjZ6kiM7", TS: time.Date(2023, 5, 11, 16, 32, 14, 947_000_000, time.UTC),
		Msg: "Customer tagged that would 👀 rejected thanks standup staging.\nAre cache release they you yesterday branch slides",
		U:   chat.UserRef{ID: "vRhaEGbuSGzf3HYw2", Username: "bjorn", Name: "Björn Ødegård"},
		Reactions: map[string]chat.Reaction{
			":tada:": {Usernames: []string{"dmitri", "ana.garcia", "quentin"}},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	return string(raw)
}

package render

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// The hand-written JSON encoder must write exactly what encoding/json
// writes for the same jsonMessage (the golden ndjson pins the sample; these
// compare every byte for random and fuzzed messages).

// toJSON maps a stored message to its line's struct: the reference the
// hand-written encoder is compared with (encoding/json of toJSON(m)).
func toJSON(m chat.Message) jsonMessage {
	j := jsonMessage{
		Msg:         m.Msg,
		Username:    m.U.Username,
		TS:          m.TS.UTC().Format(tsLayout),
		Attachments: jsonAttachments(m.Attachments),
		Type:        m.Type,
		ID:          m.ID,
		ThreadID:    m.ThreadID,
	}
	if m.EditedAt != nil {
		j.EditedAt = m.EditedAt.UTC().Format(tsLayout)
	}
	if len(m.Reactions) > 0 {
		j.Reactions = make(map[string]chat.Reaction, len(m.Reactions))
		for k, r := range m.Reactions {
			if r.Usernames == nil {
				r.Usernames = []string{}
			}
			j.Reactions[k] = r
		}
	}
	for _, f := range m.AllFiles() {
		j.Files = append(j.Files, jsonFile(f))
	}
	return j
}

// jsonAttachments maps attachments with their timestamps in the line's one
// format (UTC, three fraction digits); the caller's slice is not modified.
func jsonAttachments(in []chat.Attachment) []jsonAttachment {
	if len(in) == 0 {
		return nil
	}
	out := make([]jsonAttachment, len(in))
	for i, a := range in {
		out[i] = jsonAttachment{
			Title: a.Title, TitleLink: a.TitleLink, Text: a.Text, Description: a.Description,
			AuthorName: a.AuthorName, MessageLink: a.MessageLink, ImageURL: a.ImageURL, Type: a.Type,
			Attachments: jsonAttachments(a.Attachments),
		}
		if a.TS != nil {
			out[i].TS = a.TS.UTC().Format(tsLayout)
		}
	}
	return out
}

// stdJSONLine is the reference: encoding/json's Encoder, HTML escaping on.
func stdJSONLine(t testing.TB, j jsonMessage) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(j); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return buf.Bytes()
}

// trickyPieces are the strings JSON escaping is about.
var trickyPieces = []string{
	"<", ">", "&", `"`, `\`, "/", "\x00", "\x01", "\b", "\f", "\n", "\r", "\t", "\x1f", " ", "\x7f",
	"\u0080", "\u009f", "\u00a0", "\u2027", "\u2028", "\u2029", "\u202a", "\ufeff", "\ufffd", "\U0001F389",
	"\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "é", "日本", "</script>", "&amp;", "+", "'",
}

// randJSONText draws a string of tricky pieces, ASCII and random bytes.
func randJSONText(r *rand.Rand, max int) string {
	var b strings.Builder
	for n := r.IntN(max + 1); n > 0; n-- {
		switch r.IntN(3) {
		case 0:
			b.WriteString(trickyPieces[r.IntN(len(trickyPieces))])
		case 1:
			b.WriteByte(byte(r.IntN(256)))
		default:
			b.WriteByte("abcXYZ019 .:_-"[r.IntN(14)])
		}
	}
	return b.String()
}

func randJSONAttachments(r *rand.Rand, depth int) []chat.Attachment {
	if depth > 3 || r.IntN(3) > 0 {
		return nil
	}
	atts := make([]chat.Attachment, 1+r.IntN(3))
	for i := range atts {
		pick := func() string {
			if r.IntN(2) == 0 {
				return ""
			}
			return randJSONText(r, 6)
		}
		atts[i] = chat.Attachment{Title: pick(), TitleLink: pick(), Text: pick(), Description: pick(), AuthorName: pick(),
			MessageLink: pick(), ImageURL: pick(), Type: pick(), Attachments: randJSONAttachments(r, depth+1)}
		if r.IntN(3) == 0 {
			ts := time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(time.FixedZone("X", 3600*(r.IntN(25)-12)))
			atts[i].TS = &ts
		}
	}
	return atts
}

// randJSONMessage draws a message that exercises every key of a line.
func randJSONMessage(r *rand.Rand) chat.Message {
	m := chat.Message{
		ID: randJSONText(r, 4), Msg: randJSONText(r, 30), U: chat.UserRef{Username: randJSONText(r, 4)},
		TS: time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC(), Attachments: randJSONAttachments(r, 0),
	}
	if r.IntN(3) == 0 {
		m.Type = randJSONText(r, 3)
	}
	if r.IntN(3) == 0 {
		m.ThreadID = randJSONText(r, 3)
	}
	if r.IntN(3) == 0 {
		e := m.TS.Add(time.Duration(r.Int64N(1e12)))
		m.EditedAt = &e
	}
	if r.IntN(3) == 0 {
		m.Reactions = map[string]chat.Reaction{}
		for n := r.IntN(4); n >= 0; n-- {
			var users []string
			switch r.IntN(3) {
			case 0: // nil: toJSON writes []
			case 1:
				users = []string{}
			default:
				for k := r.IntN(3); k >= 0; k-- {
					users = append(users, randJSONText(r, 3))
				}
			}
			m.Reactions[randJSONText(r, 3)] = chat.Reaction{Usernames: users}
		}
	}
	switch r.IntN(4) {
	case 0:
		m.File = &chat.FileRef{ID: randJSONText(r, 2), Name: randJSONText(r, 4), Type: randJSONText(r, 2), Size: r.Int64N(1 << 40)}
	case 1:
		for n := r.IntN(3); n >= 0; n-- {
			m.Files = append(m.Files, chat.FileRef{ID: randJSONText(r, 2), Name: randJSONText(r, 4), Size: -r.Int64N(3)})
		}
	}
	return m
}

func TestJSONEncoderMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		m := randJSONMessage(r)
		want := stdJSONLine(t, toJSON(m))
		if got := appendJSONLine(nil, &m); !bytes.Equal(got, want) {
			t.Fatalf("message %d:\n got %q\nwant %q", i, got, want)
		}
	}
	// Every sample message too, and an empty one.
	for _, m := range append(sampleMessages(), chat.Message{}) {
		if got, want := appendJSONLine(nil, &m), stdJSONLine(t, toJSON(m)); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", m.ID, got, want)
		}
	}
}

func TestJSONStringEscapesEveryByte(t *testing.T) {
	// Each byte value alone and inside text, and each tricky piece.
	var cases []string
	for c := range 256 {
		cases = append(cases, string([]byte{byte(c)}), "a"+string([]byte{byte(c)})+"é")
	}
	cases = append(cases, trickyPieces...)
	for _, s := range cases {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
}

// FuzzJSONLine compares the encoder with encoding/json for fuzzed text in
// the string fields, a reaction and an attachment.
func FuzzJSONLine(f *testing.F) {
	f.Add("hello", "alice", "m1", ":+1:", "quoted")
	f.Add("</script>\u2028\u2029\x00\xff", "<b>", "a\"b", "\\", "\t\r\n")
	f.Add("", "", "", "", "")
	f.Fuzz(func(t *testing.T, msg, user, id, reaction, text string) {
		m := chat.Message{ID: id, Msg: msg, U: chat.UserRef{Username: user}, TS: at(0), Type: text, ThreadID: reaction,
			Reactions:   map[string]chat.Reaction{reaction: {Usernames: []string{user, text}}, text: {}},
			Attachments: []chat.Attachment{{Text: text, AuthorName: user, Attachments: []chat.Attachment{{Title: msg}}}},
			Files:       []chat.FileRef{{ID: id, Name: msg, Type: text, Size: int64(len(msg))}},
		}
		if got, want := appendJSONLine(nil, &m), stdJSONLine(t, toJSON(m)); !bytes.Equal(got, want) {
			t.Errorf("\n got %q\nwant %q", got, want)
		}
	})
}

func TestAppendTSMatchesTheLayout(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), {},
		time.Date(2021, 3, 4, 5, 6, 7, 8_999_999, time.FixedZone("X", -5*3600-30*60)),
	}
	for range 20000 {
		cases = append(cases, time.Unix(r.Int64N(1<<38)-1<<37, r.Int64N(1e9)).In(time.FixedZone("Y", r.IntN(100000)-50000)))
	}
	for _, ts := range cases {
		if got, want := string(appendTS(nil, ts)), ts.UTC().Format(tsLayout); got != want {
			t.Errorf("appendTS(%v) = %s, want %s", ts, got, want)
		}
	}
}

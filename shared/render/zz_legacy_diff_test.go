package render_test

// TEMPORARY: differential test of the hand-written renderer against the
// former html/template one (internal/legacy). Deleted before hand-over.

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/infra/bench/gen"
	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/render"
	"github.com/rooms-export/rooms-export/shared/render/internal/legacy"
)

type entriesT struct {
	names []string
	data  map[string]*bytes.Buffer
}

func (e *entriesT) open(name string) (io.Writer, error) {
	b := &bytes.Buffer{}
	e.names = append(e.names, name)
	e.data[name] = b
	return b, nil
}

type docI interface {
	Begin(h render.Header) error
	Message(m chat.Message) error
	End(int64) error
}

type legacyAdapter struct{ d legacy.Document }

func (a legacyAdapter) Begin(h render.Header) error {
	return a.d.Begin(legacy.Header(h))
}
func (a legacyAdapter) Message(m chat.Message) error { return a.d.Message(m) }
func (a legacyAdapter) End(n int64) error            { return a.d.End(n) }

func runDoc(t *testing.T, d docI, h render.Header, msgs []chat.Message) {
	t.Helper()
	if err := d.Begin(h); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := d.Message(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.End(int64(len(msgs))); err != nil {
		t.Fatal(err)
	}
}

func firstDiffStr(a, b []byte) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			lo := max(0, i-150)
			return fmt.Sprintf("at %d:\n new: %q\n old: %q", i, a[lo:min(len(a), i+150)], b[lo:min(len(b), i+150)])
		}
	}
	return fmt.Sprintf("lengths %d vs %d", len(a), len(b))
}

func compareAll(t *testing.T, name string, h render.Header, msgs []chat.Message, perPage int, parents func(string) (chat.Message, error)) {
	t.Helper()
	// single page
	var a, b bytes.Buffer
	runDoc(t, render.NewHTMLWithOptions(&a, render.Options{Parents: parents}), h, msgs)
	runDoc(t, legacyAdapter{legacy.NewHTMLWithOptions(&b, legacy.Options{Parents: parents})}, h, msgs)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("%s: page differs %s", name, firstDiffStr(a.Bytes(), b.Bytes()))
	}
	// book
	ea := &entriesT{data: map[string]*bytes.Buffer{}}
	eb := &entriesT{data: map[string]*bytes.Buffer{}}
	runDoc(t, render.NewHTMLBook(ea.open, render.BookOptions{PerPage: perPage, BaseName: "R:oom (x)'s", Options: render.Options{Parents: parents}}), h, msgs)
	runDoc(t, legacyAdapter{legacy.NewHTMLBook(eb.open, legacy.BookOptions{PerPage: perPage, BaseName: "R:oom (x)'s", Options: legacy.Options{Parents: parents}})}, h, msgs)
	if strings.Join(ea.names, ",") != strings.Join(eb.names, ",") {
		t.Fatalf("%s: entries differ", name)
	}
	for _, n := range ea.names {
		if !bytes.Equal(ea.data[n].Bytes(), eb.data[n].Bytes()) {
			t.Errorf("%s: book entry %s differs %s", name, n, firstDiffStr(ea.data[n].Bytes(), eb.data[n].Bytes()))
		}
	}
	// mail
	ha, ta := render.MailBody(h.Room, msgs, h.Location)
	hb, tb := legacy.MailBody(h.Room, msgs, h.Location)
	if ha != hb {
		t.Errorf("%s: mail html differs %s", name, firstDiffStr([]byte(ha), []byte(hb)))
	}
	if ta != tb {
		t.Errorf("%s: mail text differs", name)
	}
	// json
	a.Reset()
	b.Reset()
	runDoc(t, render.NewJSON(&a), h, msgs)
	runDoc(t, legacyAdapter{legacy.NewJSON(&b)}, h, msgs)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("%s: json differs %s", name, firstDiffStr(a.Bytes(), b.Bytes()))
	}
}

func TestLegacyDiffGenerated(t *testing.T) {
	zones := []string{"UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu", "Pacific/Chatham"}
	for seed := uint64(1); seed <= 6; seed++ {
		g := gen.New(gen.Config{Messages: 3000, Seed: seed})
		var msgs []chat.Message
		byID := map[string]chat.Message{}
		for g.More() {
			m := g.Next().Message
			msgs = append(msgs, m)
			byID[m.ID] = m
		}
		gh := g.Header()
		loc, _ := time.LoadLocation(zones[int(seed)%len(zones)])
		c := g.Counts()
		// export a middle range so some parents are outside
		sub := msgs[len(msgs)/3:]
		h := render.Header{Room: gh.Room, From: sub[0].TS, To: sub[len(sub)-1].TS, Location: loc, ExportedAt: c.Last.Add(time.Hour), ExportedBy: gh.Exporter.DisplayName(), Total: int64(len(sub))}
		parents := func(id string) (chat.Message, error) {
			if m, ok := byID[id]; ok {
				return m, nil
			}
			return chat.Message{}, chat.ErrNotFound
		}
		compareAll(t, fmt.Sprintf("seed%d", seed), h, sub, 250, parents)
		compareAll(t, fmt.Sprintf("seed%d-nohook", seed), h, sub, 400, nil)
	}
}

var specials = []string{
	"<", ">", "&", "'", "\"", "+", "\x00", "\x01", "\r", "\r\n", "\n", "\t", "\x7f", "\u0085", "\u2028", "\u2029", "\xff", "\xe2\x82", "%", "%41", "%zz", "#", "?", "/", ":", "(", ")", "[", "]", "|", "*", "_", "~", "`", "```", "> ", "@", "#", ":smile:", ":+1:", "http://", "https://", "mailto:", "www.", "javascript:", "ſ", "K", "é", "日本", "🎉", " ", "  ", "-", ".", ",", "!", "\\", "=", ";", "$", "{", "}",
	"https://ex.com/a b", "https://ex.com/p?q=1&r=2+3#f'g(h)", "mailto:a@b.c", "HTTPS://X.Y/%7e%ZZ", "httpſ://evil", "/file-upload/",
}

func randStr(r *rand.Rand, n int) string {
	var b strings.Builder
	k := r.IntN(n + 1)
	for i := 0; i < k; i++ {
		switch r.IntN(4) {
		case 0:
			b.WriteString(specials[r.IntN(len(specials))])
		case 1:
			b.WriteString(" ")
		default:
			b.WriteByte("abcdefghijKLMNOPxyz0123"[r.IntN(23)])
		}
	}
	return b.String()
}

func randTime(r *rand.Rand) time.Time {
	return time.Date(2021, 3, 4, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(3*24*3600)) * time.Second).Add(time.Duration(r.IntN(1000)) * time.Millisecond)
}

func randAtts(r *rand.Rand, depth int, fileIDs []string) []chat.Attachment {
	if depth > 5 || r.IntN(3) != 0 {
		return nil
	}
	n := 1 + r.IntN(3)
	out := make([]chat.Attachment, n)
	for i := range out {
		a := chat.Attachment{}
		if r.IntN(2) == 0 {
			a.Title = randStr(r, 5)
		}
		switch r.IntN(4) {
		case 0:
			a.TitleLink = randStr(r, 4)
		case 1:
			a.TitleLink = "https://ex.com/" + randStr(r, 4)
		case 2:
			if len(fileIDs) > 0 {
				a.TitleLink = "/file-upload/" + fileIDs[0] + "/" + randStr(r, 2)
			}
		}
		if r.IntN(2) == 0 {
			a.Text = randStr(r, 8)
		}
		if r.IntN(3) == 0 {
			a.Description = randStr(r, 6)
		}
		if r.IntN(2) == 0 {
			a.AuthorName = randStr(r, 3)
		}
		if r.IntN(3) == 0 {
			a.MessageLink = []string{"https://chat.ex/c?msg=1", randStr(r, 3), "http://h/" + randStr(r, 3)}[r.IntN(3)]
		}
		if r.IntN(3) == 0 {
			a.ImageURL = []string{"https://ex.com/i.png", randStr(r, 3), "https://ex.com/" + randStr(r, 3)}[r.IntN(3)]
		}
		if r.IntN(4) == 0 {
			ts := randTime(r)
			a.TS = &ts
		}
		a.Attachments = randAtts(r, depth+1, nil)
		out[i] = a
	}
	return out
}

var sysTypes = []string{"uj", "au", "ru", "r", "room_changed_topic", "room_changed_privacy", "subscription-role-added", "subscription-role-removed", "message_pinned", "livechat-close", "user-added-room-to-team", "e2e", "discussion-created", "rm"}

func randMessages(r *rand.Rand, n int) []chat.Message {
	users := []chat.UserRef{{ID: "u1", Username: "alice", Name: "Alice L"}, {ID: "u2", Username: "bob"}, {Username: randStr(r, 3), Name: randStr(r, 4)}, {ID: randStr(r, 2), Username: "", Name: ""}, {ID: "u5", Username: "zoë", Name: "山田 太郎"}}
	msgs := make([]chat.Message, n)
	ts := randTime(r)
	for i := range msgs {
		ts = ts.Add(time.Duration(r.IntN(4*3600)) * time.Second / time.Duration(1+r.IntN(20)))
		m := chat.Message{ID: fmt.Sprintf("m%03d", i), TS: ts, U: users[r.IntN(len(users))]}
		if r.IntN(10) == 0 {
			m.ID = randStr(r, 3) + fmt.Sprint(i)
		}
		m.Msg = randStr(r, 30)
		if r.IntN(8) == 0 {
			m.Type = sysTypes[r.IntN(len(sysTypes))]
			if r.IntN(3) == 0 {
				m.Type = randStr(r, 3)
			}
			m.Role = randStr(r, 2)
		}
		if i > 0 && r.IntN(4) == 0 {
			m.ThreadID = msgs[r.IntN(i)].ID
			if r.IntN(3) == 0 {
				m.ThreadID = []string{"outside-before", "outside-after", "gone", randStr(r, 2)}[r.IntN(4)]
			}
		}
		var fileIDs []string
		if r.IntN(5) == 0 {
			for k := 0; k < 1+r.IntN(3); k++ {
				f := chat.FileRef{ID: fmt.Sprintf("f%d%d", i, k), Name: randStr(r, 4), Type: []string{"image/png", "application/pdf", "", randStr(r, 2), "IMAGE/" + randStr(r, 2)}[r.IntN(5)], Size: []int64{0, 5, 2048, 123456789, 1 << 42}[r.IntN(5)]}
				m.Files = append(m.Files, f)
				fileIDs = append(fileIDs, f.ID)
			}
		} else if r.IntN(10) == 0 {
			m.File = &chat.FileRef{ID: "lf" + fmt.Sprint(i), Name: randStr(r, 3), Type: "image/jpeg", Size: 99}
			fileIDs = append(fileIDs, m.File.ID)
		}
		m.Attachments = randAtts(r, 0, fileIDs)
		if r.IntN(5) == 0 {
			m.Reactions = map[string]chat.Reaction{}
			for k := 0; k < 1+r.IntN(3); k++ {
				code := []string{":smile:", ":+1:", randStr(r, 2), ":" + randStr(r, 2) + ":"}[r.IntN(4)]
				var us []string
				for u := 0; u < r.IntN(3); u++ {
					us = append(us, randStr(r, 2))
				}
				m.Reactions[code] = chat.Reaction{Usernames: us}
			}
		}
		if r.IntN(6) == 0 {
			e := ts.Add(time.Duration(r.IntN(48*3600)) * time.Second)
			m.EditedAt = &e
			if r.IntN(2) == 0 {
				m.EditedBy = &chat.UserRef{Username: randStr(r, 2)}
			}
		}
		msgs[i] = m
	}
	return msgs
}

func TestLegacyDiffRandom(t *testing.T) {
	zones := []string{"UTC", "Europe/Berlin", "Asia/Kathmandu"}
	for seed := uint64(0); seed < 300; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		msgs := randMessages(r, 5+r.IntN(60))
		byID := map[string]chat.Message{}
		for _, m := range msgs {
			byID[m.ID] = m
		}
		byID["outside-before"] = chat.Message{ID: "outside-before", TS: msgs[0].TS.Add(-time.Hour), Msg: randStr(r, 10), U: chat.UserRef{Name: randStr(r, 3)}}
		byID["outside-after"] = chat.Message{ID: "outside-after", TS: msgs[len(msgs)-1].TS.Add(time.Hour), Type: "au", Msg: randStr(r, 3)}
		loc, _ := time.LoadLocation(zones[seed%3])
		room := chat.Room{ID: randStr(r, 3), Type: []string{chat.RoomChannel, chat.RoomDirect, chat.RoomGroup, chat.RoomLive}[r.IntN(4)], Name: randStr(r, 3), FName: randStr(r, 3), Topic: randStr(r, 20), Usernames: []string{randStr(r, 2), "bob"}}
		if r.IntN(2) == 0 {
			room.ParentID = "p"
		}
		h := render.Header{Room: room, From: msgs[0].TS, To: msgs[len(msgs)-1].TS, Location: loc, ExportedAt: randTime(r), ExportedBy: randStr(r, 3), Total: int64(r.IntN(100))}
		if r.IntN(3) == 0 {
			h.From, h.To, h.ExportedAt, h.Total = time.Time{}, time.Time{}, time.Time{}, 0
		}
		parents := func(id string) (chat.Message, error) {
			if m, ok := byID[id]; ok {
				return m, nil
			}
			return chat.Message{}, chat.ErrNotFound
		}
		if r.IntN(4) == 0 {
			parents = nil
		}
		compareAll(t, fmt.Sprintf("rand%d", seed), h, msgs, 1+r.IntN(15), parents)
		if t.Failed() {
			return
		}
	}
}

func BenchmarkLegacyHTMLMessage(b *testing.B) {
	benchPerMessage(b, func(w io.Writer) render.Document { return legacyAdapter{legacy.NewHTML(w)} })
}

func BenchmarkLegacyJSONMessage(b *testing.B) {
	benchPerMessage(b, func(w io.Writer) render.Document { return legacyAdapter{legacy.NewJSON(w)} })
}

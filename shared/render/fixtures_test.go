package render

import (
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// at is a fixed instant on 2021-03-04 (UTC) plus an offset.
func at(offset time.Duration) time.Time {
	return time.Date(2021, 3, 4, 5, 6, 7, 8_000_000, time.UTC).Add(offset)
}

func ptr[T any](v T) *T { return &v }

// sampleRoom is the room of the golden documents.
func sampleRoom() chat.Room {
	return chat.Room{ID: "GENERAL", Type: chat.RoomChannel, Name: "general", FName: "General ✨", Topic: "Team *chat* — see https://example.com/wiki"}
}

// sampleHeader is the header of the golden documents.
func sampleHeader(loc *time.Location) Header {
	return Header{
		Room:       sampleRoom(),
		From:       time.Date(2021, 3, 4, 0, 0, 0, 0, time.UTC),
		To:         time.Date(2021, 3, 6, 0, 0, 0, 0, time.UTC),
		Location:   loc,
		ExportedAt: time.Date(2021, 3, 7, 9, 0, 0, 0, time.UTC),
		ExportedBy: "Ada Admin",
		Total:      1234,
	}
}

var (
	alice = chat.UserRef{ID: "u1", Username: "alice", Name: "Alice Liddell"}
	bob   = chat.UserRef{ID: "u2", Username: "bob"}
	zoe   = chat.UserRef{ID: "u3", Username: "zoë.m", Name: "Zoë Müller 山田"}
)

// sampleMessages is a representative set of every kind of message.
func sampleMessages() []chat.Message {
	msgs := []chat.Message{
		{ID: "m01", Msg: "Hello, world!", U: alice},
		{ID: "m02", Msg: "first line\nsecond line\n\nafter a blank line", U: bob},
		{ID: "m03", Msg: "*bold* _italic_ ~strike~ ~~strike2~~ **bold2** `code <b>` and snake_case_name 2*3*4", U: alice},
		{ID: "m04", Msg: "```\nfunc main() {\n\tfmt.Println(\"<hi>\")\n}\n```\nafter the block", U: alice},
		{ID: "m05", Msg: "> quoted line one\n> quoted *two*\nreply below", U: bob},
		{ID: "m06", Msg: "[docs](https://example.com/docs?a=1&b=2) and https://example.com/path_(x). and www.example.org, mailto:ops@example.com", U: alice},
		{ID: "m07", Msg: "[click](javascript:alert(1)) and <https://example.com|angle> and [rel](/relative) data:text/html,x", U: bob},
		{ID: "m08", Msg: "@bob and @all see #general and #dev-ops. mail bob@example.com", U: alice},
		{ID: "m09", Msg: ":smile: :+1: :custom_party: time 10:30:45", U: zoe},
		{ID: "m10", Msg: "Größe, ünïcödé, 日本語, עברית, 🎉", U: zoe},
		{ID: "m11", Msg: "", U: bob, Type: "uj"},
		{ID: "m12", Msg: "carol", U: alice, Type: "au"},
		{ID: "m13", Msg: "new-name", U: alice, Type: "r"},
		{ID: "m14", Msg: "Quarterly planning", U: alice, Type: "room_changed_topic"},
		{ID: "m15", Msg: "dave", U: alice, Type: "subscription-role-added", Role: "moderator"},
		{ID: "m16", Msg: "", U: alice, Type: "message_pinned", Attachments: []chat.Attachment{{Text: "the pinned *text*", AuthorName: "bob", TS: ptr(at(-time.Hour))}}},
		{ID: "m17", Msg: "", U: bob, Type: "some-future-type"},
		{ID: "m18", Msg: "a reply in the thread", U: bob, ThreadID: "m01"},
		{ID: "m19", Msg: "popular", U: alice, Reactions: map[string]chat.Reaction{":tada:": {Usernames: []string{"bob"}}, ":+1:": {Usernames: []string{"bob", "zoë.m"}}, ":custom:": {Usernames: []string{"alice"}}}},
		{ID: "m20", Msg: "fixed a typo", U: alice, EditedAt: ptr(at(25*time.Hour + 90*time.Minute)), EditedBy: &alice},
		{ID: "m21", Msg: "", U: bob,
			Files:       []chat.FileRef{{ID: "f1", Name: "report #1.pdf", Type: "application/pdf", Size: 123456}},
			Attachments: []chat.Attachment{{Title: "report #1.pdf", TitleLink: "/file-upload/f1/report%20%231.pdf", Description: "the *quarterly* report", Type: "file"}}},
		{ID: "m22", Msg: "look", U: zoe, File: &chat.FileRef{ID: "f2", Name: "cat photo.png", Type: "image/png", Size: 2048}},
		{ID: "m23", Msg: "see this", U: alice, Attachments: []chat.Attachment{
			{Title: "Example site", TitleLink: "https://example.com/", Text: "A link preview", ImageURL: "https://example.com/i.png"},
			{Title: "Bad link", TitleLink: "javascript:alert(1)", Text: "not linked"},
		}},
		{ID: "m24", Msg: "quoting you", U: bob, Attachments: []chat.Attachment{{
			AuthorName: "alice", Text: "Hello, world!", MessageLink: "https://chat.example.com/channel/general?msg=m01", TS: ptr(at(0)),
			Attachments: []chat.Attachment{{AuthorName: "zoë.m", Text: "nested quote"}},
		}}},
		{ID: "m25", Msg: "", U: alice, Type: "rm"},
		{ID: "m26", Msg: "late message: 23:36 in UTC, the next day in Berlin", U: bob},
	}
	for i := range msgs {
		msgs[i].RoomID = "GENERAL"
		msgs[i].TS = at(time.Duration(i) * time.Minute)
	}
	msgs[len(msgs)-1].TS = at(18*time.Hour + 30*time.Minute) // 2021-03-04 23:36 UTC, 2021-03-05 00:36 in Berlin
	return msgs
}

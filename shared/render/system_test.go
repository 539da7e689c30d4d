package render

import (
	"strings"
	"testing"

	"github.com/rooms-export/rooms-export/shared/chat"
)

func TestSystemMessages(t *testing.T) {
	cases := []struct {
		typ, msg, want string
	}{
		{"uj", "alice", "joined the channel"},
		{"ul", "alice", "left the channel"},
		{"ujt", "", "joined the team"},
		{"ult", "", "left the team"},
		{"au", "carol", "added @carol"},
		{"ru", "carol", "removed @carol"},
		{"r", "new-name", "changed the room name to “new-name”"},
		{"room_changed_topic", "New topic", "changed the room topic to “New topic”"},
		{"room_changed_topic", "", "cleared the room topic"},
		{"room_changed_description", "About us", "changed the room description to “About us”"},
		{"room_changed_announcement", "Party!", "changed the room announcement to “Party!”"},
		{"room_changed_privacy", "private", "made the room private"},
		{"room_changed_privacy", "Public", "made the room public"},
		{"room_changed_privacy", "read-only", "changed the room type to “read-only”"},
		{"subscription-role-added", "dave", "gave @dave a room role"},
		{"subscription-role-removed", "dave", "took a room role from @dave"},
		{"message_pinned", "", "pinned a message"},
		{"discussion-created", "Budget 2021", "started the discussion “Budget 2021”"},
		{"rm", "", "(message removed)"},
		{"user-muted", "eve", "muted @eve"},
		{"user-unmuted", "eve", "unmuted @eve"},
		{"added-user-to-team", "frank", "added @frank to the team"},
		{"removed-user-from-team", "frank", "removed @frank from the team"},
		{"user-added-room-to-team", "design", "added #design to the team"},
		{"livechat-started", "", "started the conversation"},
		{"livechat-close", "", "closed the conversation"},
		{"livechat-close", "resolved", "closed the conversation: “resolved”"},
		{"e2e", "c2VjcmV0IGNpcGhlcnRleHQ=", "sent an encrypted message"},
		{"brand-new-type", "", "posted a system message of type brand-new-type"},
		{"brand-new-type", "detail", "posted a system message of type brand-new-type: “detail”"},
	}
	for _, c := range cases {
		t.Run(c.typ+"/"+c.msg, func(t *testing.T) {
			m := chat.Message{ID: "s1", Type: c.typ, Msg: c.msg, U: alice, TS: at(0)}
			if got := systemMessage(m).plain(); got != c.want {
				t.Errorf("plain = %q, want %q", got, c.want)
			}
			// The page says the same words after the author, and never
			// shows the message text as a body.
			root := parseHTML(t, renderDoc(t, newHTMLBuf, sampleHeader(nil), []chat.Message{m}))
			art := byID(root, "msg-s1")
			text := strings.Join(strings.Fields(textOf(art)), " ")
			if !strings.HasPrefix(text, "Alice Liddell "+strings.Join(strings.Fields(c.want), " ")) {
				t.Errorf("page shows %q", text)
			}
			if !hasClass(art, "system") {
				t.Errorf("article is not marked as a system message")
			}
			for _, div := range elements(art, "div") {
				if hasClass(div, "body") {
					t.Errorf("system message has a message body")
				}
			}
		})
	}
}

func TestSystemMessageSubjectsAreEscaped(t *testing.T) {
	m := chat.Message{ID: "s1", Type: "au", Msg: `<img src=x onerror=alert(1)>`, U: alice, TS: at(0)}
	out := string(renderDoc(t, newHTMLBuf, sampleHeader(nil), []chat.Message{m}))
	if strings.Contains(out, "<img src=x") {
		t.Errorf("subject not escaped")
	}
	if !strings.Contains(textOf(parseHTML(t, []byte(out))), "added @<img src=x onerror=alert(1)>") {
		t.Errorf("subject lost")
	}
}

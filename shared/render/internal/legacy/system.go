package legacy

import (
	"strings"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// subjectKind says how the subject of a system message is shown.
type subjectKind int

const (
	subjectNone   subjectKind = iota
	subjectUser               // a username: @name
	subjectRoom               // a room name: #name
	subjectQuoted             // free text: “text”
	subjectCode               // an unknown system-message type
)

// systemText is a system message in plain words, said of its author:
// "<author> <Verb> <Subject><After>[: “Detail”]". Only Subject and Detail come
// from the message; renderers escape them.
type systemText struct {
	Verb    string
	Subject string
	Kind    subjectKind
	After   string
	Detail  string
}

// systemMessage words a system message (m.Type set) as Rocket.Chat's English
// strings do. Rocket.Chat stores the subject in msg: the added or removed
// username, the new room name or topic, the discussion name. Types it does
// not know fall back to a generic line naming the type.
func systemMessage(m chat.Message) systemText {
	msg := strings.TrimSpace(cleanText(m.Msg))
	user := func(verb, after string) systemText {
		return systemText{Verb: verb, Subject: strings.TrimPrefix(msg, "@"), Kind: subjectUser, After: after}
	}
	room := func(verb, after string) systemText {
		return systemText{Verb: verb, Subject: strings.TrimPrefix(msg, "#"), Kind: subjectRoom, After: after}
	}
	quoted := func(verb, empty string) systemText {
		if msg == "" {
			return systemText{Verb: empty}
		}
		return systemText{Verb: verb, Subject: msg, Kind: subjectQuoted}
	}
	words := func(verb string) systemText { return systemText{Verb: verb} }
	detail := func(verb string) systemText { return systemText{Verb: verb, Detail: msg} }

	switch m.Type {
	case "uj":
		return words("joined the channel")
	case "ul":
		return words("left the channel")
	case "ujt":
		return words("joined the team")
	case "ult":
		return words("left the team")
	case "ut":
		return words("joined the conversation")
	case "au":
		return user("added", "")
	case "ru":
		return user("removed", "")
	case "r":
		return quoted("changed the room name to", "cleared the room name")
	case "room_changed_topic":
		return quoted("changed the room topic to", "cleared the room topic")
	case "room_changed_description":
		return quoted("changed the room description to", "cleared the room description")
	case "room_changed_announcement":
		return quoted("changed the room announcement to", "cleared the room announcement")
	case "room_changed_privacy":
		switch strings.ToLower(msg) {
		case "private", "public":
			return words("made the room " + strings.ToLower(msg))
		}
		return quoted("changed the room type to", "changed the room type")
	case "room_changed_avatar":
		return words("changed the room avatar")
	case "subscription-role-added":
		// Rocket.Chat keeps the role in message.role: "set @x as owner".
		if role := strings.TrimSpace(cleanText(m.Role)); role != "" {
			return user("set", " as "+role)
		}
		return user("gave", " a room role")
	case "subscription-role-removed":
		if role := strings.TrimSpace(cleanText(m.Role)); role != "" {
			return user("removed", " as "+role)
		}
		return user("took a room role from", "")
	case "message_pinned":
		return words("pinned a message")
	case "message_unpinned":
		return words("unpinned a message")
	case "message_snippeted":
		return quoted("created the snippet", "created a snippet")
	case "discussion-created":
		return quoted("started the discussion", "started a discussion")
	case "rm":
		return words("(message removed)")
	case "user-muted":
		return user("muted", "")
	case "user-unmuted":
		return user("unmuted", "")
	case "added-user-to-team":
		return user("added", " to the team")
	case "removed-user-from-team":
		return user("removed", " from the team")
	case "user-added-room-to-team":
		return room("added", " to the team")
	case "user-removed-room-from-team":
		return room("removed", " from the team")
	case "user-deleted-room-from-team":
		return room("deleted", " from the team")
	case "user-converted-to-team":
		return words("converted the room to a team")
	case "user-converted-to-channel":
		return words("converted the team to a channel")
	case "room-archived":
		return words("archived the room")
	case "room-unarchived":
		return words("unarchived the room")
	case "room-set-read-only":
		return words("made the room read-only")
	case "room-removed-read-only":
		return words("made the room writable")
	case "room-allowed-reacting":
		return words("allowed reactions")
	case "room-disallowed-reacting":
		return words("disallowed reactions")
	case "room_e2e_enabled":
		return words("enabled end-to-end encryption")
	case "room_e2e_disabled":
		return words("disabled end-to-end encryption")
	case "e2e":
		return words("sent an encrypted message") // msg is ciphertext: never shown
	case "livechat-started":
		return words("started the conversation")
	case "livechat-close":
		return detail("closed the conversation")
	case "livechat_transfer_history":
		return words("transferred the conversation")
	case "livechat_navigation_history":
		return detail("visited a page")
	case "livechat_video_call", "videoconf", "jitsi_call_started":
		return words("started a call")
	case "omnichannel_placed_chat_on_hold":
		return words("placed the conversation on hold")
	case "omnichannel_on_hold_chat_resumed":
		return words("resumed the conversation")
	case "wm":
		return words("sent a welcome message")
	}
	return systemText{Verb: "posted a system message of type", Subject: cleanText(m.Type), Kind: subjectCode, Detail: msg}
}

// plain is the system message as plain text (the mail's text part).
func (s systemText) plain() string {
	var b strings.Builder
	b.WriteString(s.Verb)
	if s.Subject != "" {
		b.WriteByte(' ')
		switch s.Kind {
		case subjectUser:
			b.WriteString("@" + s.Subject)
		case subjectRoom:
			b.WriteString("#" + s.Subject)
		case subjectQuoted:
			b.WriteString("“" + s.Subject + "”")
		default:
			b.WriteString(s.Subject)
		}
	}
	b.WriteString(s.After)
	if s.Detail != "" {
		b.WriteString(": “" + s.Detail + "”")
	}
	return b.String()
}

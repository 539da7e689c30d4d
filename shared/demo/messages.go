package demo

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// HistoryMarker is in the text of every hidden edit-history copy (_hidden),
// and in no other message: an export that contains it has leaked history.
const HistoryMarker = "[superseded draft]"

// siteURL is the Rocket.Chat site URL that permalinks in quotes point at.
const siteURL = "https://chat.example.com"

// firstDay and lastInstant bound every message timestamp: 2019-01-01 to
// 2021-11-25 inclusive, UTC, millisecond precision.
func firstDay() time.Time    { return time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC) }
func lastInstant() time.Time { return time.Date(2021, 11, 25, 23, 59, 59, 999e6, time.UTC) }

// at is a UTC instant with millisecond precision.
func at(y int, mo time.Month, d, h, mi, s, ms int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ms*1e6, time.UTC)
}

// data is the whole demo workspace.
type data struct {
	users  []chat.User
	tokens []chat.Token
	perms  []chat.Permission
	rooms  []chat.Room
	subs   []chat.Subscription
	msgs   []chat.Message // sorted by (ts, _id)
	files  []file
}

// build generates the workspace. Only token creation times depend on now.
func build(now time.Time) (data, error) {
	files, err := makeFiles()
	if err != nil {
		return data{}, err
	}
	us := users()
	byName := make(map[string]chat.User, len(us))
	for _, u := range us {
		byName[u.Username] = u
	}
	g := &gen{
		d:       newDice(20211125),
		byName:  byName,
		members: members(),
		pools:   pools(),
		rooms:   make(map[string]chat.Room),
	}
	for _, r := range rooms() {
		g.rooms[r.ID] = r
	}
	g.scripted(files)
	for _, p := range fillerPlan() {
		g.filler(p)
	}
	slices.SortFunc(g.msgs, func(a, b chat.Message) int {
		return cmp.Or(a.TS.Compare(b.TS), strings.Compare(a.ID, b.ID))
	})
	return data{
		users:  us,
		tokens: tokens(now.UTC().Truncate(time.Millisecond)),
		perms:  permissions(),
		rooms:  rooms(),
		subs:   subscriptions(byName),
		msgs:   g.msgs,
		files:  files.all(),
	}, nil
}

// gen accumulates messages.
type gen struct {
	d       *dice
	byName  map[string]chat.User
	members map[string][]string
	pools   map[string][]string
	rooms   map[string]chat.Room
	msgs    []chat.Message
}

func (g *gen) add(ms ...chat.Message) { g.msgs = append(g.msgs, ms...) }

// message is a user message; its id derives from the room and key.
func (g *gen) message(rid, key string, ts time.Time, author, text string) chat.Message {
	return chat.Message{ID: makeID("message", rid, key), RoomID: rid, TS: ts, Msg: text, U: g.ref(author)}
}

// system is a system message of type t: Rocket.Chat puts its argument (a
// username, a new name, a topic) in msg.
func (g *gen) system(rid, key string, ts time.Time, author, t, msg string) chat.Message {
	m := g.message(rid, key, ts, author, msg)
	m.Type = t
	return m
}

// ref is the message.u stamp of a user. A username with no user record (a
// deleted account) still gets a stable id, as old messages keep theirs.
func (g *gen) ref(username string) chat.UserRef {
	if u, ok := g.byName[username]; ok {
		return chat.UserRef{ID: u.ID, Username: u.Username, Name: u.Name}
	}
	return chat.UserRef{ID: makeID("user", username), Username: username}
}

// permalink is the link Rocket.Chat puts in a quote: <site>/<type>/<name>?msg=<id>.
func (g *gen) permalink(m chat.Message) string {
	r := g.rooms[m.RoomID]
	path := "channel/" + r.Name
	switch r.Type {
	case chat.RoomGroup:
		path = "group/" + r.Name
	case chat.RoomDirect:
		path = "direct/" + r.ID
	}
	return siteURL + "/" + path + "?msg=" + m.ID
}

// quote makes m quote q as Rocket.Chat does: a hidden link to q at the start
// of the text and q as an attachment (with q's own quotes nested).
func (g *gen) quote(m *chat.Message, q chat.Message) {
	link := g.permalink(q)
	ts := q.TS
	m.Msg = "[ ](" + link + ") " + m.Msg
	m.Attachments = append(m.Attachments, chat.Attachment{
		Text:        q.Msg,
		AuthorName:  q.U.Username,
		MessageLink: link,
		TS:          &ts,
		Attachments: q.Attachments,
	})
}

// edit marks m as edited by editor after its time, and returns the hidden
// copy of the text before the edit (Rocket.Chat's Message_KeepHistory: a
// clone with _hidden set, stamped with the edit).
func (g *gen) edit(m *chat.Message, editor string, after time.Duration, before string) chat.Message {
	hidden := *m
	hidden.ID = makeID("history", m.ID)
	hidden.Msg = before + " " + HistoryMarker
	hidden.Hidden = true
	hidden.Reactions = nil
	editedAt := m.TS.Add(after)
	editedAt2 := editedAt
	by, by2 := g.ref(editor), g.ref(editor)
	m.EditedAt, m.EditedBy = &editedAt, &by
	hidden.EditedAt, hidden.EditedBy = &editedAt2, &by2
	return hidden
}

// react adds reactions: emoji → usernames.
func react(m *chat.Message, r map[string][]string) {
	if m.Reactions == nil {
		m.Reactions = make(map[string]chat.Reaction, len(r))
	}
	for emoji, names := range r {
		m.Reactions[emoji] = chat.Reaction{Usernames: names}
	}
}

// withFiles makes m carry uploaded files as Rocket.Chat 6 does: file (the
// first), files (all) and one file attachment each (image_url for images).
func withFiles(m *chat.Message, description string, fs ...file) {
	first := fs[0].ref()
	m.File = &first
	for i, f := range fs {
		m.Files = append(m.Files, f.ref())
		link := "/file-upload/" + f.upload.ID + "/" + url.PathEscape(f.upload.Name)
		a := chat.Attachment{Title: f.upload.Name, TitleLink: link, Type: "file"}
		if i == 0 {
			a.Description = description
		}
		if strings.HasPrefix(f.upload.Type, "image/") {
			a.ImageURL = link
		}
		m.Attachments = append(m.Attachments, a)
	}
}

// roomPlan says how many filler messages a room gets, from when.
type roomPlan struct {
	rid  string
	from time.Time
	n    int
}

// fillerPlan puts most messages in general; every room gets some, after the
// room's creation.
func fillerPlan() []roomPlan {
	return []roomPlan{
		{GeneralRoomID, at(2019, 1, 2, 0, 0, 0, 0), 1500},
		{RandomRoomID, at(2019, 1, 2, 0, 0, 0, 0), 200},
		{ProjectRoomID, at(2020, 6, 2, 0, 0, 0, 0), 150},
		{SecretRoomID, at(2019, 6, 2, 0, 0, 0, 0), 60},
		{DirectRoomID, at(2019, 2, 2, 0, 0, 0, 0), 100},
		{DiscussionRoomID, at(2021, 2, 2, 0, 0, 0, 0), 50},
		{TeamRoomID, at(2020, 1, 16, 0, 0, 0, 0), 120},
	}
}

// daveLeft is when dave stopped writing (he was deactivated later).
func daveLeft() time.Time { return at(2021, 6, 1, 0, 0, 0, 0) }

// filler adds a room's everyday messages at random times, then turns some
// into thread parents (with replies), quotes, reacted-to and edited messages.
func (g *gen) filler(p roomPlan) {
	span := lastInstant().Sub(p.from).Milliseconds()
	msgs := make([]chat.Message, 0, p.n)
	for i := range p.n {
		ts := p.from.Add(time.Duration(g.d.int64n(span+1)) * time.Millisecond)
		author := g.author(p.rid, ts)
		msgs = append(msgs, g.message(p.rid, "filler-"+strconv.Itoa(i), ts, author, g.fill(p.rid, pick(g.d, g.pools[p.rid]))))
	}
	slices.SortFunc(msgs, func(a, b chat.Message) int {
		return cmp.Or(a.TS.Compare(b.TS), strings.Compare(a.ID, b.ID))
	})
	var extra []chat.Message
	for i := range msgs {
		m := &msgs[i]
		switch {
		case g.d.chance(25):
			extra = append(extra, g.replies(*m)...)
		case i > 0 && g.d.chance(50):
			g.quote(m, msgs[i-1-g.d.intn(min(i, 10))])
		}
		if g.d.chance(10) {
			g.randomReactions(m)
		}
		if g.d.chance(40) && m.TS.Add(4*time.Hour).Before(lastInstant()) {
			editor := m.U.Username
			if g.d.chance(4) && slices.Contains(g.members[p.rid], "admin") {
				editor = "admin" // a moderator's edit
			}
			after := time.Second + time.Duration(g.d.int64n(int64(3*time.Hour/time.Millisecond)))*time.Millisecond
			extra = append(extra, g.edit(m, editor, after, strings.Replace(m.Msg, " ", "  ", 1)))
		}
	}
	g.add(msgs...)
	g.add(extra...)
}

// replies are 1 to 6 thread replies to parent, spread over the hours after it.
func (g *gen) replies(parent chat.Message) []chat.Message {
	var out []chat.Message
	ts := parent.TS
	for j := range 1 + g.d.intn(6) {
		ts = ts.Add(time.Duration(1+g.d.int64n(int64(6*time.Hour/time.Millisecond))) * time.Millisecond)
		if ts.After(lastInstant()) {
			break
		}
		m := g.message(parent.RoomID, "reply-"+parent.ID+"-"+strconv.Itoa(j), ts, g.author(parent.RoomID, ts), g.fill(parent.RoomID, pick(g.d, threadReplies())))
		m.ThreadID = parent.ID
		out = append(out, m)
	}
	return out
}

func (g *gen) randomReactions(m *chat.Message) {
	names := g.humans(m.RoomID)
	r := map[string][]string{}
	for range 1 + g.d.intn(3) {
		emoji := pick(g.d, reactionEmoji())
		var who []string
		for range 1 + g.d.intn(min(4, len(names))) {
			if n := pick(g.d, names); !slices.Contains(who, n) {
				who = append(who, n)
			}
		}
		r[emoji] = who
	}
	react(m, r)
}

// humans are the room's members who write filler (not the bot).
func (g *gen) humans(rid string) []string {
	var out []string
	for _, n := range g.members[rid] {
		if n != "rocket.cat" {
			out = append(out, n)
		}
	}
	return out
}

// author picks a member to write at ts; dave writes nothing after he left.
func (g *gen) author(rid string, ts time.Time) string {
	names := g.humans(rid)
	n := pick(g.d, names)
	if n == "dave" && ts.After(daveLeft()) {
		return names[0]
	}
	return n
}

// fill replaces the placeholders of a pool line.
func (g *gen) fill(rid, text string) string {
	for strings.Contains(text, "{user}") {
		text = strings.Replace(text, "{user}", "@"+pick(g.d, g.humans(rid)), 1)
	}
	text = strings.ReplaceAll(text, "{room}", "#"+pick(g.d, []string{"general", "random", "engineering"}))
	return strings.ReplaceAll(text, "{n}", fmt.Sprint(100+g.d.intn(900)))
}

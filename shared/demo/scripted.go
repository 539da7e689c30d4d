package demo

import (
	"fmt"
	"strings"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// scripted adds the hand-written messages: every system-message type, the
// rendering traps (markdown, scripts, right-to-left text, boundaries) and the
// uploaded files. Filler comes on top of these.
func (g *gen) scripted(f demoFiles) {
	g.general(f)
	g.random()
	g.project(f)
	g.secret()
	g.direct(f)
	g.discussion()
	g.team(f)
}

func (g *gen) general(f demoFiles) {
	const rid = GeneralRoomID
	sys := func(key string, ts time.Time, author, t, msg string) { g.add(g.system(rid, key, ts, author, t, msg)) }
	post := func(key string, ts time.Time, author, text string) chat.Message {
		m := g.message(rid, key, ts, author, text)
		g.add(m)
		return m
	}

	// Creation, joins and room settings.
	sys("created", at(2019, 1, 1, 0, 0, 0, 0), "admin", "uj", "admin")
	sys("renamed", at(2019, 1, 1, 0, 5, 0, 0), "admin", "r", "general") // was "lobby"
	for i, name := range g.members[rid][1:] {
		sys("join-"+name, at(2019, 1, 2+i, 9, 3*i, 7, 0), name, "uj", name)
	}
	sys("topic", at(2019, 1, 3, 9, 0, 0, 0), "admin", "room_changed_topic", g.rooms[rid].Topic)
	sys("description", at(2019, 1, 3, 9, 1, 0, 0), "admin", "room_changed_description", "Everyone is here. Be kind; no <b>HTML</b> please.")
	sys("announcement", at(2020, 11, 20, 8, 0, 0, 0), "admin", "room_changed_announcement", "**Maintenance** on Saturday, 02:00–04:00 UTC 🔧")
	g.add(withRole(g.system(rid, "role-added", at(2019, 2, 1, 10, 0, 0, 0), "admin", "subscription-role-added", "zoe"), "moderator"))
	g.add(withRole(g.system(rid, "role-removed", at(2019, 6, 1, 10, 0, 0, 0), "admin", "subscription-role-removed", "zoe"), "moderator"))
	sys("muted", at(2020, 4, 1, 8, 30, 0, 0), "admin", "user-muted", "dave")
	sys("unmuted", at(2020, 4, 8, 8, 30, 0, 0), "admin", "user-unmuted", "dave")
	sys("removed-message", at(2020, 7, 7, 10, 0, 0, 0), "alice", "rm", "")
	disc := g.system(rid, "discussion", at(2021, 2, 1, 10, 0, 0, 0), "admin", "discussion-created", g.rooms[DiscussionRoomID].FName)
	disc.DiscussionID = DiscussionRoomID
	g.add(disc)

	welcome := g.message(rid, "welcome", at(2019, 1, 1, 0, 10, 0, 0), "admin",
		"Welcome to **Acme**'s Rocket.Chat! 👋\nRead the rules in the channel description and say hi.\n\n— The admin team")
	react(&welcome, map[string][]string{":wave:": {"alice", "bob", "zoe"}, ":tada:": {"lilei"}, ":flag_se:": {"zoe"}})
	g.add(welcome)
	pin := g.system(rid, "pinned", at(2019, 1, 1, 0, 15, 0, 0), "admin", "message_pinned", "")
	ts := welcome.TS
	pin.Attachments = []chat.Attachment{{Text: welcome.Msg, AuthorName: welcome.U.Username, MessageLink: g.permalink(welcome), TS: &ts}}
	g.add(pin)

	// Markdown, links, mentions, emoji.
	md := post("markdown", at(2019, 3, 14, 15, 9, 26, 535), "alice", "*bold* _italic_ ~strike~ `inline code` and a [link](https://rocket.chat)")
	post("code-block", at(2019, 5, 5, 10, 0, 0, 0), "lilei", "Here is the snippet:\n```go\nfunc main() {\n\tfmt.Println(\"héllo, 世界\")\n}\n```")
	post("blockquote", at(2019, 5, 6, 11, 0, 0, 0), "bob", "> To be, or not to be,\n> that is the question.\nShakespeare, probably 🎭")
	post("links", at(2019, 5, 7, 12, 0, 0, 0), "zoe", "Docs: https://docs.rocket.chat/ — write to mailto:zoe@example.org or see <https://example.org/a?b=1&c=2>; not ftp://example.org/file")
	post("mentions", at(2019, 5, 8, 13, 0, 0, 0), "admin", "@alice @bob please review. cc @all @here — details in #random and #project-phoenix")
	post("emoji", at(2019, 5, 9, 14, 0, 0, 0), "zoe", ":smile: :+1: :tada: :flag_se: 🎉 👍🏽 👨‍👩‍👧‍👦 🇸🇪 ❤️ :not_a_real_emoji:")
	post("multiline", at(2019, 6, 3, 8, 0, 0, 0), "bob", "Agenda for Monday:\n1. Budget\n2. Hiring\n3. AOB\n\n\nThanks,\nBob")
	var log strings.Builder
	for i := range 120 {
		fmt.Fprintf(&log, "2020-03-03T10:%02d:%02d.%03dZ INFO step %d/120 ok\n", i/60, i%60, i*7%1000, i+1)
	}
	post("long", at(2020, 3, 3, 10, 5, 0, 0), "lilei", "Build log (long message):\n```\n"+log.String()+"```")

	// Scripts and languages.
	post("accents", at(2019, 5, 10, 9, 0, 0, 0), "jose", "¡Hola! ¿Qué tal? Ça va ? Grüße aus Köln, smørrebrød, naïve café, Łódź, Ἀθήνα, Zoë Ångström")
	post("cjk", at(2019, 5, 11, 9, 0, 0, 0), "lilei", "大家好！今天的会议改到下午三点。日本語も大丈夫？한국어도 돼요.")
	post("arabic", at(2019, 5, 12, 9, 0, 0, 0), "amira", "مرحبا بالجميع! الاجتماع غدًا الساعة ١٠ صباحًا.")
	post("hebrew", at(2019, 5, 13, 9, 0, 0, 0), "noa", "שלום לכולם! הפגישה נדחתה ליום חמישי.")
	post("mixed-direction", at(2019, 5, 14, 9, 0, 0, 0), "amira", "Mixed direction: مرحبا means hello and שלום too, 123 ← →")
	post("bidi-override", at(2019, 5, 15, 9, 0, 0, 0), "eve", "invoice\u202etxt.exe\u202c, zero\u200bwidth and a\ttab")

	// HTML and scripts: all of it must come out as text.
	post("html-script", at(2020, 1, 13, 10, 0, 0, 0), "eve", "<script>alert(1)</script>")
	post("html-img", at(2020, 1, 13, 10, 1, 0, 0), "eve", "<img src=x onerror=alert(1)>")
	post("html-js-link", at(2020, 1, 13, 10, 2, 0, 0), "eve", "Click [here](javascript:alert(1)) or <a href=\"javascript:alert(2)\">here</a>")
	post("html-breakout", at(2020, 1, 13, 10, 3, 0, 0), "eve", "\"><svg onload=alert(3)></textarea></style></script>{{.}} ${7*7} &amp; &lt;b&gt; <!-- comment -->")

	// Quotes, one nested.
	q1 := g.message(rid, "quote", at(2019, 3, 15, 9, 0, 0, 0), "bob", "I agree, markdown is great")
	g.quote(&q1, md)
	g.add(q1)
	q2 := g.message(rid, "quote-of-quote", at(2019, 3, 15, 9, 30, 0, 0), "zoe", "Quoting the quote 🔁")
	g.quote(&q2, q1)
	g.add(q2)

	// Bot, deleted and deactivated authors.
	bot := g.message(rid, "bot", at(2020, 9, 1, 6, 0, 0, 0), "rocket.cat", "Build finished")
	bot.Attachments = []chat.Attachment{
		{Title: "Build #42 passed ✅", TitleLink: "https://ci.example.com/builds/42", Text: "1,234 tests passed in 3m12s"},
		{Title: "Suspicious link", TitleLink: "javascript:alert(4)", Text: "must not become clickable"},
	}
	g.add(bot)
	post("ghost", at(2019, 4, 1, 12, 0, 0, 0), "ghost.user", "I'll be gone soon 👻")
	post("dave-bye", at(2021, 5, 31, 17, 0, 0, 0), "dave", "Moving on to new adventures, bye all! 👋")

	// Boundaries: midnight UTC, the last millisecond, a leap day, the
	// European DST change, and messages sharing a millisecond.
	post("new-year-2020", at(2020, 1, 1, 0, 0, 0, 0), "jose", "¡Feliz año nuevo! 🎆")
	post("new-year-2021", at(2021, 1, 1, 0, 0, 0, 0), "zoe", "Gott nytt år! 🥂")
	post("leap-day", at(2020, 2, 29, 0, 0, 0, 0), "orjan", "Leap day! 🐸")
	post("last-day", at(2021, 11, 25, 0, 0, 0, 0), "admin", "Start of the last day of the demo")
	post("last-ms-2019", at(2019, 12, 31, 23, 59, 59, 999), "lilei", "Last millisecond of 2019 ⏱️")
	post("last-ms", at(2021, 11, 25, 23, 59, 59, 999), "admin", "Last message of the demo range 🏁")
	post("last-ms-too", at(2021, 11, 25, 23, 59, 59, 999), "alice", "me too!")
	post("dst-before", at(2021, 3, 28, 0, 59, 59, 999), "orjan", "Last moment before the clocks go forward in Europe 🕐")
	post("dst-after", at(2021, 3, 28, 1, 0, 0, 0), "orjan", "…and now it is summer time 🕑")
	same := at(2020, 6, 15, 12, 34, 56, 789)
	post("same-ms-1", same, "alice", "first!")
	post("same-ms-2", same, "bob", "second!")
	post("same-ms-3", same, "zoe", "third! 🥉")

	// A thread, and an edit by a moderator.
	parent := g.message(rid, "poll", at(2021, 6, 10, 9, 0, 0, 0), "admin", "Naming poll 🧵: what should we call the next release?")
	react(&parent, map[string][]string{":fire:": {"alice", "lilei"}, ":bird:": {"zoe"}})
	g.add(parent)
	for i, r := range []struct {
		min    int
		author string
		text   string
	}{
		{5, "alice", "Phoenix 2 🔥"},
		{7, "bob", "Firebird"},
		{30, "lilei", "凤凰 (fènghuáng) 🐦"},
		{60, "zoe", "> Firebird\n+1 for Firebird"},
	} {
		m := g.message(rid, fmt.Sprintf("poll-reply-%d", i), parent.TS.Add(time.Duration(r.min)*time.Minute), r.author, r.text)
		m.ThreadID = parent.ID
		g.add(m)
	}
	edited := g.message(rid, "edited", at(2021, 6, 11, 10, 0, 0, 0), "alice", "The meeting is on Thursday at 10:00.")
	hidden := g.edit(&edited, "admin", 30*time.Minute, "The meeting is on Tuesday at 10:00.")
	g.add(edited, hidden)

	// Files: an image, a PDF, and a name that tries to leave the archive.
	logo := g.message(rid, "file-logo", at(2019, 8, 20, 14, 0, 0, 0), "alice", "")
	withFiles(&logo, "New logo draft 🎨", f.logo)
	spec := g.message(rid, "file-spec", at(2021, 1, 15, 9, 0, 0, 0), "admin", "Here's the spec for 2.0")
	withFiles(&spec, "Release 2.0 specification (PDF)", f.spec)
	evil := g.message(rid, "file-evil", at(2020, 9, 9, 9, 9, 9, 9), "eve", "totally harmless file")
	withFiles(&evil, "<b>not bold</b>", f.evil)
	g.add(logo, spec, evil)
}

func (g *gen) random() {
	const rid = RandomRoomID
	sys := func(key string, ts time.Time, author, t, msg string) { g.add(g.system(rid, key, ts, author, t, msg)) }
	sys("created", at(2019, 1, 1, 0, 20, 0, 0), "admin", "uj", "admin")
	sys("renamed", at(2019, 1, 1, 0, 30, 0, 0), "admin", "r", "random") // was "off-topic"
	for i, name := range g.members[rid][1:] {
		sys("join-"+name, at(2019, 1, 1, 1+i, 0, 0, 0), name, "uj", name)
	}
	sys("join-eve", at(2019, 3, 1, 9, 0, 0, 0), "eve", "uj", "eve")
	sys("leave-eve", at(2020, 5, 5, 17, 0, 0, 0), "eve", "ul", "eve")
	sys("join-dave", at(2019, 3, 2, 9, 0, 0, 0), "dave", "uj", "dave")
	sys("remove-dave", at(2021, 6, 2, 9, 0, 0, 0), "admin", "ru", "dave")
	g.add(g.message(rid, "eve-bye", at(2020, 5, 5, 16, 59, 0, 0), "eve", "Too much noise here for me, bye 🙉"))
}

func (g *gen) project(f demoFiles) {
	const rid = ProjectRoomID
	sys := func(key string, ts time.Time, author, t, msg string) { g.add(g.system(rid, key, ts, author, t, msg)) }
	sys("renamed", at(2020, 6, 1, 9, 1, 0, 0), "bob", "r", "project-phoenix") // was "phoenix"
	sys("add-alice", at(2020, 6, 1, 9, 2, 0, 0), "bob", "au", "alice")
	sys("add-admin", at(2020, 6, 1, 9, 3, 0, 0), "bob", "au", "admin")
	g.add(withRole(g.system(rid, "role-alice", at(2020, 6, 2, 9, 0, 0, 0), "bob", "subscription-role-added", "alice"), "leader"))
	g.add(g.message(rid, "kickoff", at(2020, 6, 1, 9, 5, 0, 0), "bob", "Kick-off: Phoenix is **confidential** until launch. 🤫"))
	budget := g.message(rid, "file-budget", at(2021, 3, 4, 10, 0, 0, 0), "bob", "Budget for the year")
	withFiles(&budget, "Numbers as agreed on Monday", f.budget)
	notes := g.message(rid, "file-notes", at(2021, 3, 4, 10, 1, 0, 0), "bob", "")
	withFiles(&notes, "", f.notes)
	g.add(budget, notes)
}

func (g *gen) secret() {
	const rid = SecretRoomID
	for i, name := range g.members[rid][1:] {
		g.add(g.system(rid, "add-"+name, at(2019, 6, 1, 10, i, 0, 0), "zoe", "au", name))
	}
	g.add(g.message(rid, "hello", at(2019, 6, 1, 10, 10, 0, 0), "zoe", "This group is for HR matters only. Admins are deliberately not members."))
}

func (g *gen) direct(f demoFiles) {
	const rid = DirectRoomID
	cv := g.message(rid, "file-resume", at(2020, 10, 10, 11, 0, 0, 0), "alice", "My CV, as promised")
	withFiles(&cv, "Résumé", f.resume)
	thanks := g.message(rid, "thanks", at(2020, 10, 10, 11, 5, 0, 0), "admin", "Thanks! *Looks great* 👍")
	react(&thanks, map[string][]string{":heart:": {"alice"}})
	g.add(cv, thanks)
}

func (g *gen) discussion() {
	const rid = DiscussionRoomID
	g.add(g.message(rid, "start", at(2021, 2, 1, 10, 0, 0, 1), "admin", "Let's plan Release 2.0 here. Agenda:\n1. scope\n2. dates\n3. owners"))
}

func (g *gen) team(f demoFiles) {
	const rid = TeamRoomID
	sys := func(key string, ts time.Time, author, t, msg string) { g.add(g.system(rid, key, ts, author, t, msg)) }
	sys("created", at(2020, 1, 15, 10, 0, 0, 0), "lilei", "uj", "lilei")
	sys("add-admin", at(2020, 1, 15, 10, 1, 0, 0), "lilei", "added-user-to-team", "admin")
	sys("add-bob", at(2020, 1, 15, 10, 2, 0, 0), "lilei", "added-user-to-team", "bob")
	sys("add-jose", at(2020, 1, 15, 10, 3, 0, 0), "lilei", "added-user-to-team", "jose")
	sys("join-orjan", at(2020, 1, 16, 8, 0, 0, 0), "orjan", "ujt", "orjan")
	cfg := g.message(rid, "file-config", at(2020, 2, 2, 15, 0, 0, 0), "lilei", "Current `config.json`")
	withFiles(&cfg, "", f.config)
	both := g.message(rid, "file-diagram", at(2020, 2, 3, 16, 0, 0, 0), "orjan", "Architecture diagram and the README")
	withFiles(&both, "Two files in one message", f.diagram, f.readme)
	g.add(cfg, both)
}

// withRole sets the role a subscription-role-added/-removed message names.
func withRole(m chat.Message, role string) chat.Message {
	m.Role = role
	return m
}

package gen

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// Text bounds, in characters (runes), as issue 4 asks: 10–500.
const (
	minText = 10
	maxText = 500
)

// length draws how long a text is: mostly short, as chat is, with a long tail.
func (g *Generator) length() int {
	switch r := g.rng.Float64(); {
	case r < 0.55:
		return minText + g.rng.IntN(50)
	case r < 0.85:
		return 60 + g.rng.IntN(140)
	default:
		return 200 + g.rng.IntN(maxText-200+1)
	}
}

// text draws a message text of minText to maxText runes: sentences of words
// with some markdown, mentions, links, non-ASCII words and emoji; about one
// message in eight spans several lines, some with a quote or a code block.
func (g *Generator) text() string {
	target := g.length()
	multi := g.rng.Float64() < 0.12
	var b strings.Builder
	runes := 0
	write := func(s string) {
		b.WriteString(s)
		runes += utf8.RuneCountInString(s)
	}
	switch r := g.rng.Float64(); {
	case r < 0.04:
		write("> " + g.sentence(6) + "\n")
	case r < 0.12:
		write("@" + g.hdr.Authors[g.rng.IntN(len(g.hdr.Authors))].Username)
	}
	space := runes > 0 && !strings.HasSuffix(b.String(), "\n") // a separator is due before the next word
	inSentence := 0
	sentenceLen := 4 + g.rng.IntN(11)
	for runes < target {
		tok := g.word(inSentence == 0)
		inSentence++
		sep := " "
		if inSentence >= sentenceLen {
			tok += [...]string{".", ".", ".", "!", "?"}[g.rng.IntN(5)]
			inSentence, sentenceLen = 0, 4+g.rng.IntN(11)
			if multi && g.rng.Float64() < 0.5 {
				sep = "\n"
			}
		}
		if runes > 0 && runes+1+utf8.RuneCountInString(tok) > maxText {
			break
		}
		if space {
			write(" ")
		}
		write(tok)
		space = sep == " "
		if !space {
			write(sep)
		}
	}
	if multi && g.rng.Float64() < 0.2 {
		block := "\n```\n" + codeLines[g.rng.IntN(len(codeLines))] + "\n```"
		if runes+utf8.RuneCountInString(block) <= maxText {
			write(block)
		}
	}
	s := strings.TrimRight(b.String(), " \n")
	for utf8.RuneCountInString(s) < minText {
		s += " " + words[g.rng.IntN(len(words))]
	}
	return s
}

// sentence draws up to n plain words.
func (g *Generator) sentence(n int) string {
	parts := make([]string, 1+g.rng.IntN(n))
	for i := range parts {
		parts[i] = g.word(i == 0)
	}
	return strings.Join(parts, " ")
}

// word draws one token of a sentence.
func (g *Generator) word(first bool) string {
	w := words[g.rng.IntN(len(words))]
	switch r := g.rng.Float64(); {
	case r < 0.05:
		return foreign[g.rng.IntN(len(foreign))]
	case r < 0.08:
		return emoji[g.rng.IntN(len(emoji))]
	case r < 0.11:
		return shortcodes[g.rng.IntN(len(shortcodes))]
	case r < 0.12:
		return "*" + w + "*"
	case r < 0.13:
		return "_" + w + "_"
	case r < 0.135:
		return "~~" + w + "~~"
	case r < 0.15:
		return "`" + w + "()`"
	case r < 0.16:
		return "https://docs.example.com/" + w + "/" + fmt.Sprint(g.rng.IntN(1000))
	case r < 0.165:
		return "[" + w + "](https://wiki.example.com/" + w + ")"
	case r < 0.18:
		return "@" + g.hdr.Authors[g.rng.IntN(len(g.hdr.Authors))].Username
	case r < 0.185:
		return "#general"
	case r < 0.2:
		return fmt.Sprint(g.rng.IntN(2000))
	}
	if first {
		return strings.ToUpper(w[:1]) + w[1:]
	}
	return w
}

// systemType is a system-message type and how often it occurs.
type systemType struct {
	t      string
	weight int
}

var systemTypes = []systemType{
	{"uj", 30}, {"ul", 12}, {"au", 10}, {"ru", 4}, {"r", 3}, {"room_changed_topic", 6},
	{"room_changed_description", 3}, {"room_changed_announcement", 3}, {"room_changed_privacy", 1},
	{"subscription-role-added", 4}, {"subscription-role-removed", 2}, {"message_pinned", 5},
	{"user-muted", 2}, {"user-unmuted", 1}, {"discussion-created", 3}, {"ujt", 2},
	{"added-user-to-team", 2}, {"rm", 3},
}

var systemWeight = func() int {
	n := 0
	for _, s := range systemTypes {
		n += s.weight
	}
	return n
}()

// system makes m a system message of a drawn type, with the msg (and role,
// attachment or discussion) Rocket.Chat stores for that type.
func (g *Generator) system(m *chat.Message) {
	r := g.rng.IntN(systemWeight)
	for _, s := range systemTypes {
		if r < s.weight {
			m.Type = s.t
			break
		}
		r -= s.weight
	}
	switch m.Type {
	case "uj", "ul", "ujt":
		m.Msg = m.U.Username
	case "au", "ru", "user-muted", "user-unmuted", "added-user-to-team":
		m.Msg = g.other(m.U).Username
	case "subscription-role-added", "subscription-role-removed":
		m.Msg = g.other(m.U).Username
		m.Role = [...]string{"moderator", "owner", "leader"}[g.rng.IntN(3)]
	case "r":
		m.Msg = "bench-room-" + words[g.rng.IntN(len(words))]
	case "room_changed_topic", "room_changed_description", "room_changed_announcement":
		m.Msg = g.sentence(10)
	case "room_changed_privacy":
		m.Msg = [...]string{"private", "public"}[g.rng.IntN(2)]
	case "message_pinned":
		ts := m.TS.Add(-time.Duration(g.rng.IntN(86400)) * time.Second)
		m.Attachments = []chat.Attachment{{Text: g.text(), AuthorName: g.other(m.U).Username, TS: &ts}}
	case "discussion-created":
		m.Msg = "Discussion: " + g.sentence(4)
		m.DiscussionID = g.id()
	case "rm":
		m.Msg = ""
	}
}

// fileKind is a kind of uploaded file: a name pattern and its media type.
type fileKind struct{ name, mime string }

var fileKinds = []fileKind{
	{"IMG_%d.jpg", "image/jpeg"}, {"screenshot %d.png", "image/png"}, {"report-Q%d.pdf", "application/pdf"},
	{"notes-%d.txt", "text/plain"}, {"data-%d.csv", "text/csv"}, {"présentation %d.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
	{"写真_%d.jpg", "image/jpeg"}, {"voice-message-%d.mp3", "audio/mpeg"}, {"clip-%d.mp4", "video/mp4"},
	{"archive-%d.zip", "application/zip"}, {"diagram-%d.svg", "image/svg+xml"}, {"budget %d.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
}

// file gives m an uploaded file the way Rocket.Chat stores an upload message
// (file, files, and a file attachment carrying the caption), and returns the
// upload's record. Its bytes are never written: an export lists the file as
// skipped in its manifest, which costs what a real copy's lookup costs.
func (g *Generator) file(m *chat.Message) *chat.Upload {
	k := fileKinds[g.rng.IntN(len(fileKinds))]
	f := chat.FileRef{ID: g.id(), Name: fmt.Sprintf(k.name, 1+g.rng.IntN(9999)), Type: k.mime}
	f.Size = int64(2048 * math.Exp2(g.rng.Float64()*13.6)) // 2 KiB to about 25 MiB, log-uniform
	link := "/file-upload/" + f.ID + "/" + url.PathEscape(f.Name)
	att := chat.Attachment{Title: f.Name, TitleLink: link, Type: "file"}
	if g.rng.Float64() < 0.7 {
		att.Description = m.Msg
	}
	if strings.HasPrefix(f.Type, "image/") {
		att.ImageURL = link
	}
	m.Msg = ""
	m.File, m.Files, m.Attachments = &f, []chat.FileRef{f}, []chat.Attachment{att}
	return &chat.Upload{ID: f.ID, RoomID: m.RoomID, Name: f.Name, Type: f.Type, Size: f.Size, StorageKey: "uploads/" + f.ID}
}

var reactionNames = []string{":+1:", ":tada:", ":joy:", ":heart:", ":eyes:", ":rocket:", ":white_check_mark:", ":pray:"}

// reactions draws one to three reactions of one to four authors each.
func (g *Generator) reactions() map[string]chat.Reaction {
	out := map[string]chat.Reaction{}
	for range 1 + g.rng.IntN(3) {
		name := reactionNames[g.rng.IntN(len(reactionNames))]
		seen := map[string]bool{}
		var who []string
		for range 1 + g.rng.IntN(4) {
			u := g.hdr.Authors[g.rng.IntN(len(g.hdr.Authors))].Username
			if !seen[u] {
				seen[u] = true
				who = append(who, u)
			}
		}
		out[name] = chat.Reaction{Usernames: who}
	}
	return out
}

// edit marks m edited by its author a little later, and returns the hidden
// history copy Rocket.Chat keeps of the text before the edit: a new _id,
// the same ts, _hidden set.
func (g *Generator) edit(m *chat.Message, author chat.User) *chat.Message {
	at := m.TS.Add(time.Duration(5+g.rng.IntN(7200)) * time.Second)
	by := ref(author)
	m.EditedAt, m.EditedBy = &at, &by
	h := chat.Message{ID: g.id(), RoomID: m.RoomID, TS: m.TS, U: m.U, ThreadID: m.ThreadID, Msg: g.text(), Hidden: true}
	return &h
}

func containsNewline(s string) bool { return strings.IndexByte(s, '\n') >= 0 }

// person is an author's display name and username.
type person struct{ name, username string }

var people = []person{
	{"Ana García", "ana.garcia"}, {"Björn Ødegård", "bjorn"}, {"Chen Wei 陈伟", "chen.wei"},
	{"Dmitri Ivanov", "dmitri"}, {"Émilie Dubois", "emilie"}, {"Fatima Zahra", "fatima"},
	{"Giulia Rossi", "giulia"}, {"田中 浩", "hiroshi"}, {"Ingrid Larsen", "ingrid"},
	{"José Álvarez", "jose"}, {"Kwame Mensah", "kwame"}, {"Léa Martin", "lea.martin"},
	{"محمد الفارسي", "mohammed"}, {"Noa Cohen", "noa"}, {"Ольга Петрова", "olga"},
	{"Priya Sharma", "priya"}, {"Quentin Blake", "quentin"}, {"Rosa Núñez", "rosa"},
	{"Sven Müller", "sven"}, {"Tomás Novák", "tomas"},
}

var words = strings.Fields(`the a to and of in is it that for on with this we be are you
have not at can will do but so if just about from they what all there would should could
deploy release build test merge branch review ticket sprint meeting notes schedule update
customer feedback dashboard metrics latency error fix bug issue patch server database
cache query index backup migration rollout staging production config docs design draft
today tomorrow yesterday morning afternoon week month quarter soon later again now
thanks please great good nice sure maybe agreed done ready blocked waiting checking
looks works broken fixed shipped pushed pulled tagged approved rejected pending
team everyone folks channel thread link file screenshot report slides budget plan
lunch coffee holiday office remote call sync standup demo retro offsite launch`)

var foreign = []string{
	"café", "naïve", "Größe", "Straße", "façade", "déjà-vu", "smörgåsbord", "Zürich", "São Paulo",
	"привет", "спасибо", "Москва", "東京", "こんにちは", "ありがとう", "你好", "谢谢", "안녕하세요",
	"مرحبا", "شكرا", "שלום", "תודה", "नमस्ते", "Ελλάδα", "ευχαριστώ", "ñandú", "İstanbul",
}

var emoji = []string{"🎉", "👍", "🚀", "😂", "❤️", "🔥", "👀", "✅", "🙏", "💯", "🤔", "😅", "☕", "🍕", "👋🏽", "🇫🇷"}

var shortcodes = []string{":smile:", ":+1:", ":tada:", ":thinking:", ":coffee:", ":rocket:", ":sweat_smile:", ":eyes:"}

var codeLines = []string{
	"func main() { fmt.Println(\"hi\") }",
	"SELECT id, ts FROM messages WHERE rid = $1 ORDER BY ts LIMIT 500;",
	"kubectl rollout restart deploy/api -n prod",
	"if (user && user.active) { return <b>ok</b>; }",
	"curl -s https://api.example.com/health | jq .status",
}

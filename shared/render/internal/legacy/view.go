package legacy

import (
	"hash/fnv"
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// Time layouts of the HTML page and the mail.
const (
	clockLayout    = "15:04"
	dateTimeLayout = "2006-01-02 15:04"
	dayLayout      = "Monday, 2 January 2006"
	isoDayLayout   = "2006-01-02"
	isoLayout      = time.RFC3339
)

// maxAttachmentDepth bounds how deeply quoted messages are shown inside each
// other (Rocket.Chat nests a quote's own quotes).
const maxAttachmentDepth = 4

// messageView is what the templates show of one message. Strings are raw
// user text (the templates escape them); template.HTML fields were built by
// markdown, which escapes.
type messageView struct {
	ID           string
	Day          string // set when a day separator precedes the message
	DayISO       string
	DayContinued bool // the separator repeats the day at the top of a page
	Seq          bool // grouped under the previous message of the same author
	Author       string
	Initials     string // the avatar's letters
	Avatar       string // the avatar's colour class
	Username     string
	Time         string
	TimeISO      string
	DateTime     string // date and time, for the mail
	System       *systemView
	Body         template.HTML
	ThreadID     string
	Thread       *threadView // page only: how the reply links to its parent
	Edited       *editedView
	Files        []fileView
	Atts         []attachmentView
	Reacts       []reactionView

	// For the mail's text part.
	rawText string
	sys     systemText
}

// systemPlain is the system message in plain words.
func (v messageView) systemPlain() string { return v.sys.plain() }

// systemView is a systemText prepared for the templates.
type systemView struct {
	Verb    string
	Subject string // shown after Mark, or between quotes
	Mark    string // "@" or "#" for users and rooms
	Class   string // "mention" or "channel" for users and rooms
	Quote   bool
	Code    bool
	After   string
	Detail  string
}

// editedView is the "(edited)" marker.
type editedView struct {
	Time  string
	ISO   string
	Title string
}

// fileView is one uploaded file, linked to its place in the archive.
type fileView struct {
	Name  string
	Href  string
	Meta  string
	Image bool
}

// attachmentView is one message attachment: a file card, a link preview or
// a quoted message.
type attachmentView struct {
	Quote       bool
	Author      string
	Time        string
	TimeISO     string
	Link        string // the quoted message (http and https only)
	Title       string
	TitleHref   string // http and https only
	Text        template.HTML
	Description template.HTML
	Image       string // http and https only
	Children    []attachmentView

	// For the mail's text part.
	rawText        string
	rawDescription string
}

// reactionView is one reaction: the emoji, how many and who.
type reactionView struct {
	Code  string
	Emoji string
	Count int
	Who   string
}

// newMessageView prepares a message for the templates of a flavor.
func newMessageView(m chat.Message, loc *time.Location, f flavor) messageView {
	ts := m.TS.In(loc)
	v := messageView{
		ID:       m.ID,
		Author:   cleanText(authorName(m.U)),
		Initials: initials(cleanText(authorName(m.U))),
		Avatar:   avatarClass(m.U),
		Username: cleanText(m.U.Username),
		Time:     ts.Format(clockLayout),
		TimeISO:  ts.Format(isoLayout),
		DateTime: ts.Format(dateTimeLayout),
		ThreadID: m.ThreadID,
	}
	if m.Type != "" {
		v.sys = systemMessage(m)
		v.System = newSystemView(v.sys)
	} else {
		v.rawText = cleanText(m.Msg)
		v.Body = markdown(m.Msg, f)
	}
	if m.EditedAt != nil {
		v.Edited = newEditedView(*m.EditedAt, ts, m.EditedBy, loc)
	}
	files := m.AllFiles()
	for _, file := range files {
		v.Files = append(v.Files, newFileView(file))
	}
	v.Atts = newAttachmentViews(m.Attachments, files, loc, f, 0)
	v.Reacts = newReactionViews(m.Reactions)
	return v
}

// authorName is the author's full name, or the username.
func authorName(u chat.UserRef) string {
	if u.Name != "" {
		return u.Name
	}
	return u.Username
}

// initials are the letters of an avatar, as Rocket.Chat's generated avatars
// show them: the first letter or digit of the first two words of a name
// ("Alice Liddell" → "AL", "rocket.cat" → "RC"), or of the first word alone
// when its script has no capitals (李雷 → 李, أميرة الحداد → أ), where two
// letters side by side would not read as initials; "?" when there is none.
func initials(name string) string {
	var out []rune
	for w := range strings.FieldsFuncSeq(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		r, _ := utf8.DecodeRuneInString(w)
		if unicode.ToUpper(r) == unicode.ToLower(r) {
			if len(out) == 0 {
				out = append(out, r)
			}
			break
		}
		out = append(out, unicode.ToUpper(r))
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

// avatarColors is how many avatar colour classes the stylesheet defines.
const avatarColors = 8

// avatarClass picks an avatar colour from the user, so that one person
// keeps one colour through the export.
func avatarClass(u chat.UserRef) string {
	key := u.ID
	if key == "" {
		key = u.Username
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return "c" + strconv.Itoa(int(h.Sum32()%avatarColors))
}

// newSystemView prepares a system message.
func newSystemView(s systemText) *systemView {
	v := &systemView{Verb: s.Verb, Subject: s.Subject, After: s.After, Detail: s.Detail}
	switch s.Kind {
	case subjectUser:
		v.Mark, v.Class = "@", "mention"
	case subjectRoom:
		v.Mark, v.Class = "#", "channel"
	case subjectQuoted:
		v.Quote = true
	case subjectCode:
		v.Code = true
	}
	return v
}

// newEditedView shows the edit time: the clock on the message's day, the
// date and clock otherwise.
func newEditedView(at, ts time.Time, by *chat.UserRef, loc *time.Location) *editedView {
	at = at.In(loc)
	e := &editedView{Time: at.Format(clockLayout), ISO: at.Format(isoLayout), Title: "Edited " + at.Format(dateTimeLayout)}
	if at.Format(isoDayLayout) != ts.Format(isoDayLayout) {
		e.Time = at.Format(dateTimeLayout)
	}
	if by != nil && by.Username != "" {
		e.Title += " by @" + cleanText(by.Username)
	}
	return e
}

// newFileView links a file to chat.AssetPath, the entry the archive holds
// it under. The name part is percent-encoded so that a "#" or a space in a
// file name cannot cut the link short.
func newFileView(f chat.FileRef) fileView {
	asset := chat.AssetPath(f)
	v := fileView{
		Name:  cleanText(f.Name),
		Href:  "assets/" + url.PathEscape(strings.TrimPrefix(asset, "assets/")),
		Image: strings.HasPrefix(strings.ToLower(f.Type), "image/"),
	}
	if v.Name == "" {
		v.Name = strings.TrimPrefix(asset, "assets/")
	}
	var meta []string
	if f.Type != "" {
		meta = append(meta, cleanText(f.Type))
	}
	if f.Size > 0 {
		meta = append(meta, byteSize(f.Size))
	}
	v.Meta = strings.Join(meta, ", ")
	return v
}

// newAttachmentViews prepares attachments. The file card Rocket.Chat adds to
// an upload (title = file name, title_link = /file-upload/<id>/...) loses its
// title, which the file list already shows, but keeps its description.
func newAttachmentViews(atts []chat.Attachment, files []chat.FileRef, loc *time.Location, f flavor, depth int) []attachmentView {
	if depth >= maxAttachmentDepth {
		return nil
	}
	var out []attachmentView
	for _, a := range atts {
		v := attachmentView{
			Author:      cleanText(a.AuthorName),
			Title:       cleanText(a.Title),
			Text:        markdown(a.Text, f),
			Description: markdown(a.Description, f),
			Children:    newAttachmentViews(a.Attachments, nil, loc, f, depth+1),

			rawText:        cleanText(a.Text),
			rawDescription: cleanText(a.Description),
		}
		v.Quote = a.MessageLink != "" || (a.AuthorName != "" && a.Title == "")
		v.Link, _ = httpURL(a.MessageLink)
		v.TitleHref, _ = httpURL(a.TitleLink)
		v.Image, _ = httpURL(a.ImageURL)
		if isFileCard(a, files) {
			v.Title, v.TitleHref, v.Image = "", "", ""
		}
		if a.TS != nil {
			t := a.TS.In(loc)
			v.Time, v.TimeISO = t.Format(dateTimeLayout), t.Format(isoLayout)
		}
		if v.Author == "" && v.Title == "" && v.Text == "" && v.Description == "" && v.Image == "" && v.Children == nil {
			continue
		}
		out = append(out, v)
	}
	return out
}

// isFileCard reports whether an attachment describes one of the message's
// uploads.
func isFileCard(a chat.Attachment, files []chat.FileRef) bool {
	for _, f := range files {
		if f.ID != "" && strings.Contains(a.TitleLink, "/file-upload/"+f.ID+"/") {
			return true
		}
	}
	return false
}

// newReactionViews lists reactions by shortcode, as Rocket.Chat stores them
// (":+1:"), with the Unicode emoji when known.
func newReactionViews(rs map[string]chat.Reaction) []reactionView {
	if len(rs) == 0 {
		return nil
	}
	codes := make([]string, 0, len(rs))
	for code := range rs {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	out := make([]reactionView, 0, len(codes))
	for _, code := range codes {
		users := rs[code].Usernames
		who := make([]string, len(users))
		for i, u := range users {
			who[i] = "@" + cleanText(u)
		}
		emoji := emojiFor(code)
		if emoji == "" {
			emoji = cleanText(code)
		}
		out = append(out, reactionView{Code: cleanText(code), Emoji: emoji, Count: len(users), Who: strings.Join(who, ", ")})
	}
	return out
}

// roomTitle is the room's name as a reader knows it. Direct messages have no
// name: their participants stand for it.
func roomTitle(r chat.Room) string {
	if r.Type == chat.RoomDirect && r.FName == "" && r.Name == "" && len(r.Usernames) > 0 {
		names := make([]string, len(r.Usernames))
		for i, u := range r.Usernames {
			names[i] = "@" + u
		}
		return cleanText(strings.Join(names, ", "))
	}
	return cleanText(r.DisplayName())
}

// roomKind names the room type in words.
func roomKind(r chat.Room) string {
	kind := "Room"
	switch r.Type {
	case chat.RoomChannel:
		kind = "Public channel"
	case chat.RoomGroup:
		kind = "Private group"
	case chat.RoomDirect:
		kind = "Direct message"
	case chat.RoomLive:
		kind = "Omnichannel conversation"
	}
	if r.ParentID != "" {
		kind += " · discussion"
	}
	if r.TeamID != "" {
		kind += " · team"
	}
	return kind
}

// byteSize is a file size for people: 1023 B, 1.5 KB, 12 MB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	value, suffix := float64(n)/unit, "KB"
	for _, s := range []string{"MB", "GB", "TB"} {
		if value < unit {
			break
		}
		value, suffix = value/unit, s
	}
	if value < 10 {
		return strconv.FormatFloat(value, 'f', 1, 64) + " " + suffix
	}
	return strconv.FormatFloat(value, 'f', 0, 64) + " " + suffix
}

// count writes a number with thousands separators and the right plural:
// "1 message", "12,345 messages".
func count(n int64, one, many string) string {
	if n == 1 {
		return formatInt(n) + " " + one
	}
	return formatInt(n) + " " + many
}

// formatInt writes a number with thousands separators: "12,345".
func formatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	return out
}

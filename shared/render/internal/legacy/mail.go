package legacy

import (
	"html"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// mailView is what the mail template shows.
type mailView struct {
	Title    string
	Kind     string
	Count    string
	Zone     string
	Messages []messageView
}

// MailBody renders the messages chosen with rooms.export type=email +
// messages, as Rocket.Chat's sendViaEmail puts them into the mail body:
// author, date and time, and the parsed message for each. The HTML body has
// inline styles only (mail clients drop <style>) and no images; the text
// body is its plain alternative. Times are in loc (nil = UTC).
func MailBody(room chat.Room, msgs []chat.Message, loc *time.Location) (htmlBody, textBody string) {
	loc = location(loc)
	v := mailView{
		Title: roomTitle(room),
		Kind:  roomKind(room),
		Count: count(int64(len(msgs)), "message", "messages"),
		Zone:  loc.String(),
	}
	for _, m := range msgs {
		v.Messages = append(v.Messages, newMessageView(m, loc, mailFlavor))
	}
	textBody = mailText(v)
	var b strings.Builder
	t := template.Must(template.New("mail").ParseFS(templateFS, "templates/mail.tmpl"))
	if err := t.ExecuteTemplate(&b, "mail", v); err != nil {
		// Unreachable with the embedded template and these view types; a
		// readable mail beats none, so fall back to the text part.
		return "<!DOCTYPE html>\n<html><body><pre>" + html.EscapeString(textBody) + "</pre></body></html>\n", textBody
	}
	return b.String(), textBody
}

// mailText is the plain-text alternative: one block per message, its text
// as written (markdown is readable as it is), indented under the author line.
func mailText(v mailView) string {
	var b strings.Builder
	b.WriteString("Messages from " + v.Title + "\n")
	b.WriteString(v.Kind + " · " + v.Count + " · times in " + v.Zone + "\n")
	for _, m := range v.Messages {
		b.WriteString("\n" + m.DateTime + "  " + m.Author)
		if m.Username != "" && m.Username != m.Author {
			b.WriteString(" (@" + m.Username + ")")
		}
		if m.System != nil {
			b.WriteString(" " + m.systemPlain() + "\n")
		} else {
			if m.Edited != nil {
				b.WriteString(" (edited " + m.Edited.Time + ")")
			}
			b.WriteString("\n")
		}
		if m.ThreadID != "" {
			b.WriteString("    ↳ reply in thread\n")
		}
		if m.System == nil {
			writeIndented(&b, m.rawText, "    ")
		}
		for _, f := range m.Files {
			b.WriteString("    [file] " + f.Name)
			if f.Meta != "" {
				b.WriteString(" (" + f.Meta + ")")
			}
			b.WriteString("\n")
		}
		writeAttachmentsText(&b, m.Atts, "    ")
		if len(m.Reacts) > 0 {
			parts := make([]string, len(m.Reacts))
			for i, r := range m.Reacts {
				parts[i] = r.Emoji + " " + strconv.Itoa(r.Count) + " (" + r.Who + ")"
			}
			b.WriteString("    Reactions: " + strings.Join(parts, " · ") + "\n")
		}
	}
	return b.String()
}

// writeIndented writes text line by line under an indent.
func writeIndented(b *strings.Builder, text, indent string) {
	if text == "" {
		return
	}
	for line := range strings.SplitSeq(text, "\n") {
		b.WriteString(strings.TrimRight(indent+line, " ") + "\n")
	}
}

// writeAttachmentsText writes attachments as "> " quoted blocks, the way a
// mail reader shows quotes. Links are shown only when they are http or https.
func writeAttachmentsText(b *strings.Builder, atts []attachmentView, indent string) {
	prefix := indent + "> "
	for _, a := range atts {
		if a.Author != "" {
			b.WriteString(prefix + a.Author)
			if a.Time != "" {
				b.WriteString(" (" + a.Time + ")")
			}
			b.WriteString(":\n")
		}
		if a.Title != "" {
			b.WriteString(prefix + a.Title)
			if a.TitleHref != "" {
				b.WriteString(" <" + a.TitleHref + ">")
			}
			b.WriteString("\n")
		}
		writeIndented(b, a.rawText, prefix)
		writeIndented(b, a.rawDescription, prefix)
		writeAttachmentsText(b, a.Children, prefix)
	}
}

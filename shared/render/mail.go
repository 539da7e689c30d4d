package render

import (
	"strconv"
	"strings"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// mailView is what the mail shows.
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
	var w markup
	w.mail(&v)
	return string(w), mailText(v)
}

// mail writes the HTML body. Mail clients drop <style>, so every style is
// inline; there are no images and no links to the archive (there is none),
// only the links written in the messages.
func (w *markup) mail(v *mailView) {
	w.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"color-scheme\" content=\"light\">\n<title>Messages from ")
	w.esc(v.Title)
	w.raw("</title>\n</head>\n" +
		"<body style=\"margin:0;padding:16px;background:#ffffff;color:#1f2329;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:14px;line-height:1.5\">\n" +
		"<div style=\"max-width:640px\">\n<h1 style=\"margin:0 0 2px;font-size:18px;font-weight:600\">Messages from ")
	w.esc(v.Title)
	w.raw("</h1>\n<p style=\"margin:0 0 16px;color:#6c727a;font-size:12px\">")
	w.esc(v.Kind)
	w.raw(" · ")
	w.esc(v.Count)
	w.raw(" · times in ")
	w.esc(v.Zone)
	w.raw("</p>\n")
	for i := range v.Messages {
		w.mailMessage(&v.Messages[i])
	}
	w.raw("</div>\n</body>\n</html>\n")
}

// mailMessage writes one message of the mail.
func (w *markup) mailMessage(m *messageView) {
	w.raw("<div style=\"margin:0 0 10px;padding:0 0 8px;border-bottom:1px solid #eeeeee\">")
	if m.System != nil {
		w.raw("\n<p style=\"margin:0;color:#6c727a\"><b style=\"color:#1f2329\">")
		w.esc(m.Author)
		w.raw("</b> ")
		w.system(*m.System, mailFlavor)
		w.raw(" <span style=\"font-size:12px\">")
		w.esc(m.DateTime)
		w.raw("</span></p>")
	} else {
		w.raw("\n<p style=\"margin:0\"><b>")
		w.esc(m.Author)
		w.raw("</b>")
		if m.Username != "" {
			w.raw(" <span style=\"color:#6c727a\">@")
			w.esc(m.Username)
			w.raw("</span>")
		}
		w.raw(" <span style=\"color:#6c727a;font-size:12px\">")
		w.esc(m.DateTime)
		w.raw("</span>")
		if m.Edited != nil {
			w.raw(" <span style=\"color:#6c727a;font-size:12px\">(edited ")
			w.esc(m.Edited.Time)
			w.raw(")</span>")
		}
		w.raw("</p>")
	}
	if m.ThreadID != "" {
		w.raw("\n<p style=\"margin:0;color:#6c727a;font-size:12px\">↳ reply in thread</p>")
	}
	if m.Body != "" {
		w.raw("\n<div style=\"margin:2px 0 0\">")
		w.html(m.Body)
		w.raw("</div>")
	}
	if len(m.Files) > 0 {
		w.raw("\n<ul style=\"margin:4px 0 0;padding:0 0 0 18px\">")
		for _, f := range m.Files {
			w.raw("\n<li>")
			w.esc(f.Name)
			if f.Meta != "" {
				w.raw(" <span style=\"color:#6c727a;font-size:12px\">(")
				w.esc(f.Meta)
				w.raw(")</span>")
			}
			w.raw("</li>")
		}
		w.raw("\n</ul>")
	}
	if len(m.Atts) > 0 {
		w.mailAttachments(m.Atts)
	}
	if len(m.Reacts) > 0 {
		w.raw("\n<p style=\"margin:4px 0 0;color:#6c727a;font-size:12px\">")
		for i, r := range m.Reacts {
			if i > 0 {
				w.raw(" · ")
			}
			w.esc(r.Emoji)
			w.raw(" ")
			w.num(r.Count)
			w.raw(" (")
			w.esc(r.Who)
			w.raw(")")
		}
		w.raw("</p>")
	}
	w.raw("\n</div>\n")
}

// mailAttachments writes attachments as quoted blocks with a left border.
func (w *markup) mailAttachments(atts []attachmentView) {
	for _, a := range atts {
		w.raw("\n<div style=\"margin:4px 0;padding:4px 10px;border-left:3px solid #cbced1;background:#f7f8fa\">")
		if a.Author != "" {
			w.raw("\n<p style=\"margin:0;font-size:12px;color:#6c727a\"><b style=\"color:#1f2329\">")
			w.esc(a.Author)
			w.raw("</b>")
			if a.Time != "" {
				w.raw(" ")
				w.esc(a.Time)
			}
			w.raw("</p>")
		}
		if a.Title != "" {
			w.raw("\n<p style=\"margin:0;font-weight:600\">")
			if a.TitleHref != "" {
				w.raw("<a href=\"")
				w.url(a.TitleHref)
				w.raw("\" style=\"color:#1d74f5\">")
				w.esc(a.Title)
				w.raw("</a>")
			} else {
				w.esc(a.Title)
			}
			w.raw("</p>")
		}
		if a.Text != "" {
			w.raw("\n<div>")
			w.html(a.Text)
			w.raw("</div>")
		}
		if a.Description != "" {
			w.raw("\n<div>")
			w.html(a.Description)
			w.raw("</div>")
		}
		if len(a.Children) > 0 {
			w.mailAttachments(a.Children)
		}
		w.raw("\n</div>")
	}
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
			b.WriteString(" " + m.System.plain() + "\n")
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

package render

import (
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// The export page (NewHTML, NewHTMLBook), written by hand: each function
// below appends one part of a page. Values are escaped where they are
// written (markup.go, escape.go); Body, Text, Description and Topic are
// HTML the markdown renderer built, escaping all user text itself. The
// golden files under testdata/ pin the markup byte for byte.

// pageHead opens every page, up to the title.
const pageHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: file:; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>`

// linkAttrs ends the href of a link out of the archive and its start tag.
const linkAttrs = `"` + linkRel + `>`

// head writes the document head: title and inline stylesheet.
func (w *markup) head(v *headerView) {
	w.raw(pageHead)
	w.esc(v.Title)
	switch {
	case v.Index:
		w.raw(" · contents")
	case v.Page != 0:
		w.raw(" · page ")
		w.num(v.Page)
	}
	w.raw(" · Room export</title>\n<style>\n")
	w.raw(styleCSS)
	w.raw("</style>\n</head>\n")
}

// pageBegin opens a page: head, skip link, page navigation (paged mode),
// the room header, and the start of the message list.
func (w *markup) pageBegin(v *headerView) {
	w.head(v)
	w.raw("<body>\n<a class=\"skip\" href=\"#messages\">Skip to messages</a>\n")
	if v.Nav != nil {
		w.nav(v.Nav)
	}
	w.room(v)
	w.raw("<main id=\"messages\" tabindex=\"-1\" aria-label=\"Messages\">\n")
}

// room writes the room header: name, kind, topic, range, zone, counts.
func (w *markup) room(v *headerView) {
	w.raw("<header class=\"room\">\n<h1>")
	w.esc(v.Title)
	w.raw("</h1>\n<p class=\"kind\">")
	w.esc(v.Kind)
	w.raw("</p>")
	if v.Topic != "" {
		w.raw("\n<div class=\"topic\">")
		w.html(v.Topic)
		w.raw("</div>")
	}
	w.raw("\n<dl>\n<dt>Range</dt><dd><time")
	w.datetime(v.FromISO)
	w.raw(">")
	w.esc(v.From)
	w.raw("</time> – <time")
	w.datetime(v.ToISO)
	w.raw(">")
	w.esc(v.To)
	w.raw("</time></dd>\n<dt>Time zone</dt><dd>")
	w.esc(v.Zone)
	w.raw("</dd>")
	if v.Total != "" {
		w.raw("\n<dt>Messages</dt><dd>")
		w.esc(v.Total)
		w.raw("</dd>")
	}
	if v.ExportedAt != "" {
		w.raw("\n<dt>Exported</dt><dd><time datetime=\"")
		w.esc(v.ExportISO)
		w.raw("\">")
		w.esc(v.ExportedAt)
		w.raw("</time>")
		if v.ExportedBy != "" {
			w.raw(" by ")
			w.esc(v.ExportedBy)
		}
		w.raw("</dd>")
	}
	w.raw("\n</dl>")
	if v.Page != 0 {
		w.raw("\n<p class=\"page-info\">Page ")
		w.num(v.Page)
		w.raw(", from message ")
		w.esc(v.FirstNo)
		w.raw("</p>")
	}
	w.raw("\n</header>\n")
}

// datetime writes a datetime attribute, or nothing for an open range end.
func (w *markup) datetime(iso string) {
	if iso != "" {
		w.raw(" datetime=\"")
		w.esc(iso)
		w.raw("\"")
	}
}

// nav writes the page navigation of a book page.
func (w *markup) nav(v *navView) {
	w.raw("<nav class=\"pages\" aria-label=\"Pages\">\n<a href=\"")
	w.url(v.Index)
	w.raw("\">Contents</a>")
	if v.Prev != "" {
		w.raw("\n<a rel=\"prev\" href=\"")
		w.url(v.Prev)
		w.raw("\">← Page ")
		w.num(v.PrevNo)
		w.raw("</a>")
	}
	w.raw("\n<span aria-current=\"page\">Page ")
	w.num(v.Page)
	w.raw("</span>")
	if v.Next != "" {
		w.raw("\n<a rel=\"next\" href=\"")
		w.url(v.Next)
		w.raw("\">Page ")
		w.num(v.NextNo)
		w.raw(" →</a>")
	}
	w.raw("\n</nav>\n")
}

// pageEnd closes a page: navigation, the summary footer, the document.
func (w *markup) pageEnd(v *footerView) {
	w.raw("</main>\n")
	if v.Nav != nil {
		w.nav(v.Nav)
	}
	w.raw("<footer class=\"summary\">")
	if v.Empty {
		w.raw("\n<p class=\"empty\">No messages in this range.</p>")
	}
	if v.Page != "" {
		w.raw("\n<p>")
		w.esc(v.Page)
		w.raw("</p>")
	}
	if v.Count != "" {
		w.raw("\n<p>")
		w.esc(v.Count)
		w.raw("</p>")
	}
	w.raw("\n</footer>\n</body>\n</html>\n")
}

// pageMessage is what the document decided about a message: the day
// heading before it, its grouping and its thread line.
type pageMessage struct {
	ts           time.Time // in the document's zone
	iso          []byte    // ts in RFC 3339, for datetime attributes
	clock        []byte    // ts as 15:04
	day          bool      // a day heading precedes it
	dayISO       string
	dayContinued bool // the heading repeats the day at the top of a page
	seq          bool // grouped under the previous message of the same author
	thread       *threadView
	body         []byte // the markdown body rendered ahead, when prepared
	prepared     bool
}

// message writes one message as an <article id="msg-<_id>">: the author
// (name, avatar and username unless grouped), time, edit marker, thread
// line, markdown body or system line, files, attachments and reactions.
func (w *markup) message(m *chat.Message, pm *pageMessage, loc *time.Location) {
	var tb [64]byte // the day heading's date
	if pm.day {
		w.raw("<h2 class=\"day")
		if pm.dayContinued {
			w.raw(" continued")
		}
		w.raw("\" id=\"day-")
		w.esc(pm.dayISO)
		w.raw("\"><time datetime=\"")
		w.esc(pm.dayISO)
		w.raw("\">")
		w.escBytes(pm.ts.AppendFormat(tb[:0], dayLayout))
		w.raw("</time>")
		if pm.dayContinued {
			w.raw(" (continued)")
		}
		w.raw("</h2>\n")
	}
	author := cleanText(authorName(m.U))
	w.raw("<article id=\"msg-")
	w.esc(m.ID)
	if m.Type != "" {
		w.raw("\" class=\"msg system\">\n<p><span class=\"author\">")
		w.esc(author)
		w.raw("</span> ")
		w.system(systemMessage(*m), pageFlavor)
		w.raw(" ")
		w.timeLink(m.ID, pm)
		w.raw("</p>")
	} else {
		w.raw("\" class=\"msg")
		if pm.seq {
			w.raw(" seq")
		}
		if m.ThreadID != "" {
			w.raw(" reply")
		}
		w.raw("\">")
		if !pm.seq {
			w.raw("\n<span class=\"avatar ")
			*w = appendAvatarClass(*w, m.U)
			w.raw("\" aria-hidden=\"true\">")
			*w = appendInitials(*w, author) // letters and digits: nothing to escape
			w.raw("</span>")
		}
		w.raw("\n<header><span class=\"author\">")
		w.esc(author)
		w.raw("</span>")
		if m.U.Username != "" {
			if username := cleanText(m.U.Username); username != "" {
				w.raw(" <span class=\"username\">@")
				w.esc(username)
				w.raw("</span>")
			}
		}
		w.raw(" ")
		w.timeLink(m.ID, pm)
		if m.EditedAt != nil {
			e := newEditedView(*m.EditedAt, pm.ts, m.EditedBy, loc)
			w.raw(" <span class=\"edited\" title=\"")
			w.esc(e.Title)
			w.raw("\">(edited <time datetime=\"")
			w.esc(e.ISO)
			w.raw("\">")
			w.esc(e.Time)
			w.raw("</time>)</span>")
		}
		w.raw("</header>")
	}
	w.threadLine(m.ThreadID, pm.thread)
	if m.Type == "" {
		mark := len(*w)
		w.raw("\n<div class=\"body\">")
		body := len(*w)
		if pm.prepared {
			*w = append(*w, pm.body...)
		} else {
			*w = appendMarkdown(*w, m.Msg, pageFlavor)
		}
		if len(*w) == body {
			*w = (*w)[:mark] // nothing to show: no empty body
		} else {
			w.raw("</div>")
		}
	}
	files := m.AllFiles()
	if len(files) > 0 {
		w.raw("\n<ul class=\"files\">")
		for _, f := range files {
			w.file(newFileView(f))
		}
		w.raw("\n</ul>")
	}
	if len(m.Attachments) > 0 {
		w.attachments(newAttachmentViews(m.Attachments, files, loc, pageFlavor, 0))
	}
	if len(m.Reactions) > 0 {
		w.raw("\n<ul class=\"reactions\" aria-label=\"Reactions\">")
		for _, r := range newReactionViews(m.Reactions) {
			w.raw("\n<li title=\"")
			w.esc(r.Code)
			w.raw("\"><span class=\"emoji\">")
			w.esc(r.Emoji)
			w.raw("</span> <span class=\"count\">")
			w.num(r.Count)
			w.raw("</span> <span class=\"who\">")
			w.esc(r.Who)
			w.raw("</span></li>")
		}
		w.raw("\n</ul>")
	}
	w.raw("\n</article>\n")
}

// timeLink writes the message's time, linked to the message itself.
func (w *markup) timeLink(id string, pm *pageMessage) {
	w.raw("<a class=\"time\" href=\"#msg-")
	w.urlPart(id)
	w.raw("\"><time datetime=\"")
	w.escBytes(pm.iso)
	w.raw("\">")
	w.escBytes(pm.clock)
	w.raw("</time></a>")
}

// formatTimes formats ts into buf as the page shows it: RFC 3339 (for
// datetime attributes), the day (2006-01-02) and the clock (15:04). The
// day and the clock are cut from the RFC 3339 form when the year has four
// digits — always, in practice — so the time is formatted once, not three
// times.
func formatTimes(buf []byte, ts time.Time) (iso, day, clock []byte) {
	iso = ts.AppendFormat(buf[:0], isoLayout)
	if len(iso) >= 16 && iso[4] == '-' && iso[10] == 'T' {
		return iso, iso[:10], iso[11:16]
	}
	day = ts.AppendFormat(iso[len(iso):], isoDayLayout)
	clock = ts.AppendFormat(day[len(day):], clockLayout)
	return iso, day, clock
}

// threadLine writes how a reply shows its parent (thread.go decides).
func (w *markup) threadLine(threadID string, tv *threadView) {
	if tv == nil {
		if threadID != "" {
			w.raw("\n<p class=\"thread\">↳ reply in thread · <a href=\"#msg-")
			w.urlPart(threadID)
			w.raw("\">parent message</a></p>")
		}
		return
	}
	w.raw("\n<p class=\"thread\">↳ reply in thread ")
	if tv.Where != "" {
		w.raw("to a message ")
		w.esc(tv.Where)
		switch {
		case tv.QuotedID != "":
			w.raw(" · <a href=\"#msg-")
			w.urlPart(tv.QuotedID)
			w.raw("\">quoted above</a>")
		case len(tv.Quote) > 0:
			w.raw(":")
		}
	} else {
		w.raw("· <a href=\"")
		w.url(tv.Href)
		w.raw("#msg-")
		w.urlPart(tv.ParentID)
		w.raw("\">parent message</a>")
		if tv.Page != 0 {
			w.raw(" (page ")
			w.num(tv.Page)
			w.raw(")")
		}
	}
	w.raw("</p>")
	if len(tv.Quote) > 0 {
		w.attachments(tv.Quote)
	}
}

// file writes one uploaded file: a thumbnail for images, the name linked
// to the file in the archive, its type and size.
func (w *markup) file(f fileView) {
	w.raw("\n<li>")
	if f.Image {
		w.raw("<a class=\"thumb\" href=\"")
		w.url(f.Href)
		w.raw("\"><img src=\"")
		w.url(f.Href)
		w.raw("\" alt=\"")
		w.esc(f.Name)
		w.raw("\" loading=\"lazy\"></a>")
	}
	w.raw("<a href=\"")
	w.url(f.Href)
	w.raw("\">")
	w.esc(f.Name)
	w.raw("</a>")
	if f.Meta != "" {
		w.raw(" <span class=\"meta\">(")
		w.esc(f.Meta)
		w.raw(")</span>")
	}
	w.raw("</li>")
}

// system writes a system message's words: the verb, the subject marked as
// a user, a room, a quote or a code, and the detail.
func (w *markup) system(s systemText, f flavor) {
	w.esc(s.Verb)
	if s.Subject != "" {
		w.raw(" ")
		switch s.Kind {
		case subjectCode:
			w.raw("<code>")
			w.esc(s.Subject)
			w.raw("</code>")
		case subjectQuoted:
			w.raw("“")
			if f == pageFlavor {
				w.raw("<q>")
			}
			w.esc(s.Subject)
			if f == pageFlavor {
				w.raw("</q>")
			}
			w.raw("”")
		default:
			mark, class := "", ""
			switch s.Kind {
			case subjectUser:
				mark, class = "@", "mention"
			case subjectRoom:
				mark, class = "#", "channel"
			}
			if f == mailFlavor {
				w.raw("<b style=\"color:#1d74f5\">")
			} else {
				w.raw("<span class=\"")
				w.raw(class)
				w.raw("\">")
			}
			w.raw(mark)
			w.esc(s.Subject)
			if f == mailFlavor {
				w.raw("</b>")
			} else {
				w.raw("</span>")
			}
		}
	}
	w.esc(s.After)
	if s.Detail != "" {
		w.raw(": “")
		if f == pageFlavor {
			w.raw("<q>")
		}
		w.esc(s.Detail)
		if f == pageFlavor {
			w.raw("</q>")
		}
		w.raw("”")
	}
}

// attachments writes attachments as cards, quoted messages inside their
// quote, nested as Rocket.Chat nests them.
func (w *markup) attachments(atts []attachmentView) {
	for _, a := range atts {
		w.raw("\n<div class=\"att")
		if a.Quote {
			w.raw(" quote")
		}
		w.raw("\">")
		if a.Author != "" {
			w.raw("\n<p class=\"att-author\"><span class=\"author\">")
			w.esc(a.Author)
			w.raw("</span>")
			if a.Time != "" {
				w.raw(" <time datetime=\"")
				w.esc(a.TimeISO)
				w.raw("\">")
				w.esc(a.Time)
				w.raw("</time>")
			}
			if a.Link != "" {
				w.raw(" · <a href=\"")
				w.url(a.Link)
				w.raw(linkAttrs)
				w.raw("original message</a>")
			}
			w.raw("</p>")
		}
		if a.Title != "" {
			w.raw("\n<p class=\"att-title\">")
			if a.TitleHref != "" {
				w.raw("<a href=\"")
				w.url(a.TitleHref)
				w.raw(linkAttrs)
				w.esc(a.Title)
				w.raw("</a>")
			} else {
				w.esc(a.Title)
			}
			w.raw("</p>")
		}
		if a.Text != "" {
			w.raw("\n<div class=\"att-text\">")
			w.html(a.Text)
			w.raw("</div>")
		}
		if a.Description != "" {
			w.raw("\n<div class=\"att-text\">")
			w.html(a.Description)
			w.raw("</div>")
		}
		if a.Image != "" {
			w.raw("\n<p class=\"att-image\"><a href=\"")
			w.url(a.Image)
			w.raw(linkAttrs)
			w.raw("image</a></p>")
		}
		if len(a.Children) > 0 {
			w.attachments(a.Children)
		}
		w.raw("\n</div>")
	}
}

// index writes index.html of a book: the room header, the pages with
// their ranges and counts, and the days by month, each linked to the page
// and day heading where it starts.
func (w *markup) index(v *indexView) {
	w.head(&v.headerView)
	w.raw("<body class=\"index\">\n<a class=\"skip\" href=\"#contents\">Skip to the contents</a>\n")
	w.room(&v.headerView)
	w.raw("<main id=\"contents\" tabindex=\"-1\">\n<section aria-labelledby=\"pages-heading\">\n<h2 id=\"pages-heading\">Pages</h2>\n<ol class=\"page-list\">")
	for _, p := range v.Pages {
		w.raw("\n<li><a href=\"")
		w.url(p.Href)
		w.raw("\">Page ")
		w.num(p.No)
		w.raw("</a> <span class=\"meta\"><time datetime=\"")
		w.esc(p.FromISO)
		w.raw("\">")
		w.esc(p.From)
		w.raw("</time> – <time datetime=\"")
		w.esc(p.ToISO)
		w.raw("\">")
		w.esc(p.To)
		w.raw("</time> · ")
		w.esc(p.Count)
		w.raw("</span></li>")
	}
	w.raw("\n</ol>\n</section>\n<section aria-labelledby=\"days-heading\">\n<h2 id=\"days-heading\">Messages by day</h2>")
	for _, mo := range v.Months {
		w.raw("\n<section class=\"month\" aria-labelledby=\"")
		w.esc(mo.ID)
		w.raw("\">\n<h3 id=\"")
		w.esc(mo.ID)
		w.raw("\">")
		w.esc(mo.Label)
		w.raw(" <span class=\"meta\">")
		w.esc(mo.Count)
		w.raw("</span></h3>\n<ul class=\"days\">")
		for _, d := range mo.Days {
			w.raw("\n<li><a href=\"")
			w.url(d.Href)
			w.raw("#day-")
			w.urlPart(d.ISO)
			w.raw("\"><time datetime=\"")
			w.esc(d.ISO)
			w.raw("\">")
			w.esc(d.Label)
			w.raw("</time></a> <span class=\"meta\">")
			w.esc(d.Count)
			w.raw(" · page ")
			w.num(d.Page)
			if d.Pages != 0 {
				w.raw(" (over ")
				w.num(d.Pages)
				w.raw(" pages)")
			}
			w.raw("</span></li>")
		}
		w.raw("\n</ul>\n</section>")
	}
	if len(v.Months) == 0 {
		w.raw("\n<p class=\"empty\">No messages in this range.</p>")
	}
	w.raw("\n</section>\n</main>\n</body>\n</html>\n")
}

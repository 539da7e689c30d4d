package render

import (
	"embed"
	"html/template"
	"io"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

//go:embed templates/*.tmpl templates/*.css
var templateFS embed.FS

// headerView is what the page header shows.
type headerView struct {
	CSS        template.CSS
	Title      string
	Kind       string
	Topic      template.HTML
	From       string
	FromISO    string
	To         string
	ToISO      string
	Zone       string
	Total      string
	ExportedAt string
	ExportedBy string
	ExportISO  string
}

// footerView is what the page footer shows.
type footerView struct {
	Count string
	Empty bool
}

// htmlDoc is the HTML page.
type htmlDoc struct {
	stream
	tmpl    *template.Template
	loc     *time.Location
	lastDay string
}

// NewHTML returns a Document that writes one self-contained HTML page, the
// "<rid>.html" of Rocket.Chat's HTML export: inline CSS (light, dark and
// print), a room header, day separators, and each message as an
// <article id="msg-<_id>"> with its author, time, markdown body, thread
// link, reactions, files (linked to assets/) and attachments. Rocket.Chat's
// page is a bare list; this one is meant to be read.
//
// The page's Content-Security-Policy (in templates/page.tmpl) lets nothing
// load or run but the inline stylesheet and images: data: URIs and the
// archive's own assets/ files. CSP cannot name a relative folder ("assets/"
// would be read as a host name), so those are allowed as 'self' (the page
// served over HTTP) and file: (the unpacked archive opened from disk, whose
// opaque origin matches no 'self' in some browsers). That is safe because
// every img src on the page is a relative assets/ path built here: user
// text never becomes an image source. default-src 'none' shuts out scripts,
// frames, objects, fonts and fetches; base-uri and form-action close the
// two holes default-src leaves.
func NewHTML(w io.Writer) Document {
	return &htmlDoc{stream: stream{kind: "html", w: w}, tmpl: pageTemplates(), loc: time.UTC}
}

// pageTemplates parses the embedded page templates. The templates are part
// of the binary, so a parse error is a bug the tests catch.
func pageTemplates() *template.Template {
	return template.Must(template.New("page").ParseFS(templateFS, "templates/page.tmpl"))
}

// Begin writes the head of the page and the room header.
func (d *htmlDoc) Begin(h Header) error {
	if err := d.check("begin", true); err != nil {
		return err
	}
	d.begun = true
	d.loc = location(h.Location)
	css, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		return d.fail("read stylesheet", err)
	}
	v := headerView{
		CSS:        template.CSS(css), //nolint:gosec // our own embedded stylesheet
		Title:      roomTitle(h.Room),
		Kind:       roomKind(h.Room),
		Topic:      markdown(h.Room.Topic, pageFlavor),
		From:       rangeEnd(h.From, d.loc, "the beginning"),
		FromISO:    isoOrEmpty(h.From, d.loc),
		To:         rangeEnd(h.To, d.loc, "now"),
		ToISO:      isoOrEmpty(h.To, d.loc),
		Zone:       d.loc.String(),
		ExportedBy: cleanText(h.ExportedBy),
	}
	if h.Total > 0 {
		v.Total = "about " + count(h.Total, "message", "messages")
	}
	if !h.ExportedAt.IsZero() {
		v.ExportedAt = h.ExportedAt.In(d.loc).Format(dateTimeLayout)
		v.ExportISO = h.ExportedAt.In(d.loc).Format(isoLayout)
	}
	if err := d.tmpl.ExecuteTemplate(&d.buf, "begin", v); err != nil {
		return d.fail("execute header", err)
	}
	return d.flush("header")
}

// Message writes one message, preceded by a day separator when it starts a
// new day in the document's time zone.
func (d *htmlDoc) Message(m chat.Message) error {
	if err := d.check("message", false); err != nil {
		return err
	}
	v := newMessageView(m, d.loc, pageFlavor)
	ts := m.TS.In(d.loc)
	if day := ts.Format(isoDayLayout); day != d.lastDay {
		v.Day, v.DayISO = ts.Format(dayLayout), day
		d.lastDay = day
	}
	if err := d.tmpl.ExecuteTemplate(&d.buf, "message", v); err != nil {
		return d.fail("execute message "+m.ID, err)
	}
	return d.flush("message " + m.ID)
}

// End writes the footer with the exact count and closes the page.
func (d *htmlDoc) End(n int64) error {
	if err := d.check("end", false); err != nil {
		return err
	}
	d.ended = true
	v := footerView{Count: count(n, "message", "messages") + " exported", Empty: n == 0}
	if err := d.tmpl.ExecuteTemplate(&d.buf, "end", v); err != nil {
		return d.fail("execute footer", err)
	}
	return d.flush("footer")
}

// rangeEnd formats one end of the exported range; the zero time and the
// epoch (a missing dateFrom) read as open.
func rangeEnd(t time.Time, loc *time.Location, open string) string {
	if t.IsZero() || t.Unix() == 0 {
		return open
	}
	return t.In(loc).Format(dateTimeLayout)
}

// isoOrEmpty is t for a datetime attribute, or "" when t is open.
func isoOrEmpty(t time.Time, loc *time.Location) string {
	if t.IsZero() || t.Unix() == 0 {
		return ""
	}
	return t.In(loc).Format(isoLayout)
}

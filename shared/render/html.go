package render

import (
	"bytes"
	_ "embed" // the stylesheet
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// styleCSS is the page's inline stylesheet (light, dark and print). It is
// read-only: a string, set once by the compiler.
//
//go:embed templates/style.css
var styleCSS string

// DefaultPerPage is how many messages one HTML page holds before an export is
// split into pages (BookOptions.PerPage).
const DefaultPerPage = 10000

// Options tunes the HTML document.
type Options struct {
	// Parents looks up the parent of a thread reply whose parent is not
	// on the same page, so the reply can link to the page that holds it
	// or, when the parent lies outside the exported range, quote it
	// (Rocket.Chat's thread view shows the parent above its replies). It
	// is called at most once per distinct parent while the parent stays
	// in a small cache. It returns an error wrapping chat.ErrNotFound when
	// there is no such message (deleted); any other error fails the
	// document, as a failed read of the messages would. Nil is allowed:
	// such replies then say they answer a message outside this export (or
	// not on this page, when the export is split into pages).
	Parents func(id string) (chat.Message, error)
}

// BookOptions tunes NewHTMLBook.
type BookOptions struct {
	// PerPage is the most messages one page holds; DefaultPerPage when <= 0.
	PerPage int
	// BaseName names the entries: "<BaseName>.html" for a single page
	// (Rocket.Chat's "<rid>.html"), "<BaseName>-0001.html", ... for pages.
	// It must already be safe as an entry name (chat.SafeName); "messages"
	// when empty.
	BaseName string
	Options
}

// NewHTML returns a Document that writes one self-contained HTML page, the
// "<rid>.html" of Rocket.Chat's HTML export: inline CSS (light, dark and
// print), a room header, day separators, and each message as an
// <article id="msg-<_id>"> with its author, time, markdown body, thread
// link, reactions, files (linked to assets/) and attachments. Rocket.Chat's
// page is a bare list of <p> fragments; this one is meant to be read, like
// a chat client's transcript: consecutive messages of one author are
// grouped under one name and avatar, and the page can be used with the
// keyboard alone (skip link, landmarks, headings, visible focus).
//
// The page's Content-Security-Policy (pageHead in page.go) lets nothing
// load or run but the inline stylesheet and images: data: URIs and the
// archive's own assets/ files. CSP cannot name a relative folder ("assets/"
// would be read as a host name), so those are allowed as 'self' (the page
// served over HTTP) and file: (the unpacked archive opened from disk, whose
// opaque origin matches no 'self' in some browsers). That is safe because
// every img src on the page is a relative assets/ path built here: user
// text never becomes an image source. default-src 'none' shuts out scripts,
// frames, objects, fonts and fetches; base-uri and form-action close the
// two holes default-src leaves.
func NewHTML(w io.Writer) Document { return NewHTMLWithOptions(w, Options{}) }

// NewHTMLWithOptions is NewHTML with Options (the thread-parent lookup).
func NewHTMLWithOptions(w io.Writer, opts Options) Document {
	d := newHTMLDoc(BookOptions{Options: opts})
	d.w = w
	return d
}

// NewHTMLBook returns an HTML Document that stays openable however big the
// room is. Rocket.Chat writes one "<rid>.html" whatever its size, and one
// huge HTML file is what makes browsers give up on big exports.
//
// When Header.Total (the estimate given to Begin) is at most PerPage, it
// writes exactly the single page NewHTML writes, as the entry
// "<BaseName>.html", so normal rooms keep Rocket.Chat's layout. Above that
// it writes pages "<BaseName>-0001.html", "<BaseName>-0002.html", ... of
// PerPage messages each — every one a complete self-contained page with the
// room header and links to the previous and next pages and to the index —
// and, at End, "index.html": the room header, the exact count, the list of
// pages and a table of contents by month and day with message counts,
// linking to the page and day heading where each day starts.
//
// The choice is made at Begin because a page already written cannot be
// renamed. When the estimate is wrong the document stays correct: more
// than PerPage messages in single-page mode continue on the single page,
// and fewer than estimated in paged mode give fewer pages (possibly one)
// plus the index.
//
// open is called only when an entry is needed and must start a new entry
// of that name, ending the previous one (an archive's create does both).
// Nothing is kept per message: the index needs one record per day and per
// page.
func NewHTMLBook(open func(name string) (io.Writer, error), opts BookOptions) Document {
	d := newHTMLDoc(opts)
	d.open = open
	return d
}

func newHTMLDoc(opts BookOptions) *htmlDoc {
	if opts.PerPage <= 0 {
		opts.PerPage = DefaultPerPage
	}
	if opts.BaseName == "" {
		opts.BaseName = "messages"
	}
	return &htmlDoc{
		stream: stream{kind: "html"},
		opts:   opts,
		loc:    time.UTC,
		thread: threadState{maxSeen: 2 * opts.PerPage},
	}
}

// htmlDoc writes the HTML page, or the pages and index of a book.
type htmlDoc struct {
	stream
	opts BookOptions
	open func(name string) (io.Writer, error) // nil: one page on stream.w

	hdr      headerView
	loc      *time.Location
	from, to time.Time
	total    int64 // Header.Total, the estimated message count
	paged    bool

	count    int64      // messages written so far
	page     int        // current page, from 1 (0 before the first)
	pages    []pageStat // one per page
	days     []dayStat  // one per day of the document
	lastDay  string     // day of the previous message
	prev     groupKey   // the previous message, for grouping
	havePrev bool       // prev is set (false at the top of a page)

	thread threadState
	pre    prepared // markdown bodies rendered ahead (Prepare)
}

// pageStat is what the index and thread links need to know of a page.
type pageStat struct {
	firstID         string
	firstTS, lastTS time.Time
	firstNo         int64 // 1-based number of its first message
	count           int64
}

// dayStat is one line of the index's table of contents.
type dayStat struct {
	day      time.Time // midnight, in the document's zone
	iso      string
	page     int // where it starts
	lastPage int // where it ends
	count    int64
}

// Begin decides between one page and pages (from h.Total), opens the first
// entry and writes its head and room header.
func (d *htmlDoc) Begin(h Header) error {
	if err := d.check("begin", true); err != nil {
		return err
	}
	d.begun = true
	d.loc = location(h.Location)
	d.from, d.to, d.total = h.From, h.To, h.Total
	d.hdr = newHeaderView(h, d.loc)
	d.paged = d.open != nil && h.Total > int64(d.opts.PerPage)
	if d.open != nil && !d.paged {
		if err := d.openEntry(d.opts.BaseName + ".html"); err != nil {
			return err
		}
	}
	return d.startPage()
}

// startPage opens the next page (paged mode) and writes its head.
func (d *htmlDoc) startPage() error {
	d.page++
	d.pages = append(d.pages, pageStat{firstNo: d.count + 1})
	d.havePrev = false
	expect := d.total - d.count // the estimate may be low or high: only a size hint
	if d.paged {
		expect = min(expect, int64(d.opts.PerPage))
	}
	d.thread.newPage(expect)
	v := d.hdr
	if d.paged {
		if err := d.openEntry(d.pageName(d.page)); err != nil {
			return err
		}
		v.Page = d.page
		v.FirstNo = formatInt(d.count + 1)
		v.Nav = d.nav(false)
	}
	d.buf.Grow(len(styleCSS) + 4096) // the head is the stylesheet and a little more
	w := markup(d.buf.AvailableBuffer())
	w.pageBegin(&v)
	d.buf.Write(w)
	return d.flush("header", "")
}

// endPage writes the footer of the current page; last says whether it ends
// the document.
func (d *htmlDoc) endPage(last bool, total int64) error {
	v := footerView{Empty: total == 0 && last}
	p := d.pages[len(d.pages)-1]
	if d.paged {
		v.Page = fmt.Sprintf("Page %d · messages %s–%s", d.page, formatInt(p.firstNo), formatInt(p.firstNo+p.count-1))
		if p.count == 0 {
			v.Page = fmt.Sprintf("Page %d", d.page)
		}
		v.Nav = d.nav(!last)
	}
	if last {
		v.Count = count(total, "message", "messages") + " exported"
	}
	w := markup(d.buf.AvailableBuffer())
	w.pageEnd(&v)
	d.buf.Write(w)
	return d.flush("footer", "")
}

// Message writes one message, preceded by a day separator when it starts a
// new day in the document's time zone (or a new page mid-day). In paged
// mode a full page is ended first and the next one begun.
func (d *htmlDoc) Message(m chat.Message) error {
	if err := d.check("message", false); err != nil {
		return err
	}
	if d.paged && d.pages[len(d.pages)-1].count >= int64(d.opts.PerPage) {
		if err := d.endPage(false, d.count); err != nil {
			return err
		}
		if err := d.startPage(); err != nil {
			return err
		}
	}
	pm := pageMessage{ts: m.TS.In(d.loc)}
	var tb [64]byte
	var day []byte
	pm.iso, day, pm.clock = formatTimes(tb[:0], pm.ts)
	newDay := string(day) != d.lastDay
	if newDay {
		d.lastDay = string(day)
		y, mo, dd := pm.ts.Date()
		d.days = append(d.days, dayStat{day: time.Date(y, mo, dd, 0, 0, 0, 0, d.loc), iso: d.lastDay, page: d.page})
	}
	p := &d.pages[len(d.pages)-1]
	if newDay || p.count == 0 {
		pm.day, pm.dayISO, pm.dayContinued = true, d.lastDay, !newDay
	}
	key := groupKeyOf(m, d.lastDay)
	pm.seq = d.havePrev && key.follows(d.prev)
	d.prev, d.havePrev = key, true
	if m.ThreadID != "" {
		tv, err := d.threadView(m)
		if err != nil {
			return d.fail("look up thread parent of "+m.ID, err)
		}
		pm.thread = tv
	}
	d.thread.saw(m.ID)
	pm.body, pm.prepared = d.pre.take(m.ID)
	w := markup(d.buf.AvailableBuffer())
	w.message(&m, &pm, d.loc)
	d.buf.Write(w)
	if err := d.flush("message", m.ID); err != nil {
		return err
	}
	if p.count == 0 {
		p.firstID, p.firstTS = m.ID, m.TS
	}
	p.lastTS = m.TS
	p.count++
	d.days[len(d.days)-1].count++
	d.days[len(d.days)-1].lastPage = d.page
	d.count++
	return nil
}

// End writes the footer with the exact count and closes the page; in paged
// mode it then writes index.html.
func (d *htmlDoc) End(n int64) error {
	if err := d.check("end", false); err != nil {
		return err
	}
	d.ended = true
	defer d.release()
	if err := d.endPage(true, n); err != nil {
		return err
	}
	if !d.paged {
		return nil
	}
	if err := d.openEntry(indexName); err != nil {
		return err
	}
	v := d.indexView(n)
	d.buf.Grow(len(styleCSS) + 4096)
	w := markup(d.buf.AvailableBuffer())
	w.index(&v)
	d.buf.Write(w)
	return d.flush("index", "")
}

// release drops what an ended document no longer needs — the ids of its
// last page, the prepared pages, the page and day records — so that the
// memory is free for the rest of the export (its assets) while the
// exporter still holds the document.
func (d *htmlDoc) release() {
	d.thread = threadState{maxSeen: d.thread.maxSeen}
	d.pre.release()
	d.pages, d.days = nil, nil
	d.buf = bytes.Buffer{}
}

// openEntry starts a new entry and makes it the document's writer.
func (d *htmlDoc) openEntry(name string) error {
	w, err := d.open(name)
	if err != nil {
		return d.fail("open "+name, err)
	}
	d.w = w
	return nil
}

// indexName is the entry of a book's table of contents.
const indexName = "index.html"

// pageName is the entry name of page n of a book.
func (d *htmlDoc) pageName(n int) string {
	return fmt.Sprintf("%s-%04d.html", d.opts.BaseName, n)
}

// pageHref links to page n of a book from a sibling entry. The "./" keeps a
// name with a colon from reading as a URL scheme.
func (d *htmlDoc) pageHref(n int) string {
	return "./" + url.PathEscape(d.pageName(n))
}

// nav is the page navigation of the current page; withNext adds the link
// to the next page, which only the footer knows exists.
func (d *htmlDoc) nav(withNext bool) *navView {
	v := &navView{Index: "./" + indexName, Page: d.page}
	if d.page > 1 {
		v.Prev, v.PrevNo = d.pageHref(d.page-1), d.page-1
	}
	if withNext {
		v.Next, v.NextNo = d.pageHref(d.page+1), d.page+1
	}
	return v
}

// headerView is what the page header shows. Topic is HTML (markdown).
type headerView struct {
	Title      string
	Kind       string
	Topic      string
	From       string
	FromISO    string
	To         string
	ToISO      string
	Zone       string
	Total      string
	ExportedAt string
	ExportedBy string
	ExportISO  string

	// Paged mode.
	Index   bool // the book's index.html
	Page    int
	FirstNo string
	Nav     *navView
}

// navView links a page of a book to its neighbours and the index.
type navView struct {
	Index  string
	Prev   string
	PrevNo int
	Page   int
	Next   string
	NextNo int
}

// footerView is what the page footer shows.
type footerView struct {
	Count string // set on the last page
	Empty bool
	Page  string
	Nav   *navView
}

// newHeaderView prepares the room header.
func newHeaderView(h Header, loc *time.Location) headerView {
	v := headerView{
		Title:      roomTitle(h.Room),
		Kind:       roomKind(h.Room),
		Topic:      markdown(h.Room.Topic, pageFlavor),
		From:       rangeEnd(h.From, loc, "the beginning"),
		FromISO:    isoOrEmpty(h.From, loc),
		To:         rangeEnd(h.To, loc, "now"),
		ToISO:      isoOrEmpty(h.To, loc),
		Zone:       loc.String(),
		ExportedBy: cleanText(h.ExportedBy),
	}
	if h.Total > 0 {
		v.Total = "about " + count(h.Total, "message", "messages")
	}
	if !h.ExportedAt.IsZero() {
		v.ExportedAt = h.ExportedAt.In(loc).Format(dateTimeLayout)
		v.ExportISO = h.ExportedAt.In(loc).Format(isoLayout)
	}
	return v
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

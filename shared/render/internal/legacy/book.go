package legacy

// The index of a book: the table of contents NewHTMLBook writes as
// index.html when an export is split into pages.

// Layouts of the index.
const (
	monthLayout    = "January 2006"
	monthISOLayout = "2006-01"
	indexDayLayout = "Monday 2"
)

// indexView is what index.html shows.
type indexView struct {
	headerView
	Pages  []pageLink
	Months []monthView
}

// pageLink is one page of the book in the index.
type pageLink struct {
	No      int
	Href    string
	From    string
	FromISO string
	To      string
	ToISO   string
	Count   string
}

// monthView is one month of the table of contents.
type monthView struct {
	ID    string
	Label string
	Count string
	Days  []dayLink
}

// dayLink is one day of the table of contents: a link to the page and day
// heading where the day starts.
type dayLink struct {
	Label string
	ISO   string
	Href  string
	Count string
	Page  int
	Pages int // how many pages the day spans, when more than one
}

// indexView builds the index from the page and day records: O(pages + days).
func (d *htmlDoc) indexView(n int64) indexView {
	v := indexView{headerView: d.hdr}
	v.Index = true
	v.Total = count(n, "message", "messages")
	for i, p := range d.pages {
		if p.count == 0 {
			continue
		}
		from, to := p.firstTS.In(d.loc), p.lastTS.In(d.loc)
		v.Pages = append(v.Pages, pageLink{
			No: i + 1, Href: d.pageHref(i + 1),
			From: from.Format(dateTimeLayout), FromISO: from.Format(isoLayout),
			To: to.Format(dateTimeLayout), ToISO: to.Format(isoLayout),
			Count: count(p.count, "message", "messages"),
		})
	}
	var monthCount int64
	for _, day := range d.days {
		month := day.day.Format(monthISOLayout)
		if len(v.Months) == 0 || v.Months[len(v.Months)-1].ID != "month-"+month {
			if len(v.Months) > 0 {
				v.Months[len(v.Months)-1].Count = count(monthCount, "message", "messages")
			}
			v.Months = append(v.Months, monthView{ID: "month-" + month, Label: day.day.Format(monthLayout)})
			monthCount = 0
		}
		link := dayLink{
			Label: day.day.Format(indexDayLayout), ISO: day.iso,
			Href: d.pageHref(day.page), Count: count(day.count, "message", "messages"), Page: day.page,
		}
		if day.lastPage > day.page {
			link.Pages = day.lastPage - day.page + 1
		}
		m := &v.Months[len(v.Months)-1]
		m.Days = append(m.Days, link)
		monthCount += day.count
	}
	if len(v.Months) > 0 {
		v.Months[len(v.Months)-1].Count = count(monthCount, "message", "messages")
	}
	return v
}

package render

// markup is an HTML document being built, by appending: raw adds fixed
// markup written in this package, and the other methods add a value
// escaped for where it goes (escape.go). The page and the mail are written
// with it; a message is built in the document's reused buffer and written
// whole.
type markup []byte

// raw appends markup built here, never user content.
func (w *markup) raw(s string) { *w = append(*w, s...) }

// esc appends a value for HTML text, <title> or a double-quoted attribute.
func (w *markup) esc(s string) { *w = appendHTML(*w, s) }

// escBytes is esc for a value formatted into a byte slice.
func (w *markup) escBytes(s []byte) { *w = appendHTML(*w, s) }

// url appends a value for a double-quoted href or src attribute.
func (w *markup) url(s string) { *w = appendURL(*w, s) }

// urlPart appends a value that follows "#" in a URL attribute.
func (w *markup) urlPart(s string) { *w = appendURLPart(*w, s) }

// num appends a number, as a template printed an int.
func (w *markup) num(n int) { *w = appendInt(*w, n) }

// html appends HTML that markdown built (it escaped the text itself).
func (w *markup) html(s string) { *w = append(*w, s...) }

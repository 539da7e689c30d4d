package rcimport

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// MaxProblems is how many problems a CollectionReport keeps as examples
// (Options.Problem sees every one).
const MaxProblems = 20

// Problem is a document that was not imported, or the point from which a
// file could not be read. It names the collection and the position, never
// the content: no message text, token or hash is ever part of it.
type Problem struct {
	Collection string
	Position   string // "document 12 (byte 3456)" (BSON), "line 12" or "element 12" (Extended JSON)
	Reason     string // the same for every document with the same defect
	Detail     string // specifics, may be empty
	// Rest is set when the rest of the file could not be read past this
	// point (a broken BSON length, a JSON array that stops parsing, a file
	// that ends inside a document): the documents after it are not counted.
	Rest bool
}

func (p Problem) String() string {
	s := p.Collection + ": " + p.Position + ": " + p.Reason
	if p.Detail != "" {
		s += " (" + p.Detail + ")"
	}
	if p.Rest {
		s += "; the rest of the file was not read"
	}
	return s
}

// CollectionReport is what an import did with one collection.
type CollectionReport struct {
	Collection string
	File       string // the file read; "" when the dump has none
	Format     string // "bson", "extjson lines", "extjson array", with "+gzip"
	Read       int64  // documents read (for Tokens: token entries found)
	Imported   int64  // records written (with DryRun: that would be written)
	Skipped    int64  // documents refused, and the broken rest of a file counted as one
	Reasons    map[string]int64
	Problems   []Problem // the first MaxProblems
	Note       string
}

// FileReport is what an import did with the bytes of uploaded files.
type FileReport struct {
	Copied     int64 // files written to the blob sink (with DryRun: found)
	Bytes      int64 // their total size
	FromGridFS int64 // of Copied, read from rocketchat_uploads.chunks
	FromDir    int64 // of Copied, read from Options.FilesDir
	// Missing counts uploads whose bytes are in neither place: their
	// records are imported, and an export lists them as skipped files.
	Missing int64
	// Incomplete counts GridFS files with chunks missing or out of place
	// (their bytes were looked for in FilesDir instead).
	Incomplete int64
	TooLarge   int64 // bigger than Options.MaxFileBytes: not copied
	NoTarget   int64 // found, but Options.Blobs is nil: not copied
	Problems   []Problem
}

// Report is the outcome of an import.
type Report struct {
	Dir         string
	DryRun      bool
	Collections []CollectionReport // in Collections() order, Tokens right after Users
	Files       FileReport
	Notes       []string
	Elapsed     time.Duration
}

// Collection returns the report of one collection (or of Tokens).
func (r *Report) Collection(name string) *CollectionReport {
	for i := range r.Collections {
		if r.Collections[i].Collection == name {
			return &r.Collections[i]
		}
	}
	return nil
}

// Skipped is the number of documents skipped in every collection.
func (r *Report) Skipped() int64 {
	var n int64
	for _, c := range r.Collections {
		n += c.Skipped
	}
	return n
}

// Imported is the number of records written in every collection.
func (r *Report) Imported() int64 {
	var n int64
	for _, c := range r.Collections {
		n += c.Imported
	}
	return n
}

// WriteSummary writes the report for a person: a table of what was read,
// imported and skipped per collection, the uploaded files, and every reason
// for skipping with how often it occurred and where first.
func (r *Report) WriteSummary(w io.Writer) error {
	var b strings.Builder
	verb := "Imported"
	if r.DryRun {
		verb = "Checked (dry run: nothing was written)"
	}
	fmt.Fprintf(&b, "%s %s in %s\n\n", verb, r.Dir, r.Elapsed.Round(time.Millisecond))
	writeTable(&b, r.Collections)
	b.WriteString("\n")
	f := r.Files
	fmt.Fprintf(&b, "uploaded files: %d copied (%s", f.Copied, byteSize(f.Bytes))
	if f.Copied > 0 {
		fmt.Fprintf(&b, "; %d from GridFS, %d from --files", f.FromGridFS, f.FromDir)
	}
	b.WriteString(")")
	for _, x := range []struct {
		n    int64
		what string
	}{
		{f.Missing, "without bytes in the dump (their records are imported; exports list them as skipped)"},
		{f.Incomplete, "GridFS files with missing chunks"},
		{f.TooLarge, "too large to copy"},
		{f.NoTarget, "not copied: no file store to write them to"},
	} {
		if x.n > 0 {
			fmt.Fprintf(&b, ", %d %s", x.n, x.what)
		}
	}
	b.WriteString("\n")
	for _, c := range r.Collections {
		if c.Note != "" && c.File != "" {
			fmt.Fprintf(&b, "note: %s: %s\n", c.Collection, c.Note)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if r.Skipped() > 0 || len(f.Problems) > 0 {
		b.WriteString("\nSkipped:\n")
		for _, c := range r.Collections {
			for _, reason := range sortedReasons(c.Reasons) {
				fmt.Fprintf(&b, "  %s: %d × %s%s\n", c.Collection, c.Reasons[reason], reason, firstAt(c.Problems, reason))
			}
		}
		for _, p := range f.Problems {
			fmt.Fprintf(&b, "  %s\n", p)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// firstAt names where a reason first occurred, from the kept examples.
func firstAt(ps []Problem, reason string) string {
	for _, p := range ps {
		if p.Reason == reason {
			s := " (first at " + p.Position
			if p.Detail != "" {
				s += ": " + p.Detail
			}
			if p.Rest {
				s += "; the rest of the file was not read"
			}
			return s + ")"
		}
	}
	return ""
}

// writeTable writes one row per collection: name and file left-aligned,
// the counts right-aligned.
func writeTable(b *strings.Builder, cs []CollectionReport) {
	type row struct{ name, file, read, imported, skipped string }
	rows := []row{{"collection", "file", "read", "imported", "skipped"}}
	for _, c := range cs {
		r := row{name: c.Collection}
		switch {
		case c.Collection == Tokens:
			r.name = "  login tokens"
		case c.File == "":
			r.file = "not in the dump"
			rows = append(rows, r)
			continue
		default:
			r.file = filepath.Base(c.File) + " (" + c.Format + ")"
		}
		r.read, r.imported, r.skipped = fmt.Sprint(c.Read), fmt.Sprint(c.Imported), fmt.Sprint(c.Skipped)
		rows = append(rows, r)
	}
	var w [5]int
	for _, r := range rows {
		for i, cell := range []string{r.name, r.file, r.read, r.imported, r.skipped} {
			w[i] = max(w[i], len(cell))
		}
	}
	for _, r := range rows {
		line := fmt.Sprintf("  %-*s  %-*s  %*s  %*s  %*s", w[0], r.name, w[1], r.file, w[2], r.read, w[3], r.imported, w[4], r.skipped)
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
}

// byteSize renders n as B, KiB or MiB (workspace.Counts uses the same units).
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

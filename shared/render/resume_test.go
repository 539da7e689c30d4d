package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
)

// resumedBook renders msgs, stopping after each of the cut points: it
// snapshots the document, drops it, and resumes a new one from the snapshot
// on the entry being written — as an export moving to another process does.
func resumedBook(t *testing.T, opts BookOptions, h Header, msgs []chat.Message, cuts map[int]bool) *entries {
	t.Helper()
	e := newEntries()
	var cur string // the entry being written
	open := func(name string) (io.Writer, error) {
		cur = name
		return e.open(name)
	}
	var d Document = NewHTMLBook(open, opts)
	must(t, d.Begin(h))
	for i, m := range msgs {
		if cuts[i] {
			snap, err := d.(Snapshotter).Snapshot()
			must(t, err)
			b, err := snap.MarshalJSON()
			must(t, err)
			if d, err = ResumeHTMLBook(open, opts, h, e.data[cur], b); err != nil {
				t.Fatal(err)
			}
		}
		must(t, d.Message(m))
	}
	must(t, d.End(int64(len(msgs))))
	return e
}

func TestResumedHTMLEqualsUninterrupted(t *testing.T) {
	msgs := generated(95, 37*time.Minute) // several days, threads, grouping
	for _, tc := range []struct {
		name  string
		opts  BookOptions
		total int64
	}{
		{"single page", BookOptions{PerPage: 1000, BaseName: "GENERAL"}, 95},
		{"book", BookOptions{PerPage: 20, BaseName: "GENERAL"}, 95},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := sampleHeader(time.UTC)
			h.Total = tc.total
			want := renderBook(t, tc.opts, tc.total, time.UTC, msgs)
			cuts := map[int]bool{1: true, 20: true, 21: true, 40: true, 57: true, 94: true}
			got := resumedBook(t, tc.opts, h, msgs, cuts)
			if fmt.Sprint(got.names) != fmt.Sprint(want.names) {
				t.Fatalf("entries %v, want %v", got.names, want.names)
			}
			for _, name := range want.names {
				if !bytes.Equal(got.data[name].Bytes(), want.data[name].Bytes()) {
					t.Fatalf("%s differs after resuming", name)
				}
			}
		})
	}
}

func TestResumedJSONEqualsUninterrupted(t *testing.T) {
	msgs := sampleMessages()
	var want, got bytes.Buffer
	d := NewJSON(&want)
	must(t, d.Begin(sampleHeader(nil)))
	for _, m := range msgs {
		must(t, d.Message(m))
	}
	must(t, d.End(int64(len(msgs))))

	d = NewJSON(&got)
	must(t, d.Begin(sampleHeader(nil)))
	for i, m := range msgs {
		if i == len(msgs)/2 {
			snap, err := d.(Snapshotter).Snapshot()
			must(t, err)
			b, err := snap.MarshalJSON()
			must(t, err)
			if d, err = ResumeJSON(&got, b); err != nil {
				t.Fatal(err)
			}
		}
		must(t, d.Message(m))
	}
	must(t, d.End(int64(len(msgs))))
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatal("JSON differs after resuming")
	}
}

// TestSnapshotsKeptWhileTheDocumentGoesOn takes snapshots as the exporter
// does and encodes each only after the document has gone on (over page and
// day boundaries): the encoding must be that of the state at the Snapshot
// call, and resuming from it must write what the document wrote. Small
// pages give snapshots that copy their page's ids; pages of hundreds of
// messages also ones that share them (past maxCopiedSeen).
func TestSnapshotsKeptWhileTheDocumentGoesOn(t *testing.T) {
	for _, tc := range []struct {
		name           string
		n, perPage, at int // messages, per page, a snapshot every at
		shares         bool
	}{
		{"small pages", 95, 20, 7, false},
		{"long pages", 1500, 700, 97, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snapshotsKept(t, tc.n, tc.perPage, tc.at, tc.shares)
		})
	}
}

func snapshotsKept(t *testing.T, n, perPage, every int, shares bool) {
	msgs := generated(n, 37*time.Minute)
	opts := BookOptions{PerPage: perPage, BaseName: "GENERAL"}
	h := sampleHeader(time.UTC)
	h.Total = int64(len(msgs))
	want := renderBook(t, opts, h.Total, time.UTC, msgs)

	type kept struct {
		at      int    // messages written before the snapshot
		entry   string // the entry being written then
		written int    // its bytes then
		now     []byte // the snapshot encoded at once
		snap    json.Marshaler
	}
	var snaps []kept
	var cur string
	shared := false
	e := newEntries()
	d := NewHTMLBook(func(name string) (io.Writer, error) { cur = name; return e.open(name) }, opts)
	must(t, d.Begin(h))
	for i, m := range msgs {
		if i%every == 1 {
			shared = shared || len(d.(*htmlDoc).thread.order) > maxCopiedSeen
			snap, err := d.(Snapshotter).Snapshot()
			must(t, err)
			now, err := snap.MarshalJSON()
			must(t, err)
			snaps = append(snaps, kept{at: i, entry: cur, written: e.data[cur].Len(), now: now, snap: snap})
		}
		must(t, d.Message(m))
	}
	must(t, d.End(int64(len(msgs))))
	if shared != shares {
		t.Fatalf("a snapshot shared its page's ids: %v, want %v", shared, shares)
	}

	for _, k := range snaps {
		later, err := k.snap.MarshalJSON()
		must(t, err)
		if !bytes.Equal(later, k.now) {
			t.Fatalf("the snapshot after %d messages encodes differently once the document went on:\n%s\nwant\n%s", k.at, later, k.now)
		}
		r := newEntries()
		for _, name := range want.names {
			w, err := r.open(name)
			must(t, err)
			if name == k.entry {
				w.Write(want.data[name].Bytes()[:k.written])
				break
			}
			w.Write(want.data[name].Bytes())
		}
		rd, err := ResumeHTMLBook(r.open, opts, h, r.data[k.entry], later)
		must(t, err)
		for _, m := range msgs[k.at:] {
			must(t, rd.Message(m))
		}
		must(t, rd.End(int64(len(msgs))))
		if fmt.Sprint(r.names) != fmt.Sprint(want.names) {
			t.Fatalf("resumed after %d messages: entries %v, want %v", k.at, r.names, want.names)
		}
		for _, name := range want.names {
			if !bytes.Equal(r.data[name].Bytes(), want.data[name].Bytes()) {
				t.Fatalf("%s differs after resuming from the snapshot taken after %d messages", name, k.at)
			}
		}
	}
}

func TestResumeRefusesForeignSnapshots(t *testing.T) {
	if _, err := ResumeJSON(&bytes.Buffer{}, []byte(`{"kind":"html"}`)); err == nil {
		t.Fatal("JSON resumed from an HTML snapshot")
	}
	if _, err := ResumeHTMLBook(newEntries().open, BookOptions{}, sampleHeader(nil), &bytes.Buffer{}, []byte(`{"kind":"json"}`)); err == nil {
		t.Fatal("HTML resumed from a JSON snapshot")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

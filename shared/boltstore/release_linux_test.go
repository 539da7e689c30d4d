package boltstore

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/storetest"
)

// procStatusKB reads one "Name:   123 kB" line of /proc/self/status.
func procStatusKB(t *testing.T, name string) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/self/status", name)
	return 0
}

// mappedKB is how much of the store's file is resident in this process:
// the Rss of its mappings in /proc/self/smaps.
func mappedKB(t *testing.T, s *Store) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var kb int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if i := bytes.IndexByte(line, ' '); i > 0 && bytes.IndexByte(line[:i], '-') > 0 {
			_, _, in = s.pages.file.matches(line) // a mapping's header line
			continue
		}
		if v, ok := bytes.CutPrefix(line, []byte("Rss:")); in && ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(string(v)), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			kb += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kb
}

// walk pages through the whole room and checks every message came back.
func walk(t *testing.T, s *Store, rid string, want int) {
	t.Helper()
	q := export.MessageQuery{RoomID: rid, From: time.Unix(0, 0), To: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 500}
	n := 0
	for {
		page, more, err := s.MessagePage(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for i := range page {
			if want := fmt.Sprintf("m%07d", n+i); page[i].ID != want || len(page[i].Msg) != bigText {
				t.Fatalf("message %d = %s with %d bytes of text, want %s with %d", n+i, page[i].ID, len(page[i].Msg), want, bigText)
			}
		}
		n += len(page)
		if !more {
			break
		}
		last := page[len(page)-1]
		q.After = export.Cursor{TS: last.TS, ID: last.ID}
	}
	if n != want {
		t.Fatalf("walked %d messages, want %d", n, want)
	}
}

// bigText is the text size of the big store's messages: two to a page.
const bigText = 1800

// TestBigReadsKeepResidentMemoryFlat pages through a store of about 100 MB
// and checks that the process's resident set grew by far less than the file:
// the pages reads mapped in were released on the way. The same walk with
// releases off shows the file's pages do stay resident otherwise.
func TestBigReadsKeepResidentMemoryFlat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.db")
	s, err := OpenWith(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50000
	text := strings.Repeat("0123456789abcdef ", bigText/17+1)[:bigText]
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]chat.Message, 0, 5000)
	for i := range n {
		batch = append(batch, chat.Message{ID: fmt.Sprintf("m%07d", i), RoomID: "big", TS: ts.Add(time.Duration(i) * time.Second),
			Msg: text, U: chat.UserRef{ID: "u1", Username: "alice"}})
		if len(batch) == cap(batch) {
			if err := s.PutMessages(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	fileKB := fi.Size() >> 10
	if fileKB < 90<<10 {
		t.Fatalf("test setup: the store is %d kB, want about 100 MB", fileKB)
	}

	open := func(release bool) *Store {
		s, err := Open(path) // a fresh mapping: nothing of the file resident yet
		if err != nil {
			t.Fatal(err)
		}
		if !release {
			s.pages.checkEvery = 0
		}
		return s
	}

	s = open(true)
	debug.FreeOSMemory() // the heap of the load is not the walk's
	// reset the peak (VmHWM) to the current RSS, so that it is the walk's
	peakKnown := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	before := procStatusKB(t, "VmRSS")
	walk(t, s, "big", n)
	grew, mapped := procStatusKB(t, "VmRSS")-before, mappedKB(t, s)
	t.Logf("file %d kB; with releases: RSS grew %d kB, %d kB of the file resident", fileKB, grew, mapped)
	if grew > fileKB/4 {
		t.Errorf("paging through %d kB grew VmRSS by %d kB; want far less", fileKB, grew)
	}
	if peakKnown {
		peak := procStatusKB(t, "VmHWM") - before
		t.Logf("peak RSS during the walk: %d kB above the start", peak)
		if peak > fileKB/4 {
			t.Errorf("paging through %d kB raised the peak RSS by %d kB; want far less", fileKB, peak)
		}
	}
	if limit := int64(2 * defaultReleaseBudget >> 10); mapped > limit {
		t.Errorf("%d kB of the file resident after the walk; want at most %d", mapped, limit)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// the control: the same walk without releases keeps the file resident
	s = open(false)
	defer s.Close()
	walk(t, s, "big", n)
	mapped = mappedKB(t, s)
	t.Logf("without releases: %d kB of the file resident", mapped)
	if mapped < fileKB/2 {
		t.Errorf("without releases only %d kB of %d kB resident: the test does not measure what it should", mapped, fileKB)
	}
	// and one release drops it
	if err := s.pages.file.release(); err != nil {
		t.Fatalf("release: %v", err)
	}
	if after := mappedKB(t, s); after > 1024 {
		t.Errorf("after a release %d kB of the file is still resident", after)
	}
}

// TestContractReleasingOnEveryRead runs the contract suite with a release
// after every read: what reads return never depends on the pages being
// resident.
func TestContractReleasingOnEveryRead(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		s := openTemp(t)
		s.pages.always = true
		if err := s.pages.file.release(); err != nil {
			t.Fatalf("release: %v", err) // the mapping must be found, or the suite proves nothing
		}
		return s
	})
}

func TestMapsLineMatching(t *testing.T) {
	f := mappedFile{path: "/data/rooms export.db", major: 0xfd, minor: 1, ino: 4242}
	cases := []struct {
		line string
		ok   bool
	}{
		{"7f0000000000-7f0040000000 r--s 00000000 fd:01 4242                       /data/rooms export.db", true},
		{"7f0000000000-7f0040000000 r--s 00000000 fd:01 4242                       /elsewhere/hardlink.db", true},
		{"7f0000000000-7f0040000000 r--s 00000000 00:2a 99                         /data/rooms export.db", true}, // overlay: by path
		{"7f0000000000-7f0040000000 r--p 00000000 fd:01 4242                       /data/rooms export.db", false},
		{"7f0000000000-7f0040000000 rw-s 00000000 fd:01 4242                       /data/rooms export.db", false},
		{"7f0000000000-7f0040000000 r--s 00000000 fd:02 4242                       /data/other.db", false},
		{"7f0000000000-7f0040000000 r--s 00000000 fd:01 4243                       /data/other.db", false},
		{"7f0000000000-7f0040000000 r--s 00000000 fd:01 4242", true},
		{"7f0000000000-7f0040000000 r--s 00000000 fd:01", false},
		{"garbage", false},
		{"", false},
	}
	for _, c := range cases {
		start, end, ok := f.matches([]byte(c.line))
		if ok != c.ok {
			t.Errorf("%q: match = %v, want %v", c.line, ok, c.ok)
		}
		if ok && (start != 0x7f0000000000 || end != 0x7f0040000000) {
			t.Errorf("%q: range %#x-%#x", c.line, start, end)
		}
	}
}

// TestShortReadsKeepAHotSet: the growth of the resident set that makes a
// long read release the file's pages (1 MiB) does not make short reads —
// a server's lookups and small pages, which re-read the same hot set —
// release them; a growth beyond shortReadBudget does.
func TestShortReadsKeepAHotSet(t *testing.T) {
	s := openTemp(t)
	p := s.pages
	rss, err := residentFileBytes()
	if err != nil {
		t.Fatal(err)
	}
	released := func() bool { return p.base.Load() != rss-4*defaultReleaseBudget }
	p.base.Store(rss - 4*defaultReleaseBudget) // as if 4 MiB had come in since the last release
	p.readDone(int(shortCheckFactor*p.checkEvery), false)
	if released() {
		t.Fatal("short reads released after 4 MiB of growth")
	}
	p.readDone(int(p.checkEvery), true)
	if !released() {
		t.Fatal("a long read did not release after 8 MiB of growth")
	}
	p.base.Store(rss - shortReadBudget - defaultReleaseBudget)
	p.readDone(int(p.checkEvery), false) // not enough short reads to look yet
	if p.base.Load() != rss-shortReadBudget-defaultReleaseBudget {
		t.Fatal("short reads looked at the resident set after checkEvery bytes")
	}
	p.readDone(int((shortCheckFactor-1)*p.checkEvery), false)
	if p.base.Load() == rss-shortReadBudget-defaultReleaseBudget {
		t.Fatal("short reads did not release after more than shortReadBudget of growth")
	}
}

// touchRoom reads every message of room rid, so that its pages are
// resident in the process (the store's own releases off).
func touchRoom(t *testing.T, s *Store, rid string) {
	t.Helper()
	q := export.MessageQuery{RoomID: rid, From: time.Unix(0, 0), To: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 500}
	for {
		page, more, err := s.MessagePage(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if !more || len(page) == 0 {
			return
		}
		q.After = export.Cursor{TS: page[len(page)-1].TS, ID: page[len(page)-1].ID}
	}
}

// TestReleaseKeepsTheMappingRange: a release reads /proc/self/maps once
// and then drops the store's mapping by the range it found, as long as the
// mapping starts where it did; when it seems to have moved, the next
// release looks it up again. Every release drops the pages either way,
// and the open statm answers as a fresh read of it does.
func TestReleaseKeepsTheMappingRange(t *testing.T) {
	s := openTemp(t)
	msgs := make([]chat.Message, 2000)
	for i := range msgs {
		msgs[i] = chat.Message{ID: fmt.Sprintf("m%05d", i), RoomID: "r", TS: time.Unix(int64(i), 0).UTC(),
			Msg: strings.Repeat("x", bigText), U: chat.UserRef{ID: "u", Username: "u"}}
	}
	if err := s.PutMessages(t.Context(), msgs); err != nil {
		t.Fatal(err)
	}
	s.pages.checkEvery = 0
	f := s.pages.file
	released := func(what string, scans int) {
		t.Helper()
		touchRoom(t, s, "r")
		if kb := mappedKB(t, s); kb < 256 {
			t.Fatalf("%s: only %d kB of the file resident before the release: the test measures nothing", what, kb)
		}
		if err := f.release(); err != nil {
			t.Fatalf("%s: release: %v", what, err)
		}
		if kb := mappedKB(t, s); kb > 64 {
			t.Errorf("%s: %d kB of the file still resident after the release", what, kb)
		}
		if f.scans != scans {
			t.Errorf("%s: /proc/self/maps read %d times, want %d", what, f.scans, scans)
		}
	}
	released("first release", 1)
	released("second release", 1)
	released("third release", 1)

	realBase := f.base
	f.base = func() uintptr { return realBase() + 4096 } // as if remapped elsewhere
	released("after a move", 2)
	released("still moved", 3) // no mapping starts there: nothing to keep
	f.base = realBase
	released("back", 4)
	released("back again", 4)

	got, err := f.resident()
	want, err2 := residentFileBytes()
	if err != nil || err2 != nil {
		t.Fatal(err, err2)
	}
	if d := got - want; d < -1<<20 || d > 1<<20 {
		t.Errorf("resident through the open statm %d, read anew %d", got, want)
	}
}

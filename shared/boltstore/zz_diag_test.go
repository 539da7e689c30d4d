package boltstore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/infra/bench/gen"
	"github.com/rooms-export/rooms-export/shared/export"
)

func TestZZDiag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	s, _ := OpenWith(path, Options{NoSync: true})
	h, _, err := gen.Generate(t.Context(), s, gen.Config{Messages: 100000, Seed: 1})
	if err != nil { t.Fatal(err) }
	s.Close()
	fi, _ := os.Stat(path)
	t.Logf("file %d kB", fi.Size()>>10)
	show := func(what string) {
		raw, _ := os.ReadFile("/proc/self/status")
		var out []string
		for _, l := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(l, "VmHWM") || strings.HasPrefix(l, "VmRSS") || strings.HasPrefix(l, "Rss") {
				out = append(out, strings.Join(strings.Fields(l), " "))
			}
		}
		t.Logf("%s: %v", what, out)
	}
	show("before open")
	s, _ = Open(path)
	show("after open")
	q := export.MessageQuery{RoomID: h.Room.ID, From: time.Unix(0, 0), To: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 500}
	s.CountMessages(t.Context(), q.RoomID, q.From, q.To)
	show("after count")
	for _, f := range []func() ([]int, bool){} { _ = f }
	n := 0
	for {
		p, more, err := s.MessagePage(t.Context(), q)
		if err != nil { t.Fatal(err) }
		n += len(p)
		if !more { break }
		q.After = export.Cursor{TS: p[len(p)-1].TS, ID: p[len(p)-1].ID}
	}
	show("after walk")
	t.Logf("mapped %d kB, n=%d", mappedKB(t, s), n)
}

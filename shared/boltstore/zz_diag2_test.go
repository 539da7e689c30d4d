package boltstore_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/infra/bench/gen"
	"github.com/rooms-export/rooms-export/shared/boltstore"
	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/embedded"
	"github.com/rooms-export/rooms-export/shared/export"
)

func TestZZDiag2(t *testing.T) {
	dir := t.TempDir()
	s, _ := boltstore.OpenWith(filepath.Join(dir, "rooms-export.db"), boltstore.Options{NoSync: true})
	h, _, err := gen.Generate(t.Context(), s, gen.Config{Messages: 100000, Seed: 1})
	if err != nil { t.Fatal(err) }
	s.Close()
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
	show("before")
	stack, err := embedded.Open(dir, export.Config{InlineBudget: 24 * time.Hour}, slog.New(slog.DiscardHandler))
	if err != nil { t.Fatal(err) }
	defer stack.Close()
	show("opened")
	body, _ := json.Marshal(map[string]string{"rid": h.Room.ID, "type": chat.DeliveryFile, "format": "json", "dateFrom": "2000-01-01", "dateTo": "2099-12-31"})
	start := time.Now()
	res, err := stack.Service.Export(t.Context(), h.Credentials(), body, "http://127.0.0.1")
	if err != nil { t.Fatal(err) }
	t.Logf("export %v %v", time.Since(start), res.ExportID)
	show("exported")
	sm, _ := os.ReadFile("/proc/self/smaps_rollup")
	_ = sm
	raw, _ := os.ReadFile("/proc/self/smaps")
	var cur string
	for _, l := range strings.Split(string(raw), "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && strings.Contains(f[0], "-") { cur = l; continue }
		if len(f) == 3 && f[0] == "Rss:" && f[1] != "0" && len(f[1]) > 3 { t.Logf("%s kB  %s", f[1], cur) }
	}
}

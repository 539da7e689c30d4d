package export_test

// A whole small export through the service on the embedded stack, per op:
// authentication, count, job records, paging, rendering, the ZIP with its
// manifest, the commit to the file store. An external test package, because
// shared/embedded imports shared/export.

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/infra/bench/gen"
	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/embedded"
	"github.com/rooms-export/rooms-export/shared/export"
)

// benchExportSize is the messages of the exported room.
const benchExportSize = 5000

// BenchmarkExport exports a generated room as JSON and as HTML through
// Service.Export (inline), and reports messages/s and archive bytes.
func BenchmarkExport(b *testing.B) {
	stack, err := embedded.Open(b.TempDir(), export.Config{InlineBudget: 24 * time.Hour}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer stack.Close()
	h, _, err := gen.Generate(b.Context(), stack.Store, gen.Config{Messages: benchExportSize, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	for _, format := range []string{chat.FormatJSON, chat.FormatHTML} {
		b.Run(format, func(b *testing.B) {
			body, err := json.Marshal(map[string]string{
				"rid": h.Room.ID, "type": chat.DeliveryFile, "format": format, "dateFrom": "2000-01-01", "dateTo": "2099-12-31",
			})
			if err != nil {
				b.Fatal(err)
			}
			var exported, bytes int64
			b.ReportAllocs()
			for b.Loop() {
				res, err := stack.Service.Export(b.Context(), h.Credentials(), body, "http://127.0.0.1")
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				job, err := stack.Store.Job(b.Context(), res.ExportID)
				if err != nil || job.Status != chat.JobDone || job.Exported != benchExportSize {
					b.Fatalf("export %s: %s, %d messages (%v)", res.ExportID, job.Status, job.Exported, err)
				}
				exported += job.Exported
				bytes += job.Bytes
				if err := stack.Files.Delete(b.Context(), job.Key); err != nil { // keep the disk flat
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(exported)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(bytes)/float64(exported), "zipB/msg")
		})
	}
}

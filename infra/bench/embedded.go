package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rooms-export/rooms-export/infra/bench/gen"
	"github.com/rooms-export/rooms-export/shared/boltstore"
	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/embedded"
	"github.com/rooms-export/rooms-export/shared/export"
)

// childArg, as the first argument, makes the binary one export's child
// process instead of the benchmark. It is not a flag of the command.
const childArg = "-export-child"

// dbFile is where the embedded stack keeps its database under its data
// directory (see embedded.Stack).
const dbFile = "rooms-export.db"

// exportRow is the outcome of one export in a child process.
type exportRow struct {
	Messages    int     `json:"messages"`
	Format      string  `json:"format"`
	Seconds     float64 `json:"seconds"`
	Bytes       int64   `json:"bytes"`
	PeakRSSKiB  int64   `json:"peakRssKiB"`  // VmHWM at the end of the export
	PeakAnonKiB int64   `json:"peakAnonKiB"` // largest RssAnon sampled during it
	// PeakLiveKiB is the largest live heap (runtime/metrics
	// /gc/heap/live:bytes) sampled, with -memprofile only.
	PeakLiveKiB int64 `json:"peakLiveKiB,omitempty"`
	// AtPeakAnon is what the Go runtime held when RssAnon peaked: its
	// runtime/metrics /memory/classes/ of 1 MiB or more ("heap/free 8 MiB,
	// ..."), with -memprofile only.
	AtPeakAnon string `json:"atPeakAnon,omitempty"`
}

// rate is messages per second.
func (r exportRow) rate() float64 { return float64(r.Messages) / r.Seconds }

// benchEmbedded generates an n-message room into a fresh stack and exports
// it in each format, each export in its own child process.
func benchEmbedded(ctx context.Context, o options, n int, progress io.Writer) ([]exportRow, error) {
	dir, err := os.MkdirTemp(o.dir, fmt.Sprintf("bench-%d-", n))
	if err != nil {
		return nil, fmt.Errorf("temporary stack: %w", err)
	}
	if o.keep {
		fmt.Fprintf(progress, "bench: the %s-message stack stays in %s\n", thousands(n), dir)
	} else {
		defer os.RemoveAll(dir)
	}

	fmt.Fprintf(progress, "bench: generating %s messages into bbolt ... ", thousands(n))
	start := time.Now()
	if err := generate(ctx, filepath.Join(dir, dbFile), gen.Config{Messages: n, Seed: o.seed}); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "%.1f s\n", time.Since(start).Seconds())

	var rows []exportRow
	for _, format := range o.formats {
		fmt.Fprintf(progress, "bench: exporting %s messages as %s in a child process ... ", thousands(n), format)
		var prof profiles
		if o.profile != "" {
			prof.cpu = filepath.Join(o.profile, fmt.Sprintf("%d-%s.pprof", n, format))
		}
		if o.memprofile != "" {
			prof.heap = filepath.Join(o.memprofile, fmt.Sprintf("%d-%s.heap.pprof", n, format))
		}
		var runs []exportRow
		for i := range o.runs {
			if err := warm(filepath.Join(dir, dbFile)); err != nil {
				return nil, err
			}
			p := prof
			if i > 0 {
				p = profiles{} // the first run's profiles
			}
			row, err := runChild(ctx, o.exe, dir, format, n, o.seed, p)
			if err != nil {
				fmt.Fprintln(progress)
				return nil, err
			}
			fmt.Fprintf(progress, "%.2f s ", row.Seconds)
			if o.memprofile != "" {
				fmt.Fprintf(progress, "(peak live heap %.1f MiB; at peak anon: %s) ", float64(row.PeakLiveKiB)/1024, row.AtPeakAnon)
			}
			runs = append(runs, row)
		}
		fmt.Fprintln(progress)
		rows = append(rows, median(runs))
	}
	return rows, nil
}

// generate writes the room into a new bbolt file, without fsync per batch
// (a bulk load that can be redone), syncs it once at the end and compacts
// it, as `make import` does after a load: a room's pages are then
// contiguous in the file (see boltstore.Compact).
func generate(ctx context.Context, path string, cfg gen.Config) error {
	store, err := boltstore.OpenWith(path, boltstore.Options{NoSync: true})
	if err != nil {
		return err
	}
	if _, _, err := gen.Generate(ctx, store, cfg); err != nil {
		store.Close()
		return err
	}
	if err := store.Sync(); err != nil {
		store.Close()
		return err
	}
	if err := store.Close(); err != nil {
		return err
	}
	return boltstore.Compact(path)
}

// median is the run of median time, with the highest peak memory of all
// the runs: on a shared machine the time of one run can be another
// tenant's, and memory should be reported at its worst.
func median(runs []exportRow) exportRow {
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b exportRow) int { return cmp.Compare(a.Seconds, b.Seconds) })
	m := sorted[len(sorted)/2]
	for _, r := range runs {
		m.PeakRSSKiB, m.PeakAnonKiB = max(m.PeakRSSKiB, r.PeakRSSKiB), max(m.PeakAnonKiB, r.PeakAnonKiB)
	}
	return m
}

// warm reads the database file once, so that every export starts with it
// in the page cache: the figures are then the exporter's, not the disk's.
// It matters on machines that reclaim idle file pages within seconds (this
// project's dev VM runs the kernel's DAMON-based reclaim), where the first
// export after a pause would otherwise read the file from disk.
func warm(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("warm the page cache: %w", err)
	}
	defer f.Close()
	if _, err := io.CopyBuffer(io.Discard, f, make([]byte, 1<<20)); err != nil {
		return fmt.Errorf("warm the page cache: %w", err)
	}
	return nil
}

// profiles are the files a child writes its profiles to; empty: none.
type profiles struct {
	cpu  string // a CPU profile of the export
	heap string // a heap profile taken when the live heap peaked
}

// runChild re-executes this binary to run one export and reads its result.
func runChild(ctx context.Context, exe, dir, format string, n int, seed uint64, prof profiles) (exportRow, error) {
	args := []string{childArg, "-dir", dir, "-format", format, "-messages", strconv.Itoa(n), "-seed", strconv.FormatUint(seed, 10)}
	if prof.cpu != "" {
		args = append(args, "-cpuprofile", prof.cpu)
	}
	if prof.heap != "" {
		args = append(args, "-memprofile", prof.heap)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return exportRow{}, fmt.Errorf("export child (%s, %d messages): %w: %s", format, n, err, strings.TrimSpace(errOut.String()))
	}
	var row exportRow
	if err := json.Unmarshal(out.Bytes(), &row); err != nil {
		return exportRow{}, fmt.Errorf("export child (%s, %d messages): read result: %w", format, n, err)
	}
	return row, nil
}

// childMain is one export in a fresh process: it opens the stack the parent
// generated, exports the whole room through Service.Export (inline: the
// inline budget is raised to a day, more than any room takes), checks the
// job ended done with every message, and prints an exportRow as JSON — with
// the process's own peak RSS, read at the end.
func childMain(args []string, stdout, stderr io.Writer) int {
	embedded.TuneRuntime(os.Getenv) // export as the local server does
	fs := flag.NewFlagSet(childArg, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "data directory of the embedded stack")
	format := fs.String("format", "json", "export format")
	n := fs.Int("messages", 0, "messages the room holds")
	seed := fs.Uint64("seed", 1, "seed the room was generated with")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the export to this file")
	memprofile := fs.String("memprofile", "", "write a heap profile, taken when the live heap peaked, to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *memprofile != "" {
		// Finer than the default 512 KiB sampling, so that buffers of a
		// few hundred KiB are attributed; it slows allocation a little,
		// so only runs that ask for the profile pay for it.
		runtime.MemProfileRate = 16 << 10
	}
	if *cpuprofile != "" {
		stop, err := startCPUProfile(*cpuprofile)
		if err != nil {
			fmt.Fprintln(stderr, "bench child:", err)
			return 1
		}
		defer stop()
	}
	row, err := exportOnce(context.Background(), *dir, *format, *n, *seed, *memprofile)
	if err != nil {
		fmt.Fprintln(stderr, "bench child:", err)
		return 1
	}
	if err := json.NewEncoder(stdout).Encode(row); err != nil {
		fmt.Fprintln(stderr, "bench child:", err)
		return 1
	}
	return 0
}

// startCPUProfile profiles the process into path until the returned stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// exportOnce runs the export; a non-empty memprofile is the file the heap
// profile of the peak live heap goes to.
func exportOnce(ctx context.Context, dir, format string, n int, seed uint64, memprofile string) (exportRow, error) {
	sampler := startRSSSampler(10*time.Millisecond, memprofile != "")
	stack, err := embedded.Open(dir, export.Config{InlineBudget: 24 * time.Hour}, slog.New(slog.DiscardHandler))
	if err != nil {
		return exportRow{}, err
	}
	defer stack.Close()
	h := gen.New(gen.Config{Seed: seed}).Header()
	body, err := exportBody(h, format)
	if err != nil {
		return exportRow{}, err
	}
	start := time.Now()
	res, err := stack.Service.Export(ctx, h.Credentials(), body, "http://127.0.0.1")
	elapsed := time.Since(start)
	if err != nil {
		return exportRow{}, fmt.Errorf("export: %w", err)
	}
	job, err := stack.Store.Job(ctx, res.ExportID)
	if err != nil {
		return exportRow{}, fmt.Errorf("export job: %w", err)
	}
	if job.Status != chat.JobDone || job.Exported != int64(n) {
		return exportRow{}, fmt.Errorf("export ended %s with %d of %d messages: %s", job.Status, job.Exported, n, job.Error)
	}
	peak := sampler.stop()
	st, err := readStatus()
	if err != nil {
		return exportRow{}, err
	}
	if memprofile != "" {
		if err := os.WriteFile(memprofile, peak.heap, 0o644); err != nil {
			return exportRow{}, fmt.Errorf("heap profile: %w", err)
		}
	}
	return exportRow{
		Messages: n, Format: format, Seconds: elapsed.Seconds(), Bytes: job.Bytes,
		PeakRSSKiB: st["VmHWM"], PeakAnonKiB: max(peak.anon, st["RssAnon"]), PeakLiveKiB: peak.live >> 10,
		AtPeakAnon: peak.classes,
	}, nil
}

// exportBody is the rooms.export request of the whole generated room as a file.
func exportBody(h gen.Header, format string) ([]byte, error) {
	return json.Marshal(map[string]string{
		"rid": h.Room.ID, "type": chat.DeliveryFile, "format": format, "dateFrom": "2000-01-01", "dateTo": "2099-12-31",
	})
}

// rssSampler polls RssAnon: /proc has a high-water mark for the whole RSS
// only (VmHWM), which also counts the pages of the bbolt file the export
// maps and reads; the anonymous part is the memory the process allocated.
// With heap set it also follows the live heap (runtime/metrics) and keeps
// a heap profile taken at its largest sample: what the memory at the peak
// is made of. The profile is as of the last GC, which is what "live" is.
type rssSampler struct {
	done chan struct{}
	max  chan samplePeak
}

// samplePeak is what a sampler saw: the largest RssAnon in KiB, and with
// heap profiling the largest live heap in bytes and the profile taken then.
type samplePeak struct {
	anon    int64
	live    int64
	heap    []byte
	classes string // the runtime's memory classes at the largest RssAnon
}

func startRSSSampler(every time.Duration, heap bool) *rssSampler {
	s := &rssSampler{done: make(chan struct{}), max: make(chan samplePeak, 1)}
	go func() {
		var peak samplePeak
		live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var classes []metrics.Sample
		if heap {
			for _, d := range metrics.All() {
				if strings.HasPrefix(d.Name, "/memory/classes/") && d.Name != "/memory/classes/total:bytes" {
					classes = append(classes, metrics.Sample{Name: d.Name})
				}
			}
		}
		var buf bytes.Buffer
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if st, err := readStatus(); err == nil && st["RssAnon"] > peak.anon {
				peak.anon = st["RssAnon"]
				if heap {
					metrics.Read(classes)
					var parts []string
					for _, c := range classes {
						if mib := c.Value.Uint64() >> 20; mib > 0 {
							name := strings.TrimSuffix(strings.TrimPrefix(c.Name, "/memory/classes/"), ":bytes")
							parts = append(parts, fmt.Sprintf("%s %d MiB", name, mib))
						}
					}
					peak.classes = strings.Join(parts, ", ")
				}
			}
			if heap {
				metrics.Read(live)
				if v := int64(live[0].Value.Uint64()); v > peak.live {
					buf.Reset()
					if err := pprof.Lookup("heap").WriteTo(&buf, 0); err == nil {
						peak.live, peak.heap = v, slices.Clone(buf.Bytes())
					}
				}
			}
			select {
			case <-s.done:
				if heap && peak.heap == nil {
					// No collection yet, so no live heap measured: the
					// profile is still what was allocated.
					if err := pprof.Lookup("heap").WriteTo(&buf, 0); err == nil {
						peak.heap = buf.Bytes()
					}
				}
				s.max <- peak
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns what it saw.
func (s *rssSampler) stop() samplePeak {
	close(s.done)
	return <-s.max
}

// readStatus reads the kB fields of /proc/self/status (VmHWM, VmRSS, RssAnon, ...).
func readStatus() (map[string]int64, error) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/status: %w", err)
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(value)
		if !ok || len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		if v, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
			out[name] = v
		}
	}
	return out, nil
}

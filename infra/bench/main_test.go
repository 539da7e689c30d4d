package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestMain lets the test binary be the export child too: the benchmark
// re-executes its own binary, which under go test is this one.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		os.Exit(childMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// table returns the rows of the Markdown table whose header is columns:
// the cells of each line after the separator, up to the first non-table line.
func table(t *testing.T, out string, columns []string) [][]string {
	t.Helper()
	lines := strings.Split(out, "\n")
	head := "| " + strings.Join(columns, " | ") + " |"
	i := slices.Index(lines, head)
	if i < 0 || i+1 >= len(lines) || !strings.Contains(lines[i+1], "---|") {
		t.Fatalf("no table with header %q in:\n%s", head, out)
	}
	var rows [][]string
	for _, l := range lines[i+2:] {
		if !strings.HasPrefix(l, "|") {
			break
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		rows = append(rows, cells)
	}
	return rows
}

func number(t *testing.T, cell string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(strings.ReplaceAll(cell, ",", ""), 64)
	if err != nil {
		t.Fatalf("cell %q is not a number", cell)
	}
	return f
}

func TestQuickRunPrintsTheTables(t *testing.T) {
	var out, progress bytes.Buffer
	if err := run(t.Context(), []string{"-quick", "-dir", t.TempDir()}, &out, &progress); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	report := out.String()
	if !strings.Contains(report, "Machine: ") || !strings.Contains(report, " cores ") || !strings.Contains(report, "go1.") {
		t.Errorf("the report does not name the machine:\n%s", report)
	}

	rows := table(t, report, embeddedColumns)
	var got []string
	for _, r := range rows {
		if len(r) != len(embeddedColumns) {
			t.Fatalf("row %v has %d cells, want %d", r, len(r), len(embeddedColumns))
		}
		got = append(got, r[0]+" "+r[1])
		for _, c := range r[2:] {
			number(t, c)
		}
		if number(t, r[5]) <= 0 || number(t, r[6]) <= 0 || number(t, r[4]) <= 0 {
			t.Errorf("row %v: output and peak memory must be measured", r)
		}
	}
	if want := []string{"300 json", "300 html", "2,000 json", "2,000 html"}; !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}

	targets := table(t, report, []string{"measure", "json", "html", "target"})
	var measures []string
	for _, r := range targets {
		measures = append(measures, r[0])
	}
	for _, want := range []string{"peak RSS 2k / 300", "messages/s 2k / 300", "peak RSS MiB at 2k", "messages/s at 2k"} {
		if !slices.Contains(measures, want) {
			t.Errorf("targets table lacks %q: %v", want, measures)
		}
	}

	if !strings.Contains(report, "## AWS adapters against dynalite (300 messages)") {
		t.Fatalf("no AWS section:\n%s", report)
	}
	reads := table(t, report, []string{"read", "seconds", "messages/s", "dynalite CPU s", "bench CPU s"})
	if len(reads) != 5 || !strings.HasPrefix(reads[0][0], "raw Query, before") || !strings.HasPrefix(reads[1][0], "raw Query, after") ||
		!strings.HasPrefix(reads[3][0], "export json") || !strings.HasPrefix(reads[4][0], "export html") {
		t.Errorf("AWS reads %v", reads)
	}
	emu := 0.0
	for _, r := range reads {
		f, err := strconv.ParseFloat(r[3], 64)
		if err != nil || f < 0 {
			t.Errorf("AWS read %q: dynalite CPU %q", r[0], r[3])
		}
		emu += f
	}
	if emu == 0 {
		t.Errorf("dynalite used no processor time in five passes: %v", reads)
	}
	for _, format := range []string{"json", "html"} {
		calls := regexp.MustCompile(`DynamoDB calls of the ` + format + ` export \(count, summed latency; concurrent calls overlap\): .*\bQuery [1-9]`)
		if !calls.MatchString(report) {
			t.Errorf("no DynamoDB calls of the %s export in:\n%s", format, report)
		}
	}
	if !strings.Contains(report, "export json ") || !strings.Contains(report, "× raw") {
		t.Errorf("the AWS ratio is missing:\n%s", report)
	}
}

func TestFlags(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseOptions([]string{"-sizes", "10k, 1M,2500", "-aws", "0", "-formats", "html"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.sizes, []int{10000, 1000000, 2500}) || o.aws != 0 || !slices.Equal(o.formats, []string{"html"}) {
		t.Fatalf("options %+v", o)
	}
	for _, bad := range [][]string{{"-sizes", "ten"}, {"-sizes", "0"}, {"-formats", "pdf"}, {"-aws", "-1"}, {"extra"}} {
		if _, err := parseOptions(bad, &stderr); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	q, err := parseOptions([]string{"-quick", "-aws", "0"}, &stderr)
	if err != nil || !slices.Equal(q.sizes, []int{300, 2000}) || q.aws != 0 {
		t.Fatalf("-quick with -aws 0: %+v, %v", q, err)
	}
}

func TestNumberFormats(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -45000: "-45,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int]string{10000: "10k", 1000000: "1M", 2500: "2500", 300: "300"} {
		if got := short(n); got != want {
			t.Errorf("short(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestReadStatus(t *testing.T) {
	st, err := readStatus()
	if err != nil {
		t.Fatal(err)
	}
	if st["VmHWM"] <= 0 || st["RssAnon"] <= 0 || st["VmHWM"] < st["VmRSS"] {
		t.Fatalf("status %v", st)
	}
}

// The table's row is the run of median time, with the highest memory of all runs.
func TestMedianRun(t *testing.T) {
	runs := []exportRow{
		{Seconds: 3, Bytes: 30, PeakRSSKiB: 100, PeakAnonKiB: 50},
		{Seconds: 1, Bytes: 10, PeakRSSKiB: 300, PeakAnonKiB: 20},
		{Seconds: 2, Bytes: 20, PeakRSSKiB: 200, PeakAnonKiB: 90},
	}
	got := median(runs)
	if got.Seconds != 2 || got.Bytes != 20 || got.PeakRSSKiB != 300 || got.PeakAnonKiB != 90 {
		t.Fatalf("median = %+v", got)
	}
	if one := median(runs[:1]); one != runs[0] {
		t.Fatalf("median of one = %+v", one)
	}
}

// TestMemprofileWritesTheHeapAtItsPeak runs one tiny export with
// -memprofile: the child reports its peak live heap and leaves a heap
// profile (gzipped protobuf, as runtime/pprof writes it) where the flag says.
func TestMemprofileWritesTheHeapAtItsPeak(t *testing.T) {
	dir := t.TempDir()
	var out, progress bytes.Buffer
	args := []string{"-sizes", "300", "-formats", "json", "-aws", "0", "-runs", "1", "-dir", t.TempDir(), "-memprofile", dir}
	if err := run(t.Context(), args, &out, &progress); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if !strings.Contains(progress.String(), "peak live heap ") {
		t.Errorf("the progress does not show the peak live heap:\n%s", progress.String())
	}
	prof, err := os.ReadFile(filepath.Join(dir, "300-json.heap.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	if len(prof) < 100 || prof[0] != 0x1f || prof[1] != 0x8b {
		t.Fatalf("the heap profile is not a gzipped pprof profile (%d bytes)", len(prof))
	}
}

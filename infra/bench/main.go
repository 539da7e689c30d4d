// Command bench is issue 4's benchmark (`make bench`). For each room size
// it generates a realistic room (package gen) into a fresh embedded stack,
// then exports it as JSON and as HTML through the real service path
// (Service.Export, run inline), each export in a fresh child process so that
// its peak RSS (VmHWM from /proc/self/status) is its own and not the
// generator's. It prints Markdown: the machine, one row per export —
// messages, format, seconds, messages/s, output size, peak RSS — and the
// ratios the targets are stated in. Then the AWS leg: a room loaded
// into dynalite, exported through the DynamoDB adapter beside a raw
// paginated Query of the same room, with both rates and their ratio.
//
//	go run ./infra/bench                          # 10k, 100k and 1M messages, AWS leg at 100k
//	go run ./infra/bench -sizes 10k,100k -aws 0   # choose sizes; no AWS leg
//	go run ./infra/bench -quick                   # tiny rooms: a smoke run
//	go run ./infra/bench -sizes 1M -aws 0 -keep -profile /tmp/prof
//	                                              # keep the stack, profile each export
//	go run ./infra/bench -sizes 10k,1M -aws 0 -runs 1 -memprofile /tmp/heap
//	                                              # heap profile at each export's peak live heap
//
// It measures and reports; it asserts nothing about speed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		os.Exit(childMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	sizes   []int
	formats []string
	aws     int // messages of the AWS leg; 0 skips it
	seed    uint64
	dir     string // where the temporary stacks go
	exe     string // the binary re-executed for each export
	runs    int    // exports of each room and format; the table shows the median
	keep    bool   // keep the generated stacks (their directories are printed)
	profile string // directory for a CPU profile of each export
	// memprofile is a directory for a heap profile of each export, taken
	// when its live heap peaked.
	memprofile string
}

// Flag defaults, and what -quick turns them into.
const (
	defaultSizes = "10k,100k,1M"
	defaultAWS   = "100k"
	quickSizes   = "300,2000"
	quickAWS     = "300"
)

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("sizes", defaultSizes, "room sizes to benchmark, comma-separated (10k, 1M, 2500, ...)")
	formats := fs.String("formats", "json,html", "export formats, comma-separated")
	aws := fs.String("aws", defaultAWS, "messages of the room exported through the AWS adapters against dynalite; 0 skips it")
	seed := fs.Uint64("seed", 1, "seed of the generated rooms")
	dir := fs.String("dir", "", "directory for the temporary stacks (default: the system's temporary directory)")
	runs := fs.Int("runs", 3, "exports of each room and format, each in a fresh process; the table shows the median time (and the highest memory)")
	keep := fs.Bool("keep", false, "keep the generated embedded stacks and print where they are")
	profile := fs.String("profile", "", "write a CPU profile of each export into this directory (<messages>-<format>.pprof)")
	memprofile := fs.String("memprofile", "", "write a heap profile of each export, taken when its live heap peaked, into this directory (<messages>-<format>.heap.pprof); the progress shows the peak live heap")
	quick := fs.Bool("quick", false, "tiny rooms ("+quickSizes+"; AWS leg "+quickAWS+"): a smoke run")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["sizes"] {
			*sizes = quickSizes
		}
		if !set["aws"] {
			*aws = quickAWS
		}
	}
	if *runs < 1 {
		return options{}, fmt.Errorf("-runs: %d is not a positive count", *runs)
	}
	o := options{seed: *seed, dir: *dir, keep: *keep, profile: *profile, memprofile: *memprofile, runs: *runs}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := parseCount(s)
		if err != nil || n <= 0 {
			return options{}, fmt.Errorf("-sizes: %q is not a positive count", s)
		}
		o.sizes = append(o.sizes, n)
	}
	for _, f := range strings.Split(*formats, ",") {
		switch f = strings.TrimSpace(f); f {
		case "json", "html":
			o.formats = append(o.formats, f)
		default:
			return options{}, fmt.Errorf("-formats: %q is not json or html", f)
		}
	}
	n, err := parseCount(*aws)
	if err != nil || n < 0 {
		return options{}, fmt.Errorf("-aws: %q is not a count", *aws)
	}
	o.aws = n
	if o.exe, err = os.Executable(); err != nil {
		return options{}, fmt.Errorf("find own executable: %w", err)
	}
	return o, nil
}

// parseCount reads 2500, 10k or 1M.
func parseCount(s string) (int, error) {
	s = strings.TrimSpace(s)
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1000, s[:len(s)-1]
	case strings.HasSuffix(s, "M"), strings.HasSuffix(s, "m"):
		mult, s = 1000000, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	return n * mult, err
}

// run benchmarks what the flags ask and writes the report to stdout; progress
// goes to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	rep := &report{w: stdout}
	rep.machine(time.Now())
	rep.embeddedHeader(o.seed, o.runs)
	var rows []exportRow
	for _, n := range o.sizes {
		r, err := benchEmbedded(ctx, o, n, stderr)
		if err != nil {
			return err
		}
		for _, row := range r {
			rep.embeddedRow(row)
		}
		rows = append(rows, r...)
	}
	rep.ratios(rows, o.formats)
	if o.aws > 0 {
		res, err := benchAWS(ctx, o, o.aws, stderr)
		if err != nil {
			return err
		}
		rep.aws(res)
	}
	return rep.err
}

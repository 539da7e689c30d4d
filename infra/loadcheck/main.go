// Command loadcheck is issue 4's load check (`make load`): it serves the
// local server's handler — the Lambda's gateway.Handler on the embedded
// stack, seeded with the demo workspace in a temporary directory — on a
// loopback port in this process, then runs concurrent clients against it
// for a bounded time and number of requests, and prints requests/s, p50 and
// p99 latency and errors (every answer but a 200 is an error) as Markdown.
//
// Each request is a small realistic export: one month of one demo room as a
// file, alternating JSON and HTML, by the admin (exempt from the rate limit,
// as Rocket.Chat's admins are) or by bob, the owner of project-phoenix (a
// plain user whose calls the rate limiter counts in the database). For the
// check the rate limit is raised (-rate-limit, via RATE_LIMIT_CALLS) so that
// it measures the service, not the limiter's refusals.
//
//	go run ./infra/loadcheck                                # 32 clients, 30 s
//	go run ./infra/loadcheck -clients 8 -duration 10s -max-requests 5000
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
	"syscall"
	"time"

	"github.com/rooms-export/rooms-export/infra/bench/machine"
	"github.com/rooms-export/rooms-export/shared/embedded"
)

func main() {
	embedded.TuneRuntime(os.Getenv) // the local server's runtime, whose handler it serves
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadcheck:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	clients     int
	duration    time.Duration
	maxRequests int
	rateLimit   int
	dir         string
	profile     string // directory for cpu, block, mutex and allocation profiles of the run
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("loadcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.clients, "clients", 32, "concurrent clients")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "how long clients start new requests")
	fs.IntVar(&o.maxRequests, "max-requests", 200000, "most requests sent in all")
	fs.IntVar(&o.rateLimit, "rate-limit", 1000000, "RATE_LIMIT_CALLS for the check (per user per window)")
	fs.StringVar(&o.dir, "dir", "", "parent of the temporary data directory (default: the system's temporary directory)")
	fs.StringVar(&o.profile, "profile", "", "write cpu.pprof, block.pprof and mutex.pprof of the load phase, and allocs.pprof, to this directory")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.clients < 1:
		return o, errors.New("-clients must be at least 1")
	case o.duration <= 0:
		return o, errors.New("-duration must be positive")
	case o.maxRequests < 1:
		return o, errors.New("-max-requests must be at least 1")
	case o.rateLimit < 1:
		return o, errors.New("-rate-limit must be at least 1")
	}
	return o, nil
}

// run starts the server, runs the clients and prints the report.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (Result, error) {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return Result{}, err
	}
	if o.dir != "" {
		if err := os.MkdirAll(o.dir, 0o700); err != nil {
			return Result{}, fmt.Errorf("data directory: %w", err)
		}
	}
	dir, err := os.MkdirTemp(o.dir, "loadcheck-")
	if err != nil {
		return Result{}, fmt.Errorf("data directory: %w", err)
	}
	defer os.RemoveAll(dir)
	env := map[string]string{"DATA_DIR": dir, "RATE_LIMIT_CALLS": strconv.Itoa(o.rateLimit), "LOG_LEVEL": "warn"}
	srv, err := startServer(ctx, func(name string) string { return env[name] }, stderr)
	if err != nil {
		return Result{}, err
	}
	defer srv.Close()
	fmt.Fprintf(stderr, "loadcheck: serving on %s; %d clients for %s (at most %d requests)\n", srv.URL, o.clients, o.duration, o.maxRequests)
	loadAvg := machine.LoadAverage()
	create, err := probeCreate(dir)
	if err != nil {
		return Result{}, err
	}
	stopProfiles, err := startProfiles(o.profile)
	if err != nil {
		return Result{}, err
	}
	commits, syncs := srv.stack.Store.Commits(), srv.stack.Files.Syncs()
	disk, diskOK := readDisk(dir)
	user, system := processCPU()
	res := load(ctx, srv.URL, o, demoRequests())
	res.Commits, res.Syncs = srv.stack.Store.Commits()-commits, srv.stack.Files.Syncs()-syncs
	if disk2, ok := readDisk(dir); ok && diskOK && disk2.Name == disk.Name {
		res.Disk = disk2.sub(disk)
	}
	user2, system2 := processCPU()
	res.User, res.System, res.Create = user2-user, system2-system, create
	if err := stopProfiles(); err != nil {
		return res, err
	}
	writeReport(stdout, srv.URL, o, res, loadAvg)
	return res, ctx.Err()
}

// Command load puts a workspace into a store: the demo workspace, a seed
// file, or a Rocket.Chat workspace dumped with mongodump or mongoexport,
// into the embedded default (a data directory, as the local server uses it)
// or a deployed stack (its DynamoDB tables and S3 bucket).
//
//	go run ./infra/load --from demo                               # demo workspace into ./.data
//	go run ./infra/load --from rocketchat:./dump --files ./uploads
//	go run ./infra/load --from rocketchat:./dump --to aws --dry-run
//	go run ./infra/load --from seed:workspace.ndjson --to aws
//
// Loading is safe to repeat: every write is an upsert, so running the same
// load again leaves the store as one run does (and completes a run that was
// interrupted). See usage for every flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/rooms-export/rooms-export/shared/settings"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := Env{
		Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
		Terminal: term.IsTerminal(int(os.Stderr.Fd())),
		Width: func() int {
			if w, _, err := term.GetSize(int(os.Stderr.Fd())); err == nil && w > 0 {
				return w
			}
			return 80
		},
	}
	err := run(ctx, os.Args[1:], env)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// Env is what run takes from its process: output, environment, and
// whether progress goes to a terminal.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Terminal       bool       // Stderr is a terminal: draw a progress bar
	Width          func() int // the terminal's width
}

// config is the parsed command line.
type config struct {
	from, to     string
	dataDir      string
	filesDir     string
	dryRun       bool
	createTables bool
	progress     string
	every        time.Duration
	aws          settings.AWS
}

const usage = `usage: go run ./infra/load --from SOURCE [--to embedded|aws] [flags]

Sources:
  demo                the demo workspace (the one the local server seeds)
  seed:FILE           a seed file (newline-delimited JSON records, see shared/workspace)
  rocketchat:DIR      a Rocket.Chat MongoDB dump: the folder mongodump --out wrote
                      (*.bson, *.bson.gz) or mongoexport files (*.json, one document
                      a line or --jsonArray, relaxed or canonical Extended JSON)

Targets:
  embedded            the embedded default in --data-dir (what make run serves)
  aws                 a deployed stack: its DynamoDB tables and S3 bucket

Flags:
`

// parse reads the command line; defaults come from the environment
// through the one settings loader.
func parse(args []string, env Env) (config, error) {
	s, err := settings.Load(env.Getenv)
	if err != nil {
		return config{}, err
	}
	c := config{aws: s.AWS}
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.from, "from", "", "what to load: demo, seed:FILE or rocketchat:DIR (required)")
	fs.StringVar(&c.to, "to", "embedded", "where to load it: embedded or aws")
	fs.StringVar(&c.dataDir, "data-dir", s.DataDir, "embedded: the data directory (DATA_DIR)")
	fs.StringVar(&c.filesDir, "files", "", "rocketchat: a folder with upload bytes kept outside MongoDB (FileSystem store, or a copy of the S3 bucket)")
	fs.BoolVar(&c.dryRun, "dry-run", false, "read and check everything, count what would be loaded, write nothing")
	fs.StringVar(&c.aws.DirectoryTable, "directory-table", s.AWS.DirectoryTable, "aws: the Directory table (DIRECTORY_TABLE)")
	fs.StringVar(&c.aws.MessagesTable, "messages-table", s.AWS.MessagesTable, "aws: the Messages table (MESSAGES_TABLE)")
	fs.StringVar(&c.aws.JobsTable, "jobs-table", s.AWS.JobsTable, "aws: the Jobs table (JOBS_TABLE)")
	fs.StringVar(&c.aws.Bucket, "bucket", s.AWS.Bucket, "aws: the exports bucket, which also holds uploaded files (EXPORTS_BUCKET)")
	fs.BoolVar(&c.createTables, "create-tables", false, "aws: create the tables when missing (for emulators; a deployed stack has them)")
	fs.StringVar(&c.progress, "progress", "auto", "auto (a bar on a terminal, lines otherwise), bar, lines or off")
	fs.DurationVar(&c.every, "progress-every", 0, "how often progress is shown (default 200ms for the bar, 5s for lines)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q (flags only; see --help)", fs.Arg(0))
	}
	if c.from == "" {
		return config{}, errors.New("--from is required: demo, seed:FILE or rocketchat:DIR (see --help)")
	}
	switch c.to {
	case "embedded", "aws":
	default:
		return config{}, fmt.Errorf("unknown target --to %q: want embedded or aws", c.to)
	}
	switch c.progress {
	case "auto":
		c.progress = "lines"
		if env.Terminal {
			c.progress = "bar"
		}
	case "bar", "lines", "off":
	default:
		return config{}, fmt.Errorf("unknown --progress %q: want auto, bar, lines or off", c.progress)
	}
	if c.every <= 0 {
		c.every = 5 * time.Second
		if c.progress == "bar" {
			c.every = 200 * time.Millisecond
		}
	}
	if c.to == "aws" && !c.dryRun {
		var missing []string
		for _, f := range []struct{ flag, v string }{
			{"--directory-table (DIRECTORY_TABLE)", c.aws.DirectoryTable}, {"--messages-table (MESSAGES_TABLE)", c.aws.MessagesTable},
			{"--jobs-table (JOBS_TABLE)", c.aws.JobsTable}, {"--bucket (EXPORTS_BUCKET)", c.aws.Bucket},
		} {
			if f.v == "" {
				missing = append(missing, f.flag)
			}
		}
		if len(missing) > 0 {
			return config{}, fmt.Errorf("--to aws needs %s: the stack's outputs name them", strings.Join(missing, ", "))
		}
	}
	if c.to == "embedded" && c.dataDir == "" {
		return config{}, errors.New("--data-dir is empty")
	}
	return c, nil
}

// run loads what the command line asks for.
func run(ctx context.Context, args []string, env Env) error {
	c, err := parse(args, env)
	if err != nil {
		return err
	}
	src, err := openSource(c)
	if err != nil {
		return err
	}
	var tgt *target
	if !c.dryRun {
		if tgt, err = openTarget(ctx, c); err != nil {
			return err
		}
	}
	p := newProgress(c, env)
	out, err := src.load(ctx, tgt, p)
	p.finish()
	if tgt != nil {
		if cerr := tgt.close(); err == nil {
			err = cerr
		}
	}
	if out != "" {
		where := describeTarget(c)
		if c.dryRun {
			fmt.Fprintf(env.Stdout, "Dry run: nothing was written to %s.\n", where)
		} else {
			fmt.Fprintf(env.Stdout, "Target: %s\n", where)
		}
		fmt.Fprint(env.Stdout, out)
	}
	return err
}

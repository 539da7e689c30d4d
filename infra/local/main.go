// Command local serves rooms-export on one machine with the embedded
// default: the same API Gateway handler the Lambda runs, fed with REST API
// proxy events built from each HTTP request, plus the signed file URLs the
// download links redirect to. Background exports run in-process. On first
// start it seeds the demo workspace and prints its credentials.
//
//	go run ./infra/local            # serve on 127.0.0.1:$PORT (3000)
//	go run ./infra/local -seed      # (re)load the demo workspace and exit
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rooms-export/rooms-export/infra/bench/gen"
	"github.com/rooms-export/rooms-export/shared/demo"
	"github.com/rooms-export/rooms-export/shared/embedded"
	"github.com/rooms-export/rooms-export/shared/gateway"
	"github.com/rooms-export/rooms-export/shared/localfs"
	"github.com/rooms-export/rooms-export/shared/settings"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

func main() {
	embedded.TuneRuntime(os.Getenv)
	seedOnly := flag.Bool("seed", false, "load the demo workspace into DATA_DIR and exit")
	generate := flag.Int("generate", 0, "load a generated room of this many messages into DATA_DIR, print its id and exporter's credentials as JSON, and exit (scale checks)")
	flag.Parse()
	var err error
	if *generate > 0 {
		err = generateRoom(*generate)
	} else {
		err = run(*seedOnly)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

// generateRoom loads a realistic generated room (infra/bench/gen) into the
// data directory, for checks at scale against the real server.
func generateRoom(n int) error {
	cfg, err := settings.Load(os.Getenv)
	if err != nil {
		return err
	}
	stack, err := embedded.Open(cfg.DataDir, cfg.Export, newLogger("error"))
	if err != nil {
		return err
	}
	defer stack.Close()
	h, counts, err := gen.Generate(context.Background(), stack.Store, gen.Config{Messages: n, Seed: 1})
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"rid": h.Room.ID, "userId": h.Exporter.ID, "token": h.Token, "messages": counts.Messages,
	})
}

func run(seedOnly bool) error {
	cfg, err := settings.Load(os.Getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel)
	stack, err := embedded.Open(cfg.DataDir, cfg.Export, log)
	if err != nil {
		return err
	}
	defer stack.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	seeded, err := seedIfEmpty(ctx, stack, seedOnly)
	if err != nil {
		return err
	}
	if seedOnly {
		fmt.Printf("demo workspace loaded into %s\n", cfg.DataDir)
		return nil
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", cfg.Port))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	stack.SetBaseURL(base)
	public := cfg.PublicURL
	if public == "" {
		public = base
	}
	h := &gateway.Handler{Service: stack.Service, Log: log, PublicURL: public}
	srv := &http.Server{Handler: NewMux(h, stack.Files.Handler(time.Now)), ReadHeaderTimeout: 10 * time.Second}

	printBanner(base, cfg.DataDir, seeded)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// seedIfEmpty loads the demo workspace when the database has no demo admin
// (or always, with force).
func seedIfEmpty(ctx context.Context, stack *embedded.Stack, force bool) (bool, error) {
	if !force {
		if _, err := stack.Store.UserByID(ctx, demo.AdminID); err == nil {
			return false, nil
		}
	}
	sum, err := demo.Load(ctx, stack.Store, workspace.FileBlobs{Files: stack.Files}, time.Now())
	if err != nil {
		return false, fmt.Errorf("seed demo workspace: %w", err)
	}
	fmt.Printf("seeded the demo workspace: %s\n", sum)
	return true, nil
}

func printBanner(base, dataDir string, seeded bool) {
	fmt.Printf("rooms-export is listening on %s (data in %s)\n\n", base, dataDir)
	fmt.Println("Demo logins (X-User-Id / X-Auth-Token):")
	for _, c := range demo.Credentials() {
		fmt.Printf("  %-10s %-18s %s  %s\n", c.Username, c.UserID, c.Token, c.Note)
	}
	fmt.Printf(`
Try it:
  curl -X POST '%s/api/v1/rooms.export' \
    -H 'X-User-Id: %s' -H 'X-Auth-Token: %s' -H 'Content-Type: application/json' \
    --data-raw '{"rid": "%s", "type": "file", "dateFrom": "2000-01-01", "dateTo": "2021-11-25", "format": "html"}'
then download the archive from the answer's "url":
  curl -L -o export.zip '<url>'

Mail lands in %s/outbox/new, archives in %s/files/exports (those of up to %d KiB
in the database, %s/rooms-export.db); the url downloads either.
`, base, demo.AdminID, demo.AdminToken, demo.GeneralRoomID, dataDir, dataDir, localfs.DefaultSmallMax>>10, dataDir)
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

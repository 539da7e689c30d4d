package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rooms-export/rooms-export/shared/demo"
	"github.com/rooms-export/rooms-export/shared/embedded"
	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/gateway"
	"github.com/rooms-export/rooms-export/shared/settings"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// server is the local server's handler on a loopback port.
type server struct {
	URL   string
	http  *http.Server
	stack *embedded.Stack
	done  chan error
}

// startServer opens the embedded stack where getenv's DATA_DIR says, with
// the configuration settings.Load reads through getenv (the local server's
// one loader), seeds the demo workspace, and serves it on 127.0.0.1.
func startServer(ctx context.Context, getenv func(string) string, logTo io.Writer) (*server, error) {
	cfg, err := settings.Load(getenv)
	if err != nil {
		return nil, err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewJSONHandler(logTo, &slog.HandlerOptions{Level: level}))
	stack, err := embedded.Open(cfg.DataDir, cfg.Export, log)
	if err != nil {
		return nil, err
	}
	if _, err := demo.Load(ctx, stack.Store, workspace.FileBlobs{Files: stack.Files}, time.Now()); err != nil {
		stack.Close()
		return nil, fmt.Errorf("seed the demo workspace: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &server{URL: "http://" + ln.Addr().String(), stack: stack, done: make(chan error, 1)}
	stack.SetBaseURL(s.URL)
	h := &gateway.Handler{Service: stack.Service, Log: log, PublicURL: s.URL}
	mux := http.NewServeMux()
	mux.Handle("/files/", stack.Files.Handler(time.Now))
	mux.Handle("/api/", proxy(h))
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { s.done <- s.http.Serve(ln) }()
	return s, nil
}

// Close stops serving, waits for background exports and closes the stack.
func (s *server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return errors.Join(err, s.stack.Close())
}

// maxBody bounds what the proxy reads of a request body, as the local server does.
const maxBody = 1 << 20

// proxy serves HTTP requests through the Lambda handler as REST API proxy
// events, the way infra/local does (its NewMux lives in a main package, so
// this is the few lines of it the check needs: path, method, headers, query,
// body and a request id).
func proxy(h *gateway.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		ev := events.APIGatewayProxyRequest{
			Path: r.URL.Path, HTTPMethod: r.Method, Body: string(body),
			Headers: map[string]string{}, QueryStringParameters: map[string]string{},
			RequestContext: events.APIGatewayProxyRequestContext{RequestID: export.RandomID(12), Stage: "local", DomainName: r.Host},
		}
		for k, v := range r.Header {
			ev.Headers[k] = strings.Join(v, ",")
		}
		for k, v := range r.URL.Query() {
			ev.QueryStringParameters[k] = v[0]
		}
		resp, _ := h.Handle(r.Context(), ev) // its errors are answers; the error is always nil
		for k, v := range resp.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(resp.StatusCode)
		io.WriteString(w, resp.Body)
	})
}

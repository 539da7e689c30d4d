package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// recorder is a Run that records the jobs it was asked to run and fails some.
type recorder struct {
	ran  []string
	fail map[string]bool
}

func (r *recorder) run(_ context.Context, id string) error {
	r.ran = append(r.ran, id)
	if r.fail[id] {
		return errors.New("storage on fire")
	}
	return nil
}

func handle(t *testing.T, r *recorder, file string) (json.RawMessage, error) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", file))
	if err != nil {
		t.Fatal(err)
	}
	w := &Worker{Run: r.run, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	resp, err := w.Handle(context.Background(), raw)
	out, _ := json.Marshal(resp)
	return out, err
}

func TestInvokeEvent(t *testing.T) {
	r := &recorder{}
	if _, err := handle(t, r, "worker-invoke.json"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.ran, []string{"Q5pTqJ3sY8kKpWvXz"}) {
		t.Fatalf("ran %v", r.ran)
	}
	// A failed run is returned so that Lambda retries it.
	r = &recorder{fail: map[string]bool{"Q5pTqJ3sY8kKpWvXz": true}}
	if _, err := handle(t, r, "worker-invoke.json"); err == nil {
		t.Fatal("a failed run must be an error")
	}
}

func TestQueueEvent(t *testing.T) {
	// One record is a destination record (requestPayload), one a plain job.
	r := &recorder{fail: map[string]bool{"Ab3dE5gH7jK9mN2pQ": true}}
	out, err := handle(t, r, "worker-queue.json")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.ran, []string{"Q5pTqJ3sY8kKpWvXz", "Ab3dE5gH7jK9mN2pQ"}) {
		t.Fatalf("ran %v", r.ran)
	}
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "2e1424d4-f796-459a-8184-9c92662be6da" {
		t.Fatalf("failures = %s", out)
	}
}

func TestEventsNamingNoJob(t *testing.T) {
	w := &Worker{Run: (&recorder{}).run, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	for _, ev := range []string{`{}`, `{"jobId": ""}`, `[1]`} {
		if _, err := w.Handle(context.Background(), json.RawMessage(ev)); err == nil {
			t.Errorf("%s: accepted", ev)
		}
	}
}

// TestEveryWorkerEventIsRead keeps events/ honest: every event that is not
// an API Gateway event is one of the worker's, and read above.
func TestEveryWorkerEventIsRead(t *testing.T) {
	// expected.json is the table of the API events' answers, read by their tests.
	read := map[string]bool{"worker-invoke.json": true, "worker-queue.json": true, "expected.json": true}
	names, _ := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	for _, n := range names {
		b, _ := os.ReadFile(n)
		var probe struct {
			HTTPMethod string `json:"httpMethod"`
		}
		if json.Unmarshal(b, &probe) == nil && probe.HTTPMethod != "" {
			continue
		}
		if !read[filepath.Base(n)] {
			t.Errorf("%s is not read by any test", filepath.Base(n))
		}
	}
}

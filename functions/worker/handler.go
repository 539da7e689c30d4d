package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Worker turns the worker's events into export runs.
type Worker struct {
	Run func(ctx context.Context, jobID string) error
	Log *slog.Logger
}

// job is the payload that names a job: {"jobId": ...} as the API function
// sends it, or a Lambda destination record carrying it as requestPayload
// (what the on-failure destination puts on the export queue).
type job struct {
	JobID          string `json:"jobId"`
	RequestPayload *struct {
		JobID string `json:"jobId"`
	} `json:"requestPayload"`
}

func (j job) id() string {
	if j.JobID == "" && j.RequestPayload != nil {
		return j.RequestPayload.JobID
	}
	return j.JobID
}

// Handle accepts an asynchronous invocation ({"jobId": ...}) or an SQS
// event from the export queue. A failed direct run returns its error, so
// Lambda retries it and, in the end, sends it to the on-failure destination;
// failed queue records are reported one by one (ReportBatchItemFailures).
func (w *Worker) Handle(ctx context.Context, raw json.RawMessage) (*events.SQSEventResponse, error) {
	log := w.Log
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		log = log.With("request_id", lc.AwsRequestID)
	}
	var probe struct {
		Records []json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("worker: event is not JSON: %w", err)
	}
	if probe.Records == nil {
		var j job
		if err := json.Unmarshal(raw, &j); err != nil || j.id() == "" {
			log.Error("event names no job")
			return nil, errors.New("worker: event names no job")
		}
		return nil, w.run(ctx, log, j.id())
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("worker: bad SQS event: %w", err)
	}
	resp := &events.SQSEventResponse{}
	for _, rec := range ev.Records {
		var j job
		if err := json.Unmarshal([]byte(rec.Body), &j); err != nil || j.id() == "" {
			// A record that names no job can never succeed: drop it, loudly.
			log.Error("queue record names no job", "message_id", rec.MessageId)
			continue
		}
		if err := w.run(ctx, log, j.id()); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

func (w *Worker) run(ctx context.Context, log *slog.Logger, jobID string) error {
	if err := w.Run(ctx, jobID); err != nil {
		log.Error("export failed", "job_id", jobID, "error", err.Error())
		return err
	}
	log.Info("export ran", "job_id", jobID)
	return nil
}

// Package lambdainvoke is the export.Dispatcher of the AWS deployment: it
// hands a background export to the worker function by invoking it
// asynchronously (Lambda Invoke, InvocationType Event) with the job id as the
// event. Rocket.Chat queues the same work in its own process and mails the
// user when the export is ready; here the queue is Lambda's event queue, and
// the worker's EventInvokeConfig (retries, maximum event age, on-failure
// destination) in template.yaml decides what happens when the worker fails.
//
// The runtime interface emulator (aws-lambda-rie) serves the same Invoke
// path, but runs Event invocations synchronously: it answers 200 instead of
// 202, and reports a failing handler as 200 with X-Amz-Function-Error. Both
// answers are understood, so the same code runs against AWS and the emulator.
package lambdainvoke

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// API is the part of *lambda.Client the dispatcher uses.
type API interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Payload is the worker's event: {"jobId": "..."}.
type Payload struct {
	JobID string `json:"jobId"`
}

// Dispatcher invokes one worker function. It is safe for concurrent use.
type Dispatcher struct {
	client       API
	functionName string
}

// New returns a Dispatcher invoking functionName (a name, an ARN, or a
// qualified ARN) through client.
func New(client API, functionName string) *Dispatcher {
	return &Dispatcher{client: client, functionName: functionName}
}

// errorDetailLimit bounds how much of a function error's payload goes into
// the returned error (which ends up in the API function's log).
const errorDetailLimit = 256

// Dispatch queues the job for the worker: an Event invocation whose payload
// is Payload{JobID: jobID}. It succeeds when Lambda accepted the event (202)
// or, under the runtime interface emulator, the worker ran it (200). A
// function error (only the emulator reports one for an Event invocation) or
// any other status is an error. The SDK retries throttling and 5xx answers,
// so the worker may see a job more than once; Service.Run leaves alone a job
// that is no longer queued, so a repeat makes no second export.
func (d *Dispatcher) Dispatch(ctx context.Context, jobID string) error {
	if jobID == "" {
		return fmt.Errorf("lambdainvoke: dispatch: empty job id")
	}
	if d.functionName == "" {
		return fmt.Errorf("lambdainvoke: dispatch %s: no function name", jobID)
	}
	payload, err := json.Marshal(Payload{JobID: jobID})
	if err != nil {
		return fmt.Errorf("lambdainvoke: dispatch %s: encode payload: %w", jobID, err)
	}
	out, err := d.client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(d.functionName),
		InvocationType: types.InvocationTypeEvent,
		Payload:        payload,
	})
	if err != nil {
		return fmt.Errorf("lambdainvoke: invoke %s for job %s: %w", d.functionName, jobID, err)
	}
	if fe := aws.ToString(out.FunctionError); fe != "" {
		return fmt.Errorf("lambdainvoke: invoke %s for job %s: function error %s%s",
			d.functionName, jobID, clean(fe), errorDetail(out.Payload))
	}
	switch out.StatusCode {
	case http.StatusAccepted, http.StatusOK:
		return nil
	default:
		return fmt.Errorf("lambdainvoke: invoke %s for job %s: unexpected status %d", d.functionName, jobID, out.StatusCode)
	}
}

// errorDetail summarises a function error's payload, which Lambda (and the
// emulator) shape as {"errorType": ..., "errorMessage": ...}: the type and a
// bounded, single-line message, or nothing when the payload is not that.
func errorDetail(payload []byte) string {
	var e struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(payload, &e) != nil || (e.ErrorType == "" && e.ErrorMessage == "") {
		return ""
	}
	return fmt.Sprintf(" (%s: %s)", clean(e.ErrorType), clean(e.ErrorMessage))
}

// clean keeps s on one line and within errorDetailLimit runes.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if r := []rune(s); len(r) > errorDetailLimit {
		s = string(r[:errorDetailLimit]) + "…"
	}
	return s
}

package lambdainvoke

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/rooms-export/rooms-export/shared/awstest"
	"github.com/rooms-export/rooms-export/shared/export"
)

var _ export.Dispatcher = (*Dispatcher)(nil)

// request is what the fake Lambda endpoint received.
type request struct {
	Method, Path, InvocationType, LogType string
	Authorized                            bool
	Body                                  []byte
}

// fakeLambda speaks the Invoke REST API: it records each request and
// answers with the configured status, headers and body.
type fakeLambda struct {
	status int
	header map[string]string
	body   string

	mu       sync.Mutex
	requests []request
}

func (f *fakeLambda) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, request{
		Method: r.Method, Path: r.URL.Path,
		InvocationType: r.Header.Get("X-Amz-Invocation-Type"),
		LogType:        r.Header.Get("X-Amz-Log-Type"),
		Authorized:     strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 "),
		Body:           body,
	})
	f.mu.Unlock()
	for k, v := range f.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(f.status)
	_, _ = io.WriteString(w, f.body)
}

func (f *fakeLambda) received() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

// start serves fake behind a real *lambda.Client (literal config,
// BaseEndpoint) and returns a Dispatcher for functionName. Retries are off so
// each Dispatch is exactly one request.
func start(t *testing.T, fake *fakeLambda, functionName string) *Dispatcher {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	client := lambda.NewFromConfig(awstest.Config(srv.URL), func(o *lambda.Options) { o.RetryMaxAttempts = 1 })
	return New(client, functionName)
}

func checkRequest(t *testing.T, fake *fakeLambda, wantPath, wantJob string) {
	t.Helper()
	reqs := fake.received()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != wantPath {
		t.Errorf("request = %s %s, want POST %s", r.Method, r.Path, wantPath)
	}
	if r.InvocationType != "Event" {
		t.Errorf("X-Amz-Invocation-Type = %q, want Event", r.InvocationType)
	}
	if r.LogType != "" {
		t.Errorf("X-Amz-Log-Type = %q, want none", r.LogType)
	}
	if !r.Authorized {
		t.Errorf("request is not SigV4-signed")
	}
	var p Payload
	if err := json.Unmarshal(r.Body, &p); err != nil || p.JobID != wantJob {
		t.Errorf("payload = %s (%v), want jobId %q", r.Body, err, wantJob)
	}
	if string(r.Body) != `{"jobId":"`+wantJob+`"}` {
		t.Errorf("payload = %s, want exactly the worker's event", r.Body)
	}
}

func TestAcceptedByLambda(t *testing.T) {
	// Real AWS: an Event invocation is queued and answered 202, empty body.
	fake := &fakeLambda{status: http.StatusAccepted}
	d := start(t, fake, "rooms-export-worker")
	if err := d.Dispatch(context.Background(), "job-123"); err != nil {
		t.Fatalf("Dispatch: %v", err)
	}
	checkRequest(t, fake, "/2015-03-31/functions/rooms-export-worker/invocations", "job-123")
}

func TestRanByRuntimeEmulator(t *testing.T) {
	// aws-lambda-rie runs the Event invocation synchronously: 200 and the
	// handler's result as the body.
	fake := &fakeLambda{status: http.StatusOK, body: "null"}
	d := start(t, fake, "function")
	if err := d.Dispatch(context.Background(), "job-456"); err != nil {
		t.Fatalf("Dispatch: %v", err)
	}
	checkRequest(t, fake, "/2015-03-31/functions/function/invocations", "job-456")
}

func TestFunctionARN(t *testing.T) {
	fake := &fakeLambda{status: http.StatusAccepted}
	arn := "arn:aws:lambda:us-east-1:123456789012:function:rooms-export-worker:live"
	d := start(t, fake, arn)
	if err := d.Dispatch(context.Background(), "job-789"); err != nil {
		t.Fatalf("Dispatch: %v", err)
	}
	checkRequest(t, fake, "/2015-03-31/functions/"+arn+"/invocations", "job-789")
}

func TestFunctionErrorFails(t *testing.T) {
	// The emulator reports a failing handler as 200 + X-Amz-Function-Error.
	fake := &fakeLambda{
		status: http.StatusOK,
		header: map[string]string{"X-Amz-Function-Error": "Unhandled", "Content-Type": "application/json"},
		body:   `{"errorMessage":"run job-1: dynamo: get job job-1: boom\nsecond line","errorType":"wrapError"}`,
	}
	d := start(t, fake, "function")
	err := d.Dispatch(context.Background(), "job-1")
	if err == nil {
		t.Fatal("Dispatch succeeded on a function error")
	}
	want := "lambdainvoke: invoke function for job job-1: function error Unhandled (wrapError: run job-1: dynamo: get job job-1: boom second line)"
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
	checkRequest(t, fake, "/2015-03-31/functions/function/invocations", "job-1")
}

func TestFunctionErrorWithoutDetail(t *testing.T) {
	fake := &fakeLambda{status: http.StatusOK, header: map[string]string{"X-Amz-Function-Error": "Unhandled"}, body: "not json"}
	err := start(t, fake, "function").Dispatch(context.Background(), "job-2")
	if err == nil || err.Error() != "lambdainvoke: invoke function for job job-2: function error Unhandled" {
		t.Errorf("err = %v", err)
	}
}

func TestServiceErrorIsWrapped(t *testing.T) {
	fake := &fakeLambda{
		status: http.StatusInternalServerError,
		header: map[string]string{"X-Amzn-ErrorType": "ServiceException", "Content-Type": "application/json"},
		body:   `{"Type":"Service","message":"internal failure"}`,
	}
	err := start(t, fake, "rooms-export-worker").Dispatch(context.Background(), "job-3")
	var se *types.ServiceException
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a wrapped *types.ServiceException", err)
	}
	if !strings.HasPrefix(err.Error(), "lambdainvoke: invoke rooms-export-worker for job job-3: ") {
		t.Errorf("err = %q, want the operation first", err)
	}
	checkRequest(t, fake, "/2015-03-31/functions/rooms-export-worker/invocations", "job-3")
}

func TestUnknownFunctionIsWrapped(t *testing.T) {
	fake := &fakeLambda{
		status: http.StatusNotFound,
		header: map[string]string{"X-Amzn-ErrorType": "ResourceNotFoundException", "Content-Type": "application/json"},
		body:   `{"Type":"User","message":"Function not found"}`,
	}
	err := start(t, fake, "missing").Dispatch(context.Background(), "job-4")
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("err = %v, want a wrapped *types.ResourceNotFoundException", err)
	}
}

func TestUnexpectedStatusFails(t *testing.T) {
	// 204 is a DryRun's answer: the event was not queued.
	fake := &fakeLambda{status: http.StatusNoContent}
	err := start(t, fake, "function").Dispatch(context.Background(), "job-5")
	if err == nil || !strings.Contains(err.Error(), "unexpected status 204") {
		t.Errorf("err = %v, want unexpected status 204", err)
	}
}

func TestInvalidArgumentsAreNotSent(t *testing.T) {
	fake := &fakeLambda{status: http.StatusAccepted}
	if err := start(t, fake, "function").Dispatch(context.Background(), ""); err == nil {
		t.Error("Dispatch with an empty job id succeeded")
	}
	if err := start(t, fake, "").Dispatch(context.Background(), "job-6"); err == nil {
		t.Error("Dispatch with no function name succeeded")
	}
	if n := len(fake.received()); n != 0 {
		t.Errorf("%d requests for invalid arguments", n)
	}
}

func TestCanceledContext(t *testing.T) {
	fake := &fakeLambda{status: http.StatusAccepted}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := start(t, fake, "function").Dispatch(ctx, "job-7")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestClean(t *testing.T) {
	long := strings.Repeat("é", errorDetailLimit+10)
	if got := clean(long); len([]rune(got)) != errorDetailLimit+1 || !strings.HasSuffix(got, "…") {
		t.Errorf("clean(long) has %d runes", len([]rune(got)))
	}
	if got := clean("a\r\nb\x00c\xff"); got != "a  b c?" {
		t.Errorf("clean = %q", got)
	}
}

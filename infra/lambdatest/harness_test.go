package lambdatest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rooms-export/rooms-export/shared/awstest"
	"github.com/rooms-export/rooms-export/shared/demo"
	"github.com/rooms-export/rooms-export/shared/dynamo"
	"github.com/rooms-export/rooms-export/shared/s3store"
	"github.com/rooms-export/rooms-export/shared/workspace"
)

// rieVersion is the pinned runtime interface emulator.
const rieModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

const (
	bucket     = "rooms-export-e2e"
	signingKey = "e2e-signing-key-0123456789abcdef0123456789"
)

var tables = dynamo.Tables{Directory: "e2e-directory", Messages: "e2e-messages", Jobs: "e2e-jobs"}

// stack is everything the end-to-end tests run against.
type stack struct {
	ddb, s3, ses *awstest.Emulator
	api, worker  *rie
	s3c          *s3.Client

	// What BenchmarkFirstInvocation needs to start more emulators: the
	// emulator binary, the API bootstrap and the API function's environment.
	rieBin, apiBootstrap string
	apiEnv               []string
}

var st *stack

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lambdatest:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "lambdatest-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)

	// The emulator and the two bootstraps (amd64, so they run here).
	rieBin := filepath.Join(tmp, "bin", "aws-lambda-rie")
	if err := sh(root, []string{"GOBIN=" + filepath.Dir(rieBin)}, "go", "install", rieModule); err != nil {
		return 0, err
	}
	for _, fn := range []string{"ApiFunction", "WorkerFunction"} {
		if err := sh(root, nil, "make", "--no-print-directory", "build-"+fn, "LAMBDA_ARCH="+goarch(), "ARTIFACTS_DIR="+filepath.Join(tmp, fn)); err != nil {
			return 0, err
		}
	}

	s := &stack{}
	defer s.stop()
	for _, e := range []struct {
		kind string
		dst  **awstest.Emulator
	}{{awstest.DynamoDB, &s.ddb}, {awstest.S3, &s.s3}, {awstest.SES, &s.ses}} {
		if *e.dst, err = awstest.Start(e.kind); err != nil {
			return 0, err
		}
	}
	if err := s.seed(); err != nil {
		return 0, err
	}

	env := []string{
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=S3RVER", "AWS_SECRET_ACCESS_KEY=S3RVER",
		"DIRECTORY_TABLE=" + tables.Directory, "MESSAGES_TABLE=" + tables.Messages, "JOBS_TABLE=" + tables.Jobs,
		"EXPORTS_BUCKET=" + bucket, "LINK_SIGNING_KEY=" + signingKey, "MAIL_FROM=exports@example.com",
		"DYNAMODB_ENDPOINT=" + s.ddb.Endpoint, "S3_ENDPOINT=" + s.s3.Endpoint, "S3_FORCE_PATH_STYLE=true",
		"SES_ENDPOINT=" + s.ses.Endpoint,
		// No time for inline work: every export is handed to the worker at
		// its first checkpoint, through the real service/lambda client.
		"INLINE_BUDGET=1ns",
	}
	if s.worker, err = startRIE(rieBin, filepath.Join(tmp, "WorkerFunction", "bootstrap"), env); err != nil {
		return 0, err
	}
	s.rieBin, s.apiBootstrap = rieBin, filepath.Join(tmp, "ApiFunction", "bootstrap")
	s.apiEnv = append(env, "WORKER_FUNCTION=function", "LAMBDA_ENDPOINT="+s.worker.url)
	if s.api, err = startRIE(s.rieBin, s.apiBootstrap, s.apiEnv); err != nil {
		return 0, err
	}
	st = s
	return m.Run(), nil
}

func goarch() string {
	out, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		return "amd64"
	}
	return strings.TrimSpace(string(out))
}

// seed creates the tables and the bucket and loads the demo workspace
// through the AWS adapters.
func (s *stack) seed() error {
	ctx, cancel := awstest.Context()
	defer cancel()
	db := dynamodb.NewFromConfig(awstest.Config(s.ddb.Endpoint))
	if err := dynamo.CreateTables(ctx, db, tables); err != nil {
		return err
	}
	s.s3c = s3.NewFromConfig(awstest.Config(s.s3.Endpoint), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s.s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	files := s3store.New(s.s3c, s3.NewPresignClient(s.s3c), bucket)
	_, err := demo.Load(ctx, dynamo.New(db, tables), workspace.FileBlobs{Files: files}, time.Now())
	return err
}

func (s *stack) stop() {
	for _, r := range []*rie{s.api, s.worker} {
		r.stop()
	}
	for _, e := range []*awstest.Emulator{s.ddb, s.s3, s.ses} {
		e.Stop()
	}
}

// rie is one runtime interface emulator running one bootstrap.
type rie struct {
	url string
	cmd *exec.Cmd
	log *lockedBuffer
}

// lockedBuffer collects a process's output while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startRIE starts the emulator with bootstrap as the function, flags before
// it (e.g. --log-level), and waits until it accepts Invoke requests; the
// emulator starts the bootstrap itself at the first Invoke, as Lambda does.
func startRIE(bin, bootstrap string, env []string, flags ...string) (*rie, error) {
	port, api := freePort(), freePort()
	r := &rie{url: "http://127.0.0.1:" + strconv.Itoa(port), log: &lockedBuffer{}}
	args := append([]string{
		"--runtime-interface-emulator-address", "127.0.0.1:" + strconv.Itoa(port),
		"--runtime-api-address", "127.0.0.1:" + strconv.Itoa(api),
	}, flags...)
	r.cmd = exec.Command(bin, append(args, bootstrap)...)
	// A clean environment: nothing of this machine's AWS set-up (AWS_CA_BUNDLE,
	// profiles) leaks into the functions.
	r.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "LOG_LEVEL=warn"}, env...)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.url[len("http://"):], 200*time.Millisecond)
		if err == nil {
			c.Close()
			return r, nil
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("runtime interface emulator did not start: %s", r.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *rie) stop() {
	if r == nil || r.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	_ = r.cmd.Wait()
}

// invoke sends one event to the function, as Lambda's Invoke API does.
func (r *rie) invoke(t testing.TB, event []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", r.url+"/2015-03-31/functions/function/invocations", bytes.NewReader(event))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, r.log)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || bytes.Contains(out, []byte(`"errorMessage"`)) {
		t.Fatalf("invoke: %d %s\n%s", resp.StatusCode, out, r.log)
	}
	return out
}

// call invokes the API function with a proxy event and decodes its answer.
func (s *stack) call(t testing.TB, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(ev)
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(s.api.invoke(t, raw), &resp); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &body)
	return resp, body
}

func sh(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Package awstest starts the AWS emulators the integration tests run
// against — dynalite (DynamoDB), s3rver (S3) and aws-ses-v2-local (SES v2),
// pinned in infra/emulators/package.json — and builds SDK configurations
// that point at them. Each test binary starts its own emulators on free
// loopback ports, so packages never share state. When an endpoint variable
// (DYNAMODB_ENDPOINT, S3_ENDPOINT, SES_ENDPOINT) is set, that emulator is
// used instead of starting one.
package awstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Kinds of emulator.
const (
	DynamoDB = "dynalite"
	S3       = "s3rver"
	SES      = "aws-ses-v2-local"
)

var envOf = map[string]string{DynamoDB: "DYNAMODB_ENDPOINT", S3: "S3_ENDPOINT", SES: "SES_ENDPOINT"}

// Emulator is a running emulator.
type Emulator struct {
	Endpoint string // http://127.0.0.1:PORT
	cmd      *exec.Cmd
	dir      string
}

// Start starts an emulator of the given kind (or uses the one its endpoint
// variable names) and waits until it accepts connections.
func Start(kind string) (*Emulator, error) {
	if ep := os.Getenv(envOf[kind]); ep != "" {
		return &Emulator{Endpoint: ep}, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(root, "infra", "emulators", "node_modules", ".bin", kind)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("awstest: %s is not installed: run `make emulators` (npm ci in infra/emulators)", kind)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	e := &Emulator{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port)}
	var args []string
	switch kind {
	case DynamoDB:
		args = []string{"--port", strconv.Itoa(port), "--host", "127.0.0.1", "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"}
	case S3:
		if e.dir, err = os.MkdirTemp("", "s3rver-"); err != nil {
			return nil, err
		}
		args = []string{"-d", e.dir, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "--silent"}
	case SES:
		args = []string{"--port", strconv.Itoa(port), "--host", "127.0.0.1"}
	default:
		return nil, fmt.Errorf("awstest: unknown emulator %q", kind)
	}
	e.cmd = exec.Command(bin, args...)
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if os.Getenv("AWSTEST_VERBOSE") != "" {
		e.cmd.Stdout, e.cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("awstest: start %s: %w", kind, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", e.Endpoint[len("http://"):], 200*time.Millisecond)
		if err == nil {
			c.Close()
			return e, nil
		}
		if time.Now().After(deadline) {
			e.Stop()
			return nil, fmt.Errorf("awstest: %s did not start listening on %s", kind, e.Endpoint)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends the emulator (and its children) and removes its data.
func (e *Emulator) Stop() {
	if e == nil || e.cmd == nil || e.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	_ = e.cmd.Wait()
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

// Config is an SDK configuration for the emulators: a literal aws.Config
// (LoadDefaultConfig would pick up this machine's AWS_CA_BUNDLE and profile),
// static test credentials, and the endpoint as BaseEndpoint.
func Config(endpoint string) aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("S3RVER", "S3RVER", ""), // s3rver accepts only these; the others accept any
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 3,
	}
}

// Context is a context for test setup calls.
func Context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("awstest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// CPUTime is the processor time the emulator's process has used so far
// (user and system, from /proc/<pid>/stat; Linux only), so that a
// benchmark can tell an emulator-bound pass from one bound by its client.
func (e *Emulator) CPUTime() (time.Duration, error) {
	if e == nil || e.cmd == nil || e.cmd.Process == nil {
		return 0, errors.New("awstest: the emulator was not started here")
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(e.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("awstest: emulator cpu time: %w", err)
	}
	return statCPU(raw)
}

// statCPU reads utime and stime (fields 14 and 15, in clock ticks of
// 1/100 s) from a /proc/<pid>/stat line; the command name in parentheses
// may hold spaces, so fields are counted after its closing parenthesis.
func statCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("awstest: stat line %q", stat)
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("awstest: stat line %q", stat)
	}
	var ticks int64
	for _, s := range f[11:13] { // utime, stime: fields 14 and 15 of the line
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("awstest: stat line %q: %w", stat, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

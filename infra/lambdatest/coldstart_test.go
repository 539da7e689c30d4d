package lambdatest

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rooms-export/rooms-export/shared/demo"
)

// BenchmarkFirstInvocation measures issue 4's cold start: "first invocation
// under the runtime emulator ≤ 50 ms". Each iteration starts a fresh
// aws-lambda-rie with the real API bootstrap — the emulator, like Lambda,
// starts the bootstrap only when the first Invoke arrives — and times that
// first Invoke from request to response (ns/op, and first-ms/op):
// process start, the Go runtime and package init, main's wiring (settings,
// AWS config, SDK clients), then the request, whose SDK calls open the first
// connections to the emulators. Beside it, from the emulator's own log:
// init-ms/op (the bootstrap's start until it asks for its first event) and
// first-run-ms/op (that event until the function's response); and the same
// Invoke again to the now warm process: warm-ms/op and warm-run-ms/op.
//
// The requests are real API calls against the seeded emulators: "export", a
// small room (the direct message: about a hundred messages, 32 KB of items
// from DynamoDB, and an upload) exported as JSON
// inline to its signed link, and "status", rooms.export.status of a finished
// export. It reports; it asserts nothing about speed.
//
//	go test -run '^$' -bench FirstInvocation -benchtime 20x ./infra/lambdatest/
func BenchmarkFirstInvocation(b *testing.B) {
	// The API function as deployed (an inline budget of seconds), with a
	// rate limit no number of iterations reaches.
	env := slices.Concat(st.apiEnv, []string{"INLINE_BUDGET=5s", "RATE_LIMIT_CALLS=1000000"})

	exp := readEvent(b, "export-file-json.json")
	exp.Body = `{"rid":"` + demo.DirectRoomID + `","type":"file","format":"json"}`
	b.Run("export", func(b *testing.B) { benchFirstInvocation(b, env, exp) })

	resp, body := st.call(b, exp)
	id, _ := body["exportId"].(string)
	if resp.StatusCode != 200 || id == "" {
		b.Fatalf("export for the status request: %d %s", resp.StatusCode, resp.Body)
	}
	status := readEvent(b, "status-unknown-export.json")
	status.QueryStringParameters = map[string]string{"exportId": id}
	b.Run("status", func(b *testing.B) { benchFirstInvocation(b, env, status) })
}

// benchFirstInvocation sends ev to b.N fresh emulators, twice each; only the
// first Invoke is timed.
func benchFirstInvocation(b *testing.B, env []string, ev events.APIGatewayProxyRequest) {
	raw, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	bootstrap := st.apiBootstrap
	if other := os.Getenv("BENCH_BOOTSTRAP"); other != "" {
		bootstrap = other
	}
	var first, warm, initPhase, firstRun, warmRun time.Duration
	b.StopTimer()
	for range b.N {
		// --log-level info: the emulator logs INIT REPORT and INVOKE RTDONE;
		// the function keeps LOG_LEVEL=warn.
		r, err := startRIE(st.rieBin, bootstrap, env, "--log-level", "info")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		out := r.invoke(b, raw)
		first += time.Since(start)
		b.StopTimer()
		checkOK(b, r, out)

		start = time.Now()
		out = r.invoke(b, raw)
		warm += time.Since(start)
		checkOK(b, r, out)

		r.stop()
		ph, err := phasesOf(r.log.String())
		if err != nil {
			b.Fatalf("%v in the emulator's output:\n%s", err, r.log)
		}
		initPhase += ph.init
		firstRun += ph.runs[0]
		warmRun += ph.runs[1]
	}
	n := float64(b.N)
	b.ReportMetric(ms(first)/n, "first-ms/op")
	b.ReportMetric(ms(initPhase)/n, "init-ms/op")
	b.ReportMetric(ms(firstRun)/n, "first-run-ms/op")
	b.ReportMetric(ms(warm)/n, "warm-ms/op")
	b.ReportMetric(ms(warmRun)/n, "warm-run-ms/op")
}

// checkOK fails unless the function answered 200: a benchmark of error
// answers would measure the wrong path.
func checkOK(b *testing.B, r *rie, out []byte) {
	b.Helper()
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != 200 {
		b.Fatalf("answer %s (%v)\n%s", out, err, r.log)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// phases is what the emulator logged of one function's life.
type phases struct {
	init time.Duration   // bootstrap started → its first request for an event
	runs []time.Duration // per Invoke: event handed over → response received
}

// The emulator's phase lines (aws-lambda-rie, internal/lambda/interop), logged
// at level info: "INIT REPORT(durationMs: 10.734000)" and "INVOKE
// RTDONE(status: success, produced bytes: 0, duration: 119.044000ms)". Its
// REPORT line's "Init Duration" is no use: there Init only starts the
// bootstrap, and the first Invoke waits for it.
var (
	initReport  = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	invokeReady = regexp.MustCompile(`INVOKE RTDONE\(status: success, [^)]*duration: ([0-9.]+)ms\)`)
)

// phasesOf reads the init and the first two Invokes from an emulator's output.
func phasesOf(log string) (phases, error) {
	m := initReport.FindStringSubmatch(log)
	if m == nil {
		return phases{}, errors.New("no INIT REPORT")
	}
	p := phases{init: msDuration(m[1])}
	for _, m := range invokeReady.FindAllStringSubmatch(log, -1) {
		p.runs = append(p.runs, msDuration(m[1]))
	}
	if len(p.runs) < 2 {
		return phases{}, errors.New("fewer than two successful INVOKE RTDONE")
	}
	return p, nil
}

func msDuration(s string) time.Duration {
	f, _ := strconv.ParseFloat(s, 64)
	return time.Duration(math.Round(f * float64(time.Millisecond)))
}

// TestPhasesOfTheEmulatorLog pins the emulator's log lines the benchmark
// reads, so that a new emulator version that changes them fails here rather
// than in a benchmark nobody runs.
func TestPhasesOfTheEmulatorLog(t *testing.T) {
	log := "27 Nov 2026 01:18:30,513 [INFO] (rapid) INIT RTDONE(status: success)\n" +
		"27 Nov 2026 01:18:30,513 [INFO] (rapid) INIT REPORT(durationMs: 10.734000)\n" +
		"27 Nov 2026 01:18:30,632 [INFO] (rapid) INVOKE RTDONE(status: success, produced bytes: 0, duration: 119.044000ms)\n" +
		"REPORT RequestId: 3f2d\tInit Duration: 0.02 ms\tDuration: 130.04 ms\t\n" +
		"27 Nov 2026 01:18:30,756 [INFO] (rapid) INVOKE RTDONE(status: success, produced bytes: 0, duration: 8.5ms)\n"
	p, err := phasesOf(log)
	if err != nil {
		t.Fatal(err)
	}
	want := phases{init: 10734 * time.Microsecond, runs: []time.Duration{119044 * time.Microsecond, 8500 * time.Microsecond}}
	if p.init != want.init || !slices.Equal(p.runs, want.runs) {
		t.Fatalf("phases %+v, want %+v", p, want)
	}
	if _, err := phasesOf("START RequestId: x\n"); err == nil {
		t.Fatal("a log without INIT REPORT must be an error")
	}
}

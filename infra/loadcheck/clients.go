package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rooms-export/rooms-export/infra/bench/machine"
	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/demo"
	"github.com/rooms-export/rooms-export/shared/gateway"
)

// request is one rooms.export call a client makes.
type request struct {
	userID, token string
	body          []byte
}

// target is a demo room one user may export, and the months it has messages in.
type target struct {
	userID     string
	rid        string
	from, last time.Time // first and last month
}

// demoRequests lists every month of every demo room the admin and bob may
// export, in both formats, in a fixed shuffled order: consecutive requests go
// to different rooms, users and formats, and no two clients ask for the same
// export at once (which the service would answer with the running one).
func demoRequests() []request {
	month := func(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }
	targets := []target{
		{demo.AdminID, demo.GeneralRoomID, month(2019, 1), month(2021, 11)},
		{demo.AdminID, demo.RandomRoomID, month(2019, 1), month(2021, 10)},
		{demo.AdminID, demo.DirectRoomID, month(2019, 2), month(2021, 11)},
		{demo.AdminID, demo.DiscussionRoomID, month(2021, 2), month(2021, 11)},
		{demo.AdminID, demo.TeamRoomID, month(2020, 1), month(2021, 11)},
		{demo.BobID, demo.ProjectRoomID, month(2020, 6), month(2021, 11)},
	}
	tokens := map[string]string{}
	for _, c := range demo.Credentials() {
		tokens[c.UserID] = c.Token
	}
	var out []request
	for _, t := range targets {
		for m := t.from; !m.After(t.last); m = m.AddDate(0, 1, 0) {
			for _, format := range []string{chat.FormatJSON, chat.FormatHTML} {
				body, _ := json.Marshal(map[string]string{
					"rid": t.rid, "type": chat.DeliveryFile, "format": format,
					"dateFrom": m.Format(time.DateOnly), "dateTo": m.AddDate(0, 1, -1).Format(time.DateOnly),
				})
				out = append(out, request{userID: t.userID, token: tokens[t.userID], body: body})
			}
		}
	}
	rng := rand.New(rand.NewPCG(4, 4))
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Result is what a load run measured.
type Result struct {
	Clients  int
	Requests int
	Seconds  float64 // from the first request to the last answer
	P50, P99 time.Duration
	Max      time.Duration
	Errors   int            // answers other than 200, and failed round trips
	ByCause  map[string]int // errors by status code ("429") or "transport"
	NotDone  int            // 200 answers whose export was not done (an identical one was running)
	Commits  uint64         // database write transactions during the run (two fdatasyncs each)
	Syncs    int64          // file-store syncs during the run (shared by concurrent requests)
	// User and System are the process's CPU time during the run (server
	// and clients); Create is the median time to create a file in the data
	// directory before it (probeCreate).
	User, System, Create time.Duration
	// Disk is what the disk holding the data directory did during the run
	// (every program's writes to it count); no Name where it is unknown.
	Disk diskCounters
	// Intervals are the latencies of the requests that ended in each
	// intervalLength of the run, in order: a server that is slow at first,
	// or slows down, shows here.
	Intervals []interval
}

// intervalLength is how long a slice of the run the report's latencies by
// interval cover.
const intervalLength = 10 * time.Second

// interval is the latencies of one slice of the run.
type interval struct {
	From     time.Duration // since the first request
	Requests int
	P50, P99 time.Duration
}

// perRequest is n divided among the requests.
func (r Result) perRequest(n float64) float64 {
	if r.Requests == 0 {
		return 0
	}
	return n / float64(r.Requests)
}

// RPS is requests per second.
func (r Result) RPS() float64 {
	if r.Seconds == 0 {
		return 0
	}
	return float64(r.Requests) / r.Seconds
}

// clientStats is what one client saw.
type clientStats struct {
	latencies []time.Duration
	ends      []time.Duration // when each request ended, since the first one started
	byCause   map[string]int
	notDone   int
}

// load runs o.clients clients until o.duration has passed or o.maxRequests
// were sent; a request under way when time is up is waited for and counted.
func load(ctx context.Context, base string, o options, reqs []request) Result {
	transport := &http.Transport{MaxIdleConns: o.clients, MaxIdleConnsPerHost: o.clients, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: time.Minute}
	var next atomic.Int64
	stats := make([]clientStats, o.clients)
	start := time.Now()
	deadline := start.Add(o.duration)
	var wg sync.WaitGroup
	for c := range stats {
		st := &stats[c]
		st.byCause = map[string]int{}
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := next.Add(1) - 1
				if i >= int64(o.maxRequests) {
					return
				}
				t0 := time.Now()
				cause, done := call(ctx, client, base, reqs[i%int64(len(reqs))])
				end := time.Now()
				st.latencies = append(st.latencies, end.Sub(t0))
				st.ends = append(st.ends, end.Sub(start))
				switch {
				case cause != "":
					st.byCause[cause]++
				case !done:
					st.notDone++
				}
			}
		})
	}
	wg.Wait()
	res := Result{Clients: o.clients, Seconds: time.Since(start).Seconds(), ByCause: map[string]int{}}
	var all []time.Duration
	var byInterval [][]time.Duration
	for _, st := range stats {
		all = append(all, st.latencies...)
		for i, end := range st.ends {
			// A request that ended after the clients stopped starting
			// new ones counts in the last interval.
			k := min(int(end/intervalLength), int((o.duration-1)/intervalLength))
			for len(byInterval) <= k {
				byInterval = append(byInterval, nil)
			}
			byInterval[k] = append(byInterval[k], st.latencies[i])
		}
		for k, v := range st.byCause {
			res.ByCause[k] += v
			res.Errors += v
		}
		res.NotDone += st.notDone
	}
	for k, lat := range byInterval {
		slices.Sort(lat)
		res.Intervals = append(res.Intervals, interval{From: time.Duration(k) * intervalLength, Requests: len(lat), P50: percentile(lat, 0.50), P99: percentile(lat, 0.99)})
	}
	slices.Sort(all)
	res.Requests = len(all)
	res.P50, res.P99 = percentile(all, 0.50), percentile(all, 0.99)
	if len(all) > 0 {
		res.Max = all[len(all)-1]
	}
	return res
}

// call makes one request. cause is "" for a 200 answer, else the status
// code or "transport"; done reports whether the answer carried a finished export.
func call(ctx context.Context, client *http.Client, base string, r request) (cause string, done bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+gateway.PathExport, bytes.NewReader(r.body))
	if err != nil {
		return "transport", false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-User-Id", r.userID)
	req.Header.Set("X-Auth-Token", r.token)
	resp, err := client.Do(req)
	if err != nil {
		return "transport", false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "transport", false
	}
	if resp.StatusCode != http.StatusOK {
		return strconv.Itoa(resp.StatusCode), false
	}
	var answer struct {
		Success bool   `json:"success"`
		Status  string `json:"status"`
	}
	if json.Unmarshal(body, &answer) != nil || !answer.Success {
		return "200 without success", false
	}
	return "", answer.Status == chat.JobDone
}

// percentile is the nearest-rank percentile of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(k, 0)]
}

// reportColumns are the table's headers; the test reads them back.
var reportColumns = []string{"clients", "seconds", "requests", "requests/s", "p50 ms", "p99 ms", "max ms", "errors"}

// writeReport prints the Markdown report; loadAvg is the machine's load
// average before the run.
func writeReport(w io.Writer, url string, o options, r Result, loadAvg string) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	fmt.Fprintf(w, "# rooms-export load check\n\n")
	fmt.Fprintf(w, "Machine: %s. Run %s, load average before it %s.\n\n", machine.Describe(), time.Now().UTC().Format(time.RFC3339), loadAvg)
	fmt.Fprintf(w, "The local server's handler (gateway.Handler on the embedded stack, demo workspace, temporary data directory) "+
		"served in-process on %s. Each request exports one month of one demo room as a file, half JSON and half HTML, "+
		"as admin (exempt from the rate limit) or bob (counted by it); RATE_LIMIT_CALLS is raised to %d for the check. "+
		"Bounds: %s, at most %d requests. Every answer but a 200 is an error.\n\n", url, o.rateLimit, o.duration, o.maxRequests)
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(reportColumns, " | "), strings.Repeat("---:|", len(reportColumns)))
	fmt.Fprintf(w, "| %d | %.2f | %d | %.1f | %.1f | %.1f | %.1f | %d |\n\n",
		r.Clients, r.Seconds, r.Requests, r.RPS(), ms(r.P50), ms(r.P99), ms(r.Max), r.Errors)
	if r.Errors == 0 {
		fmt.Fprintf(w, "Errors: none.")
	} else {
		causes := make([]string, 0, len(r.ByCause))
		for k := range r.ByCause {
			causes = append(causes, k)
		}
		sort.Strings(causes)
		fmt.Fprintf(w, "Errors by cause:")
		for _, k := range causes {
			fmt.Fprintf(w, " %s × %d;", k, r.ByCause[k])
		}
	}
	fmt.Fprintf(w, " Answers 200 without a finished export (an identical export was running): %d.\n", r.NotDone)
	fmt.Fprintf(w, "\nDurable writes per request: %.2f database commits and %.2f file-store syncs (each shared by the requests that wait for it at the same time; a commit is two fdatasyncs).\n",
		r.perRequest(float64(r.Commits)), r.perRequest(float64(r.Syncs)))
	if len(r.Intervals) > 1 {
		parts := make([]string, len(r.Intervals))
		for i, iv := range r.Intervals {
			end := min((iv.From + intervalLength).Seconds(), r.Seconds)
			parts[i] = fmt.Sprintf("%.0f–%.0f s: %.1f / %.1f (%d)", iv.From.Seconds(), end, ms(iv.P50), ms(iv.P99), iv.Requests)
		}
		fmt.Fprintf(w, "\nLatency by interval of the run (p50 / p99 ms of the requests that ended in it, and how many): %s.\n", strings.Join(parts, "; "))
	}
	if r.Disk.Name != "" {
		fmt.Fprintf(w, "\nDisk %s during the run (every program's writes to it): %.1f writes (%.0f KiB) and %.2f cache flushes per request; busy %.0f%% of the time.\n",
			r.Disk.Name, r.perRequest(float64(r.Disk.Writes)), r.perRequest(float64(r.Disk.Sectors)/2), r.perRequest(float64(r.Disk.Flushes)), float64(r.Disk.BusyMS)/10/r.Seconds)
	}
	fmt.Fprintf(w, "\nCPU per request (this process: server and clients): %.2f ms user, %.2f ms system. "+
		"Creating a file in the data directory before the run: %.0f µs (median of %d; on ext4 without a journal it grows to milliseconds after many recent deletions nearby, whatever rooms-export does).\n",
		r.perRequest(ms(r.User)), r.perRequest(ms(r.System)), float64(r.Create)/float64(time.Microsecond), probeFiles)
}

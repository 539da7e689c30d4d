package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/demo"
	"github.com/rooms-export/rooms-export/shared/gateway"
)

func TestShortRunHasNoErrors(t *testing.T) {
	var out, log bytes.Buffer
	res, err := run(t.Context(), []string{"-clients", "2", "-duration", "1s", "-dir", t.TempDir()}, &out, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if res.Errors != 0 || res.Requests == 0 || res.NotDone != 0 {
		t.Fatalf("result %+v\n%s", res, out.String())
	}
	report := out.String()
	head := "| " + strings.Join(reportColumns, " | ") + " |"
	lines := strings.Split(report, "\n")
	i := slices.Index(lines, head)
	if i < 0 || i+2 >= len(lines) {
		t.Fatalf("no table in:\n%s", report)
	}
	cells := strings.Split(strings.Trim(lines[i+2], "|"), "|")
	if len(cells) != len(reportColumns) || strings.TrimSpace(cells[0]) != "2" || strings.TrimSpace(cells[len(cells)-1]) != "0" {
		t.Fatalf("row %q", lines[i+2])
	}
	if !strings.Contains(report, "Machine: ") || !strings.Contains(report, "Errors: none.") || !strings.Contains(report, "Durable writes per request: ") {
		t.Fatalf("report:\n%s", report)
	}
	// Every answer is a finished export, small enough to be a database
	// object that commits with its job (localfs.KeepSmall): no file-store
	// sync, and at most three commits (job created, job done with the
	// archive, a counted call), fewer when concurrent requests share them.
	if res.Syncs != 0 || res.Commits == 0 || res.Commits > 3*uint64(res.Requests) {
		t.Errorf("%d requests made %d file-store syncs and %d commits", res.Requests, res.Syncs, res.Commits)
	}
	inIntervals := 0
	for _, iv := range res.Intervals {
		inIntervals += iv.Requests
	}
	// 1 s of requests, and those that ended after it: one interval.
	if n := len(res.Intervals); n != 1 || res.Intervals[0].From != 0 || inIntervals != res.Requests {
		t.Errorf("intervals %+v of %d requests", res.Intervals, res.Requests)
	}
	if !strings.Contains(report, "CPU per request") || res.Create <= 0 {
		t.Errorf("no CPU or file-creation figures (create %s):\n%s", res.Create, report)
	}
	if strings.Contains(report+log.String(), demo.AdminToken) {
		t.Fatal("a token was printed")
	}
}

func TestDemoRequestsVaryUsersRoomsAndFormats(t *testing.T) {
	reqs := demoRequests()
	users, rooms, formats, bodies := map[string]int{}, map[string]bool{}, map[string]int{}, map[string]bool{}
	for _, r := range reqs {
		var b map[string]string
		if err := json.Unmarshal(r.body, &b); err != nil {
			t.Fatal(err)
		}
		if r.token == "" || b["type"] != "file" || b["dateFrom"] == "" || b["dateTo"] <= b["dateFrom"] {
			t.Fatalf("request %s %v", r.userID, b)
		}
		users[r.userID]++
		rooms[b["rid"]] = true
		formats[b["format"]]++
		key := r.userID + string(r.body)
		if bodies[key] {
			t.Fatalf("duplicate request %s", key)
		}
		bodies[key] = true
	}
	if len(users) != 2 || len(rooms) != 6 || formats["json"] != formats["html"] {
		t.Fatalf("users %v, %d rooms, formats %v", users, len(rooms), formats)
	}
	// Neighbours differ, so concurrent clients do not ask for the same export.
	for i := 1; i < len(reqs); i++ {
		if bytes.Equal(reqs[i].body, reqs[i-1].body) {
			t.Fatalf("requests %d and %d are the same", i-1, i)
		}
	}
}

func TestCallClassifiesAnswers(t *testing.T) {
	answers := map[string]func(w http.ResponseWriter){
		"/done":    func(w http.ResponseWriter) { w.Write([]byte(`{"success":true,"status":"done","url":"x"}`)) },
		"/running": func(w http.ResponseWriter) { w.Write([]byte(`{"success":true,"status":"running"}`)) },
		"/limited": func(w http.ResponseWriter) {
			w.WriteHeader(429)
			w.Write([]byte(`{"success":false,"errorType":"error-too-many-requests"}`))
		},
		"/odd": func(w http.ResponseWriter) { w.Write([]byte(`<html>`)) },
	}
	for path, answer := range answers {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != gateway.PathExport || r.Header.Get("X-User-Id") != "u1" || r.Header.Get("X-Auth-Token") != "t1" || r.Method != http.MethodPost {
				w.WriteHeader(400)
				return
			}
			answer(w)
		}))
		cause, done := call(t.Context(), srv.Client(), srv.URL, request{userID: "u1", token: "t1", body: []byte(`{}`)})
		srv.Close()
		want := map[string]struct {
			cause string
			done  bool
		}{"/done": {"", true}, "/running": {"", false}, "/limited": {"429", false}, "/odd": {"200 without success", false}}[path]
		if cause != want.cause || done != want.done {
			t.Errorf("%s: cause %q, done %v; want %q, %v", path, cause, done, want.cause, want.done)
		}
	}
	if cause, _ := call(t.Context(), http.DefaultClient, "http://127.0.0.1:1", request{}); cause != "transport" {
		t.Errorf("unreachable server: cause %q", cause)
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(d, 0.5); p != 100*time.Millisecond {
		t.Errorf("p50 = %s", p)
	}
	if p := percentile(d, 0.99); p != 198*time.Millisecond {
		t.Errorf("p99 = %s", p)
	}
	if p := percentile(nil, 0.99); p != 0 {
		t.Errorf("p99 of nothing = %s", p)
	}
}

func TestFlagsAreChecked(t *testing.T) {
	var stderr bytes.Buffer
	for _, bad := range [][]string{{"-clients", "0"}, {"-duration", "0s"}, {"-max-requests", "0"}, {"-rate-limit", "0"}, {"extra"}} {
		if _, err := parseOptions(bad, &stderr); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestProfilesAreWritten(t *testing.T) {
	dir := t.TempDir()
	stop, err := startProfiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cpu", "block", "mutex", "allocs"} {
		if fi, err := os.Stat(filepath.Join(dir, name+".pprof")); err != nil || fi.Size() == 0 {
			t.Errorf("%s.pprof: %v %v", name, fi, err)
		}
	}
	stop, err = startProfiles("")
	if err != nil || stop() != nil {
		t.Errorf("no directory: %v", err)
	}
}

func TestDiskStatsAreParsed(t *testing.T) {
	const stats = `   7       0 loop0 10 0 20 1 0 0 0 0 0 4 1 0 0 0 0
 254       0 vda 4301076 305039 89932618 16660650 30161545 2306209 625969512 36163414 0 2434204 53687566 2784064 165 269812256 463171 3213205 400330
 254       1 vda1 100 0 200 3 50 0 400 9 0 12 12
`
	c, ok := parseDiskStats(strings.NewReader(stats), 254, 0)
	want := diskCounters{Name: "vda", Writes: 30161545, Sectors: 625969512, BusyMS: 2434204, Flushes: 3213205}
	if !ok || c != want {
		t.Fatalf("vda: %+v %v; want %+v", c, ok, want)
	}
	// An older kernel's line has no discard or flush fields.
	c, ok = parseDiskStats(strings.NewReader(stats), 254, 1)
	if want := (diskCounters{Name: "vda1", Writes: 50, Sectors: 400, BusyMS: 12}); !ok || c != want {
		t.Fatalf("vda1: %+v %v; want %+v", c, ok, want)
	}
	if _, ok := parseDiskStats(strings.NewReader(stats), 8, 0); ok {
		t.Fatal("found a device that is not there")
	}
	if d := want.sub(diskCounters{Name: "vda", Writes: 45, Sectors: 25, BusyMS: 4, Flushes: 5}); d.Writes != 30161500 || d.Flushes != 3213200 || d.Name != "vda" {
		t.Fatalf("sub: %+v", d)
	}
}

func TestReportShowsIntervalsAndDisk(t *testing.T) {
	r := Result{Clients: 32, Requests: 3000, Seconds: 25,
		Intervals: []interval{{0, 1200, 30 * time.Millisecond, 90 * time.Millisecond}, {10 * time.Second, 1200, 35 * time.Millisecond, 95 * time.Millisecond}, {20 * time.Second, 600, 33 * time.Millisecond, 80 * time.Millisecond}},
		Disk:      diskCounters{Name: "vda", Writes: 42000, Sectors: 600000, Flushes: 6900, BusyMS: 10000}}
	var out bytes.Buffer
	writeReport(&out, "http://127.0.0.1:1", options{duration: 25 * time.Second, maxRequests: 1, rateLimit: 1}, r, "0.1")
	report := out.String()
	for _, want := range []string{
		"0–10 s: 30.0 / 90.0 (1200); 10–20 s: 35.0 / 95.0 (1200); 20–25 s: 33.0 / 80.0 (600).",
		"Disk vda during the run (every program's writes to it): 14.0 writes (100 KiB) and 2.30 cache flushes per request; busy 40% of the time.",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("no %q in:\n%s", want, report)
		}
	}
}

// Package machine describes the machine a measurement ran on — CPU model,
// cores, memory, Go version — for the reports of the benchmark and the load
// check, whose numbers mean little without it.
package machine

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Describe is one line: "AMD EPYC, 2 cores (GOMAXPROCS 2), 23.5 GiB RAM,
// go1.26.8 linux/amd64".
func Describe() string {
	return fmt.Sprintf("%s, %d cores (GOMAXPROCS %d), %s, %s %s/%s",
		CPUModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), memTotal(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// CPUModel is the first "model name" of /proc/cpuinfo.
func CPUModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, value, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown CPU"
}

// memTotal is MemTotal of /proc/meminfo, in GiB.
func memTotal() string {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown memory"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
					return fmt.Sprintf("%.1f GiB RAM", kb/(1<<20))
				}
			}
		}
	}
	return "unknown memory"
}

// LoadAverage is /proc/loadavg's 1, 5 and 15 minute load averages, e.g.
// "0.52 0.61 0.40": on a shared machine, how busy the others kept it.
func LoadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(raw)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

package machine

import (
	"runtime"
	"strings"
	"testing"
)

func TestDescribeNamesCPUCoresAndGo(t *testing.T) {
	d := Describe()
	if !strings.Contains(d, runtime.Version()) || !strings.Contains(d, " cores ") || strings.HasPrefix(d, "unknown CPU") {
		t.Fatalf("Describe() = %q", d)
	}
}

func TestLoadAverageHasThreeFigures(t *testing.T) {
	if f := strings.Fields(LoadAverage()); len(f) != 3 {
		t.Fatalf("LoadAverage() = %q", LoadAverage())
	}
}

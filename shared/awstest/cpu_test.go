package awstest

import (
	"testing"
	"time"
)

func TestStatCPU(t *testing.T) {
	// a command name with spaces and a parenthesis; utime 150, stime 25 ticks
	line := []byte("4242 (node (dyna) x) S 1 4242 4242 0 -1 4194560 9023 0 0 0 150 25 0 0 20 0 11 0 1234 1000 100\n")
	got, err := statCPU(line)
	if err != nil || got != 1750*time.Millisecond {
		t.Fatalf("statCPU = %v, %v; want 1.75s", got, err)
	}
	if _, err := statCPU([]byte("4242 (node) S 1 2")); err == nil {
		t.Fatal("statCPU of a short line: no error")
	}
}

func TestEmulatorCPUTime(t *testing.T) {
	e, err := Start(DynamoDB)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	if e.cmd == nil {
		t.Skip("DYNAMODB_ENDPOINT names an emulator started elsewhere: its process is not ours to read")
	}
	if _, err := e.CPUTime(); err != nil {
		t.Fatal(err)
	}
	var none *Emulator
	if _, err := none.CPUTime(); err == nil {
		t.Fatal("CPUTime of no emulator: no error")
	}
}

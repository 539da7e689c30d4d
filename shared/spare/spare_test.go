package spare

import (
	"runtime"
	"testing"
)

// TestKeepsAFewAcrossCollections: the first Keep values put back stay,
// whatever the collector does; Get hands them out first, newest first.
func TestKeepsAFewAcrossCollections(t *testing.T) {
	p := Pool{Keep: 4}
	vals := make([]*[]byte, p.Keep+2)
	for i := range vals {
		b := make([]byte, 0, 64<<10)
		vals[i] = &b
		p.Put(vals[i])
	}
	runtime.GC()
	runtime.GC() // twice: a sync.Pool's victim cache survives one
	for i := range p.Keep {
		got, ok := p.Get().(*[]byte)
		if !ok || got != vals[p.Keep-1-i] {
			t.Fatalf("Get %d after collections = %p, want the kept value %p", i, got, vals[p.Keep-1-i])
		}
	}
}

// TestDefaultKeep: a zero Keep keeps DefaultKeep values.
func TestDefaultKeep(t *testing.T) {
	var p Pool
	for i := range DefaultKeep + 1 {
		p.Put(i)
	}
	if len(p.kept) != DefaultKeep {
		t.Fatalf("kept %d values, want %d", len(p.kept), DefaultKeep)
	}
}

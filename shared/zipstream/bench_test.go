package zipstream

import (
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"io"
	"testing"
	"time"
)

// benchSize is the amount of text each benchmark iteration compresses:
// 100 MB of newline-delimited JSON messages, about 450,000 of them.
const benchSize = 100 << 20

// countingDiscard counts what it is given.
type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// writeArchive writes data as one entry in 64 KiB writes, checkpointing
// every 8 MiB as the export does at each upload part, and returns the
// archive's size.
func writeArchive(b testing.TB, data []byte, method uint16, opts Options) int64 {
	sink := &countingDiscard{}
	z := NewWriter(sink, opts)
	w, err := z.Create("room.json", method, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	for off := 0; off < len(data); off += 64 << 10 {
		if _, err := w.Write(data[off:min(off+64<<10, len(data))]); err != nil {
			b.Fatal(err)
		}
		if off%(8<<20) == 0 {
			if _, err := z.Checkpoint(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := z.Close(); err != nil {
		b.Fatal(err)
	}
	return sink.n
}

// BenchmarkWriter measures the Writer on export-like text (deflate at
// several levels, and Store, which leaves only CRC-32 and SHA-256): MB/s of
// input, messages/s, and the output/input ratio.
func BenchmarkWriter(b *testing.B) {
	data := jsonLines(newRand(1), benchSize)
	lines := bytes.Count(data, []byte{'\n'})
	for _, c := range []struct {
		method uint16
		level  int
	}{{Deflate, 1}, {Deflate, 2}, {Deflate, 5}, {Deflate, 6}, {Store, 0}} {
		name := fmt.Sprintf("deflate-level-%d", c.level)
		if c.method == Store {
			name = "store"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var out int64
			for b.Loop() {
				out = writeArchive(b, data, c.method, Options{Level: c.level})
			}
			b.ReportMetric(float64(out)/float64(len(data)), "ratio")
			b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkStdlibFlate is the comparison that chose the compressor:
// compress/flate on the same text, with nothing else around it.
func BenchmarkStdlibFlate(b *testing.B) {
	data := jsonLines(newRand(1), benchSize)
	for _, level := range []int{1, 5, 6} {
		b.Run(fmt.Sprintf("level-%d", level), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var out int64
			for b.Loop() {
				sink := &countingDiscard{}
				fw, err := stdflate.NewWriter(sink, level)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(fw, bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
				if err := fw.Close(); err != nil {
					b.Fatal(err)
				}
				out = sink.n
			}
			b.ReportMetric(float64(out)/float64(len(data)), "ratio")
		})
	}
}

// BenchmarkSmallArchive writes the archive of a small export, one after
// another as a busy server does (a month of a room: 30 KB of JSON, 4 KB
// zipped, and a manifest): B/op is what each archive allocates.
func BenchmarkSmallArchive(b *testing.B) {
	data := jsonLines(newRand(1), 30<<10)
	manifest := []byte(`{"entries":[{"name":"room.json"}]}`)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		z := NewWriter(&countingDiscard{}, Options{})
		for _, e := range []struct {
			name string
			data []byte
		}{{"room.json", data}, {"manifest.json", manifest}} {
			w, err := z.Create(e.name, Deflate, time.Unix(0, 0))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := w.Write(e.data); err != nil {
				b.Fatal(err)
			}
		}
		if err := z.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

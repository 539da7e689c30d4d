package zipstream

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testTime is the modification time of the test entries; a zone east of
// UTC shows that DOS fields follow the time's own clock, as in archive/zip.
var testTime = time.Date(2024, 3, 9, 14, 5, 6, 0, time.FixedZone("CET", 3600))

var words = strings.Fields(`the a to and of in is it you that for on with this we be have are not
at was but can do will just so if what about meeting tomorrow deploy release fixed bug please
review merged looks good thanks :thumbsup: @alice @bob https://example.com/issue/1234 ok
server database timeout error logs production staging customer ticket update status yesterday
` + "`code` **bold** _italic_ ~strike~ > quote naïve café 日本語 😀")

var users = []string{"alice", "bob", "carol", "dave", "eve.smith", "frank_o", "grace"}

// jsonLines returns about n bytes of newline-delimited JSON messages shaped
// like the export's: text of 10 to 500 characters, mostly short.
func jsonLines(r *rand.Rand, n int) []byte {
	var b bytes.Buffer
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for b.Len() < n {
		l := 10 + r.IntN(120)
		if r.IntN(4) == 0 {
			l = 10 + r.IntN(490)
		}
		var m strings.Builder
		for m.Len() < l {
			m.WriteString(words[r.IntN(len(words))])
			m.WriteByte(' ')
		}
		ts = ts.Add(time.Duration(r.IntN(60000)) * time.Millisecond)
		id := make([]byte, 17)
		for i := range id {
			id[i] = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"[r.IntN(55)]
		}
		line, _ := json.Marshal(map[string]string{
			"msg": m.String(), "username": users[r.IntN(len(users))],
			"ts": ts.Format("2006-01-02T15:04:05.000Z07:00"), "_id": string(id),
		})
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()[:n]
}

// content returns n bytes of test content: text, or random bytes that do
// not compress (what uploaded images look like to deflate).
func content(r *rand.Rand, n int) []byte {
	if r.IntN(4) == 0 {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		return p
	}
	return jsonLines(r, n)
}

// op is one step of a scripted writing session.
type op struct {
	kind   opKind
	name   string
	method uint16
	data   []byte
}

type opKind int

const (
	opCreate opKind = iota
	opWrite
	opCheckpoint
)

var testNames = []string{
	"room.json", "GENERAL.html", "manifest.json", "assets/abc123-photo.png",
	"assets/x9-résumé.pdf", "assets/日本語のファイル.txt", "assets/Ωmega 😀.bin", "a/b/c/d.txt",
}

// script returns a session of entries entries, with checkpoints at random
// points: before the first entry, right after Create and between writes.
func script(seed uint64, entries, maxEntry int) []op {
	r := newRand(seed)
	ops := []op{{kind: opCheckpoint}}
	for i := range entries {
		method := Deflate
		if r.IntN(3) == 0 {
			method = Store
		}
		ops = append(ops, op{kind: opCreate, name: fmt.Sprintf("%d-%s", i, testNames[r.IntN(len(testNames))]), method: method})
		if i == 0 || r.IntN(4) == 0 { // right after Create
			ops = append(ops, op{kind: opCheckpoint})
		}
		size := r.IntN(maxEntry)
		switch r.IntN(8) {
		case 0:
			size = 0
		case 1:
			size *= 4 // several deflate blocks between checkpoints
		}
		data := content(r, size)
		for len(data) > 0 {
			n := min(len(data), 1+r.IntN(12000))
			ops = append(ops, op{kind: opWrite, data: data[:n]})
			data = data[n:]
			if r.IntN(3) == 0 {
				ops = append(ops, op{kind: opCheckpoint})
				if r.IntN(4) == 0 {
					ops = append(ops, op{kind: opCheckpoint}) // twice in a row
				}
			}
		}
	}
	return ops
}

// rechunk returns ops with the data of each run of writes split at other
// places, as a caller with a different buffer would write it.
func rechunk(ops []op, r *rand.Rand) []op {
	var out []op
	var run []byte
	flush := func() {
		for len(run) > 0 {
			n := min(len(run), 1+r.IntN(70000))
			out = append(out, op{kind: opWrite, data: run[:n]})
			run = run[n:]
		}
	}
	for _, o := range ops {
		if o.kind == opWrite {
			run = append(run, o.data...)
			continue
		}
		flush()
		run = nil
		out = append(out, o)
	}
	flush()
	return out
}

// expected returns the content of each entry the script writes, by name.
func expected(ops []op) (names []string, contents map[string][]byte) {
	contents = map[string][]byte{}
	var cur string
	for _, o := range ops {
		switch o.kind {
		case opCreate:
			cur = o.name
			names = append(names, cur)
			contents[cur] = []byte{}
		case opWrite:
			contents[cur] = append(contents[cur], o.data...)
		}
	}
	return names, contents
}

// play runs ops on z, starting with the io.Writer of the open entry (nil
// when none is open), and returns the io.Writer of the entry open at the
// end. onCheckpoint receives the State of every checkpoint.
func play(t testing.TB, z *Writer, w io.Writer, ops []op, onCheckpoint func(State)) io.Writer {
	t.Helper()
	for _, o := range ops {
		switch o.kind {
		case opCreate:
			var err error
			if w, err = z.Create(o.name, o.method, testTime); err != nil {
				t.Fatal(err)
			}
		case opWrite:
			if n, err := w.Write(o.data); err != nil || n != len(o.data) {
				t.Fatalf("write: %d, %v", n, err)
			}
		case opCheckpoint:
			s, err := z.Checkpoint()
			if err != nil {
				t.Fatal(err)
			}
			if onCheckpoint != nil {
				onCheckpoint(s)
			}
		}
	}
	return w
}

// roundTrip returns s after a trip through JSON, as it would come back
// from the job store.
func roundTrip(t testing.TB, s State) State {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

// checkArchive reads archive with archive/zip and checks that it holds
// exactly the named entries with the given contents; reading each entry to
// the end makes archive/zip verify its CRC-32.
func checkArchive(t testing.TB, archive []byte, names []string, contents map[string][]byte) *zip.Reader {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatalf("archive/zip cannot read the archive: %v", err)
	}
	if len(zr.File) != len(names) {
		t.Fatalf("archive has %d entries, want %d", len(zr.File), len(names))
	}
	for i, f := range zr.File {
		if f.Name != names[i] {
			t.Fatalf("entry %d is %q, want %q", i, f.Name, names[i])
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("open %q: %v", f.Name, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read %q: %v", f.Name, err)
		}
		want := contents[f.Name]
		if !bytes.Equal(got, want) {
			t.Fatalf("%q: got %d bytes, want %d (contents differ)", f.Name, len(got), len(want))
		}
		if f.CRC32 != crc32.ChecksumIEEE(want) || f.UncompressedSize64 != uint64(len(want)) {
			t.Fatalf("%q: central directory says CRC %08x size %d", f.Name, f.CRC32, f.UncompressedSize64)
		}
		if !f.Modified.Equal(testTime) {
			t.Fatalf("%q: modified %v, want %v", f.Name, f.Modified, testTime)
		}
	}
	return zr
}

// unzip runs Info-ZIP's unzip with args on archive, when the machine has
// it, and returns its output; it fails the test when unzip fails.
func unzip(t testing.TB, archive []byte, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath("unzip")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("unzip is needed in CI: %v", err)
		}
		t.Skipf("unzip is not installed: %v", err)
	}
	file := filepath.Join(t.TempDir(), "test.zip")
	if err := os.WriteFile(file, archive, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, append(args, file)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unzip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// unzipTest checks archive with `unzip -t`, which inflates every entry and
// checks its CRC-32 against the central directory.
func unzipTest(t testing.TB, archive []byte) {
	t.Helper()
	if out := unzip(t, archive, "-tq"); !bytes.Contains(out, []byte("No errors detected")) {
		t.Fatalf("unzip -t:\n%s", out)
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// checkArchiveNames reads archive with archive/zip and checks it has n
// entries, each readable to the end (which verifies its CRC-32).
func checkArchiveNames(t testing.TB, archive []byte, n int) []*zip.File {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatalf("archive/zip cannot read the archive: %v", err)
	}
	if len(zr.File) != n {
		t.Fatalf("archive has %d entries, want %d", len(zr.File), n)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("open %q: %v", f.Name, err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read %q: %v", f.Name, err)
		}
	}
	return zr.File
}

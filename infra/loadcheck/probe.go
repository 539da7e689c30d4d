package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// probeFiles is how many files probeCreate creates.
const probeFiles = 64

// probeCreate times the creation of empty files in dir, the data
// directory, and returns the median. A load run creates an archive file per
// request, and what that costs depends on the file system's state, not on
// rooms-export: ext4 without a journal (this VM's) skips inodes freed in
// the last minutes when it allocates one, so right after many deletions
// near the data directory (another run's cleanup, a go build's temporary
// files) each creation can cost a millisecond of kernel time. The report
// prints it so that two runs' figures can be compared. The files stay in
// the data directory, which the run removes.
func probeCreate(dir string) (time.Duration, error) {
	took := make([]time.Duration, probeFiles)
	for i := range took {
		t0 := time.Now()
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("create-probe-%d", i)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return 0, fmt.Errorf("create probe: %w", err)
		}
		took[i] = time.Since(t0)
		if err := f.Close(); err != nil {
			return 0, fmt.Errorf("create probe: %w", err)
		}
	}
	slices.Sort(took)
	return took[len(took)/2], nil
}

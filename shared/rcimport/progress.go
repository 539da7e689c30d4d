package rcimport

import "time"

// Progress is where an import is: how many documents it has read, and how
// many bytes of the dump's files, of how many in all. Rate and ETA are
// derived from them; a progress bar draws Fraction.
type Progress struct {
	Collection string // the collection being read ("" once done)
	Docs       int64  // documents read so far, every collection
	Bytes      int64  // bytes of collection files read so far (compressed bytes for .gz)
	TotalBytes int64  // bytes of every collection file
	Elapsed    time.Duration
	Done       bool
}

// Fraction is the share of the dump read, in [0, 1].
func (p Progress) Fraction() float64 {
	if p.Done {
		return 1
	}
	if p.TotalBytes <= 0 {
		return 0
	}
	return min(1, max(0, float64(p.Bytes)/float64(p.TotalBytes)))
}

// Rate is documents read per second.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Docs) / p.Elapsed.Seconds()
}

// ETA estimates the time left from the bytes still to read at the pace so
// far; ok is false until there is a pace to go by.
func (p Progress) ETA() (left time.Duration, ok bool) {
	if p.Done {
		return 0, true
	}
	if p.Bytes <= 0 || p.Elapsed < 500*time.Millisecond || p.TotalBytes <= 0 {
		return 0, false
	}
	rest := float64(p.TotalBytes-p.Bytes) / float64(p.Bytes)
	return time.Duration(rest * float64(p.Elapsed)).Round(time.Second), true
}

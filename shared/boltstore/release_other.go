//go:build !linux

package boltstore

// mappedFile is a no-op outside Linux: the pages a read maps in stay
// resident until the store is closed.
type mappedFile struct {
	base func() uintptr // unused here
}

func newMappedFile(string) (*mappedFile, error) { return &mappedFile{}, nil }

func (*mappedFile) release() error { return nil }

func (*mappedFile) resident() (int64, error) { return 0, nil }

func (*mappedFile) close() {}

func residentFileBytes() (int64, error) { return 0, nil }

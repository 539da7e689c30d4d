package localfs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// wholeSync returns the sync that the Commits of a store rooted at dir share
// (syncGroup): syncfs(2) of the file system that holds dir, which writes
// back every dirty file, inode and directory block of it and waits for
// them, then an fsync of dir. The fsync is there for file systems without a
// journal (ext2, or ext4 without one, as on the VM the load check runs on):
// there syncfs issues the disk's cache flush before it writes the metadata
// blocks that data writeback dirtied (inode tables, allocation bitmaps), so
// they may still sit in the disk's volatile cache when it returns; an fsync
// of a clean directory is then one flush more, after all of them. With a
// journal it is a cheap extra flush.
//
// The price of one sync for many Commits is its reach: syncfs also writes
// back whatever else is dirty on that file system, so a data directory on
// a disk that other programs write heavily makes Commits wait for their
// writeback too (what the kernel has not written back yet: by default up
// to about 30 s of their writes). A big export's upload bounds its own
// share: it fsyncs every PartSize bytes.
func wholeSync(dir string) func() error {
	return func() error {
		d, err := os.Open(dir)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := unix.Syncfs(int(d.Fd())); err != nil {
			return fmt.Errorf("syncfs: %w", err)
		}
		if err := d.Sync(); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		return nil
	}
}

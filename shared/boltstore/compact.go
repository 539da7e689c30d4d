package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// compactTxBytes bounds one write transaction of Compact: what it holds in
// memory before it commits.
const compactTxBytes = 8 << 20

// Compact rewrites the database file at path bucket by bucket, each in key
// order, into full pages, and replaces the file with the result (as bbolt's
// `bbolt compact` does, but in place and with flat memory). Call it after a
// bulk load, with no Store open on the file.
//
// Why: bbolt never overwrites a page in use, so a load in batches — message
// ids are random, and every batch rewrites most of the id index — leaves a
// bucket's pages scattered over a file half full of freed pages. A big read
// then faults in 64 KiB of mostly unrelated pages for each page it needs
// (the kernel's fault-around), and the pages it must release to stay flat
// come back one fault at a time. After Compact a room's messages are
// contiguous in the file: on the benchmark's generated million-message
// room (500 MB, 392 MB compacted), an export takes two thirds fewer page
// faults and a fifth less time.
func Compact(path string) (err error) {
	src, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: DefaultLockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return fmt.Errorf("boltstore: compact %s: file is locked by another process: %w", path, err)
	}
	if err != nil {
		return fmt.Errorf("boltstore: compact %s: %w", path, err)
	}
	// the shared lock is held until the new file is in place: no writer
	// can come in between the copy and the rename
	defer src.Close()
	pages, err := newPager(path)
	if err != nil {
		return fmt.Errorf("boltstore: compact %s: %w", path, err)
	}
	tmp := path + ".compact"
	_ = os.Remove(tmp) // the leftover of an interrupted run
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{NoSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("boltstore: compact %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = dst.Close()
			_ = os.Remove(tmp)
		}
	}()
	err = src.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return copyBucket(dst, name, b, pages)
		})
	})
	if err == nil {
		err = dst.Sync()
	}
	if err == nil {
		err = dst.Close()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("boltstore: compact %s: %w", path, err)
	}
	return nil
}

// copyBucket appends the keys of b, in order, to the bucket name of dst, in
// transactions of compactTxBytes, releasing the source's pages on the way.
func copyBucket(dst *bolt.DB, name []byte, b *bolt.Bucket, pages *pager) error {
	read := meter{p: pages}
	defer read.flush()
	tx, err := dst.Begin(true)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // after a Commit, a no-op
	open := func() (*bolt.Bucket, error) {
		out, err := tx.CreateBucketIfNotExists(name)
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", name, err)
		}
		out.FillPercent = 1 // keys come in order: full pages
		return out, nil
	}
	out, err := open()
	if err != nil {
		return err
	}
	if err := out.SetSequence(b.Sequence()); err != nil {
		return fmt.Errorf("bucket %s: %w", name, err)
	}
	pending := 0
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			return fmt.Errorf("bucket %s: nested bucket %q: the layout has none", name, k)
		}
		// a copy: v points into the source's map, and the commit would
		// touch every value again after the meter released them
		if err := out.Put(k, bytes.Clone(v)); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
		read.add(len(k) + len(v))
		if pending += len(k) + len(v); pending >= compactTxBytes {
			if err := tx.Commit(); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
			if tx, err = dst.Begin(true); err != nil {
				return err
			}
			if out, err = open(); err != nil {
				return err
			}
			pending = 0
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("bucket %s: %w", name, err)
	}
	return nil
}

// syncDir makes a rename in dir durable (Windows cannot sync a directory;
// there the rename is as durable as NTFS makes it).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

//go:build !linux

package localfs

// wholeSync is nil where there is no syncfs(2): each Commit then syncs its
// own file and directory (writer.commit).
func wholeSync(dir string) func() error { return nil }

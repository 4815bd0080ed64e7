//go:build !linux

package smalldisk

import "testing"

// Mount skips the test: a small disk is a tmpfs mount, made on Linux only.
func Mount(t testing.TB, size int64) *Disk {
	t.Helper()
	t.Skip("a small disk is a tmpfs mount, made on Linux only")
	return nil
}

// Avail is not reached: Mount skips the test.
func (d *Disk) Avail() int64 {
	d.t.Helper()
	d.t.Fatal("a small disk is a tmpfs mount, made on Linux only")
	return 0
}

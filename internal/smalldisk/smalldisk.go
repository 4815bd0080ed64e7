// Package smalldisk gives tests a real file system that runs out of space:
// a tmpfs of a few hundred KiB mounted in the test's temporary directory.
// Writes past its size fail with ENOSPC, as on a full disk, so the code
// under test meets the error where the kernel gives it, not a fake of it.
//
// Mounting needs root (CAP_SYS_ADMIN) on Linux; elsewhere, or without the
// capability, Mount skips the test and says why.
package smalldisk

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Disk is a mounted tmpfs.
type Disk struct {
	Dir string
	t   testing.TB
}

// Fill writes a filler file so that about free bytes are left, rounded down
// to whole pages; earlier filler is removed first.
func (d *Disk) Fill(free int64) {
	d.t.Helper()
	d.Free()
	avail := d.Avail()
	if avail <= free {
		return
	}
	f, err := os.Create(filepath.Join(d.Dir, ".filler"))
	if err != nil {
		d.t.Fatal(err)
	}
	defer f.Close()
	buf := bytes.Repeat([]byte{0xAB}, 4096)
	for left := avail - free; left > 0; left -= int64(len(buf)) {
		n := min(left, int64(len(buf)))
		if _, err := f.Write(buf[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			d.t.Fatal(err)
		}
	}
}

// FillUp leaves no space at all.
func (d *Disk) FillUp() { d.Fill(0) }

// Free removes the filler written by Fill.
func (d *Disk) Free() {
	d.t.Helper()
	if err := os.Remove(filepath.Join(d.Dir, ".filler")); err != nil && !errors.Is(err, os.ErrNotExist) {
		d.t.Fatal(err)
	}
}

//go:build unix

package store

import (
	"os"
	"syscall"

	"go.etcd.io/bbolt"
)

// mapFile maps the first size bytes of f read-only, for checkPages: its
// reads of the pages are then the page cache's, with no system call each.
func mapFile(f *os.File, size int64) ([]byte, func(), error) {
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return data, func() { _ = syscall.Munmap(data) }, nil
}

// releaseMapped drops from the process's memory the pages of bbolt's map
// of the file's first size bytes (madvise MADV_DONTNEED on a shared file
// map: the pages stay in the page cache and are read back from it when
// used). After bbolt has rebuilt its list of free pages by reading every
// page through the map, they would otherwise count in the process's
// resident memory, about the file's size, until the kernel needs them.
func releaseMapped(db *bbolt.DB, size int64) {
	if size <= 0 {
		return
	}
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, db.Info().Data, uintptr(size), uintptr(syscall.MADV_DONTNEED))
}

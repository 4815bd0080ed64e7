package store

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/parleyhq/parley/internal/smalldisk"
)

// A store file that cannot be created whole on a full disk is not left
// behind, so that once there is room the next Open makes a new store
// instead of refusing an empty file.
func TestOpenCreateFullDisk(t *testing.T) {
	disk := smalldisk.Mount(t, 256<<10)
	disk.FillUp()
	path := filepath.Join(disk.Dir, "parley.db")
	b, err := Open(path, Options{})
	if err == nil {
		b.Close()
		t.Fatal("Open on a full disk: no error")
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Open on a full disk: %v, want no space left on device", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the file after the failed creation: %v, want none", err)
	}
	disk.Free()
	b, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("Open once the disk has room: %v", err)
	}
	b.Close()
}

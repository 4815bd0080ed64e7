package store

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// limitFileSize sets the process's file size limit (ulimit -f) to n bytes
// until the test ends. Writes past it fail with EFBIG; the Go runtime
// ignores the SIGXFSZ that comes with them. The limit is the process's, so
// it holds for the file in which the testing package logs the files tests
// open (for go test's cache), which it writes as it goes: n must be above
// that file's size (testLogRoom), or the package fails writing it.
func limitFileSize(t *testing.T, n uint64) {
	t.Helper()
	if room := testLogRoom(); n < room {
		t.Fatalf("a file size limit of %d bytes is below the %d the test log needs", n, room)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: old.Max}); err != nil {
		t.Skipf("cannot set the file size limit: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Errorf("restore the file size limit: %v", err)
		}
	})
}

// testLogRoom is the least file size limit that leaves the testing
// package's log of opened files (-test.testlogfile, set by go test when
// it may cache the result) room to grow by a few MiB while the limit holds;
// 0 when there is no such log.
func testLogRoom() uint64 {
	f := flag.Lookup("test.testlogfile")
	if f == nil || f.Value.String() == "" {
		return 0
	}
	fi, err := os.Stat(f.Value.String())
	if err != nil {
		return 0
	}
	return uint64(fi.Size()) + 4<<20
}

// A commit that needs the file to grow past the file size limit fails
// with ErrFileTooLarge, which bbolt's "file resize error" no longer wraps,
// and is the store's write failure, which holds writes back (TryWrite)
// but for one a DefaultWriteProbeInterval.
func TestWriteFileTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	var now atomic.Pointer[time.Time]
	now.Store(&t0)
	b, err := Open(path, Options{Now: func() time.Time { return *now.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustSave(t, b, bigTurn("1", 300<<10))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// The file grows past the room the test log needs, so that the limit
	// set at its size stops the store, not the log.
	for i := 0; uint64(fi.Size()) < testLogRoom(); i++ {
		mustSave(t, b, bigTurn(fmt.Sprintf("1%d", i), 300<<10))
		if fi, err = os.Stat(path); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.TryWrite(); err != nil {
		t.Fatalf("TryWrite while writes succeed: %v", err)
	}
	limitFileSize(t, uint64(fi.Size()))
	// The turns fill what room the file has left, up to the one whose
	// commit needs it to grow.
	for i := 0; i < 100; i++ {
		if err = b.SaveTurn(context.Background(), bigTurn(fmt.Sprintf("2%d", i), 300<<10)); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFileTooLarge) || !strings.HasPrefix(err.Error(), "the store file has reached the file size limit: ") ||
		!strings.HasSuffix(err.Error(), "file too large") {
		t.Fatalf("SaveTurn past the file size limit: %v, want ErrFileTooLarge", err)
	}
	if f := b.LastWriteFailure(); f == nil || !errors.Is(f.Err, ErrFileTooLarge) {
		t.Errorf("LastWriteFailure: %v, want the file size limit", f)
	}
	var held *WritesHeldError
	if err := b.TryWrite(); !errors.As(err, &held) || !errors.Is(err, ErrFileTooLarge) ||
		held.RetryAfter <= 0 || held.RetryAfter > DefaultWriteProbeInterval || !b.WritesHeld() {
		t.Fatalf("TryWrite right after the failure: %v, want the writes held for up to %s", err, DefaultWriteProbeInterval)
	}
	later := t0.Add(DefaultWriteProbeInterval)
	now.Store(&later)
	if b.WritesHeld() {
		t.Error("WritesHeld a probe interval after the failure")
	}
	if err := b.TryWrite(); err != nil {
		t.Errorf("TryWrite a probe interval after the failure: %v, want one write let through", err)
	}
	if err := b.TryWrite(); !errors.As(err, &held) {
		t.Errorf("TryWrite after the one let through: %v, want it held", err)
	}
}

// The system's errors of a failed commit are the store's errors for their
// cause, whether they wrap the errno or, as bbolt words a failure to grow
// or sync the file, only end with its text.
func TestWriteErrorCauses(t *testing.T) {
	for _, c := range []struct {
		errno syscall.Errno
		want  error
	}{
		{syscall.ENOSPC, ErrDiskFull},
		{syscall.EDQUOT, ErrDiskQuota},
		{syscall.EFBIG, ErrFileTooLarge},
		{syscall.EROFS, ErrReadOnly},
		{syscall.EIO, ErrDiskIO},
	} {
		wrapped := &os.PathError{Op: "write", Path: "/data/parley.db", Err: c.errno}
		resize := errors.New("file resize error: truncate /data/parley.db: " + c.errno.Error())
		for _, err := range []error{wrapped, resize} {
			got := writeError(err)
			if !errors.Is(got, c.want) || got.Error() != c.want.Error()+": "+err.Error() {
				t.Errorf("writeError(%v) = %v, want %v", err, got, c.want)
			}
			if again := writeError(got); again != got {
				t.Errorf("writeError of its own error %v: %v, want it unchanged", got, again)
			}
		}
	}
	other := errors.New("something else")
	if got := writeError(other); got != other {
		t.Errorf("writeError(%v) = %v, want it unchanged", other, got)
	}
}

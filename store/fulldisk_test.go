package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/smalldisk"
)

// A store file that cannot be created whole on a full disk is not left
// behind, so that once there is room the next Open makes a new store
// instead of refusing an empty file.
func TestOpenCreateFullDisk(t *testing.T) {
	// No room at all (bbolt cannot write the new file's first pages), and
	// room for those pages but not for the buckets Open creates in them.
	for _, free := range []int64{0, 16 << 10} {
		disk := smalldisk.Mount(t, 256<<10)
		disk.Fill(free)
		path := filepath.Join(disk.Dir, "parley.db")
		b, err := Open(path, Options{})
		if err == nil {
			b.Close()
			t.Fatalf("Open with %d bytes free: no error", free)
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("Open with %d bytes free: %v, want no space left on device", free, err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the file after the failed creation with %d bytes free: %v, want none", free, err)
		}
		disk.Free()
		b, err = Open(path, Options{})
		if err != nil {
			t.Fatalf("Open once the disk has room: %v", err)
		}
		b.Close()
	}
}

// A commit that fails on a full disk fails its writes with ErrDiskFull,
// is counted, and is the store's last write failure until a commit
// succeeds again.
func TestWriteDiskFull(t *testing.T) {
	disk := smalldisk.Mount(t, 4<<20)
	ctx := context.Background()
	var now atomic.Pointer[time.Time]
	now.Store(&t0)
	b, err := Open(filepath.Join(disk.Dir, "parley.db"), Options{Now: func() time.Time { return *now.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	big := func(id string) *Turn {
		s := session(id, flows.StatusWaiting, "tel:+1"+id)
		notes := make([]byte, 200<<10)
		rand.Read(notes)
		s.Contact.Fields = map[string]string{"notes": hex.EncodeToString(notes)}
		return &Turn{Session: s}
	}
	mustSave(t, b, big("1"))
	if f := b.LastWriteFailure(); f != nil {
		t.Fatalf("a write failure after a good commit: %v", f.Err)
	}

	disk.FillUp()
	err = b.SaveTurn(ctx, big("2"))
	if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) || !strings.HasPrefix(err.Error(), "the store's disk is full: ") {
		t.Fatalf("SaveTurn on a full disk: %v, want ErrDiskFull", err)
	}
	first := b.LastWriteFailure()
	if first == nil || !first.Since.Equal(first.At) {
		t.Fatalf("LastWriteFailure after the first failed commit: %+v, want one failure", first)
	}
	later := t0.Add(time.Second)
	now.Store(&later)
	if _, err := b.SaveFlow(ctx, NewFlow{ID: "f", Definition: []byte(`{"pad":"` + strings.Repeat("x", 100<<10) + `"}`)}); !errors.Is(err, ErrDiskFull) {
		t.Errorf("SaveFlow on a full disk: %v, want ErrDiskFull", err)
	}
	if f := b.LastWriteFailure(); f == nil || !errors.Is(f.Err, ErrDiskFull) {
		t.Errorf("LastWriteFailure after failed commits: %v", f)
	} else if !f.Since.Equal(first.Since) || !f.At.After(first.At) {
		t.Errorf("LastWriteFailure after two failed commits: since %v, at %v; want since the first (%v), at the latest",
			f.Since, f.At, first.At)
	}
	if n := b.CommitStats().Failed; n != 2 {
		t.Errorf("CommitStats().Failed %d, want 2", n)
	}
	if _, err := b.LoadSession(ctx, "2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the session of the failed commit: %v, want not found", err)
	}

	disk.Free()
	mustSave(t, b, big("2"))
	if f := b.LastWriteFailure(); f != nil {
		t.Errorf("LastWriteFailure after a commit succeeded again: %v", f.Err)
	}
}

// Compact on a disk without room for its copy fails and leaves neither
// the copy nor a backup name behind; the original is untouched.
func TestCompactFullDisk(t *testing.T) {
	disk := smalldisk.Mount(t, 4<<20)
	path := filepath.Join(disk.Dir, "parley.db")
	b, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := SeedWaiting(context.Background(), b, 0, 300, 0, nil); err != nil {
		t.Fatal(err)
	}
	b.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, free := range []int64{0, 8 << 10, 64 << 10} {
		disk.Fill(free)
		_, err := Compact(context.Background(), path, CompactOptions{})
		if !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("Compact with %d bytes free: %v, want no space left on device", free, err)
		}
		for _, left := range []string{path + ".compact", path + BackupSuffix} {
			if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Compact with %d bytes free left %s: %v", free, left, err)
			}
		}
		if after, err := os.ReadFile(path); err != nil || string(after) != string(before) {
			t.Errorf("Compact with %d bytes free changed the original (%v)", free, err)
		}
	}
}

// bigTurn is a new waiting session whose contact carries size bytes of
// notes (twice that in hex): a commit that needs the file to grow.
func bigTurn(id string, size int) *Turn {
	s := session(id, flows.StatusWaiting, "tel:+1"+id)
	notes := make([]byte, size)
	rand.Read(notes)
	s.Contact.Fields = map[string]string{"notes": hex.EncodeToString(notes)}
	return &Turn{Session: s}
}

// A file whose commits do not write the list of free pages (one with many
// of them) gets the list on file once a commit fails writing it, so that
// the commits failing after it do not each rebuild the list by reading the
// whole file, and a crash while writes fail leaves a file whose next start
// reads the list instead of rebuilding it.
func TestWriteDiskFullListsFreePages(t *testing.T) {
	disk := smalldisk.Mount(t, 4<<20)
	ctx := context.Background()
	path := filepath.Join(disk.Dir, "parley.db")
	b, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.unsyncFrom = 0 // commits write no list, as in a file with many free pages
	if err := SeedWaiting(ctx, b, 0, 300, 0, nil); err != nil {
		t.Fatal(err)
	}
	mustSave(t, b, bigTurn("1", 100<<10))
	if freelistOnFile(path) {
		t.Fatal("the list of free pages is on file after a commit that should not write it")
	}

	disk.FillUp()
	for i := range 2 {
		if err := b.SaveTurn(ctx, bigTurn(fmt.Sprintf("2%d", i), 200<<10)); !errors.Is(err, ErrDiskFull) {
			t.Fatalf("SaveTurn on a full disk: %v, want ErrDiskFull", err)
		}
	}
	// The file as a crash now would leave it.
	crashed := filepath.Join(t.TempDir(), "parley.db")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crashed, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuilder
	st, err := Open(crashed, Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if strings.Contains(logs.String(), "rebuilt") {
		t.Errorf("the start after a crash while writes failed rebuilt the list of free pages:\n%s", logs.String())
	}
	if _, err := st.LoadSession(ctx, "1"); err != nil {
		t.Errorf("the session saved before the disk filled up, after the crash: %v", err)
	}
	if _, err := st.LoadSession(ctx, "20"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the session of the failed commit, after the crash: %v, want not found", err)
	}

	disk.Free()
	mustSave(t, b, bigTurn("20", 200<<10))
	if f := b.LastWriteFailure(); f != nil {
		t.Errorf("LastWriteFailure after a commit succeeded again: %v", f.Err)
	}
}

// BenchmarkWriteDiskFull is the cost of a commit that fails on a full disk,
// on a file of PARLEY_BENCH_SESSIONS waiting sessions (default 100,000)
// whose commits do not write the list of free pages, as one with many free
// pages: bbolt rebuilds the list after a failed commit, from the list on
// file when there is one, else by reading every page. The first failure is
// not timed.
func BenchmarkWriteDiskFull(b *testing.B) {
	n := benchSessions(b, 100_000)
	disk := smalldisk.Mount(b, int64(n)*1200+64<<20)
	ctx := context.Background()
	st, err := Open(filepath.Join(disk.Dir, "parley.db"), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	st.unsyncFrom = 0
	if err := SeedWaiting(ctx, st, 0, n, 0, nil); err != nil {
		b.Fatal(err)
	}
	disk.FillUp()
	turn := bigTurn("big", 1<<20)
	if err := st.SaveTurn(ctx, turn); !errors.Is(err, ErrDiskFull) {
		b.Fatalf("SaveTurn on a full disk: %v, want ErrDiskFull", err)
	}
	cpu := startCPU()
	for b.Loop() {
		if err := st.SaveTurn(ctx, turn); !errors.Is(err, ErrDiskFull) {
			b.Fatalf("SaveTurn on a full disk: %v, want ErrDiskFull", err)
		}
	}
	cpu.report(b, b.N)
}

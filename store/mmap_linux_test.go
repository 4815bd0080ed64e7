package store

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// A process that may not map ServingMmapSize (ulimit -v) still opens its
// store, with a map of the file's size, and says why in a warning. The
// test runs itself again in a process with that limit.
func TestOpenMapLimited(t *testing.T) {
	if dir := os.Getenv("PARLEY_TEST_MAP_LIMITED"); dir != "" {
		openMapLimited(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenMapLimited$", "-test.v")
	cmd.Env = append(os.Environ(), "PARLEY_TEST_MAP_LIMITED="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("the run under an address space limit: %v\n%s", err, out)
	}
}

// openMapLimited limits the process's address space to what it uses and
// 256 MiB more, less than ServingMmapSize, and opens a store with it.
func openMapLimited(t *testing.T, dir string) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	var vmKB uint64
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmSize:" {
			vmKB, _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	if vmKB == 0 {
		t.Fatal("no VmSize in /proc/self/status")
	}
	limit := vmKB<<10 + 256<<20
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "parley.db")
	var logs bytes.Buffer
	b, err := Open(path, Options{NoSync: true, InitialMmapSize: ServingMmapSize(path), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("open under a %d MiB address space limit: %v", limit>>20, err)
	}
	defer b.Close()
	if err := SeedWaiting(context.Background(), b, 0, 100, 0, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "could not be mapped with room to grow") {
		t.Errorf("no warning about the map:\n%s", logs.String())
	}
}

// A start after a crash rebuilds bbolt's list of free pages by reading
// every page through its map; those pages do not stay in the process's
// resident memory afterwards (the 1,000,000-session file would leave
// ~900 MB there), and the store still reads its sessions.
func TestRebuiltListLeavesFileOutOfResidentMemory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	st, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	const sessions = 20_000
	if err := SeedWaiting(context.Background(), st, 0, sessions, 0, nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	stripFreelist(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	st, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rss := mappedRSS(t, path)
	if limit := fi.Size() / 10; rss > limit {
		t.Errorf("after a start that rebuilt the list of free pages, %d bytes of the %d-byte file resident in the process, want at most %d", rss, fi.Size(), limit)
	}
	for _, i := range []int{0, sessions / 2, sessions - 1} {
		sess, err := st.WaitingSession(context.Background(), "sample", fmt.Sprintf("tel:+1555%07d", i))
		if err != nil || sess == nil || sess.ID != sampleID(i) {
			t.Errorf("after the start, the waiting session of contact %d: %v %v", i, sess, err)
		}
	}
}

// mappedRSS is the resident size of the process's maps of the file at
// path, from /proc/self/smaps.
func mappedRSS(t *testing.T, path string) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	var total int64
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			// A map's first line: addresses, permissions, offset, device,
			// inode and, for a file, its path.
			in = len(fields) >= 6 && fields[5] == path
			continue
		}
		if in && len(fields) == 3 && fields[0] == "Rss:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			total += kb << 10
		}
	}
	return total
}

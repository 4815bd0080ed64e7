package store

import (
	"bytes"
	"context"
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

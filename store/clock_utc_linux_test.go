package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York for the child process, whatever the machine has
)

// tzChildEnv marks the run of TestStoreClockIsUTC in a child process with
// a time zone of its own.
const tzChildEnv = "PARLEY_STORE_TZ_CHILD"

// The store's own clock, which a store opened without one (the seeding
// tools', parley bench's in-process server's) reads, is in UTC whatever the
// machine's time zone, as the server's is: the times it gives, a write
// failure's too, are UTC times. The test runs itself again under
// TZ=America/New_York.
func TestStoreClockIsUTC(t *testing.T) {
	if os.Getenv(tzChildEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStoreClockIsUTC$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), tzChildEnv+"=1", "TZ=America/New_York")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the test under TZ=America/New_York: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "--- SKIP") {
			t.Skipf("the test under TZ=America/New_York skipped:\n%s", out)
		}
		return
	}
	if _, off := time.Now().Zone(); off == 0 {
		t.Fatalf("TZ=America/New_York: the local time zone has offset 0")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	b, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	if err := b.Seed(ctx, []NewFlow{{ID: "seeded", Name: "Seeded", Definition: []byte(`{}`)}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SaveFlow(ctx, NewFlow{ID: "saved", Name: "Saved", Definition: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"seeded", "saved"} {
		f, err := b.GetFlow(ctx, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if f.CreatedAt.Location() != time.UTC {
			t.Errorf("flow %s created at %v, want a UTC time", id, f.CreatedAt)
		}
	}

	// A commit that fails, past the file size limit: the failure is dated
	// by the store's clock.
	mustSave(t, b, bigTurn("1", 300<<10))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	limitFileSize(t, uint64(fi.Size()))
	for i := 0; i < 100; i++ {
		if err = b.SaveTurn(ctx, bigTurn(fmt.Sprintf("2%d", i), 300<<10)); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFileTooLarge) {
		t.Fatalf("SaveTurn past the file size limit: %v, want ErrFileTooLarge", err)
	}
	f := b.LastWriteFailure()
	if f == nil {
		t.Fatal("no write failure after a commit failed")
	}
	if f.Since.Location() != time.UTC || f.At.Location() != time.UTC {
		t.Errorf("the write failure is dated since %v, at %v; want UTC times", f.Since, f.At)
	}
}

package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// storeWith writes a store file at path holding the waiting sessions ids.
func storeWith(t *testing.T, path string, ids ...string) {
	t.Helper()
	b, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		mustSave(t, b, &Turn{Session: session(id, flows.StatusWaiting, "tel:+1"+string(rune('0'+i))), Channel: "sms"})
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// replacedWhileWaiting holds path's lock as another process would, runs
// open in a goroutine, and once open has opened the file puts a store
// holding session "new" in its place and releases the lock, as parley
// compact does when it finishes. It returns open's outcome.
func replacedWhileWaiting[T any](t *testing.T, path string, open func() (T, error)) (T, error) {
	t.Helper()
	storeWith(t, path, "old")
	held, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	opened := make(chan struct{}, 1)
	openedHook = func(string) {
		select {
		case opened <- struct{}{}:
		default:
		}
	}
	t.Cleanup(func() { openedHook = nil })
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := open()
		done <- result{v, err}
	}()
	<-opened // open has the old file and waits for its lock
	repl := filepath.Join(filepath.Dir(path), "replacement.db")
	storeWith(t, repl, "old", "new")
	if err := os.Rename(repl, path); err != nil {
		t.Fatal(err)
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	return r.v, r.err
}

// A store opened while another process holds the file and then renames
// another file over it (parley compact finishing) is the new file, not the
// old one that no longer has a name: writes made then survive a restart.
func TestOpenFileReplacedWhileWaitingForLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	b, err := replacedWhileWaiting(t, path, func() (*Bolt, error) {
		return Open(path, Options{NoSync: true, LockTimeout: 10 * time.Second})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.LoadSession(ctx, "new"); err != nil {
		t.Errorf("the session of the file now at %s: %v", path, err)
	}
	mustSave(t, b, &Turn{Session: session("after", flows.StatusWaiting, "tel:+1999"), Channel: "sms"})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, id := range []string{"old", "new", "after"} {
		if _, err := b.LoadSession(ctx, id); err != nil {
			t.Errorf("session %q after reopening: %v", id, err)
		}
	}
}

// A compaction that waited for the lock while another one replaced the file
// compacts the replacement, and so keeps what it holds.
func TestCompactFileReplacedWhileWaitingForLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	_, err := replacedWhileWaiting(t, path, func() (CompactResult, error) {
		return Compact(ctx, path, CompactOptions{NoBackup: true, LockTimeout: 10 * time.Second})
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.LoadSession(ctx, "new"); err != nil {
		t.Errorf("the replacement's session after compaction: %v", err)
	}
}

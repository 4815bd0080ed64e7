package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
)

// TestWritesStopWhenFileReplaced: once the store file has been replaced
// while the store has it open (a copy moved into its place, or copied over
// it), the next write that checks it fails with ErrFileReplaced, writes
// nothing into the file now there, and the failure is reported; the file,
// closed and opened again, holds what it held when it was put there.
func TestWritesStopWhenFileReplaced(t *testing.T) {
	restores := map[string]func(t *testing.T, path string, copy []byte){
		"moved into place": func(t *testing.T, path string, copy []byte) {
			if err := os.WriteFile(path+".restore", copy, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(path+".restore", path); err != nil {
				t.Fatal(err)
			}
		},
		"copied over it": func(t *testing.T, path string, copy []byte) {
			if err := os.WriteFile(path, copy, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"removed": func(t *testing.T, path string, _ []byte) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, restore := range restores {
		t.Run(name, func(t *testing.T) {
			c := &clock{now: t0}
			path := filepath.Join(t.TempDir(), "parley.db")
			b, err := Open(path, Options{Now: c.Now, NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			mustSave(t, b, &Turn{Session: session("before", flows.StatusWaiting, "tel:+1"), Channel: "sms"})
			copy, err := os.ReadFile(path) // a copy of the file while nothing writes it
			if err != nil {
				t.Fatal(err)
			}
			mustSave(t, b, &Turn{Session: session("after", flows.StatusWaiting, "tel:+2"), Channel: "sms"})

			restore(t, path, copy)
			c.Set(t0.Add(FileCheckInterval))
			err = b.SaveTurn(context.Background(), &Turn{Session: session("lost", flows.StatusWaiting, "tel:+3"), Channel: "sms"})
			if !errors.Is(err, ErrFileReplaced) {
				t.Fatalf("a turn saved after the file was replaced: %v, want ErrFileReplaced", err)
			}
			if f := b.LastWriteFailure(); f == nil || !errors.Is(f.Err, ErrFileReplaced) {
				t.Errorf("LastWriteFailure after the file was replaced: %+v, want ErrFileReplaced", f)
			}
			// No turn is let through to find out whether writes succeed
			// again, however long after: none will before a restart, so
			// no time to retry after is given.
			for _, after := range []time.Duration{0, DefaultWriteProbeInterval, time.Hour} {
				c.Set(t0.Add(FileCheckInterval + after))
				var held *WritesHeldError
				if err := b.TryWrite(); !errors.As(err, &held) {
					t.Errorf("TryWrite on a replaced file %s after it was found: %v, want a WritesHeldError", after, err)
				} else if held.RetryAfter != 0 {
					t.Errorf("TryWrite on a replaced file %s after it was found: retry after %s, want none", after, held.RetryAfter)
				}
			}
			// Later writes fail too, checked or not.
			c.Set(t0.Add(10 * FileCheckInterval))
			if err := b.SaveTurn(context.Background(), &Turn{Session: session("lost2", flows.StatusWaiting, "tel:+4"), Channel: "sms"}); !errors.Is(err, ErrFileReplaced) {
				t.Errorf("a later turn: %v, want ErrFileReplaced", err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if name == "removed" {
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("the store made a file again where it was removed: %v", err)
				}
				return
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, copy) {
				t.Fatalf("the store wrote into the file put in its place (%d bytes, the copy %d)", len(got), len(copy))
			}
			b, err = Open(path, Options{Now: c.Now, NoSync: true})
			if err != nil {
				t.Fatalf("the file put in place does not open: %v", err)
			}
			defer b.Close()
			for id, want := range map[string]bool{"before": true, "after": false, "lost": false} {
				_, err := b.LoadSession(context.Background(), id)
				if got := err == nil; got != want {
					t.Errorf("session %q stored: %v, want %v (%v)", id, got, want, err)
				}
			}
		})
	}
}

// TestOwnFileNotTakenForReplaced: a store whose file is its own keeps
// writing however often its file is checked.
func TestOwnFileNotTakenForReplaced(t *testing.T) {
	b, c := openTest(t)
	for i, id := range []string{"a", "b", "c"} {
		c.Set(t0.Add(FileCheckInterval * time.Duration(i)))
		mustSave(t, b, &Turn{Session: session(id, flows.StatusWaiting, "tel:+"+id), Channel: "sms"})
	}
	if err := b.CheckFile(); err != nil {
		t.Fatalf("CheckFile of the store's own file: %v", err)
	}
	if f := b.LastWriteFailure(); f != nil {
		t.Fatalf("a write failure reported on the store's own file: %v", f.Err)
	}
}

// BenchmarkCheckFile measures the check that the store file is still the
// store's own: made by each GET /healthz, and before a write at most once a
// second.
func BenchmarkCheckFile(b *testing.B) {
	st, _ := openTest(b)
	mustSave(b, st, &Turn{Session: session("a", flows.StatusWaiting, "tel:+1"), Channel: "sms"})
	for b.Loop() {
		if err := st.CheckFile(); err != nil {
			b.Fatal(err)
		}
	}
}

package store

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A store file that is a symbolic link to a file elsewhere (a data
// directory whose parley.db lives on a larger volume) is compacted where
// it lives: the copy is written next to that file and takes its place, the
// original is kept beside it, and the link is left as it was, pointing at
// the compacted file. The store never moves to the link's directory.
func TestCompactThroughSymlink(t *testing.T) {
	real, kept := compactFixture(t, 1000)
	dataDir := t.TempDir()
	link := filepath.Join(dataDir, "parley.db")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	for _, noBackup := range []bool{false, true} {
		res, err := Compact(context.Background(), link, CompactOptions{NoBackup: noBackup})
		if err != nil {
			t.Fatal(err)
		}
		if target, err := os.Readlink(link); err != nil || target != real {
			t.Fatalf("--no-backup %v: %s is no longer the link to %s (%q, %v)", noBackup, link, real, target, err)
		}
		if fi, err := os.Stat(real); err != nil || fi.Size() != res.BytesAfter {
			t.Errorf("--no-backup %v: %s: %v, %v; want the compacted file of %d bytes", noBackup, real, fi, err, res.BytesAfter)
		}
		want := ""
		if !noBackup {
			want = real + BackupSuffix
		}
		if res.Backup != want {
			t.Errorf("--no-backup %v: backup %q; want %q", noBackup, res.Backup, want)
		}
		if entries, _ := os.ReadDir(dataDir); len(entries) != 1 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("--no-backup %v: the link's directory holds %v; want the link alone", noBackup, names)
		}
	}
	// A partial copy a compaction left beside the file is named at start.
	if err := os.WriteFile(real+CompactSuffix, make([]byte, 4321), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	b, err := Open(link, Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.Contains(logs.String(), "parley compact that did not finish") || !strings.Contains(logs.String(), real+CompactSuffix) {
		t.Errorf("no warning naming %s:\n%s", real+CompactSuffix, logs.String())
	}
	for _, id := range kept {
		if _, err := b.LoadSession(context.Background(), id); err != nil {
			t.Errorf("session %s after compacting through the link: %v", id, err)
		}
	}
}

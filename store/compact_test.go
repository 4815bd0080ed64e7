package store

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// compactFixture stores n waiting sample sessions, then deletes all but
// every tenth, so most of the file is free pages. It returns the path and
// the ids kept.
func compactFixture(t *testing.T, n int) (string, []string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	b, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if err := SeedWaiting(ctx, b, 0, n, 0, func(i int) *flows.Session { return SampleSession(i, now) }); err != nil {
		t.Fatal(err)
	}
	var kept []string
	for i := range n {
		id := SampleSession(i, now).ID
		if i%10 == 0 {
			kept = append(kept, id)
			continue
		}
		if err := b.DeleteSession(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	return path, kept
}

// Compact gives back the pages that deletes freed, keeps every session,
// counter and bucket sequence, and leaves the original as a backup.
func TestCompact(t *testing.T) {
	ctx := context.Background()
	path, kept := compactFixture(t, 3000)
	res, err := Compact(ctx, path, CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.BytesAfter*3 > res.BytesBefore {
		t.Errorf("file %d → %d bytes: expected it to shrink to less than a third", res.BytesBefore, res.BytesAfter)
	}
	if res.Keys == 0 || res.Buckets < int64(len(allBuckets)) {
		t.Errorf("checked %d keys in %d buckets", res.Keys, res.Buckets)
	}
	if res.Backup != path+BackupSuffix {
		t.Errorf("backup %q", res.Backup)
	}
	if fi, err := os.Stat(res.Backup); err != nil || fi.Size() != res.BytesBefore {
		t.Errorf("backup: %v, %v", fi, err)
	}
	if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary copy left behind: %v", err)
	}

	b, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st, err := b.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sessions[flows.StatusWaiting] != int64(len(kept)) {
		t.Errorf("%d waiting sessions counted after compaction, want %d", st.Sessions[flows.StatusWaiting], len(kept))
	}
	for _, id := range kept {
		s, err := b.LoadSession(ctx, id)
		if err != nil || s.Status != flows.StatusWaiting {
			t.Fatalf("LoadSession(%s) after compaction: %v %v", id, s, err)
		}
	}
	// The record sequence carried over: a new session takes a fresh record
	// and overwrites none of the kept ones.
	s := session("after-compact", flows.StatusWaiting, "tel:+1999")
	if err := b.SaveTurn(ctx, &Turn{Session: s, Channel: "sms"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range append(kept, s.ID) {
		if got, err := b.LoadSession(ctx, id); err != nil || got.ID != id {
			t.Fatalf("LoadSession(%s) after a new session: %v %v", id, got, err)
		}
	}
}

func TestCompactRefuses(t *testing.T) {
	ctx := context.Background()
	path, _ := compactFixture(t, 50)

	// A store open elsewhere (a running server) holds the lock.
	b, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compact(ctx, path, CompactOptions{LockTimeout: 100 * time.Millisecond})
	b.Close()
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("compacting an open store: %v, want an error saying it is in use", err)
	}

	// A backup left by an earlier run is not overwritten.
	if err := os.WriteFile(path+BackupSuffix, []byte("earlier"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Compact(ctx, path, CompactOptions{}); err == nil || !strings.Contains(err.Error(), BackupSuffix) {
		t.Fatalf("with a backup present: %v", err)
	}
	if v, _ := os.ReadFile(path + BackupSuffix); string(v) != "earlier" {
		t.Fatal("the earlier backup was overwritten")
	}

	// --no-backup replaces the file and keeps nothing else.
	res, err := Compact(ctx, path, CompactOptions{NoBackup: true})
	if err != nil || res.Backup != "" {
		t.Fatalf("NoBackup: %+v %v", res, err)
	}
	if _, err := Compact(ctx, filepath.Join(t.TempDir(), "missing.db"), CompactOptions{}); err == nil {
		t.Fatal("compacted a file that does not exist")
	}
}

// The check before the copy replaces the original notices any difference.
func TestSameContent(t *testing.T) {
	ctx := context.Background()
	open := func(name string, fill func(tx *bbolt.Tx) error) *bbolt.DB {
		db, err := bbolt.Open(filepath.Join(t.TempDir(), name), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Update(fill); err != nil {
			t.Fatal(err)
		}
		return db
	}
	base := func(tx *bbolt.Tx) error {
		b, _ := tx.CreateBucket([]byte("a"))
		b.SetSequence(7)
		b.Put([]byte("k1"), []byte("v1"))
		b.Put([]byte("k2"), nil)
		n, _ := b.CreateBucket([]byte("nested"))
		n.Put([]byte("x"), []byte("y"))
		_, err := tx.CreateBucket([]byte("b"))
		return err
	}
	orig := open("orig.db", base)
	same := open("same.db", base)
	if keys, buckets, err := sameContent(ctx, orig, same); err != nil || keys != 3 || buckets != 3 {
		t.Fatalf("identical files: %d keys, %d buckets, %v", keys, buckets, err)
	}
	for name, change := range map[string]func(tx *bbolt.Tx) error{
		"value":       func(tx *bbolt.Tx) error { return tx.Bucket([]byte("a")).Put([]byte("k1"), []byte("v2")) },
		"missing key": func(tx *bbolt.Tx) error { return tx.Bucket([]byte("a")).Delete([]byte("k2")) },
		"extra key":   func(tx *bbolt.Tx) error { return tx.Bucket([]byte("b")).Put([]byte("z"), []byte("1")) },
		"sequence":    func(tx *bbolt.Tx) error { return tx.Bucket([]byte("a")).SetSequence(8) },
		"nested value": func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("a")).Bucket([]byte("nested")).Put([]byte("x"), []byte("z"))
		},
		"missing bucket": func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte("b")) },
		"extra bucket":   func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("c")); return err },
	} {
		other := open(name+".db", func(tx *bbolt.Tx) error {
			if err := base(tx); err != nil {
				return err
			}
			return change(tx)
		})
		if _, _, err := sameContent(ctx, orig, other); err == nil {
			t.Errorf("%s: no difference found", name)
		}
	}
}

// TestOpenWarnsFragmented: a file with many free pages gets a warning at
// Open that names the free bytes and parley compact, and the warning goes
// once the file is compacted.
func TestOpenWarnsFragmented(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	open := func() (*Bolt, string) {
		var logs strings.Builder
		st, err := Open(path, Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		return st, logs.String()
	}
	if _, logs := open(); strings.Contains(logs, "level=WARN") {
		t.Fatalf("a new file was reported fragmented:\n%s", logs)
	}
	// Free more than FragmentedFreePages pages by dropping a bucket of
	// values longer than a page.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	name := []byte("scratch")
	err = db.Update(func(tx *bbolt.Tx) error {
		bk, err := tx.CreateBucket(name)
		if err != nil {
			return err
		}
		val := make([]byte, 5000)
		for i := range FragmentedFreePages {
			if err := bk.Put([]byte(strconv.Itoa(i)), val); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(name) })
	}
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	st, logs := open()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "parley compact") {
		t.Fatalf("no warning for a fragmented file:\n%s", logs)
	}
	if fs := st.FileStats(); fs.FreeBytes < FragmentedFreePages*4096 {
		t.Errorf("free bytes %d after freeing %d pages", fs.FreeBytes, FragmentedFreePages)
	}
	if _, err := Compact(context.Background(), path, CompactOptions{NoBackup: true}); err != nil {
		t.Fatal(err)
	}
	if _, logs := open(); strings.Contains(logs, "level=WARN") {
		t.Fatalf("warned again after compacting:\n%s", logs)
	}
}

// TestOpenWarnsCompactLeftover: the partial copy a compaction killed
// midway leaves next to the file is named, with its size, when the store
// opens, and the next compaction replaces it.
func TestOpenWarnsCompactLeftover(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	open := func() string {
		var logs strings.Builder
		st, err := Open(path, Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		return logs.String()
	}
	if logs := open(); strings.Contains(logs, "level=WARN") {
		t.Fatalf("a new file got a warning:\n%s", logs)
	}
	if err := os.WriteFile(path+CompactSuffix, make([]byte, 12345), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := open()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "parley compact that did not finish") ||
		!strings.Contains(logs, path+CompactSuffix) || !strings.Contains(logs, "bytes=12345") {
		t.Errorf("no warning naming the leftover copy:\n%s", logs)
	}
	if _, err := Compact(context.Background(), path, CompactOptions{NoBackup: true}); err != nil {
		t.Fatal(err)
	}
	if logs := open(); strings.Contains(logs, "level=WARN") {
		t.Errorf("a warning after the next compaction:\n%s", logs)
	}
}

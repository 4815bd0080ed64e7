package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// A store file another process holds is reported as in use, naming it,
// by Open and by Compact.
func TestOpenInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	held, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	want := path + " is in use by another process (another parley serve or parley compact?)"
	_, err = Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrInUse) || err.Error() != want {
		t.Errorf("Open: %v, want %q", err, want)
	}
	_, err = Compact(context.Background(), path, CompactOptions{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrInUse) || err.Error() != "compact: "+want {
		t.Errorf("Compact: %v, want %q", err, "compact: "+want)
	}
}

// A truncated store file is an error saying so and what to do, from Open
// and Compact alike, not a crash inside bbolt; the file is left as it was
// and unlocked.
func TestOpenTruncated(t *testing.T) {
	full, _ := compactFixture(t, 3000)
	data, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1000, 4096, 8192, 100_000, len(data) / 2} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "parley.db")
			if err := os.WriteFile(path, data[:size], 0o600); err != nil {
				t.Fatal(err)
			}
			want := "store file " + path + " is corrupt or truncated: "
			b, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
			if err == nil {
				b.Close()
			}
			if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "restore it from a backup") {
				t.Errorf("Open: %v, want an error starting %q that says to restore a backup", err, want)
			}
			_, err = Compact(context.Background(), path, CompactOptions{NoBackup: true, LockTimeout: 50 * time.Millisecond})
			if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), "compact: "+want) {
				t.Errorf("Compact: %v, want an error starting %q", err, "compact: "+want)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != int64(size) {
				t.Errorf("the file after the attempts: %v %v, want it untouched", fi, err)
			}
		})
	}
}

// A file of the right length whose pages are damaged makes bbolt panic as
// it opens it: that too is an error saying the file is corrupt.
func TestOpenDamagedPages(t *testing.T) {
	full, _ := compactFixture(t, 300)
	data, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	clear(data[2*os.Getpagesize():]) // the freelist and every other page but the meta pages
	path := filepath.Join(t.TempDir(), "parley.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if err == nil {
		b.Close()
	}
	if want := "store file " + path + " is corrupt or truncated: "; !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Open: %v, want an error starting %q", err, want)
	}
}

// A file whose page is overwritten (here with 0xFF bytes) is an error
// saying the file is corrupt, naming it, from Open and Compact alike,
// wherever the damaged page is first read: by bbolt as it opens the file,
// by the layout check after it (the root bucket's page), or by the
// compaction's copy (any other page). The file is left as it was.
func TestOpenOverwrittenPage(t *testing.T) {
	full, _ := compactFixture(t, 300)
	data, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	openFailed := 0
	for _, page := range pagesInUse(t, full) {
		t.Run(strconv.Itoa(page), func(t *testing.T) {
			path, damaged := overwrittenPage(t, data, page)
			want := "store file " + path + " is corrupt or truncated: "
			b, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
			if err == nil {
				b.Close()
			} else {
				openFailed++
				if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "restore it from a backup") {
					t.Errorf("Open: %v, want an error starting %q that says to restore a backup", err, want)
				}
			}
			_, err = Compact(context.Background(), path, CompactOptions{NoBackup: true, LockTimeout: 50 * time.Millisecond})
			if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), "compact: "+want) {
				t.Errorf("Compact: %v, want an error starting %q", err, "compact: "+want)
			}
			if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, damaged) {
				t.Errorf("the file after the attempts was changed (%v)", err)
			}
			if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the compaction's copy is left behind: %v", err)
			}
		})
	}
	if openFailed < 2 { // the freelist's page and the root bucket's
		t.Errorf("Open refused %d of the damaged files, want at least 2", openFailed)
	}
}

// pagesInUse lists the pages of the bbolt file at path that hold data (its
// freelist, branch and leaf pages; not the meta pages, nor free pages, nor
// the pages an overflowing page spans beyond its first).
func pagesInUse(t *testing.T, path string) []int {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin(true) // Tx.Page wants a writable transaction
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var pages []int
	for id := 2; ; {
		p, err := tx.Page(id)
		if err != nil {
			t.Fatal(err)
		}
		if p == nil {
			return pages
		}
		if p.Type != "free" {
			pages = append(pages, id)
		}
		id += 1 + p.OverflowCount
	}
}

// A damaged page that Open does not reach fails the read or write that
// reaches it, with the error Open gives for a damaged file, and the process
// goes on: no panic out of bbolt. Every session is loaded, listed, looked
// up for a message and saved again on a file with one page overwritten.
func TestUseOverwrittenPage(t *testing.T) {
	full, kept := compactFixture(t, 300)
	data, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hit := 0
	for _, page := range pagesInUse(t, full) {
		path, _ := overwrittenPage(t, data, page)
		b, err := Open(path, Options{NoSync: true, LockTimeout: 50 * time.Millisecond})
		if err != nil {
			continue // TestOpenOverwrittenPage checks these
		}
		check := func(what string, err error) {
			if err == nil || errors.Is(err, ErrNotFound) {
				return
			}
			hit++
			if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), "store file "+path+" is corrupt or truncated: ") {
				t.Errorf("page %d: %s: %v, want the damaged file's error", page, what, err)
			}
		}
		_, _, err = b.ListSessions(ctx, SessionFilter{}, Page{Limit: 1000})
		check("ListSessions", err)
		for _, id := range kept {
			s, err := b.LoadSession(ctx, id)
			check("LoadSession", err)
			if err != nil {
				continue
			}
			_, err = b.Inbound(ctx, InboundQuery{Channel: "sms", URN: s.Contact.URN, MessageID: "m-" + id})
			check("Inbound", err)
			prev := s.UpdatedAt
			s.UpdatedAt = prev.Add(time.Second)
			check("SaveTurn", b.SaveTurn(ctx, &Turn{Session: s, PrevUpdated: prev}))
		}
		if err := b.Close(); err != nil {
			t.Errorf("page %d: Close: %v", page, err)
		}
	}
	if hit == 0 {
		t.Error("no read or write reached a damaged page: the test checks nothing")
	}
}

// overwrittenPage writes a copy of the store file data with its page
// overwritten with 0xFF bytes to a new directory; it returns the copy's path
// and bytes.
func overwrittenPage(t *testing.T, data []byte, page int) (string, []byte) {
	t.Helper()
	ps := os.Getpagesize()
	damaged := bytes.Clone(data)
	for i := page * ps; i < (page+1)*ps; i++ {
		damaged[i] = 0xFF
	}
	path := filepath.Join(t.TempDir(), "parley.db")
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, damaged
}

// An empty store file is refused as Open and Compact refuse a truncated
// one, and left as it is (Compact's backup name included); a missing file
// is a new store.
func TestOpenEmptyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "parley.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	want := "store file " + path + " is corrupt or truncated: the file is empty (0 bytes); restore it from a backup"
	b, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if err == nil {
		b.Close()
	}
	if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "move it away to start with an empty store") {
		t.Errorf("Open: %v, want an error starting %q that says how to start anew", err, want)
	}
	_, err = Compact(context.Background(), path, CompactOptions{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), "compact: "+want) {
		t.Errorf("Compact: %v, want an error starting %q", err, "compact: "+want)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Errorf("the file after the attempts: %v %v, want it empty still", fi, err)
	}
	for _, left := range []string{path + BackupSuffix, path + ".compact"} {
		if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want no such file", left, err)
		}
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	b, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a missing file: %v", err)
	}
	b.Close()
}

// A bbolt file of another program, whose buckets are none of a store's, is
// refused by Open and Compact, naming the file and its buckets, and left as
// it is; a bbolt file without buckets is a new store.
func TestOpenForeignFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "parley.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range []string{"otherapp", "b", "c", "d", "e", "f", "g"} {
			bk, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			if err := bk.Put([]byte("k"), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := path + `: not a Parley store: it is a bbolt file of another program, with the bucket(s) "b", "c", "d", "e", "f" and 2 more and none of a store's`
	b, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if err == nil {
		b.Close()
	}
	if !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), want) {
		t.Errorf("Open: %v, want an error with %q", err, want)
	}
	for _, noBackup := range []bool{false, true} {
		_, err = Compact(context.Background(), path, CompactOptions{NoBackup: noBackup, LockTimeout: 50 * time.Millisecond})
		if !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), "compact: "+want) {
			t.Errorf("Compact (no backup %v): %v, want an error with %q", noBackup, err, "compact: "+want)
		}
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the file changed (%v)", err)
	}
	for _, left := range []string{path + BackupSuffix, path + CompactSuffix} {
		if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want no such file", left, err)
		}
	}

	// Without buckets, the file is a store's to make.
	empty := filepath.Join(dir, "empty.db")
	if db, err = bbolt.Open(empty, 0o600, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if b, err = Open(empty, Options{}); err != nil {
		t.Fatalf("Open of a bbolt file without buckets: %v", err)
	}
	b.Close()
}

package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// gate is a writer whose first write reports that it has begun and then
// waits until release is closed: a backup held open at its start.
type gate struct {
	begun, release chan struct{}
	once, opened   sync.Once
	buf            bytes.Buffer
}

// newGate returns a gate that is opened at the end of the test at the
// latest, so that a failing test does not wait for its backup forever.
func newGate(t *testing.T) *gate {
	g := &gate{begun: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *gate) open() { g.opened.Do(func() { close(g.release) }) }

func (g *gate) Write(p []byte) (int, error) {
	g.once.Do(func() {
		close(g.begun)
		<-g.release
	})
	return g.buf.Write(p)
}

// A backup is the file as it was when the backup began: while it is held
// open, another goroutine commits turns and grows the file well past its
// first memory map, and none of that waits for the backup; the copy opens,
// passes Verify, holds every session committed before and none after.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	b, err := Open(path, Options{NoSync: true, InitialMmapSize: ServingMmapSize(path)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const before = 300
	if err := SeedWaiting(ctx, b, 0, before, 0, nil); err != nil {
		t.Fatal(err)
	}
	sizeBefore := stats(t, b).FileBytes

	g := newGate(t)
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := b.Backup(ctx, g)
		done <- result{n, err}
	}()
	<-g.begun

	// Writes while the backup's transaction is open: turns through the
	// group commit, and a bulk write that grows the file to tens of MB.
	wrote := make(chan error, 1)
	go func() {
		for i := range 50 {
			turn := &Turn{Session: session(fmt.Sprintf("after-%d", i), flows.StatusWaiting, fmt.Sprintf("tel:+2%03d", i)), Channel: "sms"}
			if err := b.SaveTurn(ctx, turn); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- SeedWaiting(ctx, b, before, 30_000, 0, nil)
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		g.open()
		t.Fatal("writes did not finish while a backup was open: a commit waited for the backup's read transaction")
	}
	if grown := stats(t, b).FileBytes; grown < 4*sizeBefore {
		t.Fatalf("the file grew from %d to %d bytes only; the test needs it to outgrow its first memory map", sizeBefore, grown)
	}
	g.open()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.n != int64(g.buf.Len()) {
		t.Fatalf("Backup reported %d bytes, wrote %d", res.n, g.buf.Len())
	}
	if n := b.DB().Stats().OpenTxN; n != 0 {
		t.Errorf("%d read transactions left open after the backup", n)
	}

	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(copyPath, g.buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	vr, err := Verify(ctx, copyPath)
	if err != nil {
		t.Fatal(err)
	}
	if vr.Records.Sessions != before || vr.Bytes != res.n || vr.Layout != layoutCurrent {
		t.Errorf("Verify: %+v; want %d sessions, %d bytes, layout %d", vr, before, res.n, layoutCurrent)
	}
	cp, err := Open(copyPath, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	for i := range before {
		if _, err := cp.LoadSession(ctx, sampleID(i)); err != nil {
			t.Fatalf("session %d, committed before the backup: %v", i, err)
		}
	}
	if _, err := cp.LoadSession(ctx, "after-0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a session committed during the backup is in the copy: %v", err)
	}
	if st := stats(t, cp); st.Sessions[flows.StatusWaiting] != before {
		t.Errorf("the copy counts %d waiting sessions, want %d", st.Sessions[flows.StatusWaiting], before)
	}
}

// A backup whose context is cancelled, or whose store is closed, stops at
// its next write and ends its read transaction.
func TestBackupStops(t *testing.T) {
	b, _ := openTest(t)
	if err := SeedWaiting(context.Background(), b, 0, 2000, 0, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := newGate(t)
	done := make(chan error, 1)
	go func() {
		_, err := b.Backup(ctx, g)
		done <- err
	}()
	<-g.begun
	cancel()
	g.open()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled backup: %v", err)
	}
	if n := b.DB().Stats().OpenTxN; n != 0 {
		t.Errorf("%d read transactions left open", n)
	}

	g = newGate(t)
	go func() {
		_, err := b.Backup(context.Background(), g)
		done <- err
	}()
	<-g.begun
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	// Close ends the copy under way: it fails at its next write.
	waitSnapshotsEnded(t, b)
	g.open()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("backup during Close: %v", err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the backup ended")
	}
	if _, err := b.Backup(context.Background(), io.Discard); !errors.Is(err, ErrClosed) {
		t.Errorf("backup of a closed store: %v", err)
	}
}

// waitSnapshotsEnded waits until Close has told every copy under way to
// stop at its next write.
func waitSnapshotsEnded(t *testing.T, b *Bolt) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		b.snapMu.Lock()
		ended := b.closed.Load()
		for s := range b.snaps {
			ended = ended && s.ctx.Err() != nil
		}
		b.snapMu.Unlock()
		if ended {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("Close did not end the copy under way within 10s")
		}
	}
}

// Verify refuses a copy cut short, a bbolt file that is not a store, and a
// file that is not bbolt's, naming the file and what is wrong.
func TestVerifyRefuses(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	if err := SeedWaiting(ctx, b, 0, 500, 0, nil); err != nil {
		t.Fatal(err)
	}
	var whole bytes.Buffer
	if _, err := b.Backup(ctx, &whole); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	short := write("short.db", whole.Bytes()[:whole.Len()/2])
	plain := filepath.Join(dir, "plain.db")
	db, err := bbolt.Open(plain, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	text := write("text.db", bytes.Repeat([]byte("not a store "), 2000))
	// The middle half of the pages overwritten: bbolt's check or the
	// record check finds it.
	damaged := bytes.Clone(whole.Bytes())
	for i := len(damaged) / 4; i < len(damaged)*3/4; i++ {
		damaged[i] = 0xAB
	}
	bad := write("damaged.db", damaged)

	for _, c := range []struct {
		path    string
		corrupt bool
		want    string
	}{
		{short, true, "its pages reach to"},
		{plain, false, "not a Parley store"},
		{text, true, "text.db"},
		{bad, true, "damaged.db"},
		{filepath.Join(dir, "missing.db"), false, "no such file"},
	} {
		_, err := Verify(ctx, c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) || c.corrupt != errors.Is(err, ErrCorrupt) {
			t.Errorf("Verify %s: %v; want an error containing %q (corrupt %v)", filepath.Base(c.path), err, c.want, c.corrupt)
		}
	}
}

// A backup of a store whose commits do not write the list of free pages
// has none; WriteFreelist writes it, once, and the copy still checks, with
// the same sessions.
func TestWriteFreelist(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	b.unsyncFrom = 0 // commits write no list, as in a file with many free pages
	if err := SeedWaiting(ctx, b, 0, 500, 0, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := b.DeleteSession(ctx, sampleID(i)); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Backup(ctx, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if freelistOnFile(path) {
		t.Fatal("the backup's copy has a list of free pages")
	}
	if wrote, err := WriteFreelist(path); err != nil || !wrote {
		t.Fatalf("WriteFreelist: %v, %v; want the list written", wrote, err)
	}
	if !freelistOnFile(path) {
		t.Fatal("no list of free pages on file after WriteFreelist")
	}
	if wrote, err := WriteFreelist(path); err != nil || wrote {
		t.Errorf("WriteFreelist of a file with the list: %v, %v; want nothing written", wrote, err)
	}
	res, err := Verify(ctx, path)
	if err != nil {
		t.Fatalf("Verify after WriteFreelist: %v", err)
	}
	if res.Records.Sessions != 400 {
		t.Errorf("%d sessions in the copy, want 400", res.Records.Sessions)
	}
}

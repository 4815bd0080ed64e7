package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the whole store file to w, as it was
// when the call began, while turns and other writes go on, and returns the
// bytes written. It is Snapshot, Copy and Close in one call.
func (b *Bolt) Backup(ctx context.Context, w io.Writer) (int64, error) {
	s, err := b.Snapshot(ctx)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	return s.Copy(ctx, w)
}

// Snapshot is the store file as it was when the snapshot was taken, held by
// one bbolt read transaction until Close: its size is known before its copy
// is written (an HTTP answer's Content-Length). Writes go on meanwhile, but
// the pages they free are not reused while it is open, so the file may grow
// during a long copy; and a commit that needs more of the file than the
// memory map covers waits for it to close (bbolt remaps the file only when
// no read transaction is open). Servers open the store with
// ServingMmapSize for that. Close must be called.
type Snapshot struct {
	b      *Bolt
	tx     *bbolt.Tx
	ctx    context.Context // cancelled by Bolt.Close
	cancel context.CancelCauseFunc
	once   sync.Once
}

// Snapshot opens a read transaction for a backup. It fails with ErrClosed
// once the store is closed.
func (b *Bolt) Snapshot(ctx context.Context) (*Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.snapMu.Lock()
	defer b.snapMu.Unlock()
	if b.closed.Load() {
		return nil, ErrClosed
	}
	tx, err := b.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("backup of %s: %w", b.path, err)
	}
	s := &Snapshot{b: b, tx: tx}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	if b.snaps == nil {
		b.snaps = map[*Snapshot]struct{}{}
	}
	b.snaps[s] = struct{}{}
	return s, nil
}

// Size is the number of bytes Copy writes.
func (s *Snapshot) Size() int64 { return s.tx.Size() }

// Copy writes the snapshot, a whole bbolt file, to w: exactly Size bytes
// when it succeeds. A cancelled ctx, or the store's Close, fails the next
// write (w's writes are not interrupted). Call it once.
func (s *Snapshot) Copy(ctx context.Context, w io.Writer) (int64, error) {
	n, err := s.tx.WriteTo(&ctxWriter{ctx: ctx, own: s.ctx, w: w})
	if err != nil {
		if cause := context.Cause(s.ctx); cause != nil {
			err = cause
		} else if ctx.Err() != nil {
			err = ctx.Err()
		}
		return n, fmt.Errorf("backup of %s: %w", s.b.path, err)
	}
	return n, nil
}

// Close ends the read transaction; it may be called more than once.
func (s *Snapshot) Close() error {
	var err error
	s.once.Do(func() {
		err = s.tx.Rollback()
		s.cancel(nil)
		s.b.snapMu.Lock()
		delete(s.b.snaps, s)
		s.b.snapMu.Unlock()
	})
	return err
}

// endSnapshots makes the copies under way fail at their next write, so
// that Close, which waits for every read transaction, does not wait for
// the end of a long copy.
func (b *Bolt) endSnapshots() {
	b.snapMu.Lock()
	defer b.snapMu.Unlock()
	for s := range b.snaps {
		s.cancel(ErrClosed)
	}
}

// ctxWriter fails its next write once either context is done. bbolt
// copies through a 32 KiB buffer, so a copy stops within 32 KiB.
type ctxWriter struct {
	ctx, own context.Context
	w        io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.own.Err(); err != nil {
		return 0, err
	}
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Memory map sizes of a serving store (ServingMmapSize).
const (
	MinServingMmap = 1 << 30
	MaxServingMmap = 64 << 30
)

// ServingMmapSize is the Options.InitialMmapSize for the store file at
// path when a server opens it: twice the file's size, at least
// MinServingMmap and at most MaxServingMmap, so that ordinary growth needs
// no remap. bbolt remaps a growing file only once every read transaction
// has ended, and commits wait for the remap: with a backup's long read
// transaction open, that would stall every turn until the copy ends. The
// map is address space, not memory: pages are read in as they are used.
// It is 0, bbolt's own sizing, on 32-bit platforms.
func ServingMmapSize(path string) int {
	if math.MaxInt < MaxServingMmap {
		return 0
	}
	var size int64
	if fi, err := os.Stat(path); err == nil {
		size = fi.Size()
	}
	return int(min(max(2*size, MinServingMmap), MaxServingMmap))
}

// VerifyResult is what Verify found in a store file.
type VerifyResult struct {
	Bytes int64
	// Layout is the file's layout version; Open migrates older ones.
	Layout int
	// Records counts the sessions, event log values and contact rows decoded.
	Records  RecordCheck
	Duration time.Duration
}

// verifyProblems bounds how many of bbolt's consistency errors Verify lists.
const verifyProblems = 10

// Verify checks a store file that no server has open, a backup: that it is
// a whole bbolt file, that bbolt's consistency check passes (every page
// reachable or free, none twice), that it is a Parley store of a layout
// this version opens, and that every session, event log value and contact
// decodes, as Compact checks its copy. It opens the file read-only and
// writes nothing. Its errors name the file; a damaged one's wraps ErrCorrupt.
func Verify(ctx context.Context, path string) (VerifyResult, error) {
	start := time.Now()
	var res VerifyResult
	fi, err := os.Stat(path)
	if err != nil {
		return res, fmt.Errorf("verify: %w", err)
	}
	res.Bytes = fi.Size()
	db, _, err := openChecked(path, bbolt.Options{ReadOnly: true, Timeout: time.Second, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return res, fmt.Errorf("verify %s: %w", path, err)
	}
	defer db.Close()
	if !freelistOnFile(path) {
		// bbolt's check rebuilds the list by reading every page in a
		// goroutine of its own, where a damaged page panics out of reach:
		// the pages are read here first.
		if err := checkPages(path); err != nil {
			return res, fmt.Errorf("verify %s: %w", path, err)
		}
	}
	if err := verifyDB(ctx, db, &res); err != nil {
		return res, fmt.Errorf("verify %s: %w", path, err)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// WriteFreelist writes bbolt's list of free pages into the store file at
// path, which no process may have open, when the file has none, and reports
// whether it did. A copy of a store whose commits do not write the list (one
// with FragmentedFreePages free pages or more, see Options.SyncFreelist)
// has none, and the first Open of it would rebuild the list by reading
// every page; parley backup writes it into its copy before checking the
// copy (Verify, which then checks the list). The file is read as Open reads
// one without the list, so a damaged page is refused (ErrCorrupt) and
// nothing is written; the list is written by a commit of its own, synced,
// which changes nothing else.
func WriteFreelist(path string) (bool, error) {
	if freelistOnFile(path) {
		return false, nil
	}
	// bbolt.Open rebuilds the list and, the file being opened to write
	// the list with its commits, writes it in a commit of its own.
	db, _, err := openChecked(path, bbolt.Options{Timeout: time.Second, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return false, fmt.Errorf("write the list of free pages into %s: %w", path, err)
	}
	if err := db.Close(); err != nil {
		return false, fmt.Errorf("write the list of free pages into %s: %w", path, err)
	}
	if !freelistOnFile(path) {
		return false, fmt.Errorf("write the list of free pages into %s: the file still has none", path)
	}
	return true, nil
}

// verifyDB checks db for Verify, whose pages checkPages has read when the
// file has no list of free pages.
func verifyDB(ctx context.Context, db *bbolt.DB, res *VerifyResult) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: reading a page failed (%v)", ErrCorrupt, r)
		}
	}()
	return db.View(func(tx *bbolt.Tx) error {
		var problems []string
		n := 0
		for e := range tx.Check() {
			if n++; n <= verifyProblems {
				problems = append(problems, e.Error())
			}
		}
		if n > 0 {
			more := ""
			if n > verifyProblems {
				more = fmt.Sprintf("\n\t... and %d more", n-verifyProblems)
			}
			return fmt.Errorf("%w: bbolt's consistency check found %d problem(s)\n\t%s%s", ErrCorrupt, n, strings.Join(problems, "\n\t"), more)
		}
		layout, err := layoutOf(tx)
		switch {
		case err != nil:
			return err
		case layout == 0:
			return errors.New("a bbolt file but not a Parley store: it has no layout version and none of a store's buckets")
		case layout > layoutCurrent:
			return fmt.Errorf("%w: verify it with that version", newerLayout(layout))
		}
		res.Layout = layout
		if err := ctx.Err(); err != nil {
			return err
		}
		res.Records, err = checkRecords(ctx, tx)
		return err
	})
}

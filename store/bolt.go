package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/parleyhq/parley/flows"
)

// Options tune a Bolt store. The zero value is what production uses.
type Options struct {
	// Now is the clock for stored timestamps (flow revisions, dedupe
	// records) and write failures, read in UTC; time.Now when nil.
	Now func() time.Time
	// Logger receives open/close and commit failure messages.
	Logger *slog.Logger
	// Uncompressed stores session JSON as is instead of compressed:
	// larger, but readable with bbolt's own tools.
	Uncompressed bool
	// NoSync skips fsync on commit. Only for tests and seeding: a crash can
	// lose or corrupt committed data.
	NoSync bool
	// LockTimeout is how long Open waits for another process's file lock
	// (default 5s).
	LockTimeout time.Duration
	// InitialMmapSize pre-sizes the memory map so that a growing file does not
	// remap (which waits for read transactions to finish, a backup's
	// included): ServingMmapSize. When the process may not map that much,
	// the store opens with bbolt's own sizing and a warning.
	InitialMmapSize int
	// MaxGroup caps how many turns one commit carries (default 256).
	MaxGroup int
	// PageSize sets bbolt's page size when the file is created (default:
	// the OS page size). Larger pages fill better with ~700-byte sessions
	// but make every commit write more; see docs/storage.md.
	PageSize int
	// WriteProbeInterval is how often TryWrite lets a write through while
	// the store's writes fail (DefaultWriteProbeInterval when 0).
	WriteProbeInterval time.Duration
	// SyncFreelist writes bbolt's list of free pages with every commit, as
	// the store did before: by default commits write it only while the
	// file has fewer than FragmentedFreePages free pages, Close writes it,
	// and an Open after a stop without Close that finds none rebuilds it by
	// reading the file (see docs/storage.md, Freelist). For measurements
	// and tests.
	SyncFreelist bool
}

// Bolt is the bbolt implementation of Store. All methods are safe for
// concurrent use.
type Bolt struct {
	db       *bbolt.DB
	path     string
	log      *slog.Logger
	now      func() time.Time
	compress bool
	maxGroup int
	pageSize int64
	// probeEvery is Options.WriteProbeInterval.
	probeEvery time.Duration

	// Group commit: SaveTurn hands its write to the committer goroutine,
	// which runs every write waiting at that moment in one transaction, so
	// one fsync covers all of them.
	writes  chan *writeReq
	stats   statBatch // the counter changes of the group being committed
	quit    chan struct{}
	stopped chan struct{}
	closed  atomic.Bool

	// legacyDedupe is set while the file holds dedupe records of layouts
	// before 7 (dedupe.go).
	legacyDedupe atomic.Bool
	// v1Conflicts lists, while layout 1 buckets are migrated on top of
	// current data, what was kept and dropped where both held a session.
	v1Conflicts []string
	// v1Damaged lists the damaged layout 1 sessions such a migration
	// carried over as they are.
	v1Damaged []string
	// lastLogAt is the time of the newest processed_log key, so that a
	// group's records go past it (the committer's alone).
	lastLogAt uint64

	// Cumulative group commit figures (CommitStats).
	statCommits, statTurns, statLockNanos, statApplyNanos, statSyncNanos atomic.Int64
	// statFailed counts commits that failed writing the file, and
	// writeFailure describes the run of failures since the last commit
	// that succeeded, until one does.
	statFailed   atomic.Int64
	writeFailure atomic.Pointer[WriteFailure]
	// probeAt is when, while writes fail, TryWrite next lets a write
	// through (Unix nanoseconds).
	probeAt atomic.Int64

	// snaps are the backups' open read transactions (backup.go), ended
	// by Close.
	snapMu sync.Mutex
	snaps  map[*Snapshot]struct{}

	// syncFreelist is Options.SyncFreelist; otherwise commits do not write
	// the list of free pages from unsyncFrom free pages (dbUpdate).
	syncFreelist bool
	unsyncFrom   int
	// freeCheckAt and freeWarnAt are when the committer last counted the
	// free pages and last warned of them (Unix nanoseconds; the
	// committer's alone once Open has returned).
	freeCheckAt, freeWarnAt int64

	// opened is the file the store opened, and lastTxid the id of its
	// latest commit by this store; replaced is set once the file at path
	// is found to be another (replaced.go), and fileCheckAt is when the
	// next write checks it (Unix nanoseconds).
	opened      os.FileInfo
	lastTxid    atomic.Uint64
	replaced    atomic.Pointer[error]
	fileCheckAt atomic.Int64
}

// WriteFailure describes commits that failed writing the store file (a
// full disk, an I/O error), every write of them lost: since the first of
// a run of failures with no successful commit between them, at the time
// of the latest, with its error.
type WriteFailure struct {
	Since time.Time
	At    time.Time
	Err   error
}

// Errors of commits that failed writing the store file, for errors.Is; each
// wraps the system's error. bbolt rolls a commit that failed back, so its
// writes are not in the store, and a write may be tried again.
var (
	// ErrDiskFull: the file system holding the store file has no space
	// left (ENOSPC). Writes succeed again once there is room.
	ErrDiskFull = errors.New("the store's disk is full")
	// ErrDiskQuota: the disk quota of the server's user (or project) on
	// that file system is used up (EDQUOT). Writes succeed again once files
	// are removed or the quota is raised.
	ErrDiskQuota = errors.New("the store's disk quota is used up")
	// ErrFileTooLarge: the store file has reached the largest file the
	// process may write (EFBIG): its file size limit (RLIMIT_FSIZE, ulimit
	// -f) or the file system's largest file. Writes that need a larger file
	// succeed again once the limit is raised (a restart, for ulimit -f).
	ErrFileTooLarge = errors.New("the store file has reached the file size limit")
	// ErrReadOnly: the file system holding the store file is read-only
	// (EROFS), as a file system with errors is remounted. Writes succeed
	// again once it is mounted read-write.
	ErrReadOnly = errors.New("the store's file system is read-only")
	// ErrDiskIO: the disk failed a write or its sync (EIO). The commit is
	// rolled back, but what reached the disk is not known: the disk needs
	// checking.
	ErrDiskIO = errors.New("the store's disk failed the write")
)

// writeErrors maps the system's errors of a failed commit to the store's.
var writeErrors = []struct {
	errno syscall.Errno
	err   error
}{
	{syscall.ENOSPC, ErrDiskFull},
	{syscall.EDQUOT, ErrDiskQuota},
	{syscall.EFBIG, ErrFileTooLarge},
	{syscall.EROFS, ErrReadOnly},
	{syscall.EIO, ErrDiskIO},
}

// writeError returns the error of a commit that failed writing the file,
// wrapped in the store's error for its cause when it has one of
// writeErrors. bbolt reports a failure to grow or sync the file as text
// ("file resize error: truncate ...: file too large"), which no longer
// wraps the system's error: that is known by the error's text.
func writeError(err error) error {
	for _, w := range writeErrors {
		if errors.Is(err, w.err) {
			return err
		}
	}
	for _, w := range writeErrors {
		if errors.Is(err, w.errno) || strings.HasSuffix(err.Error(), ": "+w.errno.Error()) {
			return fmt.Errorf("%w: %w", w.err, err)
		}
	}
	return err
}

// DefaultWriteProbeInterval is how often TryWrite lets a write through
// while the store's writes fail, to find out whether they succeed again,
// unless Options.WriteProbeInterval says otherwise.
const DefaultWriteProbeInterval = time.Second

// WritesHeldError is TryWrite's error while the store's writes fail: the
// write is not tried. It wraps the latest failure's error, so errors.Is
// finds its cause (ErrDiskFull...).
type WritesHeldError struct {
	Failure *WriteFailure
	// RetryAfter is the time until TryWrite lets a write through again;
	// zero when none is before a restart (the file was replaced:
	// ErrFileReplaced), so that a retry cannot succeed.
	RetryAfter time.Duration
}

func (e *WritesHeldError) Error() string {
	return fmt.Sprintf("store writes fail since %s: %v", e.Failure.Since.UTC().Format(time.RFC3339), e.Failure.Err)
}

func (e *WritesHeldError) Unwrap() error { return e.Failure.Err }

// TryWrite reports whether a write that has a cost before it reaches the
// store (a turn, which calls webhooks) should be made now: nil while writes
// succeed. Once a commit has failed writing the file, until one succeeds,
// it returns a *WritesHeldError, except for one write every
// Options.WriteProbeInterval after the latest failure, which finds out whether
// writes succeed again. While writes succeed it costs one atomic load.
func (b *Bolt) TryWrite() error {
	f := b.writeFailure.Load()
	if f == nil {
		return nil
	}
	if b.replaced.Load() != nil {
		// No write succeeds again before a restart: none is let through,
		// and no time is given after which one would be.
		return &WritesHeldError{Failure: f}
	}
	now := b.now().UnixNano()
	next := b.probeAt.Load()
	if now >= next && b.probeAt.CompareAndSwap(next, now+int64(b.probeEvery)) {
		return nil
	}
	wait := time.Duration(next - now)
	if wait <= 0 {
		wait = b.probeEvery // another write took the probe
	}
	return &WritesHeldError{Failure: f, RetryAfter: wait}
}

// WritesHeld reports whether TryWrite would refuse a write now, without
// taking the probe.
func (b *Bolt) WritesHeld() bool {
	return b.writeFailure.Load() != nil && (b.replaced.Load() != nil || b.now().UnixNano() < b.probeAt.Load())
}

// LastWriteFailure returns the failures of commits writing the file since
// the last commit that succeeded (the first one's time and the latest's
// time and error), or nil when the commit after them succeeded (or none
// failed since Open).
func (b *Bolt) LastWriteFailure() *WriteFailure { return b.writeFailure.Load() }

// WriteFailedError is the error of a write whose commit failed writing the
// store file (a full disk, a read-only file system): LastWriteFailure
// reports it, and the log says so once, when writes begin to fail
// ("store writes fail"), so a caller need not log each write that fails
// meanwhile. It wraps the cause, so errors.Is finds ErrDiskFull and the
// others, and says what the cause says.
type WriteFailedError struct{ Err error }

func (e *WriteFailedError) Error() string { return e.Err.Error() }
func (e *WriteFailedError) Unwrap() error { return e.Err }

// committed records the outcome of a commit of the file: err is nil, or
// the error of bbolt's commit (not of a write function), which it returns
// wrapped in the store's error for its cause (writeError), as a
// *WriteFailedError.
func (b *Bolt) committed(err error) error {
	if err == nil {
		if b.writeFailure.Load() != nil {
			b.writeFailure.Store(nil)
			b.log.Info("store writes succeed again", "path", b.path)
		}
		return nil
	}
	err = writeError(err)
	b.statFailed.Add(1)
	now := b.now()
	b.probeAt.Store(now.Add(b.probeEvery).UnixNano())
	f := &WriteFailure{Since: now, At: now, Err: err}
	for {
		prev := b.writeFailure.Load()
		if prev != nil {
			f.Since = prev.Since
		}
		if b.writeFailure.CompareAndSwap(prev, f) {
			if prev == nil {
				b.log.Error("store writes fail: turns are refused, one let through each probe interval to find out when they succeed again",
					"path", b.path, "probe_interval", b.probeEvery, "err", err)
				b.listWhileFailing(err)
			}
			return &WriteFailedError{Err: err}
		}
	}
}

// listWhileFailing writes the list of free pages when the first of a run
// of failed commits (err) leaves the file without it. bbolt undoes a failed
// commit's page allocations by reloading the list: from the list on file
// when the file's last commit wrote it, else by reading every page of the
// file, as an Open after a crash does (for 1,000,000 waiting sessions,
// 1.8-2.4 s in each failed commit, the committer held meanwhile). The list is written into the file's
// free pages, which were written before, so it can go on a full disk, or
// past the file size limit or the disk quota, where the commits that
// failed needed new room; writes to a read-only file system or a failing
// disk are not tried. Once it is on file, the commits that fail after it
// reload it, until one succeeds; and a crash meanwhile leaves a file whose
// next start reads it.
func (b *Bolt) listWhileFailing(err error) {
	if b.syncFreelist || !(errors.Is(err, ErrDiskFull) || errors.Is(err, ErrDiskQuota) || errors.Is(err, ErrFileTooLarge)) ||
		freelistOnFile(b.path) {
		return
	}
	if err := b.writeFreelist(); err != nil {
		b.log.Debug("store could not write its list of free pages while its writes fail: each failed commit reads the file to rebuild it",
			"path", b.path, "err", err)
	}
}

// CommitStats are cumulative figures of SaveTurn's group commits since Open.
// Divide their differences over an interval by its length to see how busy
// the committer is and on what: waiting for bbolt's writer lock (held by
// other writers, e.g. event delivery), running the turns' writes, or
// committing (page writes and fsync).
type CommitStats struct {
	Commits int64
	Turns   int64
	// Failed counts commits (group commits and one-off writes) that failed
	// writing the file: their writes were lost.
	Failed   int64
	LockWait time.Duration
	Apply    time.Duration
	Commit   time.Duration
}

// FileStats describes the store file: its size, the bytes in pages bbolt
// has freed and will reuse (what `parley compact` gives back), and the
// pages written and time spent writing and syncing them since Open.
type FileStats struct {
	Size         int64
	FreeBytes    int64
	PagesWritten int64
	WriteTime    time.Duration
}

// FileStats reads the file's figures; it takes no transaction.
func (b *Bolt) FileStats() FileStats {
	st := b.db.Stats()
	// Free and pending pages, as FreeAlloc counts them; FreeAlloc itself is
	// only set by a write, where the free count is also read at Open.
	free := int64(st.FreePageN+st.PendingPageN) * b.pageSize
	fs := FileStats{FreeBytes: free, PagesWritten: st.TxStats.GetWrite(), WriteTime: st.TxStats.GetWriteTime()}
	if fi, err := os.Stat(b.db.Path()); err == nil {
		fs.Size = fi.Size()
	}
	return fs
}

// CommitStats returns the group commit figures.
func (b *Bolt) CommitStats() CommitStats {
	return CommitStats{
		Commits: b.statCommits.Load(), Turns: b.statTurns.Load(), Failed: b.statFailed.Load(),
		LockWait: time.Duration(b.statLockNanos.Load()),
		Apply:    time.Duration(b.statApplyNanos.Load()),
		Commit:   time.Duration(b.statSyncNanos.Load()),
	}
}

var _ Store = (*Bolt)(nil)

// writeReq is one write waiting for a group commit. fn may run more than
// once (when another write in its group fails); it must only touch tx and
// st, the group's counter changes.
type writeReq struct {
	ctx  context.Context
	fn   func(tx *bbolt.Tx, st *statBatch) error
	err  error
	done chan struct{}
}

// Open opens (creating if needed) the database file at path. It creates the
// top-level buckets and nothing else: it reads no sessions, so start-up time
// does not grow with their number.
func Open(path string, opts Options) (*Bolt, error) {
	// The store dates what it writes, and its write failures, in UTC
	// whatever the machine's time zone or the clock given, as the server
	// does: a tool that opens the store without a clock (seeding, parley
	// bench) gets the times parley serve would.
	clock := opts.Now
	if clock == nil {
		clock = time.Now
	}
	opts.Now = func() time.Time { return clock().UTC() }
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 5 * time.Second
	}
	if opts.MaxGroup <= 0 {
		opts.MaxGroup = 256
	}
	if opts.WriteProbeInterval <= 0 {
		opts.WriteProbeInterval = DefaultWriteProbeInterval
	}
	start := time.Now()
	_, serr := os.Stat(path)
	created := errors.Is(serr, os.ErrNotExist)
	listed := freelistOnFile(path)
	bopts := &bbolt.Options{
		Timeout: opts.LockTimeout,
		NoSync:  opts.NoSync,
		// The hashmap freelist stays fast when a large file is fragmented.
		FreelistType: bbolt.FreelistMapType,
		// The list of free pages is written with the commits of a file
		// with few free pages only (dbUpdate), and by Close; an Open after
		// a stop without it rebuilds the list by reading every page.
		PreLoadFreelist: true,
		InitialMmapSize: opts.InitialMmapSize,
		PageSize:        opts.PageSize,
	}
	db, err := openLocked(path, bopts)
	if errors.Is(err, syscall.ENOMEM) && opts.InitialMmapSize > 0 {
		// The process may not map that much (ulimit -v): the store opens
		// with a map of its size, remapped as it grows.
		opts.Logger.Warn("store file could not be mapped with room to grow: a commit that needs more of the file waits for backups under way",
			"path", path, "map_bytes", opts.InitialMmapSize, "err", err)
		bopts.InitialMmapSize = 0
		db, err = openLocked(path, bopts)
	}
	if err != nil {
		return nil, err
	}
	b := &Bolt{
		db:         db,
		path:       path,
		log:        opts.Logger,
		now:        opts.Now,
		compress:   !opts.Uncompressed,
		maxGroup:   opts.MaxGroup,
		pageSize:   int64(db.Info().PageSize),
		probeEvery: opts.WriteProbeInterval,
		writes:     make(chan *writeReq),
		quit:       make(chan struct{}),
		stopped:    make(chan struct{}),

		syncFreelist: opts.SyncFreelist,
		unsyncFrom:   FragmentedFreePages,
	}
	if err = b.firstReads(); err != nil {
		db.Close()
		if created {
			// A new file that could not be set up (a full disk) goes, as
			// openLocked's does: the next start creates it again.
			os.Remove(path)
		}
		if errors.Is(err, ErrCorrupt) {
			return nil, corruptFile(path, err)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := b.openedFile(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	fs := b.FileStats()
	attrs := []any{"path", path, "elapsed", time.Since(start), "file_bytes", fs.Size, "free_bytes", fs.FreeBytes}
	if !listed && !created {
		attrs = append(attrs, "free_list", "rebuilt by reading the file, which was not closed")
		releaseMapped(db, fs.Size)
	}
	b.log.Info("store opened", attrs...)
	now := b.now().UnixNano()
	b.freeCheckAt = now
	if b.warnFree(fs) {
		b.freeWarnAt = now
	}
	go b.committer()
	// The server holds the file's lock, so no compaction is writing a copy:
	// one that is there was left by a compaction that did not finish.
	// Compact writes it next to the file a link leads to.
	if real, err := ResolveStorePath(path); err == nil {
		if fi, err := os.Stat(real + CompactSuffix); err == nil {
			b.log.Warn("a partial copy left by a parley compact that did not finish is taking disk space: the next parley compact replaces it, or delete it",
				"path", real+CompactSuffix, "bytes", fi.Size())
		}
	}
	return b, nil
}

// firstReads brings the file to the current layout and reads what the
// store keeps in memory. They are the first reads of pages beyond the meta
// and root pages, so a damaged page often shows here (see guard). A write
// transaction that panics is rolled back by bbolt, so the file is left as it
// was.
func (b *Bolt) firstReads() error {
	return b.guard(func() error {
		if err := b.prepareLayout(); err != nil {
			return err
		}
		return b.db.View(func(tx *bbolt.Tx) error {
			b.legacyDedupe.Store(hasLegacyDedupe(tx))
			if k, _ := tx.Bucket(bProcessedLog).Cursor().Last(); len(k) >= 8 {
				b.lastLogAt = binary.BigEndian.Uint64(k)
			}
			return nil
		})
	})
}

// Checked runs fn, whose reads may reach pages no read has reached since
// Open (a scan at start-up), as the store's own transactions run (see
// guard); fn must run its reads in the calling goroutine. An error of fn
// that wraps ErrCorrupt (a record the file should hold is missing) is told
// as a damaged file too; others are passed on.
func (b *Bolt) Checked(fn func() error) error {
	err := b.guard(fn)
	if errors.Is(err, ErrCorrupt) {
		return corruptFile(b.path, err)
	}
	return err
}

// guard runs fn, which runs bbolt transactions, turning what a damaged page
// does to bbolt into an error that wraps ErrCorrupt and names the file:
// bbolt panics on a page that is not what its parent says (an "assertion
// failed", or another check of its own), and reading a page past the end of
// a truncated file faults. The request or task that reached the page fails;
// the process goes on. bbolt rolls back a transaction that panics. Other
// panics, which are not the file's, are not taken.
func (b *Bolt) guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if !pageFault(r) {
				panic(r)
			}
			err = corruptFile(b.path, fmt.Errorf("%w: reading a page failed (%v)", ErrCorrupt, r))
		}
	}()
	return fn()
}

// pageFault reports whether a recovered panic is one a damaged file causes
// in bbolt: its own checks panic with text, and a read through the memory
// map beyond the file's end faults.
func pageFault(r any) bool {
	switch v := r.(type) {
	case string:
		return true
	case error:
		var re runtime.Error
		return errors.As(v, &re) && strings.Contains(v.Error(), "fault")
	}
	return false
}

// corruptFile is the error of a store file found damaged (err wraps
// ErrCorrupt): it names the file and says what to do. An error that already
// is one is returned as it is.
func corruptFile(path string, err error) error {
	var fc *fileCorrupt
	if errors.As(err, &fc) {
		return err
	}
	return &fileCorrupt{path: path, err: err}
}

type fileCorrupt struct {
	path string
	err  error
}

func (e *fileCorrupt) Error() string {
	// A list of damaged records (DamagedRecords) follows the advice, one
	// to a line.
	what, list, _ := strings.Cut(e.err.Error(), "\n")
	if list != "" {
		list = "\n" + list
	}
	if !strings.HasPrefix(what, ErrCorrupt.Error()) {
		what = fmt.Sprintf("%v (%s)", ErrCorrupt, what)
	}
	return fmt.Sprintf("store file %s is %s; restore it from a backup (one parley backup took, %s%s if parley compact left one, "+
		"or a copy taken while the server was stopped), or move it away to start with an empty store%s", e.path, what, e.path, BackupSuffix, list)
}

func (e *fileCorrupt) Unwrap() error { return e.err }

// openAttempts bounds how many times openLocked opens the file again after
// finding that the name it opened was given to another file while it waited
// for the lock.
const openAttempts = 5

// openLocked is bbolt.Open for a file that another process may replace
// while this one waits for its lock: parley compact renames its checked
// copy over the original while holding the original's lock, so a server
// started meanwhile would get the lock of a file that no longer has a name
// and write to it unseen. Once bbolt holds the lock, openLocked checks that
// path still names the file it opened (same device and inode), and if not
// closes it and opens path again.
//
// Its errors name path and need no prefix: ErrInUse when another process
// keeps the lock past o.Timeout, ErrCorrupt when the file is not a whole
// bbolt file.
func openLocked(path string, o *bbolt.Options) (db *bbolt.DB, err error) {
	// A file this call creates and cannot make a store of (a full disk)
	// is removed, so that the next start does not refuse it as empty or
	// truncated but creates it again.
	if _, serr := os.Stat(path); errors.Is(serr, os.ErrNotExist) {
		defer func() {
			if err != nil && !errors.Is(err, ErrInUse) {
				os.Remove(path)
			}
		}()
	}
	for range openAttempts {
		opts := *o
		opts.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			if err == nil && openedHook != nil {
				openedHook(name)
			}
			return f, err
		}
		db, f, err := openChecked(path, opts)
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			return nil, fmt.Errorf("%s is %w", path, ErrInUse)
		case errors.Is(err, ErrCorrupt):
			return nil, corruptFile(path, err)
		case err != nil:
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
		same, err := namesFile(path, f)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
		if same {
			return db, nil
		}
		db.Close()
	}
	return nil, fmt.Errorf("open store %s: the file was replaced %d times while waiting for its lock", path, openAttempts)
}

// ErrInUse is the error of Open and Compact when another process (a
// running parley serve or parley compact) holds the store file's lock.
var ErrInUse = errors.New("in use by another process (another parley serve or parley compact?)")

// InUse reports whether another process holds the lock of the store file at
// path (a running parley serve or parley compact): a file that must not be
// replaced, for that process would go on writing to the file it has open,
// unlinked, and lose every later write. A file that is not a store, or
// cannot be opened, is not in use.
func InUse(path string) bool {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	if err == nil {
		db.Close()
		return false
	}
	return errors.Is(err, bolterrors.ErrTimeout)
}

// ErrCorrupt is the error of Open and Compact when the store file is not a
// whole bbolt file: truncated, overwritten, or not a store at all.
var ErrCorrupt = errors.New("corrupt or truncated")

// openChecked is bbolt.Open turning what a damaged file does to it into
// ErrCorrupt: bbolt reads the pages that the meta page points to through
// its memory map and faults or panics when they are missing, so the faults
// are made panics for the duration and recovered, and the file must be as
// long as the meta page says. f is the file bbolt opened (through
// opts.OpenFile, os.OpenFile when nil), closed (which releases its lock)
// after a panic.
func openChecked(path string, opts bbolt.Options) (db *bbolt.DB, f *os.File, err error) {
	open := opts.OpenFile
	if open == nil {
		open = os.OpenFile
	}
	opts.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		var err error
		f, err = open(name, flag, perm)
		return f, err
	}
	// A panic leaves the file mapped, and so locked, until the process
	// ends: a short file, the usual damage, and a damaged freelist page
	// (the one page beyond the meta pages that bbolt.Open reads) are told
	// before bbolt maps the file.
	if err := checkFile(path); err != nil {
		return nil, nil, err
	}
	if !opts.ReadOnly && !freelistOnFile(path) {
		// bbolt.Open will rebuild the list of free pages by reading every
		// page in a goroutine of its own, where a damaged page panics out
		// of reach: the pages are read here first. Both read them in the
		// order of the buckets' trees, one page at a time (bbolt asks for
		// no read-ahead on its map), so the file is read in order first.
		readAhead(path)
		if err := readAllPages(path, opts.Timeout); err != nil {
			return nil, nil, err
		}
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if f != nil {
				f.Close()
			}
			db, f, err = nil, nil, fmt.Errorf("%w: reading a page it refers to failed (%v)", ErrCorrupt, r)
		}
	}()
	db, err = bbolt.Open(path, 0o600, &opts)
	// bbolt has no sentinel for a file shorter than its two meta pages.
	if errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrChecksum) ||
		err != nil && strings.Contains(err.Error(), "file size too small") {
		return nil, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err != nil {
		return nil, nil, err
	}
	var want int64
	_ = db.View(func(tx *bbolt.Tx) error { want = tx.Size(); return nil })
	fi, err := f.Stat()
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	if fi.Size() < want {
		db.Close()
		return nil, nil, fmt.Errorf("%w: the file has %d bytes, its pages reach to %d", ErrCorrupt, fi.Size(), want)
	}
	return db, f, nil
}

// readAheadBlock is the size of readAhead's reads.
const readAheadBlock = 4 << 20

// readAhead reads the file at path from start to end in large blocks, so
// that the reads of its pages in tree order that follow find them in the
// page cache. From a cold cache those are random reads of one page each:
// 42-153 s for the files of 1,000,000 waiting sessions, which the disk
// reads in order in a few seconds at most. (posix_fadvise WILLNEED, which
// asks the kernel for the same reads without copying, left such a start
// at 11-12 s.) It reports nothing: a read that fails leaves the pages to
// be read where they are needed, whose errors count.
func readAhead(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	buf := make([]byte, readAheadBlock)
	for {
		if _, err := f.Read(buf); err != nil {
			return
		}
	}
}

// readAllPages opens the file at path read-only, which waits for the lock
// of a process writing it, and reads every page its buckets reach
// (checkPages), turning a damaged page into ErrCorrupt. A file bbolt
// cannot open is left to the caller's bbolt.Open to report.
func readAllPages(path string, timeout time.Duration) (err error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return err
		}
		return nil
	}
	defer db.Close()
	return checkPages(path)
}

// openedHook, when set (tests), is called once openLocked has opened the
// file and before bbolt waits for its lock.
var openedHook func(path string)

// namesFile reports whether path names the open file f.
func namesFile(path string, f *os.File) (bool, error) {
	opened, err := f.Stat()
	if err != nil {
		return false, err
	}
	named, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(opened, named), nil
}

// freelistOnFile reports whether the store file at path holds bbolt's
// list of free pages, which a file written with the list not synced holds
// only once Close has written it. A missing or unreadable file reports
// true: there is nothing to rebuild, or bbolt.Open reports it.
func freelistOnFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	m, ok := readMeta(f)
	return !ok || m.freelist != noFreelist
}

// noFreelist is the freelist page a meta page names when the list is not
// on file.
const noFreelist = ^uint64(0)

// meta is what the store reads of a bbolt meta page.
type meta struct {
	pageSize, freelist, pages, txid uint64
	// root is the root bucket's page.
	root uint64
}

// readMeta reads the two meta pages as bbolt does (bbolt has no function
// for it): the one with the valid checksum and the highest transaction id
// counts. ok is false when neither is valid.
func readMeta(f *os.File) (m meta, ok bool) {
	// A meta page: a 16-byte page header, then magic, version, page size
	// and flags (u32 each), the root bucket (16 bytes), the freelist's page,
	// the high-water page and the transaction id (u64 each), and a checksum,
	// FNV-64a of the meta before it, all in the machine's byte order.
	const header, sumAt = 16, 56
	read := func(off int64) (meta, bool) {
		buf := make([]byte, header+sumAt+8)
		if _, err := f.ReadAt(buf, off); err != nil {
			return meta{}, false
		}
		m := buf[header:]
		h := fnv.New64a()
		h.Write(m[:sumAt])
		if binary.NativeEndian.Uint32(m) != 0xED0CDAED || binary.NativeEndian.Uint64(m[sumAt:]) != h.Sum64() {
			return meta{}, false
		}
		return meta{uint64(binary.NativeEndian.Uint32(m[8:])), binary.NativeEndian.Uint64(m[32:]),
			binary.NativeEndian.Uint64(m[40:]), binary.NativeEndian.Uint64(m[48:]), binary.NativeEndian.Uint64(m[16:])}, true
	}
	m, ok = read(0)
	offsets := []int64{int64(m.pageSize)}
	if !ok { // the second meta page is one page in, whatever the size
		offsets = []int64{int64(os.Getpagesize()), 1 << 10, 2 << 10, 4 << 10, 8 << 10, 16 << 10, 32 << 10, 64 << 10}
	}
	for _, off := range offsets {
		if m2, ok2 := read(off); ok2 && uint64(off) == m2.pageSize && (!ok || m2.txid > m.txid) {
			m, ok = m2, true
			break
		}
	}
	return m, ok
}

// checkFile returns ErrCorrupt when the file at path is shorter than the
// pages its meta page counts, or when the freelist page it names does not
// say it is that page. It reads the two meta pages as bbolt does (bbolt has
// no function for it): the one with the valid checksum and the highest
// transaction id counts. An empty file is ErrCorrupt too. A file it cannot
// read and one without a valid meta page are left to bbolt.Open to report.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	if fi.Size() == 0 {
		// bbolt would write a new store into it: what it held is lost,
		// and a new store is made only where there was no file.
		return fmt.Errorf("%w: the file is empty (0 bytes)", ErrCorrupt)
	}
	m, ok := readMeta(f)
	if !ok {
		return nil
	}
	pageSize, freelist, pages := m.pageSize, m.freelist, m.pages
	if want := pages * pageSize; uint64(fi.Size()) < want {
		return fmt.Errorf("%w: the file has %d bytes, its pages reach to %d", ErrCorrupt, fi.Size(), want)
	}
	// A page header: its id (u64) and flags (u16, 0x10 for the freelist),
	// which bbolt checks, panicking, when it reads the page.
	const freelistFlag = 0x10
	if freelist == noFreelist || freelist >= pages {
		return nil
	}
	buf := make([]byte, 10)
	if _, err := f.ReadAt(buf, int64(freelist*pageSize)); err != nil {
		return nil
	}
	if id, flags := binary.NativeEndian.Uint64(buf), binary.NativeEndian.Uint16(buf[8:]); id != freelist || flags != freelistFlag {
		return fmt.Errorf("%w: the freelist's page %d reads as page %d with flags %#x", ErrCorrupt, freelist, id, flags)
	}
	return nil
}

// FragmentedFreePages is the number of free pages (64 MiB at 4 KiB pages)
// from which Open warns, and the committer again at most every
// FreeWarnInterval while the server runs.
const FragmentedFreePages = 16384

// FreeWarnInterval is the least time between two warnings of free pages
// while the store is open; FreeCheckInterval is how often the committer
// counts them.
const (
	FreeWarnInterval  = time.Hour
	FreeCheckInterval = time.Minute
)

// warnFree logs a warning naming parley compact when the file has
// FragmentedFreePages free pages or more, and reports whether it did.
func (b *Bolt) warnFree(fs FileStats) bool {
	if fs.FreeBytes/b.pageSize < FragmentedFreePages {
		return false
	}
	b.log.Warn("store file has many free pages: later writes reuse them but the file does not shrink; "+
		"stop the server and run parley compact to give them back (docs/storage.md)",
		"free_bytes", fs.FreeBytes, "file_bytes", fs.Size)
	return true
}

// checkFree, run by the committer after a commit, counts the free pages
// every FreeCheckInterval and warns of them (warnFree) at most every
// FreeWarnInterval.
func (b *Bolt) checkFree() {
	now := b.now().UnixNano()
	if now-b.freeCheckAt < int64(FreeCheckInterval) {
		return
	}
	b.freeCheckAt = now
	if b.freeWarnAt != 0 && now-b.freeWarnAt < int64(FreeWarnInterval) {
		return
	}
	if b.warnFree(b.FileStats()) {
		b.freeWarnAt = now
	}
}

// writeFreelist writes bbolt's list of free pages in one commit of its
// own, so that the next Open reads it instead of rebuilding it.
func (b *Bolt) writeFreelist() error {
	if err := b.CheckFile(); err != nil {
		return err
	}
	var id int
	err := b.db.Update(func(tx *bbolt.Tx) error {
		// Read by this transaction's commit, under bbolt's writer lock.
		b.db.NoFreelistSync = false
		id = tx.ID()
		return nil
	})
	if err == nil {
		b.committedTx(id)
	}
	return err
}

// DB returns the underlying database, so other packages (event delivery) can
// keep their own buckets in the same file. They must not touch the buckets
// listed in docs/storage.md.
func (b *Bolt) DB() *bbolt.DB { return b.db }

// Close waits for queued writes, then closes the file. Writes issued after
// Close fail with ErrClosed. A backup under way fails at its next write,
// and Close waits for its Snapshot to be closed.
func (b *Bolt) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	b.endSnapshots()
	close(b.quit)
	<-b.stopped
	path := b.db.Path() // bbolt forgets it on Close
	// Only a file whose last commit wrote no list is written to: a store
	// that committed nothing since Open leaves the file as it was.
	if !b.syncFreelist && !freelistOnFile(path) {
		if err := b.writeFreelist(); err != nil {
			b.log.Warn("store could not write its list of free pages: the next start rebuilds it by reading the file", "path", path, "err", err)
		}
	}
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", path, err)
	}
	b.log.Info("store closed", "path", path)
	return nil
}

// Group runs fn in the next group commit, in the same transaction as the
// turns committed with it, and waits for the outcome: other packages that
// keep buckets in this file (event delivery) write through it so that they
// share the turns' fsyncs instead of taking bbolt's writer lock between them.
// fn must only touch tx, and may run more than once.
func (b *Bolt) Group(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	return b.group(ctx, func(tx *bbolt.Tx, _ *statBatch) error { return fn(tx) })
}

// group runs fn in the next group commit and waits for the outcome. A nil
// error means fn's writes are durable (unless NoSync). fn adjusts counters
// through st, which the group writes once after its last write.
func (b *Bolt) group(ctx context.Context, fn func(tx *bbolt.Tx, st *statBatch) error) error {
	if b.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	// The channel is unbuffered: once the send succeeds the committer owns r
	// and will finish it, even while closing. From then on the caller waits
	// for the outcome rather than for ctx, so an error always means "not
	// written"; a request whose ctx ends before its group starts is dropped.
	select {
	case b.writes <- r:
	case <-b.stopped:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-r.done
	return b.fileErr(r.err)
}

func (b *Bolt) committer() {
	defer close(b.stopped)
	batch := make([]*writeReq, 0, b.maxGroup)
	for {
		var first *writeReq
		select {
		case first = <-b.writes:
		case <-b.quit:
			// Finish whoever is already handing over a write.
			for {
				select {
				case r := <-b.writes:
					b.commit([]*writeReq{r})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < b.maxGroup {
			select {
			case r := <-b.writes:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.commit(batch)
	}
}

// commit runs a group in one transaction. When one write fails, the
// transaction is rolled back, that write gets its error, and the rest are
// retried without it: the same outcome as running them one by one.
func (b *Bolt) commit(batch []*writeReq) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	for len(live) > 0 {
		failed, ferr := -1, error(nil)
		t0 := time.Now()
		var t1, t2 time.Time
		// inFn is the write running: one whose reads reach a damaged page
		// fails alone (see guard), and the others are retried without it.
		inFn := -1
		err := b.guard(func() error {
			return b.dbUpdate(func(tx *bbolt.Tx) error {
				t1 = time.Now()
				defer func() { t2 = time.Now() }()
				// Rebuilt on every run: a re-run after a failed write must not
				// count the rolled-back writes.
				b.stats.reset()
				b.stats.logAt = b.lastLogAt
				for i, r := range live {
					inFn = i
					if err := r.fn(tx, &b.stats); err != nil {
						failed, ferr = i, err
						return err
					}
				}
				inFn = -1
				return b.stats.flush(tx)
			})
		})
		if err != nil && failed < 0 && inFn >= 0 {
			failed, ferr = inFn, err
		}
		if failed < 0 && !errors.Is(err, ErrCorrupt) {
			// bbolt's commit: every write of the group shares its outcome.
			err = b.committed(err)
		}
		if !t1.IsZero() {
			b.statLockNanos.Add(int64(t1.Sub(t0)))
			b.statApplyNanos.Add(int64(t2.Sub(t1)))
			b.statSyncNanos.Add(int64(time.Since(t2)))
		}
		if failed < 0 {
			if err == nil {
				b.lastLogAt = b.stats.logAt
				b.checkFree()
			}
			b.statCommits.Add(1)
			b.statTurns.Add(int64(len(live)))
			if err != nil {
				// A commit that failed writing the file is logged as an
				// error once, when writes begin to fail (committed).
				level := slog.LevelError
				if errors.As(err, new(*WriteFailedError)) {
					level = slog.LevelDebug
				}
				b.log.Log(context.Background(), level, "store commit failed", "writes", len(live), "err", err)
			}
			for _, r := range live {
				r.err = err
				close(r.done)
			}
			return
		}
		live[failed].err = ferr
		close(live[failed].done)
		live = append(live[:failed], live[failed+1:]...)
	}
}

// dbUpdate is bbolt's DB.Update, except that:
//
//   - The commit writes the list of free pages only while the file has
//     fewer than unsyncFrom of them. bbolt writes the list (8 bytes a free
//     page) into one run of free pages as long as the list, which one-page
//     allocations carve up, and takes the run at the end of the file when
//     none is left, above all while a backup's read transaction holds the
//     pages freed before it: a file with many free pages then grew while
//     they went unused, and wrote the list on every commit
//     (docs/storage.md, Freelist).
//   - A panic (a damaged page, see guard) rolls the transaction back as an
//     error does, undoing its page allocations, where bbolt's rebuilds the
//     list of free pages: with the list not on file, by reading every page
//     in a goroutine of its own, where the damaged page would panic again
//     out of reach. A commit that fails writing the file still rebuilds it
//     so (bbolt's Commit rolls back itself).
//   - Nothing is written to a file found replaced (checkFileEvery).
func (b *Bolt) dbUpdate(fn func(tx *bbolt.Tx) error) error {
	if err := b.checkFileEvery(); err != nil {
		return err
	}
	tx, err := b.db.Begin(true)
	if err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			_ = tx.Rollback()
			panic(r)
		}
	}()
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if !b.syncFreelist {
		// Read by this commit, under bbolt's writer lock.
		st := b.db.Stats()
		b.db.NoFreelistSync = st.FreePageN+st.PendingPageN >= b.unsyncFrom
	}
	id := tx.ID()
	if err := tx.Commit(); err != nil {
		return err
	}
	b.committedTx(id)
	return nil
}

// update runs a one-off write (flows, config, acks): rare enough not to need
// grouping.
func (b *Bolt) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if b.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var fnErr error
	err := b.guard(func() error {
		return b.dbUpdate(func(tx *bbolt.Tx) error {
			fnErr = fn(tx)
			return fnErr
		})
	})
	if fnErr == nil && !errors.Is(err, ErrCorrupt) {
		err = b.committed(err)
	}
	return b.fileErr(err)
}

// view runs a read transaction.
func (b *Bolt) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if b.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.fileErr(b.guard(func() error { return b.db.View(fn) }))
}

// fileErr names the store file in an error that wraps ErrCorrupt (a value
// that does not decode, RecordError), as Open names it for a damaged page.
func (b *Bolt) fileErr(err error) error {
	if err != nil && errors.Is(err, ErrCorrupt) {
		return corruptFile(b.path, err)
	}
	return err
}

// Counter names in the stats bucket.
const (
	statFlows     = "flows"
	statContacts  = "contacts"
	statEvents    = "events"
	statTimers    = "timers"
	statOutbox    = "outbox"
	statProcessed = "processed"
)

func statSession(s flows.Status) string {
	switch s { // the usual ones without building the name
	case flows.StatusWaiting:
		return "sessions.waiting"
	case flows.StatusCompleted:
		return "sessions.completed"
	case flows.StatusActive:
		return "sessions.active"
	}
	return "sessions." + string(s)
}

// statPruned counts the ended sessions of a status that PruneEnded deleted.
func statPruned(s flows.Status) string { return "pruned." + string(s) }

// statDeleted counts the sessions of a status deleted otherwise than by
// PruneEnded: with their contact (EraseContact) or by DeleteSession.
func statDeleted(s flows.Status) string { return "deleted." + string(s) }

// addStat adjusts a counter inside the caller's transaction, so counters
// are exactly as consistent as the data they count.
func addStat(tx *bbolt.Tx, name string, delta int64) error {
	if delta == 0 {
		return nil
	}
	bk := tx.Bucket(bStats)
	var v int64
	if old := bk.Get([]byte(name)); len(old) == 8 {
		v = int64(binary.BigEndian.Uint64(old))
	}
	return bk.Put([]byte(name), u64(uint64(v+delta)))
}

// statBatch sums the counter changes of a group's writes, so that each
// counter is read and written once per transaction instead of once per
// write: the same stored values, since only the sum reaches the file. A
// counter that a write touched is written even when the changes cancel
// out, as writing each change through would have. A nil batch writes each
// change through (addStat).
//
// It also carries, for statBatch.put, what the transaction knows of the
// buckets it has only appended to; a nil batch has no such knowledge, so
// put is used for it.
type statBatch struct {
	names   []string
	deltas  []int64
	fills   []bucketFill
	cursors []bucketCursor
	keys    []byte // scratch
	// logAt is the time of the newest processed_log key, those the
	// transaction added included (dedupe.go).
	logAt uint64
}

// nextLogAt returns the time to store a dedupe record prepared at at: after
// every record before it, so that a group's records are appended to
// processed_log and fill its pages (at itself when writing through).
func (s *statBatch) nextLogAt(at uint64) uint64 {
	if s == nil {
		return at
	}
	s.logAt = max(at, s.logAt+1)
	return s.logAt
}

// scratch returns an empty buffer of capacity n for building a key that
// bbolt does not keep: a key read (Get, Seek), deleted, or put, since Put
// copies its key (bbolt 1.4 on; TestPutCopiesKey). A value is kept until
// the transaction commits and must never be built in it. The next call
// reuses the buffer.
func (s *statBatch) scratch(n int) []byte {
	if s == nil {
		return make([]byte, 0, n)
	}
	if cap(s.keys) < n {
		s.keys = make([]byte, 0, max(n, 64))
	}
	return s.keys[:0]
}

// bucketCursor is the cursor a group's transaction reads a bucket through.
// bbolt's Get makes a new cursor, whose stack grows as it descends the
// B-tree, for every read; a cursor kept for the transaction reuses its
// stack, since every Seek starts again from the bucket's root.
type bucketCursor struct {
	bk *bbolt.Bucket
	c  *bbolt.Cursor
}

// cursor returns the transaction's cursor on bk, making it on first use
// (a new one every time for a nil batch).
func (s *statBatch) cursor(bk *bbolt.Bucket) *bbolt.Cursor {
	if s == nil {
		return bk.Cursor()
	}
	for i := range s.cursors {
		if s.cursors[i].bk == bk {
			return s.cursors[i].c
		}
	}
	c := bk.Cursor()
	s.cursors = append(s.cursors, bucketCursor{bk: bk, c: c})
	return c
}

// get is bk.Get(k) for a group's writes (bk.Get itself for a nil batch).
func (s *statBatch) get(bk *bbolt.Bucket, k []byte) []byte {
	if s == nil {
		return bk.Get(k)
	}
	return seekExact(s.cursor(bk), k)
}

// seekExact is what Bucket.Get answers, read with c: k's value, or nil
// when k is not in the bucket (or names a nested bucket).
func seekExact(c *bbolt.Cursor, k []byte) []byte {
	if found, v := c.Seek(k); bytes.Equal(found, k) {
		return v
	}
	return nil
}

func (s *statBatch) add(tx *bbolt.Tx, name string, delta int64) error {
	if s == nil {
		return addStat(tx, name, delta)
	}
	if delta == 0 {
		return nil
	}
	for i, n := range s.names {
		if n == name {
			s.deltas[i] += delta
			return nil
		}
	}
	s.names = append(s.names, name)
	s.deltas = append(s.deltas, delta)
	return nil
}

func (s *statBatch) reset() {
	s.names, s.deltas = s.names[:0], s.deltas[:0]
	// Buckets and cursors belong to their transaction; the fills' key
	// buffers are kept for the next one.
	all := s.fills[:cap(s.fills)]
	for i := range all {
		all[i].bk = nil
	}
	s.fills = s.fills[:0]
	clear(s.cursors)
	s.cursors = s.cursors[:0]
}

// flush writes the summed changes into tx.
func (s *statBatch) flush(tx *bbolt.Tx) error {
	bk := tx.Bucket(bStats)
	for i, name := range s.names {
		var v int64
		k := append(s.scratch(len(name)), name...)
		if old := s.get(bk, k); len(old) == 8 {
			v = int64(binary.BigEndian.Uint64(old))
		}
		if err := bk.Put(k, u64(uint64(v+s.deltas[i]))); err != nil {
			return err
		}
	}
	s.reset()
	return nil
}

func getStat(tx *bbolt.Tx, name string) int64 {
	if v := tx.Bucket(bStats).Get([]byte(name)); len(v) == 8 {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

// Stats reads the counters: a handful of key lookups, cheap enough for every
// metrics scrape.
func (b *Bolt) Stats(ctx context.Context) (Stats, error) {
	st := Stats{
		Sessions: make(map[flows.Status]int64, len(statusCodes)),
		Pruned:   make(map[flows.Status]int64, 4), Deleted: make(map[flows.Status]int64, len(statusCodes)),
	}
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		for s := range statusCodes {
			st.Sessions[s] = getStat(tx, statSession(s))
			st.Deleted[s] = getStat(tx, statDeleted(s))
			if s.Ended() {
				st.Pruned[s] = getStat(tx, statPruned(s))
			}
		}
		st.Flows = getStat(tx, statFlows)
		st.Contacts = getStat(tx, statContacts)
		st.Events = getStat(tx, statEvents)
		st.Timers = getStat(tx, statTimers)
		st.Outbox = getStat(tx, statOutbox)
		st.Processed = getStat(tx, statProcessed)
		st.FileBytes = tx.Size()
		return nil
	})
	return st, err
}

package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"go.etcd.io/bbolt"
)

// CompactOptions tunes Compact.
type CompactOptions struct {
	// NoBackup removes the original file once the compacted copy has been
	// checked and put in its place; by default it is kept as
	// BackupSuffix next to it.
	NoBackup bool
	// TxMaxSize bounds the bytes of keys and values copied per transaction
	// (0: DefaultCompactTxSize).
	TxMaxSize int64
	// LockTimeout is how long to wait for the file's lock (0: 1 s). A file
	// held by a running server is not compacted.
	LockTimeout time.Duration
}

// DefaultCompactTxSize is how many bytes of keys and values Compact copies
// per transaction of the new file.
const DefaultCompactTxSize = 16 << 20

// BackupSuffix is added to a store file's name for the original that
// Compact keeps.
const BackupSuffix = ".before-compact"

// CompactSuffix names the copy a compaction writes next to the file before
// it takes the file's name.
const CompactSuffix = ".compact"

// CompactResult reports what Compact did.
type CompactResult struct {
	BytesBefore, BytesAfter int64
	// Keys and Buckets are the keys and buckets found equal in the copy.
	Keys, Buckets int64
	// Records counts the sessions, event log values and contact rows
	// decoded: all of them, since Compact fails when one does not decode.
	Records RecordCheck
	// Backup is the original file's new path ("" with NoBackup).
	Backup   string
	Duration time.Duration
}

// ResolveStorePath is the file a store path names: path itself, or the
// file its symbolic links lead to.
func ResolveStorePath(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return path, err
	}
	return filepath.EvalSymlinks(path)
}

// Compact rewrites the store file at path without its free pages: bbolt
// reuses the pages that deletes and pruning free but never gives them back
// to the file system, so a file keeps the size of its largest moment (a
// migration, a long deliveries log). The file must not be open elsewhere:
// Compact takes its lock and gives up after LockTimeout.
//
// The copy is written next to the file (path + CompactSuffix), synced, then
// compared key by key, bucket sequences included, with the original; only
// then does it take the original's name in one rename, the original being
// kept as path + BackupSuffix (a hard link made first) unless NoBackup. An
// error at any step leaves the original file where it was. A path that is
// a symbolic link is followed: the file it leads to is compacted in its
// own directory, and the link left as it is.
func Compact(ctx context.Context, path string, opts CompactOptions) (CompactResult, error) {
	start := time.Now()
	var res CompactResult
	if opts.TxMaxSize <= 0 {
		opts.TxMaxSize = DefaultCompactTxSize
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	fi, err := os.Stat(path)
	if err != nil {
		return res, fmt.Errorf("compact: %w", err)
	}
	// A store file that is a link to one elsewhere (a larger volume) is
	// compacted where it is: renaming the copy over the link would put
	// the store in the link's directory, on its disk, and leave the
	// original where the link pointed.
	path, err = ResolveStorePath(path)
	if err != nil {
		return res, fmt.Errorf("compact: %w", err)
	}
	res.BytesBefore = fi.Size()
	backup := path + BackupSuffix
	if !opts.NoBackup {
		if _, err := os.Stat(backup); err == nil {
			return res, fmt.Errorf("compact: %s exists from an earlier compaction: move or delete it first", backup)
		}
	}
	// Not read-only: the exclusive lock keeps a server from opening the
	// file while it is being copied. openLocked: another compaction may have
	// put its copy in the file's place while this one waited for the lock.
	src, err := openLocked(path, &bbolt.Options{Timeout: opts.LockTimeout, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return res, fmt.Errorf("compact: %w", err)
	}
	defer src.Close()
	switch err := sourceLayout(src); {
	case errors.Is(err, ErrCorrupt):
		return res, fmt.Errorf("compact: %w", corruptFile(path, err))
	case errors.Is(err, ErrNewerLayout):
		return res, fmt.Errorf("compact: %s: %w: compact it with that version", path, err)
	case err != nil:
		return res, fmt.Errorf("compact: %s: %w", path, err)
	}

	tmp := path + CompactSuffix
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return res, fmt.Errorf("compact: remove the leftover %s: %w", tmp, err)
	}
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{
		NoSync: true, NoGrowSync: true, PageSize: src.Info().PageSize, FreelistType: bbolt.FreelistMapType,
	})
	if err != nil {
		// bbolt may have made the file before failing to write it (a
		// full disk): nothing is left behind on any failure.
		os.Remove(tmp)
		return res, fmt.Errorf("compact: create %s: %w", tmp, err)
	}
	fail := func(err error) (CompactResult, error) {
		dst.Close()
		os.Remove(tmp)
		return res, fmt.Errorf("compact: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if res.Keys, res.Buckets, res.Records, err = copyChecked(ctx, dst, src, tmp, opts.TxMaxSize); err != nil {
		if errors.Is(err, ErrCorrupt) {
			err = corruptFile(path, err)
		}
		return fail(err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("compact: close %s: %w", tmp, err)
	}
	// The original keeps its name until the copy replaces it in one
	// rename, so a crash at any point leaves a store file at path.
	dir := filepath.Dir(path)
	if !opts.NoBackup {
		if err := os.Link(path, backup); err != nil {
			os.Remove(tmp)
			return res, fmt.Errorf("compact: keep the original as %s: %w (--no-backup replaces it without a link)", backup, err)
		}
		res.Backup = backup
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		if res.Backup != "" {
			os.Remove(backup) // a second name of the original, still in place
		}
		return CompactResult{}, fmt.Errorf("compact: %w", err)
	}
	if err := SyncDir(dir); err != nil {
		return res, fmt.Errorf("compact: sync %s: %w", dir, err)
	}
	if fi, err := os.Stat(path); err == nil {
		res.BytesAfter = fi.Size()
	}
	res.Duration = time.Since(start)
	return res, nil
}

// SyncDir makes a directory's entries durable: a file just created or
// renamed in it survives a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// sameContent compares every bucket (with its sequence), key and value of a
// and b, and counts them.
func sameContent(ctx context.Context, a, b *bbolt.DB) (keys, buckets int64, err error) {
	err = a.View(func(ta *bbolt.Tx) error {
		return b.View(func(tb *bbolt.Tx) error {
			ca, cb := ta.Cursor(), tb.Cursor()
			ka, _ := ca.First()
			kb, _ := cb.First()
			for ; ka != nil || kb != nil; ka, kb = next(ca), next(cb) {
				if !bytes.Equal(ka, kb) {
					return fmt.Errorf("bucket %q in one file, %q in the other", ka, kb)
				}
				n, m, err := sameBucket(ctx, string(ka), ta.Bucket(ka), tb.Bucket(kb))
				if err != nil {
					return err
				}
				keys += n
				buckets += m
			}
			return nil
		})
	})
	return keys, buckets, err
}

func next(c *bbolt.Cursor) []byte {
	k, _ := c.Next()
	return k
}

func sameBucket(ctx context.Context, name string, a, b *bbolt.Bucket) (keys, buckets int64, err error) {
	if a.Sequence() != b.Sequence() {
		return 0, 0, fmt.Errorf("bucket %s: sequence %d, copy %d", name, a.Sequence(), b.Sequence())
	}
	buckets = 1
	ca, cb := a.Cursor(), b.Cursor()
	ka, va := ca.First()
	kb, vb := cb.First()
	for ; ka != nil || kb != nil; ka, va = ca.Next() {
		if keys%100_000 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, 0, err
			}
		}
		// A cursor gives a nested bucket's key a nil value.
		nestedA := va == nil && a.Bucket(ka) != nil
		nestedB := vb == nil && b.Bucket(kb) != nil
		switch {
		case !bytes.Equal(ka, kb):
			return 0, 0, fmt.Errorf("bucket %s: key %q, copy %q", name, ka, kb)
		case nestedA != nestedB:
			return 0, 0, fmt.Errorf("bucket %s: %q is a bucket in one file and a key in the other", name, ka)
		case nestedA:
			n, m, err := sameBucket(ctx, name+"/"+string(ka), a.Bucket(ka), b.Bucket(kb))
			if err != nil {
				return 0, 0, err
			}
			keys += n
			buckets += m
		case !bytes.Equal(va, vb):
			return 0, 0, fmt.Errorf("bucket %s: key %q differs in the copy", name, ka)
		default:
			keys++
		}
		kb, vb = cb.Next()
	}
	return keys, buckets, nil
}

// sourceLayout refuses a file Compact must not rewrite (checkLayout); a
// damaged page the check reaches is ErrCorrupt (readPages).
func sourceLayout(src *bbolt.DB) error {
	return readPages(func() error {
		return src.View(func(tx *bbolt.Tx) error {
			_, err := checkLayout(tx)
			return err
		})
	})
}

// readPages runs f, which reads a file's pages: bbolt panics on a damaged
// page (or faults), which is made ErrCorrupt.
func readPages(f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: reading a page failed (%v)", ErrCorrupt, r)
		}
	}()
	return f()
}

// copyChecked copies src into dst (the file tmp) and checks the copy. It
// reads every page of src, so a damaged page that Open did not reach shows
// here as ErrCorrupt (readPages); its transactions are rolled back, and the
// caller removes the copy. Then it decodes every session and contact of src
// (checkRecords): damage inside values, which bbolt does not see, fails the
// compaction too, naming every damaged value, so that a compacted file is
// never taken for a sound one.
func copyChecked(ctx context.Context, dst, src *bbolt.DB, tmp string, txMaxSize int64) (keys, buckets int64, chk RecordCheck, err error) {
	err = readPages(func() error {
		if err := bbolt.Compact(dst, src, txMaxSize); err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := dst.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", tmp, err)
		}
		var err error
		if keys, buckets, err = sameContent(ctx, src, dst); err != nil {
			return fmt.Errorf("check the copy: %w", err)
		}
		return src.View(func(tx *bbolt.Tx) error {
			var err error
			chk, err = checkRecords(ctx, tx)
			return err
		})
	})
	if err != nil {
		return 0, 0, chk, err
	}
	return keys, buckets, chk, nil
}

package store

import (
	"errors"
	"fmt"
	"os"
	"time"

	"go.etcd.io/bbolt"
)

// ErrFileReplaced is the error of every write once the store file has been
// replaced or overwritten while the store had it open (a backup restored
// onto a running server, a cp over the file): the store writes nothing more,
// since its writes would be lost (a file put in its place) or would damage
// the file now there (one copied over it).
var ErrFileReplaced = errors.New("the store file was replaced or overwritten while the server had it open")

// FileCheckInterval is the least time between two checks, made before a
// write, that the store file is still the one the store opened.
const FileCheckInterval = time.Second

// replacedError says how the store file was found replaced.
type replacedError struct {
	path, how string
}

func (e *replacedError) Error() string {
	return fmt.Sprintf("%v: %s %s", ErrFileReplaced, e.path, e.how)
}

func (e *replacedError) Unwrap() error { return ErrFileReplaced }

// CheckFile reports whether the store file is still the file the store
// opened and holds at least the store's latest commit: nil when it is, an
// error wrapping ErrFileReplaced when the file was removed, another file
// was put at its path (a restore by rename, mv), or it was overwritten in
// place with an older copy or something else (cp over it). Once it has
// found so, every write of the store fails with that error, nothing more
// is written to the file (Close included), and LastWriteFailure reports it,
// so turns are refused. The check reads the file's two meta pages; it is
// made before a write at most every FileCheckInterval, and whenever
// CheckFile is called (GET /healthz).
func (b *Bolt) CheckFile() error {
	if err := b.replaced.Load(); err != nil {
		return *err
	}
	how := b.fileChange()
	if how == "" {
		return nil
	}
	var err error = &replacedError{path: b.path, how: how}
	if b.replaced.CompareAndSwap(nil, &err) {
		b.log.Error("store file replaced while the server had it open: it writes nothing more to it; stop the server, "+
			"which then serves the file now in place when started again", "path", b.path, "err", err)
		now := b.now()
		b.probeAt.Store(now.Add(b.probeEvery).UnixNano())
		b.writeFailure.CompareAndSwap(nil, &WriteFailure{Since: now, At: now, Err: err})
	}
	return *b.replaced.Load()
}

// fileChange says how the file at b.path differs from the one the store
// opened, "" when it does not.
func (b *Bolt) fileChange() string {
	named, err := os.Stat(b.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "was removed"
	case err != nil:
		return "" // not known: the writes say what is wrong
	case !os.SameFile(b.opened, named):
		return "is another file than the one the server opened (moved or copied into its place)"
	}
	f, err := os.Open(b.path)
	if err != nil {
		return ""
	}
	defer f.Close()
	m, ok := readMeta(f)
	// A commit writes the file's meta page before the store records its
	// id, so the file is never behind the record while it is the store's.
	last := b.lastTxid.Load()
	switch {
	case !ok:
		return fmt.Sprintf("was overwritten: it has %d bytes and no valid bbolt meta page", named.Size())
	case m.txid < last:
		return fmt.Sprintf("was overwritten with an older copy: its latest transaction is %d, the store's %d", m.txid, last)
	}
	return ""
}

// checkFileEvery is CheckFile, made at most every FileCheckInterval unless
// it has found the file replaced; before every write.
func (b *Bolt) checkFileEvery() error {
	if err := b.replaced.Load(); err != nil {
		return *err
	}
	now := b.now().UnixNano()
	next := b.fileCheckAt.Load()
	if now < next || !b.fileCheckAt.CompareAndSwap(next, now+int64(FileCheckInterval)) {
		return nil
	}
	return b.CheckFile()
}

// committedTx records the id of a transaction the store committed.
func (b *Bolt) committedTx(id int) {
	for {
		last := b.lastTxid.Load()
		if uint64(id) <= last || b.lastTxid.CompareAndSwap(last, uint64(id)) {
			return
		}
	}
}

// openedFile records the file the store opened and its latest transaction.
func (b *Bolt) openedFile() error {
	fi, err := os.Stat(b.path)
	if err != nil {
		return err
	}
	b.opened = fi
	return b.db.View(func(tx *bbolt.Tx) error {
		b.committedTx(tx.ID())
		return nil
	})
}

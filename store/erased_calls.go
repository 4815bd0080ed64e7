package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// ErasedCall is a call whose session an erasure of its contact ended and
// deleted: its session id and until when the call could still be going
// on. Nothing else of the call or its caller is kept.
type ErasedCall struct {
	SessionID string
	Until     time.Time
}

// putErasedCalls records calls in bErasedCalls, in the erasure's
// transaction: key eid(session id), value ns(until).
func putErasedCalls(tx *bbolt.Tx, st *statBatch, calls []ErasedCall) error {
	bk := tx.Bucket(bErasedCalls)
	for _, c := range calls {
		if err := st.put(bk, idKey(c.SessionID), u64(nanos(c.Until))); err != nil {
			return err
		}
	}
	return nil
}

// CallErased reports whether the call of session id was ended by an
// erasure of its contact (EraseContact's calls) and could still be going
// on at now.
func (b *Bolt) CallErased(ctx context.Context, id string, now time.Time) (bool, error) {
	if err := checkID("session", id); err != nil {
		return false, err
	}
	erased := false
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bErasedCalls).Get(idKey(id))
		if v == nil {
			return nil
		}
		if len(v) != 8 {
			return &RecordError{Bucket: string(bErasedCalls), Record: fmt.Sprintf("call of session %q", id),
				Err: fmt.Errorf("value of %d bytes, want 8", len(v))}
		}
		erased = now.Before(fromNanos(binary.BigEndian.Uint64(v)))
		return nil
	})
	return erased, err
}

// PruneErasedCalls deletes up to limit (default 1000) erased calls whose
// time is over at now, and reports how many it deleted. It reads the
// bucket, which holds only the calls erased within a call's longest
// life, and writes nothing when none is over.
func (b *Bolt) PruneErasedCalls(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	until := nanos(now)
	over := func(v []byte) bool { return len(v) != 8 || binary.BigEndian.Uint64(v) <= until }
	var due [][]byte
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		due = due[:0]
		c := tx.Bucket(bErasedCalls).Cursor()
		for k, v := c.First(); k != nil && len(due) < limit; k, v = c.Next() {
			if over(v) {
				due = append(due, append([]byte(nil), k...))
			}
		}
		return nil
	})
	if err != nil || len(due) == 0 {
		return 0, err
	}
	n := 0
	err = b.group(ctx, func(tx *bbolt.Tx, _ *statBatch) error {
		n = 0
		bk := tx.Bucket(bErasedCalls)
		for _, k := range due {
			// Erased again meanwhile, with a later time: kept.
			if v := bk.Get(k); v == nil || !over(v) {
				continue
			}
			if err := bk.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

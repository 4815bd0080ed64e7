package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"
)

// putOutbox appends encoded records under fresh sequence numbers. bbolt's
// NextSequence is part of the transaction, so a rolled-back (or re-run)
// write leaves no gap holder behind.
func putOutbox(tx *bbolt.Tx, st *statBatch, recs [][]byte) error {
	if len(recs) == 0 {
		return nil
	}
	ob := tx.Bucket(bOutbox)
	for _, v := range recs {
		seq, err := ob.NextSequence()
		if err != nil {
			return err
		}
		if err := st.put(ob, binary.BigEndian.AppendUint64(st.scratch(8), seq), v); err != nil {
			return err
		}
	}
	return st.add(tx, statOutbox, int64(len(recs)))
}

// AppendOutbox adds lifecycle records that no session write carries (flow
// published, for example). Empty ids and timestamps are filled in.
func (b *Bolt) AppendOutbox(ctx context.Context, recs ...OutboxRecord) error {
	now := b.now().UTC()
	enc := make([][]byte, 0, len(recs))
	for _, r := range recs {
		if r.ID == "" {
			r.ID = uuid.NewString()
		}
		if r.Timestamp.IsZero() {
			r.Timestamp = now
		}
		if len(r.Data) == 0 {
			r.Data = json.RawMessage("null")
		}
		v, err := encodeJSON("outbox record", r.ID, &r)
		if err != nil {
			return err
		}
		enc = append(enc, v)
	}
	return b.group(ctx, func(tx *bbolt.Tx, st *statBatch) error { return putOutbox(tx, st, enc) })
}

// Outbox returns up to limit (default 100, at most 1000) records with a
// sequence above afterSeq, in the order they were written. Reading does not
// remove them: the dispatcher acknowledges what it has handled.
func (b *Bolt) Outbox(ctx context.Context, afterSeq uint64, limit int) ([]OutboxEntry, error) {
	limit = pageLimit(limit, 100)
	var out []OutboxEntry
	if afterSeq == math.MaxUint64 {
		return nil, nil
	}
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bOutbox).Cursor()
		for k, v := c.Seek(u64(afterSeq + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			e := OutboxEntry{Seq: seq}
			if err := json.Unmarshal(v, &e.Record); err != nil {
				return fmt.Errorf("outbox record %d: decode: %w", seq, err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// AckOutbox deletes records by sequence. Unknown sequences are ignored, so
// acknowledging twice is harmless.
func (b *Bolt) AckOutbox(ctx context.Context, seqs ...uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	return b.group(ctx, func(tx *bbolt.Tx, st *statBatch) error {
		ob := tx.Bucket(bOutbox)
		var n int64
		for _, s := range seqs {
			k := u64(s)
			if ob.Get(k) == nil {
				continue
			}
			if err := ob.Delete(k); err != nil {
				return err
			}
			n++
		}
		return st.add(tx, statOutbox, -n)
	})
}

// OutboxDepth is the number of records not yet acknowledged, from a counter.
func (b *Bolt) OutboxDepth() (int, error) {
	var n int64
	err := b.view(context.Background(), func(tx *bbolt.Tx) error {
		n = getStat(tx, statOutbox)
		return nil
	})
	return int(n), err
}

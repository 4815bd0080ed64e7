package store

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// DueBucket is event delivery's schedule (package delivery): one key per
// delivery waiting for an attempt. The store does not read its keys; it
// counts them once, when a file has no count yet (EnsureDeliveryCounters).
const DueBucket = "dl_due"

// Counters in the stats bucket that package delivery changes in its own
// transactions (which may be group commits of this store), so that the
// metrics of event delivery read a key instead of counting a bucket.
const (
	// CounterOutbox is the number of records in the outbox: the store adds
	// those a write appends, AckOutbox removes those it deletes, and event
	// delivery removes those it fans out.
	CounterOutbox = statOutbox
	// CounterPendingDeliveries is the number of keys in DueBucket: the
	// deliveries waiting for an attempt.
	CounterPendingDeliveries = "deliveries.pending"
)

// AddCounter adjusts the counter name by delta inside tx, the transaction
// that makes the change it counts, so that the counter is exactly as
// consistent as what it counts (a rolled-back write changes neither).
func AddCounter(tx *bbolt.Tx, name string, delta int64) error {
	if tx.Bucket(bStats) == nil {
		return fmt.Errorf("counter %s: the file has no %s bucket", name, bStats)
	}
	return addStat(tx, name, delta)
}

// ReadCounter reads the counter name (0 when it was never written).
func ReadCounter(tx *bbolt.Tx, name string) int64 {
	if tx.Bucket(bStats) == nil {
		return 0
	}
	return getStat(tx, name)
}

// hasDeliveryCounters reports whether the file keeps the counters of event
// delivery: a file written before layout 8 does not.
func hasDeliveryCounters(tx *bbolt.Tx) bool {
	bk := tx.Bucket(bStats)
	return bk != nil && bk.Get([]byte(CounterPendingDeliveries)) != nil
}

// DeliveryCounts are the counts EnsureDeliveryCounters made.
type DeliveryCounts struct {
	Outbox, Pending int64
}

// EnsureDeliveryCounters writes CounterOutbox and CounterPendingDeliveries
// from a count of their buckets when the file has no pending deliveries
// counter: a file of layout 7 or before, where nothing kept it, and where
// event delivery emptied the outbox without lowering the outbox counter.
// The counts and the writes are in tx, so an interrupted Open counts again.
// It reports whether it counted, and what. Open calls it; package delivery
// calls it too, for a file it opens without the store.
func EnsureDeliveryCounters(tx *bbolt.Tx) (counted bool, n DeliveryCounts, err error) {
	if hasDeliveryCounters(tx) {
		return false, n, nil
	}
	bk, err := tx.CreateBucketIfNotExists(bStats)
	if err != nil {
		return false, n, fmt.Errorf("create bucket %s: %w", bStats, err)
	}
	if ob := tx.Bucket(bOutbox); ob != nil {
		n.Outbox = int64(ob.Stats().KeyN)
	}
	if due := tx.Bucket([]byte(DueBucket)); due != nil {
		n.Pending = int64(due.Stats().KeyN)
	}
	for name, v := range map[string]int64{CounterOutbox: n.Outbox, CounterPendingDeliveries: n.Pending} {
		if err := bk.Put([]byte(name), binary.BigEndian.AppendUint64(nil, uint64(v))); err != nil {
			return false, n, err
		}
	}
	return true, n, nil
}

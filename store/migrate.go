package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// Layout versions. A file's version is the "layout" key of the meta
// bucket; files written before it existed have layout 1.
const (
	layoutV1 = 1
	// layoutV2 kept a dedupe record's reply in its `processed` value;
	// layout 3 keeps it in `processed_by_time`. Layout 3 reads both forms,
	// so a layout 2 file only has its version raised.
	layoutV2 = 2
	// layoutV3 had no session_ended index; layout 4 builds it from the
	// ended sessions' status entries.
	layoutV3 = 3
	// layoutV4 contact rows list no ended sessions; layout 5 reads them as
	// they are, so a layout 4 file only has its version raised (older
	// versions would misread a layout 5 row that lists some).
	layoutV4 = 4
	// layoutV5 stored each session event under its own key, as plain JSON;
	// layout 6 stores a turn's events together and reads both, so a layout
	// 5 file only has its version raised.
	layoutV5 = 5
	// layoutV6 kept a dedupe entry per message in `processed`, keyed by
	// channel and message id, and the reply in `processed_by_time`; layout
	// 7 writes processed_log and the entries in contact rows and
	// processed_index, and reads and prunes both, so a layout 6 file only
	// has its version raised (older versions would misread a layout 7 row
	// that holds message entries).
	layoutV6 = 6
	// layoutV7 kept no count of event delivery's pending deliveries, and
	// its outbox counter only grew, as event delivery emptied the outbox
	// without lowering it; layout 8 keeps both exact in the transactions
	// that change them (counters.go), so a layout 7 file has both counted
	// once, and its version raised (an older version would change the
	// buckets without the counters, which would then be wrong for good).
	layoutV7 = 7
	// layoutV8 kept the message id alone as the value of each key of event
	// delivery's due index (DueBucket); layout 9 adds the event's time
	// before it, behind a mark, and reads both, so a layout 8 file only has
	// its version raised (an older version would send a layout 9 value as
	// the message id).
	layoutV8      = 8
	layoutCurrent = 9
)

var keyLayout = []byte("layout")

// Buckets of layout 1 that layout 2 replaced. Flows, the outbox, dedupe
// records, counters and configuration kept their layout.
var (
	bV1Sessions  = []byte("sessions")
	bV1ByStatus  = []byte("sessions_by_status")
	bV1ByContact = []byte("sessions_by_contact")
	bV1Contacts  = []byte("contacts")
	bV1Waiting   = []byte("waiting")
	bV1Timers    = []byte("timers")
	bV1Events    = []byte("events")
)

var v1Buckets = [][]byte{bV1Sessions, bV1ByStatus, bV1ByContact, bV1Contacts, bV1Waiting, bV1Timers, bV1Events}

// migrateBatch bounds the keys one migration transaction moves, so each
// commit stays short and a crash loses at most one batch of work (which the
// next Open redoes). Tests lower it.
var migrateBatch = 20_000

// ErrForeign is the error of Open and Compact for a bbolt file of another
// program: it has buckets, none of them a store's.
var ErrForeign = errors.New("not a Parley store")

// layoutOf reads a file's layout version: the meta key, else 1 when any
// layout 1 bucket exists, else 0 (a new file, without buckets or with some
// of the store's only). A file whose buckets are all another program's is
// refused with ErrForeign, naming them, so that nothing of the store is
// written into it.
func layoutOf(tx *bbolt.Tx) (int, error) {
	if m := tx.Bucket(bMeta); m != nil {
		if v := m.Get(keyLayout); v != nil {
			if len(v) != 4 {
				return 0, fmt.Errorf("%w: the layout version %x is not 4 bytes", ErrCorrupt, v)
			}
			return int(binary.BigEndian.Uint32(v)), nil
		}
	}
	for _, name := range v1Buckets {
		if tx.Bucket(name) != nil {
			return layoutV1, nil
		}
	}
	var foreign []string
	ours := false
	err := tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
		switch {
		case slices.ContainsFunc(allBuckets, func(b []byte) bool { return bytes.Equal(b, name) }):
			ours = true
		case len(foreign) < foreignListed:
			foreign = append(foreign, strconv.Quote(string(name)))
		default:
			foreign = append(foreign, "") // counted, not listed
		}
		return nil
	})
	if err != nil || ours || len(foreign) == 0 {
		return 0, err
	}
	listed := strings.Join(slices.DeleteFunc(foreign, func(s string) bool { return s == "" }), ", ")
	if more := len(foreign) - foreignListed; more > 0 {
		listed += fmt.Sprintf(" and %d more", more)
	}
	return 0, fmt.Errorf("%w: it is a bbolt file of another program, with the bucket(s) %s and none of a store's; it was left as it is: give Parley a data directory of its own", ErrForeign, listed)
}

// foreignListed is how many buckets the error of a foreign file names.
const foreignListed = 5

// ErrNewerLayout is the error of Open and Compact for a file of a layout
// version this one does not know, which it could misread or damage.
var ErrNewerLayout = errors.New("written by a newer version of Parley")

func newerLayout(layout int) error {
	return fmt.Errorf("layout %d was %w (this one reads up to %d)", layout, ErrNewerLayout, layoutCurrent)
}

// checkLayout reads a file's layout version (layoutOf) and refuses a file
// this version must not write: another program's (ErrForeign) or one of a
// newer layout (ErrNewerLayout).
func checkLayout(tx *bbolt.Tx) (int, error) {
	layout, err := layoutOf(tx)
	if err == nil && layout > layoutCurrent {
		err = newerLayout(layout)
	}
	return layout, err
}

// prepareLayout creates missing buckets and brings an older file to the
// current layout. On a current file it reads the layout key and looks up
// the buckets, and commits nothing.
func (b *Bolt) prepareLayout() error {
	var layout int
	missing, noDeleted, again, noCounters := false, false, false, false
	err := b.db.View(func(tx *bbolt.Tx) error {
		var err error
		layout, err = checkLayout(tx)
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				missing = true
			}
		}
		noDeleted = tx.Bucket(bFlowsDeleted) == nil
		noCounters = !hasDeliveryCounters(tx)
		// A layout 1 version, which reads no layout version, run on the
		// file after its upgrade writes in layout 1's buckets again.
		again = layout == layoutCurrent && slices.ContainsFunc(v1Buckets, func(name []byte) bool { return tx.Bucket(name) != nil })
		return err
	})
	if err != nil {
		return err
	}
	if layout == layoutCurrent && !missing && !again && !noCounters {
		return nil
	}
	if layout > layoutV1 && layout < layoutCurrent {
		b.log.Info("store: upgrading the file, one way: an older version of Parley must not be run on it afterwards",
			"path", b.db.Path(), "from_layout", layout, "to_layout", layoutCurrent)
	}
	err = b.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if noDeleted && bytes.Equal(name, bFlowsDeleted) {
				continue // addFlowsDeleted creates and fills it
			}
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		if layout == 0 || layout == layoutV4 || layout == layoutV5 || layout == layoutV6 || layout == layoutV7 || layout == layoutV8 {
			return setLayout(tx, layoutCurrent)
		}
		return nil
	})
	switch {
	case err != nil:
	case layout == layoutV1 || again:
		err = b.migrateV1(again)
	case layout == layoutV2 || layout == layoutV3:
		err = b.indexEnded(layout)
	case layout > layoutV1 && layout < layoutCurrent:
		b.log.Info("store: migrated", "from_layout", layout, "to_layout", layoutCurrent, "changed", "the layout version alone")
	}
	if err == nil && noDeleted {
		err = b.addFlowsDeleted()
	}
	if err == nil && noCounters {
		err = b.countDeliveries(layout)
	}
	return err
}

// countDeliveries writes the counters of the outbox and of event delivery's
// pending deliveries from a count of their buckets, in one transaction, in
// a file that has none (EnsureDeliveryCounters). A new file has nothing to
// count and is not logged.
func (b *Bolt) countDeliveries(from int) error {
	start := time.Now()
	var counted bool
	var n DeliveryCounts
	err := b.db.Update(func(tx *bbolt.Tx) (err error) {
		counted, n, err = EnsureDeliveryCounters(tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("count the outbox and pending deliveries: %w", err)
	}
	if counted && from != 0 {
		b.log.Info("store: counted the outbox and the pending deliveries once, kept as counters from now on",
			"outbox", n.Outbox, "pending_deliveries", n.Pending, "elapsed", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// addFlowsDeleted creates flows_deleted in a file written before it
// existed. Flows deleted then left no record, but a session that has not
// ended may still be on one: for each flow that a session's frames name
// and that is no longer stored, the bucket gets the highest revision they
// name, so that the flow saved again numbers its revisions on from it and
// the session fails, as on a flow deleted since, instead of resuming in
// another flow's definition. The bucket is created and filled in one
// transaction, so an interrupted Open does it again.
func (b *Bolt) addFlowsDeleted() error {
	last := map[string]int{}
	err := b.db.View(func(tx *bbolt.Tx) error {
		heads := tx.Bucket(bFlows)
		c := tx.Bucket(bRecords).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) != 8 {
				continue // an event log value
			}
			name := fmt.Sprintf("#%d", binary.BigEndian.Uint64(k))
			h, err := decodeHeader(name, v)
			if err != nil || endedCode(h.status) {
				continue // a damaged record is reported where it is read
			}
			js, err := payloadJSON(name, h.codec, h.payload)
			if err != nil {
				continue
			}
			var s struct {
				Flow     string `json:"flow"`
				Revision int    `json:"revision"`
				Frames   []struct {
					Flow     string `json:"flow"`
					Revision int    `json:"revision"`
				} `json:"frames"`
			}
			if jsonv1.Unmarshal(js, &s) != nil {
				continue
			}
			note := func(id string, rev int) {
				if id != "" && rev > last[id] && heads.Get([]byte(id)) == nil {
					last[id] = rev
				}
			}
			note(s.Flow, s.Revision)
			for _, f := range s.Frames {
				note(f.Flow, f.Revision)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = b.db.Update(func(tx *bbolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bFlowsDeleted)
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", bFlowsDeleted, err)
		}
		for id, rev := range last {
			if err := bk.Put([]byte(id), binary.BigEndian.AppendUint32(nil, uint32(rev))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add flows_deleted: %w", err)
	}
	if len(last) > 0 {
		ids := slices.Sorted(maps.Keys(last))
		b.log.Info("store: deleted flows that sessions are still on recorded in flows_deleted", "flows", len(ids),
			"ids", strings.Join(ids[:min(len(ids), 20)], ","))
	}
	return nil
}

// indexEnded brings a layout 2 or 3 file to layout 4: it adds every ended
// session to session_ended, in transactions of at most migrateBatch status
// entries. Entries are keyed by the session's end time, so writing one twice
// changes nothing, and an interrupted run starts over at the next Open.
func (b *Bolt) indexEnded(from int) error {
	start := time.Now()
	var after []byte // the last status entry handled
	indexed := 0
	for done := false; !done; {
		err := b.db.Update(func(tx *bbolt.Tx) error {
			ids, records := tx.Bucket(bIDs), tx.Bucket(bRecords)
			c := tx.Bucket(bByStatus).Cursor()
			k, _ := c.First()
			if after != nil {
				if k, _ = c.Seek(after); bytes.Equal(k, after) {
					k, _ = c.Next()
				}
			}
			for n := 0; k != nil && n < migrateBatch; k, _ = c.Next() {
				n++
				after = append(after[:0], k...)
				if len(k) < 2 || !endedCode(k[0]) {
					continue
				}
				eid := k[1:]
				id, err := decodeID(eid)
				if err != nil {
					return err
				}
				v := ids.Get(eid)
				if v == nil {
					continue // an index entry without a session: nothing to age out
				}
				_, seq, err := decodeIDEntry(id, v)
				if err != nil {
					return err
				}
				rec := records.Get(recordKey(seq))
				if rec == nil {
					continue
				}
				h, err := decodeHeader(id, rec)
				if err != nil {
					return err
				}
				if err := updateEnded(tx, nil, eid, nil, &h); err != nil {
					return err
				}
				indexed++
			}
			if k != nil {
				return nil
			}
			done = true
			return setLayout(tx, layoutCurrent)
		})
		if err != nil {
			return fmt.Errorf("migrate layout %d to %d: index ended sessions: %w", from, layoutCurrent, err)
		}
	}
	b.log.Info("store: migrated", "from_layout", from, "to_layout", layoutCurrent, "ended_sessions_indexed", indexed,
		"elapsed", time.Since(start).Round(time.Millisecond))
	return nil
}

func setLayout(tx *bbolt.Tx, v int) error {
	return tx.Bucket(bMeta).Put(keyLayout, binary.BigEndian.AppendUint32(nil, uint32(v)))
}

// migrateV1 moves layout 1 data to the current layout in transactions of at
// most migrateBatch keys. Each transaction deletes what it moved from the
// old buckets, so an interrupted migration resumes where it stopped at the
// next Open; its logs then say how many sessions an earlier run moved, and
// the summary counts the sessions stored in all. Counters need no change:
// they count the same things.
//
// again is set for a file of the current layout that also holds layout 1
// buckets: what a layout 1 version, which does not read the layout version,
// wrote after the file was upgraded. Those buckets are migrated as the first
// time, on top of the current data; where both hold a session of one id,
// or a waiting session for one contact on one channel, the one saved last
// wins (v1Conflict), and each such case is logged.
func (b *Bolt) migrateV1(again bool) error {
	start := time.Now()
	b.v1Conflicts, b.v1Damaged = nil, nil
	var total, earlier int
	var held []string
	b.db.View(func(tx *bbolt.Tx) error {
		if bk := tx.Bucket(bV1Sessions); bk != nil {
			total = bk.Stats().KeyN
		}
		earlier = tx.Bucket(bIDs).Stats().KeyN
		for _, name := range v1Buckets {
			if bk := tx.Bucket(name); bk != nil {
				held = append(held, fmt.Sprintf("%s (%d keys)", name, bk.Stats().KeyN))
			}
		}
		return nil
	})
	switch {
	case again:
		b.log.Warn("store: the file, of layout "+strconv.Itoa(layoutCurrent)+", holds layout 1 buckets, written by a version of Parley before layout 2 run on it after its upgrade: migrating them again, on top of the current data; where both hold one session, or a waiting session for one contact on one channel, the one saved last is kept",
			"path", b.db.Path(), "buckets", strings.Join(held, ", "), "sessions", total)
	case earlier > 0:
		b.log.Info("store: resuming the migration of layout 1 to "+strconv.Itoa(layoutCurrent)+", one way: an older version of Parley must not be run on the file afterwards",
			"path", b.db.Path(), "sessions_to_move", total, "sessions_moved_before", earlier)
	default:
		b.log.Info("store: migrating layout 1 to "+strconv.Itoa(layoutCurrent)+", one way: an older version of Parley must not be run on the file afterwards",
			"path", b.db.Path(), "sessions", total)
	}
	lastLog := time.Now()
	done, err := b.inBatches(b.migrateSessions, func(done int) {
		if time.Since(lastLog) >= 5*time.Second {
			b.log.Info("store: migrating sessions", "done", done, "of", total, "elapsed", time.Since(start).Round(time.Millisecond))
			lastLog = time.Now()
		}
	})
	if err != nil {
		return migrateV1Error("sessions", err)
	}
	contacts, err := b.inBatches(migrateContacts, nil)
	if err != nil {
		return migrateV1Error("contacts", err)
	}
	var leftover map[string]int
	stored := 0
	err = b.db.Update(func(tx *bbolt.Tx) error {
		var err error
		stored = tx.Bucket(bIDs).Stats().KeyN
		if leftover, err = migrateLeftovers(tx); err != nil {
			return err
		}
		for _, name := range v1Buckets {
			if tx.Bucket(name) != nil {
				if err := tx.DeleteBucket(name); err != nil {
					return err
				}
			}
		}
		return setLayout(tx, layoutCurrent)
	})
	if err != nil {
		return fmt.Errorf("migrate: finish: %w", err)
	}
	b.log.Info("store: migrated layout 1 to "+strconv.Itoa(layoutCurrent), "sessions", stored, "sessions_this_run", done, "contacts_this_run", contacts,
		"orphan_timers_kept", leftover["timers"], "orphan_events_dropped", leftover["events"],
		"orphan_index_entries_dropped", leftover["index"], "conflicts", len(b.v1Conflicts), "elapsed", time.Since(start).Round(time.Millisecond))
	for _, c := range b.v1Conflicts {
		b.log.Warn("store: layout 1 migration conflict: " + c)
	}
	for _, d := range b.v1Damaged {
		b.log.Warn("store: a damaged layout 1 session was carried over as it is, and is reported damaged: " + d)
	}
	return nil
}

// migrateV1Error is the error of a layout 1 migration that stopped at a
// value that does not decode (the RecordError itself, which names its
// bucket and record, said found while migrating) or at another error.
func migrateV1Error(what string, err error) error {
	if re, ok := errors.AsType[*RecordError](err); ok {
		return &RecordError{Bucket: re.Bucket, Record: re.Record, Logged: re.Logged,
			Err: fmt.Errorf("%w (found while migrating layout 1 to %d, which stopped there)", re.Err, layoutCurrent)}
	}
	return fmt.Errorf("migrate layout 1 %s: %w", what, err)
}

// v1Older reports whether a stored session, updated at its header's time,
// was saved before a layout 1 one updated at v1Updated.
func v1Older(h *header, v1Updated uint64) bool { return h.updated < v1Updated }

// dropSessionV1 deletes a layout 1 session that migrateSession does not
// carry over, with its index entries, timers and events, and takes it off
// the counters, which count it. It reports how many keys it touched.
func dropSessionV1(tx *bbolt.Tx, id string, h1 *headerV1) (int, error) {
	touched := 1
	if err := addStat(tx, statSession(codeStatuses[h1.status]), -1); err != nil {
		return 0, err
	}
	tb := tx.Bucket(bV1Timers)
	for _, t := range []struct {
		at   uint64
		kind TimerKind
	}{{h1.timeoutAt, TimerWaitTimeout}, {h1.expiresAt, TimerExpiry}} {
		deleted, err := deleteTimerV1(tb, t.at, t.kind, id)
		if err != nil {
			return 0, err
		}
		if !deleted {
			continue
		}
		if err := addStat(tx, statTimers, -1); err != nil {
			return 0, err
		}
		touched++
	}
	if wb := tx.Bucket(bV1Waiting); wb != nil {
		if wk := join(h1.channel, h1.urn); string(wb.Get(wk)) == id {
			if err := wb.Delete(wk); err != nil {
				return 0, err
			}
		}
	}
	if err := deleteIndexV1(tx, id, h1); err != nil {
		return 0, err
	}
	if eb := tx.Bucket(bV1Events); eb != nil {
		n, err := deletePrefix(eb, join(id, ""))
		if err != nil {
			return 0, err
		}
		if err := addStat(tx, statEvents, -int64(n)); err != nil {
			return 0, err
		}
		touched += n
	}
	return touched, nil
}

// deleteTimerV1 deletes a layout 1 session's timer of kind due at at (none
// when at is 0), when it is still stored: RemoveTimer may have removed it.
// It reports whether it deleted one. tb is the layout 1 timers bucket, nil
// when the file has none.
func deleteTimerV1(tb *bbolt.Bucket, at uint64, kind TimerKind, id string) (bool, error) {
	if at == 0 || tb == nil {
		return false, nil
	}
	k := timerKeyV1(at, kind, id)
	if tb.Get(k) == nil {
		return false, nil
	}
	return true, tb.Delete(k)
}

// deleteIndexV1 deletes a layout 1 session's entries in the layout 1
// contact and status indexes, of the buckets the file holds.
func deleteIndexV1(tx *bbolt.Tx, id string, h1 *headerV1) error {
	if bk := tx.Bucket(bV1ByContact); bk != nil && h1.urn != "" {
		if err := bk.Delete(join(h1.urn, id)); err != nil {
			return err
		}
	}
	if bk := tx.Bucket(bV1ByStatus); bk != nil {
		if err := bk.Delete(append([]byte{h1.status}, id...)); err != nil {
			return err
		}
	}
	return nil
}

// inBatches runs step in one write transaction after another until it
// reports that it moved nothing, and returns how many it moved in all;
// progress, when set, sees the running total after each transaction.
func (b *Bolt) inBatches(step func(*bbolt.Tx) (int, error), progress func(done int)) (int, error) {
	done := 0
	for {
		var n int
		err := b.db.Update(func(tx *bbolt.Tx) error {
			var err error
			n, err = step(tx)
			return err
		})
		if err != nil || n == 0 {
			return done, err
		}
		done += n
		if progress != nil {
			progress(done)
		}
	}
}

// migrateSessions moves the first sessions of the layout 1 bucket, with
// their index entries, timers and events, and reports how many it moved.
func (b *Bolt) migrateSessions(tx *bbolt.Tx) (int, error) {
	old := tx.Bucket(bV1Sessions)
	if old == nil {
		return 0, nil
	}
	type item struct{ id, v []byte }
	var batch []item
	c := old.Cursor()
	for k, v := c.First(); k != nil && len(batch) < max(migrateBatch/4, 1); k, v = c.Next() {
		batch = append(batch, item{bytes.Clone(k), bytes.Clone(v)})
	}
	moved, budget := 0, migrateBatch
	for _, it := range batch {
		if budget <= 0 {
			break
		}
		n, err := b.migrateSession(tx, string(it.id), it.v)
		if err != nil {
			return moved, err
		}
		if err := old.Delete(it.id); err != nil {
			return moved, err
		}
		moved++
		budget -= n
	}
	return moved, nil
}

// migrateSession writes one layout 1 session in layout 2 and deletes its
// layout 1 index entries, timers and events. It reports how many keys it
// touched.
func (b *Bolt) migrateSession(tx *bbolt.Tx, id string, v []byte) (int, error) {
	h1, err := decodeHeaderV1(id, v)
	if err != nil {
		return 0, err
	}
	// A session of this id stored in the current layout: the layout 1 one
	// was written after an upgrade, by a layout 1 version run on the file.
	// The one saved last is kept.
	if oldSeq, old, err := lookup(tx, nil, id, idKey(id)); err != nil {
		return 0, err
	} else if old != nil {
		h, err := decodeHeader(id, old)
		if err != nil {
			return 0, err
		}
		if !v1Older(&h, h1.updated) {
			b.v1Conflicts = append(b.v1Conflicts, fmt.Sprintf("session %q: kept the version saved at %s; dropped layout 1's, saved at %s",
				id, fromNanos(h.updated).Format(time.RFC3339Nano), fromNanos(h1.updated).Format(time.RFC3339Nano)))
			return dropSessionV1(tx, id, &h1)
		}
		b.v1Conflicts = append(b.v1Conflicts, fmt.Sprintf("session %q: kept layout 1's version, saved at %s; dropped the one saved at %s",
			id, fromNanos(h1.updated).Format(time.RFC3339Nano), fromNanos(h.updated).Format(time.RFC3339Nano)))
		if err := deleteSession(tx, nil, id, idKey(id), oldSeq, &h); err != nil {
			return 0, err
		}
	}
	// A payload that does not decompress is carried over as it is, under
	// its layout 1 codec, which the current layout reads too: the session
	// is then reported damaged, and left out of listings, as any damaged
	// session is, rather than keeping the whole file from opening.
	codec, payload := h1.codec, h1.payload
	if js, err := payloadJSON(id, h1.codec, h1.payload); err == nil {
		codec, payload = compressJSON(js, b.compress)
	} else {
		b.v1Damaged = append(b.v1Damaged, fmt.Sprintf("session %q: %v", id, v1Damage(bV1Sessions, "", err).Err))
	}
	eid := idKey(id)
	records := tx.Bucket(bRecords)
	seq, err := records.NextSequence()
	if err != nil {
		return 0, err
	}
	touched := 4

	// Timers: only those still stored (RemoveTimer may have removed one).
	tb := tx.Bucket(bV1Timers)
	have := func(at uint64, kind TimerKind) (uint64, error) {
		if deleted, err := deleteTimerV1(tb, at, kind, id); err != nil || !deleted {
			return 0, err
		}
		touched++
		return at, nil
	}
	timeoutAt, err := have(h1.timeoutAt, TimerWaitTimeout)
	if err != nil {
		return 0, err
	}
	expiresAt, err := have(h1.expiresAt, TimerExpiry)
	if err != nil {
		return 0, err
	}
	plan := planTimers(timeoutAt, expiresAt)
	if plan.at != 0 {
		if err := put(tx.Bucket(bTimers), timerKey(plan.at, eid), plan.value()); err != nil {
			return 0, err
		}
	}
	rec := header{status: h1.status, codec: codec, updated: h1.updated, timerAt: plan.at, timerKind: plan.kind,
		channel: h1.channel, urn: h1.urn, payload: payload}

	// Contact references: the waiting entry if layout 1's pointed at this
	// session, else a contact index entry.
	inRow := false
	if waits(&rec) {
		wb := tx.Bucket(bV1Waiting)
		wk := join(rec.channel, rec.urn)
		if wb != nil && string(wb.Get(wk)) == id {
			rows := newRowSet(tx, nil)
			r, err := rows.get(rec.urn)
			if err != nil {
				return 0, err
			}
			if i := r.wait(rec.channel); i >= 0 {
				// Another session waits for the contact on the channel,
				// saved in the current layout: the one saved last keeps
				// the entry; the other is listed as not waiting on a
				// channel, and ends at its expiry or when interrupted.
				w := r.waits[i]
				other, err := decodeID(w.eid)
				if err != nil {
					return 0, err
				}
				h, err := decodeHeader(other, records.Get(recordKey(w.seq)))
				if err != nil {
					return 0, err
				}
				if v1Older(&h, rec.updated) {
					r.waits = append(r.waits[:i], r.waits[i+1:]...)
					if err := addEnded(tx, rows, rec.urn, w.eid); err != nil {
						return 0, err
					}
					b.v1Conflicts = append(b.v1Conflicts, fmt.Sprintf("sessions %q and %q both wait for contact %q on channel %q: %q, saved last, gets its messages; %q ends at its expiry or when interrupted",
						other, id, rec.urn, rec.channel, id, other))
				} else {
					b.v1Conflicts = append(b.v1Conflicts, fmt.Sprintf("sessions %q and %q both wait for contact %q on channel %q: %q, saved last, gets its messages; %q ends at its expiry or when interrupted",
						other, id, rec.urn, rec.channel, other, id))
				}
			}
			if r.wait(rec.channel) < 0 {
				r.waits = append(r.waits, waitEntry{channel: rec.channel, eid: eid, seq: seq})
				inRow = true
			}
			if err := rows.flush(); err != nil {
				return 0, err
			}
			if err := wb.Delete(wk); err != nil {
				return 0, err
			}
		}
	}
	if err := deleteIndexV1(tx, id, &h1); err != nil {
		return 0, err
	}
	if rec.urn != "" && !inRow {
		if err := put(tx.Bucket(bByContact), contactKey(rec.urn, eid), nil); err != nil {
			return 0, err
		}
	}
	if err := put(tx.Bucket(bIDs), eid, idEntry(rec.status, seq)); err != nil {
		return 0, err
	}
	if rec.status != waitingCode {
		if err := put(tx.Bucket(bByStatus), statusKey(rec.status, eid), nil); err != nil {
			return 0, err
		}
	}
	if err := updateEnded(tx, nil, eid, nil, &rec); err != nil {
		return 0, err
	}
	if err := put(records, recordKey(seq), encodeRecord(&rec)); err != nil {
		return 0, err
	}

	// Events, oldest first, under the new record.
	if eb := tx.Bucket(bV1Events); eb != nil {
		prefix := join(id, "")
		var keys [][]byte
		c := eb.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(k) != len(prefix)+8 {
				continue
			}
			ev := binary.BigEndian.Uint64(k[len(prefix):])
			if err := put(records, eventKey(seq, ev), bytes.Clone(v)); err != nil {
				return 0, err
			}
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if err := eb.Delete(k); err != nil {
				return 0, err
			}
		}
		touched += 2 * len(keys)
	}
	return touched, nil
}

// migrateContacts moves a batch of layout 1 contacts (JSON) into their rows.
func migrateContacts(tx *bbolt.Tx) (int, error) {
	old := tx.Bucket(bV1Contacts)
	if old == nil {
		return 0, nil
	}
	type item struct{ urn, v []byte }
	var batch []item
	c := old.Cursor()
	for k, v := c.First(); k != nil && len(batch) < migrateBatch; k, v = c.Next() {
		batch = append(batch, item{bytes.Clone(k), bytes.Clone(v)})
	}
	rows := newRowSet(tx, nil)
	for _, it := range batch {
		var ct flows.Contact
		if err := jsonv1.Unmarshal(it.v, &ct); err != nil {
			return 0, v1Damage(bV1Contacts, fmt.Sprintf("contact %q", it.urn), fmt.Errorf("decode: %w", err))
		}
		r, err := rows.get(string(it.urn))
		if err != nil {
			return 0, err
		}
		// The contacts counter already counts it, and counted it twice
		// when a layout 1 version wrote it after an upgrade, not seeing
		// the contact stored in the row: layout 1's, written last, wins.
		if r.hasContact {
			if err := addStat(tx, statContacts, -1); err != nil {
				return 0, err
			}
		}
		r.hasContact, r.contact = true, encodeContact(&ct)
		if err := old.Delete(it.urn); err != nil {
			return 0, err
		}
	}
	return len(batch), rows.flush()
}

// migrateLeftovers handles what layout 1 holds once every session has
// moved: timers of sessions that no longer exist are kept (the timer
// scanner removes them as it did before); index entries and events of
// sessions that no longer exist are dropped, and the events counter with
// them.
func migrateLeftovers(tx *bbolt.Tx) (map[string]int, error) {
	n := map[string]int{}
	if tb := tx.Bucket(bV1Timers); tb != nil {
		nb := tx.Bucket(bTimers)
		err := tb.ForEach(func(k, v []byte) error {
			if len(k) < 10 {
				return nil
			}
			at, kind, id := binary.BigEndian.Uint64(k), TimerKind(k[8]), string(k[9:])
			key := timerKey(at, idKey(id))
			if nb.Get(key) != nil {
				// Two timers of a missing session at one instant: one
				// record carries both.
				return put(nb, key, timerPlan{at: at, kind: TimerWaitTimeout, second: at}.value())
			}
			n["timers"]++
			return put(nb, key, []byte{byte(kind)})
		})
		if err != nil {
			return nil, err
		}
	}
	if eb := tx.Bucket(bV1Events); eb != nil {
		n["events"] = eb.Stats().KeyN
		if err := addStat(tx, statEvents, -int64(n["events"])); err != nil {
			return nil, err
		}
	}
	for _, name := range [][]byte{bV1ByStatus, bV1ByContact, bV1Waiting} {
		if bk := tx.Bucket(name); bk != nil {
			n["index"] += bk.Stats().KeyN
		}
	}
	return n, nil
}

// headerV1 is the header of a layout 1 session record:
//
//	[0]      format version (1)
//	[1]      status code
//	[2]      payload codec: 0 JSON, 1 zstd(JSON)
//	[3:11]   UpdatedAt, unix nanos
//	[11:19]  wait timeout timer due time, unix nanos (0: none)
//	[19:27]  expiry timer due time, unix nanos (0: none)
//	uvarint length + channel, uvarint length + contact URN, uvarint length + flow id
//	payload
type headerV1 struct {
	status, codec                 byte
	updated, timeoutAt, expiresAt uint64
	channel, urn, flowID          string
	payload                       []byte
}

const headerFixedV1 = 27

func decodeHeaderV1(id string, b []byte) (headerV1, error) {
	var h headerV1
	if len(b) < headerFixedV1 || b[0] != layoutV1 {
		return h, &RecordError{Bucket: string(bV1Sessions), Record: fmt.Sprintf("session %q", id), Err: errors.New("unknown layout 1 record format")}
	}
	h.status, h.codec = b[1], b[2]
	h.updated = binary.BigEndian.Uint64(b[3:])
	h.timeoutAt = binary.BigEndian.Uint64(b[11:])
	h.expiresAt = binary.BigEndian.Uint64(b[19:])
	rest := b[headerFixedV1:]
	for _, dst := range []*string{&h.channel, &h.urn, &h.flowID} {
		var ok bool
		if *dst, rest, ok = readString(rest); !ok {
			return h, &RecordError{Bucket: string(bV1Sessions), Record: fmt.Sprintf("session %q", id), Err: errors.New("corrupt layout 1 header")}
		}
	}
	h.payload = rest
	return h, nil
}

// timerKeyV1 is layout 1's timer key: due time + kind + session id.
func timerKeyV1(at uint64, kind TimerKind, id string) []byte {
	k := make([]byte, 9, 9+len(id))
	binary.BigEndian.PutUint64(k, at)
	k[8] = byte(kind)
	return append(k, id...)
}

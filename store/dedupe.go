package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"go.etcd.io/bbolt"
)

// Dedupe records (layout 7). A record is the reply to one inbound message,
// kept so that the message, delivered again, is answered without a second
// turn. It is stored twice:
//
//   - processed_log: stored time + channel + sep + message id + sep + the
//     sender's URN → the reply. Keys only grow, so a group's records fill
//     its pages, and pruning reads it oldest first.
//   - an entry locating it from the sender: the message hash (msgHash) and
//     the stored time, in the sender's contact row while it is one of the
//     contact's latest rowMsgsMax messages, then in processed_index under
//     URN + sep + hash + time.
//
// Message ids arrive in no order (a Twilio message SID is random), so an
// index keyed by id alone puts every message's entry on a random page: a
// page written per turn on top of the session's. The contact row is written
// by the turn anyway, and its entries move to processed_index rowMsgsMax at
// a time, under the contact's URN, where they share a page.
//
// A record is found by the sender too: a message delivered again comes from
// the same sender. Records of layouts before 7, in processed and
// processed_by_time and keyed by channel and id alone, are still read and
// pruned; one is taken for the message only when the session its reply
// names is the sender's (legacySender).

// rowMsgsMax is how many dedupe entries a contact row holds before they
// move to processed_index together.
const rowMsgsMax = 8

// msgHash is the 64-bit FNV-1a hash of channel, sep and message id, as
// hash/fnv's New64a computes it, without its allocation (it runs on every
// message). Entries carry it instead of the id; two ids with one hash are
// told apart by their processed_log keys, which hold the ids.
func msgHash(channelAndID []byte) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, c := range channelAndID {
		h = (h ^ uint64(c)) * prime
	}
	return h
}

// processedIndexKey appends URN + sep + hash + stored time to b.
func processedIndexKey(b []byte, urn string, hash, at uint64) []byte {
	b = append(b, urn...)
	b = append(b, sep)
	b = binary.BigEndian.AppendUint64(b, hash)
	return binary.BigEndian.AppendUint64(b, at)
}

// processedLogKey is stored time (8 bytes) + channel + sep + message id +
// sep + URN.
func processedLogKey(at uint64, channel, msgID, urn string) []byte {
	k := make([]byte, 8, 8+len(channel)+len(msgID)+len(urn)+2)
	binary.BigEndian.PutUint64(k, at)
	k = append(k, channel...)
	k = append(k, sep)
	k = append(k, msgID...)
	k = append(k, sep)
	return append(k, urn...)
}

// logKeyMessage is the channel + sep + message id part of processed_log
// key k of a message msgID on channel, which msgHash hashes.
func logKeyMessage(k []byte, channel, msgID string) []byte {
	return k[8 : 8+len(channel)+1+len(msgID)]
}

// splitLogKey returns the parts of a processed_log key: the stored time,
// channel + sep + message id, and the URN.
func splitLogKey(k []byte) (at uint64, msg []byte, urn string, ok bool) {
	if len(k) < 8 {
		return 0, nil, "", false
	}
	i := bytes.IndexByte(k[8:], sep)
	j := -1
	if i >= 0 {
		j = bytes.IndexByte(k[8+i+1:], sep)
	}
	if j < 0 {
		return 0, nil, "", false
	}
	end := 8 + i + 1 + j
	return binary.BigEndian.Uint64(k), k[8:end], string(k[end+1:]), true
}

// findProcessed looks up the dedupe record of message msgID from urn on
// channel: among the entries of the contact's row r (nil when it has no
// row), then in processed_index, then, when legacy is set, among the
// records of older layouts, whose sender legacySender checks. It returns the stored reply (bbolt memory).
// st, when not nil, is the group's batch, whose cursors read the buckets.
func findProcessed(tx *bbolt.Tx, st *statBatch, r *contactRow, legacy bool, channel, urn, msgID string) ([]byte, bool, error) {
	key := join(channel, msgID)
	h := msgHash(key)
	// Built at the first entry with the hash: most messages have none.
	var logKey []byte
	var logc *bbolt.Cursor
	// find reads the record stored at at for this message: an entry with
	// its hash may be another message's, whose key holds another id.
	find := func(at uint64) ([]byte, bool) {
		if logc == nil {
			logKey = processedLogKey(at, channel, msgID, urn)
			logc = st.cursor(tx.Bucket(bProcessedLog))
		}
		binary.BigEndian.PutUint64(logKey, at)
		if k, v := logc.Seek(logKey); bytes.Equal(k, logKey) {
			return v, true
		}
		return nil, false
	}
	if r != nil {
		for _, m := range r.msgs {
			if m.hash == h {
				if reply, found := find(m.at); found {
					return reply, true, nil
				}
			}
		}
	}
	prefix := processedIndexKey(make([]byte, 0, len(urn)+17), urn, h, 0)[:len(urn)+9]
	c := st.cursor(tx.Bucket(bProcessedIndex))
	for k, _ := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != len(prefix)+8 {
			return nil, false, damagedDedupe(bProcessedIndex, fmt.Sprintf("dedupe entry %x of contact %q", k, urn), fmt.Sprintf("%d bytes, not %d", len(k), len(prefix)+8))
		}
		if reply, found := find(binary.BigEndian.Uint64(k[len(prefix):])); found {
			return reply, true, nil
		}
	}
	if !legacy {
		return nil, false, nil
	}
	reply, found := processedReply(tx.Bucket(bProcessedAt), key, st.get(tx.Bucket(bProcessed), key))
	if !found || !legacySender(tx, st, reply, urn) {
		return nil, false, nil
	}
	return reply, true, nil
}

// damagedDedupe is the error of a dedupe key of bucket that does not
// decode (record names it): the store file is damaged (ErrCorrupt), as for
// a record that does not decode, not a fault of the request that read it.
// The record holds the sender's URN, or a key that holds it: logs above
// the debug level name it as a dedupe entry or record only.
func damagedDedupe(bucket []byte, record, what string) error {
	logged := "a dedupe record"
	if bytes.Equal(bucket, bProcessedIndex) {
		logged = "a contact's dedupe entry"
	}
	return &RecordError{Bucket: string(bucket), Record: record, Logged: logged, Err: errors.New(what)}
}

// legacySender reports whether a dedupe record of a layout before 7, keyed
// by channel and message id alone, is of a message from urn. Such a record
// does not hold its sender, but its reply names the session the message
// went to (the server's reply, {"id": session id, ...}), whose record holds
// the contact's URN. A record whose sender cannot be told (a reply without
// a session, a session deleted since, a record that does not decode) is not
// taken for a message from urn: the same id from another sender is another
// message, and answering it with the reply of the first would drop it.
func legacySender(tx *bbolt.Tx, st *statBatch, reply []byte, urn string) bool {
	var r struct {
		ID string `json:"id"`
	}
	if jsonv1.Unmarshal(reply, &r) != nil || checkID("session", r.ID) != nil {
		return false
	}
	_, rec, err := lookup(tx, st, r.ID, idKey(r.ID))
	if err != nil || rec == nil {
		return false
	}
	h, err := decodeHeader(r.ID, rec)
	return err == nil && h.urn == urn
}

// recordProcessed adds the dedupe entry of message key (channel + sep +
// message id, stored at at) to the row of its sender urn, first moving the
// row's entries to processed_index when it holds rowMsgsMax; a message
// without a sender has no row, so its entry goes to processed_index at
// once. The processed_log record is the caller's.
func recordProcessed(tx *bbolt.Tx, rows *rowSet, urn string, key []byte, at uint64) error {
	st := rows.st
	h := msgHash(key)
	ib := tx.Bucket(bProcessedIndex)
	if urn == "" {
		return st.put(ib, processedIndexKey(st.scratch(17), "", h, at), nil)
	}
	r, err := rows.get(urn)
	if err != nil {
		return err
	}
	if len(r.msgs) >= rowMsgsMax {
		for _, m := range r.msgs {
			if err := st.put(ib, processedIndexKey(st.scratch(len(urn)+17), urn, m.hash, m.at), nil); err != nil {
				return err
			}
		}
		r.msgs = r.msgs[:0]
	}
	r.msgs = append(r.msgs, msgEntry{hash: h, at: at})
	return nil
}

// dropMsg removes the entry (hash, at) from the row and reports whether it
// was there.
func (r *contactRow) dropMsg(hash, at uint64) bool {
	for i, m := range r.msgs {
		if m.hash == hash && m.at == at {
			r.msgs = append(r.msgs[:i], r.msgs[i+1:]...)
			return true
		}
	}
	return false
}

// ProcessedReply returns the reply stored when the inbound message messageID
// from urn on channel was processed, and whether there is one.
func (b *Bolt) ProcessedReply(ctx context.Context, channel, urn, messageID string) ([]byte, bool, error) {
	var reply []byte
	var found bool
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		r, err := readRow(tx, urn)
		if err != nil {
			return err
		}
		var v []byte
		if v, found, err = findProcessed(tx, nil, r, b.legacyDedupe.Load(), channel, urn, messageID); found {
			reply = bytes.Clone(v)
		}
		return err
	})
	return reply, found, err
}

// PruneProcessed deletes up to limit (default 1000) dedupe records stored
// before cutoff, oldest first, and reports how many it deleted; call it
// again while it returns limit. The deletes join the next group commit, so
// they share its fsync and hold the writer for one batch at most, and
// nothing is written when no record is due. Records of layouts before 7 go
// first.
func (b *Bolt) PruneProcessed(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	until := nanos(cutoff)
	legacy := b.legacyDedupe.Load()
	oldDue := false
	if legacy {
		var err error
		if oldDue, err = b.dueBefore(ctx, bProcessedAt, until); err != nil {
			return 0, err
		}
	}
	due, err := b.dueBefore(ctx, bProcessedLog, until)
	if err != nil || !due && !oldDue {
		return 0, err
	}
	n, drained := 0, false
	err = b.group(ctx, func(tx *bbolt.Tx, st *statBatch) error {
		n = 0
		ab, pb := tx.Bucket(bProcessedAt), tx.Bucket(bProcessed)
		for _, k := range keysBefore(ab, until, limit) {
			if err := ab.Delete(k); err != nil {
				return err
			}
			if err := pb.Delete(k[8:]); err != nil {
				return err
			}
			n++
		}
		if legacy {
			k, _ := pb.Cursor().First()
			drained = k == nil
		}
		if n < limit {
			m, err := pruneLog(tx, st, keysBefore(tx.Bucket(bProcessedLog), until, limit-n))
			if err != nil {
				return err
			}
			n += m
		}
		return st.add(tx, statProcessed, -int64(n))
	})
	if err == nil && drained {
		// No record of an older layout is left, and none is written.
		b.legacyDedupe.Store(false)
	}
	return n, err
}

// hasLegacyDedupe reports whether the file holds dedupe records of layouts
// before 7, which lookups must then read too.
func hasLegacyDedupe(tx *bbolt.Tx) bool {
	k, _ := tx.Bucket(bProcessed).Cursor().First()
	return k != nil
}

// pruneLog deletes the processed_log records keys and their entries, in
// their senders' rows or in processed_index.
func pruneLog(tx *bbolt.Tx, st *statBatch, keys [][]byte) (int, error) {
	logb, ib := tx.Bucket(bProcessedLog), tx.Bucket(bProcessedIndex)
	rows := newRowSet(tx, st)
	for _, k := range keys {
		at, msg, urn, ok := splitLogKey(k)
		if !ok {
			return 0, damagedDedupe(bProcessedLog, fmt.Sprintf("dedupe record %x", k), "its key does not hold a time, channel, message id and sender")
		}
		h := msgHash(msg)
		if err := logb.Delete(k); err != nil {
			return 0, err
		}
		if urn != "" {
			r, err := rows.get(urn)
			if err != nil {
				return 0, err
			}
			if r.dropMsg(h, at) {
				continue
			}
		}
		if err := ib.Delete(processedIndexKey(st.scratch(len(urn)+17), urn, h, at)); err != nil {
			return 0, err
		}
	}
	return len(keys), rows.flush()
}

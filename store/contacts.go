package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"unicode/utf8"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"go.etcd.io/bbolt"
)

// KeyPart is one part of a KeyPattern: one rune of Runes, or, with
// Repeat, any number of them, none included. Runes are in ascending order.
type KeyPart struct {
	Runes  []rune
	Repeat bool
}

// KeyPattern is a set of keys: those made of its parts, in order.
type KeyPattern []KeyPart

// ContactKeys returns, in order, the keys that anything is stored under
// (a contact row, session_contacts or processed_index entries) whose URN
// match accepts, among those one of patterns spells: the keys of one
// person, written in the forms earlier versions kept (docs/storage.md),
// are told apart only by reading them. The patterns must spell every key
// match accepts; they may spell more. Each bucket is walked as a tree of
// the keys' runes, by cursor seeks: from a key's beginning, only the
// branches a pattern can go on with are entered, and the keys between
// them are skipped by one seek, so a lookup costs a few seeks
// per rune of the URN, not a read of every contact. With no patterns
// (nil), it reads every key of contact_rows and every contact's first key
// in session_contacts and processed_index (a seek per contact): for a URN
// no pattern can spell. Either way it reads keys, not values: for an
// operator's request about one contact, never for a turn.
func (b *Bolt) ContactKeys(ctx context.Context, patterns []KeyPattern, match func(urn string) bool) ([]string, error) {
	var keys []string
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		keys = keys[:0]
		seen := map[string]bool{}
		add := func(urn string) {
			if !seen[urn] && match(urn) {
				seen[urn] = true
				keys = append(keys, urn)
			}
		}
		if patterns == nil {
			return everyContactKey(ctx, tx, add)
		}
		for _, name := range [][]byte{bContacts, bByContact, bProcessedIndex} {
			for _, p := range patterns {
				w := &keyWalk{ctx: ctx, c: tx.Bucket(name).Cursor(), p: p, add: add}
				k, _ := w.c.First()
				if err := w.walk(nil, p.closure([]int{0}), k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	slices.Sort(keys)
	return keys, err
}

// everyContactKey passes add every key of contact_rows and the URN of
// every contact's entries in session_contacts and processed_index.
func everyContactKey(ctx context.Context, tx *bbolt.Tx, add func(string)) error {
	n := 0
	c := tx.Bucket(bContacts).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if n++; n%100_000 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		add(string(k))
	}
	// Keys of these start with URN + sep: one seek past each URN's
	// entries reaches the next URN.
	for _, name := range [][]byte{bByContact, bProcessedIndex} {
		c := tx.Bucket(name).Cursor()
		for k, _ := c.First(); k != nil; {
			if n++; n%100_000 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			i := bytes.IndexByte(k, sep)
			if i < 0 {
				return fmt.Errorf("%s: a key without its separator (%d bytes)", name, len(k))
			}
			if i > 0 { // "" is the key of messages without a sender
				add(string(k[:i]))
			}
			next := append(bytes.Clone(k[:i]), sep+1)
			k, _ = c.Seek(next)
		}
	}
	return nil
}

// keyWalk walks one bucket's keys for the URNs one pattern spells. The
// keys of contact_rows are URNs; those of session_contacts and
// processed_index a URN, sep and more, so a URN ends where its key does
// or at a sep.
type keyWalk struct {
	ctx   context.Context
	c     *bbolt.Cursor
	p     KeyPattern
	add   func(urn string)
	seeks int
}

func (w *keyWalk) seek(key []byte) ([]byte, error) {
	if w.seeks++; w.seeks%4096 == 0 {
		if err := w.ctx.Err(); err != nil {
			return nil, err
		}
	}
	k, _ := w.c.Seek(key)
	return k, nil
}

// walk visits the keys that begin with prefix, which the pattern has read
// into states; k is the first key at or after prefix. Of the runes the
// pattern may go on with, in ascending order (as UTF-8 sorts), each one
// some key has next is walked in turn; the keys between them, of runes the
// pattern refuses, are passed over by seeking to the next rune's prefix.
func (w *keyWalk) walk(prefix []byte, states []int, k []byte) error {
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return nil
	}
	if len(prefix) > 0 && slices.Contains(states, len(w.p)) && (len(k) == len(prefix) || k[len(prefix)] == sep) {
		w.add(string(prefix))
	}
	known := true // k is the first key at or after the next branch
	for _, r := range w.p.runes(states) {
		e := utf8.AppendRune(prefix[:len(prefix):len(prefix)], r)
		if !known || bytes.Compare(k, e) < 0 {
			var err error
			if k, err = w.seek(e); err != nil {
				return err
			}
			known = true
		}
		if k == nil || !bytes.HasPrefix(k, prefix) {
			return nil // no key of prefix from here on
		}
		if bytes.HasPrefix(k, e) {
			if err := w.walk(e, w.p.step(states, r), k); err != nil {
				return err
			}
			known = false // the cursor moved on inside e's keys
		}
	}
	return nil
}

// closure adds to states (positions in p: before part i, or len(p) at its
// end) the positions after each Repeat part they are at, which may read
// none of its runes; sorted.
func (p KeyPattern) closure(states []int) []int {
	for i := 0; i < len(states); i++ {
		if at := states[i]; at < len(p) && p[at].Repeat && !slices.Contains(states, at+1) {
			states = append(states, at+1)
		}
	}
	slices.Sort(states)
	return states
}

// runes returns the runes that may come next in states, ascending.
func (p KeyPattern) runes(states []int) []rune {
	var out []rune
	for _, at := range states {
		if at < len(p) {
			out = append(out, p[at].Runes...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// step returns the states after r is read in states.
func (p KeyPattern) step(states []int, r rune) []int {
	var out []int
	for _, at := range states {
		if at == len(p) {
			continue
		}
		if _, ok := slices.BinarySearch(p[at].Runes, r); !ok {
			continue
		}
		next := at + 1
		if p[at].Repeat {
			next = at
		}
		if !slices.Contains(out, next) {
			out = append(out, next)
		}
	}
	return p.closure(out)
}

// ContactErasure counts what EraseContact deleted.
type ContactErasure struct {
	// Contacts is the number of keys that held a contact (name, language,
	// fields, groups).
	Contacts int
	// Sessions, with their Events, were deleted; Messages are the dedupe
	// records of the contact's inbound messages.
	Sessions, Events, Messages int
}

// EraseContact deletes, in one transaction of the group commit, everything
// stored under each of keys (contact URNs, as ContactKeys finds them): the
// contact row, every session of the contact with its event log, timers and
// index entries, and the dedupe records of its inbound messages (their
// replies). A session that has not ended must be ended by one of ending,
// the turns that end them (as an interrupt saves it), which are written
// first in the same transaction, their outbox records with them; a session
// of the keys that has not ended and that no turn ends fails the erasure
// with ErrConflict, writing nothing. Each session deleted is counted in
// Stats.Deleted by its status, in the same transaction, so that the counts
// of sessions ever stored in a status never go down. The outbox and event delivery's
// records are not touched: they are copies for other systems. The same
// transaction records calls, the calls of the sessions ending ends, in
// erased_calls (CallErased), so that a request of such a call that comes
// later, also after a restart, does not start it again.
func (b *Bolt) EraseContact(ctx context.Context, keys []string, ending []*Turn, calls []ErasedCall) (ContactErasure, error) {
	for _, k := range keys {
		if err := checkID("contact", k); err != nil {
			return ContactErasure{}, err
		}
	}
	for _, c := range calls {
		if err := checkID("session", c.SessionID); err != nil {
			return ContactErasure{}, err
		}
	}
	prepared := make([]*preparedTurn, 0, len(ending))
	for _, t := range ending {
		if t.Session == nil || !t.Session.Status.Ended() {
			return ContactErasure{}, fmt.Errorf("erase contact: a turn that does not end its session: %w", ErrInvalid)
		}
		p, err := b.prepareTurn(t)
		if err != nil {
			return ContactErasure{}, err
		}
		prepared = append(prepared, p)
	}
	// Dedupe records of layouts before 7 do not name their sender: they
	// are found by the sessions their replies name, read before the
	// write, as nothing writes such records any more.
	var legacy [][]byte
	if b.legacyDedupe.Load() {
		var err error
		if legacy, err = b.legacyRecordsOf(ctx, keys); err != nil {
			return ContactErasure{}, err
		}
	}
	var out ContactErasure
	err := b.group(ctx, func(tx *bbolt.Tx, st *statBatch) error {
		out = ContactErasure{} // the function may run again
		for _, p := range prepared {
			if err := p.apply(tx, st); err != nil {
				return err
			}
		}
		for _, k := range keys {
			if err := eraseKey(tx, st, k, &out); err != nil {
				return err
			}
		}
		if err := putErasedCalls(tx, st, calls); err != nil {
			return err
		}
		pb, ab := tx.Bucket(bProcessed), tx.Bucket(bProcessedAt)
		n := 0
		for _, k := range legacy {
			v := pb.Get(k[8:])
			if len(v) < 8 || !bytes.Equal(v[:8], k[:8]) {
				continue // pruned meanwhile
			}
			if err := pb.Delete(k[8:]); err != nil {
				return err
			}
			if err := ab.Delete(k); err != nil {
				return err
			}
			n++
		}
		out.Messages += n
		return st.add(tx, statProcessed, -int64(n))
	})
	return out, err
}

// legacyRecordsOf returns the processed_by_time keys (stored time +
// channel + sep + message id) of the dedupe records of layouts before 7
// whose replies name a session of the contact keys, as legacySender tells
// a record's sender.
func (b *Bolt) legacyRecordsOf(ctx context.Context, keys []string) ([][]byte, error) {
	var out [][]byte
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		out = out[:0]
		ids := map[string]bool{}
		bc := tx.Bucket(bByContact)
		for _, urn := range keys {
			r, err := readRow(tx, urn)
			if err != nil {
				return err
			}
			for _, eid := range sessionsOfKey(bc, r, urn) {
				id, err := decodeID(eid)
				if err != nil {
					return err
				}
				ids[id] = true
			}
		}
		if len(ids) == 0 {
			return nil
		}
		byTime := tx.Bucket(bProcessedAt)
		var r struct {
			ID string `json:"id"`
		}
		return tx.Bucket(bProcessed).ForEach(func(k, v []byte) error {
			reply, found := processedReply(byTime, k, v)
			r.ID = ""
			if found && jsonv1.Unmarshal(reply, &r) == nil && ids[r.ID] {
				out = append(out, append(bytes.Clone(v[:8]), k...))
			}
			return nil
		})
	})
	return out, err
}

// sessionsOfKey returns the packed ids of the sessions stored under the
// contact key urn: its row's waiting and ended entries and its
// session_contacts entries (bc), copied, so that they outlive deletes.
func sessionsOfKey(bc *bbolt.Bucket, row *contactRow, urn string) [][]byte {
	var eids [][]byte
	if row != nil {
		for _, w := range row.waits {
			eids = append(eids, bytes.Clone(w.eid))
		}
		for _, e := range row.ended {
			eids = append(eids, bytes.Clone(e))
		}
	}
	prefix := append([]byte(urn), sep)
	c := bc.Cursor()
	for k, _ := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		eids = append(eids, bytes.Clone(k[len(prefix):]))
	}
	return eids
}

// eraseKey deletes what is stored under the contact key urn (EraseContact).
func eraseKey(tx *bbolt.Tx, st *statBatch, urn string, out *ContactErasure) error {
	bc, ib := tx.Bucket(bByContact), tx.Bucket(bProcessedIndex)
	prefix := append([]byte(urn), sep)
	row, err := rowOf(tx, st, urn)
	if err != nil {
		return err
	}

	for _, eid := range sessionsOfKey(bc, row, urn) {
		id, err := decodeID(eid)
		if err != nil {
			return err
		}
		seq, v, err := lookup(tx, st, id, eid)
		if err != nil {
			return err
		}
		if v == nil {
			continue // an entry without its session: it goes with the row or the range below
		}
		h, err := decodeHeader(id, v)
		if err != nil {
			return err
		}
		if h.urn != urn {
			continue // not this contact's: an entry left behind
		}
		if !endedCode(h.status) {
			return fmt.Errorf("erase contact %q: session %q has not ended (%s): %w", urn, id, codeStatuses[h.status], ErrConflict)
		}
		events, err := eventsOf(tx, id, seq)
		if err != nil {
			return err
		}
		if err := deleteSession(tx, st, id, eid, seq, &h); err != nil {
			return err
		}
		// Counted, so that the stored counters of sessions that ended
		// (completed, ...) do not go down with it.
		if err := st.add(tx, statDeleted(codeStatuses[h.status]), 1); err != nil {
			return err
		}
		out.Sessions++
		out.Events += events
	}

	// The dedupe records: the row's entries (read again: deleting the
	// sessions rewrote it) and the contact's processed_index entries.
	if row, err = rowOf(tx, st, urn); err != nil {
		return err
	}
	var msgs []msgEntry
	if row != nil {
		msgs = append(msgs, row.msgs...)
	}
	var index [][]byte
	c := ib.Cursor()
	for k, _ := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != len(prefix)+16 {
			return damagedDedupe(bProcessedIndex, fmt.Sprintf("dedupe entry %x of contact %q", k, urn), fmt.Sprintf("%d bytes, not %d", len(k), len(prefix)+16))
		}
		index = append(index, bytes.Clone(k))
		msgs = append(msgs, msgEntry{hash: binary.BigEndian.Uint64(k[len(prefix):]), at: binary.BigEndian.Uint64(k[len(prefix)+8:])})
	}
	logb := tx.Bucket(bProcessedLog)
	deleted := 0
	for _, m := range msgs {
		// The record's key starts with its time, and holds its message
		// and sender: the records stored at that time are read for the
		// one of this hash and sender.
		var dead [][]byte
		at := binary.BigEndian.AppendUint64(nil, m.at)
		lc := logb.Cursor()
		for k, _ := lc.Seek(at); bytes.HasPrefix(k, at); k, _ = lc.Next() {
			_, msg, kurn, ok := splitLogKey(k)
			if ok && kurn == urn && msgHash(msg) == m.hash {
				dead = append(dead, bytes.Clone(k))
			}
		}
		for _, k := range dead {
			if err := logb.Delete(k); err != nil {
				return err
			}
			deleted++
		}
	}
	for _, k := range index {
		if err := ib.Delete(k); err != nil {
			return err
		}
	}
	if err := st.add(tx, statProcessed, -int64(deleted)); err != nil {
		return err
	}
	out.Messages += deleted

	// session_contacts entries left without their session, then the row.
	var stale [][]byte
	c = bc.Cursor()
	for k, _ := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		stale = append(stale, bytes.Clone(k))
	}
	for _, k := range stale {
		if err := bc.Delete(k); err != nil {
			return err
		}
	}
	if row != nil {
		if row.hasContact {
			out.Contacts++
			if err := st.add(tx, statContacts, -1); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bContacts).Delete([]byte(urn)); err != nil {
			return err
		}
	}
	return nil
}

// rowOf reads the contact row of urn through the group's cursors (nil when
// there is none).
func rowOf(tx *bbolt.Tx, st *statBatch, urn string) (*contactRow, error) {
	v := st.get(tx.Bucket(bContacts), []byte(urn))
	if v == nil {
		return nil, nil
	}
	return decodeRow(urn, v)
}

// eventsOf counts the events of the session stored at seq.
func eventsOf(tx *bbolt.Tx, id string, seq uint64) (int, error) {
	n := 0
	prefix := recordKey(seq)
	c := tx.Bucket(bRecords).Cursor()
	for k, v := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) == len(prefix) {
			continue
		}
		e, err := eventCount(v)
		if err != nil {
			return 0, fmt.Errorf("session %q: %w", id, err)
		}
		n += e
	}
	return n, nil
}

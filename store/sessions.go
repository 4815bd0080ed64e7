package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// preparedTurn is a Turn with everything costly (JSON, compression, ids,
// clock reads) done before the transaction, so the function that runs in
// the group commit only reads and writes keys and may safely run twice.
type preparedTurn struct {
	id         string
	eid        []byte // encoded session id
	rec        header // payload, codec, status, urn, timer, updated; channel resolved in tx
	encoded    []byte // rec encoded, when its channel was known before the tx
	timers     timerPlan
	channel    string
	events     []byte // the turn's events, encoded together (encodeEvents)
	eventN     int    // how many
	outbox     [][]byte
	contact    []byte // encoded contact, nil when the turn stores none
	contactURN string
	msgID      string
	msgAt      uint64 // when it was prepared; its record is stored at or after (nextLogAt)
	msgLogKey  []byte // the processed_log key (processedLogKey)
	msgReply   []byte
	msgLegacy  bool // look among the dedupe records of older layouts too
	prevCheck  uint64
	checkPrev  bool
	// call: the session is a call's, which never takes its contact's
	// waiting entry (its record keeps no channel).
	call bool
}

func (b *Bolt) prepareTurn(t *Turn) (*preparedTurn, error) {
	s := t.Session
	if s == nil {
		return nil, fmt.Errorf("turn: no session: %w", ErrInvalid)
	}
	if err := checkID("session", s.ID); err != nil {
		return nil, err
	}
	codec, payload, err := encodePayload(s, b.compress)
	if err != nil {
		return nil, err
	}
	plan := planTimers(timersOf(s))
	p := &preparedTurn{
		id:  s.ID,
		eid: idKey(s.ID),
		rec: header{
			status: statusCodes[s.Status], codec: codec, payload: payload,
			updated: nanos(s.UpdatedAt), timerAt: plan.at, timerKind: plan.kind,
			urn: s.ContactKey(),
		},
		timers:    plan,
		channel:   t.Channel,
		checkPrev: !t.PrevUpdated.IsZero(),
		prevCheck: nanos(t.PrevUpdated),
	}
	if p.channel == "" && s.Channel != nil {
		p.channel = s.Channel.ID
	}
	switch {
	case s.Call != nil:
		// A call's session is found through its call (the server derives
		// its id from the call id), never through the waiting index: the
		// contact's entry on the channel belongs to its messaging
		// conversation, and one caller may be on several calls at once.
		p.call = true
		p.encoded = encodeRecord(&p.rec)
	case p.channel != "":
		// Otherwise the record takes the previous version's channel,
		// which only the transaction can read.
		rec := p.rec
		rec.channel = p.channel
		p.encoded = encodeRecord(&rec)
	}
	if len(t.Events) > 0 {
		if p.events, err = encodeEvents(s.ID, t.Events); err != nil {
			return nil, err
		}
		p.eventN = len(t.Events)
	}
	now := b.now().UTC()
	for i := range t.Outbox {
		r := &t.Outbox[i]
		if r.ID == "" {
			r.ID = uuid.NewString()
		}
		if r.Timestamp.IsZero() {
			r.Timestamp = now
		}
		if len(r.Data) == 0 {
			r.Data = json.RawMessage("null")
		}
		v, err := encodeJSON("outbox record of session", s.ID, r)
		if err != nil {
			return nil, err
		}
		p.outbox = append(p.outbox, v)
	}
	if c := t.Contact; c != nil {
		if err := checkID("contact", c.URN); err != nil {
			return nil, err
		}
		p.contact = encodeContact(c)
		p.contactURN = flows.ContactKey(c.URN, s.SandboxContact)
	}
	if t.MessageID != "" {
		if err := checkID("message", t.MessageID); err != nil {
			return nil, err
		}
		p.msgID, p.msgAt = t.MessageID, nanos(now)
		p.msgLogKey = processedLogKey(p.msgAt, p.channel, t.MessageID, s.ContactKey())
		p.msgReply = t.Reply
		p.msgLegacy = b.legacyDedupe.Load()
	}
	return p, nil
}

// SaveTurn writes a turn atomically: the session, its status index, the
// waiting entry and timer record (added, moved or removed to match the new
// status, Wait.TimeoutAt and ExpiresAt), the events, the outbox records,
// the contact and the dedupe record. Concurrent calls share one commit.
func (b *Bolt) SaveTurn(ctx context.Context, t *Turn) error {
	p, err := b.prepareTurn(t)
	if err != nil {
		return err
	}
	return b.group(ctx, p.apply)
}

// idEntry is the value of a session_ids entry: status code, then the
// session's sequence number (uvarint), the key of its record.
func idEntry(status byte, seq uint64) []byte {
	return binary.AppendUvarint([]byte{status}, seq)
}

func decodeIDEntry(id string, v []byte) (status byte, seq uint64, err error) {
	if len(v) < 2 {
		return 0, 0, fmt.Errorf("session %q: corrupt id entry", id)
	}
	seq, w := binary.Uvarint(v[1:])
	if w <= 0 {
		return 0, 0, fmt.Errorf("session %q: corrupt id entry", id)
	}
	return v[0], seq, nil
}

// lookup finds a stored session by encoded id: its sequence and record
// (nil, 0, nil when there is none). rec is bbolt memory.
// st, when not nil, is the group's batch, whose cursors read the buckets.
func lookup(tx *bbolt.Tx, st *statBatch, id string, eid []byte) (seq uint64, rec []byte, err error) {
	v := st.get(tx.Bucket(bIDs), eid)
	if v == nil {
		return 0, nil, nil
	}
	if _, seq, err = decodeIDEntry(id, v); err != nil {
		return 0, nil, err
	}
	if rec = st.get(tx.Bucket(bRecords), binary.BigEndian.AppendUint64(st.scratch(8), seq)); rec == nil {
		return 0, nil, fmt.Errorf("session %q: id entry without record %d", id, seq)
	}
	return seq, rec, nil
}

// apply is the transactional part of SaveTurn. It must only touch tx and st:
// it runs again when another write in the same group fails.
func (p *preparedTurn) apply(tx *bbolt.Tx, st *statBatch) error {
	records := tx.Bucket(bRecords)
	rec := p.rec // a copy: the fields set below must not leak into a re-run
	if !p.call {
		rec.channel = p.channel
	}

	seq, old, err := lookup(tx, st, p.id, p.eid)
	if err != nil {
		return err
	}
	var prev *header
	if old != nil {
		h, err := decodeHeader(p.id, old)
		if err != nil {
			return err
		}
		prev = &h
		if rec.channel == "" && !p.call {
			rec.channel = prev.channel
		}
	}
	if p.checkPrev {
		switch {
		case prev == nil:
			return fmt.Errorf("session %q: expected a stored session: %w", p.id, ErrNotFound)
		case prev.updated != p.prevCheck:
			return fmt.Errorf("session %q: changed since it was loaded (stored %s, loaded %s): %w",
				p.id, fromNanos(prev.updated).Format(time.RFC3339Nano), fromNanos(p.prevCheck).Format(time.RFC3339Nano), ErrConflict)
		}
	}

	rows := newRowSet(tx, st)
	if p.msgLogKey != nil {
		var r *contactRow
		if rec.urn != "" {
			var err error
			if r, err = rows.get(rec.urn); err != nil {
				return err
			}
		}
		if _, dup, err := findProcessed(tx, st, r, p.msgLegacy, p.channel, rec.urn, p.msgID); err != nil || dup {
			if err == nil {
				err = ErrDuplicate
			}
			return fmt.Errorf("session %q: message %q on channel %q: %w", p.id, p.msgID, p.channel, err)
		}
		at := st.nextLogAt(p.msgAt)
		binary.BigEndian.PutUint64(p.msgLogKey, at)
		if err := recordProcessed(tx, rows, rec.urn, logKeyMessage(p.msgLogKey, p.channel, p.msgID), at); err != nil {
			return err
		}
		if err := st.put(tx.Bucket(bProcessedLog), p.msgLogKey, p.msgReply); err != nil {
			return err
		}
		if err := st.add(tx, statProcessed, 1); err != nil {
			return err
		}
	}

	if prev == nil {
		// A new session's record goes at the end of the bucket: sequences
		// only grow, so the pages of new sessions fill completely.
		if seq, err = records.NextSequence(); err != nil {
			return err
		}
	}
	if err := updateContactRefs(tx, rows, p.id, p.eid, seq, prev, &rec); err != nil {
		return err
	}
	if p.contact != nil {
		if err := rows.setContact(p.contactURN, p.contact); err != nil {
			return err
		}
	}
	if err := rows.flush(); err != nil {
		return err
	}
	if err := updateTimer(tx, st, p.eid, prev, p.timers); err != nil {
		return err
	}
	if err := updateStatus(tx, st, p.eid, seq, prev, &rec); err != nil {
		return err
	}
	if err := updateEnded(tx, st, p.eid, prev, &rec); err != nil {
		return err
	}
	v := p.encoded
	if v == nil {
		v = encodeRecord(&rec)
	}
	if err := st.put(records, binary.BigEndian.AppendUint64(st.scratch(8), seq), v); err != nil {
		return err
	}

	if p.eventN > 0 {
		last := lastEventSeq(st.cursor(records), seq) + uint64(p.eventN)
		if err := st.put(records, appendEventKey(st.scratch(16), seq, last), p.events); err != nil {
			return err
		}
		if err := st.add(tx, statEvents, int64(p.eventN)); err != nil {
			return err
		}
	}
	return putOutbox(tx, st, p.outbox)
}

// rowSet reads and writes contact rows within one transaction, so a turn
// that changes a row twice (its waiting entry and its contact) writes it
// once, and an unchanged row is not written at all.
type rowSet struct {
	tx   *bbolt.Tx
	st   *statBatch
	bk   *bbolt.Bucket
	rows map[string]*rowState
}

type rowState struct {
	row  *contactRow
	orig []byte
}

// newRowSet starts a row set whose counter changes go to st (nil: written
// through).
func newRowSet(tx *bbolt.Tx, st *statBatch) *rowSet {
	return &rowSet{tx: tx, st: st, bk: tx.Bucket(bContacts)}
}

func (s *rowSet) get(urn string) (*contactRow, error) {
	if st, ok := s.rows[urn]; ok {
		return st.row, nil
	}
	if s.rows == nil {
		s.rows = make(map[string]*rowState, 2)
	}
	st := &rowState{row: &contactRow{}}
	if v := s.st.get(s.bk, []byte(urn)); v != nil {
		r, err := decodeRow(urn, v)
		if err != nil {
			return nil, err
		}
		st.row, st.orig = r, v
	}
	s.rows[urn] = st
	return st.row, nil
}

func (s *rowSet) setContact(urn string, c []byte) error {
	r, err := s.get(urn)
	if err != nil {
		return err
	}
	if !r.hasContact {
		if err := s.st.add(s.tx, statContacts, 1); err != nil {
			return err
		}
	}
	r.hasContact, r.contact = true, c
	return nil
}

func (s *rowSet) flush() error {
	for urn, st := range s.rows {
		switch {
		case st.row.empty() && st.orig != nil:
			if err := s.bk.Delete(append(s.st.scratch(len(urn)), urn...)); err != nil {
				return err
			}
		case st.row.empty():
		default:
			if v := st.row.encode(); !bytes.Equal(v, st.orig) {
				if err := s.st.put(s.bk, append(s.st.scratch(len(urn)), urn...), v); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// waits reports whether a session version belongs in its contact's row as
// the session waiting on its channel.
func waits(h *header) bool {
	return h != nil && h.status == waitingCode && h.channel != "" && h.urn != ""
}

// rowEndedMax is how many ended sessions a contact row lists before they
// move to session_contacts. A session that ends is added to its contact's
// row, which the turn writes anyway, rather than to the contact's place in
// session_contacts, a page of its own; the row's entries move there
// together, so one page write and one B-tree leaf serve rowEndedMax ended
// sessions.
const rowEndedMax = 8

// updateContactRefs keeps each session with a URN listed for its contact
// exactly once: as the waiting entry in the contact's row while it waits on
// a channel, otherwise as an ended entry in the row or a session_contacts
// entry.
func updateContactRefs(tx *bbolt.Tx, rows *rowSet, id string, eid []byte, seq uint64, prev, cur *header) error {
	prevInRow := false
	if waits(prev) {
		r, err := rows.get(prev.urn)
		if err != nil {
			return err
		}
		if i := r.wait(prev.channel); i >= 0 && bytes.Equal(r.waits[i].eid, eid) {
			prevInRow = true
			if !waits(cur) || cur.urn != prev.urn || cur.channel != prev.channel {
				r.waits = append(r.waits[:i], r.waits[i+1:]...)
			}
		}
	}
	curInRow := waits(cur)
	if curInRow && !(prevInRow && cur.urn == prev.urn && cur.channel == prev.channel) {
		r, err := rows.get(cur.urn)
		if err != nil {
			return err
		}
		i := r.wait(cur.channel)
		if i >= 0 && !bytes.Equal(r.waits[i].eid, eid) {
			other, err := decodeID(r.waits[i].eid)
			if err != nil {
				return err
			}
			call, err := isCallRecord(other, rows.st.get(tx.Bucket(bRecords), recordKey(r.waits[i].seq)))
			if err != nil {
				return err
			}
			if !call {
				return fmt.Errorf("session %q: contact %q on channel %q already has waiting session %q: %w",
					id, cur.urn, cur.channel, other, ErrConflict)
			}
			// A call's session saved before calls stopped taking the
			// entry: it gives the entry up and is listed as a session
			// that does not wait on a channel, as it is saved from now on.
			moved := r.waits[i].eid
			r.waits = append(r.waits[:i], r.waits[i+1:]...)
			if err := addEnded(tx, rows, cur.urn, moved); err != nil {
				return err
			}
			i = -1
		}
		if i < 0 {
			r.waits = append(r.waits, waitEntry{channel: cur.channel, eid: eid, seq: seq})
		}
	}
	prevEnded := prev != nil && prev.urn != "" && !prevInRow
	curEnded := cur.urn != "" && !curInRow
	if prevEnded && !(curEnded && cur.urn == prev.urn) {
		r, err := rows.get(prev.urn)
		if err != nil {
			return err
		}
		if !r.dropEnded(eid) {
			if err := tx.Bucket(bByContact).Delete(contactKey(prev.urn, eid)); err != nil {
				return err
			}
		}
	}
	if curEnded && !(prevEnded && cur.urn == prev.urn) {
		return addEnded(tx, rows, cur.urn, eid)
	}
	return nil
}

// addEnded lists session eid for contact urn as one that does not wait on a
// channel: in the contact's row, whose entries move to session_contacts
// together once it lists rowEndedMax.
func addEnded(tx *bbolt.Tx, rows *rowSet, urn string, eid []byte) error {
	r, err := rows.get(urn)
	if err != nil {
		return err
	}
	if len(r.ended) >= rowEndedMax {
		bc := tx.Bucket(bByContact)
		for _, e := range r.ended {
			if err := rows.st.put(bc, contactKey(urn, e), nil); err != nil {
				return err
			}
		}
		r.ended = r.ended[:0]
	}
	r.ended = append(r.ended, eid)
	return nil
}

// isCallRecord reports whether the stored session record v is a call's
// session. Only files written before calls stopped taking their contact's
// waiting entry have such a session in the entry; reading one decodes its
// payload, which the usual paths never do for an entry.
func isCallRecord(id string, v []byte) (bool, error) {
	if v == nil {
		return false, fmt.Errorf("session %q: waiting entry without its record: %w", id, ErrNotFound)
	}
	s, err := decodeSession(id, v)
	if err != nil {
		return false, err
	}
	return s.Call != nil, nil
}

// updateTimer replaces the session's timer record when its times changed.
func updateTimer(tx *bbolt.Tx, st *statBatch, eid []byte, prev *header, next timerPlan) error {
	tb := tx.Bucket(bTimers)
	var oldKey []byte
	var old timerPlan
	if prev != nil && prev.timerAt != 0 {
		oldKey = appendTimerKey(st.scratch(8+len(eid)), prev.timerAt, eid)
		if v := st.get(tb, oldKey); v != nil {
			old, _ = decodeTimer(prev.timerAt, v)
		}
	}
	if old == next {
		return nil
	}
	if old.at != 0 {
		if err := tb.Delete(oldKey); err != nil {
			return err
		}
	}
	if next.at != 0 {
		if err := st.put(tb, appendTimerKey(st.scratch(8+len(eid)), next.at, eid), next.value()); err != nil {
			return err
		}
	}
	return st.add(tx, statTimers, next.count()-old.count())
}

// updateStatus maintains the id entry (which carries the status), the
// status index and the per-status counters. Waiting sessions have no status
// index entry: they are the bulk of a busy store, and listing them walks the
// id entries instead (ListSessions).
func updateStatus(tx *bbolt.Tx, st *statBatch, eid []byte, seq uint64, prev, cur *header) error {
	if prev != nil && prev.status == cur.status {
		return nil
	}
	if err := st.put(tx.Bucket(bIDs), eid, idEntry(cur.status, seq)); err != nil {
		return err
	}
	sb := tx.Bucket(bByStatus)
	if prev != nil {
		if prev.status != waitingCode {
			if err := sb.Delete(statusKey(prev.status, eid)); err != nil {
				return err
			}
		}
		if err := st.add(tx, statSession(codeStatuses[prev.status]), -1); err != nil {
			return err
		}
	}
	if cur.status != waitingCode {
		if err := st.put(sb, statusKey(cur.status, eid), nil); err != nil {
			return err
		}
	}
	return st.add(tx, statSession(codeStatuses[cur.status]), 1)
}

// lastEventSeq finds the highest event sequence of a session (0: none) with
// one cursor seek: the newest event is the key right after the record.
// c is a cursor on the records bucket.
func lastEventSeq(c *bbolt.Cursor, seq uint64) uint64 {
	var kb [16]byte
	k, _ := c.Seek(appendEventKey(kb[:0], seq, 1<<64-1))
	if len(k) == 16 && binary.BigEndian.Uint64(k) == seq {
		return ^binary.BigEndian.Uint64(k[8:])
	}
	return 0
}

// lookupSession finds session id: its sequence number and stored value, or
// ErrNotFound.
func lookupSession(tx *bbolt.Tx, id string) (uint64, []byte, error) {
	seq, v, err := lookup(tx, nil, id, idKey(id))
	if err == nil && v == nil {
		err = fmt.Errorf("session %q: %w", id, ErrNotFound)
	}
	return seq, v, err
}

// LoadSession returns the stored session id.
func (b *Bolt) LoadSession(ctx context.Context, id string) (*flows.Session, error) {
	var s *flows.Session
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		_, v, err := lookupSession(tx, id)
		if err != nil {
			return err
		}
		s, err = decodeSession(id, v)
		return err
	})
	return s, err
}

// Page limits.
const (
	defaultPage = 50
	maxPage     = 1000
)

// MaxEventsPage is the most events SessionEvents returns at once, the
// largest limit the API's events endpoint takes: an event log is read in
// one transaction and a page of events is small, so it pages by more than
// the lists do.
const MaxEventsPage = 5000

func pageLimit(n, def int) int {
	switch {
	case n <= 0:
		return def
	case n > maxPage:
		return maxPage
	}
	return n
}

// ListSessions returns sessions ordered by id. With a contact filter it
// walks that contact's entries (its index range and its row's waiting
// entries); with a status filter, that status's index entries (the id
// entries for waiting, which carry the status); otherwise the id entries.
// Other filters are checked against each candidate's header (the contact
// prefix too; the flow id against its JSON, which is decompressed for it). The cursor is the last id returned; a full page always
// returns one, so the last page may be empty.
func (b *Bolt) ListSessions(ctx context.Context, f SessionFilter, p Page) ([]*flows.Session, string, error) {
	var code byte
	if f.Status != "" {
		var ok bool
		if code, ok = statusCodes[f.Status]; !ok {
			return nil, "", fmt.Errorf("session filter: unknown status %q: %w", f.Status, ErrInvalid)
		}
	}
	limit := pageLimit(p.Limit, defaultPage)
	var out []*flows.Session
	var skipped []error
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		skipped = skipped[:0]
		records := tx.Bucket(bRecords)
		var src idSource
		switch {
		case f.Contact != "":
			row := &contactRow{}
			if v := tx.Bucket(bContacts).Get([]byte(f.Contact)); v != nil {
				var err error
				if row, err = decodeRow(f.Contact, v); err != nil {
					return err
				}
			}
			src = mergeSources(
				rangeSource(tx.Bucket(bByContact), join(f.Contact, ""), p.After),
				rowSource(row, p.After))
		case f.Status != "" && code != waitingCode:
			src = rangeSource(tx.Bucket(bByStatus), []byte{code}, p.After)
		default:
			src = rangeSource(tx.Bucket(bIDs), nil, p.After)
		}
		ids := tx.Bucket(bIDs)
		for len(out) < limit {
			if err := ctx.Err(); err != nil {
				return err
			}
			c, ok, err := src()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if !c.known {
				if c.entry == nil {
					if c.entry = ids.Get(c.eid); c.entry == nil {
						return fmt.Errorf("session %q: index entry without session", c.id)
					}
				}
				st, seq, err := decodeIDEntry(c.id, c.entry)
				if err != nil {
					return err
				}
				if f.Status != "" && st != code {
					continue
				}
				c.seq = seq
			}
			v := records.Get(recordKey(c.seq))
			if v == nil {
				return fmt.Errorf("session %q: index entry without record", c.id)
			}
			// A record that does not decode is left out of the page, and
			// logged, rather than failing the listing of every other one.
			h, err := decodeHeader(c.id, v)
			if err != nil {
				skipped = append(skipped, err)
				continue
			}
			if (f.Status != "" && h.status != code) || (f.Contact != "" && h.urn != f.Contact) ||
				(f.ContactPrefix != "" && !strings.HasPrefix(h.urn, f.ContactPrefix)) {
				continue
			}
			js, err := payloadJSON(c.id, h.codec, h.payload)
			if err != nil {
				skipped = append(skipped, err)
				continue
			}
			if f.FlowID != "" && topLevelFlow(js) != f.FlowID {
				continue
			}
			s := new(flows.Session)
			if err := jsonUnmarshal(js, s); err != nil {
				skipped = append(skipped, damagedSession(c.id, fmt.Errorf("decode: %w", err)))
				continue
			}
			s.RekeyResults()
			out = append(out, s)
		}
		return nil
	})
	for _, serr := range skipped {
		b.log.Error("store: a damaged session record is left out of a listing", "err", corruptFile(b.path, serr))
	}
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) == limit {
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// WaitingSession returns the session waiting for urn on channel. A call's
// session is never that session, even in a file written when calls took the
// waiting entry.
func (b *Bolt) WaitingSession(ctx context.Context, channel, urn string) (*flows.Session, error) {
	var s *flows.Session
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		w, v, err := waitingRecord(tx, channel, urn)
		if err != nil {
			return err
		}
		if v != nil {
			if s, err = decodeSession(w.id, v); err != nil || s.Call == nil {
				return err
			}
			s = nil
		}
		return fmt.Errorf("waiting session for %q on channel %q: %w", urn, channel, ErrNotFound)
	})
	return s, err
}

// waitingFound is the waiting entry found for a contact and channel.
type waitingFound struct {
	id  string
	row *contactRow
}

// waitingRecord finds the record of the session waiting for urn on channel
// (nil when none), and returns the contact's row (nil when none) for
// callers that want the contact too.
func waitingRecord(tx *bbolt.Tx, channel, urn string) (waitingFound, []byte, error) {
	r, err := readRow(tx, urn)
	if err != nil {
		return waitingFound{}, nil, err
	}
	return waitingInRow(tx, r, channel, urn)
}

// readRow reads the contact row of urn (nil when there is none).
func readRow(tx *bbolt.Tx, urn string) (*contactRow, error) {
	v := tx.Bucket(bContacts).Get([]byte(urn))
	if v == nil {
		return nil, nil
	}
	return decodeRow(urn, v)
}

// waitingInRow is waitingRecord for the row r of urn, already read.
func waitingInRow(tx *bbolt.Tx, r *contactRow, channel, urn string) (waitingFound, []byte, error) {
	w := waitingFound{row: r}
	if r == nil {
		return w, nil, nil
	}
	var err error
	i := r.wait(channel)
	if i < 0 {
		return w, nil, nil
	}
	if w.id, err = decodeID(r.waits[i].eid); err != nil {
		return w, nil, err
	}
	rec := tx.Bucket(bRecords).Get(recordKey(r.waits[i].seq))
	if rec == nil {
		return w, nil, fmt.Errorf("session %q (waiting for %q on channel %q): %w", w.id, urn, channel, ErrNotFound)
	}
	return w, rec, nil
}

// DeleteSession removes session id, its index entries, timer and event log,
// counting it in Stats.Deleted.
// The contact and dedupe records stay: they outlive sessions.
func (b *Bolt) DeleteSession(ctx context.Context, id string) error {
	eid := idKey(id)
	return b.group(ctx, func(tx *bbolt.Tx, st *statBatch) error {
		seq, v, err := lookup(tx, st, id, eid)
		if err != nil {
			return err
		}
		if v == nil {
			return fmt.Errorf("session %q: %w", id, ErrNotFound)
		}
		h, err := decodeHeader(id, v)
		if err != nil {
			return err
		}
		if err := deleteSession(tx, st, id, eid, seq, &h); err != nil {
			return err
		}
		return st.add(tx, statDeleted(codeStatuses[h.status]), 1)
	})
}

// deleteSession removes the stored session h (id, encoded eid, record
// sequence seq) with its index entries, timer, event log and counters.
func deleteSession(tx *bbolt.Tx, st *statBatch, id string, eid []byte, seq uint64, h *header) error {
	rows := newRowSet(tx, st)
	if err := updateContactRefs(tx, rows, id, eid, seq, h, &header{}); err != nil {
		return err
	}
	if err := rows.flush(); err != nil {
		return err
	}
	if err := updateTimer(tx, st, eid, h, timerPlan{}); err != nil {
		return err
	}
	if err := updateEnded(tx, st, eid, h, &header{}); err != nil {
		return err
	}
	if h.status != waitingCode {
		if err := tx.Bucket(bByStatus).Delete(statusKey(h.status, eid)); err != nil {
			return err
		}
	}
	if err := st.add(tx, statSession(codeStatuses[h.status]), -1); err != nil {
		return err
	}
	records := tx.Bucket(bRecords)
	var keys [][]byte
	events := 0
	c := records.Cursor()
	prefix := recordKey(seq)
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		keys = append(keys, bytes.Clone(k))
		if len(k) == len(prefix) {
			continue // the record
		}
		n, err := eventCount(v)
		if err != nil {
			return fmt.Errorf("session %q: %w", id, err)
		}
		events += n
	}
	for _, k := range keys {
		if err := records.Delete(k); err != nil {
			return err
		}
	}
	if err := st.add(tx, statEvents, -int64(events)); err != nil {
		return err
	}
	return tx.Bucket(bIDs).Delete(eid)
}

// PruneEnded deletes, oldest first, up to limit (default 100) sessions that
// ended before cutoff, each with its events and index entries, as
// DeleteSession does, and reports how many ended-session entries it took;
// call it again while it returns limit. The deletes join the next group
// commit, and nothing is written when no session is due.
func (b *Bolt) PruneEnded(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 100
	}
	until := nanos(cutoff)
	if due, err := b.dueBefore(ctx, bEnded, until); err != nil || !due {
		return 0, err
	}
	n := 0
	err := b.group(ctx, func(tx *bbolt.Tx, st *statBatch) error {
		eb := tx.Bucket(bEnded)
		keys := keysBefore(eb, until, limit)
		n = len(keys)
		for _, k := range keys {
			eid := k[8:]
			id, err := decodeID(eid)
			if err != nil {
				return err
			}
			seq, v, err := lookup(tx, st, id, eid)
			if err != nil {
				return err
			}
			var h header
			if v != nil {
				if h, err = decodeHeader(id, v); err != nil {
					return err
				}
			}
			if v == nil || !endedCode(h.status) || h.updated != binary.BigEndian.Uint64(k) {
				// An entry that no longer matches its session: the
				// session's own entry, if it has one, is elsewhere.
				if err := eb.Delete(k); err != nil {
					return err
				}
				continue
			}
			if err := deleteSession(tx, st, id, eid, seq, &h); err != nil {
				return err
			}
			if err := st.add(tx, statPruned(codeStatuses[h.status]), 1); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// dueBefore reports, from a read transaction, whether the first key of
// bucket name, which starts with an 8-byte time, is before until.
func (b *Bolt) dueBefore(ctx context.Context, name []byte, until uint64) (bool, error) {
	due := false
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		k, _ := tx.Bucket(name).Cursor().First()
		due = k != nil && binary.BigEndian.Uint64(k) < until
		return nil
	})
	return due, err
}

// keysBefore returns copies of up to limit keys of bk from its first, each
// starting with an 8-byte time before until.
func keysBefore(bk *bbolt.Bucket, until uint64, limit int) [][]byte {
	var keys [][]byte
	c := bk.Cursor()
	for k, _ := c.First(); k != nil && len(keys) < limit && binary.BigEndian.Uint64(k) < until; k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	return keys
}

// endedCode reports whether a stored status code is that of a session that
// has ended (completed, expired, failed or interrupted).
func endedCode(c byte) bool { return endedCodes[c] }

// endedCodes is endedCode's table: every turn asks it twice.
var endedCodes = func() (t [256]bool) {
	for s, c := range statusCodes {
		t[c] = s.Ended()
	}
	return t
}()

// updateEnded keeps a session's entry in session_ended, keyed by the time
// it ended, in step with its status: added when it ends, removed when it
// is deleted.
func updateEnded(tx *bbolt.Tx, st *statBatch, eid []byte, prev, cur *header) error {
	was := prev != nil && endedCode(prev.status)
	is := endedCode(cur.status)
	if was && is && prev.updated == cur.updated || !was && !is {
		return nil
	}
	bk := tx.Bucket(bEnded)
	if was {
		if err := bk.Delete(timerKey(prev.updated, eid)); err != nil {
			return err
		}
	}
	if is {
		return st.put(bk, appendTimerKey(st.scratch(8+len(eid)), cur.updated, eid), nil)
	}
	return nil
}

// Contact returns the contact stored for urn.
func (b *Bolt) Contact(ctx context.Context, urn string) (*flows.Contact, error) {
	var c *flows.Contact
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		if c, err = storedContact(tx, urn); err == nil && c == nil {
			err = fmt.Errorf("contact %q: %w", urn, ErrNotFound)
		}
		return err
	})
	return c, err
}

// storedContact reads a contact from its row (nil when none is stored).
func storedContact(tx *bbolt.Tx, urn string) (*flows.Contact, error) {
	r, err := readRow(tx, urn)
	if err != nil {
		return nil, err
	}
	return r.storedContact(urn)
}

func (r *contactRow) storedContact(urn string) (*flows.Contact, error) {
	if r == nil || !r.hasContact {
		return nil, nil
	}
	return decodeContact(urn, r.contact)
}

// SessionEvents returns up to limit (default 100, at most MaxEventsPage)
// events of session id with a sequence above after, oldest first. Pass the
// last Seq returned to get the next page.
func (b *Bolt) SessionEvents(ctx context.Context, id string, after uint64, limit int) ([]EventRecord, error) {
	switch {
	case limit <= 0:
		limit = 100
	case limit > MaxEventsPage:
		limit = MaxEventsPage
	}
	var out []EventRecord
	if after == 1<<64-1 {
		return nil, nil
	}
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		seq, _, err := lookupSession(tx, id)
		if err != nil {
			return err
		}
		// Events are stored newest first, each key naming the last event
		// of its turn: the turn holding event after+1 is the key for it or
		// the one before. Walk backwards from there.
		c := tx.Bucket(bRecords).Cursor()
		start := eventKey(seq, after+1)
		k, v := c.Seek(start)
		switch {
		case k == nil:
			k, v = c.Last()
		case !bytes.Equal(k, start):
			k, v = c.Prev()
		}
		for ; len(k) == 16 && binary.BigEndian.Uint64(k) == seq && len(out) < limit; k, v = c.Prev() {
			last := ^binary.BigEndian.Uint64(k[8:])
			evs, err := decodeEvents(v)
			if err != nil {
				return &RecordError{Bucket: string(bRecords), Record: fmt.Sprintf("events of session %q up to %d", id, last), Err: err}
			}
			ev := last - uint64(len(evs))
			for _, js := range evs {
				if ev++; ev <= after {
					continue
				}
				if len(out) == limit {
					break
				}
				var e flows.Event
				if err := jsonUnmarshal(js, &e); err != nil {
					return &RecordError{Bucket: string(bRecords), Record: fmt.Sprintf("event %d of session %q", ev, id), Err: fmt.Errorf("decode: %w", err)}
				}
				out = append(out, EventRecord{Seq: ev, Event: e})
			}
		}
		return nil
	})
	return out, err
}

// LastTurnEvents reads a session's event records newest first, as they are
// stored, and stops at the session_waiting before the last one: a repeated
// request reads the turns it answers, not the whole log.
func (b *Bolt) LastTurnEvents(ctx context.Context, id string) ([]flows.Event, error) {
	var out []flows.Event
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		seq, _, err := lookupSession(tx, id)
		if err != nil {
			return err
		}
		waits := 0 // session_waiting events seen, newest first
		var turns [][]flows.Event
		c := tx.Bucket(bRecords).Cursor()
		for k, v := c.Seek(eventKey(seq, 1<<64-1)); len(k) == 16 && binary.BigEndian.Uint64(k) == seq; k, v = c.Next() {
			last := ^binary.BigEndian.Uint64(k[8:])
			evs, err := decodeEvents(v)
			if err != nil {
				return &RecordError{Bucket: string(bRecords), Record: fmt.Sprintf("events of session %q up to %d", id, last), Err: err}
			}
			var kept []flows.Event
			for i := len(evs) - 1; i >= 0; i-- {
				var e flows.Event
				if err := jsonUnmarshal(evs[i], &e); err != nil {
					return &RecordError{Bucket: string(bRecords), Record: fmt.Sprintf("event %d of session %q", last-uint64(len(evs)-1-i), id), Err: fmt.Errorf("decode: %w", err)}
				}
				if e.Type == flows.EventSessionWaiting {
					if waits++; waits == 2 {
						break
					}
				}
				if waits == 1 {
					kept = append(kept, e)
				}
			}
			turns = append(turns, kept)
			if waits == 2 {
				break
			}
		}
		if waits == 0 {
			return nil
		}
		for i := len(turns) - 1; i >= 0; i-- {
			for j := len(turns[i]) - 1; j >= 0; j-- {
				out = append(out, turns[i][j])
			}
		}
		return nil
	})
	return out, err
}

// DueTimers returns up to limit (default 100, at most 1000) timers due at or
// before now, earliest first: a scan from the start of the timers bucket that
// stops at the first record in the future. A session's two timers share one
// record keyed by the earlier, so the scan reports the later one from the
// same record when it is due too. A timer stays until a save of its session
// moves or clears it (or RemoveTimer), so a scanner that crashes before
// saving sees it again.
func (b *Bolt) DueTimers(ctx context.Context, now time.Time, limit int) ([]Timer, error) {
	limit = pageLimit(limit, 100)
	cutoff := nanos(now)
	var out []Timer
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bTimers).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			at := binary.BigEndian.Uint64(k)
			if at > cutoff {
				break
			}
			// Every timer not yet seen is due at or after at: once limit
			// timers are due no later than that, the scan is complete.
			n := 0
			for _, t := range out {
				if nanos(t.At) <= at {
					n++
				}
			}
			if n >= limit {
				break
			}
			id, err := decodeID(k[8:])
			if err != nil {
				return err
			}
			p, ok := decodeTimer(at, v)
			if !ok {
				return fmt.Errorf("session %q: corrupt timer record", id)
			}
			out = append(out, Timer{At: fromNanos(at), Kind: p.kind, SessionID: id})
			if p.second != 0 && p.second <= cutoff {
				out = append(out, Timer{At: fromNanos(p.second), Kind: otherKind(p.kind), SessionID: id})
			}
		}
		return nil
	})
	sortTimers(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// RemoveTimer deletes one timer; removing a missing timer is not an error.
// SaveTurn removes timers itself: this is for timers whose session is gone.
func (b *Bolt) RemoveTimer(ctx context.Context, t Timer) error {
	at, eid := nanos(t.At), idKey(t.SessionID)
	return b.group(ctx, func(tx *bbolt.Tx, st *statBatch) error {
		tb := tx.Bucket(bTimers)
		seq, rec, err := lookup(tx, st, t.SessionID, eid)
		if err != nil {
			return err
		}
		var h header
		if rec != nil {
			if h, err = decodeHeader(t.SessionID, rec); err != nil {
				return err
			}
		}
		// The timer is the first of the record keyed at its time, or the
		// second of the record its session's header points to.
		key := timerKey(at, eid)
		p, ok := decodeTimer(at, tb.Get(key))
		var next timerPlan
		switch {
		case ok && p.kind == t.Kind:
			if p.second != 0 {
				next = timerPlan{at: p.second, kind: otherKind(p.kind)}
			}
			if err := tb.Delete(key); err != nil {
				return err
			}
		case rec != nil && h.timerAt != 0:
			key = timerKey(h.timerAt, eid)
			if p, ok = decodeTimer(h.timerAt, tb.Get(key)); !ok || p.second != at || otherKind(p.kind) != t.Kind {
				return nil
			}
			next = timerPlan{at: p.at, kind: p.kind}
		default:
			return nil
		}
		if next.at != 0 {
			if err := st.put(tb, timerKey(next.at, eid), next.value()); err != nil {
				return err
			}
		}
		// Keep the session's header pointing at its timer record.
		if rec != nil && h.timerAt == p.at && h.timerKind == p.kind && (next.at != p.at || next.kind != p.kind) {
			h.timerAt, h.timerKind = next.at, next.kind
			if err := st.put(tx.Bucket(bRecords), recordKey(seq), encodeRecord(&h)); err != nil {
				return err
			}
		}
		return st.add(tx, statTimers, -1)
	})
}

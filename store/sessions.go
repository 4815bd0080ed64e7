package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
	rec        header // payload, codec, status, flow, urn, timers, updated; channel resolved in tx
	channel    string
	events     [][]byte
	outbox     [][]byte
	contact    []byte
	contactURN string
	msgID      string
	msgKey     []byte
	msgAtKey   []byte
	msgValue   []byte
	prevCheck  uint64
	checkPrev  bool
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
	timeoutAt, expiresAt := timersOf(s)
	p := &preparedTurn{
		id: s.ID,
		rec: header{
			status: statusCodes[s.Status], codec: codec, payload: payload,
			updated: nanos(s.UpdatedAt), timeoutAt: timeoutAt, expiresAt: expiresAt,
			urn: s.Contact.URN, flowID: s.FlowID,
		},
		channel:   t.Channel,
		checkPrev: !t.PrevUpdated.IsZero(),
		prevCheck: nanos(t.PrevUpdated),
	}
	if p.channel == "" && s.Channel != nil {
		p.channel = s.Channel.ID
	}
	for i := range t.Events {
		v, err := encodeJSON("session event of", s.ID, &t.Events[i])
		if err != nil {
			return nil, err
		}
		p.events = append(p.events, v)
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
		if p.contact, err = encodeJSON("contact", c.URN, c); err != nil {
			return nil, err
		}
		p.contactURN = c.URN
	}
	if t.MessageID != "" {
		if err := checkID("message", t.MessageID); err != nil {
			return nil, err
		}
		at := nanos(now)
		p.msgID = t.MessageID
		p.msgKey = join(p.channel, t.MessageID)
		p.msgAtKey = processedAtKey(at, p.channel, t.MessageID)
		p.msgValue = append(u64(at), t.Reply...)
	}
	return p, nil
}

// SaveTurn writes a turn atomically: the session, its status index, the
// waiting index and timers (added, moved or removed to match the new status,
// Wait.TimeoutAt and ExpiresAt), the events, the outbox records, the contact
// and the dedupe record. Concurrent calls share one commit.
func (b *Bolt) SaveTurn(ctx context.Context, t *Turn) error {
	p, err := b.prepareTurn(t)
	if err != nil {
		return err
	}
	return b.group(ctx, p.apply)
}

// apply is the transactional part of SaveTurn. It must only touch tx: it runs
// again when another write in the same group fails.
func (p *preparedTurn) apply(tx *bbolt.Tx) error {
	sessions := tx.Bucket(bSessions)
	idKey := []byte(p.id)
	rec := p.rec // a copy: the fields set below must not leak into a re-run
	rec.channel = p.channel

	var prev *header
	if old := sessions.Get(idKey); old != nil {
		h, err := decodeHeader(p.id, old)
		if err != nil {
			return err
		}
		prev = &h
		if rec.channel == "" {
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

	if p.msgKey != nil {
		pb := tx.Bucket(bProcessed)
		if pb.Get(p.msgKey) != nil {
			return fmt.Errorf("session %q: message %q on channel %q: %w", p.id, p.msgID, p.channel, ErrDuplicate)
		}
		if err := pb.Put(p.msgKey, p.msgValue); err != nil {
			return err
		}
		pa := tx.Bucket(bProcessedAt)
		pa.FillPercent = appendFill
		if err := pa.Put(p.msgAtKey, nil); err != nil {
			return err
		}
		if err := addStat(tx, statProcessed, 1); err != nil {
			return err
		}
	}

	if err := updateWaiting(tx, p.id, prev, &rec); err != nil {
		return err
	}
	if err := updateTimers(tx, p.id, prev, &rec); err != nil {
		return err
	}
	if err := updateIndexes(tx, p.id, prev, &rec); err != nil {
		return err
	}
	if err := sessions.Put(idKey, encodeRecord(&rec)); err != nil {
		return err
	}

	if len(p.events) > 0 {
		eb := tx.Bucket(bEvents)
		eb.FillPercent = appendFill
		seq := lastEventSeq(eb, p.id)
		for _, v := range p.events {
			seq++
			if err := eb.Put(eventKey(p.id, seq), v); err != nil {
				return err
			}
		}
		if err := addStat(tx, statEvents, int64(len(p.events))); err != nil {
			return err
		}
	}

	if p.contact != nil {
		cb := tx.Bucket(bContacts)
		old := cb.Get([]byte(p.contactURN))
		if old == nil {
			if err := addStat(tx, statContacts, 1); err != nil {
				return err
			}
		}
		if !bytes.Equal(old, p.contact) {
			if err := cb.Put([]byte(p.contactURN), p.contact); err != nil {
				return err
			}
		}
	}

	return putOutbox(tx, p.outbox)
}

// waitingKey returns the waiting index key of a session version, or nil when
// it should have none.
func waitingKey(h *header) []byte {
	if h == nil || h.status != statusCodes[flows.StatusWaiting] || h.channel == "" || h.urn == "" {
		return nil
	}
	return join(h.channel, h.urn)
}

func updateWaiting(tx *bbolt.Tx, id string, prev, cur *header) error {
	wb := tx.Bucket(bWaiting)
	oldKey, newKey := waitingKey(prev), waitingKey(cur)
	if oldKey != nil && !bytes.Equal(oldKey, newKey) && string(wb.Get(oldKey)) == id {
		if err := wb.Delete(oldKey); err != nil {
			return err
		}
	}
	if newKey == nil {
		return nil
	}
	switch other := wb.Get(newKey); {
	case other == nil:
		return wb.Put(newKey, []byte(id))
	case string(other) != id:
		return fmt.Errorf("session %q: contact %q on channel %q already has waiting session %q: %w",
			id, cur.urn, cur.channel, other, ErrConflict)
	}
	return nil
}

func updateTimers(tx *bbolt.Tx, id string, prev, cur *header) error {
	tb := tx.Bucket(bTimers)
	var delta int64
	move := func(kind TimerKind, from, to uint64) error {
		if from == to {
			return nil
		}
		if from != 0 {
			k := timerKey(from, kind, id)
			if tb.Get(k) != nil {
				if err := tb.Delete(k); err != nil {
					return err
				}
				delta--
			}
		}
		if to != 0 {
			if err := tb.Put(timerKey(to, kind, id), []byte{byte(kind)}); err != nil {
				return err
			}
			delta++
		}
		return nil
	}
	var oldTimeout, oldExpiry uint64
	if prev != nil {
		oldTimeout, oldExpiry = prev.timeoutAt, prev.expiresAt
	}
	if err := move(TimerWaitTimeout, oldTimeout, cur.timeoutAt); err != nil {
		return err
	}
	if err := move(TimerExpiry, oldExpiry, cur.expiresAt); err != nil {
		return err
	}
	return addStat(tx, statTimers, delta)
}

// updateIndexes maintains the status and contact indexes and the per-status
// counters.
func updateIndexes(tx *bbolt.Tx, id string, prev, cur *header) error {
	sb, cb := tx.Bucket(bByStatus), tx.Bucket(bByContact)
	if prev == nil || prev.status != cur.status {
		if prev != nil {
			if err := sb.Delete(statusKey(prev.status, id)); err != nil {
				return err
			}
			if err := addStat(tx, statSession(codeStatuses[prev.status]), -1); err != nil {
				return err
			}
		}
		if err := sb.Put(statusKey(cur.status, id), nil); err != nil {
			return err
		}
		if err := addStat(tx, statSession(codeStatuses[cur.status]), 1); err != nil {
			return err
		}
	}
	if prev == nil || prev.urn != cur.urn {
		if prev != nil && prev.urn != "" {
			if err := cb.Delete(join(prev.urn, id)); err != nil {
				return err
			}
		}
		if cur.urn != "" {
			return cb.Put(join(cur.urn, id), nil)
		}
	}
	return nil
}

// lastEventSeq finds the highest event sequence of a session (0: none) with
// one cursor seek, instead of keeping a counter.
func lastEventSeq(eb *bbolt.Bucket, id string) uint64 {
	c := eb.Cursor()
	k, _ := c.Seek(eventKey(id, math.MaxUint64))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	prefix := join(id, "")
	if len(k) == len(prefix)+8 && bytes.HasPrefix(k, prefix) {
		return binary.BigEndian.Uint64(k[len(prefix):])
	}
	return 0
}

// LoadSession returns the stored session id.
func (b *Bolt) LoadSession(ctx context.Context, id string) (*flows.Session, error) {
	var s *flows.Session
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bSessions).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("session %q: %w", id, ErrNotFound)
		}
		var err error
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

func pageLimit(n, def int) int {
	switch {
	case n <= 0:
		return def
	case n > maxPage:
		return maxPage
	}
	return n
}

// ListSessions returns sessions ordered by id. With a contact filter it walks
// that contact's index entries; with a status filter, that status's index
// entries; otherwise the sessions bucket. Other filters are checked against
// each candidate's header, without decoding its JSON. The cursor is the last
// id returned; a full page always returns one, so the last page may be empty.
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
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		sessions := tx.Bucket(bSessions)
		// Each source yields candidate ids in id order, starting after the cursor.
		var (
			c      *bbolt.Cursor
			prefix []byte
		)
		switch {
		case f.Contact != "":
			c, prefix = tx.Bucket(bByContact).Cursor(), join(f.Contact, "")
		case f.Status != "":
			c, prefix = tx.Bucket(bByStatus).Cursor(), []byte{code}
		default:
			c, prefix = sessions.Cursor(), nil
		}
		start := append(bytes.Clone(prefix), p.After...)
		k, v := c.Seek(start)
		if p.After != "" && bytes.Equal(k, start) {
			k, v = c.Next()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			id := string(k[len(prefix):])
			if prefix != nil {
				if v = sessions.Get([]byte(id)); v == nil {
					return fmt.Errorf("session %q: index entry without session", id)
				}
			}
			h, err := decodeHeader(id, v)
			if err != nil {
				return err
			}
			if (f.Status != "" && h.status != code) || (f.FlowID != "" && h.flowID != f.FlowID) || (f.Contact != "" && h.urn != f.Contact) {
				continue
			}
			s, err := decodeSession(id, v)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) == limit {
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// WaitingSession returns the session waiting for urn on channel.
func (b *Bolt) WaitingSession(ctx context.Context, channel, urn string) (*flows.Session, error) {
	var s *flows.Session
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		id := tx.Bucket(bWaiting).Get(join(channel, urn))
		if id == nil {
			return fmt.Errorf("waiting session for %q on channel %q: %w", urn, channel, ErrNotFound)
		}
		v := tx.Bucket(bSessions).Get(id)
		if v == nil {
			return fmt.Errorf("session %q (waiting for %q on channel %q): %w", id, urn, channel, ErrNotFound)
		}
		var err error
		s, err = decodeSession(string(id), v)
		return err
	})
	return s, err
}

// DeleteSession removes session id, its index entries, timers and event log.
// The contact and dedupe records stay: they outlive sessions.
func (b *Bolt) DeleteSession(ctx context.Context, id string) error {
	return b.group(ctx, func(tx *bbolt.Tx) error {
		sessions := tx.Bucket(bSessions)
		v := sessions.Get([]byte(id))
		if v == nil {
			return fmt.Errorf("session %q: %w", id, ErrNotFound)
		}
		h, err := decodeHeader(id, v)
		if err != nil {
			return err
		}
		wb := tx.Bucket(bWaiting)
		if k := waitingKey(&h); k != nil && string(wb.Get(k)) == id {
			if err := wb.Delete(k); err != nil {
				return err
			}
		}
		if err := updateTimers(tx, id, &h, &header{}); err != nil {
			return err
		}
		if err := tx.Bucket(bByStatus).Delete(statusKey(h.status, id)); err != nil {
			return err
		}
		if err := addStat(tx, statSession(codeStatuses[h.status]), -1); err != nil {
			return err
		}
		if h.urn != "" {
			if err := tx.Bucket(bByContact).Delete(join(h.urn, id)); err != nil {
				return err
			}
		}
		eb := tx.Bucket(bEvents)
		n := countPrefix(eb, join(id, ""))
		if err := deletePrefix(eb, join(id, "")); err != nil {
			return err
		}
		if err := addStat(tx, statEvents, -int64(n)); err != nil {
			return err
		}
		return sessions.Delete([]byte(id))
	})
}

func countPrefix(bk *bbolt.Bucket, prefix []byte) int {
	n := 0
	c := bk.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n
}

// Contact returns the contact stored for urn.
func (b *Bolt) Contact(ctx context.Context, urn string) (*flows.Contact, error) {
	var c *flows.Contact
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bContacts).Get([]byte(urn))
		if v == nil {
			return fmt.Errorf("contact %q: %w", urn, ErrNotFound)
		}
		c = new(flows.Contact)
		if err := json.Unmarshal(v, c); err != nil {
			return fmt.Errorf("contact %q: decode: %w", urn, err)
		}
		return nil
	})
	return c, err
}

// SessionEvents returns up to limit (default 100, at most 1000) events of
// session id with a sequence above after, oldest first. Pass the last Seq
// returned to get the next page.
func (b *Bolt) SessionEvents(ctx context.Context, id string, after uint64, limit int) ([]EventRecord, error) {
	limit = pageLimit(limit, 100)
	var out []EventRecord
	if after == math.MaxUint64 {
		return nil, nil
	}
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bSessions).Get([]byte(id)) == nil {
			return fmt.Errorf("session %q: %w", id, ErrNotFound)
		}
		prefix := join(id, "")
		c := tx.Bucket(bEvents).Cursor()
		for k, v := c.Seek(eventKey(id, after+1)); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k[len(prefix):])
			var e flows.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("session %q event %d: decode: %w", id, seq, err)
			}
			out = append(out, EventRecord{Seq: seq, Event: e})
		}
		return nil
	})
	return out, err
}

// DueTimers returns up to limit (default 100, at most 1000) timers due at or
// before now, earliest first: a scan from the start of the timers bucket that
// stops at the first timer in the future. A timer stays until a save of its
// session moves or clears it (or RemoveTimer), so a scanner that crashes
// before saving sees it again.
func (b *Bolt) DueTimers(ctx context.Context, now time.Time, limit int) ([]Timer, error) {
	limit = pageLimit(limit, 100)
	cutoff := nanos(now)
	var out []Timer
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bTimers).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			at := binary.BigEndian.Uint64(k)
			if at > cutoff {
				break
			}
			out = append(out, Timer{At: fromNanos(at), Kind: TimerKind(k[8]), SessionID: string(k[9:])})
		}
		return nil
	})
	return out, err
}

// RemoveTimer deletes one timer; removing a missing timer is not an error.
// SaveTurn removes timers itself: this is for timers whose session is gone.
func (b *Bolt) RemoveTimer(ctx context.Context, t Timer) error {
	k := timerKey(nanos(t.At), t.Kind, t.SessionID)
	return b.group(ctx, func(tx *bbolt.Tx) error {
		tb := tx.Bucket(bTimers)
		if tb.Get(k) == nil {
			return nil
		}
		if err := tb.Delete(k); err != nil {
			return err
		}
		return addStat(tx, statTimers, -1)
	})
}

// ProcessedReply returns the reply stored when the inbound message messageID
// on channel was processed, and whether there is one.
func (b *Bolt) ProcessedReply(ctx context.Context, channel, messageID string) ([]byte, bool, error) {
	var reply []byte
	var found bool
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bProcessed).Get(join(channel, messageID))
		if len(v) >= 8 {
			found, reply = true, bytes.Clone(v[8:])
		}
		return nil
	})
	return reply, found, err
}

// PruneProcessed deletes up to limit (default 1000) dedupe records stored
// before cutoff, oldest first, in one short transaction; call it again while
// it returns limit.
func (b *Bolt) PruneProcessed(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	until := nanos(cutoff)
	n := 0
	err := b.update(ctx, func(tx *bbolt.Tx) error {
		n = 0
		ab, pb := tx.Bucket(bProcessedAt), tx.Bucket(bProcessed)
		var keys [][]byte
		c := ab.Cursor()
		for k, _ := c.First(); k != nil && len(keys) < limit && binary.BigEndian.Uint64(k) < until; k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if err := ab.Delete(k); err != nil {
				return err
			}
			if err := pb.Delete(k[8:]); err != nil {
				return err
			}
			n++
		}
		return addStat(tx, statProcessed, -int64(n))
	})
	return n, err
}

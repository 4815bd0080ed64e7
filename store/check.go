package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"
)

// DamagedRecords is the error of a file whose stored values do not all
// decode: every such value, found in one pass over the sessions (records
// and event logs) and the contact rows. It wraps ErrCorrupt.
type DamagedRecords struct {
	Records []*RecordError
}

func (e *DamagedRecords) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %d stored records do not decode", ErrCorrupt, len(e.Records))
	for _, r := range e.Records {
		fmt.Fprintf(&b, "\n\t%s (bucket %s): %v", r.Record, r.Bucket, r.Err)
	}
	return b.String()
}

func (e *DamagedRecords) Unwrap() error { return ErrCorrupt }

// RecordCheck counts what checkRecords decoded.
type RecordCheck struct {
	Sessions, Events, Contacts int64
}

// checkRecords decodes every session record, event log value and contact
// row of tx as the store reads them, and returns a *DamagedRecords naming
// every one that does not decode. A file of layout 1 has neither bucket and
// is not checked here (Open migrates it, decoding each session).
func checkRecords(ctx context.Context, tx *bbolt.Tx) (RecordCheck, error) {
	var n RecordCheck
	var bad []*RecordError
	// Session records name their session in their JSON only: a damaged
	// one is named by its sequence until session_ids is read below.
	type badSession struct {
		seq    uint64
		events bool
		err    *RecordError
	}
	var badSessions []badSession
	if records := tx.Bucket(bRecords); records != nil {
		c := records.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if (n.Sessions+n.Events)%100_000 == 0 {
				if err := ctx.Err(); err != nil {
					return n, err
				}
			}
			if len(k) < 8 {
				continue
			}
			seq := binary.BigEndian.Uint64(k)
			var err error
			if len(k) == 8 {
				n.Sessions++
				_, err = decodeSession("", v)
			} else {
				n.Events++
				err = checkEvents(v)
			}
			if err == nil {
				continue
			}
			re := &RecordError{Bucket: string(bRecords), Err: err}
			if r, ok := err.(*RecordError); ok {
				re.Err = r.Err
			}
			b := badSession{seq: seq, events: len(k) > 8, err: re}
			badSessions = append(badSessions, b)
			bad = append(bad, re)
		}
	}
	idOf := map[uint64]string{}
	if ids := tx.Bucket(bIDs); ids != nil && len(badSessions) > 0 {
		want := map[uint64]bool{}
		for _, b := range badSessions {
			want[b.seq] = true
		}
		_ = ids.ForEach(func(k, v []byte) error {
			if id, err := decodeID(k); err == nil {
				if _, seq, err := decodeIDEntry(id, v); err == nil && want[seq] {
					idOf[seq] = id
				}
			}
			return nil
		})
	}
	for _, b := range badSessions {
		name := fmt.Sprintf("session record %d (no session id names it)", b.seq)
		if id, ok := idOf[b.seq]; ok {
			name = fmt.Sprintf("session %q", id)
		}
		if b.events {
			name = "events of " + name
		}
		b.err.Record = name
	}
	if rows := tx.Bucket(bContacts); rows != nil {
		err := rows.ForEach(func(k, v []byte) error {
			n.Contacts++
			urn := string(k)
			r, err := decodeRow(urn, v)
			if err == nil && r.hasContact {
				_, err = decodeContact(urn, r.contact)
			}
			if re, ok := err.(*RecordError); ok {
				bad = append(bad, re)
			}
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	if len(bad) > 0 {
		return n, &DamagedRecords{Records: bad}
	}
	return n, nil
}

// checkEvents decodes a stored value of a session's event log.
func checkEvents(v []byte) error {
	evs, err := decodeEvents(v)
	if err != nil {
		return err
	}
	for i, js := range evs {
		if !json.Valid(js) {
			return fmt.Errorf("%w: event %d of %d is not JSON", errCorruptEvents, i+1, len(evs))
		}
	}
	return nil
}

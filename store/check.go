package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
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
// every one that does not decode. The buckets of layout 1, in a file not
// migrated yet (or written again by a layout 1 version), are checked as
// the migration reads them (checkV1).
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
	bad = append(bad, checkV1(tx, &n)...)
	if len(bad) > 0 {
		return n, &DamagedRecords{Records: bad}
	}
	return n, nil
}

// checkV1 decodes the sessions, events and contacts of layout 1's buckets,
// where tx has them, and returns those that do not decode.
func checkV1(tx *bbolt.Tx, n *RecordCheck) []*RecordError {
	var bad []*RecordError
	if bk := tx.Bucket(bV1Sessions); bk != nil {
		_ = bk.ForEach(func(k, v []byte) error {
			n.Sessions++
			id := string(k)
			h, err := decodeHeaderV1(id, v)
			if err == nil {
				var js []byte
				if js, err = payloadJSON(id, h.codec, h.payload); err == nil {
					var s flows.Session
					err = jsonv1.Unmarshal(js, &s)
				}
			}
			if err != nil {
				bad = append(bad, v1Damage(bV1Sessions, fmt.Sprintf("session %q", id), err))
			}
			return nil
		})
	}
	if bk := tx.Bucket(bV1Events); bk != nil {
		_ = bk.ForEach(func(k, v []byte) error {
			n.Events++
			if !json.Valid(v) {
				id, _, _ := strings.Cut(string(k), string(rune(sep)))
				bad = append(bad, v1Damage(bV1Events, fmt.Sprintf("events of session %q", id), errors.New("an event is not JSON")))
			}
			return nil
		})
	}
	if bk := tx.Bucket(bV1Contacts); bk != nil {
		_ = bk.ForEach(func(k, v []byte) error {
			n.Contacts++
			var c flows.Contact
			if err := jsonv1.Unmarshal(v, &c); err != nil {
				bad = append(bad, v1Damage(bV1Contacts, fmt.Sprintf("contact %q", k), fmt.Errorf("decode: %w", err)))
			}
			return nil
		})
	}
	return bad
}

// v1Damage is the RecordError of a value in layout 1's bucket, whatever
// bucket the error it wraps names.
func v1Damage(bucket []byte, record string, err error) *RecordError {
	var re *RecordError
	if errors.As(err, &re) {
		err = re.Err
	}
	return &RecordError{Bucket: string(bucket), Record: record, Err: err}
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

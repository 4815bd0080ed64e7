package store

import (
	"bytes"
	"context"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// InboundQuery asks for what handling one inbound message needs.
type InboundQuery struct {
	Channel string
	URN     string
	// MessageID, when set, is looked up among the processed messages.
	MessageID string
	// Known is a copy of the contact's waiting session the caller already
	// holds. When it is still the stored version (same id, same UpdatedAt),
	// the stored one is not decoded again.
	Known *flows.Session
}

// InboundState is the answer to an InboundQuery, read in one transaction.
type InboundState struct {
	// Processed reports that MessageID was handled before; Reply is the
	// answer stored then.
	Processed bool
	Reply     []byte
	// Session is the session waiting for the contact on the channel, nil
	// when there is none. It is Query.Known itself when that is current.
	// It is never a call's session: an inbound message does not feed a
	// call, even in a file written when calls took the waiting entry.
	Session *flows.Session
	// Current reports that Session is Query.Known.
	Current bool
	// Contact is the stored contact, nil when none is stored: a new
	// session starts from it, and a waiting one resumes with it, since
	// other sessions of the contact may have changed it since its last turn.
	// When Session is Query.Known and its copy of the contact is the one
	// stored (no other session changed it), Contact is that copy,
	// &Session.Contact, and the stored one is not decoded.
	Contact *flows.Contact
}

// Inbound reads, in one read transaction, the dedupe record of an inbound
// message, the session waiting for its sender, and the sender's stored
// contact. It does nothing more when the message was processed before.
func (b *Bolt) Inbound(ctx context.Context, q InboundQuery) (*InboundState, error) {
	st := new(InboundState)
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		// The contact's row holds its waiting sessions, the entries of its
		// latest messages, and the contact.
		row, err := readRow(tx, q.URN)
		if err != nil {
			return err
		}
		if q.MessageID != "" {
			r, found, err := findProcessed(tx, nil, row, b.legacyDedupe.Load(), q.Channel, q.URN, q.MessageID)
			if err != nil {
				return err
			}
			if found {
				st.Processed, st.Reply = true, bytes.Clone(r)
				return nil
			}
		}
		w, v, err := waitingInRow(tx, row, q.Channel, q.URN)
		if err != nil {
			return err
		}
		if v != nil {
			if k := q.Known; k != nil && k.ID == w.id && k.Call == nil {
				h, err := decodeHeader(k.ID, v)
				if err != nil {
					return err
				}
				if h.updated == nanos(k.UpdatedAt) {
					st.Session, st.Current = k, true
				}
			}
			if !st.Current {
				s, err := decodeSession(w.id, v)
				if err != nil {
					return err
				}
				// A call's session in the entry (see isCallRecord) is
				// not taken: no session waits for the message; the next
				// save on the channel takes the entry.
				if s.Call == nil {
					st.Session = s
				}
			}
		}
		if r := w.row; st.Current && r != nil && r.hasContact && contactIs(r.contact, &q.Known.Contact) {
			st.Contact = &q.Known.Contact
			return nil
		}
		st.Contact, err = w.row.storedContact(q.URN)
		return err
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

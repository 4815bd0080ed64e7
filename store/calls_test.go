package store

import (
	"context"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// callSession builds a waiting session of a call from urn on channel.
func callSession(id, callID, channel, urn string) *flows.Session {
	s := session(id, flows.StatusWaiting, urn)
	s.Channel = &flows.Channel{ID: channel}
	s.Call = &flows.Call{ID: callID, CLI: urn, State: "in-progress", Start: t0}
	s.Wait = &flows.Wait{Widget: "menu", Kind: flows.WaitDigits}
	return s
}

// listIDs lists the ids of the sessions ListSessions returns for f.
func listIDs(t *testing.T, b *Bolt, f SessionFilter) []string {
	t.Helper()
	got, _, err := b.ListSessions(context.Background(), f, Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range got {
		ids = append(ids, s.ID)
	}
	return ids
}

// A call's session never takes its contact's waiting entry on the channel:
// several calls of one caller wait at once, beside the caller's messaging
// session, and each is still listed for the contact exactly once.
func TestCallSessionsTakeNoWaitingEntry(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	const urn = "tel:Anonymous"

	mustSave(t, b, &Turn{Session: callSession("c1", "CA-anon1", "tw", urn), Channel: "tw"})
	mustSave(t, b, &Turn{Session: callSession("c2", "CA-anon2", "tw", urn), Channel: "tw"})
	if s, err := b.WaitingSession(ctx, "tw", urn); err == nil {
		t.Fatalf("WaitingSession found call session %s", s.ID)
	} else {
		wantErr(t, "WaitingSession", err, ErrNotFound)
	}
	st, err := b.Inbound(ctx, InboundQuery{Channel: "tw", URN: urn})
	if err != nil || st.Session != nil {
		t.Fatalf("Inbound: %+v, %v; want no waiting session", st, err)
	}

	// The caller's messaging session takes the entry, and keeps it while
	// the calls go on.
	msg := session("m1", flows.StatusWaiting, urn)
	mustSave(t, b, &Turn{Session: msg, Channel: "tw"})
	c1 := callSession("c1", "CA-anon1", "tw", urn)
	c1.UpdatedAt = t0.Add(time.Second)
	mustSave(t, b, &Turn{Session: c1, PrevUpdated: t0})
	if s, err := b.WaitingSession(ctx, "tw", urn); err != nil || s.ID != "m1" {
		t.Fatalf("WaitingSession = %v, %v; want m1", s, err)
	}

	if got := listIDs(t, b, SessionFilter{Contact: urn}); len(got) != 3 || got[0] != "c1" || got[1] != "c2" || got[2] != "m1" {
		t.Errorf("sessions of the contact: %v, want [c1 c2 m1]", got)
	}
	if got := listIDs(t, b, SessionFilter{Status: flows.StatusWaiting}); len(got) != 3 {
		t.Errorf("waiting sessions: %v, want 3", got)
	}

	// A call that ends leaves the messaging session waiting.
	done := callSession("c2", "CA-anon2", "tw", urn)
	done.Status, done.Wait, done.UpdatedAt = flows.StatusInterrupted, nil, t0.Add(2*time.Second)
	mustSave(t, b, &Turn{Session: done, PrevUpdated: t0})
	if s, err := b.WaitingSession(ctx, "tw", urn); err != nil || s.ID != "m1" {
		t.Fatalf("WaitingSession after a call ended = %v, %v; want m1", s, err)
	}
	if got := listIDs(t, b, SessionFilter{Contact: urn}); len(got) != 3 {
		t.Errorf("sessions of the contact after a call ended: %v, want 3", got)
	}
	if err := b.DeleteSession(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if got := listIDs(t, b, SessionFilter{Contact: urn}); len(got) != 2 || got[0] != "c2" || got[1] != "m1" {
		t.Errorf("sessions of the contact after deleting c1: %v, want [c2 m1]", got)
	}
}

// saveAsBefore stores a call's session the way files written before calls
// stopped taking the waiting entry have it: in its contact's entry on the
// channel, its header keeping the channel.
func saveAsBefore(t *testing.T, b *Bolt, s *flows.Session, channel string) {
	t.Helper()
	call := s.Call
	s.Call = nil
	mustSave(t, b, &Turn{Session: s, Channel: channel})
	s.Call = call
	if err := b.DB().Update(func(tx *bbolt.Tx) error {
		seq, v, err := lookup(tx, nil, s.ID, idKey(s.ID))
		if err != nil {
			return err
		}
		h, err := decodeHeader(s.ID, v)
		if err != nil {
			return err
		}
		if h.codec, h.payload, err = encodePayload(s, false); err != nil {
			return err
		}
		return tx.Bucket(bRecords).Put(recordKey(seq), encodeRecord(&h))
	}); err != nil {
		t.Fatal(err)
	}
}

// A file written before calls stopped taking the waiting entry may have a
// call's session there. It is no waiting session for messages; the next
// session that waits on the channel takes the entry from it, and the call
// goes on, listed for its contact once.
func TestCallSessionInWaitingEntryOfOlderFile(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	const urn = "tel:+15550001"
	c := session("c1", flows.StatusCompleted, urn)
	c.Contact.Name = "Ann"
	mustSave(t, b, &Turn{Session: c, Contact: &c.Contact, Channel: "tw"})

	saveAsBefore(t, b, callSession("call1", "CA-x1", "tw", urn), "tw")
	if err := b.DB().View(func(tx *bbolt.Tx) error {
		w, _, err := waitingRecord(tx, "tw", urn)
		if err == nil && w.id != "call1" {
			t.Fatalf("setup: the entry holds %q, want call1", w.id)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	if s, err := b.WaitingSession(ctx, "tw", urn); err == nil {
		t.Errorf("WaitingSession found call session %s", s.ID)
	} else {
		wantErr(t, "WaitingSession", err, ErrNotFound)
	}
	st, err := b.Inbound(ctx, InboundQuery{Channel: "tw", URN: urn, MessageID: "m1"})
	if err != nil || st.Session != nil || st.Contact == nil || st.Contact.Name != "Ann" {
		t.Fatalf("Inbound: %+v, %v; want no waiting session and contact Ann", st, err)
	}

	// The message's session waits on the channel: it takes the entry.
	mustSave(t, b, &Turn{Session: session("m1", flows.StatusWaiting, urn), Channel: "tw", MessageID: "m1"})
	if s, err := b.WaitingSession(ctx, "tw", urn); err != nil || s.ID != "m1" {
		t.Fatalf("WaitingSession = %v, %v; want m1", s, err)
	}
	if got := listIDs(t, b, SessionFilter{Contact: urn}); len(got) != 3 || got[0] != "c1" || got[1] != "call1" || got[2] != "m1" {
		t.Errorf("sessions of the contact: %v, want [c1 call1 m1]", got)
	}

	// The call goes on and ends; the messaging session keeps the entry.
	next := callSession("call1", "CA-x1", "tw", urn)
	next.UpdatedAt = t0.Add(time.Second)
	mustSave(t, b, &Turn{Session: next, PrevUpdated: t0})
	next.Status, next.Wait, next.UpdatedAt = flows.StatusCompleted, nil, t0.Add(2*time.Second)
	mustSave(t, b, &Turn{Session: next, PrevUpdated: t0.Add(time.Second)})
	if s, err := b.WaitingSession(ctx, "tw", urn); err != nil || s.ID != "m1" {
		t.Fatalf("WaitingSession after the call = %v, %v; want m1", s, err)
	}
	if got := listIDs(t, b, SessionFilter{Contact: urn}); len(got) != 3 {
		t.Errorf("sessions of the contact after the call: %v, want 3", got)
	}
	if err := b.DeleteSession(ctx, "call1"); err != nil {
		t.Fatal(err)
	}
	if got := listIDs(t, b, SessionFilter{Contact: urn}); len(got) != 2 || got[0] != "c1" || got[1] != "m1" {
		t.Errorf("sessions of the contact after deleting the call: %v, want [c1 m1]", got)
	}

	// Another session of the same kind that is still in the entry gives it
	// up when it is next saved, as a call's session saved now.
	saveAsBefore(t, b, callSession("call2", "CA-x2", "sms", urn), "sms")
	c2 := callSession("call2", "CA-x2", "sms", urn)
	c2.UpdatedAt = t0.Add(3 * time.Second)
	mustSave(t, b, &Turn{Session: c2, PrevUpdated: t0})
	if s, err := b.WaitingSession(ctx, "sms", urn); err == nil {
		t.Errorf("WaitingSession(sms) found %s after the call's save", s.ID)
	}
	if err := b.DB().View(func(tx *bbolt.Tx) error {
		w, _, err := waitingRecord(tx, "sms", urn)
		if err == nil && w.id != "" {
			t.Errorf("the entry on sms still holds %q", w.id)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := listIDs(t, b, SessionFilter{Contact: urn}); len(got) != 3 || got[1] != "call2" {
		t.Errorf("sessions of the contact: %v, want [c1 call2 m1]", got)
	}
}

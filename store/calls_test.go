package store

import (
	"context"
	"testing"
	"time"

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

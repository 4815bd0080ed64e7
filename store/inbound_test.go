package store

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
)

func TestInbound(t *testing.T) {
	b, _ := openTest(t)
	ctx := context.Background()
	const urn = "tel:+15550100"

	// Nothing stored: no session, no contact, not processed.
	st, err := b.Inbound(ctx, InboundQuery{Channel: "web", URN: urn, MessageID: "m0"})
	if err != nil || st.Processed || st.Session != nil || st.Contact != nil {
		t.Fatalf("empty store: %+v, %v", st, err)
	}

	s := session("s1", flows.StatusWaiting, urn)
	s.Contact.Name = "Ann"
	c := s.Contact
	mustSave(t, b, &Turn{Session: s, Contact: &c, Channel: "web", MessageID: "m1", Reply: []byte(`{"messages":[]}`)})

	st, err = b.Inbound(ctx, InboundQuery{Channel: "web", URN: urn, MessageID: "m1"})
	if err != nil || !st.Processed || string(st.Reply) != `{"messages":[]}` || st.Session != nil {
		t.Errorf("repeated message: %+v, %v; want processed with its reply", st, err)
	}
	st, err = b.Inbound(ctx, InboundQuery{Channel: "web", URN: urn, MessageID: "m2"})
	if err != nil || st.Processed || st.Session == nil || st.Session.ID != "s1" || st.Current || st.Contact == nil || st.Contact.Name != "Ann" {
		t.Fatalf("new message: %+v, %v; want s1 decoded and contact Ann", st, err)
	}

	// A copy that is still the stored version is handed back as is, with
	// the contact as stored now: another session may have changed it.
	known := st.Session
	c.Name = "Ada"
	other := session("s2", flows.StatusCompleted, urn)
	mustSave(t, b, &Turn{Session: other, Contact: &c, Channel: "sms"})
	st, err = b.Inbound(ctx, InboundQuery{Channel: "web", URN: urn, Known: known})
	if err != nil || st.Session != known || !st.Current || st.Contact == nil || st.Contact.Name != "Ada" {
		t.Errorf("current copy: %+v, %v; want it back, Current, and contact Ada", st, err)
	}
	// A copy whose contact is the stored one gets its own copy back as the
	// contact, not a decoded one.
	known.Contact.Name = "Ada"
	st, err = b.Inbound(ctx, InboundQuery{Channel: "web", URN: urn, Known: known})
	if err != nil || st.Session != known || st.Contact != &known.Contact {
		t.Errorf("current copy with the stored contact: %+v, %v; want the copy's own contact", st, err)
	}
	// Once the session is written again, the old copy is not current.
	next := session("s1", flows.StatusWaiting, urn)
	next.UpdatedAt = t0.Add(time.Second)
	next.Input = "later"
	mustSave(t, b, &Turn{Session: next, Channel: "web", PrevUpdated: t0})
	st, err = b.Inbound(ctx, InboundQuery{Channel: "web", URN: urn, Known: known})
	if err != nil || st.Session == known || st.Current || st.Session.Input != "later" {
		t.Errorf("stale copy: %+v, %v; want the stored version decoded", st, err)
	}
	// A copy of another session is not taken for the waiting one.
	other = session("s0", flows.StatusWaiting, urn)
	other.UpdatedAt = next.UpdatedAt
	if st, err = b.Inbound(ctx, InboundQuery{Channel: "web", URN: urn, Known: other}); err != nil || st.Current || st.Session.ID != "s1" {
		t.Errorf("copy of another session: %+v, %v", st, err)
	}

	// When the session has ended, the contact is read for the next start.
	done := session("s1", flows.StatusCompleted, urn)
	done.UpdatedAt = t0.Add(2 * time.Second)
	mustSave(t, b, &Turn{Session: done, Channel: "web", PrevUpdated: next.UpdatedAt})
	st, err = b.Inbound(ctx, InboundQuery{Channel: "web", URN: urn, Known: known})
	if err != nil || st.Session != nil || st.Contact == nil || st.Contact.Name != "Ada" {
		t.Errorf("after the session ended: %+v, %v; want no session and contact Ada", st, err)
	}
}

package delivery

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// TestHealthOldestPendingByEventTime checks that an endpoint's health names
// the pending delivery of the oldest event, not the first created or the
// first due, and that a due entry written by layout 8 (the message id
// alone) is still counted, named and sent with its message id.
func TestHealthOldestPendingByEventTime(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t)
	now := e.clock.Now()
	e.clock.Set(now.Add(-3 * time.Hour)) // events before a subscription are not its
	sub := e.create(Subscription{URL: rc.URL, Events: []string{EventSessionStarted}})
	e.settle() // the ping, answered
	e.clock.Set(now)
	rc.setReply(status(http.StatusBadGateway))
	ctx := context.Background()
	h, err := e.svc.Health(ctx, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	before := h.Pending // the ping, failing too

	// Enqueued newest first: the oldest event is neither the first
	// created nor the first due.
	e.enqueue(Event{ID: "evt_new", Type: EventSessionStarted, Timestamp: now.Add(-time.Minute)})
	e.enqueue(Event{ID: "evt_old", Type: EventSessionStarted, Timestamp: now.Add(-2 * time.Hour)})
	e.enqueue(Event{ID: "evt_mid", Type: EventSessionStarted, Timestamp: now.Add(-time.Hour)})
	e.settle()
	check := func(what string) {
		t.Helper()
		h, err := e.svc.Health(ctx, sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		if h.Pending != before+3 {
			t.Errorf("%s: pending %d, want %d", what, h.Pending, before+3)
		}
		o := h.OldestPending
		if o == nil || o.EventID != "evt_old" || o.EventType != EventSessionStarted || !o.EventTime.Equal(now.Add(-2*time.Hour)) || o.DeliveryID == "" {
			t.Fatalf("%s: oldest pending %+v, want evt_old", what, o)
		}
		if h.LagSeconds != 2*3600 {
			t.Errorf("%s: lag %v s, want 7200", what, h.LagSeconds)
		}
	}
	check("layout 9 values")

	// The due values as layout 8 wrote them: the message id alone.
	rewritten := 0
	err = e.db.Update(func(tx *bbolt.Tx) error {
		due := tx.Bucket(bDue)
		prefix := endpointPrefix(sub.ID)
		var keys, ids [][]byte
		c := due.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			msg, _, ok := parseDueValue(v)
			if !ok {
				t.Fatalf("due value %q written without the event time", v)
			}
			keys, ids = append(keys, bytes.Clone(k)), append(ids, bytes.Clone(msg))
		}
		for i, k := range keys {
			if err := due.Put(k, ids[i]); err != nil {
				return err
			}
			rewritten++
		}
		return nil
	})
	if err != nil || rewritten != before+3 {
		t.Fatalf("rewrote %d due values (%v), want %d", rewritten, err, before+3)
	}
	check("layout 8 values")

	// Sent from the layout 8 values, each with its message id.
	rc.setReply(status(http.StatusOK))
	e.clock.Advance(24 * time.Hour)
	e.settle()
	got := map[string]string{}
	for _, r := range rc.requests() {
		for _, id := range []string{"evt_new", "evt_old", "evt_mid"} {
			if strings.Contains(string(r.Body), `"`+id+`"`) {
				got[id] = r.Header.Get(HeaderID)
			}
		}
	}
	for _, id := range []string{"evt_new", "evt_old", "evt_mid"} {
		if got[id] != id {
			t.Errorf("%s last sent with webhook-id %q", id, got[id])
		}
	}
	if h, err := e.svc.Health(ctx, sub.ID); err != nil || h.Pending != 0 || h.OldestPending != nil {
		t.Fatalf("after delivery: %+v, %v; want nothing pending", h, err)
	}
}

package store

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// TestContactListingsModel runs random saves (waiting, active, ended, moved
// to another contact), deletes and prunes over a few contacts and sessions,
// in groups that share commits, and after each round compares what the
// store lists per contact, and its event count, with a model. It also
// checks that every entry of the contact rows and of session_contacts names
// a stored session of that contact, exactly once.
func TestContactListingsModel(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	r := rand.New(rand.NewPCG(7, 8))
	urns := []string{"tel:+1", "tel:+10", "tel:+2"}
	type model struct {
		urn    string
		status flows.Status
		events int
		at     time.Time
	}
	sessions := map[string]*model{}
	var clock time.Duration
	for round := range 300 {
		// A few turns at once, on distinct sessions, so that they share a
		// group commit as concurrent turns do.
		n := 1 + r.IntN(4)
		ids := map[string]bool{}
		for len(ids) < n {
			ids[fmt.Sprintf("s%02d", r.IntN(40))] = true
		}
		errs := make(chan error, n)
		for id := range ids {
			clock += time.Second
			m := sessions[id]
			urn := urns[r.IntN(len(urns))]
			if m != nil && r.IntN(4) > 0 {
				urn = m.urn // usually the same contact
			}
			prevEvents := 0
			if m != nil {
				prevEvents = m.events
			}
			op := r.IntN(10)
			switch {
			case m != nil && op == 0:
				delete(sessions, id)
				go func() { errs <- b.DeleteSession(ctx, id) }()
				continue
			case op < 4:
				m = &model{urn: urn, status: flows.StatusWaiting, events: prevEvents, at: t0.Add(clock)}
			case op < 5:
				m = &model{urn: urn, status: flows.StatusActive, events: prevEvents, at: t0.Add(clock)}
			default:
				m = &model{urn: urn, status: []flows.Status{flows.StatusCompleted, flows.StatusExpired, flows.StatusFailed}[r.IntN(3)],
					events: prevEvents, at: t0.Add(clock)}
			}
			evs := make([]flows.Event, r.IntN(4))
			for i := range evs {
				evs[i] = flows.Event{Type: flows.EventMessageOut, Text: fmt.Sprintf("%s-%d", id, m.events+i), Time: t0}
			}
			m.events += len(evs)
			sessions[id] = m
			s := session(id, m.status, m.urn)
			s.UpdatedAt = m.at
			// Each waiting session on its own channel, so two never compete
			// for one contact's place.
			go func() { errs <- b.SaveTurn(ctx, &Turn{Session: s, Channel: "ch-" + id, Events: evs}) }()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if round%50 == 49 {
			// Prune what ended more than 30 rounds ago.
			cutoff := t0.Add(clock - 90*time.Second)
			if _, err := b.PruneEnded(ctx, cutoff, 1000); err != nil {
				t.Fatal(err)
			}
			for id, m := range sessions {
				if m.status != flows.StatusWaiting && m.status != flows.StatusActive && m.at.Before(cutoff) {
					delete(sessions, id)
				}
			}
		}
		events := int64(0)
		for _, urn := range urns {
			var want []string
			for id, m := range sessions {
				if m.urn == urn {
					want = append(want, id)
				}
				if urn == urns[0] {
					events += int64(m.events)
				}
			}
			slices.Sort(want)
			if got := listContact(t, b, urn); !slices.Equal(got, want) {
				t.Fatalf("round %d: %s lists %v, want %v", round, urn, got, want)
			}
		}
		if got := stats(t, b).Events; got != events {
			t.Fatalf("round %d: Stats.Events = %d, want %d", round, got, events)
		}
		for _, id := range slices.Sorted(maps.Keys(sessions)) {
			if recs, err := b.SessionEvents(ctx, id, 0, 1000); err != nil || len(recs) != sessions[id].events {
				t.Fatalf("round %d: %s has %d events (%v), want %d", round, id, len(recs), err, sessions[id].events)
			}
		}
	}
	// Every listing entry names a stored session of its contact, once.
	seen := map[string]string{}
	for _, urn := range urns {
		waits, ended, indexed := contactEntries(t, b, urn)
		if len(ended) > rowEndedMax {
			t.Errorf("%s's row lists %d ended sessions", urn, len(ended))
		}
		for _, id := range slices.Concat(waits, ended, indexed) {
			if other, dup := seen[id]; dup {
				t.Errorf("%s listed for %s and %s", id, other, urn)
			}
			seen[id] = urn
			if m := sessions[id]; m == nil || m.urn != urn {
				t.Errorf("%s listed for %s: %+v", id, urn, m)
			}
		}
	}
	if len(seen) != len(sessions) {
		t.Errorf("%d sessions listed, %d stored", len(seen), len(sessions))
	}
	_ = b.DB().View(func(tx *bbolt.Tx) error {
		if n := tx.Bucket(bByContact).Stats().KeyN; n == 0 {
			t.Error("no session_contacts entry: the run never moved a row's list")
		}
		return nil
	})
}

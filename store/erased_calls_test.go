package store

import (
	"context"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// TestErasedCalls: EraseContact records the calls it is given in the
// erasure's transaction, a refused erasure records none, CallErased
// reports a call until its time is over, also after the file is closed
// and opened again, and PruneErasedCalls deletes those whose time is over
// and nothing else.
func TestErasedCalls(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	path := b.db.Path()
	s := callSession("c6a3d0b2-5f1e-4c7a-9b8d-2e4f6a8c0d1e", "CA1", "tw", "tel:+15550100")
	mustSave(t, b, &Turn{Session: s, Contact: &s.Contact})
	keys := []string{"tel:+15550100"}
	until := t0.Add(24 * time.Hour)
	calls := []ErasedCall{{SessionID: s.ID, Until: until}, {SessionID: "other-call", Until: t0.Add(time.Hour)}}

	// Refused (the waiting session is not ended): no call is recorded.
	_, err := b.EraseContact(ctx, keys, nil, calls)
	wantErr(t, "erase with a waiting session", err, ErrConflict)
	if erased, err := b.CallErased(ctx, s.ID, t0); err != nil || erased {
		t.Fatalf("CallErased after a refused erasure = %v, %v, want false", erased, err)
	}

	prev := s.UpdatedAt
	s.Status, s.Wait, s.EndedAt, s.UpdatedAt = flows.StatusInterrupted, nil, tp(t0.Add(time.Minute)), t0.Add(time.Minute)
	ending := []*Turn{{Session: s, PrevUpdated: prev,
		Events: []flows.Event{{Type: flows.EventSessionEnded, Time: s.UpdatedAt, SessionStatus: flows.StatusInterrupted}}}}
	if _, err := b.EraseContact(ctx, keys, ending, calls); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	for _, c := range []struct {
		id   string
		at   time.Time
		want bool
	}{
		{s.ID, t0.Add(time.Hour), true},
		{s.ID, until.Add(-time.Nanosecond), true},
		{s.ID, until, false},
		{"other-call", t0, true},
		{"never-erased", t0, false},
	} {
		if got, err := b.CallErased(ctx, c.id, c.at); err != nil || got != c.want {
			t.Errorf("CallErased(%s, %v) = %v, %v, want %v", c.id, c.at, got, err, c.want)
		}
	}

	if n, err := b.PruneErasedCalls(ctx, t0, 0); err != nil || n != 0 {
		t.Errorf("PruneErasedCalls before any is over = %d, %v, want 0", n, err)
	}
	if n, err := b.PruneErasedCalls(ctx, t0.Add(time.Hour), 0); err != nil || n != 1 {
		t.Errorf("PruneErasedCalls an hour later = %d, %v, want 1", n, err)
	}
	if got, err := b.CallErased(ctx, s.ID, t0.Add(time.Hour)); err != nil || !got {
		t.Errorf("the call whose time is not over, after the prune: %v, %v, want erased", got, err)
	}
	if n, err := b.PruneErasedCalls(ctx, until, 0); err != nil || n != 1 {
		t.Errorf("PruneErasedCalls a day later = %d, %v, want 1", n, err)
	}
	err = b.db.View(func(tx *bbolt.Tx) error {
		if n := tx.Bucket(bErasedCalls).Stats().KeyN; n != 0 {
			t.Errorf("%d erased calls left after every one was pruned", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestErasedCallsBucketAdded: a file of the current layout written before
// erased_calls existed gets the bucket when opened, its layout version
// unchanged.
func TestErasedCallsBucketAdded(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	path := b.db.Path()
	if err := b.db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(bErasedCalls) }); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if erased, err := b.CallErased(ctx, "a-call", t0); err != nil || erased {
		t.Errorf("CallErased on the opened file = %v, %v, want false", erased, err)
	}
	err = b.db.View(func(tx *bbolt.Tx) error {
		layout, err := layoutOf(tx)
		if err == nil && layout != layoutCurrent {
			t.Errorf("layout %d after the bucket was added, want %d", layout, layoutCurrent)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

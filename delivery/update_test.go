package delivery

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// Every write of the service goes through Options.Update, so the server's
// store commits it with the turns' writes and tells a full disk apart from
// other failures: subscriptions created, changed, deleted and pinged,
// deliveries retried and recovered, events enqueued, and the dispatcher's
// fan-out and results.
func TestWritesGoThroughUpdate(t *testing.T) {
	var writes atomic.Int64
	var failing atomic.Bool
	full := errors.New("no space left on device")
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "parley.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := newClock()
	opts := testOptions(c)
	opts.Update = func(fn func(*bbolt.Tx) error) error {
		writes.Add(1)
		if failing.Load() {
			return full
		}
		return db.Update(fn)
	}
	svc, err := New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Not started: the only writes are the calls'.
	ctx := context.Background()
	rc := newReceiver(t)
	sub, err := svc.Create(ctx, Subscription{URL: rc.URL, Events: []string{"*"}})
	check := func(what string, err error) {
		t.Helper()
		n := writes.Load()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n == 0 {
			t.Errorf("%s did not write through Options.Update", what)
		}
		writes.Store(0)
	}
	check("create", err)
	_, err = svc.Ping(ctx, sub.ID)
	check("ping", err)
	_, err = svc.Update(ctx, sub.ID, Subscription{URL: rc.URL, Events: []string{"*"}, Name: "renamed"})
	check("update", err)
	check("enqueue", svc.Enqueue(ctx, Event{ID: "evt_1", Type: "flow.completed", Timestamp: c.Now(), Environment: EnvLive}))
	_, err = svc.Recover(ctx, sub.ID, c.Now().Add(-time.Hour))
	check("recover", err)

	// A failed write is the caller's error, and nothing changed.
	failing.Store(true)
	if _, err := svc.Create(ctx, Subscription{URL: rc.URL, Events: []string{"*"}}); !errors.Is(err, full) || !strings.Contains(err.Error(), "subscription") {
		t.Errorf("create on a failing store: %v, want the store's error", err)
	}
	if err := svc.Delete(ctx, sub.ID); !errors.Is(err, full) {
		t.Errorf("delete on a failing store: %v, want the store's error", err)
	}
	failing.Store(false)
	if got := svc.sub(sub.ID); got == nil {
		t.Error("the subscription whose delete failed is gone")
	}
	check("delete", svc.Delete(ctx, sub.ID))
}

// Deliveries whose results cannot be recorded (a full disk) are not sent
// again round after round: they wait a second, then longer, and are sent
// once more when the store takes writes again.
func TestUnrecordedResultsAreNotResentAtOnce(t *testing.T) {
	var failing atomic.Bool
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "parley.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	opts := testOptions(newClock())
	opts.Now = time.Now // the hold is real time
	opts.Update = func(fn func(*bbolt.Tx) error) error {
		if failing.Load() {
			return errors.New("write parley.db: no space left on device")
		}
		return db.Update(fn)
	}
	var hits atomic.Int64
	rc := newReceiver(t)
	rc.reply = func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		failing.Store(true) // the disk fills while the delivery is under way
		w.WriteHeader(http.StatusOK)
	}
	svc, err := New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { stop(); svc.Wait() }()
	sub, err := svc.Create(context.Background(), Subscription{URL: rc.URL, Events: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first request", func() bool { return hits.Load() > 0 })
	// The wait after the first unrecorded result is a second, the next
	// longer: 1.5 s after the first request, at most one more was sent.
	time.Sleep(1500 * time.Millisecond)
	if n := hits.Load(); n > 2 {
		t.Fatalf("%d requests in 1.5 s after the first while the results could not be recorded, want at most one more after a second's wait", n)
	}
	rc.mu.Lock()
	rc.reply = nil
	rc.mu.Unlock()
	failing.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		page, err := svc.ListDeliveries(context.Background(), sub.ID, DeliveryQuery{})
		if err == nil && len(page.Deliveries) == 1 && page.Deliveries[0].Status == StatusSucceeded {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the delivery did not succeed once the store took writes again: %+v %v", page, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

package delivery

import (
	"context"
	"errors"
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

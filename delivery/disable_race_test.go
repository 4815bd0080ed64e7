package delivery

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// slowReceiver answers 200 after a pause, counting the requests that have
// arrived.
type slowReceiver struct {
	*receiver
	mu      sync.Mutex
	arrived int
}

func newSlowReceiver(t *testing.T, pause time.Duration) *slowReceiver {
	sr := &slowReceiver{receiver: newReceiver(t)}
	sr.setReply(func(w http.ResponseWriter, r *http.Request) {
		sr.mu.Lock()
		sr.arrived++
		sr.mu.Unlock()
		time.Sleep(pause)
		w.WriteHeader(http.StatusOK)
	})
	return sr
}

func (sr *slowReceiver) count() int {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	return sr.arrived
}

// Deleting or disabling a subscription while many of its deliveries are
// queued in memory behind a slow receiver: nothing but the requests already
// sent reaches it afterwards, and every delivery ends with one status,
// counted once. Enabling it again at once does not send those the disable
// ended.
func TestDisableOrDeleteStopsQueuedDeliveries(t *testing.T) {
	for _, how := range []string{"delete", "disable", "disable and enable"} {
		t.Run(how, func(t *testing.T) {
			const events = 40
			e := newEnv(t, func(o *Options) { o.PerEndpoint = 4 })
			rc := newSlowReceiver(t, 300*time.Millisecond)
			sub := e.create(Subscription{URL: rc.URL, Events: []string{EventSessionStarted}})
			e.settle() // the ping
			before := e.svc.Stats().Deliveries
			sent := rc.count()

			evs := make([]Event, events)
			for i := range evs {
				evs[i] = Event{ID: fmt.Sprintf("e%d", i), Type: EventSessionStarted}
			}
			e.enqueue(evs...)
			waitFor(t, "the first requests", func() bool { return rc.count() > sent })

			// Requests on the wire now, and those a worker is about to
			// send, at most PerEndpoint, may still arrive.
			var err error
			if how == "delete" {
				err = e.svc.Delete(context.Background(), sub.ID)
			} else {
				in := *sub
				in.Secrets = nil
				in.Disabled = true
				_, err = e.svc.Update(context.Background(), sub.ID, in)
			}
			if err != nil {
				t.Fatal(err)
			}
			atChange := rc.count()
			if how == "disable and enable" {
				in := *sub
				in.Secrets = nil
				if _, err := e.svc.Update(context.Background(), sub.ID, in); err != nil {
					t.Fatal(err)
				}
			}
			e.settle()
			time.Sleep(500 * time.Millisecond) // anything still queued would arrive by now
			e.settle()

			if late := rc.count() - atChange; late > 4 {
				t.Errorf("%d requests arrived after the %s, want at most the 4 in flight", late, how)
			}
			var ds []*Delivery
			for _, d := range e.deliveries(sub.ID) {
				if d.EventType == EventSessionStarted {
					ds = append(ds, d)
				}
			}
			if len(ds) != events {
				t.Fatalf("%d deliveries, want %d", len(ds), events)
			}
			byStatus := map[string]uint64{}
			for _, d := range ds {
				byStatus[d.Status]++
				switch {
				case d.Status == StatusSucceeded && d.Attempts == 1:
				case d.Status == StatusDisabled && d.Attempts == 0:
				default:
					t.Errorf("delivery of %s: status %s after %d attempts; want succeeded after 1 or disabled after none", d.EventID, d.Status, d.Attempts)
				}
			}
			if got, want := uint64(rc.count()-sent), byStatus[StatusSucceeded]; got != want {
				t.Errorf("receiver got %d requests for %d successful deliveries", got, want)
			}
			after := e.svc.Stats().Deliveries
			var counted uint64
			for _, st := range []string{StatusSucceeded, StatusFailed, StatusDisabled} {
				n := after[st] - before[st]
				counted += n
				if n != byStatus[st] {
					t.Errorf("deliveries counted %s: %d, want %d", st, n, byStatus[st])
				}
			}
			if counted != events {
				t.Errorf("final outcomes counted: %d, want one for each of %d deliveries", counted, events)
			}
			if byStatus[StatusDisabled] == 0 {
				t.Errorf("no delivery was disabled: the %s came too late to test anything", how)
			}
		})
	}
}

// A request already sent when its subscription is disabled or deleted is
// settled by its answer: succeeded on a 2xx, else disabled; either way it
// is counted once, with that outcome, and not tried again.
func TestInFlightAtDisableOrDeleteCountedOnce(t *testing.T) {
	for _, tc := range []struct {
		how    string
		answer int
		want   string
		why    string
	}{
		{"delete", http.StatusOK, StatusSucceeded, ""},
		{"delete", http.StatusServiceUnavailable, StatusDisabled, "subscription deleted"},
		{"disable", http.StatusOK, StatusSucceeded, ""},
		{"disable", http.StatusServiceUnavailable, StatusDisabled, "endpoint disabled: disabled by user"},
	} {
		t.Run(fmt.Sprintf("%s %d", tc.how, tc.answer), func(t *testing.T) {
			e := newEnv(t, nil)
			rc := newReceiver(t)
			arrived, release := rc.holdReply(tc.answer)
			before := e.svc.Stats().Deliveries
			sub := e.create(Subscription{URL: rc.URL, Events: []string{EventFlowCompleted}})
			<-arrived // the ping, in flight
			var err error
			if tc.how == "delete" {
				err = e.svc.Delete(context.Background(), sub.ID)
			} else {
				in := *sub
				in.Secrets, in.Disabled = nil, true
				_, err = e.svc.Update(context.Background(), sub.ID, in)
			}
			if err != nil {
				t.Fatal(err)
			}
			close(release)
			e.settle()
			ds := e.deliveries(sub.ID)
			if len(ds) != 1 {
				t.Fatalf("deliveries: %+v", ds)
			}
			if d := ds[0]; d.Status != tc.want || d.Attempts != 1 || d.NextAttempt != nil || (tc.why != "" && d.LastError != tc.why) {
				t.Errorf("after its answer: status %s, last_error %q, attempts %d, next_attempt %v; want %s, %q, 1, none",
					d.Status, d.LastError, d.Attempts, d.NextAttempt, tc.want, tc.why)
			}
			after := e.svc.Stats().Deliveries
			for _, st := range []string{StatusSucceeded, StatusFailed, StatusDisabled} {
				want := uint64(0)
				if st == tc.want {
					want = 1
				}
				if n := after[st] - before[st]; n != want {
					t.Errorf("deliveries counted %s: %d, want %d", st, n, want)
				}
			}
			if n := len(rc.requests()); n != 1 {
				t.Errorf("receiver got %d requests, want 1", n)
			}
		})
	}
}

// A disable that commits after the writer recorded a failed attempt as a
// retry, but before the writer let go of the delivery, ends it at once:
// its result is recorded, so it is pending, not in flight.
func TestDisableAfterARetryIsRecorded(t *testing.T) {
	var armed atomic.Bool
	committed, release := make(chan struct{}), make(chan struct{})
	// The dispatcher starts once e.db is set: its prune loop writes at once.
	e := &env{t: t, clock: newClock(), path: filepath.Join(t.TempDir(), "parley.db")}
	e.openStopped(func(o *Options) {
		o.Update = func(fn func(*bbolt.Tx) error) error {
			err := e.db.Update(fn)
			// Held only after the write that recorded the ping's attempt,
			// not another writer's (pruning, the sweep of disabled
			// endpoints) that a loaded machine runs after the 503.
			if armed.Load() && attemptRecorded(e.db) && armed.CompareAndSwap(true, false) {
				close(committed)
				<-release
			}
			return err
		}
	})
	t.Cleanup(e.close)
	e.start()
	rc := newReceiver(t)
	rc.setReply(func(w http.ResponseWriter, r *http.Request) {
		armed.Store(true)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	before := e.svc.Stats().Deliveries
	sub := e.create(Subscription{URL: rc.URL, Events: []string{EventFlowCompleted}})
	<-committed // the ping's 503 recorded as a retry; the writer still holds it
	in := *sub
	in.Secrets, in.Disabled = nil, true
	if _, err := e.svc.Update(context.Background(), sub.ID, in); err != nil {
		t.Fatal(err)
	}
	close(release)
	e.settle()
	ds := e.deliveries(sub.ID)
	if len(ds) != 1 || ds[0].Status != StatusDisabled || ds[0].Attempts != 1 {
		t.Fatalf("deliveries after the disable %+v, want the ping disabled after its one attempt", ds)
	}
	after := e.svc.Stats().Deliveries
	if n := after[StatusDisabled] - before[StatusDisabled]; n != 1 {
		t.Errorf("counted disabled %d, want 1", n)
	}
	if n := len(rc.requests()); n != 1 {
		t.Errorf("the receiver got %d requests, want the one before the disable", n)
	}
}

// Headers whose names differ only in case are refused in a new or changed
// subscription, and kept in one stored before the check and sent back
// unchanged, as a secret's rotation sends it.
func TestHeadersOfOneNameKeptWhenStored(t *testing.T) {
	now := time.Now()
	stored := &Subscription{URL: "https://crm.example.com/in", Events: []string{"*"}, Headers: map[string]string{"X-Tag": "a", "x-tag": "b"}}
	if err := stored.clone().normalize(now, nil, nil); err == nil || !strings.Contains(err.Error(), "names the same header") {
		t.Errorf("a new subscription with X-Tag and x-tag: %v, want refused", err)
	}
	if err := stored.clone().normalize(now, stored, nil); err != nil {
		t.Errorf("the stored subscription sent back unchanged: %v, want kept", err)
	}
	changed := stored.clone()
	changed.Headers["x-tag"] = "c"
	if err := changed.normalize(now, stored, nil); err == nil {
		t.Error("changed headers with X-Tag and x-tag were kept, want refused")
	}
}

// attemptRecorded reports whether db holds an attempt of a delivery.
func attemptRecorded(db *bbolt.DB) bool {
	found := false
	_ = db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bAttempts); b != nil {
			k, _ := b.Cursor().First()
			found = k != nil
		}
		return nil
	})
	return found
}

package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// txProbe runs the service's writes (Options.Update) and measures each: how
// many of one endpoint's due entries it removed. After the first that
// removed some, a write of its own ("a turn") commits before the service's
// next, and notes how many entries were still due then.
type txProbe struct {
	db       *bbolt.DB
	endpoint atomic.Value // string
	failing  atomic.Bool
	// failAfter, when set, makes every write fail once that many have
	// removed due entries.
	failAfter int

	mu         sync.Mutex
	maxRemoved int
	removing   int // transactions that removed some
	turnSaw    int // due entries left when the turn committed; -1: no turn yet
}

func (p *txProbe) due(tx *bbolt.Tx) int {
	ep, _ := p.endpoint.Load().(string)
	if ep == "" {
		return 0
	}
	prefix := endpointPrefix(ep)
	n := 0
	c := tx.Bucket(bDue).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n
}

func (p *txProbe) update(fn func(*bbolt.Tx) error) error {
	if p.failing.Load() {
		return errors.New("no space left on device")
	}
	removed := 0
	err := p.db.Update(func(tx *bbolt.Tx) error {
		before := p.due(tx)
		if err := fn(tx); err != nil {
			return err
		}
		removed = before - p.due(tx)
		return nil
	})
	if err != nil || removed <= 0 {
		return err
	}
	p.mu.Lock()
	p.maxRemoved = max(p.maxRemoved, removed)
	p.removing++
	if p.failAfter > 0 && p.removing >= p.failAfter {
		p.failing.Store(true)
	}
	first := p.turnSaw < 0
	p.mu.Unlock()
	if first {
		// A turn's commit, between two of the service's.
		_ = p.db.Update(func(tx *bbolt.Tx) error {
			left := p.due(tx)
			p.mu.Lock()
			p.turnSaw = left
			p.mu.Unlock()
			return tx.Bucket(bOutbox).Put([]byte("turn"), nil) // a write, then undone
		})
		_ = p.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bOutbox).Delete([]byte("turn")) })
	}
	return nil
}

// openProbed opens e's database with every write of its service going
// through p, and starts the service.
func openProbed(t *testing.T, e *env, p *txProbe, tweak func(*Options)) {
	t.Helper()
	db, err := bbolt.Open(e.path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.db = db
	opts := testOptions(e.clock)
	opts.Update = p.update
	// Every attempt a day away, unless Retry makes one due now: the
	// backlog waits, as behind an endpoint that always fails.
	opts.Schedule = []time.Duration{24 * time.Hour, 24 * time.Hour}
	if tweak != nil {
		tweak(&opts)
	}
	svc, err := New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.db, e.svc = db, svc
	e.start()
}

// writeBacklog writes n pending deliveries of sub, created a second apart
// from an hour before now, in transactions of their own (not the probe's).
func writeBacklog(t *testing.T, e *env, sub *Subscription, n int) (oldest time.Time) {
	t.Helper()
	oldest = e.clock.Now().Add(-time.Hour).UTC()
	for i := 0; i < n; {
		err := e.db.Update(func(tx *bbolt.Tx) error {
			for j := 0; j < 5000 && i < n; j, i = j+1, i+1 {
				ev := &Event{ID: fmt.Sprintf("ev%06d", i), Type: EventSessionStarted, Environment: EnvLive,
					Timestamp: oldest.Add(time.Duration(i) * time.Millisecond), Data: json.RawMessage(`{"session_id":"s1"}`)}
				if _, err := e.svc.fanoutTx(tx, nil, ev, []*Subscription{sub}, ev.Timestamp); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return oldest
}

// endpointStatuses counts an endpoint's deliveries by the status they store,
// checking that the by-endpoint index says the same, and how many are due.
func endpointStatuses(t *testing.T, e *env, endpoint string) (byStatus map[string]int, byError map[string]int, due int) {
	t.Helper()
	byStatus, byError = map[string]int{}, map[string]int{}
	prefix := endpointPrefix(endpoint)
	err := e.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bByEndpoint).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			d, err := getDelivery(tx, string(k[len(prefix)+8:]))
			if err != nil {
				return err
			}
			if d.Status != string(v) {
				t.Errorf("delivery %s is %s, its index entry %s", d.ID, d.Status, v)
			}
			if d.EventType != EventSessionStarted {
				continue
			}
			byStatus[d.Status]++
			byError[d.LastError]++
			if d.Status != StatusPending && (d.NextAttempt != nil || d.Attempts != 0) {
				t.Errorf("delivery %s: %s with next attempt %v after %d attempts", d.ID, d.Status, d.NextAttempt, d.Attempts)
			}
		}
		c = tx.Bucket(bDue).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			due++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return byStatus, byError, due
}

// Disabling an endpoint with a large backlog, by hand, by deleting it or by
// its 410, commits the disable in one small transaction and ends the
// pending deliveries in transactions of BatchSize, with turns committing
// between them; every delivery of the backlog ends disabled, counted once,
// and the endpoint's recover_since is the oldest of them, as a disable
// that ended them all at once left it.
func TestDisablingALargeBacklogEndsItInBatches(t *testing.T) {
	const backlog = 20000
	for _, how := range []string{"disable", "delete", "410"} {
		t.Run(how, func(t *testing.T) {
			e := &env{t: t, clock: newClock(), path: filepath.Join(t.TempDir(), "parley.db")}
			p := &txProbe{turnSaw: -1}
			openProbed(t, e, p, nil)
			t.Cleanup(e.close)
			rc := newReceiver(t)
			rc.setReply(status(http.StatusGone))
			sub := e.create(Subscription{URL: rc.URL, Events: []string{EventSessionStarted}})
			oldest := writeBacklog(t, e, sub, backlog)
			before := e.svc.Stats().Deliveries
			p.endpoint.Store(sub.ID)

			ctx := context.Background()
			why := "endpoint disabled: disabled by user"
			switch how {
			case "disable":
				in := *sub
				in.Secrets, in.Disabled = nil, true
				if _, err := e.svc.Update(ctx, sub.ID, in); err != nil {
					t.Fatal(err)
				}
			case "delete":
				why = whySubscriptionDeleted
				if err := e.svc.Delete(ctx, sub.ID); err != nil {
					t.Fatal(err)
				}
			case "410":
				why = "endpoint disabled: endpoint answered 410 Gone"
				ping := e.deliveriesOf(sub.ID, EventWebhookPing)[0]
				if _, err := e.svc.Retry(ctx, ping.ID); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "the endpoint to be disabled", func() bool {
					got, err := e.svc.Get(ctx, sub.ID)
					return err == nil && got.Disabled
				})
			}
			waitFor(t, "the backlog to be ended", func() bool {
				_, _, due := endpointStatuses(t, e, sub.ID)
				return due == 0
			})

			byStatus, byError, _ := endpointStatuses(t, e, sub.ID)
			if byStatus[StatusDisabled] != backlog || byError[why] != backlog {
				t.Errorf("backlog of %d ended as %v, last errors %v; want all disabled with %q", backlog, byStatus, byError, why)
			}
			p.mu.Lock()
			maxRemoved, removing, turnSaw := p.maxRemoved, p.removing, p.turnSaw
			p.mu.Unlock()
			if limit := e.svc.opts.BatchSize; maxRemoved > limit {
				t.Errorf("one transaction ended %d pending deliveries, want at most %d", maxRemoved, limit)
			}
			if removing < backlog/e.svc.opts.BatchSize {
				t.Errorf("the backlog was ended in %d transactions", removing)
			}
			if turnSaw <= 0 {
				t.Errorf("a turn committed after the first transaction that ended deliveries saw %d still pending, want some: no turn got in before the backlog was ended", turnSaw)
			}
			after := e.svc.Stats().Deliveries
			wantDisabled := uint64(backlog)
			if how != "410" {
				wantDisabled++ // the ping, pending too
			}
			if n := after[StatusDisabled] - before[StatusDisabled]; n != wantDisabled {
				t.Errorf("counted %d disabled, want %d", n, wantDisabled)
			}
			if n := len(rc.requests()); how == "410" && n != 1 || how != "410" && n != 0 {
				t.Errorf("the endpoint got %d requests", n)
			}
			if how == "delete" {
				return
			}
			h, err := e.svc.Health(ctx, sub.ID)
			if err != nil {
				t.Fatal(err)
			}
			if h.Pending != 0 || h.RecoverSince == nil || !h.RecoverSince.Equal(oldest) {
				t.Errorf("health pending %d, recover_since %v; want 0 and the oldest delivery's creation %v", h.Pending, h.RecoverSince, oldest)
			}
		})
	}
}

// Pending deliveries a disable has not ended yet when the server stops (or
// whose writes failed) are ended when it starts again, and are not sent
// meanwhile.
func TestEndingPendingDeliveriesResumesAfterARestart(t *testing.T) {
	const backlog = 5000
	e := &env{t: t, clock: newClock(), path: filepath.Join(t.TempDir(), "parley.db")}
	p := &txProbe{turnSaw: -1}
	openProbed(t, e, p, func(o *Options) { o.BatchSize = 500 })
	t.Cleanup(e.close)
	rc := newReceiver(t)
	sub := e.create(Subscription{URL: rc.URL, Events: []string{EventSessionStarted}})
	oldest := writeBacklog(t, e, sub, backlog)
	p.endpoint.Store(sub.ID)

	// The disable commits, and one batch of its pending deliveries; every
	// write after that fails.
	p.mu.Lock()
	p.failAfter = 1
	p.mu.Unlock()
	in := *sub
	in.Secrets, in.Disabled = nil, true
	if _, err := e.svc.Update(context.Background(), sub.ID, in); err != nil {
		t.Fatalf("disable: %v (it committed)", err)
	}
	byStatus, _, due := endpointStatuses(t, e, sub.ID)
	if due == 0 || byStatus[StatusDisabled] == 0 {
		t.Fatalf("after a failing write, %v and %d due: want some ended and some left", byStatus, due)
	}
	e.close()

	p.mu.Lock()
	p.failAfter = 0
	p.mu.Unlock()
	p.failing.Store(false)
	openProbed(t, e, p, func(o *Options) { o.BatchSize = 500 })
	waitFor(t, "the rest of the backlog to be ended", func() bool {
		_, _, due := endpointStatuses(t, e, sub.ID)
		return due == 0
	})
	byStatus, byError, _ := endpointStatuses(t, e, sub.ID)
	if want := "endpoint disabled: disabled by user"; byStatus[StatusDisabled] != backlog || byError[want] != backlog {
		t.Errorf("backlog of %d ended as %v, last errors %v; want all disabled with %q", backlog, byStatus, byError, want)
	}
	h, err := e.svc.Health(context.Background(), sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Disabled || h.Pending != 0 || h.RecoverSince == nil || !h.RecoverSince.Equal(oldest) {
		t.Errorf("health %+v; want disabled, nothing pending, recover_since %v", h, oldest)
	}
	if n := len(rc.requests()); n != 0 {
		t.Errorf("the disabled endpoint got %d requests", n)
	}
	if !strings.HasPrefix(h.DisabledReason, "disabled by user") {
		t.Errorf("disabled reason %q", h.DisabledReason)
	}
}

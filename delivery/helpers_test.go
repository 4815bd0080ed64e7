package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/store"
)

// clock is the injected time; tests move it to drive the retry schedule.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

type received struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// receiver is an httptest endpoint that records requests and answers with
// reply (200 when nil).
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []received
	reply func(w http.ResponseWriter, r *http.Request)
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, received{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		reply := rc.reply
		rc.mu.Unlock()
		if reply != nil {
			reply(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) setReply(f func(w http.ResponseWriter, r *http.Request)) {
	rc.mu.Lock()
	rc.reply = f
	rc.mu.Unlock()
}

func status(code int) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

type env struct {
	t      testing.TB
	clock  *clock
	path   string
	dbOpts *bbolt.Options
	db     *bbolt.DB
	svc    *Service
	stop   context.CancelFunc
}

func testOptions(c *clock) Options {
	return Options{
		Now:          c.Now,
		Rand:         func() float64 { return 0.5 }, // no jitter unless a test says so
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		PollInterval: 5 * time.Millisecond,
		Timeout:      5 * time.Second,
	}
}

// newEnv opens a database in a temp dir and starts a Service on it.
func newEnv(t testing.TB, tweak func(*Options)) *env {
	t.Helper()
	return newEnvDB(t, nil, tweak)
}

func newEnvDB(t testing.TB, dbOpts *bbolt.Options, tweak func(*Options)) *env {
	t.Helper()
	e := &env{t: t, clock: newClock(), path: filepath.Join(t.TempDir(), "parley.db"), dbOpts: dbOpts}
	e.open(tweak)
	t.Cleanup(e.close)
	return e
}

// newEnvStopped is newEnv with the dispatcher not started: nothing is fanned
// out or sent until the test calls start.
func newEnvStopped(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, clock: newClock(), path: filepath.Join(t.TempDir(), "parley.db")}
	e.openStopped(nil)
	t.Cleanup(e.close)
	return e
}

func (e *env) open(tweak func(*Options)) {
	e.t.Helper()
	e.openStopped(tweak)
	e.start()
}

func (e *env) openStopped(tweak func(*Options)) {
	e.t.Helper()
	db, err := bbolt.Open(e.path, 0o600, e.dbOpts)
	if err != nil {
		e.t.Fatal(err)
	}
	opts := testOptions(e.clock)
	if tweak != nil {
		tweak(&opts)
	}
	svc, err := New(db, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.db, e.svc = db, svc
}

// start runs the dispatcher.
func (e *env) start() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.svc.Start(ctx); err != nil {
		e.t.Fatal(err)
	}
	e.stop = cancel
}

func (e *env) close() {
	if e.db == nil {
		return
	}
	if e.stop != nil {
		e.stop()
		e.svc.Wait()
	}
	// Whatever the test did, the gauges' counters are what they count.
	e.t.Helper()
	checkCounters(e.t, e.db)
	e.db.Close()
	e.db, e.stop = nil, nil
}

func (e *env) create(sub Subscription) *Subscription {
	e.t.Helper()
	s, err := e.svc.Create(context.Background(), sub)
	if err != nil {
		e.t.Fatalf("create: %v", err)
	}
	return s
}

func (e *env) enqueue(events ...Event) {
	e.t.Helper()
	for i := range events {
		if events[i].Timestamp.IsZero() {
			events[i].Timestamp = e.clock.Now()
		}
		if events[i].Environment == "" {
			events[i].Environment = EnvLive
		}
		if events[i].Data == nil {
			events[i].Data = json.RawMessage(`{"session_id":"s1"}`)
		}
	}
	if err := e.svc.Enqueue(context.Background(), events...); err != nil {
		e.t.Fatal(err)
	}
}

// deliveries returns every delivery of an endpoint, oldest first.
func (e *env) deliveries(endpoint string) []*Delivery {
	e.t.Helper()
	page, err := e.svc.ListDeliveries(context.Background(), endpoint, DeliveryQuery{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	out := page.Deliveries
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func (e *env) deliveriesOf(endpoint, eventType string) []*Delivery {
	var out []*Delivery
	for _, d := range e.deliveries(endpoint) {
		if d.EventType == eventType {
			out = append(out, d)
		}
	}
	return out
}

// settled reports that nothing is in the outbox, queued or in flight, and
// nothing is due at the current clock.
func (e *env) settled() bool {
	e.svc.schedMu.Lock()
	inflight := len(e.svc.inflight)
	e.svc.schedMu.Unlock()
	if inflight > 0 || !e.svc.empty(bOutbox) {
		return false
	}
	due := false
	now := e.clock.Now()
	_ = e.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bDue).ForEach(func(k, _ []byte) error {
			sep := bytes.IndexByte(k, 0)
			if !getTime(k[sep+1:]).After(now) {
				due = true
			}
			return nil
		})
	})
	return !due
}

// waitFor polls cond until it holds; the deadline only stops a broken test
// from hanging, it measures nothing.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// settle waits until the dispatcher has nothing left to do now.
func (e *env) settle() {
	e.t.Helper()
	e.svc.Notify()
	waitFor(e.t, "the dispatcher to settle", func() bool {
		// Twice, so a result committed between the checks is seen.
		return e.settled() && e.settled()
	})
}

func (e *env) delivery(id string) *Delivery {
	e.t.Helper()
	d, err := e.svc.GetDelivery(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) attempts(id string) []*Attempt {
	e.t.Helper()
	a, err := e.svc.Attempts(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// succeeded counts successful deliveries without walking any bucket.
func (e *env) succeeded() uint64 {
	e.svc.m.mu.Lock()
	defer e.svc.m.mu.Unlock()
	return e.svc.m.byOutcome[StatusSucceeded]
}

// holdReply makes the receiver hold each request until release is closed,
// then answer status; arrived gets a value as each request comes in.
func (rc *receiver) holdReply(status int) (arrived, release chan struct{}) {
	arrived, release = make(chan struct{}, 1), make(chan struct{})
	rc.setReply(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.WriteHeader(status)
	})
	return arrived, release
}

// checkCounters fails t unless the counters of the outbox and of the
// pending deliveries, which the gauges read, equal a count of their
// buckets' keys.
func checkCounters(t testing.TB, db *bbolt.DB) {
	t.Helper()
	err := db.View(func(tx *bbolt.Tx) error {
		for _, c := range []struct {
			name   string
			bucket []byte
		}{{store.CounterOutbox, bOutbox}, {store.CounterPendingDeliveries, bDue}} {
			keys := 0
			if err := tx.Bucket(c.bucket).ForEach(func(_, _ []byte) error { keys++; return nil }); err != nil {
				return err
			}
			if got := store.ReadCounter(tx, c.name); got != int64(keys) {
				t.Errorf("counter %s = %d, but %s holds %d keys", c.name, got, c.bucket, keys)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

package delivery

import (
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// A delivery whose result cannot be recorded (a full disk) waits before it
// is sent again by its own attempts in a row whose results were lost: a
// second, then two, then four, whatever happened to the results of other
// deliveries, recorded in rounds of their own meanwhile.
func TestHoldPerDelivery(t *testing.T) {
	var failing atomic.Bool
	e := &env{t: t, clock: newClock(), path: filepath.Join(t.TempDir(), "parley.db")}
	e.openStopped(func(o *Options) {
		o.Update = func(fn func(*bbolt.Tx) error) error {
			if failing.Load() {
				return errors.New("write parley.db: no space left on device")
			}
			return e.db.Update(fn)
		}
	})
	t.Cleanup(e.close)
	var mu sync.Mutex
	waits := map[string][]time.Duration{}
	e.svc.afterHold = func(wait time.Duration, ids []string, f func()) {
		mu.Lock()
		for _, id := range ids {
			waits[id] = append(waits[id], wait)
		}
		mu.Unlock()
		time.AfterFunc(10*time.Millisecond, f) // the test does not wait that long
	}
	e.start()

	// Both endpoints answer once the results can no longer be recorded;
	// the slow one later, so that its results are recorded in rounds of
	// their own while the fast one's are sent again and again.
	open := make(chan struct{})
	fast, slow := newReceiver(t), newReceiver(t)
	var idFast string
	var slowCalls int
	fast.setReply(func(w http.ResponseWriter, r *http.Request) { <-open })
	slow.setReply(func(w http.ResponseWriter, r *http.Request) {
		<-open
		// Each answer waits for two more lost results of the fast one,
		// however slow the machine.
		mu.Lock()
		slowCalls++
		want := 2 * slowCalls
		mu.Unlock()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			n := len(waits[idFast])
			mu.Unlock()
			if n >= want {
				return
			}
		}
	})
	subFast := e.create(Subscription{URL: fast.URL, Events: []string{EventSessionStarted}})
	subSlow := e.create(Subscription{URL: slow.URL, Events: []string{EventSessionStarted}})
	e.enqueue(Event{ID: "evt_1", Type: EventSessionStarted})
	waitFor(t, "both requests", func() bool { return len(fast.requests()) > 0 && len(slow.requests()) > 0 })
	idFast = e.deliveries(subFast.ID)[0].ID
	idSlow := e.deliveries(subSlow.ID)[0].ID
	failing.Store(true)
	close(open)
	held := func(id string) []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(waits[id])
	}
	waitFor(t, "three lost results of each delivery", func() bool { return len(held(idFast)) >= 3 && len(held(idSlow)) >= 3 })
	failing.Store(false)

	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	for name, id := range map[string]string{"fast": idFast, "slow": idSlow} {
		if got := held(id)[:3]; !slices.Equal(got, want) {
			t.Errorf("the %s endpoint's delivery waited %v after its first lost results, want %v", name, got, want)
		}
	}
	if got := len(held(idFast)); got < 6 {
		t.Errorf("the fast endpoint's delivery lost %d results while the slow one's lost 3: the test did not interleave them", got)
	}
}

// The counts of lost results start over once a result is recorded, those of
// deliveries not seen since (deleted while they waited) included, so that
// none stays behind in memory.
func TestHoldCountsStartOver(t *testing.T) {
	e := &env{t: t, clock: newClock(), path: filepath.Join(t.TempDir(), "parley.db")}
	e.openStopped(nil)
	t.Cleanup(e.close)
	s := e.svc
	s.afterHold = func(time.Duration, []string, func()) {}
	s.afterRecord([]*result{{d: &Delivery{ID: "gone"}}}, &commitEffects{}, false)
	s.afterRecord([]*result{{d: &Delivery{ID: "gone"}}, {d: &Delivery{ID: "other"}}}, &commitEffects{}, false)
	s.schedMu.Lock()
	n := s.held["gone"]
	s.schedMu.Unlock()
	if n != 2 {
		t.Fatalf("two lost results of a delivery counted %d", n)
	}
	s.afterRecord([]*result{{d: &Delivery{ID: "other"}}}, &commitEffects{}, true)
	s.schedMu.Lock()
	defer s.schedMu.Unlock()
	if len(s.held) != 0 {
		t.Errorf("after a recorded result, counts %v are kept, want none", s.held)
	}
}

package delivery

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/internal/syncbuf"
	"github.com/parleyhq/parley/store"
)

// While the store's writes fail, the writer's failed writes are logged at
// the debug level, since the store logs the failure once: no error line
// each time the writer tries again. Another failure is still an error.
// Once writes succeed, the events are delivered.
func TestWritesFailingLoggedOnceByTheStore(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		wantError bool
	}{
		{"the store's failure", &store.WriteFailedError{Err: store.ErrDiskFull}, false},
		{"another failure", errors.New("bucket missing"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var failing atomic.Bool
			var logs syncbuf.Buffer
			// The service starts after e.db is set: its writers read it.
			e := &env{t: t, clock: newClock(), path: filepath.Join(t.TempDir(), "parley.db")}
			e.openStopped(func(o *Options) {
				o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				o.Update = func(fn func(*bbolt.Tx) error) error {
					if failing.Load() {
						return tc.err
					}
					return e.db.Update(fn)
				}
			})
			t.Cleanup(e.close)
			e.start()
			rc := newReceiver(t)
			rc.setReply(status(200))
			sub := e.create(Subscription{URL: rc.URL, Events: []string{EventSessionStarted}})
			e.settle()
			// Written past the writer, as the server's turns write the
			// outbox in their own commits.
			if err := e.db.Update(func(tx *bbolt.Tx) error {
				return EnqueueTx(tx, Event{ID: "evt_1", Type: EventSessionStarted, Timestamp: e.clock.Now(), Environment: EnvLive, Data: []byte(`{"session_id":"s1"}`)})
			}); err != nil {
				t.Fatal(err)
			}
			failing.Store(true)
			e.svc.Notify()
			waitFor(t, "the writer to fail", func() bool { return strings.Contains(logs.String(), "webhook writer") })
			errorLines := strings.Count(logs.String(), "level=ERROR")
			if tc.wantError && errorLines == 0 {
				t.Errorf("no error line for a failure the store did not log:\n%s", logs.String())
			}
			if !tc.wantError && errorLines != 0 {
				t.Errorf("%d error lines while the store's writes fail, want none (the store logs it once):\n%s", errorLines, logs.String())
			}
			failing.Store(false)
			e.settle()
			if ds := e.deliveriesOf(sub.ID, EventSessionStarted); len(ds) != 1 || ds[0].Status != StatusSucceeded {
				t.Errorf("deliveries after writes succeed again %+v, want one succeeded", ds)
			}
		})
	}
}

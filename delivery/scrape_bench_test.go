package delivery

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"
)

// BenchmarkScrapePending measures one scrape of the dispatcher's series
// (parley_webhook_pending_deliveries and parley_webhook_outbox_depth
// among them) with 200,000 deliveries pending behind an endpoint that is
// not answering: what a Prometheus scrape of /metrics pays for them.
func BenchmarkScrapePending(b *testing.B) {
	const pending = 200_000
	e := newEnvStopped(b)
	sub := e.create(Subscription{URL: "http://127.0.0.1:9/hook", Events: []string{EventSessionUpdated}})
	before := e.svc.Stats().Pending // creating it queued a ping
	seedPending(b, e, sub, pending)
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.svc.Collectors()...)
	got := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "parley_webhook_pending_deliveries" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		b.Fatal("parley_webhook_pending_deliveries not gathered")
		return 0
	}
	if n := got(); n != float64(before+pending) {
		b.Fatalf("parley_webhook_pending_deliveries = %v, want %d", n, before+pending)
	}
	b.ResetTimer()
	for b.Loop() {
		got()
	}
}

// BenchmarkHealthPending measures GET /v1/webhooks/{id}/health's read of
// an endpoint with 200,000 deliveries pending: its count and its oldest
// event.
func BenchmarkHealthPending(b *testing.B) {
	const pending = 200_000
	e := newEnvStopped(b)
	sub := e.create(Subscription{URL: "http://127.0.0.1:9/hook", Events: []string{EventSessionUpdated}})
	seedPending(b, e, sub, pending)
	b.ResetTimer()
	for b.Loop() {
		h, err := e.svc.Health(context.Background(), sub.ID)
		if err != nil {
			b.Fatal(err)
		}
		if h.Pending != pending+1 || h.OldestPending == nil {
			b.Fatalf("health: %d pending (want %d), oldest %+v", h.Pending, pending+1, h.OldestPending)
		}
	}
}

// seedPending fans n events out to sub, in transactions of 10,000, without
// sending them: n deliveries pending behind it.
func seedPending(b *testing.B, e *env, sub *Subscription, n int) {
	b.Helper()
	now := e.clock.Now()
	var a arena
	for done := 0; done < n; {
		err := e.db.Update(func(tx *bbolt.Tx) error {
			for i := 0; i < 10_000 && done < n; i++ {
				ev := &Event{ID: newEventID(), Type: EventSessionUpdated, Timestamp: now, Environment: EnvLive, Data: []byte(`{"session_id":"s"}`)}
				if _, err := e.svc.fanoutTx(tx, &a, ev, []*Subscription{sub}, now); err != nil {
					return err
				}
				done++
			}
			return nil
		})
		a.reset()
		if err != nil {
			b.Fatal(err)
		}
	}
}

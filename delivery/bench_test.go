package delivery

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/internal/cputime"
)

// BenchmarkDeliveryThroughput measures end to end delivery: events written to
// the outbox, fanned out, signed, sent to a loopback receiver and recorded.
// It reports deliveries/s; run with e.g. -benchtime=20000x. The nosync case
// shows the cost without fsync, i.e. what the CPU alone allows.
func BenchmarkDeliveryThroughput(b *testing.B) {
	for _, bc := range []struct {
		endpoints int
		noSync    bool
	}{{1, false}, {4, false}, {1, true}} {
		endpoints := bc.endpoints
		b.Run(fmt.Sprintf("endpoints=%d/nosync=%v", endpoints, bc.noSync), func(b *testing.B) {
			var got atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.Add(1)
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			e := newEnvDB(b, &bbolt.Options{NoSync: bc.noSync}, func(o *Options) {
				o.Now = time.Now
				o.Rand = nil
				o.PollInterval = 50 * time.Millisecond
			})
			for i := 0; i < endpoints; i++ {
				e.create(Subscription{URL: srv.URL, Events: []string{EventSessionUpdated}})
			}
			waitFor(b, "pings", func() bool { return got.Load() == int64(endpoints) })
			start := e.succeeded()
			want := start + uint64(b.N*endpoints)

			b.ResetTimer()
			t0 := time.Now()
			cpu0 := cpuTime()
			batch := make([]Event, 0, 500)
			for i := 0; i < b.N; i++ {
				batch = append(batch, Event{Type: EventSessionUpdated, Timestamp: time.Now(), Environment: EnvLive,
					FlowID: "f1", Data: []byte(`{"session_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","flow":"f1","status":"waiting","contact":{"urn":"tel:+15550100","name":"Ada"}}`)})
				if len(batch) == cap(batch) || i == b.N-1 {
					if err := e.svc.Enqueue(b.Context(), batch...); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			waitFor(b, "every delivery recorded", func() bool { return e.succeeded() >= want })
			elapsed := time.Since(t0)
			cpu := cpuTime() - cpu0
			b.StopTimer()
			b.ReportMetric(float64(b.N*endpoints)/elapsed.Seconds(), "deliveries/s")
			// CPU per delivery (sender and receiver together) holds steady
			// when other work shares the machine; 2 cores / this = capacity.
			perDelivery := cpu / time.Duration(b.N*endpoints)
			b.ReportMetric(float64(perDelivery.Nanoseconds())/1000, "cpu-µs/delivery")
			b.ReportMetric(2*float64(time.Second)/float64(perDelivery), "2-core-capacity/s")
			st := e.svc.Stats()
			b.ReportMetric(float64(st.LagP50.Microseconds())/1000, "lag-p50-ms")
			b.ReportMetric(float64(st.LagP99.Microseconds())/1000, "lag-p99-ms")
		})
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration { return cputime.Process() }

package callout

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/cputime"
)

func BenchmarkDefaultBodyJSON(b *testing.B) {
	sess, flow := testSession()
	cfg := &flows.WebhookConfig{Method: "POST"}
	for b.Loop() {
		if _, _, err := BuildBody(cfg, sess, flow, "", ""); err != nil {
			b.Fatal(err)
		}
	}
}

func benchCall(b *testing.B, auth func(*tokenServer) *flows.WebhookAuth) {
	ts := &tokenServer{valid: map[string]bool{}, reject: map[string]bool{}, expires: 3600}
	srv := httptestServer(b, ts.serve)
	ts.srv = srv
	s := New(Options{AllowCIDRs: loopback})
	req := &flows.WebhookRequest{Method: "POST", URL: srv + "/api", Body: []byte(`{"text":"hi"}`)}
	if auth != nil {
		req.Auth = auth(ts)
	} else {
		ts.valid[""] = true
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if res := s.Call(ctx, req); res.Outcome != flows.OutcomeSuccess {
			b.Fatal(res.Outcome, res.Error)
		}
	}
}

func BenchmarkCall(b *testing.B) { benchCall(b, nil) }

func BenchmarkCallOAuth2Cached(b *testing.B) {
	benchCall(b, func(ts *tokenServer) *flows.WebhookAuth { return ts.auth(flows.AuthOAuth2ClientCredentials, "") })
}

// orderAnswer is what the order-status example's lookup gets back.
var orderAnswer = []byte(`{"status":"Shipped","order":"CU001","name":"Ben Haggerty","order_number":"PLAT2012","ship_date":"October 9th","delivery_date":"April 3rd","description":"Vogue White Wall x 4"}`)

// lookup is one order-status lookup as the webhook widget makes it: the
// default body built from the session, a POST, the JSON answer read into
// @extra and a mapping.
func lookup(b *testing.B, s *Service, cfg *flows.WebhookConfig, sess *flows.Session, flow *flows.Flow) {
	body, ctype, err := BuildBody(cfg, sess, flow, "", "ch-1")
	if err != nil {
		b.Fatal(err)
	}
	req := NewRequest(cfg, cfg.URL, map[string]string{}, body, ctype)
	res := s.Call(context.Background(), req)
	if res.Outcome != flows.OutcomeSuccess {
		b.Fatal(res.Outcome, res.Error)
	}
	_ = Event(req, res)
	extra := Extra(res)
	if v, _ := Extract(extra, map[string]string{"Order Status": "status"}); v["Order Status"] != "Shipped" {
		b.Fatalf("answer %s", extra)
	}
}

// BenchmarkOrderLookup is the order-status example's webhook call against a
// loopback server, one caller at a time and from many goroutines at once (as
// the server's sessions call).
func BenchmarkOrderLookup(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(orderAnswer)
	}))
	b.Cleanup(srv.Close)
	s := New(Options{AllowCIDRs: loopback})
	cfg := &flows.WebhookConfig{Method: "POST", URL: srv.URL + "/orders", TimeoutSeconds: 10}
	b.Run("serial", func(b *testing.B) {
		sess, flow := testSession()
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			lookup(b, s, cfg, sess, flow)
		}
		reportCPU(b, cpu)
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32)
		cpu := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			sess, flow := testSession()
			for pb.Next() {
				lookup(b, s, cfg, sess, flow)
			}
		})
		reportCPU(b, cpu)
	})
}

// cpuTime is the process's CPU time so far (user and system).
func cpuTime() time.Duration { return cputime.Process() }

// reportCPU reports the CPU time per operation since start (caller and
// loopback server together) as cpu-ns/op.
func reportCPU(b *testing.B, start time.Duration) {
	if d := cpuTime() - start; start > 0 && b.N > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

var _ http.HandlerFunc = (*tokenServer)(nil).serve

// BenchmarkExtra reads answers into @extra as the webhook widget does: the
// order-status answer, which gives each name once, and one that repeats
// names.
func BenchmarkExtra(b *testing.B) {
	repeated := []byte(`{"status":"Pending","order":"CU002","status":"Shipped","items":[{"sku":"A1","qty":1,"qty":2}],"name":"Ben Haggerty"}`)
	for _, bc := range []struct {
		name   string
		answer []byte
	}{{"order", orderAnswer}, {"repeated", repeated}} {
		b.Run(bc.name, func(b *testing.B) {
			res := &flows.WebhookResult{Outcome: flows.OutcomeSuccess, Status: 200, Body: bc.answer}
			b.ReportAllocs()
			for b.Loop() {
				if Extra(res) == nil {
					b.Fatal("no @extra")
				}
			}
		})
	}
}

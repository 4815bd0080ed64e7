package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const timeoutFlow = `{"id":"slow","name":"Slow","expire_minutes":60,"widgets":[
 {"id":"ask","type":"send_message","text":"Reply within a minute","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Answer","timeout":60,"exits":{"Next":"ok","Timeout":"late"}},
 {"id":"ok","type":"send_message","text":"Got it"},
 {"id":"late","type":"send_message","text":"Too late","exits":{"Next":"again"}},
 {"id":"again","type":"wait_for_response","result":"Second"}]}`

func TestTimersFire(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(timeoutFlow)
	id := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "slow", "contact": map[string]any{"urn": "tel:+1"}})["id"].(string)
	ctx := context.Background()

	ts.clock.Advance(59 * time.Second)
	if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
		t.Fatal(err)
	}
	if s := ts.must(200, "GET", "/v1/sessions/"+id, nil); s["status"] != "waiting" || len(s["path"].([]any)) != 2 {
		t.Fatalf("a timer fired early: %v", s["path"])
	}

	ts.clock.Advance(2 * time.Second)
	if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
		t.Fatal(err)
	}
	s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	var widgets []string
	for _, p := range s["path"].([]any) {
		widgets = append(widgets, p.(map[string]any)["widget"].(string))
	}
	if !slices.Equal(widgets, []string{"ask", "wait", "late", "again"}) || s["status"] != "waiting" {
		t.Fatalf("after the wait timeout: %s %v", s["status"], widgets)
	}

	// No input for the flow's 60 minutes: the session expires.
	ts.clock.Advance(61 * time.Minute)
	if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
		t.Fatal(err)
	}
	if s := ts.must(200, "GET", "/v1/sessions/"+id, nil); s["status"] != "expired" {
		t.Errorf("after expiry: %v", s["status"])
	}
	if n, err := ts.srv.svc.scanTimers(ctx); err != nil || n != 0 {
		t.Errorf("timers left after expiry: %d %v", n, err)
	}
}

// Timers are in the store: a server started on the same data directory
// fires what fell due while it was down.
func TestTimersSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	first := newTestServer(t, func(c *Config) { c.DataDir = dir; c.Now = clk.Now })
	first.createFlow(timeoutFlow)
	id := first.must(201, "POST", "/v1/sessions", map[string]any{"flow": "slow"})["id"].(string)
	if err := first.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	second := newTestServer(t, func(c *Config) { c.DataDir = dir; c.Now = clk.Now })
	if _, err := second.srv.svc.scanTimers(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := second.must(200, "GET", "/v1/sessions/"+id, nil)
	if s["status"] != "waiting" {
		t.Errorf("session %v after restart", s["status"])
	}
	if path := s["path"].([]any); path[len(path)-1].(map[string]any)["widget"] != "again" {
		t.Errorf("session is at %v, want again", path[len(path)-1])
	}
}

// A message id is remembered for Config.DedupeRetention: a repeat within it
// gets the first answer, a repeat after the background prune is a new
// message.
func TestDedupeRetention(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.DedupeRetention = 2 * time.Hour })
	ts.createFlow(joinFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"join"}`)
	msg := `{"from":"+15550001","text":"hello","id":"m1"}`
	first := ts.must(200, "POST", "/v1/channels/web/messages", msg)
	ctx := context.Background()

	ts.clock.Advance(119 * time.Minute)
	ts.srv.svc.prune(ctx)
	if again := ts.must(200, "POST", "/v1/channels/web/messages", msg); again["id"] != first["id"] {
		t.Fatalf("repeat within the retention started session %v, want the first answer (%v)", again["id"], first["id"])
	}

	ts.clock.Advance(2 * time.Minute)
	ts.srv.svc.prune(ctx)
	later := ts.must(200, "POST", "/v1/channels/web/messages", msg)
	if later["id"] == first["id"] || later["status"] != "completed" {
		t.Fatalf("repeat after the retention answered %v, want a new session", later)
	}
}

// With Config.SessionRetention set, a session that ended is deleted with
// its events once it ended longer ago than that; waiting sessions stay, and
// the completed count in /metrics still counts it. Without it (the
// default), ended sessions are kept.
func TestSessionRetention(t *testing.T) {
	for _, retention := range []time.Duration{time.Hour, 0} {
		ts := newTestServer(t, func(c *Config) { c.SessionRetention = retention })
		ts.createFlow(joinFlow)
		ts.createFlow(timeoutFlow)
		ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"join"}`)
		done := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+15550001","text":"hello"}`)
		if done["status"] != "completed" {
			t.Fatalf("session %v, want completed", done)
		}
		waiting := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "slow"})["id"].(string)
		ended := "/v1/sessions/" + done["id"].(string)
		ctx := context.Background()

		ts.clock.Advance(59 * time.Minute)
		ts.srv.svc.prune(ctx)
		ts.must(200, "GET", ended, nil)
		ts.must(200, "GET", ended+"/events", nil)

		ts.clock.Advance(2 * time.Minute)
		ts.srv.svc.prune(ctx)
		metrics := string(ts.do("GET", "/metrics", nil).Body)
		if retention == 0 {
			ts.must(200, "GET", ended, nil)
			if !strings.Contains(metrics, `parley_sessions_pruned_total{status="completed"} 0`) {
				t.Errorf("no retention: metrics lack a zero pruned count:\n%s", grep(metrics, "parley_sessions_"))
			}
			continue
		}
		if r := ts.do("GET", ended, nil); r.Status != 404 {
			t.Errorf("ended session after the retention: %d %s, want 404", r.Status, r.Body)
		}
		if r := ts.do("GET", ended+"/events", nil); r.Status != 404 {
			t.Errorf("its events after the retention: %d %s, want 404", r.Status, r.Body)
		}
		ts.must(200, "GET", "/v1/sessions/"+waiting, nil)
		for _, want := range []string{`parley_sessions_pruned_total{status="completed"} 1`, `parley_sessions_completed_total 1`} {
			if !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s:\n%s", want, grep(metrics, "parley_sessions_"))
			}
		}
	}
}

// A shutdown while a timer's turn waits for a webhook lets that turn finish,
// as it does a request's: the webhook is answered, the turn saved, nothing
// is logged as an error, and after a restart the timer does not fire (and
// call the webhook) again.
func TestShutdownFinishesTimerTurn(t *testing.T) {
	var calls atomic.Int32
	called, release := make(chan struct{}, 1), make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		called <- struct{}{}
		select {
		case <-release:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}`))
		case <-r.Context().Done():
		}
	}))
	defer hook.Close()
	flow := `{"id":"late-hook","name":"Late hook","widgets":[
 {"id":"wait","type":"wait_for_response","result":"Answer","timeout":60,"exits":{"Next":"ok","Timeout":"hook"}},
 {"id":"hook","type":"webhook","method":"GET","url":"` + hook.URL + `/late","result":"Hook","exits":{"Success":"ok","Failure":"ko","Timeout":"ko"}},
 {"id":"ok","type":"send_message","text":"Done"},
 {"id":"ko","type":"send_message","text":"Webhook failed"}]}`

	dir, clk, logs := t.TempDir(), newClock(), &syncBuffer{}
	first := newTestServer(t, func(c *Config) {
		c.DataDir, c.Now = dir, clk.Now
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.TimerInterval = 10 * time.Millisecond
	})
	first.createFlow(flow)
	id := first.must(201, "POST", "/v1/sessions", map[string]any{"flow": "late-hook"})["id"].(string)
	clk.Advance(61 * time.Second)
	select {
	case <-called:
	case <-time.After(10 * time.Second):
		t.Fatal("the wait's timeout did not call the webhook")
	}

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- first.srv.Shutdown(ctx)
	}()
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) while the timer's turn was still waiting for its webhook", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("errors logged by a clean shutdown:\n%s", logs)
	}

	second := newTestServer(t, func(c *Config) { c.DataDir, c.Now = dir, clk.Now })
	if _, err := second.srv.svc.scanTimers(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := second.must(200, "GET", "/v1/sessions/"+id, nil)
	path := s["path"].([]any)
	if last := path[len(path)-1].(map[string]any)["widget"]; s["status"] != "completed" || last != "ok" {
		t.Errorf("session %v at %v after restart, want completed at ok", s["status"], last)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("webhook called %d times, want once", n)
	}
}

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/syncbuf"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/widgets"
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
	url, calls, called, release := blockingHook(t)
	flow := lateHookFlow(url)

	dir, clk, logs := t.TempDir(), newClock(), &syncbuf.Buffer{}
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

// blockingHook is a webhook receiver whose answers wait for release.
func blockingHook(t *testing.T) (url string, calls *atomic.Int32, called chan struct{}, release chan struct{}) {
	calls, called, release = new(atomic.Int32), make(chan struct{}, 16), make(chan struct{})
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
	t.Cleanup(hook.Close)
	return hook.URL, calls, called, release
}

func lateHookFlow(url string) string {
	return `{"id":"late-hook","name":"Late hook","widgets":[
 {"id":"wait","type":"wait_for_response","result":"Answer","timeout":60,"exits":{"Next":"ok","Timeout":"hook"}},
 {"id":"hook","type":"webhook","method":"GET","url":"` + url + `/late","result":"Hook","exits":{"Success":"ok","Failure":"ko","Timeout":"ko"}},
 {"id":"ok","type":"send_message","text":"Done"},
 {"id":"ko","type":"send_message","text":"Webhook failed"}]}`
}

// lastWidget returns a session's status and the widget it is at.
func (ts *testServer) lastWidget(id string) (any, any) {
	s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	path := s["path"].([]any)
	return s["status"], path[len(path)-1].(map[string]any)["widget"]
}

// Timer turns run side by side: three timeouts whose turns wait for a slow
// webhook do not hold up another session's timeout, and a timer whose turn
// is under way is not fired again by the scans that meet it meanwhile.
func TestTimersFireConcurrently(t *testing.T) {
	url, calls, called, release := blockingHook(t)
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.TimerInterval = 10 * time.Millisecond
	})
	ts.createFlow(lateHookFlow(url))
	ts.createFlow(timeoutFlow)
	var slow []string
	for i := range 3 {
		slow = append(slow, ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "late-hook", "contact": map[string]any{"urn": "tel:+10" + string(rune('0'+i))}})["id"].(string))
	}
	quick := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "slow", "contact": map[string]any{"urn": "tel:+2"}})["id"].(string)
	ts.clock.Advance(61 * time.Second)
	for range 3 {
		select {
		case <-called:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of the 3 timeouts called their webhook, want all 3 at once", calls.Load())
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, at := ts.lastWidget(quick); at == "again" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("another session's timeout did not fire while 3 timer turns waited for a webhook")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // about ten scans meet the timers in flight
	close(release)
	for _, id := range slow {
		for deadline := time.Now().Add(10 * time.Second); ; {
			if st, at := ts.lastWidget(id); st == "completed" && at == "ok" {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("session %s %v at %v, want completed at ok", id, st, at)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("webhook called %d times, want 3 (each timeout once)", n)
	}
}

// A timer whose contact is busy with another turn is left for a later scan
// instead of holding the scan up.
func TestTimerOfBusyContactWaits(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(timeoutFlow)
	busy := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "slow", "contact": map[string]any{"urn": "tel:+1"}})["id"].(string)
	other := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "slow", "contact": map[string]any{"urn": "tel:+2"}})["id"].(string)
	ts.clock.Advance(61 * time.Second)

	held := ts.srv.svc.locks.lock("tel:+1", "")
	scanned := make(chan error, 1)
	go func() { _, err := ts.srv.svc.scanTimers(context.Background()); scanned <- err }()
	select {
	case err := <-scanned:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		held.Unlock()
		t.Fatal("the scan waited for a busy contact")
	}
	if _, at := ts.lastWidget(other); at != "again" {
		t.Errorf("the other contact's session is at %v, want again", at)
	}
	if _, at := ts.lastWidget(busy); at != "wait" {
		t.Errorf("the busy contact's session is at %v, want wait until its contact is free", at)
	}
	held.Unlock()
	if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, at := ts.lastWidget(busy); at != "again" {
		t.Errorf("once free, the busy contact's session is at %v, want again", at)
	}
}

// damagedStore fails to load one session, as a damaged record does.
type damagedStore struct {
	store.Store
	bad atomic.Value // session id
}

func (d *damagedStore) LoadSession(ctx context.Context, id string) (*flows.Session, error) {
	if d.bad.Load() == id {
		return nil, fmt.Errorf("session %q: %w: record does not decode", id, store.ErrCorrupt)
	}
	return d.Store.LoadSession(ctx, id)
}

// The timer of a session that does not load is tried again after a wait
// that doubles, and logged once a try, not at every scan.
func TestTimerOfDamagedSessionBacksOff(t *testing.T) {
	b, err := store.Open(filepath.Join(t.TempDir(), DBFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ds, logs := &damagedStore{Store: b}, &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.Store = ds
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	ts.createFlow(timeoutFlow)
	id := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "slow"})["id"].(string)
	ds.bad.Store(id)
	ctx := context.Background()
	failures := func() int { return strings.Count(logs.String(), "timer failed") }

	ts.clock.Advance(61 * time.Second)
	for range 5 {
		if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := failures(); n != 1 {
		t.Fatalf("5 scans logged %d timer failures, want 1:\n%s", n, logs)
	}
	ts.clock.Advance(time.Second) // the first retry
	_, _ = ts.srv.svc.scanTimers(ctx)
	_, _ = ts.srv.svc.scanTimers(ctx)
	if n := failures(); n != 2 {
		t.Fatalf("after 1 s: %d failures logged, want 2", n)
	}
	if !strings.Contains(logs.String(), "retry_in=2s") {
		t.Errorf("the second failure does not say it waits 2s:\n%s", logs)
	}
	ts.clock.Advance(time.Second)
	_, _ = ts.srv.svc.scanTimers(ctx)
	if n := failures(); n != 2 {
		t.Fatalf("1 s into a 2 s wait: %d failures logged, want 2", n)
	}

	// Readable again: the timer fires and the backoff is forgotten.
	ds.bad.Store("")
	ts.clock.Advance(time.Second)
	if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
		t.Fatal(err)
	}
	if _, at := ts.lastWidget(id); at != "again" {
		t.Errorf("session at %v once readable, want again", at)
	}
}

// A timer's turn that panics (a widget's bug) does not end the process: the
// panic is logged with the session, its flow and widget, the session fails
// with an error event, its timers are gone, and the server goes on serving.
func TestTimerTurnPanic(t *testing.T) {
	reg := widgets.Registered().Subset("send_message", "wait_for_response")
	reg.Register("boom", func() flows.Widget { return &boomWidget{} })
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.Registry = reg
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	ts.createFlow(`{"id":"late","name":"Late","widgets":[
	 {"id":"wait","type":"wait_for_response","timeout":1,"exits":{"Next":"ok","Timeout":"b"}},
	 {"id":"ok","type":"send_message","text":"ok"},
	 {"id":"b","type":"boom"}]}`)
	id := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "late", "contact": map[string]any{"urn": "tel:+1"}})["id"].(string)
	other := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "late", "contact": map[string]any{"urn": "tel:+2"}})["id"].(string)
	ts.must(200, "POST", "/v1/sessions/"+other+"/resume", map[string]any{"text": "hi"})

	ctx := context.Background()
	ts.clock.Advance(2 * time.Second)
	if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
		t.Fatal(err)
	}
	s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	if s["status"] != "failed" {
		t.Fatalf("session %v after its timer turn panicked, want failed", s["status"])
	}
	evs := ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any)
	var msgs []string
	for _, e := range evs {
		if e := e.(map[string]any); e["type"] == flows.EventError {
			msgs = append(msgs, e["message"].(string))
		}
	}
	if !slices.Equal(msgs, []string{`internal error in widget "b": boom`}) {
		t.Errorf("error events %q", msgs)
	}
	for _, want := range []string{`msg="timer turn panicked"`, "session=" + id, "flow=late", "widget=b", "panic=boom"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %s:\n%s", want, logs)
		}
	}
	ts.clock.Advance(time.Hour)
	if n, err := ts.srv.svc.scanTimers(ctx); err != nil || n != 0 {
		t.Errorf("%d timers left of the failed session (%v)", n, err)
	}
	// The server goes on: a new session starts and answers.
	if r := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "late", "contact": map[string]any{"urn": "tel:+3"}}); r["status"] != "waiting" {
		t.Errorf("a new session after the panic: %v", r["status"])
	}
}

// The session expiry counts from the last input, not from the last turn:
// a flow that sends a reminder at each wait timeout and waits again expires
// when the contact says nothing, and input moves the expiry on. A real
// server on a real clock, with the timers scanned as in production.
func TestReminderLoopExpires(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.Now = time.Now
		c.SessionExpiry = 3 * time.Second
		c.TimerInterval = 50 * time.Millisecond
	})
	ts.createFlow(`{"id":"remind","name":"Remind","widgets":[
 {"id":"wait","type":"wait_for_response","result":"Answer","timeout":1,"exits":{"Next":"thanks","Timeout":"reminder"}},
 {"id":"reminder","type":"send_message","text":"reminder","exits":{"Next":"wait"}},
 {"id":"thanks","type":"send_message","text":"thanks","exits":{"Next":"wait"}}]}`)
	base := ts.listen()
	call := httpJSON(t, base)
	// Before the first session starts: its expiry counts from its start,
	// which a slow request would put well after a time taken later.
	started := time.Now()
	ids := []string{
		call("POST", "/v1/sessions", `{"flow":"remind"}`)["id"].(string),
		call("POST", "/v1/sessions", `{"flow":"remind"}`)["id"].(string),
	}
	reminders := func(id string) int {
		n := 0
		for _, e := range call("GET", "/v1/sessions/"+id+"/events", "")["events"].([]any) {
			if ev := e.(map[string]any); ev["type"] == "message_out" && ev["text"] == "reminder" {
				n++
			}
		}
		return n
	}
	// The second contact answers after 2 s: its expiry moves to 3 s later.
	time.Sleep(2 * time.Second)
	if n := reminders(ids[1]); n == 0 {
		t.Fatal("no reminder sent after 2 s of a 1 s timeout")
	}
	call("POST", "/v1/sessions/"+ids[1]+"/resume", `{"text":"still here"}`)
	answered := time.Now()
	s := call("GET", "/v1/sessions/"+ids[1], "")
	if exp, _ := time.Parse(time.RFC3339Nano, s["expires"].(string)); exp.Before(answered.Add(2 * time.Second)) {
		t.Errorf("expires %v after input at %v, want 3 s after it", exp, answered)
	}

	for deadline := started.Add(10 * time.Second); ; {
		s := call("GET", "/v1/sessions/"+ids[0], "")
		if s["status"] == "expired" {
			if took := time.Since(started); took < 3*time.Second {
				t.Errorf("expired after %v, before the 3 s expiry", took)
			}
			if s := call("GET", "/v1/sessions/"+ids[1], ""); s["status"] != "waiting" && time.Since(answered) < 3*time.Second {
				t.Errorf("the session that had input %v, want waiting until 3 s after it", s["status"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %v 10 s into a 3 s expiry, sending reminders (%d), want expired", s["status"], reminders(ids[0]))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countingStore counts the scans of the timer index and the session loads.
type countingStore struct {
	store.Store
	scans, loads atomic.Int64
}

func (c *countingStore) DueTimers(ctx context.Context, now time.Time, limit int) ([]store.Timer, error) {
	c.scans.Add(1)
	return c.Store.DueTimers(ctx, now, limit)
}

func (c *countingStore) LoadSession(ctx context.Context, id string) (*flows.Session, error) {
	c.loads.Add(1)
	return c.Store.LoadSession(ctx, id)
}

// More due timers than turns run at once, all of contacts busy with other
// turns: the scanner leaves them for its regular scans instead of scanning
// again each time one of them is found busy, and does not load the session
// of a timer whose contact is still busy. Once the contacts are free, the
// next scan fires them all. So with the test contacts of sandbox sessions,
// whose lock is their own.
func TestBusyContactsDoNotSpinTheScanner(t *testing.T) {
	t.Run("live", func(t *testing.T) { testBusyContactsDoNotSpinTheScanner(t, false) })
	t.Run("sandbox", func(t *testing.T) { testBusyContactsDoNotSpinTheScanner(t, true) })
}

func testBusyContactsDoNotSpinTheScanner(t *testing.T, sandbox bool) {
	env := flows.EnvLive
	if sandbox {
		env = flows.EnvSandbox
	}
	b, err := store.Open(filepath.Join(t.TempDir(), DBFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: b}
	const every = 100 * time.Millisecond
	ts := newTestServer(t, func(c *Config) {
		c.Store = cs
		c.TimerInterval = every
	})
	ts.createFlow(timeoutFlow)
	n := timerConcurrency + 14
	var ids []string
	var held []heldLock
	for i := range n {
		urn := fmt.Sprintf("tel:+1555000%04d", i)
		ids = append(ids, ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "slow", "environment": env, "contact": map[string]any{"urn": urn}})["id"].(string))
		held = append(held, ts.srv.svc.locks.lock(flows.ContactKey(urn, sandbox), ""))
	}
	scans0, loads0 := cs.scans.Load(), cs.loads.Load()
	ts.clock.Advance(61 * time.Second)
	const window = 1 * time.Second
	time.Sleep(window)
	scans, loads := cs.scans.Load()-scans0, cs.loads.Load()-loads0
	for _, h := range held {
		h.Unlock()
	}
	// About one scan an interval, and a few more after the first one that
	// met the busy contacts.
	if max := int64(window/every) + 5; scans > max {
		t.Errorf("%d scans of the timer index in %v with %d busy contacts, want at most %d (one every %v)", scans, window, n, max, every)
	}
	if max := int64(n); loads > max {
		t.Errorf("%d session loads in %v for %d timers of busy contacts, want at most %d (each once)", loads, window, n, max)
	}
	for _, id := range ids {
		for deadline := time.Now().Add(10 * time.Second); ; {
			if _, at := ts.lastWidget(id); at == "again" {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("session %s at %v once its contact was free, want again", id, at)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// damagedSet is a store whose sessions in bad do not load.
type damagedSet struct {
	store.Store
	mu  sync.Mutex
	bad map[string]bool
}

func (d *damagedSet) LoadSession(ctx context.Context, id string) (*flows.Session, error) {
	d.mu.Lock()
	bad := d.bad[id]
	d.mu.Unlock()
	if bad {
		return nil, fmt.Errorf("session %q: %w: record does not decode", id, store.ErrCorrupt)
	}
	return d.Store.LoadSession(ctx, id)
}

// More due timers of damaged sessions than a scan's batch, all backing off,
// do not keep a later timer from firing: the scan reads past them.
func TestTimersPastManyDamagedSessions(t *testing.T) {
	b, err := store.Open(filepath.Join(t.TempDir(), DBFile), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ds := &damagedSet{Store: b, bad: map[string]bool{}}
	ts := newTestServer(t, func(c *Config) {
		c.Store = ds
		c.Logger = slog.New(slog.DiscardHandler)
	})
	ts.createFlow(timeoutFlow)
	for i := range timerBatch + 50 {
		id := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "slow", "contact": map[string]any{"urn": fmt.Sprintf("tel:+1555%06d", i)}})["id"].(string)
		ds.bad[id] = true
	}
	ts.clock.Advance(time.Second)
	good := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "slow", "contact": map[string]any{"urn": "tel:+15559999999"}})["id"].(string)
	ts.clock.Advance(61 * time.Second)
	ctx := context.Background()
	for range 40 {
		if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
			t.Fatal(err)
		}
		if evs := ts.do("GET", "/v1/sessions/"+good+"/events", nil); strings.Contains(string(evs.Body), "Too late") {
			return // its timeout fired
		}
	}
	t.Fatalf("the timeout of session %s, due after %d damaged sessions' timers, did not fire in 40 scans", good, timerBatch+50)
}

// A session waiting inside a subflow expires after the subflow's
// expire_minutes, not its caller's; once back in the caller and waiting
// there, after the caller's; a subflow without expire_minutes waits the
// server's --session-expiry, whatever its caller sets.
func TestSubflowExpiry(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.SessionExpiry = 3 * time.Hour })
	ts.createFlow(`{"id":"quick","name":"Quick","expire_minutes":5,"widgets":[
 {"id":"kwait","type":"wait_for_response","result":"Answer"}]}`)
	ts.createFlow(`{"id":"plain","name":"Plain","widgets":[
 {"id":"kwait","type":"wait_for_response","result":"Answer"}]}`)
	for _, child := range []string{"quick", "plain"} {
		ts.createFlow(`{"id":"outer-` + child + `","name":"Outer","expire_minutes":60,"widgets":[
 {"id":"sub","type":"subflow","flow":"` + child + `","exits":{"Complete":"pwait","Expired":"gone"}},
 {"id":"pwait","type":"wait_for_response","result":"Later"},
 {"id":"gone","type":"send_message","text":"You went quiet"}]}`)
	}
	expires := func(id string) time.Duration {
		t.Helper()
		s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(s["expires"]))
		if err != nil || s["status"] != "waiting" {
			t.Fatalf("session %s: %v, expires %v", id, s["status"], s["expires"])
		}
		return at.Sub(ts.clock.Now())
	}
	start := func(flow string) string {
		return ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": flow})["id"].(string)
	}

	id := start("outer-quick")
	if d := expires(id); d != 5*time.Minute {
		t.Errorf("waiting in the subflow: expires in %v, want the subflow's 5m", d)
	}
	ts.clock.Advance(time.Minute)
	ts.must(200, "POST", "/v1/sessions/"+id+"/resume", `{"text":"hi"}`)
	if d := expires(id); d != 60*time.Minute {
		t.Errorf("waiting in the caller: expires in %v, want the caller's 60m", d)
	}

	if d := expires(start("outer-plain")); d != 3*time.Hour {
		t.Errorf("waiting in a subflow without expire_minutes: expires in %v, want --session-expiry's 3h", d)
	}

	// The expiry fires then: the subflow expires and the caller takes its
	// Expired exit.
	quiet := start("outer-quick")
	ts.clock.Advance(5*time.Minute + time.Second)
	if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := ts.must(200, "GET", "/v1/sessions/"+quiet, nil)
	var widgets []string
	for _, p := range s["path"].([]any) {
		widgets = append(widgets, p.(map[string]any)["widget"].(string))
	}
	if s["status"] != "completed" || !slices.Equal(widgets, []string{"sub", "kwait", "gone"}) {
		t.Errorf("5 minutes after the start: %v through %v, want completed through the Expired exit", s["status"], widgets)
	}
}

// httpJSON sends requests with a JSON body to the server at base over real
// HTTP and returns the decoded answer, failing the test on an error status.
func httpJSON(t *testing.T, base string) func(method, path, body string) map[string]any {
	return func(method, path, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %v %v", method, path, resp.StatusCode, m, err)
		}
		return m
	}
}

// notFoundStore fails the saves of one session with something not found
// other than the session, as a flow or record the turn needs could be.
type notFoundStore struct {
	store.Store
	bad atomic.Value // session id
}

func (n *notFoundStore) SaveTurn(ctx context.Context, t *store.Turn) error {
	if n.bad.Load() == t.Session.ID {
		return fmt.Errorf("session %q: a record it needs: %w", t.Session.ID, store.ErrNotFound)
	}
	return n.Store.SaveTurn(ctx, t)
}

// A timer whose turn fails with something not found, while its session is
// still stored, is not taken for the timer of a deleted session: it stays,
// is logged and fires once the turn can be saved.
func TestTimerNotFoundOtherThanSessionKeepsTimer(t *testing.T) {
	b, err := store.Open(filepath.Join(t.TempDir(), DBFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ns, logs := &notFoundStore{Store: b}, &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.Store = ns
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	ts.createFlow(timeoutFlow)
	id := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "slow"})["id"].(string)
	ns.bad.Store(id)
	ctx := context.Background()
	ts.clock.Advance(61 * time.Second)
	if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "timer failed") {
		t.Errorf("the failed timer turn was not logged:\n%s", logs)
	}
	ns.bad.Store("")
	ts.clock.Advance(time.Second)
	if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
		t.Fatal(err)
	}
	if _, at := ts.lastWidget(id); at != "again" {
		t.Errorf("session at %v once its turn can be saved, want again (its timer kept)", at)
	}
}

// rendezvousStore is a store whose WritesHeld, which a timer scan calls as
// it starts and again for each due timer just before starting its turn,
// waits while armed for a second caller (at most 200 ms): two scans that
// run side by side meet there, each past its check of the timers already
// running.
type rendezvousStore struct {
	*store.Bolt
	armed   atomic.Bool
	mu      sync.Mutex
	waiting chan struct{}
}

func (r *rendezvousStore) WritesHeld() bool {
	if r.armed.Load() {
		r.mu.Lock()
		if ch := r.waiting; ch != nil {
			r.waiting = nil
			close(ch)
			r.mu.Unlock()
		} else {
			ch = make(chan struct{})
			r.waiting = ch
			r.mu.Unlock()
			select {
			case <-ch:
			case <-time.After(200 * time.Millisecond):
				r.mu.Lock()
				if r.waiting == ch {
					r.waiting = nil
				}
				r.mu.Unlock()
			}
		}
	}
	return r.Bolt.WritesHeld()
}

// Two scans that meet the same due timer at once, as the server's own scan
// and one a test runs may: the timer fires once, and neither scan returns
// before its turn has run, whichever scan started it.
func TestConcurrentScansWaitForTheTimerTheyMeet(t *testing.T) {
	var calls atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		time.Sleep(300 * time.Millisecond) // the turn is still running when the other scan is done
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(hook.Close)
	b, err := store.Open(filepath.Join(t.TempDir(), DBFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rs := &rendezvousStore{Bolt: b}
	ts := newTestServer(t, func(c *Config) {
		c.Store = rs
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	ts.createFlow(lateHookFlow(hook.URL))
	id := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "late-hook", "contact": map[string]any{"urn": "tel:+1"}})["id"].(string)
	ts.clock.Advance(61 * time.Second)

	rs.armed.Store(true)
	statuses := make(chan string, 2)
	for range 2 {
		go func() {
			if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
				t.Error(err)
			}
			sess, err := ts.srv.svc.store.LoadSession(context.Background(), id)
			if err != nil {
				t.Error(err)
				statuses <- ""
				return
			}
			statuses <- string(sess.Status)
		}()
	}
	for range 2 {
		if st := <-statuses; st != string(flows.StatusCompleted) {
			t.Errorf("a scan returned with the session %s, want completed by the timeout's turn", st)
		}
	}
	rs.armed.Store(false)
	if n := calls.Load(); n != 1 {
		t.Errorf("the timeout's webhook was called %d times, want once", n)
	}
	if _, at := ts.lastWidget(id); at != "ok" {
		t.Errorf("the session is at %v, want ok", at)
	}
}

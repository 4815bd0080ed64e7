package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/syncbuf"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

func verifier(t *testing.T, secret string) *standardwebhooks.Webhook {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

func TestPingOnCreateIsSignedEnvelope(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t)
	sub := e.create(Subscription{Name: "crm", URL: rc.URL + "/hook"})
	if len(sub.Secrets) != 1 || !strings.HasPrefix(sub.Secrets[0].Secret, SecretPrefix) {
		t.Fatalf("secrets = %+v, want one generated whsec_ secret", sub.Secrets)
	}
	waitFor(t, "the ping", func() bool { return len(rc.requests()) == 1 })
	got := rc.requests()[0]

	// The independent reference verifier accepts it, timestamp included.
	if err := verifier(t, sub.Secrets[0].Secret).Verify(got.Body, got.Header); err != nil {
		t.Fatalf("reference verifier: %v", err)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(got.Body, &env); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"data", "environment", "id", "timestamp", "type"}; !slices.Equal(keys, want) {
		t.Fatalf("envelope keys = %v, want %v", keys, want)
	}
	var id, typ string
	_ = json.Unmarshal(env["id"], &id)
	_ = json.Unmarshal(env["type"], &typ)
	if typ != EventWebhookPing || got.Header.Get(HeaderID) != id {
		t.Fatalf("type %q, webhook-id %q, id %q: want a webhook.ping whose id is the webhook-id", typ, got.Header.Get(HeaderID), id)
	}
	if got.Method != "POST" || got.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("method %s content-type %s", got.Method, got.Header.Get("Content-Type"))
	}
	if ts := got.Header.Get(HeaderTimestamp); ts != strconv.FormatInt(e.clock.Now().Unix(), 10) {
		t.Fatalf("webhook-timestamp %s, want the clock's %d", ts, e.clock.Now().Unix())
	}

	// Ping queues another.
	if _, err := e.svc.Ping(context.Background(), sub.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second ping", func() bool { return len(rc.requests()) == 2 })
}

func TestExtraJSONAndMethod(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t)
	e.create(Subscription{URL: rc.URL, Method: "put", ExtraJSON: json.RawMessage(`{"tenant":"acme"}`), Headers: map[string]string{"X-Tenant": "acme"}})
	waitFor(t, "the ping", func() bool { return len(rc.requests()) == 1 })
	got := rc.requests()[0]
	var env struct {
		Type  string         `json:"type"`
		Extra map[string]any `json:"extra"`
	}
	if err := json.Unmarshal(got.Body, &env); err != nil {
		t.Fatal(err)
	}
	if got.Method != "PUT" || env.Extra["tenant"] != "acme" || env.Type != EventWebhookPing || got.Header.Get("X-Tenant") != "acme" {
		t.Fatalf("method %s, envelope %+v, X-Tenant %q", got.Method, env, got.Header.Get("X-Tenant"))
	}
}

func TestSecretRotation(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t)
	old := NewSecret()
	sub := e.create(Subscription{URL: rc.URL, Secrets: []Secret{{Secret: old}}})
	waitFor(t, "the first ping", func() bool { return len(rc.requests()) == 1 })

	rotated, err := e.svc.RotateSecret(context.Background(), sub.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(rotated.Secrets) != 2 || rotated.Secrets[0].ExpiresAt == nil {
		t.Fatalf("after rotation secrets = %+v, want the old one expiring and a new one", rotated.Secrets)
	}
	fresh := rotated.Secrets[1].Secret

	if _, err := e.svc.Ping(context.Background(), sub.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ping during rotation", func() bool { return len(rc.requests()) == 2 })
	got := rc.requests()[1]
	if n := len(strings.Fields(got.Header.Get(HeaderSignature))); n != 2 {
		t.Fatalf("webhook-signature %q has %d entries, want 2", got.Header.Get(HeaderSignature), n)
	}
	for _, s := range []string{old, fresh} {
		if err := verifier(t, s).Verify(got.Body, got.Header); err != nil {
			t.Errorf("receiver holding one secret rejects the message: %v", err)
		}
		if err := Verify([]string{s}, got.Header, got.Body, 0); err != nil {
			t.Errorf("Verify with one secret: %v", err)
		}
	}

	// After the grace period only the new secret signs.
	e.clock.Advance(time.Hour + time.Second)
	if _, err := e.svc.Ping(context.Background(), sub.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ping after rotation", func() bool { return len(rc.requests()) == 3 })
	got = rc.requests()[2]
	if n := len(strings.Fields(got.Header.Get(HeaderSignature))); n != 1 {
		t.Fatalf("after expiry webhook-signature has %d entries, want 1", n)
	}
	if err := verifier(t, fresh).VerifyIgnoringTimestamp(got.Body, got.Header); err != nil {
		t.Fatalf("new secret: %v", err)
	}
	if err := verifier(t, old).VerifyIgnoringTimestamp(got.Body, got.Header); err == nil {
		t.Fatal("the expired secret still verifies")
	}
}

func TestRetryDelayJitterBounds(t *testing.T) {
	base := DefaultSchedule
	for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
		o := Options{Rand: func() float64 { return r }}.withDefaults()
		for n := 1; n <= len(base); n++ {
			d, ok := o.retryDelay(n)
			if !ok {
				t.Fatalf("attempt %d: schedule exhausted early", n)
			}
			lo, hi := time.Duration(float64(base[n-1])*0.9), time.Duration(float64(base[n-1])*1.1)
			if d < lo || d > hi {
				t.Errorf("rand %v attempt %d: delay %s outside [%s, %s]", r, n, d, lo, hi)
			}
		}
		if _, ok := o.retryDelay(len(base) + 1); ok {
			t.Errorf("attempt %d allowed beyond the schedule", len(base)+1)
		}
	}
	low := Options{Rand: func() float64 { return 0 }}.withDefaults()
	if d, _ := low.retryDelay(2); d != 4500*time.Millisecond {
		t.Errorf("lowest jitter of 5 s = %s, want 4.5 s", d)
	}
}

// TestRetrySchedule walks a delivery to an always-failing endpoint through
// the whole default schedule with the lowest jitter.
func TestRetrySchedule(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Rand = func() float64 { return 0 } })
	rc := newReceiver(t)
	rc.setReply(status(http.StatusInternalServerError))
	sub := e.create(Subscription{URL: rc.URL, Events: []string{EventSessionStarted}})
	e.settle()
	e.enqueue(Event{ID: "evt_1", Type: EventSessionStarted})
	e.settle()
	ds := e.deliveriesOf(sub.ID, EventSessionStarted)
	if len(ds) != 1 {
		t.Fatalf("deliveries = %d, want 1", len(ds))
	}
	id := ds[0].ID
	for n := 1; n < len(DefaultSchedule); n++ {
		d := e.delivery(id)
		if d.Attempts != n || d.Status != StatusPending || d.NextAttempt == nil {
			t.Fatalf("after attempt %d: %+v", n, d)
		}
		want := time.Duration(float64(DefaultSchedule[n]) * 0.9)
		if got := d.NextAttempt.Sub(*d.LastAttempt); got != want {
			t.Fatalf("delay before attempt %d = %s, want %s", n+1, got, want)
		}
		e.clock.Set(d.NextAttempt.Add(-time.Millisecond))
		e.settle()
		if a := e.delivery(id).Attempts; a != n {
			t.Fatalf("attempt %d sent before its time", n+1)
		}
		e.clock.Set(*d.NextAttempt)
		e.settle()
	}
	d := e.delivery(id)
	if d.Status != StatusFailed || d.Attempts != len(DefaultSchedule) || d.NextAttempt != nil {
		t.Fatalf("after the schedule: status %s attempts %d next %v", d.Status, d.Attempts, d.NextAttempt)
	}
	ids := map[string]bool{}
	for _, r := range rc.requests() {
		if strings.Contains(string(r.Body), `"evt_1"`) {
			ids[r.Header.Get(HeaderID)] = true
		}
	}
	if len(ids) != 1 || !ids["evt_1"] {
		t.Fatalf("webhook-ids across retries = %v, want only evt_1", ids)
	}
	if a := e.attempts(id); len(a) != len(DefaultSchedule) || a[0].Response.Status != 500 || a[7].Number != 8 {
		t.Fatalf("attempts log: %d entries", len(a))
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header func(now time.Time) string
		want   time.Duration
	}{
		{"429 seconds", 429, func(time.Time) string { return "120" }, 120 * time.Second},
		{"503 http date", 503, func(now time.Time) string { return now.Add(300 * time.Second).UTC().Format(http.TimeFormat) }, 300 * time.Second},
		{"429 shorter than schedule", 429, func(time.Time) string { return "1" }, 5 * time.Second},
		{"500 ignores it", 500, func(time.Time) string { return "120" }, 5 * time.Second},
		{"429 capped", 429, func(time.Time) string { return "999999" }, 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.Jitter = -1 })
			rc := newReceiver(t)
			rc.setReply(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tt.header(e.clock.Now()))
				w.WriteHeader(tt.status)
			})
			sub := e.create(Subscription{URL: rc.URL})
			e.settle()
			ds := e.deliveries(sub.ID)
			if len(ds) != 1 || ds[0].NextAttempt == nil {
				t.Fatalf("deliveries %+v", ds)
			}
			if got := ds[0].NextAttempt.Sub(*ds[0].LastAttempt); got != tt.want {
				t.Fatalf("next attempt in %s, want %s", got, tt.want)
			}
		})
	}
}

func TestGoneDisablesEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	gone := newReceiver(t)
	gone.setReply(status(http.StatusGone))
	watcher := newReceiver(t)
	w := e.create(Subscription{URL: watcher.URL, Events: []string{EventEndpointDisabled}})
	sub := e.create(Subscription{Name: "old", URL: gone.URL})
	e.settle()

	got, _ := e.svc.Get(context.Background(), sub.ID)
	if !got.Disabled || !strings.Contains(got.DisabledReason, "410") {
		t.Fatalf("subscription after 410: disabled %v reason %q", got.Disabled, got.DisabledReason)
	}
	ds := e.deliveries(sub.ID)
	if len(ds) != 1 || ds[0].Status != StatusFailed || ds[0].Attempts != 1 {
		t.Fatalf("ping delivery after 410: %+v", ds[0])
	}
	dis := e.deliveriesOf(w.ID, EventEndpointDisabled)
	if len(dis) != 1 || dis[0].Status != StatusSucceeded {
		t.Fatalf("endpoint.disabled deliveries to the other subscription: %d", len(dis))
	}
	// Later events are recorded for the disabled endpoint, not sent.
	e.enqueue(Event{Type: EventSessionStarted})
	e.settle()
	if ds := e.deliveries(sub.ID); len(ds) != 2 || ds[1].Status != StatusDisabled || ds[1].Attempts != 0 {
		t.Fatalf("disabled endpoint has %d deliveries, want the ping and a disabled one", len(ds))
	}
	if len(gone.requests()) != 1 {
		t.Fatalf("disabled endpoint was called %d times", len(gone.requests()))
	}
}

// The log line of a disable shows the URL as the deliveries log does: its
// password and credential query values redacted.
func TestDisableLogRedactsURL(t *testing.T) {
	var logs syncbuf.Buffer
	e := newEnv(t, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	gone := newReceiver(t)
	gone.setReply(status(http.StatusGone))
	u := strings.Replace(gone.URL, "http://", "http://user:URLPASSWORD9@", 1) + "/hook?token=QUERYTOKEN9"
	sub := e.create(Subscription{Name: "old", URL: u})
	e.settle()
	if got, _ := e.svc.Get(context.Background(), sub.ID); !got.Disabled {
		t.Fatal("the endpoint was not disabled")
	}
	out := logs.String()
	if !strings.Contains(out, "webhook endpoint disabled") {
		t.Fatalf("no disable line in the log:\n%s", out)
	}
	if strings.Contains(out, "URLPASSWORD9") || strings.Contains(out, "QUERYTOKEN9") {
		t.Errorf("the log shows the URL's secrets:\n%s", out)
	}
}

// A connection error names the URL as the log shows it: a credential query
// value too short to redact as a string is hidden all the same.
func TestConnectionErrorRedactsURL(t *testing.T) {
	e := newEnv(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	sub := e.create(Subscription{URL: closed + "/hook?token=abc&plain=xyz"})
	e.settle()
	ds := e.deliveries(sub.ID)
	if len(ds) == 0 {
		t.Fatal("no delivery")
	}
	atts := e.attempts(ds[0].ID)
	if len(atts) == 0 || atts[0].Error == "" {
		t.Fatalf("attempts %+v, want a failed one", atts)
	}
	for _, msg := range []string{atts[0].Error, ds[0].LastError} {
		if strings.Contains(msg, "token=abc") || !strings.Contains(msg, "plain=xyz") {
			t.Errorf("error %q, want the URL with its token redacted", msg)
		}
	}
}

func TestDisableAfterFiveDaysOfFailures(t *testing.T) {
	e := newEnv(t, nil)
	failing := newReceiver(t)
	failing.setReply(status(http.StatusBadGateway))
	other := newReceiver(t)
	a := e.create(Subscription{Name: "failing", URL: failing.URL, Events: []string{EventSessionStarted}})
	b := e.create(Subscription{Name: "other", URL: other.URL})
	e.settle()
	start := e.clock.Now()

	e.enqueue(Event{Type: EventSessionStarted})
	e.settle()

	// Four days on, still failing: not yet disabled.
	e.clock.Set(start.Add(4 * 24 * time.Hour))
	e.enqueue(Event{Type: EventSessionStarted})
	e.settle()
	if got, _ := e.svc.Get(context.Background(), a.ID); got.Disabled {
		t.Fatal("disabled after four days")
	}
	h, err := e.svc.Health(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if h.ConsecutiveFailures < 2 || h.LastSuccess != nil || h.OldestPending == nil || h.LagSeconds < 4*24*3600 {
		t.Fatalf("health after four days: %+v", h)
	}

	e.clock.Set(start.Add(5*24*time.Hour + time.Minute))
	e.enqueue(Event{Type: EventSessionStarted})
	e.settle()
	got, _ := e.svc.Get(context.Background(), a.ID)
	if !got.Disabled || !strings.Contains(got.DisabledReason, "no successful delivery") {
		t.Fatalf("after five days: disabled %v reason %q", got.Disabled, got.DisabledReason)
	}
	dis := e.deliveriesOf(b.ID, EventEndpointDisabled)
	if len(dis) != 1 || dis[0].Status != StatusSucceeded {
		t.Fatalf("other subscription got %d endpoint.disabled deliveries", len(dis))
	}
	var env struct {
		Data struct {
			EndpointID string `json:"endpoint_id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(e.delivery(dis[0].ID).Payload, &env)
	if env.Data.EndpointID != a.ID {
		t.Fatalf("endpoint.disabled names %q, want %q", env.Data.EndpointID, a.ID)
	}
	if n := len(e.deliveriesOf(a.ID, EventEndpointDisabled)); n != 0 {
		t.Fatalf("the disabled endpoint got its own endpoint.disabled (%d)", n)
	}
	for _, d := range e.deliveries(a.ID) {
		if d.Status == StatusPending {
			t.Fatalf("delivery %s still pending on a disabled endpoint", d.ID)
		}
	}
	if h, _ := e.svc.Health(context.Background(), a.ID); !h.Disabled || h.Pending != 0 {
		t.Fatalf("health after disabling: %+v", h)
	}
}

func TestRetryAndRecover(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Schedule = []time.Duration{0} })
	rc := newReceiver(t)
	rc.setReply(status(http.StatusInternalServerError))
	sub := e.create(Subscription{URL: rc.URL, Events: []string{EventSessionFinished}})
	e.settle()
	for i := 0; i < 3; i++ {
		e.enqueue(Event{Type: EventSessionFinished})
		e.settle()
		e.clock.Advance(time.Minute)
	}
	ds := e.deliveriesOf(sub.ID, EventSessionFinished)
	if len(ds) != 3 {
		t.Fatalf("deliveries = %d", len(ds))
	}
	for _, d := range ds {
		if d.Status != StatusFailed {
			t.Fatalf("delivery %s is %s, want failed", d.ID, d.Status)
		}
	}
	// A failed manual retry goes back to failed without a schedule.
	if _, err := e.svc.Retry(context.Background(), ds[0].ID); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if d := e.delivery(ds[0].ID); d.Status != StatusFailed || d.Attempts != 2 || d.NextAttempt != nil {
		t.Fatalf("after a failed retry: %+v", d)
	}

	rc.setReply(nil)
	if _, err := e.svc.Retry(context.Background(), ds[0].ID); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if d := e.delivery(ds[0].ID); d.Status != StatusSucceeded || d.Attempts != 3 {
		t.Fatalf("after a retry: %+v", d)
	}

	// Recover from the second delivery on: the third and second are resent.
	n, err := e.svc.Recover(context.Background(), sub.ID, ds[1].CreatedAt)
	if err != nil || n != 2 {
		t.Fatalf("Recover = %d, %v; want 2", n, err)
	}
	e.settle()
	for _, d := range ds[1:] {
		if got := e.delivery(d.ID); got.Status != StatusSucceeded {
			t.Fatalf("delivery %s after recover: %s", d.ID, got.Status)
		}
	}
	if _, err := e.svc.Retry(context.Background(), "nope"); !isNotFound(err) {
		t.Fatalf("Retry(unknown) = %v", err)
	}
}

func TestRetrySurvivesRestart(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t)
	rc.setReply(status(http.StatusServiceUnavailable))
	sub := e.create(Subscription{URL: rc.URL, Events: []string{EventFlowCompleted}})
	e.settle()
	e.enqueue(Event{ID: "evt_restart", Type: EventFlowCompleted, FlowID: "f1"})
	e.settle()
	d := e.deliveriesOf(sub.ID, EventFlowCompleted)[0]
	if d.Status != StatusPending || d.Attempts != 1 {
		t.Fatalf("before restart: %+v", d)
	}

	e.close()
	rc.setReply(nil)
	e.open(nil)
	e.clock.Set(*d.NextAttempt)
	e.settle()

	got := e.delivery(d.ID)
	if got.Status != StatusSucceeded || got.Attempts != 2 {
		t.Fatalf("after restart: status %s attempts %d", got.Status, got.Attempts)
	}
	var ids []string
	for _, r := range rc.requests() {
		if strings.Contains(string(r.Body), "evt_restart") {
			ids = append(ids, r.Header.Get(HeaderID))
		}
	}
	if !slices.Equal(ids, []string{"evt_restart", "evt_restart"}) {
		t.Fatalf("webhook-ids = %v", ids)
	}
}

func TestFiltering(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t)
	subs := map[string]*Subscription{
		"live-all":     e.create(Subscription{URL: rc.URL, Environment: EnvLive}),
		"sandbox-all":  e.create(Subscription{URL: rc.URL, Environment: EnvSandbox}),
		"finished":     e.create(Subscription{URL: rc.URL, Events: []string{EventSessionFinished}}),
		"flow-a":       e.create(Subscription{URL: rc.URL, Flows: []string{"flow-a"}}),
		"default":      e.create(Subscription{URL: rc.URL, Events: []string{EventSessionStarted}, Flows: []string{"flow-a"}, IsDefault: true}),
		"disabled-all": e.create(Subscription{URL: rc.URL, Disabled: true}),
	}
	e.enqueue(
		Event{ID: "e1", Type: EventSessionStarted, FlowID: "flow-a"},
		Event{ID: "e2", Type: EventSessionStarted, FlowID: "flow-a", Environment: EnvSandbox},
		Event{ID: "e3", Type: EventSessionFinished, FlowID: "flow-b"},
		Event{ID: "e4", Type: EventFlowCompleted, FlowID: "flow-b"},
	)
	e.settle()
	want := map[string][]string{
		"live-all":     {"e1", "e3", "e4"},
		"sandbox-all":  {"e2"},
		"finished":     {"e3"},
		"flow-a":       {"e1"},
		"default":      {"e1", "e4"},
		"disabled-all": {"e1", "e3", "e4"}, // recorded, not sent
	}
	for name, sub := range subs {
		var got []string
		for _, d := range e.deliveries(sub.ID) {
			if d.EventType != EventWebhookPing {
				got = append(got, d.EventID)
			}
			wantStatus := StatusSucceeded
			if sub.Disabled {
				wantStatus = StatusDisabled
			}
			if d.Status != wantStatus {
				t.Errorf("%s: delivery of %s is %s, want %s", name, d.EventID, d.Status, wantStatus)
			}
		}
		if !slices.Equal(got, want[name]) {
			t.Errorf("%s received %v, want %v", name, got, want[name])
		}
	}
	if st := e.svc.Stats(); st.OutboxDepth != 0 || st.Deliveries[StatusSucceeded] == 0 {
		t.Errorf("stats %+v", st)
	}
}

// A subscription created after an event was committed, before the event is
// fanned out, does not get it: it takes the events that happened from its
// created_at on.
func TestSubscriptionGetsOnlyEventsFromItsCreation(t *testing.T) {
	e := newEnvStopped(t)
	rc := newReceiver(t)
	old := e.create(Subscription{URL: rc.URL})
	e.clock.Advance(time.Millisecond)
	before := e.clock.Now()
	enqueueTx := func(ev Event) {
		t.Helper()
		ev.Environment, ev.Data = EnvLive, json.RawMessage(`{"session_id":"s1"}`)
		if err := e.db.Update(func(tx *bbolt.Tx) error { return EnqueueTx(tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	enqueueTx(Event{ID: "e-before", Type: EventSessionLaunched, Timestamp: before, FlowID: "f"})
	e.clock.Advance(time.Millisecond)
	late := e.create(Subscription{URL: rc.URL, Events: []string{EventSessionLaunched}})
	// The same instant as its creation counts as from it on.
	enqueueTx(Event{ID: "e-at", Type: EventSessionLaunched, Timestamp: late.CreatedAt, FlowID: "f"})
	e.start()
	e.settle()

	got := func(sub *Subscription) []string {
		var ids []string
		for _, d := range e.deliveriesOf(sub.ID, EventSessionLaunched) {
			ids = append(ids, d.EventID)
		}
		return ids
	}
	if ids := got(old); !slices.Equal(ids, []string{"e-before", "e-at"}) {
		t.Errorf("the older subscription received %v, want [e-before e-at]", ids)
	}
	if ids := got(late); !slices.Equal(ids, []string{"e-at"}) {
		t.Errorf("a subscription created at %s received %v, want only [e-at]: e-before happened at %s",
			late.CreatedAt.Format(time.RFC3339Nano), ids, before.Format(time.RFC3339Nano))
	}
}

func TestRedactionInLog(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t)
	sub := e.create(Subscription{
		URL:     rc.URL + "/hook?token=tok-in-url-123&plain=1",
		Auth:    &flows.WebhookAuth{Type: flows.AuthBasic, Username: "parley", Password: "hunter2-password"},
		Headers: map[string]string{"X-Api-Key": "key-abcdef-123", "X-Trace": "trace-1"},
	})
	e.settle()
	got := rc.requests()[0]
	if u, p, ok := (&http.Request{Header: got.Header}).BasicAuth(); !ok || u != "parley" || p != "hunter2-password" {
		t.Fatalf("receiver got basic auth %q %q %v", u, p, ok)
	}
	if got.Header.Get("X-Api-Key") != "key-abcdef-123" {
		t.Fatal("receiver did not get X-Api-Key")
	}
	d := e.deliveries(sub.ID)[0]
	atts := e.attempts(d.ID)
	req := atts[0].Request
	if req.Headers["Authorization"] != redacted || req.Headers["X-Api-Key"] != redacted || req.Headers["X-Trace"] != "trace-1" {
		t.Fatalf("logged headers %v", req.Headers)
	}
	if req.Headers["Webhook-Id"] != d.MessageID {
		t.Fatalf("logged webhook-id %q", req.Headers["Webhook-Id"])
	}
	raw, _ := json.Marshal(atts)
	draw, _ := json.Marshal(e.delivery(d.ID))
	for _, secret := range []string{"hunter2-password", "key-abcdef-123", "tok-in-url-123", sub.Secrets[0].Secret, strings.TrimPrefix(sub.Secrets[0].Secret, SecretPrefix)} {
		if strings.Contains(string(raw), secret) || strings.Contains(string(draw), secret) {
			t.Errorf("secret %q appears in the deliveries log", secret)
		}
	}
}

func TestOAuth2(t *testing.T) {
	tests := []struct {
		name  string
		auth  flows.WebhookAuth
		grant string
	}{
		{"client credentials", flows.WebhookAuth{Type: flows.AuthOAuth2ClientCredentials, ClientID: "cid", ClientSecret: "csecret-xyz", Scopes: []string{"hooks"}, Audience: "parley"}, "client_credentials"},
		{"password", flows.WebhookAuth{Type: flows.AuthOAuth2Password, ClientID: "cid", ClientSecret: "csecret-xyz", Username: "u", Password: "pw-secret-1"}, "password"},
		{"client credentials, json token request", flows.WebhookAuth{Type: flows.AuthOAuth2ClientCredentials, ClientID: "cid", ClientSecret: "csecret-xyz", Encoding: "json"}, "client_credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			var mu sync.Mutex
			var tokenRequests []string
			tokens := newReceiver(t)
			tokens.setReply(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				tokenRequests = append(tokenRequests, r.Form.Get("grant_type"))
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}`))
			})
			rc := newReceiver(t)
			rc.setReply(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer tok-1" {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				w.Header().Set("X-Seen", "yes")
				w.Write([]byte(`{"ok":true}`))
			})
			auth := tt.auth
			auth.TokenURL = tokens.URL + "/token"
			sub := e.create(Subscription{URL: rc.URL, Auth: &auth})
			e.settle()

			res, err := e.svc.Test(context.Background(), sub.ID)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != flows.OutcomeSuccess || res.Response == nil || res.Response.Status != 200 ||
				res.Response.Body != `{"ok":true}` || res.Response.Headers["X-Seen"] != "yes" {
				t.Fatalf("Test result %+v response %+v", res, res.Response)
			}
			if res.Request.Headers["Authorization"] != redacted || res.Request.Method != "POST" || !strings.Contains(res.Request.Body, `"test":true`) {
				t.Fatalf("Test request %+v", res.Request)
			}
			if d := e.deliveries(sub.ID)[0]; d.Status != StatusSucceeded {
				t.Fatalf("ping with oauth2: %s (%s)", d.Status, d.LastError)
			}
			reqs := tokens.requests()
			wantBody := "grant_type=" + tt.grant
			if tt.auth.Encoding == "json" {
				wantBody = `"grant_type":"` + tt.grant + `"`
			}
			if len(reqs) != 1 || !strings.Contains(string(reqs[0].Body), wantBody) {
				t.Fatalf("token requests %d, want one cached %s grant", len(reqs), tt.grant)
			}
		})
	}
}

func TestTestReportsFailure(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t)
	sub := e.create(Subscription{URL: rc.URL})
	rc.setReply(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("short and stout"))
	})
	res, err := e.svc.Test(context.Background(), sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != flows.OutcomeFailure || res.Response.Status != 418 || res.Response.Body != "short and stout" {
		t.Fatalf("Test = %+v", res)
	}
	if _, err := e.svc.Test(context.Background(), "missing"); !isNotFound(err) {
		t.Fatalf("Test(missing) = %v", err)
	}
}

func TestAddressGuard(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AllowedCIDRs = nil; o.Schedule = []time.Duration{0} })
	rc := newReceiver(t)
	sub := e.create(Subscription{URL: rc.URL})
	e.settle()
	d := e.deliveries(sub.ID)[0]
	if a := e.attempts(d.ID); d.Status != StatusFailed || a[0].Outcome != flows.OutcomeBlocked {
		t.Fatalf("loopback delivery without allowlist: %s %+v", d.Status, a[0])
	}
	if len(rc.requests()) != 0 {
		t.Fatal("the guarded dialer reached a loopback receiver")
	}
}

func TestSlowReceiverDoesNotBlockOthers(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.PerEndpoint = 2 })
	release := make(chan struct{})
	var mu sync.Mutex
	cur, peak := 0, 0
	slow := newReceiver(t)
	slow.setReply(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cur++
		peak = max(peak, cur)
		mu.Unlock()
		<-release
		mu.Lock()
		cur--
		mu.Unlock()
	})
	fast := newReceiver(t)
	s := e.create(Subscription{URL: slow.URL, Events: []string{EventSessionUpdated}})
	f := e.create(Subscription{URL: fast.URL, Events: []string{EventSessionUpdated}})
	waitFor(t, "the slow ping to hang", func() bool { return len(slow.requests()) == 1 })
	e.enqueue(Event{Type: EventSessionUpdated}, Event{Type: EventSessionUpdated}, Event{Type: EventSessionUpdated}, Event{Type: EventSessionUpdated})
	waitFor(t, "the fast endpoint to get every event while the slow one hangs", func() bool {
		ds := e.deliveriesOf(f.ID, EventSessionUpdated)
		n := 0
		for _, d := range ds {
			if d.Status == StatusSucceeded {
				n++
			}
		}
		return n == 4
	})
	close(release)
	e.settle()
	for _, d := range e.deliveriesOf(s.ID, EventSessionUpdated) {
		if d.Status != StatusSucceeded {
			t.Fatalf("slow delivery %s: %s", d.ID, d.Status)
		}
	}
	if peak > 2 {
		t.Fatalf("%d concurrent requests to one endpoint, limit 2", peak)
	}
}

func TestPrune(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Retention = time.Hour })
	rc := newReceiver(t)
	sub := e.create(Subscription{URL: rc.URL})
	e.settle()
	old := e.deliveries(sub.ID)[0]
	e.clock.Advance(2 * time.Hour)
	if _, err := e.svc.Ping(context.Background(), sub.ID); err != nil {
		t.Fatal(err)
	}
	e.settle()
	n, err := e.svc.Prune(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1", n, err)
	}
	if _, err := e.svc.GetDelivery(context.Background(), old.ID); !isNotFound(err) {
		t.Fatalf("pruned delivery: %v", err)
	}
	if _, err := e.svc.Attempts(context.Background(), old.ID); !isNotFound(err) {
		t.Fatalf("pruned attempts: %v", err)
	}
	if ds := e.deliveries(sub.ID); len(ds) != 1 || ds[0].ID == old.ID {
		t.Fatalf("after prune: %d deliveries", len(ds))
	}
}

func TestListDeliveriesPaging(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Schedule = []time.Duration{0} })
	rc := newReceiver(t)
	sub := e.create(Subscription{URL: rc.URL, Events: []string{EventSessionStarted}})
	e.settle()
	rc.setReply(status(500))
	for i := 0; i < 5; i++ {
		e.clock.Advance(time.Second)
		e.enqueue(Event{ID: "p" + strconv.Itoa(i), Type: EventSessionStarted})
		e.settle()
	}
	var got []string
	cursor := ""
	for {
		page, err := e.svc.ListDeliveries(context.Background(), sub.ID, DeliveryQuery{Status: StatusFailed, Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Deliveries {
			got = append(got, d.EventID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if want := []string{"p4", "p3", "p2", "p1", "p0"}; !slices.Equal(got, want) {
		t.Fatalf("failed deliveries, paged = %v, want %v", got, want)
	}
	since := e.deliveriesOf(sub.ID, EventSessionStarted)[3].CreatedAt
	page, _ := e.svc.ListDeliveries(context.Background(), sub.ID, DeliveryQuery{Since: since})
	if len(page.Deliveries) != 2 {
		t.Fatalf("since filter: %d deliveries, want 2", len(page.Deliveries))
	}
	if _, err := e.svc.ListDeliveries(context.Background(), sub.ID, DeliveryQuery{Status: "bogus"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad status: %v", err)
	}
}

func TestValidation(t *testing.T) {
	e := newEnv(t, nil)
	ok := "http://127.0.0.1:1/hook"
	tests := []struct {
		name  string
		sub   Subscription
		field string
	}{
		{"no url", Subscription{}, "url"},
		{"ftp url", Subscription{URL: "ftp://x/y"}, "url"},
		{"port over 65535", Subscription{URL: "http://127.0.0.1:99999/x"}, "url"},
		{"port 0", Subscription{URL: "http://127.0.0.1:0/x"}, "url"},
		{"port not a number", Subscription{URL: "http://[::1]:http/x"}, "url"},
		{"port without host", Subscription{URL: "https://:443/"}, "url"},
		{"GET", Subscription{URL: ok, Method: "GET"}, "method"},
		{"content type", Subscription{URL: ok, ContentType: "xml"}, "content_type"},
		{"auth type", Subscription{URL: ok, Auth: &flows.WebhookAuth{Type: "magic"}}, "auth.type"},
		{"basic without user", Subscription{URL: ok, Auth: &flows.WebhookAuth{Type: flows.AuthBasic}}, "auth.username"},
		{"oauth2 without token url", Subscription{URL: ok, Auth: &flows.WebhookAuth{Type: flows.AuthOAuth2ClientCredentials, ClientID: "c"}}, "auth.token_url"},
		{"password grant without password", Subscription{URL: ok, Auth: &flows.WebhookAuth{Type: flows.AuthOAuth2Password, TokenURL: ok, ClientID: "c", Username: "u"}}, "auth.password"},
		{"reserved header", Subscription{URL: ok, Headers: map[string]string{"Webhook-Signature": "x"}}, "headers.Webhook-Signature"},
		{"bad header name", Subscription{URL: ok, Headers: map[string]string{"bad header": "x"}}, "headers.bad header"},
		{"extra json", Subscription{URL: ok, ExtraJSON: json.RawMessage(`{nope`)}, "extra_json"},
		{"bad secret", Subscription{URL: ok, Secrets: []Secret{{Secret: "whsec_!!"}}}, "secrets[0].secret"},
		{"expired secrets", Subscription{URL: ok, Secrets: []Secret{{Secret: NewSecret(), ExpiresAt: &time.Time{}}}}, "secrets"},
		{"unknown event", Subscription{URL: ok, Events: []string{"session.started", "session.exploded"}}, "events[1]"},
		{"empty flow", Subscription{URL: ok, Flows: []string{" "}}, "flows[0]"},
		{"environment", Subscription{URL: ok, Environment: "staging"}, "environment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.Create(context.Background(), tt.sub)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.field || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Create = %v, want a validation error on %s", err, tt.field)
			}
		})
	}
	subs, _ := e.svc.List(context.Background(), "")
	if len(subs) != 0 {
		t.Fatalf("invalid subscriptions were stored: %d", len(subs))
	}
}

func TestCRUD(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	rc := newReceiver(t)
	a := e.create(Subscription{Name: "a", URL: rc.URL})
	b := e.create(Subscription{Name: "b", URL: rc.URL, Environment: EnvSandbox})
	if a.Method != "POST" || a.ContentType != "json" || !slices.Equal(a.Events, []string{"*"}) || a.Environment != EnvLive {
		t.Fatalf("defaults: %+v", a)
	}
	list, _ := e.svc.List(ctx, EnvSandbox)
	if len(list) != 1 || list[0].ID != b.ID {
		t.Fatalf("List(sandbox) = %v", list)
	}
	upd := *a
	upd.Secrets = nil
	upd.Description = "changed"
	upd.Disabled = true
	got, err := e.svc.Update(ctx, a.ID, upd)
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != "changed" || got.Secrets[0].Secret != a.Secrets[0].Secret || !got.Disabled || got.DisabledReason == "" {
		t.Fatalf("Update: %+v", got)
	}
	if _, err := e.svc.Ping(ctx, a.ID); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Ping(disabled) = %v", err)
	}
	if err := e.svc.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Get(ctx, b.ID); !isNotFound(err) {
		t.Fatalf("Get(deleted) = %v", err)
	}
	if _, err := e.svc.Update(ctx, "missing", upd); !isNotFound(err) {
		t.Fatalf("Update(missing) = %v", err)
	}
	// Subscriptions survive a restart.
	e.close()
	e.open(nil)
	if got, err := e.svc.Get(ctx, a.ID); err != nil || got.Description != "changed" {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
}

// Deleting a subscription ends its pending deliveries at once, disabled with
// "subscription deleted", instead of leaving them pending until the next
// attempt finds the subscription gone; the pending gauge drops with them.
func TestDeleteDisablesPendingDeliveries(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t)
	rc.setReply(status(http.StatusServiceUnavailable))
	sub := e.create(Subscription{URL: rc.URL, Events: []string{EventFlowCompleted}})
	other := e.create(Subscription{URL: rc.URL, Events: []string{EventFlowCompleted}})
	e.settle()
	e.enqueue(Event{ID: "e1", Type: EventFlowCompleted, FlowID: "f"}, Event{ID: "e2", Type: EventFlowCompleted, FlowID: "f"})
	e.settle()
	if d := e.deliveriesOf(sub.ID, EventFlowCompleted); len(d) != 2 || d[0].Status != StatusPending || d[0].Attempts != 1 {
		t.Fatalf("before the delete: %+v", d)
	}
	// Each subscription's ping fails too: three pending each.
	if st := e.svc.Stats(); st.Pending != 6 {
		t.Fatalf("pending before the delete: %d, want 6", st.Pending)
	}
	disabledBefore := e.svc.Stats().Deliveries[StatusDisabled]

	if err := e.svc.Delete(context.Background(), sub.ID); err != nil {
		t.Fatal(err)
	}
	// No attempt is due (the clock has not moved): only Delete can have
	// changed them.
	for _, d := range e.deliveries(sub.ID) {
		if d.Status != StatusDisabled || d.LastError != "subscription deleted" || d.NextAttempt != nil {
			t.Errorf("delivery of %s after the delete: status %s, last_error %q, next_attempt %v; want disabled, subscription deleted, none",
				d.EventID, d.Status, d.LastError, d.NextAttempt)
		}
	}
	st := e.svc.Stats()
	if st.Pending != 3 {
		t.Errorf("pending after the delete: %d, want the other subscription's 3", st.Pending)
	}
	if n := st.Deliveries[StatusDisabled] - disabledBefore; n != 3 {
		t.Errorf("deliveries counted disabled by the delete: %d, want 3", n)
	}
	for _, d := range e.deliveries(other.ID) {
		if d.Status != StatusPending {
			t.Errorf("the other subscription's delivery of %s is %s, want pending", d.EventID, d.Status)
		}
	}
}

// A delivery in flight when its subscription is deleted, whose attempt then
// fails, stays disabled: it is not scheduled again.
func TestDeleteWhileInFlightIsNotRetried(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t)
	arrived, release := rc.holdReply(http.StatusServiceUnavailable)
	sub := e.create(Subscription{URL: rc.URL, Events: []string{EventFlowCompleted}})
	<-arrived // the ping, in flight
	if err := e.svc.Delete(context.Background(), sub.ID); err != nil {
		t.Fatal(err)
	}
	close(release)
	e.settle()
	ds := e.deliveries(sub.ID)
	if len(ds) != 1 {
		t.Fatalf("deliveries: %+v", ds)
	}
	if d := ds[0]; d.Status != StatusDisabled || d.LastError != "subscription deleted" || d.NextAttempt != nil || d.Attempts != 1 {
		t.Errorf("after its attempt failed: status %s, last_error %q, next_attempt %v, attempts %d; want disabled, subscription deleted, none, 1",
			d.Status, d.LastError, d.NextAttempt, d.Attempts)
	}
	if st := e.svc.Stats(); st.Pending != 0 {
		t.Errorf("pending: %d, want 0", st.Pending)
	}
}

func TestFormContentType(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t)
	sub := e.create(Subscription{URL: rc.URL, ContentType: flows.ContentForm})
	e.settle()
	got := rc.requests()[0]
	if got.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || !strings.HasPrefix(string(got.Body), "payload=") {
		t.Fatalf("form delivery: %s %s", got.Header.Get("Content-Type"), got.Body)
	}
	if err := Verify([]string{sub.Secrets[0].Secret}, got.Header, got.Body, 0); err != nil {
		t.Fatalf("signature over the form body: %v", err)
	}
	// What docs/events.md tells receivers of form bodies: the Go reference
	// library verifies the raw body, then the payload field is the envelope.
	if err := verifier(t, sub.Secrets[0].Secret).Verify(got.Body, got.Header); err != nil {
		t.Fatalf("the reference library rejects the form body: %v", err)
	}
	form, err := url.ParseQuery(string(got.Body))
	var env Envelope
	if err == nil {
		err = json.Unmarshal([]byte(form.Get("payload")), &env)
	}
	if err != nil || env.Type != EventWebhookPing || env.ID != got.Header.Get(HeaderID) {
		t.Fatalf("form payload: %+v, %v", env, err)
	}
}

// An event over 1 MiB (a flow.completed keeping a large webhook answer) is
// sent whole, and the receiver of docs/events.md, which reads the whole body
// up to its bound, verifies it; one that cuts the body at 1 MiB cannot.
func TestLargeEventVerifiesAtTheDocumentedReceiver(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t)
	sub := e.create(Subscription{URL: rc.URL, Events: []string{EventFlowCompleted}})
	answer := `{"rows":"` + strings.Repeat("x", 1300<<10) + `"}`
	e.enqueue(Event{ID: "big", Type: EventFlowCompleted, FlowID: "f",
		Data: json.RawMessage(`{"session_id":"s1","variables":{"lookup":{"value":"200","json":` + answer + `}}}`)})
	e.settle()
	var got *received
	for _, r := range rc.requests() {
		if r.Header.Get(HeaderID) == "big" {
			got = &r
		}
	}
	if got == nil {
		t.Fatal("the large event was not sent")
	}
	if len(got.Body) <= 1<<20 {
		t.Fatalf("the event is %d bytes, want over 1 MiB", len(got.Body))
	}
	// The request again, read as the sample reads it, with its bound.
	receive := func(limit int64) error {
		r := httptest.NewRequest(http.MethodPost, "/hooks/parley", bytes.NewReader(got.Body))
		r.Header = got.Header
		body, err := io.ReadAll(http.MaxBytesReader(httptest.NewRecorder(), r.Body, limit))
		if err != nil {
			return err
		}
		return Verify([]string{sub.Secrets[0].Secret}, r.Header, body, 0)
	}
	if err := receive(64 << 20); err != nil {
		t.Errorf("the documented receiver rejects a %d-byte event: %v", len(got.Body), err)
	}
	if err := receive(1 << 20); err == nil {
		t.Errorf("a receiver reading 1 MiB accepted a %d-byte event", len(got.Body))
	}
	if d := e.deliveriesOf(sub.ID, EventFlowCompleted); len(d) != 1 || d[0].Status != StatusSucceeded {
		t.Errorf("deliveries %+v", d)
	}
}

func TestDisableThenReenableAndRecover(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	rc := newReceiver(t)
	rc.setReply(status(http.StatusInternalServerError))
	sub := e.create(Subscription{URL: rc.URL})
	e.settle()
	d := e.deliveries(sub.ID)[0]
	if d.Status != StatusPending {
		t.Fatalf("ping after a 500: %s", d.Status)
	}
	off := *sub
	off.Secrets, off.Disabled = nil, true
	if _, err := e.svc.Update(ctx, sub.ID, off); err != nil {
		t.Fatal(err)
	}
	if got := e.delivery(d.ID); got.Status != StatusDisabled || got.NextAttempt != nil {
		t.Fatalf("pending delivery after disabling: %s next %v", got.Status, got.NextAttempt)
	}
	if h, _ := e.svc.Health(ctx, sub.ID); h.Pending != 0 || !h.Disabled {
		t.Fatalf("health of a disabled endpoint: %+v", h)
	}
	if _, err := e.svc.Recover(ctx, sub.ID, time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Recover on a disabled endpoint = %v", err)
	}

	rc.setReply(nil)
	off.Disabled = false
	if _, err := e.svc.Update(ctx, sub.ID, off); err != nil {
		t.Fatal(err)
	}
	if h, _ := e.svc.Health(ctx, sub.ID); h.ConsecutiveFailures != 0 || h.FailingSince != nil {
		t.Fatalf("re-enabling kept the failure history: %+v", h)
	}
	if n, err := e.svc.Recover(ctx, sub.ID, time.Time{}); err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v", n, err)
	}
	e.settle()
	if got := e.delivery(d.ID); got.Status != StatusSucceeded || got.Attempts != 2 {
		t.Fatalf("after recover: %s, %d attempts", got.Status, got.Attempts)
	}
	if h, _ := e.svc.Health(ctx, sub.ID); h.LastSuccess == nil || h.ConsecutiveFailures != 0 {
		t.Fatalf("health after recovery: %+v", h)
	}
}

// A receiver that echoes what it was sent must not put the subscription's
// secrets into the deliveries log or the test answer: auth tokens and
// passwords, OAuth 2.0 access tokens, signing secrets with or without their
// prefix, URL passwords and secret header values.
func TestEchoedSecretsRedacted(t *testing.T) {
	signing := NewSecret()
	tokens := newReceiver(t)
	tokens.setReply(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"at-ZYXWVU-987654","token_type":"Bearer","expires_in":3600}`))
	})
	tests := []struct {
		name    string
		sub     func(url string) Subscription
		secrets []string
	}{
		{"bearer", func(u string) Subscription {
			return Subscription{URL: u, Auth: &flows.WebhookAuth{Type: flows.AuthBearer, Token: "tok-ABCDEF-123456"}}
		}, []string{"tok-ABCDEF-123456"}},
		{"basic", func(u string) Subscription {
			return Subscription{URL: u, Auth: &flows.WebhookAuth{Type: flows.AuthBasic, Username: "parley", Password: "pw-basic-445566"}}
		}, []string{"pw-basic-445566", "cGFybGV5OnB3LWJhc2ljLTQ0NTU2Ng=="}},
		{"oauth2", func(u string) Subscription {
			return Subscription{URL: u, Auth: &flows.WebhookAuth{Type: flows.AuthOAuth2ClientCredentials, ClientID: "cid",
				ClientSecret: "cs-QWERTY-1357", TokenURL: tokens.URL + "/token"}}
		}, []string{"at-ZYXWVU-987654", "cs-QWERTY-1357"}},
		{"url password", func(u string) Subscription {
			return Subscription{URL: strings.Replace(u, "http://", "http://hooks:pw-in-url-2468@", 1)}
		}, []string{"pw-in-url-2468", "aG9va3M6cHctaW4tdXJsLTI0Njg="}},
		{"secret header", func(u string) Subscription {
			return Subscription{URL: u, Headers: map[string]string{"X-Api-Key": "hdrkey777", "X-Session-Id": "sess-0099"}}
		}, []string{"hdrkey777", "sess-0099"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			rc := newReceiver(t)
			// The receiver answers with everything it was sent, and with the
			// signing secret, as a misconfigured one might.
			rc.setReply(func(w http.ResponseWriter, r *http.Request) {
				var b strings.Builder
				for name, vs := range r.Header {
					b.WriteString("got " + name + ": " + strings.Join(vs, ", ") + "\n")
				}
				b.WriteString("secret " + signing + " key " + strings.TrimPrefix(signing, SecretPrefix) + "\n")
				w.Header().Set("X-Echo", r.Header.Get("Authorization")+" "+r.Header.Get("X-Api-Key")+" "+strings.TrimPrefix(signing, SecretPrefix))
				w.WriteHeader(http.StatusOK)
				w.Write([]byte(b.String()))
			})
			sub := tt.sub(rc.URL + "/hook")
			sub.Secrets = []Secret{{Secret: signing}}
			created := e.create(sub)
			e.settle()
			res, err := e.svc.Test(context.Background(), created.ID)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != flows.OutcomeSuccess || res.Response == nil || !strings.Contains(res.Response.Body, "got Webhook-Id") {
				t.Fatalf("test answer %+v", res)
			}
			d := e.deliveries(created.ID)[0]
			atts := e.attempts(d.ID)
			if len(atts) != 1 || atts[0].Response == nil || !strings.Contains(atts[0].Response.Body, "got Webhook-Id") {
				t.Fatalf("attempts %+v", atts)
			}
			logged, _ := json.Marshal(atts)
			tested, _ := json.Marshal(res)
			for _, secret := range append(tt.secrets, signing, strings.TrimPrefix(signing, SecretPrefix)) {
				if strings.Contains(string(logged), secret) {
					t.Errorf("the deliveries log shows %q: %s", secret, logged)
				}
				if strings.Contains(string(tested), secret) {
					t.Errorf("the test answer shows %q: %s", secret, tested)
				}
			}
			if !strings.Contains(atts[0].Response.Body, redacted) || !strings.Contains(res.Response.Body, redacted) {
				t.Errorf("echoed secrets not marked %s: %q", redacted, atts[0].Response.Body)
			}
		})
	}
}

// Events raised while an endpoint is disabled are recorded as disabled
// deliveries and not sent; recovering after re-enabling it sends them,
// signed, and retention prunes those never recovered.
func TestEventsWhileDisabledAreRecovered(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Retention = time.Hour })
	ctx := context.Background()
	rc := newReceiver(t)
	sub := e.create(Subscription{URL: rc.URL, Events: []string{EventSessionStarted, EventSessionFinished}})
	e.settle()
	waitFor(t, "the ping to be counted", func() bool { return e.succeeded() == 1 })
	off := *sub
	off.Secrets, off.Disabled, off.DisabledReason = nil, true, "maintenance"
	if _, err := e.svc.Update(ctx, sub.ID, off); err != nil {
		t.Fatal(err)
	}
	if !e.svc.Wants(EventSessionStarted, EnvLive, "f1") {
		t.Fatal("a disabled subscription's events are not even written to the outbox")
	}
	attemptsBefore := e.svc.Stats().Attempts
	e.enqueue(Event{Type: EventSessionStarted, FlowID: "f1"}, Event{Type: EventSessionFinished, FlowID: "f1"}, Event{Type: EventFlowCompleted})
	e.settle()
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("%d requests with the endpoint disabled, want only the first ping", n)
	}
	var missed []*Delivery
	for _, d := range e.deliveries(sub.ID) {
		if d.EventType != EventWebhookPing {
			missed = append(missed, d)
		}
	}
	if len(missed) != 2 {
		t.Fatalf("%d deliveries recorded while disabled, want 2 (flow.completed is not subscribed)", len(missed))
	}
	for _, d := range missed {
		if d.Status != StatusDisabled || d.NextAttempt != nil || d.Attempts != 0 || d.LastError != "endpoint disabled: maintenance" {
			t.Errorf("delivery while disabled: %+v", d)
		}
	}
	// The counters are updated just after the commit that settled.
	waitFor(t, "the disabled deliveries to be counted", func() bool { return e.svc.Stats().Deliveries[StatusDisabled] >= 2 })
	st := e.svc.Stats()
	if st.Pending != 0 || st.Deliveries[StatusDisabled] != 2 || !maps.Equal(st.Attempts, attemptsBefore) {
		t.Errorf("stats while disabled: %+v, attempts before %v", st, attemptsBefore)
	}
	if h, _ := e.svc.Health(ctx, sub.ID); h.Pending != 0 {
		t.Errorf("health while disabled: %+v", h)
	}

	off.Disabled = false
	if _, err := e.svc.Update(ctx, sub.ID, off); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.Recover(ctx, sub.ID, time.Time{}); err != nil || n != 2 {
		t.Fatalf("Recover = %d, %v; want the 2 missed events", n, err)
	}
	e.settle()
	reqs := rc.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests after recover, want 3", len(reqs))
	}
	wh := verifier(t, sub.Secrets[0].Secret)
	var types []string
	for _, r := range reqs[1:] {
		if err := wh.Verify(r.Body, r.Header); err != nil {
			t.Errorf("recovered event signature: %v", err)
		}
		var env Envelope
		_ = json.Unmarshal(r.Body, &env)
		types = append(types, env.Type)
	}
	slices.Sort(types)
	if !slices.Equal(types, []string{EventSessionFinished, EventSessionStarted}) {
		t.Errorf("recovered %v", types)
	}
	for _, d := range missed {
		if got := e.delivery(d.ID); got.Status != StatusSucceeded || got.Attempts != 1 {
			t.Errorf("recovered delivery: %s, %d attempts", got.Status, got.Attempts)
		}
	}

	// One missed and never recovered is pruned with the others.
	if _, err := e.svc.Update(ctx, sub.ID, Subscription{URL: sub.URL, Events: sub.Events, Disabled: true}); err != nil {
		t.Fatal(err)
	}
	e.enqueue(Event{Type: EventSessionStarted})
	e.settle()
	e.clock.Advance(2 * time.Hour)
	if n, err := e.svc.Prune(ctx); err != nil || n != 4 {
		t.Fatalf("Prune = %d, %v; want every delivery, the disabled one too", n, err)
	}
	if ds := e.deliveries(sub.ID); len(ds) != 0 {
		t.Fatalf("%d deliveries left after prune", len(ds))
	}
}

// Basic auth taken from the URL's user info is sent, and the logged request
// shows that an Authorization header went, redacted.
func TestURLUserInfoAuthorizationLogged(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t)
	sub := e.create(Subscription{URL: strings.Replace(rc.URL, "http://", "http://hooks:pw-in-url-2468@", 1) + "/hook"})
	e.settle()
	if u, p, ok := (&http.Request{Header: rc.requests()[0].Header}).BasicAuth(); !ok || u != "hooks" || p != "pw-in-url-2468" {
		t.Fatalf("receiver got basic auth %q %q %v", u, p, ok)
	}
	d := e.deliveries(sub.ID)[0]
	req := e.attempts(d.ID)[0].Request
	if req.Headers["Authorization"] != redacted {
		t.Errorf("logged request headers %v, want Authorization %s", req.Headers, redacted)
	}
	if !strings.Contains(req.URL, "hooks:[redacted]@") {
		t.Errorf("logged URL %q", req.URL)
	}
	res, err := e.svc.Test(context.Background(), sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Request.Headers["Authorization"] != redacted {
		t.Errorf("test request headers %v, want Authorization %s", res.Request.Headers, redacted)
	}
	// An auth of the subscription's own wins over the user info.
	sub2 := e.create(Subscription{URL: strings.Replace(rc.URL, "http://", "http://hooks:pw-in-url-2468@", 1),
		Auth: &flows.WebhookAuth{Type: flows.AuthBearer, Token: "tok-own-1234"}})
	e.settle()
	if got := rc.requests()[len(rc.requests())-1].Header.Get("Authorization"); got != "Bearer tok-own-1234" {
		t.Errorf("with auth and user info the receiver got Authorization %q", got)
	}
	if h := e.attempts(e.deliveries(sub2.ID)[0].ID)[0].Request.Headers; h["Authorization"] != redacted {
		t.Errorf("logged headers %v", h)
	}
}

// The deliveries a disable ends were created before it: the one answered
// 410 (failed at once) and those pending (disabled). The endpoint's health
// keeps, also after it is enabled again, when it was disabled and the time
// to recover from, and recovering from that time resends every one of them
// with the events recorded while it was disabled.
func TestRecoverSinceHealthResendsWhatTheDisableEnded(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Schedule = []time.Duration{0, time.Hour} })
	ctx := context.Background()
	rc := newReceiver(t)
	rc.setReply(status(http.StatusInternalServerError))
	sub := e.create(Subscription{URL: rc.URL, Events: []string{EventSessionStarted}})
	e.settle()
	e.enqueue(Event{Type: EventSessionStarted}, Event{Type: EventSessionStarted})
	e.settle()
	e.clock.Advance(time.Minute)
	rc.setReply(status(http.StatusGone))
	e.enqueue(Event{Type: EventSessionStarted})
	e.settle()
	disabledAt := e.clock.Now()
	got, _ := e.svc.Get(ctx, sub.ID)
	if !got.Disabled {
		t.Fatal("a 410 did not disable the endpoint")
	}
	e.clock.Advance(time.Minute)
	e.enqueue(Event{Type: EventSessionStarted}) // while disabled
	e.settle()
	ds := e.deliveries(sub.ID)
	if len(ds) != 5 {
		t.Fatalf("%d deliveries, want the ping and 4 events", len(ds))
	}
	oldest := ds[0].CreatedAt
	for _, d := range ds {
		if d.Status != StatusFailed && d.Status != StatusDisabled {
			t.Fatalf("delivery %s (%s) is %s", d.ID, d.EventType, d.Status)
		}
		if d.CreatedAt.Before(oldest) {
			oldest = d.CreatedAt
		}
	}

	rc.setReply(nil)
	h := e.enable(got)
	if h.LastDisabledAt == nil || !h.LastDisabledAt.Equal(disabledAt) {
		t.Errorf("last_disabled_at %v after enabling, want %v", h.LastDisabledAt, disabledAt)
	}
	if h.RecoverSince == nil || h.RecoverSince.After(oldest) {
		t.Fatalf("recover_since %v, want at or before %v, the oldest delivery the disable ended", h.RecoverSince, oldest)
	}
	if h.ConsecutiveFailures != 0 || h.FailingSince != nil {
		t.Errorf("enabling kept the failure history: %+v", h)
	}
	n, err := e.svc.Recover(ctx, sub.ID, *h.RecoverSince)
	if err != nil || n != 5 {
		t.Fatalf("Recover(recover_since) = %d, %v; want all 5", n, err)
	}
	e.settle()
	for _, d := range ds {
		if got := e.delivery(d.ID); got.Status != StatusSucceeded {
			t.Errorf("delivery %s (%s) after recover: %s", d.ID, d.EventType, got.Status)
		}
	}
}

// An endpoint disabled by its owner notes the same: recovering from its
// recover_since resends the deliveries that were pending then.
func TestRecoverSinceAfterDisablingByHand(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Schedule = []time.Duration{0, time.Hour} })
	ctx := context.Background()
	rc := newReceiver(t)
	rc.setReply(status(http.StatusServiceUnavailable))
	sub := e.create(Subscription{URL: rc.URL})
	e.settle()
	ping := e.deliveries(sub.ID)[0]
	e.clock.Advance(time.Minute)
	off := *sub
	off.Secrets, off.Disabled = nil, true
	if _, err := e.svc.Update(ctx, sub.ID, off); err != nil {
		t.Fatal(err)
	}
	rc.setReply(nil)
	off.Disabled = false
	if _, err := e.svc.Update(ctx, sub.ID, off); err != nil {
		t.Fatal(err)
	}
	h, _ := e.svc.Health(ctx, sub.ID)
	if h.RecoverSince == nil || h.RecoverSince.After(ping.CreatedAt) {
		t.Fatalf("recover_since %v, want at or before the pending ping's %v", h.RecoverSince, ping.CreatedAt)
	}
	if n, err := e.svc.Recover(ctx, sub.ID, *h.RecoverSince); err != nil || n != 1 {
		t.Fatalf("Recover(recover_since) = %d, %v; want 1", n, err)
	}
	e.settle()
	if got := e.delivery(ping.ID); got.Status != StatusSucceeded {
		t.Errorf("ping after recover: %s", got.Status)
	}
}

// The failing streak that disables an endpoint can start with a delivery
// whose retries ran out before the disable: its first failed attempt came
// after it was created, and it ended failed. recover_since reaches back to
// its creation, so the documented procedure (enable, read recover_since,
// recover from it) resends it with the one that disabled the endpoint.
func TestRecoverSinceReachesTheDeliveryThatStartedTheStreak(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Schedule = []time.Duration{time.Second, time.Second}
		o.DisableAfter = 4 * time.Second
	})
	ctx := context.Background()
	rc := newReceiver(t)
	sub := e.create(Subscription{URL: rc.URL, Events: []string{EventSessionStarted}})
	e.settle()
	e.clock.Advance(time.Second)
	e.settle() // the ping succeeds
	rc.setReply(status(http.StatusInternalServerError))

	e.enqueue(Event{Type: EventSessionStarted})
	e.settle()
	first := e.deliveriesOf(sub.ID, EventSessionStarted)[0]
	for range 2 {
		e.clock.Advance(time.Second)
		e.settle()
	}
	if d := e.delivery(first.ID); d.Status != StatusFailed || d.Attempts != 2 {
		t.Fatalf("first delivery %s after 2 attempts, want failed", d.Status)
	}
	if h, _ := e.svc.Health(ctx, sub.ID); h.FailingSince == nil || !h.FailingSince.After(first.CreatedAt) {
		t.Fatalf("failing_since %v, want the time of the first failed attempt, after the delivery's creation %v", h.FailingSince, first.CreatedAt)
	}

	e.clock.Advance(5 * time.Second)
	e.enqueue(Event{Type: EventSessionStarted})
	e.settle()
	e.clock.Advance(time.Second)
	e.settle()
	got, _ := e.svc.Get(ctx, sub.ID)
	if !got.Disabled {
		t.Fatal("a failure more than 4 s into the streak did not disable the endpoint")
	}

	rc.setReply(nil)
	h := e.enable(got)
	if h.RecoverSince == nil || h.RecoverSince.After(first.CreatedAt) {
		t.Fatalf("recover_since %v, want at or before %v, the creation of the delivery that started the failing streak", h.RecoverSince, first.CreatedAt)
	}
	n, err := e.svc.Recover(ctx, sub.ID, *h.RecoverSince)
	if err != nil || n != 2 {
		t.Fatalf("Recover(recover_since) = %d, %v; want 2, both failed deliveries", n, err)
	}
	e.settle()
	for _, d := range e.deliveriesOf(sub.ID, EventSessionStarted) {
		if d.Status != StatusSucceeded {
			t.Errorf("delivery %s created %v after recover: %s", d.ID, d.CreatedAt, d.Status)
		}
	}
}

// Enabling a disabled endpoint again clears its failure history, the start
// of the failing streak and the failure count, and keeps the times of its
// last success and last failure, as its health documents.
func TestEnablingKeepsLastSuccessAndFailure(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Schedule = []time.Duration{0} })
	ctx := context.Background()
	rc := newReceiver(t)
	sub := e.create(Subscription{URL: rc.URL, Events: []string{EventSessionStarted}})
	e.settle() // the ping succeeds
	success := e.clock.Now()
	e.clock.Advance(time.Minute)
	rc.setReply(status(http.StatusGone))
	e.enqueue(Event{Type: EventSessionStarted})
	e.settle()
	failure := e.clock.Now()
	got, _ := e.svc.Get(ctx, sub.ID)
	if !got.Disabled {
		t.Fatal("a 410 did not disable the endpoint")
	}
	e.clock.Advance(time.Minute)
	h := e.enable(got)
	if h.LastSuccess == nil || !h.LastSuccess.Equal(success) {
		t.Errorf("last_success %v after enabling, want %v", h.LastSuccess, success)
	}
	if h.LastFailure == nil || !h.LastFailure.Equal(failure) {
		t.Errorf("last_failure %v after enabling, want %v", h.LastFailure, failure)
	}
	if h.FailingSince != nil || h.ConsecutiveFailures != 0 {
		t.Errorf("enabling kept failing_since %v and %d consecutive failures", h.FailingSince, h.ConsecutiveFailures)
	}
	if h.LastDisabledAt == nil || h.RecoverSince == nil {
		t.Errorf("enabling dropped last_disabled_at %v or recover_since %v", h.LastDisabledAt, h.RecoverSince)
	}
}

// enable enables a disabled subscription again, as PUT with "disabled":
// false does, and returns its health.
func (e *env) enable(sub *Subscription) *Health {
	e.t.Helper()
	on := *sub
	on.Secrets, on.Disabled = nil, false
	if _, err := e.svc.Update(context.Background(), sub.ID, on); err != nil {
		e.t.Fatal(err)
	}
	h, err := e.svc.Health(context.Background(), sub.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// An endpoint's answer over MaxResponseBytes is kept in the deliveries log
// cut at the end of the last whole character that fits, never inside one,
// so the stored attempt does not read back half of it as U+FFFD.
func TestLongAnswerCutBetweenCharacters(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxResponseBytes = 11 })
	rc := newReceiver(t)
	rc.setReply(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("aaaaaaaaaaéé and more"))
	})
	sub := e.create(Subscription{URL: rc.URL})
	e.settle()
	res, err := e.svc.Test(context.Background(), sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Response == nil || res.Response.Body != "aaaaaaaaaa" || !res.Response.Truncated {
		t.Errorf("test answer %+v; want the body aaaaaaaaaa, truncated", res.Response)
	}
	atts := e.attempts(e.deliveries(sub.ID)[0].ID)
	if len(atts) != 1 || atts[0].Response == nil || atts[0].Response.Body != "aaaaaaaaaa" || !atts[0].Response.Truncated {
		t.Fatalf("attempts %+v; want one whose answer is aaaaaaaaaa, truncated", atts)
	}
}

// The log lines of an endpoint that fails and is disabled name its URL by
// scheme, host and port only, the error included: a receiver's URL path
// is often its secret (https://hooks.example.com/services/T0/B0/SECRET),
// as a query token is.
func TestEndpointLogsShowNoURLPath(t *testing.T) {
	var logs syncbuf.Buffer
	e := newEnv(t, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close() // nothing listens: every attempt is a connection error
	e.create(Subscription{Name: "down", URL: down + "/services/T0/B0/PATHSECRET7?token=QUERYTOKEN7"})
	gone := newReceiver(t)
	gone.setReply(status(http.StatusGone))
	e.create(Subscription{Name: "gone", URL: gone.URL + "/services/T1/B1/PATHSECRET8"})
	e.settle()
	out := logs.String()
	for _, want := range []string{`msg="webhook endpoint failing"`, `url=` + down + ` `, `msg="webhook endpoint disabled"`, `url=` + gone.URL + ` `} {
		if !strings.Contains(out, want) {
			t.Errorf("the log has no %s:\n%s", want, out)
		}
	}
	for _, secret := range []string{"PATHSECRET7", "PATHSECRET8", "QUERYTOKEN7", "/services/"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows %q of an endpoint's URL:\n%s", secret, out)
		}
	}
}

// TestSecretsNeedOneWithoutEnd: a subscription whose every secret has an
// expires_at is refused, as its deliveries could not be signed once the
// last expired; one stored so before is not sent unsigned: its attempts
// fail, naming what to do, until its secret is rotated.
func TestSecretsNeedOneWithoutEnd(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t)
	later := e.clock.Now().Add(time.Hour)
	_, err := e.svc.Create(context.Background(), Subscription{URL: rc.URL, Secrets: []Secret{{Secret: NewSecret(), ExpiresAt: &later}}})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "secrets" || !strings.Contains(err.Error(), "secrets: every secret has an expires_at: give one without it") {
		t.Fatalf("create with only an expiring secret: %v, want it refused at secrets", err)
	}

	// A subscription stored with only expiring secrets (as earlier
	// versions took it).
	sub := e.create(Subscription{URL: rc.URL, Events: []string{EventWebhookPing}})
	waitFor(t, "the first ping", func() bool { return len(rc.requests()) == 1 })
	e.close()
	db, err := bbolt.Open(e.path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	stored := *sub
	stored.Secrets = []Secret{{Secret: sub.Secrets[0].Secret, CreatedAt: sub.Secrets[0].CreatedAt, ExpiresAt: &later}}
	if err := db.Update(func(tx *bbolt.Tx) error { return putSub(tx, &stored) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	e.open(nil)
	e.clock.Advance(2 * time.Hour)

	if _, err := e.svc.Ping(context.Background(), sub.ID); err != nil {
		t.Fatal(err)
	}
	var att *Attempt
	waitFor(t, "the ping's first attempt", func() bool {
		pings := e.deliveriesOf(sub.ID, EventWebhookPing)
		if len(pings) < 2 {
			return false
		}
		if atts := e.attempts(pings[1].ID); len(atts) > 0 {
			att = atts[0]
		}
		return att != nil
	})
	if att.Outcome != flows.OutcomeError || !strings.Contains(att.Error, "every signing secret of the subscription has expired; rotate its secret") {
		t.Errorf("attempt with every secret expired: %s %q, want an error saying to rotate the secret", att.Outcome, att.Error)
	}
	if n := len(rc.requests()); n != 1 {
		t.Errorf("the receiver got %d requests, want only the first ping: nothing is sent unsigned", n)
	}

	// Rotated, the subscription signs again.
	rotated, err := e.svc.RotateSecret(context.Background(), sub.ID, time.Hour)
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if _, err := e.svc.Ping(context.Background(), sub.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a ping after the rotation", func() bool { return len(rc.requests()) >= 2 })
	got := rc.requests()[1]
	if err := verifier(t, rotated.Secrets[len(rotated.Secrets)-1].Secret).VerifyIgnoringTimestamp(got.Body, got.Header); err != nil {
		t.Errorf("the ping after the rotation: %v", err)
	}
}

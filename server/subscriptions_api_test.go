package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/tidwall/gjson"

	"github.com/parleyhq/parley/delivery"
)

// A completed session reaches a subscribed endpoint as signed events.
func TestEventDelivery(t *testing.T) {
	type received struct {
		env    delivery.Envelope
		header http.Header
		body   []byte
	}
	got := make(chan received, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var env delivery.Envelope
		_ = json.Unmarshal(b, &env)
		got <- received{env, r.Header.Clone(), b}
	}))
	defer hook.Close()

	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Now = time.Now // the dispatcher schedules by this clock
	})
	ts.createFlow(askFlow)
	sub := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": hook.URL, "events": []string{"flow.completed"}})
	subID := sub["id"].(string)
	secret := sub["secrets"].([]any)[0].(map[string]any)["secret"].(string)
	if n := len(ts.must(200, "GET", "/v1/webhooks", nil)["webhooks"].([]any)); n != 1 {
		t.Errorf("%d subscriptions listed", n)
	}

	id := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask", "variables": map[string]any{"code": "7"}})["id"].(string)
	ts.must(200, "POST", "/v1/sessions/"+id+"/resume", `{"text":"Ann"}`)

	var r received
	for r.env.Type != "flow.completed" { // a new subscription is pinged first
		select {
		case r = <-got:
		case <-time.After(30 * time.Second):
			t.Fatal("flow.completed was not delivered")
		}
	}
	var data map[string]any
	if err := json.Unmarshal(r.env.Data, &data); err != nil {
		t.Fatal(err)
	}
	vars, _ := data["variables"].(map[string]any)
	if data["session_id"] != id || data["flow"] != "ask" || vars["name"] == nil || vars["code"] == nil {
		t.Errorf("flow.completed data %s", r.env.Data)
	}
	if err := delivery.Verify([]string{secret}, r.header, r.body, time.Hour); err != nil {
		t.Errorf("signature: %v", err)
	}

	// A grace beyond a year is refused: the old secrets would otherwise
	// expire at once, the time overflowing.
	for _, grace := range []string{"-1", "31536001", "9223372036854775807"} {
		if r := ts.do("POST", "/v1/webhooks/"+subID+"/rotate-secret", `{"grace_seconds":`+grace+`}`); r.Status != 400 || r.errorOf(t)["field"] != "grace_seconds" {
			t.Errorf("grace_seconds %s: %d %s", grace, r.Status, r.Body)
		}
	}
	rotated := ts.must(200, "POST", "/v1/webhooks/"+subID+"/rotate-secret", `{"grace_seconds":31536000}`)
	if secrets, _ := rotated["secrets"].([]any); len(secrets) != 2 {
		t.Errorf("after a rotation with a year's grace: %v", rotated["secrets"])
	} else if exp, _ := time.Parse(time.RFC3339, secrets[0].(map[string]any)["expires_at"].(string)); exp.Before(time.Now().Add(364 * 24 * time.Hour)) {
		t.Errorf("the old secret expires at %v, want a year from now", exp)
	}

	ts.must(404, "GET", "/v1/webhooks/nope", nil)
	if r := ts.do("POST", "/v1/webhooks", `{"url":"ftp://x","events":["*"]}`); r.Status != 422 {
		t.Errorf("invalid subscription: %d %s", r.Status, r.Body)
	}
	ts.must(204, "DELETE", "/v1/webhooks/"+subID, nil)
}

// A receiver echoing the credentials it was sent does not put them in the
// deliveries log or in the test answer.
func TestDeliveryLogRedactsEchoedSecrets(t *testing.T) {
	secret := delivery.NewSecret()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "got "+r.Header.Get("Authorization")+" signed with "+secret+" ("+strings.TrimPrefix(secret, "whsec_")+")")
	}))
	defer hook.Close()
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Now = time.Now // the dispatcher schedules by this clock
	})
	sub := ts.must(201, "POST", "/v1/webhooks", map[string]any{
		"url": hook.URL, "events": []string{"*"}, "auth": map[string]any{"type": "bearer", "token": "tok-ABCDEF-123456"},
		"secrets": []any{map[string]any{"secret": secret}},
	})
	id := sub["id"].(string)
	var deliveryID string
	eventually(t, "the ping to be delivered", func() bool {
		ds := ts.must(200, "GET", "/v1/webhooks/"+id+"/deliveries?status=succeeded", nil)["data"].([]any)
		if len(ds) == 1 {
			deliveryID = ds[0].(map[string]any)["id"].(string)
		}
		return deliveryID != ""
	})
	logged := ts.must(200, "GET", "/v1/deliveries/"+deliveryID, nil)
	body := logged["attempts"].([]any)[0].(map[string]any)["response"].(map[string]any)["body"]
	if body != "got Bearer [redacted] signed with [redacted] ([redacted])" {
		t.Errorf("logged response body %q", body)
	}
	tested := ts.must(200, "POST", "/v1/webhooks/"+id+"/test", nil)
	if body := tested["response"].(map[string]any)["body"]; body != "got Bearer [redacted] signed with [redacted] ([redacted])" {
		t.Errorf("test response body %q", body)
	}
}

// A session that runs while its subscriber is disabled is not sent to it;
// once re-enabled, recovering sends the session's events, signed.
func TestRecoverEventsMissedWhileDisabled(t *testing.T) {
	rc := newSink(t)
	ts := loopbackServer(t)
	ts.createFlow(askFlow)
	sub := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": rc.URL, "events": []string{"*"}})
	id, secret := sub["id"].(string), secretOf(t, sub)
	eventually(t, "the ping", func() bool { return len(rc.ofType("webhook.ping")) == 1 })
	ts.must(200, "PUT", "/v1/webhooks/"+id, map[string]any{"url": rc.URL, "events": []string{"*"}, "disabled": true})

	sess := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask", "variables": map[string]any{"code": "7"}})["id"].(string)
	ts.must(200, "POST", "/v1/sessions/"+sess+"/resume", `{"text":"Ann"}`)
	var missed []any
	eventually(t, "the session's events recorded as disabled", func() bool {
		missed = ts.must(200, "GET", "/v1/webhooks/"+id+"/deliveries?status=disabled", nil)["data"].([]any)
		last := 0 // the last turn's last events: the earlier ones are in by then
		for _, d := range missed {
			if typ := d.(map[string]any)["event_type"]; typ == "session.finished" || typ == "flow.completed" {
				last++
			}
		}
		return last == 2
	})
	if n := len(rc.events()); n != 1 {
		t.Fatalf("the disabled endpoint was sent %d requests", n)
	}

	ts.must(200, "PUT", "/v1/webhooks/"+id, map[string]any{"url": rc.URL, "events": []string{"*"}, "disabled": false})
	got := ts.must(202, "POST", "/v1/webhooks/"+id+"/recover", `{"since":"2020-01-01T00:00:00Z"}`)
	if got["queued"] != float64(len(missed)) {
		t.Errorf("recover queued %v, want the %d missed deliveries", got["queued"], len(missed))
	}
	eventually(t, "the recovered events", func() bool { return len(rc.events()) == 1+len(missed) })
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"session.launched", "session.started", "session.finished", "flow.completed"} {
		evs := rc.ofType(typ)
		if len(evs) != 1 || evs[0].data["session_id"] != sess {
			t.Errorf("%d %s events of the session after recover", len(evs), typ)
			continue
		}
		if err := wh.Verify(evs[0].body, evs[0].header); err != nil {
			t.Errorf("%s: signature: %v", typ, err)
		}
	}
}

// The documented procedure after a 410: re-enable, read recover_since from
// the health, recover from it. The ping answered 410 (failed) and the
// session's events recorded while disabled are all sent again.
func TestRecoverFromHealthAfterGone(t *testing.T) {
	rc := newSink(t)
	rc.setStatus(http.StatusGone)
	ts := loopbackServer(t)
	ts.createFlow(askFlow)
	sub := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": rc.URL, "events": []string{"*"}})
	id := sub["id"].(string)
	eventually(t, "the 410 to disable the endpoint", func() bool {
		return ts.must(200, "GET", "/v1/webhooks/"+id, nil)["disabled"] == true
	})
	sess := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask", "variables": map[string]any{"code": "7"}})["id"].(string)
	ts.must(200, "POST", "/v1/sessions/"+sess+"/resume", `{"text":"Ann"}`)
	var ended []any
	eventually(t, "the session's events recorded as disabled", func() bool {
		ended = ts.must(200, "GET", "/v1/webhooks/"+id+"/deliveries", nil)["data"].([]any)
		for _, d := range ended {
			if d.(map[string]any)["event_type"] == "flow.completed" {
				return true
			}
		}
		return false
	})

	rc.setStatus(0)
	ts.must(200, "PUT", "/v1/webhooks/"+id, map[string]any{"url": rc.URL, "events": []string{"*"}, "disabled": false})
	h := ts.must(200, "GET", "/v1/webhooks/"+id+"/health", nil)
	since, ok := h["recover_since"].(string)
	if !ok || h["last_disabled_at"] == nil {
		t.Fatalf("health after re-enabling lacks recover_since or last_disabled_at: %v", h)
	}
	got := ts.must(202, "POST", "/v1/webhooks/"+id+"/recover", map[string]any{"since": since})
	if got["queued"] != float64(len(ended)) {
		t.Errorf("recover since %s queued %v, want all %d deliveries (the 410 ping included)", since, got["queued"], len(ended))
	}
	eventually(t, "the recovered events", func() bool { return len(rc.ofType("flow.completed")) == 1 && len(rc.ofType("webhook.ping")) == 2 })
}

// The documented procedure after a disable for failing too long, when the
// delivery whose failure started the streak had used up its retries before
// the disable: recovering from recover_since resends it too.
func TestRecoverFromHealthAfterFailingStreak(t *testing.T) {
	rc := newSink(t)
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Now = time.Now
		c.Delivery.Schedule = []time.Duration{0, 100 * time.Millisecond}
		c.Delivery.DisableAfter = time.Second
	})
	ts.createFlow(askFlow)
	id := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": rc.URL, "events": []string{"session.started"}})["id"].(string)
	eventually(t, "the ping", func() bool { return len(rc.ofType("webhook.ping")) == 1 })
	rc.setStatus(http.StatusInternalServerError)
	deliveries := func() []any {
		return ts.must(200, "GET", "/v1/webhooks/"+id+"/deliveries?status=failed", nil)["data"].([]any)
	}

	first := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask"})["id"].(string)
	eventually(t, "the first session's delivery to fail twice and end failed", func() bool { return len(deliveries()) == 1 })
	time.Sleep(1100 * time.Millisecond)
	second := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask"})["id"].(string)
	eventually(t, "a failure a second into the streak to disable the endpoint", func() bool {
		return ts.must(200, "GET", "/v1/webhooks/"+id, nil)["disabled"] == true
	})

	rc.setStatus(0)
	ts.must(200, "PUT", "/v1/webhooks/"+id, map[string]any{"url": rc.URL, "events": []string{"session.started"}, "disabled": false})
	since := ts.must(200, "GET", "/v1/webhooks/"+id+"/health", nil)["recover_since"].(string)
	if got := ts.must(202, "POST", "/v1/webhooks/"+id+"/recover", map[string]any{"since": since})["queued"]; got != float64(2) {
		t.Errorf("recover since %s queued %v, want 2: both sessions' session.started", since, got)
	}
	eventually(t, "both sessions' events after recovering", func() bool {
		got := map[any]int{}
		for _, e := range rc.ofType("session.started") {
			got[e.data["session_id"]]++
		}
		// Each was refused (the first twice) before it was delivered.
		return got[first] == 3 && got[second] == 2
	})
}

// A PUT whose body names another id than its URL is refused the same way on
// every resource, 400 bad_request naming the field; a webhook endpoint's
// problems are each named by their field and all listed, a missing url
// making it a bad request, as a webhook configuration's.
func TestSubscriptionProblems(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	sub := ts.must(201, "POST", "/v1/webhooks", `{"url":"https://crm.example.com/hooks"}`)
	id := sub["id"].(string)
	ts.must(201, "PUT", "/v1/channels/c1", `{"default_flow":"ask"}`)
	ts.must(201, "POST", "/v1/webhook-configs", `{"name":"orders","url":"https://shop.example.com/orders"}`)
	ts.expectErrors(t, []apiErrorCase{
		{"webhook other id", "PUT", "/v1/webhooks/" + id, `{"id":"other","url":"https://crm.example.com/hooks"}`, 400, CodeBadRequest, "id"},
		{"channel other id", "PUT", "/v1/channels/c1", `{"id":"c2","default_flow":"ask"}`, 400, CodeBadRequest, "id"},
		{"flow other id", "PUT", "/v1/flows/ask", `{"id":"other","name":"x","widgets":[{"id":"a","type":"end"}]}`, 400, CodeBadRequest, "id"},
		{"webhook config other name", "PUT", "/v1/webhook-configs/orders", `{"name":"other","url":"https://shop.example.com/orders"}`, 400, CodeBadRequest, "name"},
		{"no url", "POST", "/v1/webhooks", `{}`, 400, CodeBadRequest, "url"},
		{"put no url", "PUT", "/v1/webhooks/" + id, `{"method":"POST"}`, 400, CodeBadRequest, "url"},
		{"auth without type", "POST", "/v1/webhooks", `{"url":"https://crm.example.com/hooks","auth":{"token":"t"}}`, 400, CodeBadRequest, "auth.type"},
		{"bad method", "POST", "/v1/webhooks", `{"url":"https://crm.example.com/hooks","method":"GET"}`, 422, CodeInvalidField, "method"},
	})
	ts.must(200, "PUT", "/v1/webhooks/"+id, `{"id":"`+id+`","url":"https://crm.example.com/other"}`)
	// Each says it in the same words, a webhook configuration's too.
	for _, c := range [][2]string{
		{"/v1/channels/c1", `{"id":"c2","default_flow":"ask"}`},
		{"/v1/webhook-configs/orders", `{"name":"other","url":"https://shop.example.com/orders"}`},
	} {
		if msg, _ := ts.do("PUT", c[0], c[1]).errorOf(t)["message"].(string); !strings.HasSuffix(msg, `differs from the URL's "`+path.Base(c[0])+`": leave it out or give the same`) {
			t.Errorf("PUT %s: message %q", c[0], msg)
		}
	}

	r := ts.do("POST", "/v1/webhooks", `{"method":"GET","headers":{"bad header":"x"},"auth":{"type":"basic"},"events":["nope"]}`)
	e := r.errorOf(t)
	if r.Status != 400 || e["code"] != CodeBadRequest || e["field"] != "url" {
		t.Fatalf("several problems, url missing: %d %s", r.Status, r.Body)
	}
	want := map[string]string{
		"url":                "url is required",
		"method":             `method must be POST, PUT or PATCH, not "GET"`,
		"headers.bad header": `headers: "bad header" is not a valid header name`,
		"auth.username":      "auth.username is required for basic auth",
		"events[0]":          `events[0]: unknown event type "nope"`,
	}
	errs, _ := e["errors"].([]any)
	if len(errs) != len(want) {
		t.Fatalf("errors %v, want %d", errs, len(want))
	}
	for _, x := range errs {
		fe := x.(map[string]any)
		path, _ := fe["path"].(string)
		msg, _ := fe["message"].(string)
		if w, ok := want[path]; !ok || !strings.HasPrefix(msg, w) {
			t.Errorf("problem %s: %q, want it to start %q", path, msg, w)
		}
		if !strings.Contains(e["message"].(string), msg) {
			t.Errorf("the error's message %q leaves out %q", e["message"], msg)
		}
	}
}

// A subscription's flows filter names stored flows: an unknown id is 422
// naming it, at create and update; an id the stored subscription already
// names stays accepted after its flow is deleted, so the subscription can
// be sent back as it is.
func TestSubscriptionFlowsMustExist(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	ts.createFlow(strings.Replace(askFlow, `"id":"ask"`, `"id":"ask2"`, 1))
	ts.expectErrors(t, []apiErrorCase{
		{"unknown flow", "POST", "/v1/webhooks", `{"url":"https://crm.example.com/h","events":["*"],"flows":["nosuchflow"]}`, 422, CodeInvalidField, "flows[0]"},
		{"second unknown", "POST", "/v1/webhooks", `{"url":"https://crm.example.com/h","events":["*"],"flows":["ask","gone"]}`, 422, CodeInvalidField, "flows[1]"},
	})
	r := ts.do("POST", "/v1/webhooks", `{"url":"ftp://x","events":["*"],"flows":["nosuchflow"]}`)
	if e := r.errorOf(t); r.Status != 422 || !strings.Contains(e["message"].(string), `flows[0]: flow "nosuchflow" not found`) || !strings.Contains(e["message"].(string), "url") {
		t.Errorf("an unknown flow with another problem: %d %s, want both reported", r.Status, r.Body)
	}
	if n := len(ts.must(200, "GET", "/v1/webhooks", nil)["webhooks"].([]any)); n != 0 {
		t.Fatalf("%d subscriptions stored by refused requests", n)
	}

	sub := ts.must(201, "POST", "/v1/webhooks", `{"url":"https://crm.example.com/h","events":["*"],"flows":["ask","ask2"]}`)
	id := sub["id"].(string)
	ts.must(204, "DELETE", "/v1/flows/ask", nil)
	put := func(flows string) response {
		return ts.do("PUT", "/v1/webhooks/"+id, `{"url":"https://crm.example.com/h","events":["*"],"flows":`+flows+`}`)
	}
	if r := put(`["ask","ask2"]`); r.Status != 200 {
		t.Errorf("PUT as stored, after flow ask was deleted: %d %s", r.Status, r.Body)
	}
	if r := put(`["ask2","nosuchflow"]`); r.Status != 422 || r.errorOf(t)["field"] != "flows[1]" {
		t.Errorf("PUT adding an unknown flow: %d %s", r.Status, r.Body)
	}
	if r := put(`["ask2"]`); r.Status != 200 {
		t.Errorf("PUT leaving out the deleted flow: %d %s", r.Status, r.Body)
	}
	if r := put(`["ask"]`); r.Status != 422 || r.errorOf(t)["field"] != "flows[0]" {
		t.Errorf("PUT naming the deleted flow again, once the subscription no longer does: %d %s", r.Status, r.Body)
	}
}

// A PUT that leaves disabled out keeps the endpoint as it is, as it keeps
// the secrets: a disabled endpoint stays disabled, with its reason and
// date, through an edit of its URL, and only "disabled": false re-enables
// it; an enabled one stays enabled.
func TestSubscriptionPutWithoutDisabledKeepsIt(t *testing.T) {
	ts := newTestServer(t, nil)
	id := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": "https://crm.example.com/a"})["id"].(string)
	ts.must(200, "PUT", "/v1/webhooks/"+id, map[string]any{"url": "https://crm.example.com/a", "disabled": true, "disabled_reason": "maintenance"})
	before := ts.must(200, "GET", "/v1/webhooks/"+id, nil)
	ts.clock.Advance(time.Minute)
	for _, body := range []string{`{"url":"https://crm.example.com/b"}`, `{"url":"https://crm.example.com/c","disabled":null}`} {
		after := ts.must(200, "PUT", "/v1/webhooks/"+id, body)
		if after["disabled"] != true || after["disabled_reason"] != "maintenance" || after["disabled_at"] != before["disabled_at"] {
			t.Errorf("PUT %s of a disabled endpoint: %v, want it still disabled for maintenance since %v", body, after, before["disabled_at"])
		}
		if st := ts.do("POST", "/v1/webhooks/"+id+"/ping", nil).Status; st != 422 {
			t.Errorf("ping after PUT %s: %d, want 422 (disabled)", body, st)
		}
	}
	if after := ts.must(200, "PUT", "/v1/webhooks/"+id, `{"url":"https://crm.example.com/c","disabled":false}`); after["disabled"] != false || after["disabled_at"] != nil {
		t.Errorf(`PUT with "disabled": false: %v, want it enabled`, after)
	}
	if after := ts.must(200, "PUT", "/v1/webhooks/"+id, `{"url":"https://crm.example.com/d"}`); after["disabled"] != false {
		t.Errorf("PUT of an enabled endpoint without disabled: %v, want it enabled", after)
	}
}

// A subscription created disabled is disabled by its owner at its
// creation, as one a PUT disables: its disabled_at is the server's (not
// one the body gives), its disabled_reason "disabled by user", and its
// health has last_disabled_at and recover_since, so that once enabled
// the documented recovery sends the events recorded for it meanwhile.
func TestSubscriptionCreatedDisabled(t *testing.T) {
	var mu sync.Mutex
	var got []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, gjson.GetBytes(b, "type").String())
		mu.Unlock()
	}))
	defer receiver.Close()
	ts := loopbackServer(t)
	ts.createFlow(askFlow)
	start := time.Now().UTC()
	sub := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": receiver.URL, "events": []string{"session.started"},
		"disabled": true, "disabled_at": "2020-01-01T00:00:00Z"})
	id := sub["id"].(string)
	at, err := time.Parse(time.RFC3339Nano, sub["disabled_at"].(string))
	if sub["disabled"] != true || sub["disabled_reason"] != "disabled by user" || err != nil || at.Before(start) {
		t.Errorf("created disabled: %v, want disabled by user since its creation", sub)
	}
	h := ts.must(200, "GET", "/v1/webhooks/"+id+"/health", nil)
	if h["disabled_reason"] != "disabled by user" || h["last_disabled_at"] != sub["disabled_at"] || h["recover_since"] != sub["created_at"] {
		t.Errorf("health of an endpoint created disabled: %v, want disabled by user, last_disabled_at %v, recover_since %v", h, sub["disabled_at"], sub["created_at"])
	}
	ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask", "contact": map[string]any{"urn": "tel:+15550100"}})
	// The event is fanned out in the background: recorded for the
	// endpoint as a disabled delivery.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ds := ts.must(200, "GET", "/v1/webhooks/"+id+"/deliveries", nil)["data"].([]any)
		if len(ds) == 1 && ds[0].(map[string]any)["status"] == "disabled" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries while disabled: %v, want the session.started, disabled", ds)
		}
	}
	sub["disabled"] = false
	ts.must(200, "PUT", "/v1/webhooks/"+id, sub)
	since, _ := ts.must(200, "GET", "/v1/webhooks/"+id+"/health", nil)["recover_since"].(string)
	if r := ts.must(202, "POST", "/v1/webhooks/"+id+"/recover", map[string]any{"since": since}); r["queued"] != float64(1) {
		t.Errorf("recover since %q: %v, want the session.started recorded while disabled queued", since, r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := slices.Index(got, "session.started")
		mu.Unlock()
		if n >= 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the recovered event never came: %q", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

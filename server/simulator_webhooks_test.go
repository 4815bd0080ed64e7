package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// crmFlow calls the configured webhook "crm".
const crmFlow = `{"id":"crm-flow","name":"CRM","widgets":[
 {"id":"lookup","type":"webhook","webhook":"crm","result":"Lookup","exits":{"Success":"ok","Failure":"ko","Timeout":"ko"}},
 {"id":"ok","type":"send_message","text":"Hello @extra.name","exits":{"Next":""}},
 {"id":"ko","type":"send_message","text":"Lookup failed","exits":{"Next":""}}]}`

// TestSimulatorMockOfConfiguredWebhook: a mock row for a widget that names a
// configured webhook answers it in the sandbox. On a server that has the
// webhook configured, the configured endpoint is never called and the event
// shows the request it would have sent; on a server without it, the mock
// still answers, with a warning that the request lacks the configuration.
func TestSimulatorMockOfConfiguredWebhook(t *testing.T) {
	var calls atomic.Int32
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"name":"Real"}`))
	}))
	defer crm.Close()
	file := filepath.Join(t.TempDir(), "webhooks.json")
	if err := os.WriteFile(file, []byte(`{"webhooks":[{"name":"crm","url":"`+crm.URL+`/lookup",
	  "auth":{"type":"bearer","token":"s3cret-token"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	mock := map[string]any{"lookup": map[string]any{"status": 200, "body": map[string]any{"name": "Ben"}}}

	t.Run("configured", func(t *testing.T) {
		ts := newTestServer(t, func(c *Config) {
			c.WebhooksFile = file
			c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		})
		ts.createFlow(crmFlow)
		// Without a mock the sandbox calls the configured endpoint.
		if got := texts(ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"flow": "crm-flow"})); strings.Join(got, "|") != "Hello Real" || calls.Load() != 1 {
			t.Fatalf("unmocked: said %q, %d calls", got, calls.Load())
		}
		r := ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"flow": "crm-flow", "mocks": mock})
		if got := texts(r); strings.Join(got, "|") != "Hello Ben" || calls.Load() != 1 {
			t.Errorf("mocked: said %q, %d calls to the configured endpoint, want the mock's answer and none", got, calls.Load())
		}
		ev := webhookEvent(t, ts, r["id"].(string))
		if !strings.Contains(ev, `"url":"`+crm.URL+`/lookup"`) || !strings.Contains(ev, "[redacted]") || strings.Contains(ev, "s3cret-token") ||
			!strings.Contains(ev, MockHeader) {
			t.Errorf("mocked webhook_called event does not show the configured request, redacted and marked mocked: %s", ev)
		}
	})

	t.Run("not configured", func(t *testing.T) {
		ts := newTestServer(t, nil)
		ts.createFlow(crmFlow)
		if got := texts(ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"flow": "crm-flow"})); strings.Join(got, "|") != "Lookup failed" {
			t.Fatalf("unmocked: said %q", got)
		}
		r := ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"flow": "crm-flow", "mocks": mock})
		if got := texts(r); strings.Join(got, "|") != "Hello Ben" {
			t.Errorf("mocked on a server without crm: said %q, want the mock's answer", got)
		}
		evs := ts.must(200, "GET", "/v1/sessions/"+r["id"].(string)+"/events", nil)
		if b := mustJSON(evs); !strings.Contains(b, `webhook \"crm\" is not configured on this server`) {
			t.Errorf("no warning that crm is not configured: %s", b)
		}
		if calls.Load() != 1 {
			t.Errorf("%d calls to the endpoint, want none more", calls.Load())
		}
	})
}

// webhookEvent is the JSON of the session's first webhook_called event.
func webhookEvent(t *testing.T, ts *testServer, id string) string {
	t.Helper()
	evs := ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)
	list, _ := evs["events"].([]any)
	for _, e := range list {
		if m, _ := e.(map[string]any); m["type"] == "webhook_called" {
			return mustJSON(m)
		}
	}
	t.Fatalf("no webhook_called event: %s", mustJSON(evs))
	return ""
}

// TestSimulatorContactLanguage: the test contact's language and fields reach
// the flow (a two-letter code read as its ISO 639-3 code, as for any
// contact); a language no translation could match is a 400 naming
// contact.language, with the code meant when there is one.
func TestSimulatorContactLanguage(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(`{"id":"hello","name":"Hello","language":"eng","widgets":[
	 {"id":"m","type":"send_message","text":"Hello ($user.key.plan)","translations":{"fra":{"text":"Bonjour ($user.key.plan)"}},"exits":{"Next":""}}]}`)
	for _, c := range []struct{ lang, said string }{{"fra", "Bonjour (gold)"}, {"FR", "Bonjour (gold)"}, {"", "Hello (gold)"}, {"spa", "Hello (gold)"}} {
		r := ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"flow": "hello",
			"contact": map[string]any{"urn": "tel:+1555" + c.lang, "language": c.lang, "fields": map[string]any{"plan": "gold"}}})
		if got := strings.Join(texts(r), "|"); got != c.said {
			t.Errorf("language %q: said %q, want %q", c.lang, got, c.said)
		}
	}
	for _, c := range []struct{ lang, says string }{
		{"French", `contact language "French" is not an ISO 639-3 code (three lower-case letters, such as "eng" or "fra")`},
		{"fr-FR", `contact language "fr-FR" is not an ISO 639-3 code (three lower-case letters): did you mean "fra"?`},
	} {
		r := ts.do("POST", "/v1/simulator/sessions", map[string]any{"flow": "hello", "contact": map[string]any{"language": c.lang}})
		e := r.errorOf(t)
		if r.Status != 400 || e["field"] != "contact.language" || e["message"] != c.says {
			t.Errorf("language %q: %d %s, want 400 at contact.language saying %q", c.lang, r.Status, r.Body, c.says)
		}
	}
}

// TestSimulatorMockNotForSubflow: a mock names a webhook widget of the
// started flow; a subflow's webhook widget with the same id is another
// widget, and calls out.
func TestSimulatorMockNotForSubflow(t *testing.T) {
	var calls atomic.Int32
	real := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"who":"real"}`))
	}))
	defer real.Close()
	ts := newTestServer(t, func(c *Config) { c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	ts.createFlow(`{"id":"kid","name":"Kid","widgets":[
	 {"id":"h","type":"webhook","method":"GET","url":"` + real.URL + `/kid","exits":{"Success":"ok","Failure":"ko"}},
	 {"id":"ok","type":"send_message","text":"kid got @extra.who","exits":{"Next":""}},
	 {"id":"ko","type":"send_message","text":"kid failed","exits":{"Next":""}}]}`)
	ts.createFlow(`{"id":"dad","name":"Dad","widgets":[
	 {"id":"h","type":"webhook","method":"GET","url":"` + real.URL + `/dad","exits":{"Success":"ok","Failure":"ko"}},
	 {"id":"ok","type":"send_message","text":"dad got @extra.who","exits":{"Next":"sub"}},
	 {"id":"ko","type":"send_message","text":"dad failed","exits":{"Next":"sub"}},
	 {"id":"sub","type":"subflow","flow":"kid","exits":{"Complete":"","Expired":""}}]}`)
	r := ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"flow": "dad",
		"mocks": map[string]any{"h": map[string]any{"status": 200, "body": map[string]any{"who": "mock"}}}})
	if got := strings.Join(texts(r), "|"); got != "dad got mock|kid got real" || calls.Load() != 1 {
		t.Errorf("said %q with %d real calls, want the mock for dad's h and a real call for kid's h", got, calls.Load())
	}
}

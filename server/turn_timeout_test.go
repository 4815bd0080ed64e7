package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// A webhook call cut off by the turn's time limit, well before its own
// timeout, is reported as that: the event names --turn-timeout rather than
// a bare "context deadline exceeded".
func TestTurnTimeoutDuringWebhook(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answers only after the caller gave up
	}))
	defer hook.Close()
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.TurnTimeout = 200 * time.Millisecond
		c.WebhookTimeout = time.Minute
	})
	ts.createFlow(`{"id":"slow-hook","name":"Slow hook","widgets":[
 {"id":"hook","type":"webhook","method":"GET","url":"` + hook.URL + `","result":"Hook","exits":{"Success":"ok","Failure":"ko","Timeout":"ko"}},
 {"id":"ok","type":"send_message","text":"Done"},
 {"id":"ko","type":"send_message","text":"Webhook failed"}]}`)
	id := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "slow-hook"})["id"].(string)
	events := ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any)
	var call map[string]any
	for _, e := range events {
		if e := e.(map[string]any); e["type"] == "webhook_called" {
			call = e
		}
	}
	if call == nil {
		t.Fatalf("no webhook_called event in %v", events)
	}
	if msg, _ := call["message"].(string); !strings.Contains(msg, "turn's time limit (--turn-timeout)") {
		t.Errorf("webhook_called message %q (outcome %v), want it to name the turn's time limit", msg, call["outcome"])
	}
	if call["outcome"] != "timeout" {
		t.Errorf("webhook_called outcome %v, want timeout", call["outcome"])
	}
	if body := string(ts.do("GET", "/metrics", nil).Body); !strings.Contains(body, `parley_webhook_calls_total{outcome="timeout"} 1`) {
		t.Errorf("/metrics does not count the call as a timeout")
	}
}

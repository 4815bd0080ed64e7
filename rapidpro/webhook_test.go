package rapidpro

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// TestWebhookBody: an imported webhook sends RapidPro's legacy payload as
// JSON with POST, and a GET sends no body and no Content-Type, as RapidPro
// did; for an api action and a webhook ruleset alike.
func TestWebhookBody(t *testing.T) {
	type request struct{ method, contentType, body string }
	got := make(chan request, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- request{r.Method, r.Header.Get("Content-Type"), string(b)}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok": true}`))
	}))
	defer srv.Close()
	hooks := callout.New(callout.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	e := engine.New(widgets.Registered(), engine.WithServices(sim.Services{Hooks: hooks}))
	for _, method := range []string{"GET", "POST"} {
		export := fmt.Sprintf(`{"version": "11.7", "flows": [{"version": "11.7", "base_language": "eng", "flow_type": "M",
		 "metadata": {"uuid": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "name": "Hooks"}, "entry": "a1",
		 "action_sets": [{"uuid": "a1", "destination": "r1", "actions": [{"type": "api", "uuid": "h1", "webhook": "%s/action", "action": %q}]}],
		 "rule_sets": [{"uuid": "r1", "ruleset_type": "webhook", "label": "Hook", "operand": "@step.value",
		   "config": {"webhook": "%s/ruleset", "webhook_action": %q},
		   "rules": [{"uuid": "x1", "category": {"eng": "Success"}, "destination": null, "test": {"type": "webhook_status", "status": "success"}},
		     {"uuid": "x2", "category": {"eng": "Failure"}, "destination": null, "test": {"type": "webhook_status", "status": "failure"}}]}]}]}`,
			srv.URL, method, srv.URL, method)
		res, err := Convert([]byte(export), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Flows[0].Failed {
			t.Fatalf("%s: the flow failed:\n%s", method, res.Report)
		}
		f, err := e.Load(res.Flows[0].JSON)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{Name: "Ben", URN: "tel:+12065551212"}}); err != nil {
			t.Fatal(err)
		}
		for _, call := range []string{"api action", "webhook ruleset"} {
			r := <-got
			switch {
			case r.method != method:
				t.Errorf("%s %s: sent %s", method, call, r.method)
			case method == "GET" && (r.body != "" || r.contentType != ""):
				t.Errorf("GET %s: body %q with Content-Type %q, want none", call, r.body, r.contentType)
			case method == "POST" && (r.contentType != "application/json" || !strings.Contains(r.body, `"contact"`) || !strings.Contains(r.body, `"flow"`)):
				t.Errorf("POST %s: body %q with Content-Type %q, want RapidPro's payload as JSON", call, r.body, r.contentType)
			}
		}
	}
}

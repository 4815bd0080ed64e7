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

// TestWebhookCategories: a webhook ruleset's result keeps the export's
// category names in the base language ("Succès", "Échec" of a French flow),
// as RapidPro saved them, the answer staying @extra.
func TestWebhookCategories(t *testing.T) {
	export := []byte(`{"version": "11.12", "flows": [{"version": "11.12", "flow_type": "M", "base_language": "fra",
	 "metadata": {"uuid": "11111111-1111-4111-8111-111111111111", "name": "Test"}, "entry": "r1",
	 "action_sets": [{"uuid": "a1", "destination": null, "actions": [{"type": "reply", "uuid": "m1",
	   "msg": {"fra": "résultat=@flow.hook.category valeur=@flow.hook état=@extra.etat"}}]}],
	 "rule_sets": [{"uuid": "r1", "ruleset_type": "webhook", "label": "Hook", "operand": "@step.value",
	   "config": {"webhook": "http://example.com/x", "webhook_action": "GET"},
	   "rules": [{"uuid": "x1", "category": {"fra": "Succès", "eng": "Success"}, "destination": "a1", "test": {"type": "webhook_status", "status": "success"}},
	     {"uuid": "x2", "category": {"fra": "Échec", "eng": "Failure"}, "destination": "a1", "test": {"type": "webhook_status", "status": "failure"}}]}]}]}`)
	for _, tc := range []struct {
		status       int
		said, result string
	}{
		{200, "résultat=Succès valeur=200 état=ok", "200/Succès"},
		{500, "résultat=Échec valeur=500 état=ok", "500/Échec"},
	} {
		mocks := map[string][]mockAnswer{"http://example.com/x": {{Status: tc.status, Body: []byte(`{"etat": "ok"}`)}}}
		c := converse(t, export, mocks)
		if got := strings.Join(c.turns[0], "|"); got != tc.said || c.results["Hook"] != tc.result {
			t.Errorf("status %d: sent %q, result %q; want %q and %q\n%s", tc.status, got, c.results["Hook"], tc.said, tc.result, c.report)
		}
	}
}

// TestWebhookHeaderWithoutName: a webhook header without a name is dropped
// with a line naming the action or ruleset and the header's index: a
// warning when it has a value (which the line does not show), info for a
// blank row; the named headers are sent.
func TestWebhookHeaderWithoutName(t *testing.T) {
	headers := `[{"name": "X-A", "value": "1"}, {"name": "", "value": "s3cret"}, {"name": " ", "value": ""}]`
	export := fmt.Sprintf(`{"version": "11.12", "flows": [{"version": "11.12", "base_language": "eng", "flow_type": "M",
	 "metadata": {"uuid": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "name": "Hooks"}, "entry": "a1",
	 "action_sets": [{"uuid": "a1", "destination": "r1", "actions": [{"type": "api", "uuid": "h1", "webhook": "http://example.com/a", "action": "GET", "webhook_headers": %s}]}],
	 "rule_sets": [{"uuid": "r1", "ruleset_type": "webhook", "label": "Hook", "operand": "@step.value",
	   "config": {"webhook": "http://example.com/r", "webhook_action": "GET", "webhook_headers": %s},
	   "rules": [{"uuid": "x1", "category": {"eng": "Success"}, "destination": null, "test": {"type": "webhook_status", "status": "success"}},
	     {"uuid": "x2", "category": {"eng": "Failure"}, "destination": null, "test": {"type": "webhook_status", "status": "failure"}}]}]}]}`, headers, headers)
	res, err := Convert([]byte(export), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Flows[0].Failed {
		t.Fatalf("the flow failed:\n%s", res.Report)
	}
	for _, where := range []string{"action h1 (api)", "ruleset r1"} {
		if !hasLine(res.Report, levelWarning, where+" webhook_headers[1]", "header with a value but no name: dropped, the webhook is called without it") {
			t.Errorf("no warning for %s webhook_headers[1]\n%s", where, res.Report)
		}
		if !hasLine(res.Report, levelInfo, where+" webhook_headers[2]", "header without a name or a value: dropped") {
			t.Errorf("no info line for %s webhook_headers[2]\n%s", where, res.Report)
		}
	}
	if strings.Contains(res.Report.String(), "s3cret") {
		t.Errorf("the report shows the dropped header's value:\n%s", res.Report)
	}
	if n := strings.Count(string(res.Flows[0].JSON), `"X-A": "1"`); n != 2 {
		t.Errorf("the named header is in %d webhooks, want 2:\n%s", n, res.Flows[0].JSON)
	}
}

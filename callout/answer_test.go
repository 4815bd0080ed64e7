package callout_test

import (
	"context"
	"encoding/json"
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

// TestAnswerNestedTooDeep: a JSON answer nested deeper than MaxAnswerDepth
// is a failed call that keeps nothing of the answer, so the session can be
// saved and the flow moves on by its Failure exit; one at the limit is kept.
func TestAnswerNestedTooDeep(t *testing.T) {
	nested := func(depth int) string {
		return strings.Repeat("[", depth) + strings.Repeat("]", depth)
	}
	tests := []struct {
		name, answer, sent, outcome string
		kept                        bool
	}{
		{"10,001 levels", nested(10001), "failed", flows.OutcomeFailure, false},
		{"65 levels", nested(callout.MaxAnswerDepth + 1), "failed", flows.OutcomeFailure, false},
		{"64 levels", nested(callout.MaxAnswerDepth), "ok", flows.OutcomeSuccess, true},
		{"brackets in strings do not count", `{"a": "` + nested(100) + `"}`, "ok", flows.OutcomeSuccess, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(tc.answer))
			}))
			defer srv.Close()
			s, evs, sent := startLoopbackFlow(t, `{"id": "w", "name": "w", "widgets": [
			  {"id": "lookup", "type": "webhook", "method": "GET", "url": "`+srv.URL+`/", "exits": {"Success": "ok", "Failure": "failed"}},
			  {"id": "ok", "type": "send_message", "text": "ok", "exits": {"Next": "wait"}},
			  {"id": "failed", "type": "send_message", "text": "failed", "exits": {"Next": "wait"}},
			  {"id": "wait", "type": "wait_for_response"}]}`)
			if len(sent) != 1 || sent[0] != tc.sent || s.Status != flows.StatusWaiting {
				t.Errorf("sent %q, status %s; want %q and waiting", sent, s.Status, tc.sent)
			}
			for _, ev := range evs {
				if ev.Type != flows.EventWebhookCalled {
					continue
				}
				if ev.Outcome != tc.outcome {
					t.Errorf("outcome %s, want %s", ev.Outcome, tc.outcome)
				}
				if !tc.kept && !strings.Contains(ev.Message, "more than 64 levels deep") {
					t.Errorf("message %q does not say why", ev.Message)
				}
			}
			if kept := len(s.Extra) > 0; kept != tc.kept {
				t.Errorf("@extra kept: %v, want %v", kept, tc.kept)
			}
			if _, err := json.Marshal(s); err != nil {
				t.Errorf("the session cannot be saved: %v", err)
			}
		})
	}
}

// TestAnswerRepeatedNames: an answer whose objects give a name more than
// once is read with the name's last value, as encoding/json, JavaScript's
// JSON.parse and RapidPro read it, by templates (gjson paths), expressions,
// the result's .json and mappings alike, nested objects included.
func TestAnswerRepeatedNames(t *testing.T) {
	const answer = `{"status": "Pending", "order": {"id": "CU001", "id": "CU002"}, "status": "Shipped",
	  "items": [{"qty": 1, "qty": 2}], "count": 1, "count": 12345678901234567890}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(answer))
	}))
	defer srv.Close()
	_, _, sent := startLoopbackFlow(t, `{"id": "w", "name": "w", "widgets": [
	  {"id": "lookup", "type": "webhook", "method": "GET", "url": "`+srv.URL+`/", "result": "lookup",
	   "mappings": {"mapped": "order.id"}, "exits": {"Success": "say"}},
	  {"id": "say", "type": "send_message", "exits": {"Next": "wait"},
	   "text": "@extra.status @(extra.status) @extra.order.id @(extra.order.id) @extra.items.0.qty @(extra.items[0].qty) @extra.count @flow.lookup.json.status @(flow.lookup.json.order.id) @flow.mapped"},
	  {"id": "wait", "type": "wait_for_response"}]}`)
	want := "Shipped Shipped CU002 CU002 2 2 12345678901234567890 Shipped CU002 CU002"
	if len(sent) != 1 || sent[0] != want {
		t.Errorf("sent %q, want %q", sent, want)
	}
}

// startLoopbackFlow starts flow with webhook calls allowed to loopback and
// returns its session, its events and the texts it sent.
func startLoopbackFlow(t *testing.T, flow string) (*flows.Session, []flows.Event, []string) {
	t.Helper()
	hooks := callout.New(callout.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	e := engine.New(widgets.Registered(), engine.WithServices(sim.Services{Hooks: hooks}))
	f, err := e.Load([]byte(flow))
	if err != nil {
		t.Fatal(err)
	}
	s, evs, err := e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	var sent []string
	for _, ev := range evs {
		if ev.Type == flows.EventMessageOut {
			sent = append(sent, ev.Text)
		}
	}
	return s, evs, sent
}

package server

import (
	"strings"
	"testing"
)

// TestSimulatorFlowOrDefinition: a start names the flow to run by its id or
// gives its document, not both: one given with the other would be dropped
// without a word, so the session would run another flow than the one the
// caller named. Both together are refused, and nothing runs.
func TestSimulatorFlowOrDefinition(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	r := ts.do("POST", "/v1/simulator/sessions", `{"flow": "ask",
	  "definition": {"id": "other", "widgets": [{"id": "a", "type": "send_message", "text": "from the definition"}]}}`)
	if r.Status != 400 {
		t.Fatalf("flow and definition together: status %d, want 400: %s", r.Status, r.Body)
	}
	e := r.errorOf(t)
	if e["code"] != "bad_request" || e["field"] != "definition" ||
		!strings.Contains(e["message"].(string), `not both`) {
		t.Errorf("flow and definition together: %v", e)
	}
	if list := ts.must(200, "GET", "/v1/sessions", nil)["sessions"].([]any); len(list) != 0 {
		t.Errorf("a refused start left sessions: %v", list)
	}
	if r := ts.do("GET", "/v1/flows/sim.other", nil); r.Status != 404 {
		t.Errorf("a refused start stored its definition as a draft: %d %s", r.Status, r.Body)
	}
	// Each alone still starts.
	ts.must(201, "POST", "/v1/simulator/sessions", `{"flow": "ask"}`)
	ts.must(201, "POST", "/v1/simulator/sessions", `{"definition": {"id": "other", "widgets": [{"id": "a", "type": "send_message", "text": "hi"}]}}`)
}

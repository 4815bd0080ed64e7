package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSaveSimulatedFlow: a flow tried in the simulator is saved as
// docs/simulator.md says: a flow new to the server with POST /v1/flows (PUT
// answers 404 saying so), a stored one with PUT /v1/flows/{id}, whose new
// revision the simulator then runs as is.
func TestSaveSimulatedFlow(t *testing.T) {
	ts := newTestServer(t, nil)
	doc := `{"id":"fresh","name":"Fresh","widgets":[{"id":"a","type":"send_message","text":"one","exits":{"Next":""}}]}`
	r := ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"definition": json.RawMessage(doc)})
	if r["flow"] != "sim.fresh" {
		t.Fatalf("a new flow runs as %v, want the draft sim.fresh", r["flow"])
	}
	put := ts.do("PUT", "/v1/flows/fresh", doc)
	if msg, _ := put.errorOf(t)["message"].(string); put.Status != 404 || !strings.Contains(msg, "store a new one with POST /v1/flows") {
		t.Errorf("PUT of a flow never stored: %d %s, want 404 pointing to POST /v1/flows", put.Status, put.Body)
	}
	ts.must(201, "POST", "/v1/flows", doc)
	edited := strings.Replace(doc, `"one"`, `"two"`, 1)
	if saved := ts.must(200, "PUT", "/v1/flows/fresh", edited); saved["revision"] != float64(2) {
		t.Errorf("PUT of the stored flow answered %v, want revision 2", saved)
	}
	r = ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"definition": json.RawMessage(edited)})
	if r["flow"] != "fresh" || strings.Join(texts(r), "|") != "two" {
		t.Errorf("the saved revision runs as %v saying %q, want fresh saying two", r["flow"], texts(r))
	}
}

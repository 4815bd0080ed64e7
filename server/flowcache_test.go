package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// A flow edited many times, with PUT /v1/flows and in the simulator (each
// edit stores a revision), keeps the compiled revisions in memory to each
// flow's current one and --flow-cache others; a session waiting in a
// revision dropped long ago still resumes on it, read from the store again.
func TestFlowCacheKeepsABoundedNumberOfRevisions(t *testing.T) {
	const older, edits = 8, 120
	ts := newTestServer(t, func(c *Config) { c.FlowCache = older })
	ts.createFlow(askFlow)
	first := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask", "variables": map[string]any{"greeting": "a", "code": "1"}})
	var middle map[string]any
	most := 0
	for i := 2; i <= edits; i++ {
		doc := strings.Replace(askFlow, "Bye @flow.name", fmt.Sprintf("Bye %d @flow.name", i), 1)
		ts.must(200, "PUT", "/v1/flows/ask", doc)
		s := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask", "variables": map[string]any{"greeting": "b", "code": fmt.Sprint(i)}})
		if i == edits/2 {
			middle = s
		}
		// A draft of the flow in the simulator, edited as often.
		draft := strings.Replace(doc, "What is your name?", "Your name?", 1)
		ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"definition": json.RawMessage(draft)})
		most = max(most, ts.srv.svc.flows.revisions())
	}
	// The current revisions of "ask" and of its draft, and the older ones.
	if limit := older + 2; most > limit {
		t.Errorf("the flow cache held %d compiled revisions after %d edits, want at most %d", most, 2*(edits-1), limit)
	}
	done := ts.must(200, "POST", fmt.Sprintf("/v1/sessions/%s/resume", first["id"]), `{"text":"X"}`)
	if got := texts(done); !slices.Equal(got, []string{"Bye X, code 1"}) {
		t.Errorf("the session on revision 1 ran %q, want revision 1's text", got)
	}
	done = ts.must(200, "POST", fmt.Sprintf("/v1/sessions/%s/resume", middle["id"]), `{"text":"Y"}`)
	if want := fmt.Sprintf("Bye %d Y, code %d", edits/2, edits/2); !slices.Equal(texts(done), []string{want}) {
		t.Errorf("the session on revision %d ran %q, want %q", edits/2, texts(done), want)
	}
}

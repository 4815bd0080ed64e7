package server

import (
	"testing"
)

// session.launched names what launched a session and its id: the request's
// X-Request-Id for the API and the simulator, the call's id for a session on
// a call, whichever endpoint started it, and the request's when the call
// was given without one.
func TestLaunchedByAndLaunchID(t *testing.T) {
	ts := loopbackServer(t)
	ts.createFlow(askFlow)
	ts.createFlow(`{"id":"hello-ivr","kind":"voice","name":"Hello","widgets":[{"id":"hi","type":"say","text":"Hello"}]}`)
	live, sandbox := newSink(t), newSink(t)
	ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": live.URL, "events": []string{"session.launched"}})
	ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": sandbox.URL, "events": []string{"session.launched"}, "environment": "sandbox"})

	start := func(path, rid string, body map[string]any) string {
		t.Helper()
		r := ts.do("POST", path, body, "X-Request-Id", rid)
		if r.Status != 201 {
			t.Fatalf("POST %s: status %d: %s", path, r.Status, r.Body)
		}
		return r.JSON(t)["id"].(string)
	}
	api := start("/v1/sessions", "req-1", map[string]any{"flow": "ask", "contact": map[string]any{"urn": "tel:+15550110"}})
	callNoID := start("/v1/sessions", "req-2", map[string]any{"flow": "hello-ivr", "call": map[string]any{"from": "+15550111"}})
	callID := start("/v1/sessions", "req-3", map[string]any{"flow": "hello-ivr", "call": map[string]any{"id": "CA9", "from": "+15550112"}})
	sim := start("/v1/simulator/sessions", "simreq-1", map[string]any{"flow": "ask"})
	simVoice := start("/v1/simulator/sessions", "simreq-777", map[string]any{"flow": "hello-ivr"})
	simCall := start("/v1/simulator/sessions", "simreq-3", map[string]any{"flow": "hello-ivr", "call": map[string]any{"id": "CA10", "from": "+15550113"}})

	tests := []struct {
		name, session string
		sink          *sink
		by, id        string
	}{
		{"POST /v1/sessions", api, live, "api", "req-1"},
		{"POST /v1/sessions with a call without an id", callNoID, live, "call", "req-2"},
		{"POST /v1/sessions with a call", callID, live, "call", "CA9"},
		{"the simulator", sim, sandbox, "api", "simreq-1"},
		{"the simulator, a voice flow", simVoice, sandbox, "call", "sim-" + simVoice},
		{"the simulator with a call", simCall, sandbox, "call", "CA10"},
	}
	launched := func(s *sink, session string) map[string]any {
		for _, e := range s.ofType("session.launched") {
			if e.data["session_id"] == session {
				return e.data
			}
		}
		return nil
	}
	for _, tt := range tests {
		eventually(t, "session.launched of "+tt.name, func() bool { return launched(tt.sink, tt.session) != nil })
		d := launched(tt.sink, tt.session)
		if d["launched_by"] != tt.by || d["launch_id"] != tt.id {
			t.Errorf("%s: launched_by %v, launch_id %v; want %s, %s", tt.name, d["launched_by"], d["launch_id"], tt.by, tt.id)
		}
	}
}

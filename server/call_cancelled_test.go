package server

import (
	"net/url"
	"testing"
)

// "cancelled", in any case, is taken as Twilio's "canceled" and kept so, as
// $call.state, whichever way it comes.
func TestCallStateCancelledIsCanceled(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(stateFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","voice_flow":"call-state"}`)

	callState := func(id string) any {
		t.Helper()
		s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
		call, _ := s["variables"].(map[string]any)["call"].(map[string]any)
		return call["state"]
	}
	ts.must(201, "POST", "/v1/channels/tw/calls", `{"call_id":"CA1","from":"+15550001"}`)
	ts.must(200, "POST", "/v1/channels/tw/calls/CA1", `{"state":"Cancelled"}`)
	if got := callState(callSessionID("tw", "CA1")); got != "canceled" {
		t.Errorf("calls API state Cancelled kept as %v, want canceled", got)
	}

	twilioForm(ts, "/twilio/tw/voice", url.Values{"CallSid": {"CA2"}, "From": {"+15550001"}, "CallStatus": {"ringing"}}, "")
	if r := twilioForm(ts, "/twilio/tw/voice", url.Values{"CallSid": {"CA2"}, "From": {"+15550001"}, "CallStatus": {"CANCELLED"}}, ""); r.Status != 200 {
		t.Fatalf("Twilio CallStatus CANCELLED: %d %s", r.Status, r.Body)
	}
	if got := callState(callSessionID("tw", "CA2")); got != "canceled" {
		t.Errorf("Twilio CallStatus CANCELLED kept as %v, want canceled", got)
	}

	// A call that starts cancelled starts nothing; one started with a state
	// of its own keeps it.
	if r := ts.must(200, "POST", "/v1/channels/tw/calls", `{"call_id":"CA3","from":"+15550001","state":"cancelled"}`); r["id"] != nil {
		t.Errorf("a call started cancelled started session %v", r["id"])
	}
}

package server

import (
	"context"
	"net/url"
	"testing"

	"github.com/parleyhq/parley/flows"
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

// The service keeps a call's state as the HTTP handlers do, whichever of
// its entry points takes it: in lowercase, cancelled as canceled.
func TestServiceKeepsCallStates(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(stateFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"line","voice_flow":"call-state"}`)
	svc, ctx := ts.srv.svc, context.Background()
	state := func(id string) string {
		t.Helper()
		s, err := svc.store.LoadSession(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return s.Call.State
	}
	check := func(what, id, want string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := state(id); got != want {
			t.Errorf("%s: $call.state %q, want %q", what, got, want)
		}
	}

	_, err := svc.StartCall(ctx, IncomingCall{Channel: "line", CallID: "CA1", From: "+15550001", State: "In-Progress"})
	check("StartCall In-Progress", callSessionID("line", "CA1"), "in-progress", err)
	_, err = svc.CallInput(ctx, "line", "CA1", flows.Input{}, "CANCELLED")
	check("CallInput CANCELLED", callSessionID("line", "CA1"), "canceled", err)

	_, err = svc.HandleCall(ctx, CallRequest{IncomingCall: IncomingCall{Channel: "line", CallID: "CA2", From: "+15550001", State: "Ringing"}})
	check("HandleCall Ringing", callSessionID("line", "CA2"), "ringing", err)
	_, err = svc.HandleCall(ctx, CallRequest{IncomingCall: IncomingCall{Channel: "line", CallID: "CA2", From: "+15550001", State: "Cancelled"}})
	check("HandleCall Cancelled", callSessionID("line", "CA2"), "canceled", err)

	for _, c := range []struct{ state, want string }{{"Answered", "answered"}, {"", "in-progress"}} {
		r, err := svc.Start(ctx, StartRequest{FlowID: "call-state", Contact: flows.Contact{URN: "tel:+15550002"}, Call: &flows.Call{ID: "CA-" + c.state, State: c.state}})
		if err != nil {
			t.Fatalf("Start %q: %v", c.state, err)
		}
		check("Start "+c.state, r.ID, c.want, err)
	}
}

package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// A CallStatus that is none of Twilio's is refused, 400 naming CallStatus,
// as the calls API refuses such a state; Twilio's own are taken in any case.
func TestTwilioUnknownCallStatusRefused(t *testing.T) {
	ts, base := twilioCallServer(t, "ivr-menu", "")
	status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "weird"))
	var e struct {
		Error struct{ Code, Message, Field string }
	}
	_ = json.Unmarshal([]byte(body), &e)
	want := `Twilio's CallStatus "weird" is not a call state: Twilio sends one of queued, initiated, ringing, answered, in-progress, completed, busy, failed, no-answer, canceled`
	if status != 400 || e.Error.Field != "CallStatus" || e.Error.Message != want {
		t.Errorf("CallStatus weird: %d %s\nwant 400 on CallStatus: %s", status, body, want)
	}
	if r := ts.do("GET", "/v1/sessions/"+callSessionID("tw", "CA1"), nil); r.Status != 404 {
		t.Errorf("a call with CallStatus weird has a session: %d %s", r.Status, r.Body)
	}
	// In any case: In-Progress starts the call, weird about it is refused
	// and changes nothing, Completed ends it.
	if status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA2", "CallStatus", "In-Progress")); status != 200 || !strings.Contains(body, "<Gather") {
		t.Fatalf("CallStatus In-Progress: %d %s", status, body)
	}
	if status, _ := twilioPost(t, base, "/twilio/tw/voice", callForm("CA2", "CallStatus", "hungup")); status != 400 {
		t.Errorf("CallStatus hungup about a call: %d, want 400", status)
	}
	id := callSessionID("tw", "CA2")
	if s := ts.must(200, "GET", "/v1/sessions/"+id, nil); s["status"] != "waiting" {
		t.Errorf("session after a refused CallStatus: %v", s["status"])
	}
	if status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA2", "CallStatus", "Completed")); status != 200 || !strings.HasSuffix(body, "<Response/>") {
		t.Errorf("CallStatus Completed: %d %s", status, body)
	}
	if s := ts.must(200, "GET", "/v1/sessions/"+id, nil); s["status"] != "interrupted" {
		t.Errorf("session after CallStatus Completed: %v", s["status"])
	}
}

// A caller who hangs up in the middle of a <Gather>: Twilio may post the
// gather's action with the keys pressed so far and a CallStatus that ends
// the call. The call is over, so the keys are not taken: no turn runs on
// them (no prompt no one would hear, no webhook step), the session ends
// interrupted with that state, and the answer is an empty <Response/>.
func TestTwilioHangupMidGatherDropsItsDigits(t *testing.T) {
	ts, base := twilioCallServer(t, "ivr-menu", "")
	if status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "ringing")); status != 200 || !strings.Contains(body, "<Gather") {
		t.Fatalf("call start: %d %s", status, body)
	}
	status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "completed", "Digits", "1"))
	if status != 200 || !strings.HasSuffix(body, "<Response/>") {
		t.Errorf("gather action after the hang-up: %d %s, want <Response/>", status, body)
	}
	id := callSessionID("tw", "CA1")
	s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	call, _ := s["variables"].(map[string]any)["call"].(map[string]any)
	if s["status"] != "interrupted" || call["state"] != "completed" {
		t.Errorf("session after a hang-up mid-gather: status %v, call %v; want interrupted, state completed", s["status"], call)
	}
	if n := ts.sessionInputs(t, id); n != 0 {
		t.Errorf("the keys of a call that has ended were taken: %d inputs", n)
	}
}

package server

import (
	"net/url"
	"strings"
	"testing"
)

// Two calls at once from the same caller id (here a withheld number, which
// Twilio reports as "Anonymous") are two conversations: the second call
// must not end the first.
func TestTwilioSimultaneousCallsFromOneCaller(t *testing.T) {
	const token = "tw-auth-token"
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","voice_flow":"ivr-menu","auth_token":"`+token+`"}`)

	for _, sid := range []string{"CA-anon1", "CA-anon2"} {
		r := twilioForm(ts, "/twilio/tw/voice", url.Values{"CallSid": {sid}, "From": {"Anonymous"}, "CallStatus": {"ringing"}}, token)
		if r.Status != 200 || !strings.Contains(string(r.Body), "<Gather") {
			t.Fatalf("call %s: %d %s", sid, r.Status, r.Body)
		}
	}
	for _, c := range []struct{ sid, digit, say string }{
		{"CA-anon1", "1", "Connecting you to sales."},
		{"CA-anon2", "2", "Connecting you to support."},
	} {
		r := twilioForm(ts, "/twilio/tw/voice", url.Values{"CallSid": {c.sid}, "From": {"Anonymous"}, "CallStatus": {"in-progress"}, "Digits": {c.digit}}, token)
		if want := "<Response><Say>" + c.say + "</Say><Hangup/></Response>"; !strings.HasSuffix(string(r.Body), want) {
			t.Errorf("call %s pressed %s: %s, want ...%s", c.sid, c.digit, r.Body, want)
		}
	}
}

// Messages and calls of one number on one channel are separate
// conversations: a message never feeds a call's gather, and a call never
// interrupts the number's messaging session.
func TestMessagesAndCallsOfOneNumber(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"line","type":"twilio","default_flow":"ask","voice_flow":"ivr-menu"}`)

	call := ts.must(201, "POST", "/v1/channels/line/calls", `{"call_id":"CA-x1","from":"+15550001","state":"ringing"}`)
	msg := ts.must(200, "POST", "/v1/channels/line/messages", `{"from":"+15550001","text":"hi"}`)
	if msg["flow"] != "ask" || msg["id"] == call["id"] || len(texts(msg)) != 1 || !strings.HasPrefix(texts(msg)[0], "Hi ") {
		t.Fatalf("a message during a call answered %v, want the default flow's greeting", msg)
	}
	if s := ts.must(200, "GET", "/v1/sessions/"+call["id"].(string), nil); s["status"] != "waiting" || s["input"] != nil {
		t.Errorf("the call's session after the message: %v", s)
	}

	// A second call of the number leaves the messaging session waiting...
	ts.must(201, "POST", "/v1/channels/line/calls", `{"call_id":"CA-x2","from":"+15550001"}`)
	if s := ts.must(200, "GET", "/v1/sessions/"+msg["id"].(string), nil); s["status"] != "waiting" {
		t.Errorf("the messaging session after a call started: %v", s["status"])
	}
	// ...and the calls still take their own digits.
	sales := ts.must(200, "POST", "/v1/channels/line/calls/CA-x1", `{"digits":"1"}`)
	if got := texts(sales); len(got) != 1 || got[0] != "Connecting you to sales." {
		t.Errorf("the first call's digits answered %q", got)
	}
	// The next message resumes the messaging session.
	bye := ts.must(200, "POST", "/v1/channels/line/messages", `{"from":"+15550001","text":"Ann"}`)
	if bye["id"] != msg["id"] || bye["status"] != "completed" || len(texts(bye)) != 1 || !strings.HasPrefix(texts(bye)[0], "Bye Ann") {
		t.Errorf("the reply to the name answered %v", bye)
	}
	if s := ts.must(200, "GET", "/v1/sessions/"+call["id"].(string), nil); s["status"] != "completed" {
		t.Errorf("the first call's session: %v", s["status"])
	}
}

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

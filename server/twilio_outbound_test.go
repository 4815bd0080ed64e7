package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// whoFlow says who is on the line and which number the call is on.
const whoFlow = `{"id":"who","name":"Who","kind":"voice","widgets":[
 {"id":"say","type":"say","text":"cli $call.cli, to $call.to.","exits":{"Next":"menu"}},
 {"id":"menu","type":"gather_digits","prompt":"Press a key.","num_digits":1,"exits":{"Next":"","No Input":"","No Match":""}}]}`

// On a call Parley's number makes (Direction outbound-api or outbound-dial),
// Twilio's From is the channel's own number: the contact and $call.cli are
// the person called (To), $call.to the channel's number, so calls to two
// people from one number are two contacts.
func TestTwilioOutboundCallContactIsTheNumberCalled(t *testing.T) {
	ts, base := twilioCallServer(t, "who", whoFlow)
	cases := []struct {
		sid, direction, from, to string
		contact, say             string
	}{
		{"CA1", "outbound-api", "+15557654321", "+15550009999", "tel:+15550009999", "cli +15550009999, to +15557654321."},
		{"CA2", "outbound-dial", "+15557654321", "+15550008888", "tel:+15550008888", "cli +15550008888, to +15557654321."},
		{"CA3", "inbound", "+15550007777", "+15557654321", "tel:+15550007777", "cli +15550007777, to +15557654321."},
		{"CA4", "", "+15550006666", "+15557654321", "tel:+15550006666", "cli +15550006666, to +15557654321."},
	}
	for _, c := range cases {
		form := callForm(c.sid, "From", c.from, "To", c.to, "CallStatus", "ringing")
		if c.direction != "" {
			form.Set("Direction", c.direction)
		}
		status, body := twilioPost(t, base, "/twilio/tw/voice", form)
		if status != 200 || !strings.Contains(body, "<Say>"+c.say+"</Say>") {
			t.Errorf("%s %s: %d %s\nwant <Say>%s</Say>", c.sid, c.direction, status, body, c.say)
			continue
		}
		s := ts.must(200, "GET", "/v1/sessions/"+callSessionID("tw", c.sid), nil)
		contact, _ := json.Marshal(s["contact"])
		if !strings.Contains(string(contact), `"urn":"`+c.contact+`"`) {
			t.Errorf("%s %s: contact %s, want urn %s", c.sid, c.direction, contact, c.contact)
		}
		// The call's later requests find the same session, and its hang-up
		// ends it.
		form.Set("CallStatus", "in-progress")
		form.Set("Digits", "1")
		if status, body := twilioPost(t, base, "/twilio/tw/voice", form); status != 200 || !strings.HasSuffix(body, "<Response><Hangup/></Response>") {
			t.Errorf("%s %s: digits answered %d %s", c.sid, c.direction, status, body)
		}
	}
	// An outbound call needs the number it is made to.
	form := callForm("CA5", "Direction", "outbound-api", "CallStatus", "ringing")
	form.Del("To")
	status, body := twilioPost(t, base, "/twilio/tw/voice", form)
	if status != 400 || !strings.Contains(body, `"field":"To"`) {
		t.Errorf("outbound call without To: %d %s", status, body)
	}
	// Its hang-up, without the numbers, still ends the call by its CallSid.
	twilioPost(t, base, "/twilio/tw/voice", callForm("CA6", "Direction", "outbound-api", "From", "+15557654321", "To", "+15550005555", "CallStatus", "ringing"))
	hangup := callForm("CA6", "Direction", "outbound-api", "CallStatus", "completed")
	hangup.Del("From")
	hangup.Del("To")
	if status, body := twilioPost(t, base, "/twilio/tw/voice", hangup); status != 200 || !strings.HasSuffix(body, "<Response/>") {
		t.Errorf("outbound hang-up: %d %s", status, body)
	}
	if s := ts.must(200, "GET", "/v1/sessions/"+callSessionID("tw", "CA6"), nil); s["status"] != "interrupted" {
		t.Errorf("outbound call after its hang-up: %v", s["status"])
	}
}

package server

import (
	"net/url"
	"strings"
	"testing"
)

// A sender or contact URN with nothing after its scheme ("tel:", "tel: ")
// or nothing before its ':' is refused, 400 naming the field it came from,
// as a blank from is, before the turn runs: it would make a contact "tel:"
// that every such request shares.
func TestSendersWithoutAddressRefused(t *testing.T) {
	ts, calls := hookedChannel(t)

	var cases []apiErrorCase
	for _, from := range []string{"tel:", ":", "tel: ", " tel:\\t", ":+1555"} {
		cases = append(cases,
			apiErrorCase{name: "message from " + from, method: "POST", path: "/v1/channels/web/messages", body: `{"from":"` + from + `","text":"hi"}`, field: "from"},
			apiErrorCase{name: "call from " + from, method: "POST", path: "/v1/channels/web/calls", body: `{"call_id":"c1","from":"` + from + `"}`, field: "from"},
			apiErrorCase{name: "session contact " + from, method: "POST", path: "/v1/sessions", body: `{"flow":"hooked","channel":"web","contact":{"urn":"` + from + `"}}`, field: "contact.urn"},
		)
	}
	cases = append(cases,
		apiErrorCase{name: "session contact blank on a channel", method: "POST", path: "/v1/sessions", body: `{"flow":"hooked","channel":"web","contact":{"urn":"  "}}`, field: "contact.urn"},
		apiErrorCase{name: "session contact blank", method: "POST", path: "/v1/sessions", body: `{"flow":"hooked","contact":{"urn":"  "}}`, field: "contact.urn"},
		apiErrorCase{name: "session caller blank", method: "POST", path: "/v1/sessions", body: `{"flow":"hooked-ivr","call":{"id":"c2","from":" "}}`, field: "call.from"},
		apiErrorCase{name: "session caller tel:", method: "POST", path: "/v1/sessions", body: `{"flow":"hooked-ivr","channel":"web","call":{"id":"c3","from":"tel:"}}`, field: "call.from"},
		apiErrorCase{name: "session caller tel: without a channel", method: "POST", path: "/v1/sessions", body: `{"flow":"hooked-ivr","call":{"id":"c5","from":"tel:"}}`, field: "call.from"},
		apiErrorCase{name: "session caller : without a channel", method: "POST", path: "/v1/sessions", body: `{"flow":"hooked-ivr","call":{"id":"c6","from":":"}}`, field: "call.from"},
		apiErrorCase{name: "call from blank", method: "POST", path: "/v1/channels/web/calls", body: `{"call_id":"c4","from":"  "}`, field: "from"},
	)
	for i := range cases {
		cases[i].status, cases[i].code = 400, CodeInvalidField
	}
	ts.expectErrors(t, cases)
	r := ts.do("POST", "/v1/channels/web/messages", `{"from":"tel:","text":"hi"}`)
	if msg, _ := r.errorOf(t)["message"].(string); !strings.Contains(msg, `"tel:"`) || !strings.Contains(msg, "address") {
		t.Errorf("message %q: want the URN and that it has no address", msg)
	}

	batch := ts.must(200, "POST", "/v1/channels/web/messages/batch", `{"messages":[{"from":"+1556","text":"hi"},{"from":"tel: ","text":"hi"}]}`)
	replies := batch["replies"].([]any)
	if e, _ := replies[1].(map[string]any)["error"].(map[string]any); e == nil || e["field"] != "messages[1].from" || e["status"] != float64(400) {
		t.Errorf("batch message from tel: answered %v, want 400 on messages[1].from", replies[1])
	}
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/twilio/web/sms", url.Values{"From": {"tel:"}, "Body": {"hi"}, "MessageSid": {"SM1"}}},
		{"/twilio/web/sms", url.Values{"From": {" "}, "Body": {"hi"}, "MessageSid": {"SM2"}}},
		{"/twilio/web/voice", url.Values{"From": {"tel:"}, "CallSid": {"CA1"}, "CallStatus": {"ringing"}}},
	} {
		r := twilioForm(ts, c.path, c.form, "")
		if r.Status != 400 || r.errorOf(t)["field"] != "From" {
			t.Errorf("POST %s From %q: %d %s, want 400 naming From", c.path, c.form.Get("From"), r.Status, r.Body)
		}
	}
	if n := calls.Load(); n != 1 { // the batch's first message only
		t.Errorf("the webhook was called %d times, want once (refused requests must not run their turn)", n)
	}

	// A URN with an address, and a session without a contact, start.
	ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"whatsapp:+1557","text":"hi"}`)
	ts.must(201, "POST", "/v1/sessions", `{"flow":"hooked"}`)
	// A hang-up's status callback without From is still taken, and so is
	// one whose From cannot be read: it ends the call by its id.
	if r := twilioForm(ts, "/twilio/web/voice", url.Values{"CallSid": {"CA9"}, "CallStatus": {"completed"}}, ""); r.Status != 200 {
		t.Errorf("hang-up without From: %d %s", r.Status, r.Body)
	}
	if r := twilioForm(ts, "/twilio/web/voice", url.Values{"CallSid": {"CA10"}, "From": {"+15550010"}, "CallStatus": {"in-progress"}}, ""); r.Status != 200 {
		t.Fatalf("call start: %d %s", r.Status, r.Body)
	}
	if r := twilioForm(ts, "/twilio/web/voice", url.Values{"CallSid": {"CA10"}, "From": {" "}, "CallStatus": {"completed"}}, ""); r.Status != 200 {
		t.Errorf("hang-up with a blank From: %d %s", r.Status, r.Body)
	}
	if l := ts.must(200, "GET", "/v1/sessions?contact=tel:%2B15550010", nil)["sessions"].([]any); len(l) != 1 || l[0].(map[string]any)["status"] == "waiting" {
		t.Errorf("the call's session after its hang-up: %v", l)
	}
	// A call's session needs its caller when no contact is given.
	for _, body := range []string{`{"flow":"hooked-ivr","call":{"id":"c8"}}`, `{"flow":"hooked-ivr","call":{"id":"c9","from":""}}`} {
		if r := ts.do("POST", "/v1/sessions", body); r.Status != 400 || r.errorOf(t)["field"] != "call.from" {
			t.Errorf("%s: %d %s, want 400 naming call.from", body, r.Status, r.Body)
		}
	}
	// A caller given as a URN, without a channel, is that URN, not tel:tel:.
	started := ts.must(201, "POST", "/v1/sessions", `{"flow":"hooked-ivr","call":{"id":"c7","from":"tel:+15550001"}}`)
	sess := ts.must(200, "GET", "/v1/sessions/"+started["id"].(string), nil)
	if c, _ := sess["contact"].(map[string]any); c["urn"] != "tel:+15550001" {
		t.Errorf("contact %v, want the URN tel:+15550001", sess["contact"])
	}
}

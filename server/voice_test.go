package server

import (
	"log/slog"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/syncbuf"
)

func TestCallsAPI(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.must(201, "POST", "/v1/channels", `{"id":"phone","voice_flow":"ivr-menu"}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"text","default_flow":"order-status"}`)
	if demo := ts.must(200, "GET", "/v1/channels/demo", nil); demo["voice_flow"] != "ivr-menu" {
		t.Errorf("demo channel answers calls with %v, want the voice example", demo["voice_flow"])
	}

	start := ts.must(201, "POST", "/v1/channels/phone/calls", `{"call_id":"CA1","from":"+15551234","to":"+15550000","state":"ringing"}`)
	if start["call_id"] != "CA1" || start["status"] != "waiting" {
		t.Fatalf("call start answered %v", start)
	}
	if got := texts(start); !slices.Equal(got, []string{"Hello, caller from +15551234. Welcome to Parley Telecom.", "Press 1 for sales, 2 for support, 3 to leave a message."}) {
		t.Errorf("prompts %q", got)
	}
	prompts := start["prompts"].([]any)
	gather := prompts[len(prompts)-1].(map[string]any)
	if gather["type"] != "gather" || gather["num_digits"] != float64(1) || gather["timeout"] != float64(5) {
		t.Errorf("last prompt %v, want a gather of 1 digit, 5 s", gather)
	}
	sess := ts.must(200, "GET", "/v1/sessions/"+start["id"].(string), nil)
	call := sess["variables"].(map[string]any)["call"].(map[string]any)
	if call["cli"] != "+15551234" || call["to"] != "+15550000" || call["id"] != "CA1" {
		t.Errorf("$call variables %v", call)
	}

	if r := ts.do("POST", "/v1/channels/phone/calls", `{"call_id":"CA1","from":"+15551234"}`); r.Status != 409 {
		t.Errorf("starting a call twice: %d", r.Status)
	}
	wrong := ts.must(200, "POST", "/v1/channels/phone/calls/CA1", `{"digits":"9"}`)
	if got := texts(wrong); len(got) == 0 || got[0] != "Sorry, that is not an option." {
		t.Errorf("wrong key answered %q", got)
	}
	sales := ts.must(200, "POST", "/v1/channels/phone/calls/CA1", `{"digits":"1"}`)
	if sales["status"] != "completed" || !slices.Equal(texts(sales), []string{"Connecting you to sales."}) {
		t.Errorf("digit 1 answered %v", sales)
	}
	last := sales["prompts"].([]any)
	if last[len(last)-1].(map[string]any)["type"] != "hangup" {
		t.Errorf("no hangup prompt: %v", last)
	}

	ts.must(201, "POST", "/v1/channels/phone/calls", `{"call_id":"CA2","from":"+15559999"}`)
	hung := ts.must(200, "POST", "/v1/channels/phone/calls/CA2", `{"state":"completed"}`)
	if hung["status"] != "interrupted" {
		t.Errorf("caller hung up: %v", hung)
	}
	for _, c := range []struct {
		path, body string
		status     int
	}{
		{"/v1/channels/phone/calls/nope", `{"digits":"1"}`, 404},
		{"/v1/channels/phone/calls/CA2", `{"state":"ringing"}`, 400},
		{"/v1/channels/phone/calls/CA2", `{}`, 400},
		{"/v1/channels/phone/calls", `{"from":"+1"}`, 400},
		{"/v1/channels/nope/calls", `{"call_id":"x","from":"+1"}`, 404},
		{"/v1/channels/text/calls", `{"call_id":"x","from":"+1"}`, 422},
	} {
		if r := ts.do("POST", c.path, c.body); r.Status != c.status {
			t.Errorf("POST %s %s: %d, want %d: %s", c.path, c.body, r.Status, c.status, r.Body)
		}
	}
}

func twilioForm(ts *testServer, path string, form url.Values, token string) response {
	req := httptest.NewRequest("POST", "http://127.0.0.1"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		req.Header.Set(TwilioSignatureHeader, TwilioSignature(token, "http://127.0.0.1"+path, form))
	}
	return ts.send(req)
}

func TestTwilioSMS(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","default_flow":"order-status"}`)
	form := url.Values{"From": {"+15551111"}, "To": {"+15550000"}, "Body": {"hi"}, "MessageSid": {"SM1"}}
	r := twilioForm(ts, "/twilio/tw/sms", form, "")
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/xml") {
		t.Fatalf("sms webhook: %d %s %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Response><Message>Thanks for contacting the ThriftShop order status system. Please send your order # and we&#39;ll help you in a jiffy!</Message></Response>`
	if string(r.Body) != want {
		t.Errorf("TwiML\n%s\nwant\n%s", r.Body, want)
	}
	form.Set("Body", "CU001")
	form.Set("MessageSid", "SM2")
	r = twilioForm(ts, "/twilio/tw/sms", form, "")
	if !strings.Contains(string(r.Body), "<Message>Great news Ben Haggerty!") {
		t.Errorf("order status TwiML: %s", r.Body)
	}
}

func TestTwilioVoiceMenu(t *testing.T) {
	const token = "tw-auth-token"
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.must(201, "POST", "/v1/channels", `{"id":"phone","type":"twilio","voice_flow":"ivr-menu","auth_token":"`+token+`"}`)

	call := url.Values{"CallSid": {"CA9"}, "From": {"+15551234"}, "To": {"+15550000"}, "CallStatus": {"ringing"}}
	r := twilioForm(ts, "/twilio/phone/voice", call, token)
	want := `<Response><Say>Hello, caller from +15551234. Welcome to Parley Telecom.</Say>` +
		`<Gather action="/twilio/phone/voice" method="POST" timeout="5" numDigits="1" finishOnKey="#"><Say>Press 1 for sales, 2 for support, 3 to leave a message.</Say></Gather>` +
		`<Redirect method="POST">/twilio/phone/voice?timeout=1` + firstWait + `</Redirect></Response>`
	if r.Status != 200 || !strings.HasSuffix(string(r.Body), want) {
		t.Fatalf("first voice TwiML %d\n%s\nwant ...%s", r.Status, r.Body, want)
	}

	// The gather timed out: Twilio follows the Redirect, the menu re-prompts.
	call.Set("CallStatus", "in-progress")
	r = twilioForm(ts, "/twilio/phone/voice?timeout=1", call, token)
	if !strings.Contains(string(r.Body), "<Say>Sorry, we did not hear anything.</Say>") || !strings.Contains(string(r.Body), "<Gather") {
		t.Errorf("timeout TwiML: %s", r.Body)
	}

	pressed := url.Values{"CallSid": {"CA9"}, "From": {"+15551234"}, "CallStatus": {"in-progress"}, "Digits": {"2"}}
	r = twilioForm(ts, "/twilio/phone/voice", pressed, token)
	if !strings.HasSuffix(string(r.Body), `<Response><Say>Connecting you to support.</Say><Hangup/></Response>`) {
		t.Errorf("digits TwiML: %s", r.Body)
	}

	done := url.Values{"CallSid": {"CA9"}, "CallStatus": {"completed"}}
	if r := twilioForm(ts, "/twilio/phone/voice", done, token); r.Status != 200 {
		t.Errorf("status callback of an ended call: %d %s", r.Status, r.Body)
	}
}

func TestTwilioSignature(t *testing.T) {
	const token = "12345"
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.must(201, "POST", "/v1/channels", `{"id":"signed","type":"twilio","default_flow":"order-status","auth_token":"`+token+`"}`)
	form := url.Values{"From": {"+1555"}, "Body": {"hi"}}
	cases := []struct {
		name   string
		sign   func(*httptest.ResponseRecorder) string
		status int
	}{
		{"valid", func(*httptest.ResponseRecorder) string {
			return TwilioSignature(token, "http://127.0.0.1/twilio/signed/sms", form)
		}, 200},
		{"missing", func(*httptest.ResponseRecorder) string { return "" }, 403},
		{"wrong token", func(*httptest.ResponseRecorder) string {
			return TwilioSignature("other", "http://127.0.0.1/twilio/signed/sms", form)
		}, 403},
		{"other URL", func(*httptest.ResponseRecorder) string {
			return TwilioSignature(token, "http://evil.test/twilio/signed/sms", form)
		}, 403},
		// Twilio signs the URL as configured, escapes and all.
		{"escaped path", func(*httptest.ResponseRecorder) string {
			return TwilioSignature(token, "http://127.0.0.1/twilio/sig%6Eed/sms?x=a%20b", form)
		}, 200},
		{"escaped path signed decoded", func(*httptest.ResponseRecorder) string {
			return TwilioSignature(token, "http://127.0.0.1/twilio/signed/sms?x=a%20b", form)
		}, 200},
		{"escaped path other query", func(*httptest.ResponseRecorder) string {
			return TwilioSignature(token, "http://127.0.0.1/twilio/sig%6Eed/sms?x=a%20c", form)
		}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target := "http://127.0.0.1/twilio/signed/sms"
			if strings.HasPrefix(c.name, "escaped path") {
				target = "http://127.0.0.1/twilio/sig%6Eed/sms?x=a%20b"
			}
			req := httptest.NewRequest("POST", target, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if s := c.sign(nil); s != "" {
				req.Header.Set(TwilioSignatureHeader, s)
			}
			r := ts.send(req)
			if r.Status != c.status {
				t.Errorf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.status == 403 && r.errorOf(t)["code"] != CodeBadSignature {
				t.Errorf("error %s", r.Body)
			}
		})
	}
}

// The signature algorithm against Twilio's published example.
func TestTwilioSignatureAlgorithm(t *testing.T) {
	params := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"}, "From": {"+12349013030"}, "To": {"+18005551212"}}
	got := TwilioSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params)
	if want := "0/KCTR6DLpKmkAf8muzZqo1nDgQ="; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
}

// A blank message (only quick replies, or a template that renders to
// nothing) is left out of the SMS TwiML, as a blank <Say> is of a call's: an
// empty <Message> would send an empty SMS. A message with media and no text
// keeps its media.
func TestTwilioSMSLeavesOutBlankMessages(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(`{"id":"blank","name":"Blank","widgets":[
	 {"id":"a","type":"send_message","text":"@flow.nothing","exits":{"Next":"b"}},
	 {"id":"b","type":"send_message","text":" ","quick_replies":["Yes","No"],"exits":{"Next":"c"}},
	 {"id":"c","type":"send_message","text":"  ","attachments":["image/png:https://example.com/a.png","image/png:@flow.nothing"],"exits":{"Next":"e"}},
	 {"id":"e","type":"send_message","text":"","attachments":["image/png:@flow.nothing"],"exits":{"Next":"d"}},
	 {"id":"d","type":"send_message","text":"said"}]}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","default_flow":"blank"}`)
	r := twilioForm(ts, "/twilio/tw/sms", url.Values{"From": {"+15551111"}, "Body": {"hi"}, "MessageSid": {"SM1"}}, "")
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Response><Message><Media>https://example.com/a.png</Media></Message><Message>said</Message></Response>`
	if r.Status != 200 || string(r.Body) != want {
		t.Errorf("TwiML %d\n%s\nwant\n%s", r.Status, r.Body, want)
	}
}

// A request whose Twilio signature does not check is logged at warn with
// the URL it was checked against (without the token), and its answer says
// which URL that was and, on a server without --public-url, that a proxy
// needs one.
func TestTwilioBadSignatureSaysWhichURL(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","default_flow":"ask","auth_token":"`+twilioTestToken+`"}`)
	form := url.Values{"From": {"+15551111"}, "Body": {"hi"}, "MessageSid": {"SM1"}}
	// Signed for the URL Twilio was configured with, behind a proxy.
	req := httptest.NewRequest("POST", "http://127.0.0.1/twilio/tw/sms", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(TwilioSignatureHeader, TwilioSignature(twilioTestToken, "https://parley.example.com/twilio/tw/sms", form))
	r := ts.send(req)
	e := r.errorOf(t)
	msg, _ := e["message"].(string)
	if r.Status != 403 || e["code"] != CodeBadSignature || !strings.Contains(msg, "http://127.0.0.1/twilio/tw/sms") || !strings.Contains(msg, "--public-url") {
		t.Errorf("answer %d %s: want 403 bad_signature naming the URL checked and --public-url", r.Status, r.Body)
	}
	l := logs.String()
	if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "url=http://127.0.0.1/twilio/tw/sms") || !strings.Contains(l, "channel=tw") || strings.Contains(l, twilioTestToken) {
		t.Errorf("log, want a warning with the channel and the URL checked, and no token:\n%s", l)
	}
	// With --public-url, the answer names the URL made of it.
	ts2 := newTestServer(t, func(c *Config) { c.PublicURL = "https://parley.example.com/base" })
	ts2.createFlow(askFlow)
	ts2.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","default_flow":"ask","auth_token":"`+twilioTestToken+`"}`)
	r = twilioForm(ts2, "/twilio/tw/sms", form, "wrong-token")
	if msg, _ := r.errorOf(t)["message"].(string); r.Status != 403 || !strings.Contains(msg, "https://parley.example.com/base/twilio/tw/sms") {
		t.Errorf("answer with --public-url %d %s: want the URL made of it", r.Status, r.Body)
	}
}

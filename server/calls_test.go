package server

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/store"
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

// stateFlow says the call's state at the start, after a gather times out
// and after digits.
const stateFlow = `{"id":"call-state","name":"Call state","kind":"voice","widgets":[
 {"id":"hello","type":"say","text":"State $call.state.","exits":{"Next":"menu"}},
 {"id":"menu","type":"gather_digits","prompt":"Press a key.","num_digits":1,"timeout":3,"no_input_prompt":"Still $call.state.","exits":{"Next":"state","No Input":"state","No Match":"state"}},
 {"id":"state","type":"say","text":"Now $call.state.","exits":{"Next":"menu"}}]}`

// $call.state follows the CallStatus of every Twilio request about the
// call, not only the first.
func TestTwilioCallStateFollowsCallStatus(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(stateFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","voice_flow":"call-state"}`)

	steps := []struct {
		path   string
		form   url.Values
		prefix string
	}{
		{"/twilio/tw/voice", url.Values{"CallSid": {"CA1"}, "From": {"+15550001"}, "CallStatus": {"ringing"}}, "<Response><Say>State ringing.</Say>"},
		{"/twilio/tw/voice?timeout=1", url.Values{"CallSid": {"CA1"}, "From": {"+15550001"}, "CallStatus": {"in-progress"}}, "<Say>Still in-progress.</Say>"},
		{"/twilio/tw/voice", url.Values{"CallSid": {"CA2"}, "From": {"+15550001"}, "CallStatus": {"ringing"}}, "<Response><Say>State ringing.</Say>"},
		{"/twilio/tw/voice", url.Values{"CallSid": {"CA2"}, "From": {"+15550001"}, "CallStatus": {"in-progress"}, "Digits": {"1"}}, "<Response><Say>Now in-progress.</Say>"},
	}
	for i, st := range steps {
		r := twilioForm(ts, st.path, st.form, "")
		if body := string(r.Body); r.Status != 200 || !strings.Contains(body, st.prefix) {
			t.Errorf("request %d: %d %s, want it to contain %s", i+1, r.Status, body, st.prefix)
		}
	}
}

// Twilio resolves a Gather's action and a Redirect against the URL it
// called: behind a proxy that serves Parley under a path (--public-url
// with a path), both must carry that path.
func TestTwilioVoiceURLsUsePublicURL(t *testing.T) {
	const token = "tw-auth-token"
	for _, c := range []struct {
		publicURL, action string
	}{
		{"", "/twilio/tw/voice"},
		{"https://parley.example.com", "https://parley.example.com/twilio/tw/voice"},
		{"https://parley.example.com/pp/", "https://parley.example.com/pp/twilio/tw/voice"},
		{"https://parley.example.com/pp", "https://parley.example.com/pp/twilio/tw/voice"},
	} {
		t.Run(c.publicURL, func(t *testing.T) {
			ts := newTestServer(t, func(cfg *Config) { cfg.Examples = nil; cfg.PublicURL = c.publicURL })
			ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","voice_flow":"ivr-menu","auth_token":"`+token+`"}`)
			form := url.Values{"CallSid": {"CA1"}, "From": {"+15550001"}, "CallStatus": {"ringing"}}
			req := httptest.NewRequest("POST", "http://127.0.0.1:8080/twilio/tw/voice", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			signed := strings.TrimSuffix(c.publicURL, "/") + "/twilio/tw/voice"
			if c.publicURL == "" {
				signed = "http://127.0.0.1:8080/twilio/tw/voice"
			}
			req.Header.Set(TwilioSignatureHeader, TwilioSignature(token, signed, form))
			r := ts.send(req)
			body := string(r.Body)
			if r.Status != 200 {
				t.Fatalf("voice webhook: %d %s", r.Status, body)
			}
			if want := `<Gather action="` + c.action + `" method="POST"`; !strings.Contains(body, want) {
				t.Errorf("TwiML %s\nwant %s", body, want)
			}
			if want := `<Redirect method="POST">` + c.action + `?timeout=1` + firstWait + `</Redirect>`; !strings.Contains(body, want) {
				t.Errorf("TwiML %s\nwant %s", body, want)
			}
		})
	}
}

// A call that ends keeps the final state its telephony side reported;
// "completed" is for a hang-up that reported none.
func TestCallEndKeepsReportedState(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.must(201, "POST", "/v1/channels", `{"id":"phone","voice_flow":"ivr-menu"}`)
	callState := func(id string) any {
		t.Helper()
		s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
		return s["variables"].(map[string]any)["call"].(map[string]any)["state"]
	}
	for _, state := range []string{"busy", "no-answer", "failed", "canceled", "completed"} {
		callID := "CA-" + state
		start := ts.must(201, "POST", "/v1/channels/phone/calls", `{"call_id":"`+callID+`","from":"+15550001"}`)
		end := ts.must(200, "POST", "/v1/channels/phone/calls/"+callID, `{"state":"`+state+`"}`)
		if end["status"] != "interrupted" {
			t.Errorf("%s: session %v, want interrupted", state, end["status"])
		}
		if got := callState(start["id"].(string)); got != state {
			t.Errorf("%s: $call.state %v after the call ended, want %s", state, got, state)
		}
	}

	// Twilio's status callback says the same.
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","voice_flow":"ivr-menu"}`)
	twilioForm(ts, "/twilio/tw/voice", url.Values{"CallSid": {"CA-tw"}, "From": {"+15550001"}, "CallStatus": {"ringing"}}, "")
	if r := twilioForm(ts, "/twilio/tw/voice", url.Values{"CallSid": {"CA-tw"}, "CallStatus": {"busy"}}, ""); r.Status != 200 {
		t.Fatalf("status callback: %d %s", r.Status, r.Body)
	}
	if got := callState(callSessionID("tw", "CA-tw")); got != "busy" {
		t.Errorf("twilio: $call.state %v after CallStatus busy, want busy", got)
	}
}

// officialTwilioSignature computes a signature the way Twilio's own
// libraries do (twilio-python's RequestValidator.compute_signature,
// twilio-node's getExpectedTwilioSignature): each parameter name once, in
// order, and each of its distinct values, in order.
func officialTwilioSignature(token, fullURL string, form url.Values) string {
	names := slices.Sorted(maps.Keys(form))
	s := fullURL
	for _, name := range names {
		values := slices.Clone(form[name])
		slices.Sort(values)
		for _, v := range slices.Compact(values) {
			s += name + v
		}
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// A parameter repeated with the same value is signed once, as Twilio's
// libraries check it; repeated with different values, each is signed.
func TestTwilioSignatureRepeatedParameter(t *testing.T) {
	const token = "12345"
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"signed","type":"twilio","default_flow":"ask","auth_token":"`+token+`"}`)
	const target = "http://127.0.0.1/twilio/signed/sms"
	for _, c := range []struct {
		name string
		body string
	}{
		{"same value twice", "From=%2B1555&Body=hi&X=a&X=a"},
		{"two values", "From=%2B1556&Body=hi&X=b&X=a"},
		{"two values, one twice", "From=%2B1557&Body=hi&X=b&X=a&X=b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			form, err := url.ParseQuery(c.body)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("POST", target, strings.NewReader(c.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(TwilioSignatureHeader, officialTwilioSignature(token, target, form))
			if r := ts.send(req); r.Status != 200 {
				t.Errorf("status %d, want 200: %s", r.Status, r.Body)
			}
		})
	}
}

// A call id over the store's limit in the path of a call's input is refused
// as the call start refuses it (400 invalid_field naming call_id, quoting the
// start of the id only), not looked up and answered 404 with the whole id.
func TestCallInputIDTooLong(t *testing.T) {
	ts := newTestServer(t, nil)
	id := "CA" + strings.Repeat("x", store.MaxIDLen-1)
	r := ts.do("POST", "/v1/channels/c1/calls/"+id, `{"digits":"1"}`)
	e := r.errorOf(t)
	msg, _ := e["message"].(string)
	if r.Status != 400 || e["code"] != CodeInvalidField || e["field"] != "call_id" || strings.Contains(msg, id) ||
		!strings.Contains(msg, "513 bytes long, over the limit of 512 bytes") {
		t.Errorf("call input with a %d-byte id: %d %s", len(id), r.Status, r.Body)
	}
}

// A call id holding characters a path escapes (a SIP Call-ID's @, a space,
// é, %, /) is continued through its escaped form in the path, as is any id
// in a path; a bad escape is refused, naming the path parameter.
func TestPathParametersAreDecoded(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.must(201, "POST", "/v1/channels", `{"id":"phone","voice_flow":"ivr-menu"}`)
	base := ts.listen()
	for _, id := range []string{"a84b4c76e66710@pc33.atlanta.com", "call one", "appel-é", "50%off", "a/b"} {
		ts.must(201, "POST", "/v1/channels/phone/calls", map[string]string{"call_id": id, "from": "+15550001"})
		// As most clients escape a path: @ too, which a path may hold as it is.
		escaped := strings.ReplaceAll(url.PathEscape(id), "@", "%40")
		r := ts.must(200, "POST", "/v1/channels/phone/calls/"+escaped, `{"digits":"1"}`)
		if r["call_id"] != id || r["status"] != "completed" {
			t.Errorf("call %q continued as %s: %v", id, escaped, r)
		}
	}
	// The same for the other ids in paths: a channel, a flow, a session.
	if r := ts.must(200, "GET", "/v1/channels/ph%6Fne", nil); r["id"] != "phone" {
		t.Errorf("GET /v1/channels/ph%%6Fne: %v", r)
	}
	if r := ts.must(200, "GET", "/v1/flows/ivr%2Dmenu", nil); r["id"] != "ivr-menu" {
		t.Errorf("GET /v1/flows/ivr%%2Dmenu: %v", r)
	}
	sess := callSessionID("phone", "a/b")
	if r := ts.must(200, "GET", "/v1/sessions/"+strings.ReplaceAll(sess, "-", "%2D"), nil); r["id"] != sess {
		t.Errorf("GET of session %s escaped: %v", sess, r)
	}
	for _, tc := range []struct{ method, path, field string }{
		{"POST", "/v1/channels/phone/calls/50%zz", "call_id"},
		{"GET", "/v1/channels/ph%6", "channel"},
		{"GET", "/v1/sessions/%G0", "id"},
		{"GET", "/v1/flows/%", "id"},
	} {
		r := rawPathRequest(t, base, tc.method, tc.path, `{"digits":"1"}`)
		e := r.errorOf(t)
		if msg, _ := e["message"].(string); r.Status != 400 || e["field"] != tc.field || !strings.Contains(msg, "not validly escaped") {
			t.Errorf("%s %s: %d %s, want 400 naming %s", tc.method, tc.path, r.Status, r.Body, tc.field)
		}
	}
}

// rawPathRequest sends a request line as written, which net/http would refuse
// to send with a bad escape in its path, and reads the answer.
func rawPathRequest(t *testing.T, base, method, path, body string) response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", method, path, len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// A call's state is one of Twilio's CallStatus values: another is refused,
// naming state; a call that starts in an ended state (busy, no-answer)
// starts no session, as on Twilio's path. Input with both digits and a
// timeout is refused as such.
func TestCallStatesAndInputs(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.must(201, "POST", "/v1/channels", `{"id":"phone","voice_flow":"ivr-menu"}`)
	for _, tc := range []struct{ path, body, field, msg string }{
		{"/v1/channels/phone/calls", `{"call_id":"C1","from":"+15550001","state":"weird state"}`, "state", `state "weird state" is not a call state: send one of queued, initiated, ringing, answered, in-progress, completed, busy`},
		{"/v1/channels/phone/calls/C1", `{"digits":"1","state":"weird"}`, "state", `state "weird" is not a call state`},
		{"/v1/channels/phone/calls/C1", `{"digits":"1","timeout":true}`, "", `send {"digits": ...}, {"recording_url": ...} or {"timeout": true}, not more than one`},
		// POST /v1/sessions's call is held to the same states, and one that
		// has ended starts no session there either.
		{"/v1/sessions", `{"flow":"ivr-menu","channel":"phone","call":{"id":"C1","from":"+15550001","state":"nope"}}`, "call.state", `state "nope" is not a call state`},
		{"/v1/sessions", `{"flow":"ivr-menu","call":{"id":"C1","from":"+15550001","state":"Completed"}}`, "call.state", `call state "Completed": the call has ended, and a call that has ended starts no session`},
	} {
		r := ts.do("POST", tc.path, tc.body)
		e := r.errorOf(t)
		if msg, _ := e["message"].(string); r.Status != 400 || (e["field"] != nil && e["field"] != tc.field) || (tc.field != "" && e["field"] != tc.field) || !strings.Contains(msg, tc.msg) {
			t.Errorf("POST %s %s: %d %s\nwant 400 naming %q: %s", tc.path, tc.body, r.Status, r.Body, tc.field, tc.msg)
		}
	}
	if _, err := ts.srv.store.LoadSession(t.Context(), callSessionID("phone", "C1")); err == nil {
		t.Errorf("a call refused for its state has a session")
	}
	for _, state := range []string{"busy", "No-Answer", "canceled"} {
		callID := "C-" + state
		r := ts.must(200, "POST", "/v1/channels/phone/calls", map[string]string{"call_id": callID, "from": "+15550001", "state": state})
		if r["id"] != nil || r["status"] != nil || len(r["prompts"].([]any)) != 0 || r["call_id"] != callID {
			t.Errorf("a call started %s: %v, want no session and no prompts", state, r)
		}
		ts.must(404, "GET", "/v1/sessions/"+callSessionID("phone", callID), nil)
	}
	// The states a call goes through are taken, in any case.
	for i, state := range []string{"queued", "Ringing", "in-progress", "answered", "initiated"} {
		r := ts.must(201, "POST", "/v1/channels/phone/calls", map[string]string{"call_id": "ok" + strconv.Itoa(i), "from": "+15550001", "state": state})
		if r["status"] != "waiting" {
			t.Errorf("a call started %s: %v", state, r)
		}
	}
}

package server

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const twilioTestToken = "tw-auth-token"

// twilioCallServer serves the examples over a real HTTP server with a
// channel tw of type twilio answering calls with flowID (flow, when given,
// is created first), and returns the
// server and its base URL.
func twilioCallServer(t *testing.T, flowID, flow string) (*testServer, string) {
	t.Helper()
	ts := newTestServer(t, func(c *Config) {
		c.Examples = nil
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	if flow != "" {
		ts.createFlow(flow)
	}
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","voice_flow":"`+flowID+`","auth_token":"`+twilioTestToken+`"}`)
	return ts, ts.listen()
}

// lockUsers counts the turns holding or waiting for the lock of urn.
func (ts *testServer) lockUsers(urn string) int {
	sh, key := ts.srv.svc.locks.shard(urn, "")
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if m := sh.held[key]; m != nil {
		return m.users
	}
	return 0
}

// twilioPost sends a form signed as Twilio signs it to base+path, with the
// header pairs given, and returns the status and body.
func twilioPost(t *testing.T, base, path string, form url.Values, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(TwilioSignatureHeader, TwilioSignature(twilioTestToken, base+path, form))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// callForm is a voice request of call sid from +15550001, with more
// parameters as name, value pairs.
func callForm(sid string, kv ...string) url.Values {
	f := url.Values{"CallSid": {sid}, "From": {"+15550001"}, "To": {"+15550000"}, "CallStatus": {"in-progress"}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// sessionInputs counts a session's message_in events: the inputs its
// turns took.
func (ts *testServer) sessionInputs(t *testing.T, id string) int {
	t.Helper()
	n := 0
	for _, e := range ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any) {
		if e.(map[string]any)["type"] == "message_in" {
			n++
		}
	}
	return n
}

// firstWait is the wait= of a Redirect in TwiML answered before the test
// clock is advanced: the time of the turn that began the wait.
var firstWait = "&amp;wait=" + strconv.FormatInt(newClock().Now().UnixNano(), 10)

var menuTwiML = `<Say>Hello, caller from +15550001. Welcome to Parley Telecom.</Say>` +
	`<Gather action="/twilio/tw/voice" method="POST" timeout="5" numDigits="1" finishOnKey="#"><Say>Press 1 for sales, 2 for support, 3 to leave a message.</Say></Gather>` +
	`<Redirect method="POST">/twilio/tw/voice?timeout=1` + firstWait + `</Redirect></Response>`

// A request about a waiting call with neither Digits nor ?timeout (Twilio
// retrying the call's first request) is not a gather timeout: it answers
// with what the caller is hearing and runs no turn. A status callback of a
// call going on answers an empty <Response/> and changes nothing.
func TestTwilioVoiceRepeatIsNoTimeout(t *testing.T) {
	ts, base := twilioCallServer(t, "ivr-menu", "")
	for i := range 4 {
		status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "ringing"))
		if status != 200 || !strings.HasSuffix(body, menuTwiML) {
			t.Fatalf("first request, copy %d: %d %s\nwant ...%s", i+1, status, body, menuTwiML)
		}
	}
	for _, st := range []string{"ringing", "in-progress", "answered"} {
		status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", st, "CallbackSource", "call-progress-events"))
		if status != 200 || !strings.HasSuffix(body, "<Response/>") {
			t.Errorf("status callback %s: %d %s, want <Response/>", st, status, body)
		}
	}
	id := callSessionID("tw", "CA1")
	if s := ts.must(200, "GET", "/v1/sessions/"+id, nil); s["status"] != "waiting" {
		t.Fatalf("session after the repeats: %v", s["status"])
	}
	// The menu still takes its first key.
	if _, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "Digits", "1")); !strings.HasSuffix(body, "<Response><Say>Connecting you to sales.</Say><Hangup/></Response>") {
		t.Errorf("key 1 after the repeats answered %s", body)
	}
	// A gather that did time out still counts, once per request.
	twilioPost(t, base, "/twilio/tw/voice", callForm("CA2"))
	if _, body := twilioPost(t, base, "/twilio/tw/voice?timeout=1", callForm("CA2")); !strings.Contains(body, "<Say>Sorry, we did not hear anything.</Say>") {
		t.Errorf("a gather timeout answered %s", body)
	}
	// Its repeat answers the re-prompt again.
	if _, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA2")); !strings.Contains(body, "<Gather") || !strings.Contains(body, "<Say>Sorry, we did not hear anything.</Say>") {
		t.Errorf("a repeat after the timeout answered %s", body)
	}
}

// slowCallFlow calls a webhook before its menu.
func slowCallFlow(hook string) string {
	return `{"id":"slow-call","name":"Slow call","kind":"voice","widgets":[
 {"id":"hello","type":"say","text":"Hello.","exits":{"Next":"lookup"}},
 {"id":"lookup","type":"webhook","method":"GET","url":"` + hook + `/lookup","result":"who","exits":{"Success":"menu","Failure":"menu"}},
 {"id":"menu","type":"gather_digits","prompt":"Press a key.","num_digits":1,"timeout":4,"exits":{"Next":"bye","No Input":"bye","No Match":"bye"}},
 {"id":"bye","type":"say","text":"Goodbye.","exits":{"Next":""}}]}`
}

// A repeat of a call's first request that comes while the first is still
// in its turn (a slow webhook) waits for it and answers the same TwiML,
// never a JSON 409, which Twilio takes for an application error.
func TestTwilioVoiceRepeatDuringFirstTurn(t *testing.T) {
	hook, calls, called, release := blockingHook(t)
	ts, base := twilioCallServer(t, "slow-call", slowCallFlow(hook))
	var wg sync.WaitGroup
	var status [2]int
	var body [2]string
	wg.Add(1)
	go func() {
		defer wg.Done()
		status[0], body[0] = twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "ringing"))
	}()
	<-called
	wg.Add(1)
	go func() {
		defer wg.Done()
		status[1], body[1] = twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "ringing"))
	}()
	for ts.callLockUsers(callSessionID("tw", "CA1")) < 2 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	want := `<Response><Say>Hello.</Say><Gather action="/twilio/tw/voice" method="POST" timeout="4" numDigits="1" finishOnKey="#"><Say>Press a key.</Say></Gather>`
	for i := range status {
		if status[i] != 200 || !strings.Contains(body[i], want) {
			t.Errorf("request %d: %d %s\nwant %s", i+1, status[i], body[i], want)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the webhook was called %d times, want 1", n)
	}
}

// The retries of one Twilio request carry the same I-Twilio-Idempotency-Token:
// a retry gets the first answer again without a second turn, while the same
// key pressed again in a new request is taken again.
func TestTwilioVoiceIdempotencyToken(t *testing.T) {
	ts, base := twilioCallServer(t, "ivr-menu", "")
	twilioPost(t, base, "/twilio/tw/voice", callForm("CA1"), TwilioIdempotencyHeader, "tok-1")
	id := callSessionID("tw", "CA1")
	_, first := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "Digits", "9"), TwilioIdempotencyHeader, "tok-2")
	if !strings.Contains(first, "<Say>Sorry, that is not an option.</Say>") {
		t.Fatalf("a wrong key answered %s", first)
	}
	for range 2 {
		if status, again := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "Digits", "9"), TwilioIdempotencyHeader, "tok-2"); status != 200 || again != first {
			t.Errorf("a retry of the wrong key answered %d %s\nwant %s", status, again, first)
		}
	}
	if n := ts.sessionInputs(t, id); n != 1 {
		t.Errorf("after one wrong key and its retries the session took %d inputs, want 1", n)
	}
	// A retry of a gather timeout counts once too.
	_, to := twilioPost(t, base, "/twilio/tw/voice?timeout=1", callForm("CA1"), TwilioIdempotencyHeader, "tok-3")
	if _, again := twilioPost(t, base, "/twilio/tw/voice?timeout=1", callForm("CA1"), TwilioIdempotencyHeader, "tok-3"); again != to {
		t.Errorf("a retried timeout answered %s\nwant %s", again, to)
	}
	// A second press of the same key, a request of its own, is one more
	// wrong key, and the third the one too many: the menu says goodbye.
	_, second := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "Digits", "9"), TwilioIdempotencyHeader, "tok-4")
	if second != first {
		t.Errorf("a second wrong key answered %s\nwant %s", second, first)
	}
	_, third := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "Digits", "9"), TwilioIdempotencyHeader, "tok-5")
	if !strings.HasSuffix(third, "<Hangup/></Response>") {
		t.Errorf("a third wrong key answered %s, want the menu to give up", third)
	}
	if n := ts.sessionInputs(t, id); n != 3 {
		t.Errorf("the session took %d inputs, want 3", n)
	}
	// Without the header, the same key twice is two presses.
	twilioPost(t, base, "/twilio/tw/voice", callForm("CA2"))
	twilioPost(t, base, "/twilio/tw/voice", callForm("CA2", "Digits", "9"))
	twilioPost(t, base, "/twilio/tw/voice", callForm("CA2", "Digits", "9"))
	if n := ts.sessionInputs(t, callSessionID("tw", "CA2")); n != 2 {
		t.Errorf("two presses without a token: %d inputs, want 2", n)
	}
}

// longPromptFlow says a prompt of 300 characters, 25 seconds at 12
// characters a second, before a wait_for_response of 3 seconds.
var longPromptFlow = `{"id":"long-prompt","name":"Long prompt","kind":"voice","widgets":[
 {"id":"ask","type":"say","text":"` + strings.Repeat("Please enter your account number. ", 9) + `Then wait.","exits":{"Next":"acct"}},
 {"id":"acct","type":"wait_for_response","timeout":3,"result":"acct","exits":{"Next":"thanks","Timeout":"late"}},
 {"id":"thanks","type":"say","text":"Thanks, you entered @flow.acct.","exits":{"Next":""}},
 {"id":"late","type":"say","text":"We did not get it.","exits":{"Next":""}}]}`

// The server's own timer of a call's wait is only a fallback for a timeout
// Twilio did not report: it fires the wait's timeout after the turn's
// prompts have been spoken (estimated at 12 characters a second) and
// --call-timeout-grace later, for wait_for_response as for gather_digits.
func TestTwilioCallWaitTimeoutGrace(t *testing.T) {
	if n := len([]rune(strings.Repeat("Please enter your account number. ", 9) + "Then wait.")); n != 316 {
		t.Fatalf("the prompt has %d characters", n)
	}
	ts, base := twilioCallServer(t, "long-prompt", longPromptFlow)
	ctx := context.Background()
	scan := func() {
		t.Helper()
		if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// 316 characters are 27 s: the fallback is 3 + 27 + 15 s after the turn.
	twilioPost(t, base, "/twilio/tw/voice", callForm("CA1"))
	ts.clock.Advance(44 * time.Second)
	scan()
	if _, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "Digits", "123")); !strings.HasSuffix(body, "<Response><Say>Thanks, you entered 123.</Say><Hangup/></Response>") {
		t.Errorf("keys 44 s after the question answered %s", body)
	}

	twilioPost(t, base, "/twilio/tw/voice", callForm("CA2"))
	ts.clock.Advance(46 * time.Second)
	scan()
	s := ts.must(200, "GET", "/v1/sessions/"+callSessionID("tw", "CA2"), nil)
	if s["status"] != "completed" {
		t.Errorf("46 s after the question the session is %v, want it timed out and completed", s["status"])
	}
}

// --call-timeout-grace sets the grace.
func TestCallTimeoutGraceSetting(t *testing.T) {
	cfg, err := ConfigFromEnv(func(k string) string {
		if k == EnvCallTimeoutGrace {
			return "2m"
		}
		return ""
	})
	if err != nil || cfg.CallTimeoutGrace != 2*time.Minute {
		t.Fatalf("PARLEY_CALL_TIMEOUT_GRACE=2m: %v %v", cfg.CallTimeoutGrace, err)
	}
	if _, err := ConfigFromEnv(func(k string) string {
		if k == EnvCallTimeoutGrace {
			return "0s"
		}
		return ""
	}); err == nil || !strings.Contains(err.Error(), EnvCallTimeoutGrace) {
		t.Errorf("PARLEY_CALL_TIMEOUT_GRACE=0s: %v", err)
	}
	ts := newTestServer(t, func(c *Config) { c.CallTimeoutGrace = 2 * time.Minute })
	ts.createFlow(longPromptFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"phone","voice_flow":"long-prompt"}`)
	start := ts.must(201, "POST", "/v1/channels/phone/calls", `{"call_id":"CA1","from":"+15550001"}`)
	want := ts.clock.Now().Add((3 + 27 + 120) * time.Second).Format(time.RFC3339)
	if got := start["waiting_for"].(map[string]any)["timeout_at"]; got != want {
		t.Errorf("timeout_at %v, want %s", got, want)
	}
}

// A hang-up reported while the call's first turn is still running (a slow
// webhook) ends the session after that turn: interrupted, with the state
// Twilio reported, and the flow not completed through its No Input exit.
func TestTwilioHangupDuringFirstTurn(t *testing.T) {
	for _, state := range []string{"completed", "no-answer"} {
		t.Run(state, func(t *testing.T) {
			hook, _, called, release := blockingHook(t)
			ts, base := twilioCallServer(t, "slow-call", slowCallFlow(hook))
			done := make(chan string)
			go func() {
				_, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "ringing"))
				done <- body
			}()
			<-called
			hung := make(chan string, 1)
			go func() {
				_, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", state, "CallbackSource", "call-progress-events"))
				hung <- body
			}()
			// The hang-up is answered, or waits for the first turn.
			for ts.lockUsers("tel:+15550001") < 2 && len(hung) == 0 {
				time.Sleep(time.Millisecond)
			}
			close(release)
			<-done
			if body := <-hung; !strings.HasSuffix(body, "<Response/>") {
				t.Errorf("the hang-up answered %s", body)
			}
			id := callSessionID("tw", "CA1")
			s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
			if s["status"] != "interrupted" {
				t.Errorf("session %v, want interrupted", s["status"])
			}
			if got := s["variables"].(map[string]any)["call"].(map[string]any)["state"]; got != state {
				t.Errorf("$call.state %v, want %s", got, state)
			}
			// No request about the call comes again; the server's timers
			// find no wait to time out.
			for range 4 {
				ts.clock.Advance(time.Hour)
				if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			for _, e := range ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any) {
				if typ := e.(map[string]any)["type"]; typ == "flow_completed" {
					t.Errorf("event %v after the caller hung up", e)
				}
			}
			if s := ts.must(200, "GET", "/v1/sessions/"+id, nil); s["status"] != "interrupted" {
				t.Errorf("session %v hours later, want interrupted", s["status"])
			}
		})
	}
}

// blankPromptsFlow has prompts and audio URLs that render blank: the
// contact has no name.
const blankPromptsFlow = `{"id":"blank-prompts","name":"Blank prompts","kind":"voice","widgets":[
 {"id":"hello","type":"say","text":"@contact.name","exits":{"Next":"jingle"}},
 {"id":"jingle","type":"play","url":" @contact.name ","exits":{"Next":"menu"}},
 {"id":"menu","type":"gather_digits","prompt":"@contact.name","play":"@contact.name","no_input_prompt":"@contact.name","num_digits":1,"exits":{"Next":"bye","No Input":"bye","No Match":"bye"}},
 {"id":"bye","type":"say","text":"Bye @contact.name","exits":{"Next":""}}]}`

// A say, play or gather prompt that renders blank is left out of the
// TwiML, not sent as an empty <Say> (Twilio warning 13520) or a <Play>
// without a URL; a <Gather> with nothing inside is kept.
func TestTwilioBlankPromptsLeftOut(t *testing.T) {
	_, base := twilioCallServer(t, "blank-prompts", blankPromptsFlow)
	steps := []struct {
		path, digits, want string
	}{
		{"/twilio/tw/voice", "", `<Response><Gather action="/twilio/tw/voice" method="POST" timeout="5" numDigits="1" finishOnKey="#"></Gather><Redirect method="POST">/twilio/tw/voice?timeout=1` + firstWait + `</Redirect></Response>`},
		{"/twilio/tw/voice?timeout=1", "", `<Response><Gather action="/twilio/tw/voice" method="POST" timeout="5" numDigits="1" finishOnKey="#"></Gather><Redirect method="POST">/twilio/tw/voice?timeout=1` + firstWait + `</Redirect></Response>`},
		{"/twilio/tw/voice", "1", `<Response><Say>Bye </Say><Hangup/></Response>`},
	}
	for _, st := range steps {
		form := callForm("CA1")
		if st.digits != "" {
			form.Set("Digits", st.digits)
		}
		if status, body := twilioPost(t, base, st.path, form); status != 200 || !strings.HasSuffix(body, st.want) {
			t.Errorf("%s %s: %d %s\nwant ...%s", st.path, st.digits, status, body, st.want)
		}
	}
}

// A Twilio request's Content-Type is a media type, matched in any case and
// with parameters; a body of another type is refused naming the type that
// came, and a call without its caller's number is refused naming From.
func TestTwilioBadBodies(t *testing.T) {
	ts, base := twilioCallServer(t, "ivr-menu", "")
	ts.createFlow(askFlow)
	ts.must(200, "PUT", "/v1/channels/tw", `{"type":"twilio","voice_flow":"ivr-menu","default_flow":"ask","auth_token":"`+twilioTestToken+`"}`)
	const mixed = "Application/X-WWW-Form-Urlencoded; charset=utf-8"
	if status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1"), "Content-Type", mixed); status != 200 || !strings.Contains(body, "<Gather") {
		t.Errorf("voice with Content-Type %s: %d %s", mixed, status, body)
	}
	sms := url.Values{"From": {"+15550002"}, "Body": {"hi"}, "MessageSid": {"SM1"}}
	if status, body := twilioPost(t, base, "/twilio/tw/sms", sms, "Content-Type", mixed); status != 200 || !strings.Contains(body, "<Message>Hi") {
		t.Errorf("sms with Content-Type %s: %d %s", mixed, status, body)
	}

	req, _ := http.NewRequest("POST", base+"/twilio/tw/voice", strings.NewReader(`{"CallSid":"CA2","From":"+15550001"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(TwilioSignatureHeader, TwilioSignature(twilioTestToken, base+"/twilio/tw/voice", url.Values{}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := response{Status: resp.StatusCode}
	r.Body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	e := r.errorOf(t)
	msg, _ := e["message"].(string)
	if r.Status != 400 || e["field"] != "Content-Type" || !strings.Contains(msg, "application/x-www-form-urlencoded") || !strings.Contains(msg, `"application/json"`) {
		t.Errorf("a JSON body: %d %s", r.Status, r.Body)
	}

	// A call without From is from a withheld number: a contact of its own.
	noFrom := callForm("CA3")
	noFrom.Del("From")
	status, body := twilioPost(t, base, "/twilio/tw/voice", noFrom)
	if status != 200 || !strings.Contains(body, "<Gather") {
		t.Errorf("a call without From: %d %s", status, body)
	}
	id := callSessionID("tw", "CA3")
	if s := ts.must(200, "GET", "/v1/sessions/"+id, nil); s["contact"].(map[string]any)["urn"] != "withheld:"+id {
		t.Errorf("a call without From: session %v, want the contact withheld:%s", s, id)
	}
}

// A hang-up of a call that has no session (an outbound call that was never
// answered, busy or no-answer) changes nothing and leaves the caller's lock
// free: the caller's next call and messages are answered.
func TestTwilioHangupOfUnknownCallFreesTheCaller(t *testing.T) {
	ts, base := twilioCallServer(t, "ivr-menu", "")
	for _, st := range []string{"completed", "busy", "no-answer", "canceled"} {
		status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA-none-"+st, "CallStatus", st, "CallbackSource", "call-progress-events"))
		if status != 200 || !strings.HasSuffix(body, "<Response/>") {
			t.Errorf("hang-up %s of a call without a session: %d %s", st, status, body)
		}
		if n := ts.lockUsers("tel:+15550001"); n != 0 {
			t.Fatalf("after a hang-up %s of a call without a session, %d turns hold the caller's lock", st, n)
		}
	}
	status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA-next"))
	if status != 200 || !strings.HasSuffix(body, menuTwiML) {
		t.Errorf("the caller's next call: %d %s", status, body)
	}
}

// A token too long to store with its call id (478 bytes after a 34-character
// CallSid) still makes its retries known: they get the first answer again
// and the key is taken once; another long token is a new request.
func TestTwilioVoiceLongIdempotencyToken(t *testing.T) {
	ts, base := twilioCallServer(t, "ivr-menu", "")
	sid := "CA" + strings.Repeat("0123456789abcdef", 2)
	long := func(c string) string { return strings.Repeat(c, 478) }
	twilioPost(t, base, "/twilio/tw/voice", callForm(sid), TwilioIdempotencyHeader, long("a"))
	_, first := twilioPost(t, base, "/twilio/tw/voice", callForm(sid, "Digits", "9"), TwilioIdempotencyHeader, long("b"))
	if !strings.Contains(first, "<Say>Sorry, that is not an option.</Say>") {
		t.Fatalf("a wrong key answered %s", first)
	}
	if status, again := twilioPost(t, base, "/twilio/tw/voice", callForm(sid, "Digits", "9"), TwilioIdempotencyHeader, long("b")); status != 200 || again != first {
		t.Errorf("a retry with a %d-byte token answered %d %s\nwant %s", len(long("b")), status, again, first)
	}
	id := callSessionID("tw", sid)
	if n := ts.sessionInputs(t, id); n != 1 {
		t.Errorf("after one wrong key and its retry the session took %d inputs, want 1", n)
	}
	twilioPost(t, base, "/twilio/tw/voice", callForm(sid, "Digits", "9"), TwilioIdempotencyHeader, long("c"))
	if n := ts.sessionInputs(t, id); n != 2 {
		t.Errorf("a second wrong key with another token: %d inputs, want 2", n)
	}
}

// waitOf returns the wait= a TwiML's Redirect reports on.
func waitOf(t *testing.T, twiml string) string {
	t.Helper()
	m := regexp.MustCompile(`\?timeout=1&amp;wait=(\d+)</Redirect>`).FindStringSubmatch(twiml)
	if m == nil {
		t.Fatalf("no Redirect with a wait in %s", twiml)
	}
	return m[1]
}

// noInputs counts the no-input re-prompts a call's session said.
func (ts *testServer) noInputs(t *testing.T, id string) int {
	t.Helper()
	n := 0
	for _, e := range ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any) {
		if text, _ := e.(map[string]any)["text"].(string); text == "Sorry, we did not hear anything." {
			n++
		}
	}
	return n
}

// Twilio's report that a gather timed out names the wait it is about: one
// that comes after another turn (the server's own timer fired the timeout,
// or keys were pressed) is about a wait that is over, and is answered with
// what the caller hears now, without a turn, instead of using up a no-input
// of the gather that followed. A bare ?timeout=1 (TwiML of older builds)
// is a timeout of the current wait.
func TestTwilioLateTimeoutOfAnEndedWait(t *testing.T) {
	ts, base := twilioCallServer(t, "ivr-menu", "")
	ctx := context.Background()

	// The server's own timer fired first.
	_, first := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1"))
	ts.clock.Advance(time.Hour)
	if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
		t.Fatal(err)
	}
	id := callSessionID("tw", "CA1")
	if n := ts.noInputs(t, id); n != 1 {
		t.Fatalf("the server's timer said %d no-input prompts, want 1", n)
	}
	ts.clock.Advance(time.Second)
	status, late := twilioPost(t, base, "/twilio/tw/voice?timeout=1&wait="+waitOf(t, first), callForm("CA1"))
	if status != 200 || !strings.Contains(late, "<Say>Sorry, we did not hear anything.</Say>") || !strings.Contains(late, "<Gather") {
		t.Errorf("a late timeout of the first wait answered %d %s, want the timer's re-prompt", status, late)
	}
	if n := ts.noInputs(t, id); n != 1 {
		t.Errorf("after a late timeout of the first wait: %d no-input prompts, want 1", n)
	}
	// The Redirect of the answer is the current wait's: it counts.
	ts.clock.Advance(time.Second)
	twilioPost(t, base, "/twilio/tw/voice?timeout=1&wait="+waitOf(t, late), callForm("CA1"))
	if n := ts.noInputs(t, id); n != 2 {
		t.Errorf("after a timeout of the current wait: %d no-input prompts, want 2", n)
	}

	// Keys were pressed before the report came.
	_, first = twilioPost(t, base, "/twilio/tw/voice", callForm("CA2"))
	ts.clock.Advance(time.Second)
	_, wrong := twilioPost(t, base, "/twilio/tw/voice", callForm("CA2", "Digits", "9"))
	ts.clock.Advance(time.Second)
	_, late = twilioPost(t, base, "/twilio/tw/voice?timeout=1&wait="+waitOf(t, first), callForm("CA2"))
	if late != wrong {
		t.Errorf("a timeout of the wait before the key answered %s\nwant the key's answer again %s", late, wrong)
	}
	id = callSessionID("tw", "CA2")
	if n := ts.noInputs(t, id); n != 0 {
		t.Errorf("after a late timeout: %d no-input prompts, want 0", n)
	}
	// A bare ?timeout=1 is about the wait going on.
	ts.clock.Advance(time.Second)
	if _, body := twilioPost(t, base, "/twilio/tw/voice?timeout=1", callForm("CA2")); !strings.Contains(body, "<Say>Sorry, we did not hear anything.</Say>") {
		t.Errorf("a bare ?timeout=1 answered %s", body)
	}
	if n := ts.noInputs(t, id); n != 1 {
		t.Errorf("after a bare ?timeout=1: %d no-input prompts, want 1", n)
	}
}

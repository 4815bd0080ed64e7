package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// voicemailFlow greets the caller, records a message and hands its URL to
// a webhook at hook, then thanks the caller and hangs up; with nothing
// recorded it says so and hangs up.
func voicemailFlow(hook string) string {
	return `{"id":"voicemail","name":"Voicemail","kind":"voice","widgets":[
 {"id":"hello","type":"say","text":"Thanks for calling Parley Telecom.","exits":{"Next":"record"}},
 {"id":"record","type":"record_voice","prompt":"Leave your message after the beep, then press pound.","max_length":30,"result":"Message",
  "exits":{"Recording":"notify","No Input":"none"}},
 {"id":"notify","type":"webhook","method":"POST","url":"` + hook + `",
  "body_mode":"custom","headers":{"Content-Type":"application/json"},
  "body":"{\"recording\":\"@flow.message\",\"seconds\":\"@flow.message.extra.duration\",\"from\":\"@contact.urn\"}",
  "exits":{"Success":"thanks","Failure":"thanks"}},
 {"id":"thanks","type":"say","text":"Thanks, we got your message. Goodbye.","exits":{"Next":"bye"}},
 {"id":"none","type":"say","text":"We did not get a message. Goodbye.","exits":{"Next":"bye"}},
 {"id":"bye","type":"hangup"}]}`
}

// hookRecorder is a webhook receiver that keeps the bodies it is sent.
type hookRecorder struct {
	mu     sync.Mutex
	bodies []map[string]string
}

func newHookRecorder(t *testing.T) (*hookRecorder, string) {
	h := &hookRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("webhook body is not a JSON object of strings: %s", b)
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, m)
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	return h, srv.URL + "/voicemail"
}

func (h *hookRecorder) calls() []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]string(nil), h.bodies...)
}

var redirectRE = regexp.MustCompile(`<Redirect method="POST">([^<]+)</Redirect>`)

const recordingURL = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"

// A caller leaves a message: the prompts are said before a <Record> whose
// action comes back to the voice webhook; Twilio's request with the
// recording (signed, with its idempotency token) resumes the session, the
// webhook is sent the recording's URL, and the caller is thanked. A retry
// of that request runs no second turn.
func TestTwilioRecordVoicemail(t *testing.T) {
	hook, hookURL := newHookRecorder(t)
	ts, base := twilioCallServer(t, "voicemail", voicemailFlow(hookURL))

	status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA-rec1", "CallStatus", "ringing"))
	want := `<Response><Say>Thanks for calling Parley Telecom.</Say><Say>Leave your message after the beep, then press pound.</Say>` +
		`<Record action="/twilio/tw/voice" method="POST" maxLength="30" timeout="5" finishOnKey="#" playBeep="true"/>` +
		`<Redirect method="POST">/twilio/tw/voice?timeout=1` + firstWait + `</Redirect></Response>`
	if status != 200 || !strings.HasSuffix(body, want) {
		t.Fatalf("call start: %d %s\nwant ...%s", status, body, want)
	}
	id := callSessionID("tw", "CA-rec1")
	if w := ts.must(200, "GET", "/v1/sessions/"+id, nil)["waiting_for"].(map[string]any); w["kind"] != "recording" || w["max_length"] != 30.0 || w["silence_timeout"] != 5.0 || w["finish_key"] != "#" || w["play_beep"] != true {
		t.Errorf("waiting_for %v", w)
	}

	// A request whose signature does not check is refused, as every
	// request of the voice webhook.
	req, _ := http.NewRequest("POST", base+"/twilio/tw/voice", strings.NewReader(callForm("CA-rec1", "RecordingUrl", recordingURL).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(TwilioSignatureHeader, "bm90IGEgc2lnbmF0dXJl")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("unsigned recording: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	form := callForm("CA-rec1", "RecordingUrl", recordingURL, "RecordingDuration", "7", "RecordingSid", "RE1", "Digits", "#")
	thanks := `<Response><Say>Thanks, we got your message. Goodbye.</Say><Hangup/></Response>`
	for i := range 2 {
		status, body = twilioPost(t, base, "/twilio/tw/voice", form, TwilioIdempotencyHeader, "tok-rec1")
		if status != 200 || !strings.HasSuffix(body, thanks) {
			t.Fatalf("recording, copy %d: %d %s\nwant ...%s", i+1, status, body, thanks)
		}
	}
	calls := hook.calls()
	if len(calls) != 1 {
		t.Fatalf("the webhook was called %d times, want once: %v", len(calls), calls)
	}
	if c := calls[0]; c["recording"] != recordingURL || c["seconds"] != "7" || c["from"] != "tel:+15550001" {
		t.Errorf("webhook got %v", c)
	}
	s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	res := s["variables"].(map[string]any)["flow"].(map[string]any)["message"].(map[string]any)
	if s["status"] != "completed" || res["value"] != recordingURL || res["category"] != "Recording" {
		t.Errorf("session %v, result %v", s["status"], res)
	}
	if n := ts.sessionInputs(t, id); n != 1 {
		t.Errorf("%d inputs, want the recording once", n)
	}
}

// When nothing is recorded Twilio does not request the <Record>'s action
// but follows the <Redirect> after it: the widget takes No Input. A
// recording of 0 seconds is nothing recorded too.
func TestTwilioRecordNothingRecorded(t *testing.T) {
	hook, hookURL := newHookRecorder(t)
	ts, base := twilioCallServer(t, "voicemail", voicemailFlow(hookURL))
	none := `<Response><Say>We did not get a message. Goodbye.</Say><Hangup/></Response>`

	_, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA-silent"))
	m := redirectRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no <Redirect> in %s", body)
	}
	redirect := strings.ReplaceAll(m[1], "&amp;", "&")
	if status, body := twilioPost(t, base, redirect, callForm("CA-silent")); status != 200 || !strings.HasSuffix(body, none) {
		t.Errorf("redirect after nothing recorded: %d %s\nwant ...%s", status, body, none)
	}

	twilioPost(t, base, "/twilio/tw/voice", callForm("CA-short"))
	if _, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA-short", "RecordingUrl", recordingURL, "RecordingDuration", "0", "Digits", "#")); !strings.HasSuffix(body, none) {
		t.Errorf("a recording of 0 seconds: %s\nwant ...%s", body, none)
	}
	if calls := hook.calls(); len(calls) != 0 {
		t.Errorf("the webhook was called with nothing recorded: %v", calls)
	}
	for _, sid := range []string{"CA-silent", "CA-short"} {
		s := ts.must(200, "GET", "/v1/sessions/"+callSessionID("tw", sid), nil)
		if res := s["variables"].(map[string]any)["flow"].(map[string]any)["message"].(map[string]any); s["status"] != "completed" || res["value"] != "" || res["category"] != "No Input" {
			t.Errorf("%s: session %v, result %v", sid, s["status"], res)
		}
	}
}

// A caller who hangs up while recording: Twilio requests the action with
// the recording, Digits "hangup" (and the call's status completed, or
// not). The recording is kept and handed to the webhook, and the session
// ends.
func TestTwilioRecordHangUp(t *testing.T) {
	for _, callStatus := range []string{"completed", "in-progress"} {
		t.Run(callStatus, func(t *testing.T) {
			hook, hookURL := newHookRecorder(t)
			ts, base := twilioCallServer(t, "voicemail", voicemailFlow(hookURL))
			twilioPost(t, base, "/twilio/tw/voice", callForm("CA-hup"))
			status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA-hup", "CallStatus", callStatus,
				"RecordingUrl", recordingURL, "RecordingDuration", "12", "Digits", "hangup"))
			if status != 200 || !strings.HasSuffix(body, "<Response/>") {
				t.Errorf("hang-up with a recording: %d %s, want <Response/>", status, body)
			}
			if calls := hook.calls(); len(calls) != 1 || calls[0]["recording"] != recordingURL {
				t.Errorf("webhook calls %v, want the recording once", calls)
			}
			s := ts.must(200, "GET", "/v1/sessions/"+callSessionID("tw", "CA-hup"), nil)
			if res := s["variables"].(map[string]any)["flow"].(map[string]any)["message"].(map[string]any); s["status"] != "completed" || res["value"] != recordingURL {
				t.Errorf("session %v, result %v", s["status"], res)
			}
		})
	}
}

// Bad recording parameters are refused, naming Twilio's parameter.
func TestTwilioRecordBadParams(t *testing.T) {
	_, base := twilioCallServer(t, "voicemail", voicemailFlow("http://127.0.0.1:1/x"))
	twilioPost(t, base, "/twilio/tw/voice", callForm("CA-bad"))
	for _, c := range []struct{ param, value, want string }{
		{"RecordingDuration", "seven", `"field":"RecordingDuration"`},
		{"RecordingUrl", "ftp://x/y.wav", `"field":"RecordingUrl"`},
	} {
		form := callForm("CA-bad", "RecordingUrl", recordingURL, "RecordingDuration", "3")
		form.Set(c.param, c.value)
		if status, body := twilioPost(t, base, "/twilio/tw/voice", form); status != 400 || !strings.Contains(body, c.want) {
			t.Errorf("%s=%s: %d %s", c.param, c.value, status, body)
		}
	}
}

// The calls API takes a recording as JSON, for telephony other than
// Twilio: its reply names the record prompt and what the call waits for;
// a recording with a final state is kept before the call ends.
func TestCallsAPIRecording(t *testing.T) {
	hook, hookURL := newHookRecorder(t)
	ts, _ := twilioCallServer(t, "voicemail", voicemailFlow(hookURL))
	ts.must(201, "POST", "/v1/channels", `{"id":"sip","type":"api","voice_flow":"voicemail"}`)
	start := ts.must(201, "POST", "/v1/channels/sip/calls", `{"call_id":"c1","from":"+15550002"}`)
	prompts := start["prompts"].([]any)
	rec := prompts[len(prompts)-1].(map[string]any)
	if rec["type"] != "record" || rec["max_length"] != 30.0 || rec["timeout"] != 5.0 || rec["finish_key"] != "#" || rec["play_beep"] != true {
		t.Errorf("record prompt %v", rec)
	}
	if w := start["waiting_for"].(map[string]any); w["kind"] != "recording" || w["timeout"] != 35.0 {
		t.Errorf("waiting_for %v", w)
	}
	ts.expectErrors(t, []apiErrorCase{
		{"relative URL", "POST", "/v1/channels/sip/calls/c1", `{"recording_url":"/r.wav"}`, 400, CodeBadRequest, "recording_url"},
		{"negative length", "POST", "/v1/channels/sip/calls/c1", `{"recording_url":"https://x.test/r.wav","recording_duration":-1}`, 400, CodeBadRequest, "recording_duration"},
		{"length alone", "POST", "/v1/channels/sip/calls/c1", `{"recording_duration":3}`, 400, CodeBadRequest, "recording_duration"},
		{"digits and recording", "POST", "/v1/channels/sip/calls/c1", `{"digits":"1","recording_url":"https://x.test/r.wav"}`, 400, CodeBadRequest, ""},
	})
	reply := ts.must(200, "POST", "/v1/channels/sip/calls/c1", `{"recording_url":"https://media.example.com/r1.wav","recording_duration":4}`)
	if got := texts(reply); reply["status"] != "completed" || len(got) != 1 || got[0] != "Thanks, we got your message. Goodbye." {
		t.Errorf("recording answered %v", reply)
	}
	// A recording sent with the call's end.
	ts.must(201, "POST", "/v1/channels/sip/calls", `{"call_id":"c2","from":"+15550003"}`)
	ts.must(200, "POST", "/v1/channels/sip/calls/c2", `{"recording_url":"https://media.example.com/r2.wav","state":"completed"}`)
	calls := hook.calls()
	if len(calls) != 2 || calls[0]["recording"] != "https://media.example.com/r1.wav" || calls[0]["seconds"] != "4" || calls[1]["recording"] != "https://media.example.com/r2.wav" {
		t.Errorf("webhook calls %v", calls)
	}
	// Digits are not a recording: the session goes on waiting for one.
	ts.must(201, "POST", "/v1/channels/sip/calls", `{"call_id":"c3","from":"+15550004"}`)
	if r := ts.must(200, "POST", "/v1/channels/sip/calls/c3", `{"digits":"5"}`); r["status"] != "waiting" || r["waiting_for"].(map[string]any)["kind"] != "recording" {
		t.Errorf("digits while recording answered %v", r)
	}
	r := ts.must(200, "POST", "/v1/channels/sip/calls/c3", `{"recording_url":""}`)
	if got := texts(r); r["status"] != "completed" || len(got) != 1 || got[0] != "We did not get a message. Goodbye." {
		t.Errorf("nothing recorded answered %v", r)
	}
}

// A recording for a session whose flow was deleted fails the session, as
// any input does, and is logged as the input it was.
func TestRecordingForDeletedFlow(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(voicemailFlow("http://127.0.0.1:1/x"))
	id := ts.must(201, "POST", "/v1/sessions", `{"flow":"voicemail","call":{"id":"CA-del","from":"+15550005"}}`)["id"].(string)
	ts.must(204, "DELETE", "/v1/flows/voicemail", nil)
	r := ts.must(200, "POST", "/v1/sessions/"+id+"/resume", `{"recording_url":"https://media.example.com/r9.wav","recording_duration":3}`)
	if r["status"] != "failed" {
		t.Fatalf("resume answered %v", r)
	}
	var in []string
	for _, e := range ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any) {
		if ev := e.(map[string]any); ev["type"] == "message_in" {
			in = append(in, ev["url"].(string))
		}
	}
	if len(in) != 1 || in[0] != "https://media.example.com/r9.wav" {
		t.Errorf("message_in events %v, want the recording's", in)
	}
}

// A recording that comes while the call waits for keys (a late retry of a
// <Record>'s action) is not the menu's answer: the call goes on waiting
// for its keys, with a warning, and its next key is taken.
func TestTwilioRecordingForAGather(t *testing.T) {
	ts, base := twilioCallServer(t, "ivr-menu", "")
	twilioPost(t, base, "/twilio/tw/voice", callForm("CA-late"))
	status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA-late", "RecordingUrl", recordingURL, "RecordingDuration", "4", "Digits", "1"))
	if status != 200 || !strings.Contains(body, `<Gather action="/twilio/tw/voice"`) || strings.Contains(body, "sales") {
		t.Fatalf("a recording for the menu answered %d %s", status, body)
	}
	id := callSessionID("tw", "CA-late")
	s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	if s["status"] != "waiting" || len(s["variables"].(map[string]any)["flow"].(map[string]any)) != 0 {
		t.Errorf("after the recording: %v, results %v", s["status"], s["variables"])
	}
	warned := false
	for _, e := range ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any) {
		ev := e.(map[string]any)
		warned = warned || ev["type"] == "warning" && strings.Contains(ev["message"].(string), "a recording came while the session waits for digits: ignored")
	}
	if !warned {
		t.Errorf("no warning of the recording ignored")
	}
	if _, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA-late", "Digits", "2")); !strings.Contains(body, "Connecting you to support.") {
		t.Errorf("key 2 after the recording answered %s", body)
	}
}

// The server's own timer stands in for a recording Twilio never reports,
// only once the longest recording could be over: max_length and the
// silence after the prompts, with the grace. A long message is not cut.
func TestTwilioRecordTimerFallback(t *testing.T) {
	hook, hookURL := newHookRecorder(t)
	ts, base := twilioCallServer(t, "voicemail", voicemailFlow(hookURL))
	scan := func() {
		t.Helper()
		if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// 30 s of recording and 5 of silence, the prompts' 34 and 52
	// characters 3 + 5 s, and 15 s of grace: 58 s.
	twilioPost(t, base, "/twilio/tw/voice", callForm("CA-long"))
	id := callSessionID("tw", "CA-long")
	ts.clock.Advance(57 * time.Second)
	scan()
	if s := ts.must(200, "GET", "/v1/sessions/"+id, nil); s["status"] != "waiting" {
		t.Fatalf("57 s after the prompt the session is %v, want it still recording", s["status"])
	}
	ts.clock.Advance(2 * time.Second)
	scan()
	s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	if res := s["variables"].(map[string]any)["flow"].(map[string]any)["message"].(map[string]any); s["status"] != "completed" || res["category"] != "No Input" {
		t.Errorf("59 s after the prompt: session %v, result %v", s["status"], res)
	}
	if calls := hook.calls(); len(calls) != 0 {
		t.Errorf("the webhook was called with nothing recorded: %v", calls)
	}
}

// A caller hangs up while recording and Twilio reports the call's end
// (its status callback) before it requests the <Record>'s action with the
// recording: the session keeps waiting for the recording for
// --call-timeout-grace, and the recording that comes then is saved and
// handed to the webhook. The call's status sent twice (to the status
// callback and the voice URL) does not extend the wait.
func TestTwilioRecordStatusBeforeRecording(t *testing.T) {
	hook, hookURL := newHookRecorder(t)
	ts, base := twilioCallServer(t, "voicemail", voicemailFlow(hookURL))
	twilioPost(t, base, "/twilio/tw/voice", callForm("CA-order"))
	id := callSessionID("tw", "CA-order")
	for i := range 2 {
		ts.clock.Advance(3 * time.Second)
		status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA-order", "CallStatus", "completed", "CallbackSource", "call-progress-events"))
		if status != 200 || !strings.HasSuffix(body, "<Response/>") {
			t.Fatalf("status callback %d: %d %s", i+1, status, body)
		}
	}
	s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	if s["status"] != "waiting" || s["variables"].(map[string]any)["call"].(map[string]any)["state"] != "completed" {
		t.Fatalf("after the call's end: session %v, call %v; want it still waiting for the recording", s["status"], s["variables"].(map[string]any)["call"])
	}
	// The recording's wait ends the grace after the first report.
	want := newClock().Now().Add(3*time.Second + DefaultCallTimeoutGrace).Format(time.RFC3339)
	if at := s["waiting_for"].(map[string]any)["timeout_at"]; at != want {
		t.Errorf("timeout_at %v, want %s (the call's end and --call-timeout-grace)", at, want)
	}
	ts.clock.Advance(5 * time.Second)
	status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA-order", "CallStatus", "completed",
		"RecordingUrl", recordingURL, "RecordingDuration", "9", "RecordingSid", "RE1", "Digits", "hangup"))
	if status != 200 || !strings.HasSuffix(body, "<Response/>") {
		t.Errorf("the recording after the call's end: %d %s", status, body)
	}
	if calls := hook.calls(); len(calls) != 1 || calls[0]["recording"] != recordingURL || calls[0]["seconds"] != "9" {
		t.Errorf("webhook calls %v, want the recording once", calls)
	}
	s = ts.must(200, "GET", "/v1/sessions/"+id, nil)
	res := s["variables"].(map[string]any)["flow"].(map[string]any)["message"].(map[string]any)
	if s["status"] != "completed" || res["value"] != recordingURL || res["category"] != "Recording" {
		t.Errorf("session %v, result %v", s["status"], res)
	}
}

// With no recording within --call-timeout-grace of the call's end, the
// session ends as interrupted, as a hang-up ends it; a recording after
// that is not taken.
func TestTwilioRecordStatusNoRecording(t *testing.T) {
	hook, hookURL := newHookRecorder(t)
	ts, base := twilioCallServer(t, "voicemail", voicemailFlow(hookURL))
	twilioPost(t, base, "/twilio/tw/voice", callForm("CA-gone"))
	id := callSessionID("tw", "CA-gone")
	twilioPost(t, base, "/twilio/tw/voice", callForm("CA-gone", "CallStatus", "completed", "CallbackSource", "call-progress-events"))
	scan := func() {
		t.Helper()
		if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ts.clock.Advance(DefaultCallTimeoutGrace - time.Second)
	scan()
	if s := ts.must(200, "GET", "/v1/sessions/"+id, nil); s["status"] != "waiting" {
		t.Fatalf("within the grace the session is %v", s["status"])
	}
	ts.clock.Advance(2 * time.Second)
	scan()
	s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	if s["status"] != "interrupted" || s["variables"].(map[string]any)["call"].(map[string]any)["state"] != "completed" {
		t.Errorf("after the grace: session %v, call %v", s["status"], s["variables"].(map[string]any)["call"])
	}
	twilioPost(t, base, "/twilio/tw/voice", callForm("CA-gone", "CallStatus", "completed", "RecordingUrl", recordingURL, "RecordingDuration", "3", "Digits", "hangup"))
	if calls := hook.calls(); len(calls) != 0 {
		t.Errorf("webhook called after the session ended: %v", calls)
	}
}

// The calls API alike: a final state, then the recording.
func TestCallsAPIRecordingAfterState(t *testing.T) {
	hook, hookURL := newHookRecorder(t)
	ts, _ := twilioCallServer(t, "voicemail", voicemailFlow(hookURL))
	ts.must(201, "POST", "/v1/channels", `{"id":"sip","type":"api","voice_flow":"voicemail"}`)
	ts.must(201, "POST", "/v1/channels/sip/calls", `{"call_id":"c9","from":"+15550009"}`)
	if r := ts.must(200, "POST", "/v1/channels/sip/calls/c9", `{"state":"completed"}`); r["status"] != "waiting" {
		t.Errorf("the call's end answered %v, want the session waiting for the recording", r)
	}
	r := ts.must(200, "POST", "/v1/channels/sip/calls/c9", `{"recording_url":"https://media.example.com/r9.wav","recording_duration":6}`)
	if r["status"] != "completed" {
		t.Errorf("the recording after the call's end answered %v", r)
	}
	if calls := hook.calls(); len(calls) != 1 || calls[0]["recording"] != "https://media.example.com/r9.wav" || calls[0]["seconds"] != "6" {
		t.Errorf("webhook calls %v", calls)
	}
	s := ts.must(200, "GET", "/v1/sessions/"+callSessionID("sip", "c9"), nil)
	if s["variables"].(map[string]any)["call"].(map[string]any)["state"] != "completed" {
		t.Errorf("call %v", s["variables"].(map[string]any)["call"])
	}
}

// Text or keys sent while a call records are ignored with a warning and
// change nothing of the session: not its input, its event log (no
// message_in), its wait's end or its expiry; and the <Redirect> Twilio
// follows when nothing was recorded still reports the wait's timeout.
func TestRecordIgnoredInputChangesNothing(t *testing.T) {
	ts, base := twilioCallServer(t, "voicemail", voicemailFlow("http://127.0.0.1:1/x"))
	_, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA-ign"))
	m := redirectRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no <Redirect> in %s", body)
	}
	id := callSessionID("tw", "CA-ign")
	before := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	ts.clock.Advance(4 * time.Second)
	r := ts.must(200, "POST", "/v1/sessions/"+id+"/resume", `{"text":"hello"}`)
	if r["status"] != "waiting" || r["waiting_for"].(map[string]any)["timeout_at"] != before["waiting_for"].(map[string]any)["timeout_at"] {
		t.Errorf("text while recording answered %v", r)
	}
	ts.clock.Advance(4 * time.Second)
	twilioPost(t, base, "/twilio/tw/voice", callForm("CA-ign", "Digits", "5"))
	after := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	for _, k := range []string{"status", "updated", "expires"} {
		if after[k] != before[k] {
			t.Errorf("%s %v, was %v", k, after[k], before[k])
		}
	}
	if a, b := after["waiting_for"].(map[string]any)["timeout_at"], before["waiting_for"].(map[string]any)["timeout_at"]; a != b {
		t.Errorf("timeout_at %v, was %v", a, b)
	}
	if in := after["variables"].(map[string]any)["input"]; in != nil {
		t.Errorf("@input is %q after ignored input", in)
	}
	warnings := 0
	for _, e := range ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any) {
		ev := e.(map[string]any)
		switch ev["type"] {
		case "message_in":
			t.Errorf("ignored input logged as %v", ev)
		case "warning":
			warnings++
			if ev["widget"] != "record" {
				t.Errorf("warning %v names no widget record", ev)
			}
		}
	}
	if warnings != 2 {
		t.Errorf("%d warnings, want one for each ignored input", warnings)
	}
	redirect := strings.ReplaceAll(m[1], "&amp;", "&")
	if _, body := twilioPost(t, base, redirect, callForm("CA-ign")); !strings.Contains(body, "We did not get a message.") {
		t.Errorf("the <Redirect> after ignored input answered %s, want No Input", body)
	}
}

// Attachments sent to a call's session through the sessions API, where it
// waits for keys or a recording, are refused naming attachments, as the
// calls API refuses them: keys or a recording carry none. Nothing of the
// session changes; text alone at the keys' wait is taken as keys.
func TestResumeCallRefusesAttachments(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(`{"id":"menu","name":"Menu","kind":"voice","widgets":[
 {"id":"ask","type":"gather_digits","prompt":"Press 1 to leave a message.","num_digits":1,"timeout":5,"exits":{"Next":"record"}},
 {"id":"record","type":"record_voice","exits":{"Recording":"bye","No Input":"bye"}},
 {"id":"bye","type":"hangup"}]}`)
	id := ts.must(201, "POST", "/v1/sessions", `{"flow":"menu","call":{"id":"CA-att","from":"+15550007"}}`)["id"].(string)
	att := `{"text":"1","attachments":["image/jpeg:https://example.com/p.jpg"]}`
	ts.expectErrors(t, []apiErrorCase{
		{"at the keys' wait", "POST", "/v1/sessions/" + id + "/resume", att, 400, CodeInvalidField, "attachments"},
	})
	if n := ts.sessionInputs(t, id); n != 0 {
		t.Errorf("%d inputs logged after a refused request", n)
	}
	if r := ts.must(200, "POST", "/v1/sessions/"+id+"/resume", `{"text":"1"}`); r["waiting_for"].(map[string]any)["kind"] != "recording" {
		t.Fatalf("text 1 at the keys' wait answered %v", r)
	}
	ts.expectErrors(t, []apiErrorCase{
		{"at the recording's wait", "POST", "/v1/sessions/" + id + "/resume", att, 400, CodeInvalidField, "attachments"},
		{"attachments alone", "POST", "/v1/sessions/" + id + "/resume", `{"attachments":["geo:1,2"]}`, 400, CodeInvalidField, "attachments"},
	})
	r := ts.do("POST", "/v1/sessions/"+id+"/resume", att)
	if e := r.errorOf(t); !strings.Contains(e["message"].(string), `"record"`) || !strings.Contains(e["message"].(string), "recording") {
		t.Errorf("message %q names neither the widget nor what it waits for", e["message"])
	}
}

// A recording's result always has its duration, "" when the telephony side
// did not give it, so a flow reading @flow.message.extra.duration raises
// no warning; the default webhook body carries it beside the result, and
// the recording's message_in in its data.
func TestRecordingDurationEverywhere(t *testing.T) {
	var mu sync.Mutex
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("webhook body %s", b)
		}
		mu.Lock()
		bodies = append(bodies, m)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	ts, _ := twilioCallServer(t, "vm", `{"id":"vm","name":"VM","kind":"voice","widgets":[
 {"id":"record","type":"record_voice","result":"Message","exits":{"Recording":"notify","No Input":"notify"}},
 {"id":"notify","type":"webhook","method":"POST","url":"`+srv.URL+`","exits":{"Success":"say","Failure":"say"}},
 {"id":"say","type":"say","text":"Seconds: @flow.message.extra.duration.","exits":{"Next":"bye"}},
 {"id":"bye","type":"hangup"}]}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"sip","type":"api","voice_flow":"vm"}`)
	for _, c := range []struct{ call, body, want string }{
		{"d1", `{"recording_url":"https://media.example.com/r1.wav","recording_duration":8}`, "8"},
		{"d2", `{"recording_url":"https://media.example.com/r2.wav"}`, ""},
		{"d3", `{"recording_url":""}`, ""},
	} {
		ts.must(201, "POST", "/v1/channels/sip/calls", `{"call_id":"`+c.call+`","from":"+15550020"}`)
		r := ts.must(200, "POST", "/v1/channels/sip/calls/"+c.call, c.body)
		if got := texts(r); len(got) != 1 || got[0] != "Seconds: "+c.want+"." {
			t.Errorf("%s: said %q", c.call, got)
		}
		mu.Lock()
		b := bodies[len(bodies)-1]
		mu.Unlock()
		if res := b["results"].(map[string]any)["message"].(map[string]any); res["duration"] != c.want {
			t.Errorf("%s: default body's result %v, want duration %q", c.call, res, c.want)
		}
		id := callSessionID("sip", c.call)
		for _, e := range ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any) {
			ev := e.(map[string]any)
			if ev["type"] == "warning" {
				t.Errorf("%s: warning %v", c.call, ev["message"])
			}
			if ev["type"] == "message_in" {
				if d, _ := ev["data"].(map[string]any); d == nil || d["duration"] != c.want {
					t.Errorf("%s: message_in %v, want data.duration %q", c.call, ev, c.want)
				}
			}
		}
	}
}

// A record_voice stored before Parley checked what Twilio's <Record> takes
// (max_length 1, finish_key "") answers calls with TwiML Twilio takes:
// maxLength="2" and finishOnKey="#"; the same flow sent now is refused
// naming the widget and the fields.
func TestTwilioRecordStoredSettings(t *testing.T) {
	dir := t.TempDir()
	const doc = `{"id":"vm","name":"VM","kind":"voice","widgets":[
 {"id":"record","type":"record_voice","max_length":1,"finish_key":"","exits":{"Recording":"","No Input":""}}]}`
	storeRaw(t, dir, map[string]string{"vm": doc})
	ts := newTestServer(t, func(c *Config) {
		c.DataDir = dir
		c.Examples = nil
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","voice_flow":"vm","auth_token":"`+twilioTestToken+`"}`)
	base := ts.listen()
	_, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA-old"))
	if want := `<Record action="/twilio/tw/voice" method="POST" maxLength="2" timeout="5" finishOnKey="#" playBeep="true"/>`; !strings.Contains(body, want) {
		t.Errorf("TwiML %s\nwant %s", body, want)
	}
	r := ts.do("PUT", "/v1/flows/vm", doc)
	if r.Status != 422 || !strings.Contains(string(r.Body), `widgets[0].max_length`) || !strings.Contains(string(r.Body), `widgets[0].finish_key`) {
		t.Errorf("the flow sent again: %d %s", r.Status, r.Body)
	}
}

// The call's state that comes with an input the wait ignores (keys while
// the call records, a recording at a gather) is kept as $call.state all
// the same: it is the telephony side's report of the call, the latest
// one, not the caller's answer; the rest of the session stays as it was.
func TestIgnoredInputKeepsCallState(t *testing.T) {
	ts, base := twilioCallServer(t, "voicemail", voicemailFlow("http://127.0.0.1:1/x"))
	state := func(id string) (any, map[string]any) {
		s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
		return s["variables"].(map[string]any)["call"].(map[string]any)["state"], s
	}
	for _, c := range []struct {
		name, call string
		ignored    func(call string)
	}{
		{"keys while recording, on Twilio's voice URL", "CA-st1", func(call string) {
			twilioPost(t, base, "/twilio/tw/voice", callForm(call, "Digits", "5"))
		}},
		{"keys while recording, on the calls API", "CA-st2", func(call string) {
			ts.must(200, "POST", "/v1/channels/tw/calls/"+call, `{"digits":"5","state":"in-progress"}`)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			twilioPost(t, base, "/twilio/tw/voice", callForm(c.call, "CallStatus", "ringing"))
			id := callSessionID("tw", c.call)
			if got, _ := state(id); got != "ringing" {
				t.Fatalf("$call.state %v after the first request, want ringing", got)
			}
			_, before := state(id)
			ts.clock.Advance(time.Second)
			c.ignored(c.call)
			got, after := state(id)
			if got != "in-progress" {
				t.Errorf("$call.state %v after the ignored input, want in-progress", got)
			}
			for _, k := range []string{"status", "updated", "expires"} {
				if after[k] != before[k] {
					t.Errorf("%s %v after the ignored input, was %v", k, after[k], before[k])
				}
			}
		})
	}
}

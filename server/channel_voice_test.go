package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// putOverHTTP sends a PUT with a JSON body to the server listening at base
// and returns the status and decoded body.
func putOverHTTP(t *testing.T, base, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("PUT", base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("PUT %s: %d, body is not JSON: %s", path, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

// A channel's voice_flow answers calls, so saving the channel checks it as
// a call's start is checked: it must be a voice flow, and no subflow it can
// enter may keep the caller waiting in silence (a messaging flow's
// wait_for_response without a timeout). The error names the field, the
// subflow and the widget; the channel as stored before is kept.
func TestChannelVoiceFlowCheckedForCalls(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	for _, f := range []string{
		`{"id":"chat","name":"Chat","widgets":[
 {"id":"hi","type":"send_message","text":"Say something.","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Answer","exits":{"Next":""}}]}`,
		`{"id":"chat-timed","name":"Chat timed","widgets":[
 {"id":"hi","type":"send_message","text":"Say something.","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Answer","timeout":10,"exits":{"Next":"","Timeout":""}}]}`,
		`{"id":"ivr","name":"IVR","kind":"voice","widgets":[
 {"id":"hello","type":"say","text":"Hello.","exits":{"Next":"sub"}},
 {"id":"sub","type":"subflow","flow":"chat","exits":{"Complete":"","Expired":""}}]}`,
		`{"id":"ivr-ok","name":"IVR ok","kind":"voice","widgets":[
 {"id":"hello","type":"say","text":"Hello.","exits":{"Next":"sub"}},
 {"id":"sub","type":"subflow","flow":"chat-timed","exits":{"Complete":"","Expired":""}}]}`,
	} {
		ts.createFlow(f)
	}
	base := ts.listen()

	status, body := putOverHTTP(t, base, "/v1/channels/phone", `{"voice_flow":"ivr-ok"}`)
	if status != 201 {
		t.Fatalf("a channel whose voice flow passes the checks: %d %v", status, body)
	}

	cases := []struct{ name, body, field, want string }{
		{"voice flow entering a wait without timeout", `{"voice_flow":"ivr"}`, "voice_flow",
			`voice_flow "ivr": flow "ivr" enters subflow "chat" (widget "sub"): flow "chat" is a messaging flow, which a call runs as a voice flow: widget "wait": widgets[1].timeout: in a voice flow wait_for_response needs a timeout`},
		{"messaging voice flow", `{"voice_flow":"chat-timed"}`, "voice_flow",
			`voice_flow "chat-timed" is a messaging flow; calls need a voice flow`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := putOverHTTP(t, base, "/v1/channels/phone", c.body)
			e, _ := body["error"].(map[string]any)
			msg, _ := e["message"].(string)
			if status != 422 || e["code"] != CodeInvalidField || e["field"] != c.field || !strings.HasPrefix(msg, c.want) {
				t.Errorf("PUT %s: %d %v, want 422 invalid_field at %s saying %q", c.body, status, body, c.field, c.want)
			}
		})
	}
	// The refused saves left the channel as it was.
	if ch := ts.must(200, "GET", "/v1/channels/phone", nil); ch["voice_flow"] != "ivr-ok" {
		t.Errorf("the channel after the refused saves: %v, want voice_flow ivr-ok kept", ch)
	}
}

// A voice flow stored before its wait_for_response needed a timeout still
// loads, with a warning; as a channel's voice_flow it would keep a caller
// who presses no key waiting in silence, so saving the channel refuses it,
// naming the widget, and a call started with it is refused the same way.
func TestChannelVoiceFlowStoredBeforeTimeoutCheck(t *testing.T) {
	dir := t.TempDir()
	storeRaw(t, dir, map[string]string{"old-ivr": `{"id":"old-ivr","name":"Old IVR","kind":"voice","widgets":[
 {"id":"hello","type":"say","text":"Press a key.","exits":{"Next":"keys"}},
 {"id":"keys","type":"wait_for_response","result":"Key","exits":{"Next":""}}]}`})
	ts := newTestServer(t, func(c *Config) { c.DataDir = dir; c.Examples = nil })
	base := ts.listen()

	const want = `flow "old-ivr": widget "keys": widgets[1].timeout: in a voice flow wait_for_response needs a timeout`
	status, body := putOverHTTP(t, base, "/v1/channels/phone", `{"voice_flow":"old-ivr"}`)
	e, _ := body["error"].(map[string]any)
	msg, _ := e["message"].(string)
	if status != 422 || e["field"] != "voice_flow" || !strings.HasPrefix(msg, `voice_flow "old-ivr": `+want) {
		t.Errorf("a channel whose voice flow waits without a timeout: %d %v, want 422 at voice_flow saying %q", status, body, want)
	}
	ts.must(404, "GET", "/v1/channels/phone", nil)

	r := ts.do("POST", "/v1/sessions", `{"flow":"old-ivr","call":{"id":"CA1","from":"+15550001"}}`)
	e = r.errorOf(t)
	if msg, _ := e["message"].(string); r.Status != 422 || e["field"] != "flow" || !strings.HasPrefix(msg, want) {
		t.Errorf("a call started on it: %d %s, want 422 at flow saying %q", r.Status, r.Body, want)
	}
}

package server

import (
	"strings"
	"testing"
)

// A messaging flow given a call runs on it as a voice flow does, and is
// refused as a voice flow would be when a wait_for_response of it has no
// timeout: the caller would be gathered from in silence forever.
func TestSessionCallRefusesWaitWithoutTimeout(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(`{"id":"chat","name":"Chat","widgets":[
 {"id":"hi","type":"send_message","text":"Say something.","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Answer","exits":{"Next":""}}]}`)
	ts.createFlow(`{"id":"chat-timed","name":"Chat timed","widgets":[
 {"id":"hi","type":"send_message","text":"Say something.","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Answer","timeout":10,"exits":{"Next":"","Timeout":""}}]}`)

	r := ts.do("POST", "/v1/sessions", `{"flow":"chat","call":{"id":"CA1","from":"+15550001"}}`)
	e := r.errorOf(t)
	if msg, _ := e["message"].(string); r.Status != 422 || e["field"] != "flow" || !strings.Contains(msg, `widget "wait"`) || !strings.Contains(msg, "timeout") {
		t.Errorf("a messaging flow with a wait without timeout on a call: %d %s, want 422 naming the widget", r.Status, r.Body)
	}
	if list := ts.must(200, "GET", "/v1/sessions?flow=chat", nil); len(list["sessions"].([]any)) != 0 {
		t.Errorf("the refused start left sessions: %v", list["sessions"])
	}
	// Without a call, and with a timeout on one, it starts.
	ts.must(201, "POST", "/v1/sessions", `{"flow":"chat","contact":{"urn":"tel:+15550001"}}`)
	if s := ts.must(201, "POST", "/v1/sessions", `{"flow":"chat-timed","call":{"id":"CA2","from":"+15550001"}}`); s["status"] != "waiting" {
		t.Errorf("a messaging flow whose wait has a timeout, on a call: %v", s)
	}
}

// The simulator's start runs a flow as it runs live: a messaging flow given
// a call, stored or sent as a definition, is refused as POST /v1/sessions
// refuses it, with its message, when a wait_for_response has no timeout.
func TestSimulatorCallRefusesWaitWithoutTimeout(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	const chat = `{"id":"chat","name":"Chat","widgets":[
 {"id":"hi","type":"send_message","text":"Say something.","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Answer","exits":{"Next":""}}]}`
	ts.createFlow(chat)
	live := ts.do("POST", "/v1/sessions", `{"flow":"chat","call":{"id":"CA1","from":"+15550001"}}`).errorOf(t)["message"]
	for _, body := range []string{
		`{"flow":"chat","call":{"from":"+15550001"}}`,
		`{"definition":` + chat + `,"call":{"from":"+15550001"}}`,
	} {
		r := ts.do("POST", "/v1/simulator/sessions", body)
		e := r.errorOf(t)
		msg, _ := e["message"].(string)
		if r.Status != 422 || e["field"] != "flow" || !strings.Contains(msg, `widget "wait": widgets[1].timeout`) {
			t.Errorf("%s: %d %s, want 422 naming the widget", body, r.Status, r.Body)
		}
		if !strings.Contains(body, "definition") && msg != live {
			t.Errorf("message %q, POST /v1/sessions says %q", msg, live)
		}
	}
	// Without a call it starts.
	ts.must(201, "POST", "/v1/simulator/sessions", `{"flow":"chat"}`)
}

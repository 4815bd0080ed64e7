package server

import (
	"slices"
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

// A flow started on a call is refused when a subflow it can enter, directly
// or through another, would keep the caller waiting in silence: the error
// names the subflows on the way, with the widgets that enter them, and the
// subflow's widget and field. A voice flow's subflows are checked too, and
// subflows that enter each other are checked once each.
func TestSessionCallChecksSubflows(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	for _, f := range []string{
		`{"id":"chat","name":"Chat","widgets":[
 {"id":"hi","type":"send_message","text":"Say something.","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Answer","exits":{"Next":""}}]}`,
		`{"id":"via","name":"Via","widgets":[
 {"id":"hello","type":"send_message","text":"Hello.","exits":{"Next":"go"}},
 {"id":"go","type":"subflow","flow":"chat","exits":{"Complete":"","Expired":""}}]}`,
		`{"id":"main","name":"Main","widgets":[{"id":"enter","type":"subflow","flow":"via","exits":{"Complete":"","Expired":""}}]}`,
		`{"id":"ivr","name":"IVR","kind":"voice","widgets":[
 {"id":"hi","type":"say","text":"Hello.","exits":{"Next":"sub"}},
 {"id":"sub","type":"subflow","flow":"chat","exits":{"Complete":"","Expired":""}}]}`,
		`{"id":"ring-a","name":"Ring A","widgets":[
 {"id":"hi","type":"send_message","text":"A.","exits":{"Next":"b"}},
 {"id":"b","type":"subflow","flow":"ring-b","exits":{"Complete":"","Expired":""}}]}`,
		`{"id":"ring-b","name":"Ring B","widgets":[
 {"id":"a","type":"subflow","flow":"ring-a","exits":{"Complete":"self","Expired":""}},
 {"id":"self","type":"subflow","flow":"ring-b","exits":{"Complete":"","Expired":""}}]}`,
	} {
		ts.createFlow(f)
	}
	const own = `flow "chat" is a messaging flow, which a call runs as a voice flow: widget "wait": widgets[1].timeout: in a voice flow wait_for_response needs a timeout`
	for flow, want := range map[string]string{
		"main": `flow "main" enters subflow "via" (widget "enter"), which enters subflow "chat" (widget "go"): ` + own,
		"ivr":  `flow "ivr" enters subflow "chat" (widget "sub"): ` + own,
	} {
		for _, path := range []string{"/v1/sessions", "/v1/simulator/sessions"} {
			r := ts.do("POST", path, `{"flow":"`+flow+`","call":{"id":"CA1","from":"+15550001"}}`)
			e := r.errorOf(t)
			if msg, _ := e["message"].(string); r.Status != 422 || e["field"] != "flow" || !strings.HasPrefix(msg, want) {
				t.Errorf("POST %s %s on a call: %d %s, want 422 at flow saying %q", path, flow, r.Status, r.Body, want)
			}
		}
	}
	if list := ts.must(200, "GET", "/v1/sessions?flow=main", nil); len(list["sessions"].([]any)) != 0 {
		t.Errorf("the refused start left sessions: %v", list["sessions"])
	}
	// Subflows that enter each other, and themselves, pass once checked.
	if s := ts.must(201, "POST", "/v1/sessions", `{"flow":"ring-a","call":{"id":"CA2","from":"+15550001"}}`); s["status"] == "waiting" {
		t.Errorf("ring-a on a call: %v", s)
	}
	// Without a call, main starts and waits in chat.
	if s := ts.must(201, "POST", "/v1/sessions", `{"flow":"main","contact":{"urn":"tel:+15550001"}}`); s["status"] != "waiting" {
		t.Errorf("main without a call: %v", s)
	}
}

// A subflow changed after a call's session started, so that it would keep
// the caller waiting in silence, fails the session when the call enters
// it, with an error naming the subflow, its widget and field; a session
// without a call enters it as before.
func TestCallEnteringSubflowChangedSinceFails(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	const later = `{"id":"later","name":"Later","widgets":[
 {"id":"hi","type":"send_message","text":"Say something.","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Answer","timeout":10,"exits":{"Next":"","Timeout":""}}]}`
	ts.createFlow(later)
	ts.createFlow(`{"id":"menu","name":"Menu","widgets":[
 {"id":"ask","type":"wait_for_response","result":"Choice","timeout":10,"exits":{"Next":"sub","Timeout":""}},
 {"id":"sub","type":"subflow","flow":"later","exits":{"Complete":"","Expired":""}}]}`)
	call := ts.must(201, "POST", "/v1/sessions", `{"flow":"menu","call":{"id":"CA1","from":"+15550001"}}`)["id"].(string)
	chat := ts.must(201, "POST", "/v1/sessions", `{"flow":"menu","contact":{"urn":"tel:+15550002"}}`)["id"].(string)
	ts.must(200, "PUT", "/v1/flows/later", strings.Replace(strings.Replace(later, `"timeout":10,`, "", 1), `,"Timeout":""`, "", 1))

	if r := ts.must(200, "POST", "/v1/sessions/"+call+"/resume", `{"digits":"1"}`); r["status"] != "failed" || len(texts(r)) != 0 {
		t.Errorf("the call entering the subflow: %v, want it failed before the subflow says anything", r)
	}
	var errs []map[string]any
	for _, e := range ts.must(200, "GET", "/v1/sessions/"+call+"/events", nil)["events"].([]any) {
		if e := e.(map[string]any); e["type"] == "error" {
			errs = append(errs, e)
		}
	}
	const want = `subflow "later" cannot run on this call: flow "later" is a messaging flow, which a call runs as a voice flow: widget "wait": widgets[1].timeout: in a voice flow wait_for_response needs a timeout`
	if len(errs) != 1 || !strings.HasPrefix(errs[0]["message"].(string), want) || errs[0]["widget"] != "sub" {
		t.Errorf("error events %v, want one of widget sub saying %q", errs, want)
	}
	if r := ts.must(200, "POST", "/v1/sessions/"+chat+"/resume", `{"text":"1"}`); r["status"] != "waiting" || !slices.Equal(texts(r), []string{"Say something."}) {
		t.Errorf("the session without a call entering the subflow: %v, want it waiting in it", r)
	}
}

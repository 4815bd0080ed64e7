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

// A session without a call does not enter a voice flow as a subflow: its
// say, play and gather_digits would reach no one. A start that can enter
// one, directly or through another subflow, is refused naming the
// subflows on the way and the widgets entering them; on a call the same
// flow starts. A session already running, or one a channel's message
// starts (not checked at its start), fails at the widget entering it.
func TestMessagesRefuseVoiceSubflow(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	const menu = `{"id":"menu","name":"Menu","kind":"voice","widgets":[
 {"id":"hi","type":"say","text":"Press 1 for sales.","exits":{"Next":""}}]}`
	for _, f := range []string{
		menu,
		`{"id":"via","name":"Via","widgets":[
 {"id":"hello","type":"send_message","text":"Hello.","exits":{"Next":"go"}},
 {"id":"go","type":"subflow","flow":"menu","exits":{"Complete":"","Expired":""}}]}`,
		`{"id":"main","name":"Main","widgets":[{"id":"enter","type":"subflow","flow":"via","exits":{"Complete":"","Expired":""}}]}`,
		`{"id":"later","name":"Later","widgets":[{"id":"hi","type":"send_message","text":"Hi.","exits":{"Next":""}}]}`,
		`{"id":"ask","name":"Ask","widgets":[
 {"id":"wait","type":"wait_for_response","result":"Answer","timeout":10,"exits":{"Next":"sub","Timeout":""}},
 {"id":"sub","type":"subflow","flow":"later","exits":{"Complete":"","Expired":""}}]}`,
	} {
		ts.createFlow(f)
	}
	const want = `flow "main" enters subflow "via" (widget "enter"), which enters subflow "menu" (widget "go"): flow "menu" is a voice flow, which runs only on a call`
	for _, path := range []string{"/v1/sessions", "/v1/simulator/sessions"} {
		r := ts.do("POST", path, `{"flow":"main","contact":{"urn":"tel:+15550001"}}`)
		e := r.errorOf(t)
		if msg, _ := e["message"].(string); r.Status != 422 || e["field"] != "flow" || !strings.HasPrefix(msg, want) {
			t.Errorf("POST %s main without a call: %d %s, want 422 at flow saying %q", path, r.Status, r.Body, want)
		}
	}
	if list := ts.must(200, "GET", "/v1/sessions?flow=main", nil); len(list["sessions"].([]any)) != 0 {
		t.Errorf("the refused start left sessions: %v", list["sessions"])
	}
	// On a call the subflow is heard.
	if s := ts.must(201, "POST", "/v1/sessions", `{"flow":"main","call":{"id":"CA1","from":"+15550001"}}`); s["status"] != "completed" {
		t.Errorf("main on a call: %v", s)
	}

	// The subflow became a voice flow after the session started.
	chat := ts.must(201, "POST", "/v1/sessions", `{"flow":"ask","contact":{"urn":"tel:+15550002"}}`)["id"].(string)
	ts.must(200, "PUT", "/v1/flows/later", `{"id":"later","name":"Later","kind":"voice","widgets":[{"id":"hi","type":"say","text":"Hi.","exits":{"Next":""}}]}`)
	r := ts.must(200, "POST", "/v1/sessions/"+chat+"/resume", `{"text":"1"}`)
	if r["status"] != "failed" || len(texts(r)) != 0 {
		t.Errorf("the session entering the voice subflow: %v, want it failed before the subflow says anything", r)
	}
	const wantEvent = `subflow "later" cannot run without a call: flow "later" is a voice flow, which runs only on a call`
	errorEvents := func(id string) (errs []map[string]any) {
		for _, e := range ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any) {
			if e := e.(map[string]any); e["type"] == "error" {
				errs = append(errs, e)
			}
		}
		return errs
	}
	if errs := errorEvents(chat); len(errs) != 1 || !strings.HasPrefix(errs[0]["message"].(string), wantEvent) || errs[0]["widget"] != "sub" {
		t.Errorf("error events %v, want one of widget sub saying %q", errs, wantEvent)
	}

	// A channel's messages start its default flow and triggers' flows
	// without a call: one that can enter a voice subflow is refused.
	ts.createFlow(`{"id":"soon","name":"Soon","widgets":[{"id":"hi","type":"send_message","text":"Hi.","exits":{"Next":""}}]}`)
	ts.createFlow(`{"id":"greet","name":"Greet","widgets":[
 {"id":"hello","type":"send_message","text":"Hello.","exits":{"Next":"go"}},
 {"id":"go","type":"subflow","flow":"soon","exits":{"Complete":"","Expired":""}}]}`)
	cr := ts.do("POST", "/v1/channels", `{"id":"web","default_flow":"main"}`)
	if e := cr.errorOf(t); cr.Status != 422 || e["field"] != "default_flow" || !strings.HasPrefix(e["message"].(string), `default_flow "main": `+want) {
		t.Errorf("a channel whose default flow enters a voice subflow: %d %s, want 422 at default_flow saying %q", cr.Status, cr.Body, want)
	}
	cr = ts.do("POST", "/v1/channels", `{"id":"web","default_flow":"greet","triggers":[{"keyword":"go","flow":"via"}]}`)
	if e := cr.errorOf(t); cr.Status != 422 || e["field"] != "triggers[0].flow" || !strings.Contains(e["message"].(string), `flow "via" enters subflow "menu" (widget "go"): flow "menu" is a voice flow`) {
		t.Errorf("a trigger's flow entering a voice subflow: %d %s, want 422 at triggers[0].flow", cr.Status, cr.Body)
	}
	// A channel's message starts its flow unchecked: one whose subflow
	// became a voice flow since fails at the widget entering it.
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"greet"}`)
	ts.must(200, "PUT", "/v1/flows/soon", `{"id":"soon","name":"Soon","kind":"voice","widgets":[{"id":"hi","type":"say","text":"Hi.","exits":{"Next":""}}]}`)
	m := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"tel:+15550003","text":"hi"}`)
	if m["status"] != "failed" || !slices.Equal(texts(m), []string{"Hello."}) {
		t.Errorf("a message starting greet: %v, want it failed at the voice subflow after Hello.", m)
	}
	const wantChannel = `subflow "soon" cannot run without a call: flow "soon" is a voice flow`
	if errs := errorEvents(m["id"].(string)); len(errs) != 1 || !strings.HasPrefix(errs[0]["message"].(string), wantChannel) || errs[0]["widget"] != "go" {
		t.Errorf("error events %v, want one of widget go saying %q", errs, wantChannel)
	}
}

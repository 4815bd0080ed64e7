package server

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// The message that starts a session is the first turn's input, as goflow
// makes a trigger's message the run's input: @input reads it and the
// session's log begins with its message_in. A wait at the start waits for
// the next message.
func TestStartingMessageIsInput(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(`{"id":"trig","name":"Trig","start":"s","widgets":[{"id":"s","type":"send_message","text":"first: [@input]"}]}`)
	ts.createFlow(`{"id":"waitfirst","name":"Wait first","widgets":[
	 {"id":"w","type":"wait_for_response","result":"Answer","exits":{"Next":"said"}},
	 {"id":"said","type":"send_message","text":"answer: [@flow.answer] input: [@input]"}]}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"tg","default_flow":"trig","triggers":[{"keyword":"wait","flow":"waitfirst"}]}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","default_flow":"trig","auth_token":"`+twilioTestToken+`"}`)
	base := ts.listen()
	post := httpJSON(t, base)

	// firstEvents checks that the session's log starts with a message_in of
	// text and holds only one.
	firstEvent := func(t *testing.T, id any, text string) {
		t.Helper()
		evs := ts.must(200, "GET", fmt.Sprintf("/v1/sessions/%s/events", id), nil)["events"].([]any)
		var ins []string
		for _, e := range evs {
			if e := e.(map[string]any); e["type"] == "message_in" {
				ins = append(ins, e["text"].(string))
			}
		}
		if len(evs) == 0 || evs[0].(map[string]any)["type"] != "message_in" || !slices.Equal(ins, []string{text}) {
			t.Errorf("session log %v: want one message_in %q, first", evs, text)
		}
	}

	t.Run("default flow", func(t *testing.T) {
		r := post("POST", "/v1/channels/tg/messages", `{"from":"+1333","text":"join football","id":"m1"}`)
		if got := texts(r); !slices.Equal(got, []string{"first: [join football]"}) {
			t.Errorf("answered %q, want first: [join football]", got)
		}
		firstEvent(t, r["id"], "join football")
		again := post("POST", "/v1/channels/tg/messages", `{"from":"+1333","text":"join football","id":"m1"}`)
		if again["id"] != r["id"] || !slices.Equal(texts(again), texts(r)) {
			t.Errorf("a retry answered %v, want %v", again, r)
		}
		firstEvent(t, r["id"], "join football")
	})
	t.Run("trigger with a wait first", func(t *testing.T) {
		r := post("POST", "/v1/channels/tg/messages", `{"from":"+1444","text":"WAIT now"}`)
		if r["status"] != "waiting" || len(texts(r)) != 0 {
			t.Fatalf("the trigger answered %v, want a session waiting for the next message", r)
		}
		firstEvent(t, r["id"], "WAIT now")
		r = post("POST", "/v1/channels/tg/messages", `{"from":"+1444","text":"blue"}`)
		if got := texts(r); r["status"] != "completed" || !slices.Equal(got, []string{"answer: [blue] input: [blue]"}) {
			t.Errorf("the next message answered %v", r)
		}
	})
	t.Run("batch", func(t *testing.T) {
		r := post("POST", "/v1/channels/tg/messages/batch", `{"messages":[{"from":"+1555","text":"hello there"}]}`)
		reply := r["replies"].([]any)[0].(map[string]any)
		if got := texts(reply); !slices.Equal(got, []string{"first: [hello there]"}) {
			t.Errorf("answered %q", got)
		}
		firstEvent(t, reply["id"], "hello there")
	})
	t.Run("twilio", func(t *testing.T) {
		form := url.Values{"From": {"+1666"}, "To": {"+15550000"}, "Body": {"hi & bye"}, "MessageSid": {"SM1"}}
		status, body := twilioPost(t, base, "/twilio/tw/sms", form)
		if status != 200 || !strings.Contains(body, "<Message>first: [hi &amp; bye]</Message>") {
			t.Errorf("sms webhook: %d %s", status, body)
		}
		list := ts.must(200, "GET", "/v1/sessions?contact="+url.QueryEscape("tel:+1666"), nil)["sessions"].([]any)
		if len(list) != 1 {
			t.Fatalf("sessions of tel:+1666: %v", list)
		}
		firstEvent(t, list[0].(map[string]any)["id"], "hi & bye")
	})
}

package server

import (
	"net/url"
	"strings"
	"testing"
)

// A channel's messaging flow made a voice flow after the channel was set:
// a message does not run it (its say prompts would never reach the
// sender), it is answered 422 no_flow naming the channel's field, as a call
// on a channel whose voice_flow became a messaging flow is.
func TestMessageOnChannelWhoseFlowBecameVoice(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(`{"id":"fm","name":"Text","widgets":[{"id":"a","type":"send_message","text":"hi"}]}`)
	ts.createFlow(`{"id":"fv","kind":"voice","name":"Voice","widgets":[{"id":"a","type":"say","text":"hello"}]}`)
	ts.must(201, "PUT", "/v1/channels/c", `{"default_flow":"fm","voice_flow":"fv","triggers":[{"keyword":"join","flow":"fm"}]}`)
	if r := ts.must(200, "POST", "/v1/channels/c/messages", `{"from":"+1555","text":"hi"}`); texts(r)[0] != "hi" {
		t.Fatalf("before the change: %v", r)
	}
	ts.must(200, "PUT", "/v1/flows/fm", `{"kind":"voice","name":"Now voice","widgets":[{"id":"a","type":"say","text":"spoken"}]}`)

	for _, c := range []struct{ text, field string }{{"hello", "default_flow"}, {"join now", "triggers[0].flow"}} {
		r := ts.do("POST", "/v1/channels/c/messages", `{"from":"+1556","text":"`+c.text+`"}`)
		e := r.errorOf(t)
		msg, _ := e["message"].(string)
		if r.Status != 422 || e["code"] != CodeNoFlow || e["field"] != c.field || !strings.Contains(msg, c.field+` "fm"`) || !strings.Contains(msg, "voice flow") {
			t.Errorf("message %q on a channel whose %s became a voice flow: %d %s", c.text, c.field, r.Status, r.Body)
		}
	}
	r := twilioForm(ts, "/twilio/c/sms", url.Values{"From": {"+1557"}, "Body": {"hi"}, "MessageSid": {"SM1"}}, "")
	if r.Status != 422 || r.errorOf(t)["field"] != "default_flow" {
		t.Errorf("Twilio SMS on that channel: %d %s, want 422 on default_flow", r.Status, r.Body)
	}
	if list := ts.must(200, "GET", "/v1/sessions?flow=fm", nil)["sessions"].([]any); len(list) != 1 {
		t.Errorf("%d sessions of fm, want only the one from before the change", len(list))
	}
}

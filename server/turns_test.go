package server

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// A channel's messaging flow made a voice flow after the channel was set:
// a message does not run it (its say prompts would never reach the
// sender), it is answered 422 no_flow naming the channel's field, as a call
// on a channel whose voice_flow became a messaging flow is.
func TestMessageOnChannelWhoseFlowBecameVoice(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(`{"id":"fm","name":"Text","widgets":[{"id":"a","type":"send_message","text":"hi"}]}`)
	ts.createFlow(`{"id":"fv","kind":"voice","name":"Voice","widgets":[{"id":"a","type":"say","text":"hello"}]}`)
	ts.must(201, "PUT", "/v1/channels/c", `{"type":"twilio","default_flow":"fm","voice_flow":"fv","triggers":[{"keyword":"join","flow":"fm"}]}`)
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

// A call started through POST /v1/sessions on a channel is that call's
// session, as if started on the channel's calls endpoint: requests about the
// call find it by its id, and starting the call again is a conflict.
func TestSessionStartedForACallIsFoundByItsCallID(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	started := ts.must(201, "POST", "/v1/sessions", `{"flow":"ivr-menu","channel":"demo","call":{"id":"DUP1","from":"+1555777"}}`)
	if started["status"] != "waiting" {
		t.Fatalf("call session: %v", started)
	}
	r := ts.must(200, "POST", "/v1/channels/demo/calls/DUP1", `{"digits":"1"}`)
	if r["id"] != started["id"] || !strings.Contains(strings.Join(texts(r), " "), "sales") {
		t.Errorf("digits for call DUP1 answered %v, want session %v to go on", r, started["id"])
	}
	ts.expectErrors(t, []apiErrorCase{
		{name: "call endpoint", method: "POST", path: "/v1/channels/demo/calls", body: `{"call_id":"DUP1","from":"+1555777"}`, status: 409, code: CodeConflict, field: "call_id"},
		{name: "sessions endpoint", method: "POST", path: "/v1/sessions", body: `{"flow":"ivr-menu","channel":"demo","call":{"id":"DUP1","from":"+1555777"}}`, status: 409, code: CodeConflict, field: "call.id"},
	})
	// The same call id on another channel is another call.
	ts.must(201, "PUT", "/v1/channels/other", `{"voice_flow":"ivr-menu"}`)
	ts.must(201, "POST", "/v1/sessions", `{"flow":"ivr-menu","channel":"other","call":{"id":"DUP1","from":"+1555777"}}`)
}

// remoteWebhooks records the webhook calls that would leave the server.
type remoteWebhooks struct {
	mu   sync.Mutex
	urls []string
}

func (r *remoteWebhooks) Config(string) (*flows.WebhookConfig, bool) { return nil, false }

func (r *remoteWebhooks) Call(_ context.Context, req *flows.WebhookRequest) *flows.WebhookResult {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL)
	r.mu.Unlock()
	return &flows.WebhookResult{Outcome: flows.OutcomeFailure, Status: 404, Attempts: 1}
}

// The demo order service is answered in process at the URL it is served
// at: on loopback at /demo/order-status, and on the public URL's host under
// the public URL's path. Other paths of the public host go out as any
// webhook does.
func TestDemoServiceUnderPublicURLPath(t *testing.T) {
	remote := &remoteWebhooks{}
	ts := newTestServer(t, func(c *Config) {
		c.PublicURL = "https://example.com/parley/"
		c.Webhooks = remote
	})
	for i, c := range []struct {
		url   string
		local bool
	}{
		{"https://example.com/parley/demo/order-status", true},
		{"https://EXAMPLE.com/parley/demo/order-status/", true},
		{"http://127.0.0.1:8080/demo/order-status", true},
		{"http://localhost:9/demo/order-status", true},
		{"https://example.com/demo/order-status", false}, // not served: the proxy sends /parley/... here
		{"https://example.com/other/demo/order-status", false},
		{"https://example.org/parley/demo/order-status", false},
	} {
		id := fmt.Sprintf("demo%d", i)
		ts.createFlow(`{"id":"` + id + `","name":"Demo","widgets":[
 {"id":"hook","type":"webhook","method":"POST","url":"` + c.url + `","body":"{\"order\":\"CU001\"}","result":"Order","exits":{"Success":"ok","Failure":"ko"}},
 {"id":"ok","type":"send_message","text":"answered"},
 {"id":"ko","type":"send_message","text":"failed"}]}`)
		r := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": id})
		remote.mu.Lock()
		sent := slices.Contains(remote.urls, c.url)
		remote.mu.Unlock()
		if local := !sent; local != c.local {
			t.Errorf("%s: answered in process %v, want %v (reply %v)", c.url, local, c.local, texts(r))
		}
		if c.local && (len(texts(r)) != 1 || texts(r)[0] == "failed") {
			t.Errorf("%s: the demo service's answer gave %v", c.url, texts(r))
		}
	}
}

// Call states are stored in lowercase, as Twilio sends them, whatever case
// a client of the JSON endpoints used: flows compare $call.state with
// "busy", not "Busy".
func TestCallStatesLowercased(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	state := func(id string) any {
		return ts.must(200, "GET", "/v1/sessions/"+id, nil)["variables"].(map[string]any)["call"].(map[string]any)["state"]
	}
	id := ts.must(201, "POST", "/v1/channels/demo/calls", `{"call_id":"C1","from":"+1555","state":"Ringing"}`)["id"].(string)
	if got := state(id); got != "ringing" {
		t.Errorf("state after the start with Ringing: %v, want ringing", got)
	}
	ts.must(200, "POST", "/v1/channels/demo/calls/C1", `{"timeout":true,"state":"In-Progress"}`)
	if got := state(id); got != "in-progress" {
		t.Errorf("state after In-Progress: %v, want in-progress", got)
	}
	if r := ts.must(200, "POST", "/v1/channels/demo/calls/C1", `{"state":"Busy"}`); r["status"] != "interrupted" {
		t.Errorf("the call's session after Busy: %v", r)
	}
	if got := state(id); got != "busy" {
		t.Errorf("state after Busy: %v, want busy", got)
	}
	id = ts.must(201, "POST", "/v1/sessions", `{"flow":"ivr-menu","call":{"id":"C2","from":"+1555","state":"RINGING"}}`)["id"].(string)
	if got := state(id); got != "ringing" {
		t.Errorf("state of a session started with RINGING: %v, want ringing", got)
	}
}

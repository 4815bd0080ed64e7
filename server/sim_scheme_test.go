package server

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// A live contact's URN may not have the sim: scheme: the store keeps the
// simulator's test contact for tel:+X under sim:tel:+X, so a live sender
// sim:tel:+X would be that test contact, reading its fields and sharing
// its sessions and lock. Every place a contact URN comes in refuses it,
// naming the field, in any case.
func TestLiveURNWithSimSchemeRefused(t *testing.T) {
	ts := newTestServer(t, func(cfg *Config) { cfg.Examples = nil })
	ts.createFlow(planFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"plan","voice_flow":"ivr-menu"}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","default_flow":"plan"}`)
	const urn = "tel:+12065557777"
	ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"flow": "plan",
		"contact": map[string]any{"urn": urn, "fields": map[string]any{"plan": "secret"}}, "variables": map[string]any{"next": "secret"}})

	const says = "the sim: scheme is kept for the simulator's test contacts"
	cases := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"message from", "POST", "/v1/channels/web/messages", `{"from":"sim:tel:+12065557777","text":"hi"}`, 400, "from"},
		{"message from, upper case", "POST", "/v1/channels/web/messages", `{"from":"SIM:tel:+12065557777","text":"hi"}`, 400, "from"},
		{"message from, spaces", "POST", "/v1/channels/web/messages", `{"from":"  Sim:tel:+12065557777","text":"hi"}`, 400, "from"},
		{"session contact.urn", "POST", "/v1/sessions", `{"flow":"plan","contact":{"urn":"sim:tel:+12065557777"}}`, 400, "contact.urn"},
		{"session contact.urn on a channel", "POST", "/v1/sessions", `{"flow":"plan","channel":"web","contact":{"urn":"sim:tel:+12065557777"}}`, 400, "contact.urn"},
		{"session call.from", "POST", "/v1/sessions", `{"flow":"ivr-menu","call":{"id":"CA9","from":"sim:tel:+12065557777"}}`, 400, "call.from"},
		{"call from", "POST", "/v1/channels/web/calls", `{"call_id":"CA1","from":"sim:tel:+12065557777"}`, 400, "from"},
		{"channel scheme", "POST", "/v1/channels", `{"id":"s","default_flow":"plan","scheme":"sim"}`, 422, "scheme"},
		{"channel scheme, upper case", "PUT", "/v1/channels/web", `{"default_flow":"plan","scheme":"SIM"}`, 422, "scheme"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ts.do(c.method, c.path, c.body)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			e := r.errorOf(t)
			if e["code"] != CodeInvalidField || e["field"] != c.field || !strings.Contains(e["message"].(string), says) {
				t.Errorf("error %v, want invalid_field on %s saying %q", e, c.field, says)
			}
		})
	}

	batch := ts.must(200, "POST", "/v1/channels/web/messages/batch",
		`{"messages":[{"from":"sim:tel:+12065557777","text":"hi"},{"from":"tel:+12065550001","text":"hi"}]}`)
	replies := batch["replies"].([]any)
	e, _ := replies[0].(map[string]any)["error"].(map[string]any)
	if e == nil || e["status"] != 400.0 || e["field"] != "messages[0].from" || !strings.Contains(e["message"].(string), says) {
		t.Errorf("batch entry from sim:: %v, want a 400 on messages[0].from saying %q", replies[0], says)
	}
	if replies[1].(map[string]any)["status"] != "waiting" {
		t.Errorf("batch entry of a tel: sender: %v, want its session waiting", replies[1])
	}

	r := twilioForm(ts, "/twilio/tw/sms", url.Values{"From": {"sim:tel:+12065557777"}, "Body": {"hi"}, "MessageSid": {"SM1"}}, "")
	if e := r.errorOf(t); r.Status != 400 || e["field"] != "From" || !strings.Contains(e["message"].(string), says) {
		t.Errorf("Twilio SMS from sim:: %d %s, want 400 on From", r.Status, r.Body)
	}

	// The test contact is untouched, and no live session runs on it.
	ctx := context.Background()
	c, err := ts.srv.store.Contact(ctx, flows.SandboxContactPrefix+urn)
	if err != nil || c.Fields["plan"] != "secret" {
		t.Errorf("test contact %+v (err %v), want its plan unchanged", c, err)
	}
	list := ts.must(200, "GET", "/v1/sessions?contact=sim:tel:%2B12065557777", nil)["sessions"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["contact"] != urn {
		t.Errorf("sessions of the test contact: %v, want the one simulation", list)
	}
	// A scheme that only starts like it is another scheme.
	ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"simple:x1","text":"hi"}`)
}

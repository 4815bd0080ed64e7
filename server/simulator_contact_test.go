package server

import (
	"context"
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// planFlow says what it sees of its contact, saves a field and waits.
const planFlow = `{"id":"plan","name":"Plan","widgets":[
 {"id":"say","type":"send_message","text":"urn=@contact.urn tel=@contact.tel plan=@contact.fields.plan","exits":{"Next":"set"}},
 {"id":"set","type":"set_variable","scope":"user","name":"plan","value":"@flow.next","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Answer","exits":{"Next":""}}]}`

// TestSimulatorContactIsTheAuthors: the flow sees the test contact's URN as
// given, as parley simulate shows it, while the contact is kept apart from
// the live contact with that URN: the live contact's fields, its waiting
// session and its listing are untouched, and the test contact's fields
// persist for the next simulation.
func TestSimulatorContactIsTheAuthors(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(planFlow)
	ctx := context.Background()
	const urn = "tel:+12065551212"

	live := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "plan",
		"contact": map[string]any{"urn": urn, "fields": map[string]any{"plan": "gold"}}, "variables": map[string]any{"next": "gold2"}})
	if got := strings.Join(texts(live), "|"); got != "urn=tel:+12065551212 tel=+12065551212 plan=gold" {
		t.Fatalf("live session said %q", got)
	}

	first := ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"flow": "plan",
		"contact": map[string]any{"urn": urn, "fields": map[string]any{"plan": "silver"}}, "variables": map[string]any{"next": "bronze"}})
	if got := strings.Join(texts(first), "|"); got != "urn=tel:+12065551212 tel=+12065551212 plan=silver" {
		t.Errorf("simulated session said %q, want the URN as given", got)
	}
	// The test contact keeps what the flow saved, apart from the live one.
	second := ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"flow": "plan", "contact": map[string]any{"urn": urn}, "variables": map[string]any{"next": "x"}})
	if got := strings.Join(texts(second), "|"); got != "urn=tel:+12065551212 tel=+12065551212 plan=bronze" {
		t.Errorf("second simulated session said %q, want the field the first one saved (bronze)", got)
	}

	liveContact, err := ts.srv.store.Contact(ctx, urn)
	if err != nil || liveContact.Fields["plan"] != "gold2" {
		t.Errorf("live contact %+v (err %v): want its plan as the live session saved it, gold2", liveContact, err)
	}
	testContact, err := ts.srv.store.Contact(ctx, flows.SandboxContactPrefix+urn)
	if err != nil || testContact.Fields["plan"] != "x" {
		t.Errorf("test contact %+v (err %v): want it stored under sim:, plan x", testContact, err)
	}
	sess, err := ts.srv.store.LoadSession(ctx, live["id"].(string))
	if err != nil || sess.Status != flows.StatusWaiting {
		t.Fatalf("live session after the simulations: %v (err %v), want still waiting", sess, err)
	}
	sim, err := ts.srv.store.LoadSession(ctx, first["id"].(string))
	if err != nil || sim.Contact.URN != urn || !sim.SandboxContact || sim.Environment != flows.EnvSandbox {
		t.Fatalf("simulated session: %+v (err %v), want contact %s, a test contact, sandbox", sim, err, urn)
	}
	// Listed by contact: the live URN lists the live session, sim: + URN
	// the simulations, each showing the URN the flow saw.
	for _, tc := range []struct {
		contact string
		want    int
	}{{urn, 1}, {flows.SandboxContactPrefix + urn, 2}} {
		list := ts.must(200, "GET", "/v1/sessions?contact="+strings.ReplaceAll(tc.contact, "+", "%2B"), nil)
		got, _ := list["sessions"].([]any)
		if len(got) != tc.want {
			t.Errorf("?contact=%s lists %d sessions, want %d: %v", tc.contact, len(got), tc.want, got)
			continue
		}
		for _, s := range got {
			if c := s.(map[string]any)["contact"]; c != urn {
				t.Errorf("?contact=%s: session contact %v, want %s", tc.contact, c, urn)
			}
		}
	}
	// The live contact's reply still resumes the live session.
	r := ts.must(200, "POST", "/v1/sessions/"+live["id"].(string)+"/resume", map[string]any{"text": "hi"})
	if r["status"] != "completed" {
		t.Errorf("live session after its contact's answer: %v", r["status"])
	}
}

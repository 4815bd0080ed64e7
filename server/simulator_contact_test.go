package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
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

// The test contact's URN is checked before the turn, as POST /v1/sessions
// checks a contact's: one the store cannot keep (over 512 bytes) is refused
// before the flow's webhook is called, rather than failing the turn's
// save after it, and one that names no one (tel:), or has a scheme kept for
// other contacts (withheld:, sim:), is refused too, 400 naming the field.
func TestSimulatorContactURNChecked(t *testing.T) {
	var calls atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Write([]byte(`{}`))
	}))
	defer hook.Close()
	ts := newTestServer(t, func(c *Config) { c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	ts.createFlow(`{"id":"hook","name":"Hook","widgets":[
 {"id":"call","type":"webhook","url":"` + hook.URL + `?who=@contact.urn","exits":{"Success":"bye","Failure":"bye"}},
 {"id":"bye","type":"send_message","text":"bye","exits":{"Next":""}}]}`)
	ts.createFlow(`{"id":"ivr","name":"IVR","kind":"voice","widgets":[
 {"id":"call","type":"webhook","url":"` + hook.URL + `?who=@contact.urn","exits":{"Success":"bye","Failure":"bye"}},
 {"id":"bye","type":"say","text":"bye","exits":{"Next":""}}]}`)
	long := "tel:+1" + strings.Repeat("1", 599)
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
		says  string
	}{
		{"long", map[string]any{"flow": "hook", "contact": map[string]any{"urn": long}}, "contact.urn", "is 605 bytes long, over the limit of 512 bytes"},
		{"no address", map[string]any{"flow": "hook", "contact": map[string]any{"urn": "tel:"}}, "contact.urn", "has no address after its scheme"},
		{"blank", map[string]any{"flow": "hook", "contact": map[string]any{"urn": "  "}}, "contact.urn", "is blank"},
		{"withheld", map[string]any{"flow": "hook", "contact": map[string]any{"urn": "withheld:abc"}}, "contact.urn", "has the withheld: scheme"},
		{"sim", map[string]any{"flow": "hook", "contact": map[string]any{"urn": "sim:tel:+1555"}}, "contact.urn", "the sim: scheme is kept"},
		{"long caller", map[string]any{"flow": "ivr", "call": map[string]any{"from": long[len("tel:"):]}}, "call.from", "is 605 bytes long"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ts.do("POST", "/v1/simulator/sessions", c.body)
			if r.Status != 400 {
				t.Fatalf("status %d, want 400: %s", r.Status, r.Body)
			}
			e := r.errorOf(t)
			if e["code"] != CodeInvalidField || e["field"] != c.field || !strings.HasPrefix(e["message"].(string), c.field+": the contact's URN ") || !strings.Contains(e["message"].(string), c.says) {
				t.Errorf("error %v, want invalid_field on %s saying %q", e, c.field, c.says)
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the flow's webhook was called %d times for starts that were refused", n)
	}
	if list := ts.must(200, "GET", "/v1/sessions", nil)["sessions"].([]any); len(list) != 0 {
		t.Errorf("sessions after the refused starts: %v, want none", list)
	}
	// A URN the store keeps starts, and calls the webhook.
	ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"flow": "hook", "contact": map[string]any{"urn": "tel:+1555"}})
	if n := calls.Load(); n != 1 {
		t.Errorf("the flow's webhook was called %d times, want 1", n)
	}
}

package server

import (
	"strings"
	"testing"
)

// POST /v1/simulator/sessions/{id}/expire expires a waiting sandbox
// session as its expiry would: inside a subflow, the caller runs on from
// its Expired exit; at the top, the session ends as expired. A live
// session, or one that no longer waits, is refused.
func TestSimulatorExpire(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(`{"id":"rating","name":"Rating","expire_minutes":30,"widgets":[
	 {"id":"ask","type":"send_message","text":"Rate us","exits":{"Next":"wait"}},
	 {"id":"wait","type":"wait_for_response","exits":{"Next":""}}]}`)
	ts.createFlow(`{"id":"survey","name":"Survey","widgets":[
	 {"id":"sub","type":"subflow","flow":"rating","exits":{"Complete":"thanks","Expired":"late"}},
	 {"id":"thanks","type":"send_message","text":"Thanks","exits":{"Next":""}},
	 {"id":"late","type":"send_message","text":"You went quiet","exits":{"Next":"again"}},
	 {"id":"again","type":"wait_for_response","exits":{"Next":""}}]}`)
	r := ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"flow": "survey"})
	id, _ := r["id"].(string)
	r = ts.must(200, "POST", "/v1/simulator/sessions/"+id+"/expire", nil)
	if got := strings.Join(texts(r), "|"); got != "You went quiet" || r["status"] != "waiting" {
		t.Errorf("first expiry: said %q, status %v; want the Expired path's message and a wait", got, r["status"])
	}
	r = ts.must(200, "POST", "/v1/simulator/sessions/"+id+"/expire", nil)
	if len(texts(r)) != 0 || r["status"] != "expired" {
		t.Errorf("second expiry: said %q, status %v; want nothing and expired", texts(r), r["status"])
	}
	events := ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)
	if b := strings.Join(eventTypes(events), ","); !strings.Contains(b, "session_ended") {
		t.Errorf("events %s, want the session's end", b)
	}
	if r := ts.do("POST", "/v1/simulator/sessions/"+id+"/expire", nil); r.Status != 409 || !strings.Contains(string(r.Body), "not waiting (expired)") {
		t.Errorf("expiry of an ended session: %d %s, want 409", r.Status, r.Body)
	}
	live := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "survey", "contact": map[string]any{"urn": "tel:+15550001111"}})
	if r := ts.do("POST", "/v1/simulator/sessions/"+live["id"].(string)+"/expire", nil); r.Status != 409 || !strings.Contains(string(r.Body), "sandbox sessions only") {
		t.Errorf("expiry of a live session: %d %s, want 409", r.Status, r.Body)
	}
}

// eventTypes lists the types of a session's events, as GET
// /v1/sessions/{id}/events lists them.
func eventTypes(page map[string]any) []string {
	var out []string
	evs, _ := page["events"].([]any)
	for _, e := range evs {
		if m, ok := e.(map[string]any); ok {
			if s, ok := m["type"].(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

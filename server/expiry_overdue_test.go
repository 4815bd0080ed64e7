package server

import (
	"context"
	"slices"
	"testing"
	"time"
)

// overdueFlow waits without a timeout and echoes the answer.
const overdueFlow = `{"id":"echo","name":"Echo","widgets":[
 {"id":"ask","type":"send_message","text":"say something","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Answer","exits":{"Next":"said"}},
 {"id":"said","type":"send_message","text":"resumed: @input"}]}`

// sessionEventTypes lists a session's events as type, or type:text for a
// message, type:status for session_ended.
func (ts *testServer) sessionEventTypes(id string) []string {
	ts.t.Helper()
	var out []string
	for _, e := range ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any) {
		ev := e.(map[string]any)
		s := ev["type"].(string)
		switch {
		case ev["text"] != nil:
			s += ":" + ev["text"].(string)
		case ev["session_status"] != nil:
			s += ":" + ev["session_status"].(string)
		}
		out = append(out, s)
	}
	return out
}

// After a restart, a wait's timeout that is overdue together with the
// session's expiry does not run the Timeout path (a reminder sent to a
// contact whose session's time is up): the session expires.
func TestOverdueTimeoutWithExpiryExpires(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	conf := func(c *Config) {
		c.DataDir = dir
		c.Now = clk.Now
		c.SessionExpiry = 30 * time.Second
		c.Examples = nil
	}
	first := newTestServer(t, conf)
	first.createFlow(`{"id":"remind","name":"Remind","widgets":[
 {"id":"wait","type":"wait_for_response","result":"Answer","timeout":20,"exits":{"Next":"thanks","Timeout":"reminder"}},
 {"id":"reminder","type":"send_message","text":"reminder","exits":{"Next":"wait"}},
 {"id":"thanks","type":"send_message","text":"thanks"}]}`)
	id := first.must(201, "POST", "/v1/sessions", `{"flow":"remind","contact":{"urn":"tel:+15550001"}}`)["id"].(string)
	if err := first.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(42 * time.Second)
	second := newTestServer(t, conf)
	if _, err := second.srv.svc.scanTimers(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := second.must(200, "GET", "/v1/sessions/"+id, nil)
	got := second.sessionEventTypes(id)
	if s["status"] != "expired" || slices.Contains(got, "message_out:reminder") || slices.Index(got, "session_ended:expired") != len(got)-1 {
		t.Errorf("after a scan past the timeout and the expiry: %v, events %v, want expired without a reminder", s["status"], got)
	}

	// A timeout alone that is due still runs its path.
	id = second.must(201, "POST", "/v1/sessions", `{"flow":"remind","contact":{"urn":"tel:+15550002"}}`)["id"].(string)
	clk.Advance(21 * time.Second)
	if _, err := second.srv.svc.scanTimers(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := second.sessionEventTypes(id); !slices.Contains(got, "message_out:reminder") {
		t.Errorf("a due timeout before the expiry: events %v, want the reminder", got)
	}
}

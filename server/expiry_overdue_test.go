package server

import (
	"context"
	"slices"
	"strings"
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

// A contact's message that comes after its session's expiry, before the
// timer has fired it, does not resume the session: the session expires, as
// the timer would have expired it, once, and the message starts the
// channel's flow as any message no session waits for. So for a message
// alone, in a batch, on Twilio's SMS webhook, and for the sessions API's
// resume, which finds the session ended.
func TestMessageAfterExpiryStartsAnew(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.SessionExpiry = 30 * time.Second
		c.Examples = nil
	})
	ts.createFlow(overdueFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"echo"}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","default_flow":"echo","auth_token":"`+twilioTestToken+`"}`)
	base := ts.listen()

	first := func(path, body string) string {
		r := ts.must(200, "POST", path, body)
		if r["status"] != "waiting" {
			t.Fatalf("%s: %v", path, r)
		}
		return r["id"].(string)
	}
	alone := first("/v1/channels/web/messages", `{"from":"tel:+15550001","text":"hi"}`)
	batched := first("/v1/channels/web/messages", `{"from":"tel:+15550002","text":"hi"}`)
	apiID := ts.must(201, "POST", "/v1/sessions", `{"flow":"echo","contact":{"urn":"tel:+15550003"}}`)["id"].(string)
	if status, body := twilioPost(t, base, "/twilio/tw/sms", smsForm("SM1", "hi")); status != 200 || !strings.Contains(body, "say something") {
		t.Fatalf("twilio first message: %d %s", status, body)
	}
	twID := ""
	for _, e := range ts.must(200, "GET", "/v1/sessions?contact=tel:%2B15550002", nil)["sessions"].([]any) {
		if e := e.(map[string]any); e["channel"] == "tw" {
			twID = e["id"].(string)
		}
	}
	if twID == "" {
		t.Fatal("no session of the Twilio message")
	}

	// Within the expiry a message resumes, as ever.
	ts.clock.Advance(29 * time.Second)
	if r := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"tel:+15550001","text":"early","id":"e1"}`); !slices.Equal(texts(r), []string{"resumed: early"}) || r["id"] != alone {
		t.Fatalf("a message within the expiry: %v", r)
	}
	alone = first("/v1/channels/web/messages", `{"from":"tel:+15550001","text":"hi"}`)

	// Past the expiry, with no timer scan since.
	ts.clock.Advance(31 * time.Second)
	r := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"tel:+15550001","text":"late","id":"m1"}`)
	if r["id"] == alone || !slices.Equal(texts(r), []string{"say something"}) || r["status"] != "waiting" {
		t.Errorf("a message after the expiry: %v, want a new session of the channel's flow", r)
	}
	// Its retry is answered alike, without another turn.
	if again := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"tel:+15550001","text":"late","id":"m1"}`); again["id"] != r["id"] {
		t.Errorf("the message's retry: %v, want %v", again["id"], r["id"])
	}
	rs := ts.batchReplies("web", 1, `{"messages":[{"from":"tel:+15550002","text":"late"}]}`)
	if rs[0]["id"] == batched || !slices.Equal(texts(rs[0]), []string{"say something"}) {
		t.Errorf("a batched message after the expiry: %v, want a new session of the channel's flow", rs[0])
	}
	if status, body := twilioPost(t, base, "/twilio/tw/sms", smsForm("SM2", "late")); status != 200 || strings.Contains(body, "resumed") || !strings.Contains(body, "say something") {
		t.Errorf("a Twilio SMS after the expiry: %d %s, want the channel's flow anew", status, body)
	}
	res := ts.do("POST", "/v1/sessions/"+apiID+"/resume", `{"text":"late"}`)
	if e := res.errorOf(t); res.Status != 409 || e["code"] != CodeNotWaiting || !strings.Contains(e["message"].(string), "has ended (expired)") {
		t.Errorf("resume after the expiry: %d %s, want 409 not_waiting, ended (expired)", res.Status, res.Body)
	}

	// Each old session expired once, with no input, and no timer is left
	// to expire it again.
	if n, err := ts.srv.svc.scanTimers(context.Background()); err != nil || n != 0 {
		t.Errorf("timers due after the sessions expired: %d %v", n, err)
	}
	want := []string{"message_out:say something", "session_waiting", "session_ended:expired"}
	for _, id := range []string{alone, batched, apiID, twID} {
		s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
		if s["status"] != "expired" || s["results"] != nil && len(s["results"].(map[string]any)) > 0 {
			t.Errorf("session %s: %v, results %v, want expired without a result", id, s["status"], s["results"])
		}
		got := ts.sessionEventTypes(id)
		if id == apiID {
			got = slices.DeleteFunc(got, func(s string) bool { return s == "session_started" })
		}
		if len(got) > 0 && strings.HasPrefix(got[0], "message_in") {
			got = got[1:]
		}
		if !slices.Equal(got, want) {
			t.Errorf("session %s: events %v, want %v", id, got, want)
		}
	}
}

// A session waiting in a subflow whose expiry passed before the message
// came: the subflow expires, the caller takes its Expired exit and waits
// again, and the message is the answer to that wait.
func TestMessageAfterSubflowExpiry(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(`{"id":"child","name":"Child","expire_minutes":5,"widgets":[
 {"id":"cw","type":"wait_for_response","result":"Inner","exits":{"Next":"cdone"}},
 {"id":"cdone","type":"send_message","text":"child got @input"}]}`)
	ts.createFlow(`{"id":"parent","name":"Parent","expire_minutes":60,"widgets":[
 {"id":"sub","type":"subflow","flow":"child","exits":{"Complete":"done","Expired":"gone"}},
 {"id":"gone","type":"send_message","text":"the child expired","exits":{"Next":"pw"}},
 {"id":"pw","type":"wait_for_response","result":"Outer","exits":{"Next":"done"}},
 {"id":"done","type":"send_message","text":"parent got @input"}]}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"parent"}`)
	id := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"tel:+15550001","text":"hi"}`)["id"].(string)

	ts.clock.Advance(6 * time.Minute)
	r := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"tel:+15550001","text":"late"}`)
	if r["id"] != id || !slices.Equal(texts(r), []string{"parent got late"}) || r["status"] != "completed" {
		t.Errorf("a message after the subflow's expiry: %v, want the caller's wait answered", r)
	}
	got := ts.sessionEventTypes(id)
	if i := slices.Index(got, "message_out:the child expired"); i < 0 || slices.Index(got, "message_in:late") < i || slices.Contains(got, "message_out:child got late") {
		t.Errorf("events %v, want the subflow expired, then the caller's wait answered", got)
	}
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

// Keys pressed on a call after its session's expiry, before the timer has
// fired it, are not taken: the session expires, and the request is
// answered as a call whose session has ended.
func TestCallDigitsAfterExpiry(t *testing.T) {
	ts, base := twilioCallServer(t, "menu", `{"id":"menu","name":"Menu","kind":"voice","expire_minutes":1,"widgets":[
 {"id":"menu","type":"gather_digits","prompt":"Press a key.","num_digits":1,"timeout":600,"exits":{"Next":"got","No Input":"got","No Match":"got"}},
 {"id":"got","type":"say","text":"You pressed @input.","exits":{"Next":""}}]}`)
	if _, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1")); !strings.Contains(body, "Press a key.") {
		t.Fatalf("the call's first request answered %s", body)
	}
	id := callSessionID("tw", "CA1")
	ts.clock.Advance(2 * time.Minute)
	status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "Digits", "1"))
	if status != 200 || strings.Contains(body, "You pressed") || !strings.Contains(body, "<Hangup/>") {
		t.Errorf("keys pressed after the expiry: %d %s, want the call hung up", status, body)
	}
	if got := ts.sessionEventTypes(id); slices.Contains(got, "message_in:1") || got[len(got)-1] != "session_ended:expired" {
		t.Errorf("events %v, want the session expired without the keys", got)
	}
}

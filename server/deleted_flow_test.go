package server

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/widgets"
)

// Flows of the deleted-flow tests: parent enters child3, which waits with a
// timeout; the channel web answers with greet.
const (
	deletedChildFlow  = `{"id":"child3","widgets":[{"id":"w","type":"wait_for_response","timeout":60,"exits":{"Next":"","Timeout":""}}]}`
	deletedParentFlow = `{"id":"parent","widgets":[
 {"id":"hi","type":"send_message","text":"In the parent","exits":{"Next":"sub"}},
 {"id":"sub","type":"subflow","flow":"child3","exits":{"Complete":"done","Expired":"done"}},
 {"id":"done","type":"send_message","text":"Back in the parent"}]}`
)

// newDeletedChildServer starts parent for urn on channel web (of type typ)
// and deletes child3, the subflow its session waits in; it returns the
// session's id.
func newDeletedChildServer(t *testing.T, typ, urn string) (*testServer, string) {
	t.Helper()
	ts := newContactServer(t)
	ts.createFlow(deletedChildFlow)
	ts.createFlow(deletedParentFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"`+typ+`","default_flow":"greet"}`)
	id := ts.must(201, "POST", "/v1/sessions", `{"flow":"parent","channel":"tw","contact":{"urn":"`+urn+`"}}`)["id"].(string)
	ts.must(204, "DELETE", "/v1/flows/child3", nil)
	return ts, id
}

// checkFailedOnSubflow checks that session id ended failed, with an error
// event naming the deleted subflow and a session_ended.
func (ts *testServer) checkFailedOnSubflow(t *testing.T, id string) {
	t.Helper()
	if s := ts.must(200, "GET", "/v1/sessions/"+id, nil); s["status"] != "failed" {
		t.Errorf("session %s is %v, want failed", id, s["status"])
	}
	evs := ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any)
	if len(evs) < 2 {
		t.Fatalf("events %v", evs)
	}
	errEv, ended := evs[len(evs)-2].(map[string]any), evs[len(evs)-1].(map[string]any)
	if errEv["type"] != "error" || !strings.Contains(errEv["message"].(string), `subflow "child3" revision 1 was deleted`) {
		t.Errorf("no error event naming the deleted subflow: %v", errEv)
	}
	if ended["type"] != "session_ended" || ended["session_status"] != "failed" {
		t.Errorf("last event %v, want session_ended failed", ended)
	}
}

// A session waiting in a subflow that was deleted fails at its next
// message, which is answered (not 404); the contact's next message starts
// the channel's flow.
func TestMessageToSessionInDeletedSubflow(t *testing.T) {
	ts, id := newDeletedChildServer(t, "api", "tel:+4001")
	r := ts.must(200, "POST", "/v1/channels/tw/messages", `{"from":"+4001","text":"yes"}`)
	if r["id"] != id || r["status"] != "failed" || len(texts(r)) != 0 {
		t.Errorf("message to the session: %v, want it failed", r)
	}
	ts.checkFailedOnSubflow(t, id)
	r = ts.must(200, "POST", "/v1/channels/tw/messages", `{"from":"+4001","text":"hi"}`)
	if r["id"] == id || r["flow"] != "greet" || !slices.Equal(texts(r), []string{"Order number?"}) {
		t.Errorf("next message: %v, want the channel's default flow", r)
	}
}

// The same through a batch and through Twilio's SMS webhook.
func TestBatchAndTwilioToSessionInDeletedSubflow(t *testing.T) {
	ts, id := newDeletedChildServer(t, "api", "tel:+4002")
	r := ts.must(200, "POST", "/v1/channels/tw/messages/batch", `{"messages":[{"from":"+4002","text":"yes"},{"from":"+4002","text":"hi"}]}`)
	replies := r["replies"].([]any)
	first, second := replies[0].(map[string]any), replies[1].(map[string]any)
	if first["id"] != id || first["status"] != "failed" || second["flow"] != "greet" {
		t.Errorf("batch: %v, want the session failed, then the default flow", replies)
	}
	ts.checkFailedOnSubflow(t, id)

	ts, id = newDeletedChildServer(t, "twilio", "tel:+4003")
	resp := twilioForm(ts, "/twilio/tw/sms", url.Values{"From": {"+4003"}, "Body": {"yes"}, "MessageSid": {"SM1"}}, "")
	if resp.Status != 200 {
		t.Errorf("Twilio message to the session: %d %s", resp.Status, resp.Body)
	}
	ts.checkFailedOnSubflow(t, id)
	resp = twilioForm(ts, "/twilio/tw/sms", url.Values{"From": {"+4003"}, "Body": {"hi"}, "MessageSid": {"SM2"}}, "")
	if resp.Status != 200 || !strings.Contains(string(resp.Body), "Order number?") {
		t.Errorf("Twilio's next message: %d %s, want the default flow", resp.Status, resp.Body)
	}
}

// A resume through the API, and the wait's timer, fail it too.
func TestResumeAndTimerOfSessionInDeletedSubflow(t *testing.T) {
	ts, id := newDeletedChildServer(t, "api", "tel:+4004")
	if r := ts.must(200, "POST", "/v1/sessions/"+id+"/resume", `{"timeout":true}`); r["status"] != "failed" {
		t.Errorf("resume: %v, want failed", r)
	}
	ts.checkFailedOnSubflow(t, id)

	ts, id = newDeletedChildServer(t, "api", "tel:+4005")
	ts.clock.Advance(61 * time.Second)
	if n, err := ts.srv.svc.scanTimers(context.Background()); err != nil || n != 1 {
		t.Fatalf("scanTimers fired %d: %v", n, err)
	}
	ts.checkFailedOnSubflow(t, id)
}

// A message that fails its session on a deleted flow (its own, or the
// subflow it waits in) is logged and recorded as processed: sent again with
// its id, over the API or as Twilio's MessageSid, it gets the first answer
// and starts nothing.
func TestMessageFailingOnDeletedFlowIsDeduplicated(t *testing.T) {
	for _, deleted := range []string{"parent", "child3"} {
		for _, twilio := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/twilio=%v", deleted, twilio), func(t *testing.T) {
				ts, id := newDeletedChildServer(t, "twilio", "tel:+4006")
				if deleted == "parent" {
					ts.must(204, "DELETE", "/v1/flows/parent", nil)
				}
				send := func() response {
					if twilio {
						return twilioForm(ts, "/twilio/tw/sms", url.Values{"From": {"+4006"}, "Body": {"yes"}, "MessageSid": {"SM1"}}, "")
					}
					return ts.do("POST", "/v1/channels/tw/messages", `{"from":"+4006","text":"yes","id":"dup-1"}`)
				}
				first, again := send(), send()
				if first.Status != 200 || ts.must(200, "GET", "/v1/sessions/"+id, nil)["status"] != "failed" {
					t.Fatalf("first: %d %s, want the session failed", first.Status, first.Body)
				}
				if !twilio && first.JSON(t)["id"] != id {
					t.Errorf("first: %s, want session %s", first.Body, id)
				}
				if again.Status != 200 || string(again.Body) != string(first.Body) {
					t.Errorf("the same message again: %d %s, want the first answer %s", again.Status, again.Body, first.Body)
				}
				if list := ts.must(200, "GET", "/v1/sessions?contact=tel:%2B4006", nil)["sessions"].([]any); len(list) != 1 {
					t.Errorf("%d sessions, want only the failed one: %v", len(list), list)
				}
				evs := ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any)
				if in := evs[len(evs)-3].(map[string]any); in["type"] != "message_in" || in["text"] != "yes" {
					t.Errorf("event before the error: %v, want the message_in of the message", in)
				}
			})
		}
	}
}

// A session whose subflow is gone fails as one whose own flow is gone, with
// an error event worded alike: "subflow ... was deleted" for a deleted one,
// "stored subflow ... does not load" for one that no longer loads (its
// widget type is gone), whether a message or the subflow's expiry comes
// first.
func TestSubflowGoneIsWordedAsTheFlow(t *testing.T) {
	const (
		child = `{"id":"child","expire_minutes":5,"widgets":[
 {"id":"w","type":"wait_for_response","result":"A","exits":{"Next":"log"}},
 {"id":"log","type":"record","action":"answered","fields":{"a":"@input"}}]}`
		caller = `{"id":"caller","widgets":[{"id":"sub","type":"subflow","flow":"child","exits":{"Complete":"","Expired":""}}]}`
	)
	for _, gone := range []string{"deleted", "does not load"} {
		for _, by := range []string{"message", "expiry"} {
			t.Run(gone+"/"+by, func(t *testing.T) {
				dir, clk := t.TempDir(), newClock()
				ts := newTestServer(t, func(c *Config) { c.DataDir, c.Now = dir, clk.Now })
				ts.createFlow(child)
				ts.createFlow(caller)
				ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"caller"}`)
				id := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+1908","text":"hi"}`)["id"].(string)
				want := `subflow "child" revision 1 was deleted: `
				if gone == "deleted" {
					ts.must(204, "DELETE", "/v1/flows/child", nil)
				} else {
					// The server starts again without the record widget.
					if err := ts.srv.Shutdown(context.Background()); err != nil {
						t.Fatal(err)
					}
					var names []string
					for _, n := range widgets.Registered().Names() {
						if n != widgets.TypeRecord {
							names = append(names, n)
						}
					}
					ts = newTestServer(t, func(c *Config) {
						c.DataDir, c.Now = dir, clk.Now
						c.Registry = widgets.Registered().Subset(names...)
					})
					want = `stored subflow "child" revision 1 does not load: `
				}
				if by == "message" {
					if r := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+1908","text":"yes"}`); r["id"] != id || r["status"] != "failed" {
						t.Errorf("message to the session: %v, want it failed", r)
					}
				} else {
					clk.Advance(6 * time.Minute)
					if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				if s := ts.must(200, "GET", "/v1/sessions/"+id, nil); s["status"] != "failed" {
					t.Errorf("session %v, want failed", s["status"])
				}
				evs := ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any)
				var errs []string
				for _, e := range evs {
					if e := e.(map[string]any); e["type"] == "error" {
						errs = append(errs, e["message"].(string))
					}
				}
				last := evs[len(evs)-1].(map[string]any)
				if len(errs) != 1 || !strings.HasPrefix(errs[0], want) || last["type"] != "session_ended" || last["session_status"] != "failed" {
					t.Errorf("errors %q, last event %v: want one error starting %q, then session_ended failed", errs, last, want)
				}
			})
		}
	}
}

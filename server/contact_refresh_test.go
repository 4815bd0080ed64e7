package server

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// Flows of the contact tests: greet waits, then says who the contact is
// now; show says it at once; setA and setB each wait, then set a field of
// their own.
const (
	contactGreetFlow = `{"id":"greet","widgets":[
 {"id":"ask","type":"send_message","text":"Order number?","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","timeout":60,"exits":{"Next":"hello","Timeout":"late"}},
 {"id":"hello","type":"send_message","text":"Hello @contact.name (@contact.fields.tier)"},
 {"id":"late","type":"send_message","text":"Still there, @contact.name (@contact.fields.tier)?"}]}`
	contactShowFlow = `{"id":"show","widgets":[
 {"id":"m","type":"send_message","text":"name=@contact.name tier=@contact.fields.tier a=@contact.fields.a b=@contact.fields.b lang=@contact.language"}]}`
	contactSetAFlow = `{"id":"seta","widgets":[
 {"id":"wait","type":"wait_for_response","exits":{"Next":"set"}},
 {"id":"set","type":"set_variable","scope":"user","name":"a","value":"1","exits":{"Next":"m"}},
 {"id":"m","type":"send_message","text":"a set, b=@contact.fields.b"}]}`
	contactSetBFlow = `{"id":"setb","widgets":[
 {"id":"wait","type":"wait_for_response","exits":{"Next":"set"}},
 {"id":"set","type":"set_variable","scope":"user","name":"b","value":"2","exits":{"Next":"m"}},
 {"id":"m","type":"send_message","text":"b set, a=@contact.fields.a"}]}`
)

func newContactServer(t *testing.T) *testServer {
	t.Helper()
	ts := newTestServer(t, nil)
	for _, f := range []string{contactGreetFlow, contactShowFlow, contactSetAFlow, contactSetBFlow} {
		ts.createFlow(f)
	}
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"greet"}`)
	return ts
}

// showContact starts the show flow for urn and returns what it says of the
// stored contact.
func (ts *testServer) showContact(urn string) string {
	ts.t.Helper()
	r := ts.must(201, "POST", "/v1/sessions", `{"flow":"show","contact":{"urn":"`+urn+`"}}`)
	return texts(r)[0]
}

// A session that waits while another session of its contact stores a name
// and a field sees them on its next turn, and its turn keeps them stored.
func TestResumedTurnSeesStoredContact(t *testing.T) {
	ts := newContactServer(t)
	ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+1901","text":"hi"}`)
	ts.must(201, "POST", "/v1/sessions", `{"flow":"show","contact":{"urn":"tel:+1901","name":"Ada","language":"fra","fields":{"tier":"gold"}}}`)
	r := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+1901","text":"CU001"}`)
	if got := texts(r); !slices.Equal(got, []string{"Hello Ada (gold)"}) {
		t.Errorf("the waiting session's next turn said %q, want the contact as stored now", got)
	}
	if got, want := ts.showContact("tel:+1901"), "name=Ada tier=gold a= b= lang=fra"; got != want {
		t.Errorf("after the older session's turn the contact is %q, want %q", got, want)
	}
}

// A wait's timeout sees the contact as stored when it fires, and keeps it.
func TestTimerTurnSeesStoredContact(t *testing.T) {
	ts := newContactServer(t)
	ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+1902","text":"hi"}`)
	ts.must(201, "POST", "/v1/sessions", `{"flow":"show","contact":{"urn":"tel:+1902","name":"Ada","fields":{"tier":"gold"}}}`)
	ts.clock.Advance(61 * time.Second)
	if n, err := ts.srv.svc.scanTimers(context.Background()); err != nil || n != 1 {
		t.Fatalf("scanTimers fired %d: %v", n, err)
	}
	s := ts.must(200, "GET", "/v1/sessions?contact=tel:%2B1902&flow=greet", nil)["sessions"].([]any)[0].(map[string]any)
	ev := ts.must(200, "GET", "/v1/sessions/"+s["id"].(string)+"/events", nil)["events"].([]any)
	var sent []string
	for _, e := range ev {
		if e := e.(map[string]any); e["type"] == "message_out" {
			sent = append(sent, e["text"].(string))
		}
	}
	if want := []string{"Order number?", "Still there, Ada (gold)?"}; !slices.Equal(sent, want) {
		t.Errorf("the timer's turn sent %q, want %q", sent, want)
	}
	if got, want := ts.showContact("tel:+1902"), "name=Ada tier=gold a= b= lang="; got != want {
		t.Errorf("after the timer's turn the contact is %q, want %q", got, want)
	}
}

// Ending a session (interrupted) does not put back the contact it started
// with.
func TestInterruptKeepsStoredContact(t *testing.T) {
	ts := newContactServer(t)
	id := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+1903","text":"hi"}`)["id"].(string)
	ts.must(201, "POST", "/v1/sessions", `{"flow":"show","contact":{"urn":"tel:+1903","name":"Ada","fields":{"tier":"gold"}}}`)
	ts.must(200, "POST", "/v1/sessions/"+id+"/interrupt", nil)
	if got, want := ts.showContact("tel:+1903"), "name=Ada tier=gold a= b= lang="; got != want {
		t.Errorf("after the interrupt the contact is %q, want %q", got, want)
	}
}

// Two sessions of one contact on two channels each set a field: each turn
// sees the other's, and both stay stored.
func TestSessionsOnTwoChannelsKeepEachOthersFields(t *testing.T) {
	ts := newContactServer(t)
	ts.must(201, "POST", "/v1/channels", `{"id":"cha","default_flow":"seta"}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"chb","default_flow":"setb"}`)
	ts.must(200, "POST", "/v1/channels/cha/messages", `{"from":"+1904","text":"hi"}`)
	ts.must(200, "POST", "/v1/channels/chb/messages", `{"from":"+1904","text":"hi"}`)
	if got := texts(ts.must(200, "POST", "/v1/channels/cha/messages", `{"from":"+1904","text":"go"}`)); !slices.Equal(got, []string{"a set, b="}) {
		t.Errorf("channel a: %q", got)
	}
	if got := texts(ts.must(200, "POST", "/v1/channels/chb/messages", `{"from":"+1904","text":"go"}`)); !slices.Equal(got, []string{"b set, a=1"}) {
		t.Errorf("channel b: %q, want the field channel a's session set", got)
	}
	if got, want := ts.showContact("tel:+1904"), "name= tier= a=1 b=2 lang="; got != want {
		t.Errorf("the contact is %q, want %q", got, want)
	}
}

// A subflow that expires hands back to its caller, which runs on with the
// contact as stored when the expiry fires.
func TestSubflowExpirySeesStoredContact(t *testing.T) {
	ts := newContactServer(t)
	ts.createFlow(`{"id":"child","expire_minutes":5,"widgets":[{"id":"w","type":"wait_for_response"}]}`)
	ts.createFlow(`{"id":"parent","widgets":[
 {"id":"sub","type":"subflow","flow":"child","exits":{"Complete":"done","Expired":"gone"}},
 {"id":"done","type":"send_message","text":"done"},
 {"id":"gone","type":"set_variable","scope":"user","name":"a","value":"expired","exits":{"Next":"m"}},
 {"id":"m","type":"send_message","text":"Bye @contact.name (@contact.fields.tier)"}]}`)
	id := ts.must(201, "POST", "/v1/sessions", `{"flow":"parent","contact":{"urn":"tel:+1905"}}`)["id"].(string)
	ts.must(201, "POST", "/v1/sessions", `{"flow":"show","contact":{"urn":"tel:+1905","name":"Ada","fields":{"tier":"gold"}}}`)
	ts.clock.Advance(6 * time.Minute)
	if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sent []string
	for _, e := range ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any) {
		if e := e.(map[string]any); e["type"] == "message_out" {
			sent = append(sent, e["text"].(string))
		}
	}
	if want := []string{"Bye Ada (gold)"}; !slices.Equal(sent, want) {
		t.Errorf("after the subflow expired the parent sent %q, want %q", sent, want)
	}
	if got, want := ts.showContact("tel:+1905"), "name=Ada tier=gold a=expired b= lang="; got != want {
		t.Errorf("the contact is %q, want %q", got, want)
	}
}

// A session whose flow was deleted fails at its next message with the
// contact as stored then, as a turn that runs does: its answer and
// session.finished do not show the copy it started with.
func TestSessionFailingOnDeletedFlowShowsStoredContact(t *testing.T) {
	ts := newContactServer(t)
	ts.createFlow(`{"id":"gone","widgets":[{"id":"w","type":"wait_for_response"}]}`)
	id := ts.must(201, "POST", "/v1/sessions", `{"flow":"gone","channel":"web","contact":{"urn":"tel:+1906","name":"Old"}}`)["id"].(string)
	ts.must(201, "POST", "/v1/sessions", `{"flow":"show","contact":{"urn":"tel:+1906","name":"Zed","fields":{"tier":"gold"}}}`)
	ts.must(204, "DELETE", "/v1/flows/gone", nil)
	ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+1906","text":"answer"}`)
	s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	c, _ := s["contact"].(map[string]any)
	if s["status"] != "failed" || c["name"] != "Zed" {
		t.Errorf("session %v with contact %v, want failed with the contact as stored (Zed)", s["status"], c)
	}
}

// A subflow that expires after the flow that called it was deleted fails
// the session saying that flow was deleted, as its next message would.
func TestSubflowExpiryAfterCallerDeleted(t *testing.T) {
	ts := newContactServer(t)
	ts.createFlow(`{"id":"child","expire_minutes":5,"widgets":[{"id":"w","type":"wait_for_response"}]}`)
	ts.createFlow(`{"id":"caller","widgets":[{"id":"sub","type":"subflow","flow":"child","exits":{"Complete":"","Expired":""}}]}`)
	id := ts.must(201, "POST", "/v1/sessions", `{"flow":"caller","contact":{"urn":"tel:+1907"}}`)["id"].(string)
	ts.must(204, "DELETE", "/v1/flows/caller", nil)
	ts.clock.Advance(6 * time.Minute)
	if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
		t.Fatal(err)
	}
	var errs []string
	for _, e := range ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any) {
		if e := e.(map[string]any); e["type"] == "error" {
			errs = append(errs, e["message"].(string))
		}
	}
	if len(errs) != 1 || !strings.HasPrefix(errs[0], `flow "caller" revision 1 was deleted`) {
		t.Errorf("errors %q, want one saying the calling flow was deleted", errs)
	}
	if s := ts.must(200, "GET", "/v1/sessions/"+id, nil); s["status"] != "failed" {
		t.Errorf("status %v, want failed", s["status"])
	}
}

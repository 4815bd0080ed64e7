package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/examples"
	"github.com/parleyhq/parley/store"
)

func simServer(t *testing.T) *Server {
	t.Helper()
	s, err := New(Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Examples: examples.FS,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func call(t *testing.T, s *Server, method, path string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req := httptest.NewRequest(method, path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	toLoopback(req)
	resp, err := s.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestSimulatorSessions(t *testing.T) {
	s := simServer(t)
	doc, err := os.ReadFile("../examples/order-status/flow.json")
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(doc, []byte("in a jiffy!"), []byte("right away!"), 1)
	shipped := map[string]any{"status": 200, "body": map[string]any{"status": "Shipped", "name": "Ben Haggerty", "description": "Vogue White Wall x 4", "ship_date": "October 9th", "delivery_date": "April 3rd"}}
	contact := map[string]any{"urn": "tel:+12065551212", "name": "Ben"}

	tests := []struct {
		name       string
		body       map[string]any
		wantStatus int
		wantFlow   string
		wantField  string
	}{
		{"unchanged definition runs the stored flow", map[string]any{"definition": json.RawMessage(doc), "contact": contact}, 201, "order-status", ""},
		{"edited definition runs as a draft", map[string]any{"definition": json.RawMessage(edited), "contact": contact}, 201, "sim.order-status", ""},
		{"the same edit again reuses the draft", map[string]any{"definition": json.RawMessage(edited), "contact": contact}, 201, "sim.order-status", ""},
		{"stored flow by id", map[string]any{"flow": "order-status", "contact": contact, "mocks": map[string]any{"lookup": shipped}}, 201, "order-status", ""},
		{"mock of an unknown widget", map[string]any{"flow": "order-status", "mocks": map[string]any{"nope": shipped}}, 422, "", "mocks.nope"},
		{"mock of a widget that is no webhook", map[string]any{"flow": "order-status", "mocks": map[string]any{"welcome": shipped}}, 422, "", "mocks.welcome"},
		{"mock with no HTTP status", map[string]any{"flow": "order-status", "mocks": map[string]any{"lookup": map[string]any{"body": "x"}}}, 400, "", "mocks.lookup.status"},
		// A mistake inside a mock is named from the body's top.
		{"mock field in another case", map[string]any{"flow": "order-status", "mocks": map[string]any{"lookup": map[string]any{"Status": 200}}}, 400, "", "mocks.lookup.Status"},
		{"mock that is no object", map[string]any{"flow": "order-status", "mocks": map[string]any{"lookup": []any{}}}, 400, "", "mocks.lookup"},
		{"invalid definition", map[string]any{"definition": json.RawMessage(bytes.Replace(doc, []byte(`"Next": "lookup"`), []byte(`"Next": "nowhere"`), 1))}, 422, "", `widgets[1].exits.Next`},
		{"neither flow nor definition", map[string]any{"contact": contact}, 400, "", "flow"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, out := call(t, s, "POST", "/v1/simulator/sessions", tc.body)
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %v", status, tc.wantStatus, out)
			}
			if tc.wantFlow != "" && out["flow"] != tc.wantFlow {
				t.Errorf("flow = %v, want %s", out["flow"], tc.wantFlow)
			}
			if tc.wantField != "" {
				e, _ := out["error"].(map[string]any)
				if e["field"] != tc.wantField {
					t.Errorf("error field = %v, want %s: %v", e["field"], tc.wantField, e)
				}
			}
		})
	}

	// A mocked session: the webhook is answered by the mock, the contact is
	// kept apart from the live one, the live flow gains no revision.
	_, out := call(t, s, "POST", "/v1/simulator/sessions", map[string]any{"flow": "order-status", "contact": contact, "mocks": map[string]any{"lookup": shipped}})
	id, _ := out["id"].(string)
	status, out := call(t, s, "POST", "/v1/sessions/"+id+"/resume", map[string]any{"text": "CU001"})
	if status != 200 {
		t.Fatalf("resume: %d %v", status, out)
	}
	if msgs, _ := json.Marshal(out["messages"]); !strings.Contains(string(msgs), "Great news Ben Haggerty! We shipped your order for Vogue White Wall x 4") {
		t.Errorf("reply after CU001 does not come from the mock: %s", msgs)
	}
	sess, err := s.store.LoadSession(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Environment != "sandbox" || sess.Contact.URN != "tel:+12065551212" || !sess.SandboxContact {
		t.Errorf("session env %q contact %q (test contact %v), want sandbox and the test contact tel:+12065551212", sess.Environment, sess.Contact.URN, sess.SandboxContact)
	}
	if _, err := s.store.Contact(context.Background(), "tel:+12065551212"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("live contact tel:+12065551212 was written by a simulation (err %v)", err)
	}
	if _, err := s.store.Contact(context.Background(), "sim:tel:+12065551212"); err != nil {
		t.Errorf("test contact not stored under sim:tel:+12065551212: %v", err)
	}
	if revs, err := s.store.FlowRevisions(context.Background(), "order-status"); err != nil || len(revs) != 1 {
		t.Errorf("live flow order-status has %d revisions (err %v), want 1", len(revs), err)
	}
	if revs, err := s.store.FlowRevisions(context.Background(), "sim.order-status"); err != nil || len(revs) != 1 {
		t.Errorf("draft sim.order-status has %d revisions (err %v), want 1: an unchanged rerun adds none", len(revs), err)
	}

	// A live session cannot be hung up through the simulator.
	_, live := call(t, s, "POST", "/v1/sessions", map[string]any{"flow": "ivr-menu", "call": map[string]any{"from": "+15550001111"}})
	if status, out := call(t, s, "POST", "/v1/simulator/sessions/"+live["id"].(string)+"/hangup", nil); status != 409 {
		t.Errorf("hangup of a live session: %d %v, want 409", status, out)
	}
	_, ivr := call(t, s, "POST", "/v1/simulator/sessions", map[string]any{"flow": "ivr-menu", "call": map[string]any{"from": "+15550001111"}})
	if status, out := call(t, s, "POST", "/v1/simulator/sessions/"+ivr["id"].(string)+"/hangup", nil); status != 200 || out["status"] != "interrupted" {
		t.Errorf("hangup of a sandbox call: %d %v, want 200 interrupted", status, out)
	}
}

func TestSimulatorDraftOfALongID(t *testing.T) {
	s := simServer(t)
	for _, n := range []int{124, 125, 128} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			id := strings.Repeat("f", n-3) + fmt.Sprintf("%03d", n)
			doc := fmt.Sprintf(`{"id": %q, "name": "Long", "widgets": [{"id": "hi", "type": "send_message", "text": "Hi", "exits": {"Next": "end"}}, {"id": "end", "type": "end"}]}`, id)
			var draft string
			for run := 1; run <= 2; run++ {
				status, out := call(t, s, "POST", "/v1/simulator/sessions", map[string]any{"definition": json.RawMessage(doc)})
				if status != 201 {
					t.Fatalf("run %d: %d %v", run, status, out)
				}
				flow, _ := out["flow"].(string)
				if !strings.HasPrefix(flow, DraftPrefix) || len(flow) > 128 || !idPattern.MatchString(flow) {
					t.Fatalf("run %d: draft id %q (%d characters), want a valid flow id starting with %q", run, flow, len(flow), DraftPrefix)
				}
				if run == 2 && flow != draft {
					t.Errorf("the same definition ran as %q, then as %q", draft, flow)
				}
				draft = flow
			}
			// The draft itself, as the page lists it, runs as it is.
			status, out := call(t, s, "GET", "/v1/flows/"+draft, nil)
			if status != 200 {
				t.Fatalf("GET draft: %d %v", status, out)
			}
			def, _ := json.Marshal(out["definition"])
			status, out = call(t, s, "POST", "/v1/simulator/sessions", map[string]any{"definition": json.RawMessage(def)})
			if status != 201 || out["flow"] != draft {
				t.Errorf("running the stored draft: %d %v, want 201 on %s", status, out, draft)
			}
			if revs, err := s.store.FlowRevisions(context.Background(), draft); err != nil || len(revs) != 1 {
				t.Errorf("draft %s has %d revisions (err %v), want 1", draft, len(revs), err)
			}
		})
	}
	// Two long ids with the same start have drafts of their own.
	a, b := strings.Repeat("x", 128), strings.Repeat("x", 127)+"y"
	if draftID(a) == draftID(b) {
		t.Errorf("ids %q and %q share the draft %q", a, b, draftID(a))
	}
}

// TestSimulatorStartsWhatTheCheckAccepts: a definition without an id or a
// name, which the page's live check finds valid, starts as the draft of
// "untitled", as POST /v1/flows stores such a flow under an id of its own.
func TestSimulatorStartsWhatTheCheckAccepts(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, doc := range []string{
		`{"widgets":[{"id":"a","type":"send_message","text":"hi"}]}`,
		`{"id":"","widgets":[{"id":"a","type":"send_message","text":"hi"}]}`,
		`{"id":null,"widgets":[{"id":"a","type":"send_message","text":"hi"}]}`,
	} {
		check := ts.must(200, "POST", "/v1/simulator/validate", doc)
		if check["valid"] != true {
			t.Fatalf("%s: the live check says %v", doc, check)
		}
		r := ts.do("POST", "/v1/simulator/sessions", map[string]any{"definition": json.RawMessage(doc)})
		if r.Status != 201 {
			t.Fatalf("%s: valid by the check, start answers %d %s", doc, r.Status, r.Body)
		}
		out := r.JSON(t)
		if out["flow"] != "sim.untitled" || strings.Join(texts(out), "|") != "hi" {
			t.Errorf("%s: started %v saying %q, want sim.untitled saying hi", doc, out["flow"], texts(out))
		}
	}
	// Both still refuse what is wrong.
	bad := `{"widgets":[{"id":"a","type":"send_message"}]}`
	if check := ts.must(200, "POST", "/v1/simulator/validate", bad); check["valid"] != false {
		t.Errorf("the live check accepts %s: %v", bad, check)
	}
	if r := ts.do("POST", "/v1/simulator/sessions", map[string]any{"definition": json.RawMessage(bad)}); r.Status != 422 {
		t.Errorf("start of %s: %d %s, want 422", bad, r.Status, r.Body)
	}
}

// Hang up in the simulator at a record_voice step ends the call as a
// telephony side's report of its end does: the session keeps waiting
// for the recording --call-timeout-grace longer, $call.state completed; a
// recording sent then is taken and the flow goes on from it (no one
// hears its prompts), then the session ends as interrupted. A timeout sent instead (nothing recorded)
// ends it as interrupted without a result.
func TestSimulatorHangupWhileRecording(t *testing.T) {
	ts := newTestServer(t, nil)
	const flow = `{"id":"vm","name":"Voicemail","kind":"voice","widgets":[
 {"id":"ask","type":"record_voice","prompt":"Leave your message after the beep.","result":"Message","exits":{"Recording":"thanks","No Input":"bye"}},
 {"id":"thanks","type":"say","text":"Got @flow.message","exits":{"Next":"again"}},
 {"id":"again","type":"gather_digits","prompt":"Press 1","exits":{"Next":"bye"}},
 {"id":"bye","type":"hangup"}]}`
	start := func() string {
		r := ts.must(201, "POST", "/v1/simulator/sessions", `{"definition":`+flow+`,"call":{"from":"+15550001111"}}`)
		return r["id"].(string)
	}
	const rec = "https://media.example.com/r1.wav"

	id := start()
	r := ts.must(200, "POST", "/v1/simulator/sessions/"+id+"/hangup", nil)
	w, _ := r["waiting_for"].(map[string]any)
	if r["status"] != "waiting" || w["kind"] != "recording" {
		t.Fatalf("hang up while recording answered %v, want the recording still waited for", r)
	}
	if want := ts.clock.Now().Add(15 * time.Second).Format(time.RFC3339Nano); w["timeout_at"] != want {
		t.Errorf("the recording waited for until %v, want %s (--call-timeout-grace)", w["timeout_at"], want)
	}
	s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	if st := s["variables"].(map[string]any)["call"].(map[string]any)["state"]; st != "completed" {
		t.Errorf("$call.state %v after hang up, want completed", st)
	}
	// Hang up again changes nothing.
	if r := ts.must(200, "POST", "/v1/simulator/sessions/"+id+"/hangup", nil); r["status"] != "waiting" {
		t.Errorf("hang up again answered %v", r)
	}
	r = ts.must(200, "POST", "/v1/sessions/"+id+"/resume", `{"recording_url":"`+rec+`","recording_duration":4}`)
	if r["status"] != "interrupted" {
		t.Errorf("the recording after hang up answered %v, want the flow on from it, then interrupted", r)
	}
	s = ts.must(200, "GET", "/v1/sessions/"+id, nil)
	if m, _ := s["variables"].(map[string]any)["flow"].(map[string]any)["message"].(map[string]any); m["value"] != rec {
		t.Errorf("@flow.message %v, want the recording", m)
	}
	if path := fmt.Sprint(s["path"]); !strings.Contains(path, "widget:thanks") {
		t.Errorf("path %s, want the flow on from the recording", path)
	}

	id = start()
	ts.must(200, "POST", "/v1/simulator/sessions/"+id+"/hangup", nil)
	if r := ts.must(200, "POST", "/v1/sessions/"+id+"/resume", `{"timeout":true}`); r["status"] != "interrupted" {
		t.Errorf("the timeout after hang up answered %v, want interrupted", r)
	}
}

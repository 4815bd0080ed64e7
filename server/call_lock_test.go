package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// callLockUsers counts the requests holding or waiting for the lock of the
// call whose session is id.
func (ts *testServer) callLockUsers(id string) int {
	sh, key := ts.srv.svc.calls.shard("", id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if m := sh.held[key]; m != nil {
		return m.users
	}
	return 0
}

// postJSON posts body to base+path and returns the status and the decoded
// answer.
func postJSON(t *testing.T, base, path, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Errorf("POST %s: %v", path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Errorf("POST %s: %d %s", path, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

type jsonAnswer struct {
	status int
	body   map[string]any
}

// Input sent on the calls API while the call's first turn still runs (a
// slow webhook) waits for that turn and is then applied: a hang-up
// interrupts the session, digits answer its menu. Before, it was a 404 and
// was lost: the session went on to time out and complete.
func TestCallInputDuringFirstTurn(t *testing.T) {
	for _, tc := range []struct {
		name, input, status, prompt string
	}{
		{"hang-up", `{"state":"completed"}`, "interrupted", ""},
		{"digits", `{"digits":"1"}`, "completed", "Goodbye."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hook, _, called, release := blockingHook(t)
			ts, base := twilioCallServer(t, "slow-call", slowCallFlow(hook))
			ts.must(201, "POST", "/v1/channels", `{"id":"phone","voice_flow":"slow-call"}`)
			started := make(chan jsonAnswer, 1)
			go func() {
				st, b := postJSON(t, base, "/v1/channels/phone/calls", `{"call_id":"C50","from":"+15550750"}`)
				started <- jsonAnswer{st, b}
			}()
			select {
			case <-called:
			case a := <-started:
				t.Fatalf("the call's start answered before its webhook was called: %d %v", a.status, a.body)
			}
			input := make(chan jsonAnswer, 1)
			go func() {
				st, b := postJSON(t, base, "/v1/channels/phone/calls/C50", tc.input)
				input <- jsonAnswer{st, b}
			}()
			id := callSessionID("phone", "C50")
			for ts.callLockUsers(id) < 2 && len(input) == 0 {
				time.Sleep(time.Millisecond)
			}
			close(release)
			if a := <-started; a.status != 201 || a.body["status"] != "waiting" {
				t.Fatalf("the call's start: %d %v", a.status, a.body)
			}
			a := <-input
			if a.status != 200 || a.body["status"] != tc.status {
				t.Fatalf("the input during the first turn: %d %v, want 200 and %s", a.status, a.body, tc.status)
			}
			if tc.prompt != "" && !strings.Contains(strings.Join(texts(a.body), "|"), tc.prompt) {
				t.Errorf("the input's prompts %v, want %q", a.body["prompts"], tc.prompt)
			}
			for range 3 {
				ts.clock.Advance(time.Hour)
				if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if s := ts.must(200, "GET", "/v1/sessions/"+id, nil); s["status"] != tc.status {
				t.Errorf("the session hours later is %v, want %s", s["status"], tc.status)
			}
		})
	}
}

// A Twilio hang-up without From during the call's first turn waits for
// that turn, as one with From does, and interrupts the session.
func TestTwilioHangupWithoutFromDuringFirstTurn(t *testing.T) {
	hook, _, called, release := blockingHook(t)
	ts, base := twilioCallServer(t, "slow-call", slowCallFlow(hook))
	done := make(chan string, 1)
	go func() {
		_, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "ringing"))
		done <- body
	}()
	<-called
	hung := make(chan string, 1)
	go func() {
		f := callForm("CA1", "CallStatus", "completed", "CallbackSource", "call-progress-events")
		f.Del("From")
		_, body := twilioPost(t, base, "/twilio/tw/voice", f)
		hung <- body
	}()
	id := callSessionID("tw", "CA1")
	for ts.callLockUsers(id) < 2 && len(hung) == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	<-done
	if body := <-hung; !strings.HasSuffix(body, "<Response/>") {
		t.Errorf("the hang-up answered %s", body)
	}
	ts.clock.Advance(time.Hour)
	if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	if s["status"] != "interrupted" {
		t.Errorf("session %v, want interrupted", s["status"])
	}
	if got := s["variables"].(map[string]any)["call"].(map[string]any)["state"]; got != "completed" {
		t.Errorf("$call.state %v, want completed", got)
	}
}

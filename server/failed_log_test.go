package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/syncbuf"
)

// doomedFlow fails three ways: a value over --max-value after the wait, and
// a loop with no wait that uses up --max-steps on its timeout.
const doomedFlow = `{"id":"doomed","name":"Doomed","widgets":[
 {"id":"ask","type":"send_message","text":"Say something","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Answer","timeout":60,"exits":{"Next":"big","Timeout":"spin1"}},
 {"id":"big","type":"set_variable","scope":"flow","name":"big","value":"@input @input @input","exits":{"Next":""}},
 {"id":"spin1","type":"set_variable","scope":"flow","name":"n","value":"1","exits":{"Next":"spin2"}},
 {"id":"spin2","type":"set_variable","scope":"flow","name":"n","value":"2","exits":{"Next":"spin1"}}]}`

// spinFlow loops from its start.
const spinFlow = `{"id":"spin","name":"Spin","widgets":[
 {"id":"a","type":"set_variable","scope":"flow","name":"n","value":"1","exits":{"Next":"b"}},
 {"id":"b","type":"set_variable","scope":"flow","name":"n","value":"2","exits":{"Next":"a"}}]}`

// A session that ends failed is logged at warn, whichever way its turn
// came (a message, the sessions API, a timer), with the request's id when
// a request ran it, the session, flow, revision, widget and error, and
// nothing the contact sent, nor its URN; a turn that does not fail logs
// nothing at the default level.
func TestFailedSessionLogged(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.MaxValue = 64
		c.MaxSteps = 20
	})
	ts.createFlow(doomedFlow)
	ts.createFlow(spinFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"sms","default_flow":"doomed"}`)
	base := ts.listen()
	post := func(path, rid, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Id", rid)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 && resp.StatusCode != 201 {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	line := func(session string) string {
		t.Helper()
		for l := range strings.Lines(logs.String()) {
			if strings.Contains(l, "session="+session) {
				return l
			}
		}
		t.Fatalf("no line of session %s in the log:\n%s", session, logs)
		return ""
	}

	const secret = "my secret words of the contact, long enough"
	mark := len(logs.String())
	first := post("/v1/channels/sms/messages", "rid-hi", `{"from":"tel:+12065550121","text":"hi"}`)
	if logs.String()[mark:] != "" {
		t.Fatalf("a turn that did not fail logged:\n%s", logs)
	}
	sid := first["id"].(string)
	if r := post("/v1/channels/sms/messages", "rid-big", `{"from":"tel:+12065550121","text":"`+secret+`"}`); r["status"] != "failed" {
		t.Fatalf("status %v, want failed", r["status"])
	}
	l := line(sid)
	for _, want := range []string{"level=WARN", `msg="session failed"`, "request_id=rid-big", "flow=doomed", "revision=1", "widget=big", "--max-value"} {
		if !strings.Contains(l, want) {
			t.Errorf("the line of the failed message lacks %q: %s", want, l)
		}
	}

	spin := post("/v1/sessions", "rid-start", `{"flow":"spin","contact":{"urn":"tel:+12065550122"}}`)
	l = line(spin["id"].(string))
	for _, want := range []string{"level=WARN", "request_id=rid-start", "flow=spin", "revision=1", "widget=", "--max-steps"} {
		if !strings.Contains(l, want) {
			t.Errorf("the line of the failed start lacks %q: %s", want, l)
		}
	}

	timed := post("/v1/channels/sms/messages", "rid-wait", `{"from":"tel:+12065550123","text":"hi"}`)["id"].(string)
	ts.clock.Advance(61 * time.Second)
	if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
		t.Fatal(err)
	}
	l = line(timed)
	for _, want := range []string{"level=WARN", "flow=doomed", "--max-steps", "widget=spin"} {
		if !strings.Contains(l, want) {
			t.Errorf("the line of the failed timeout lacks %q: %s", want, l)
		}
	}
	if strings.Contains(l, "request_id") {
		t.Errorf("the timer's turn names a request: %s", l)
	}
	all := logs.String()
	for _, private := range []string{"secret words", "2065550121", "2065550122", "2065550123"} {
		if strings.Contains(all, private) {
			t.Errorf("the log holds %q:\n%s", private, all)
		}
	}
	if n := strings.Count(all, "session failed"); n != 3 {
		t.Errorf("%d lines of failed sessions, want 3:\n%s", n, all)
	}
}

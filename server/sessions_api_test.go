package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/syncbuf"
)

func TestSessionLifecycle(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)

	start := ts.must(201, "POST", "/v1/sessions", map[string]any{
		"flow":      "ask",
		"contact":   map[string]any{"urn": "tel:+15550001", "name": "Ann", "fields": map[string]string{"age": "33"}},
		"variables": map[string]any{"greeting": "there", "code": 42},
	})
	id, _ := start["id"].(string)
	if start["status"] != "waiting" || id == "" {
		t.Fatalf("start answered %v", start)
	}
	if got := texts(start); !slices.Equal(got, []string{"Hi there! What is your name?"}) {
		t.Errorf("start messages %q", got)
	}
	if wf, _ := start["waiting_for"].(map[string]any); wf["kind"] != "message" {
		t.Errorf("waiting_for = %v", start["waiting_for"])
	}

	sess := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	vars := sess["variables"].(map[string]any)
	if vars["flow"].(map[string]any)["code"].(map[string]any)["value"] != "42" {
		t.Errorf("flow variables %v", vars["flow"])
	}
	if vars["user"].(map[string]any)["age"] != "33" {
		t.Errorf("user variables %v", vars["user"])
	}
	if sess["revision"] != float64(1) || sess["flow"] != "ask" || sess["contact"].(map[string]any)["name"] != "Ann" {
		t.Errorf("session view %v", sess)
	}
	if path := sess["path"].([]any); len(path) != 2 || path[0].(map[string]any)["widget"] != "hello" || path[0].(map[string]any)["at"] == nil {
		t.Errorf("path %v", sess["path"])
	}

	done := ts.must(200, "POST", "/v1/sessions/"+id+"/resume", `{"text":"Bob"}`)
	if done["status"] != "completed" || !slices.Equal(texts(done), []string{"Bye Bob, code 42"}) {
		t.Errorf("resume answered %v", done)
	}
	if _, ok := done["waiting_for"]; ok {
		t.Error("completed session still waiting_for")
	}
	ended := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	if ended["ended"] == nil || ended["status"] != "completed" {
		t.Errorf("ended session %v", ended)
	}

	evs := ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any)
	var types []string
	for _, e := range evs {
		types = append(types, e.(map[string]any)["type"].(string))
	}
	for _, want := range []string{"message_out", "session_waiting", "message_in", "flow_completed", "session_ended"} {
		if !slices.Contains(types, want) {
			t.Errorf("event log %v lacks %s", types, want)
		}
	}
	if types[len(types)-1] != "session_ended" {
		t.Errorf("event log not chronological: %v", types)
	}

	r := ts.do("POST", "/v1/sessions/"+id+"/resume", `{"text":"again"}`)
	if r.Status != 409 || r.errorOf(t)["code"] != CodeNotWaiting {
		t.Errorf("resume of an ended session: %d %s", r.Status, r.Body)
	}
}

func TestSessionStaysOnItsRevision(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	old := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask", "variables": map[string]any{"greeting": "a", "code": "1"}})
	ts.must(200, "PUT", "/v1/flows/ask", strings.Replace(askFlow, "Bye @flow.name", "Farewell @flow.name", 1))

	fresh := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask", "variables": map[string]any{"greeting": "b", "code": "2"}})
	oldDone := ts.must(200, "POST", fmt.Sprintf("/v1/sessions/%s/resume", old["id"]), `{"text":"X"}`)
	freshDone := ts.must(200, "POST", fmt.Sprintf("/v1/sessions/%s/resume", fresh["id"]), `{"text":"Y"}`)
	if got := texts(oldDone); !slices.Equal(got, []string{"Bye X, code 1"}) {
		t.Errorf("old session ran %q, want revision 1's text", got)
	}
	if got := texts(freshDone); !slices.Equal(got, []string{"Farewell Y, code 2"}) {
		t.Errorf("new session ran %q, want revision 2's text", got)
	}

	// Publishing revision 1 makes new sessions start there again.
	ts.must(200, "POST", "/v1/flows/ask/publish", `{"revision":1}`)
	pinned := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask"})
	if v := ts.must(200, "GET", fmt.Sprintf("/v1/sessions/%s", pinned["id"]), nil); v["revision"] != float64(1) {
		t.Errorf("session after publishing revision 1 is on revision %v", v["revision"])
	}
}

func TestSessionErrors(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.BodyLimit = 4096 })
	ts.createFlow(askFlow)
	id := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask"})["id"].(string)
	cases := []apiErrorCase{
		{"unknown field", "POST", "/v1/sessions", `{"flow":"ask","colour":"red"}`, 400, CodeUnknownField, "colour"},
		{"nested unknown field", "POST", "/v1/sessions", `{"flow":"ask","contact":{"urn":"tel:1","age":3}}`, 400, CodeUnknownField, "contact.age"},
		{"wrong type", "POST", "/v1/sessions", `{"flow":7}`, 400, CodeInvalidField, "flow"},
		{"malformed", "POST", "/v1/sessions", `{"flow":"ask"`, 400, CodeMalformedJSON, ""},
		{"trailing data", "POST", "/v1/sessions", `{"flow":"ask"} {}`, 400, CodeMalformedJSON, ""},
		{"empty body", "POST", "/v1/sessions", ``, 400, CodeMalformedJSON, ""},
		{"no flow", "POST", "/v1/sessions", `{}`, 400, CodeBadRequest, "flow"},
		{"unknown flow", "POST", "/v1/sessions", `{"flow":"nope"}`, 404, CodeNotFound, "flow"},
		{"unknown channel", "POST", "/v1/sessions", `{"flow":"ask","channel":"nope"}`, 404, CodeNotFound, "channel"},
		{"bad environment", "POST", "/v1/sessions", `{"flow":"ask","environment":"prod"}`, 400, CodeBadRequest, "environment"},
		{"unknown session", "GET", "/v1/sessions/nope", "", 404, CodeNotFound, ""},
		{"events of unknown session", "GET", "/v1/sessions/nope/events", "", 404, CodeNotFound, ""},
		{"resume unknown session", "POST", "/v1/sessions/nope/resume", `{"text":"x"}`, 404, CodeNotFound, ""},
		{"resume with two inputs", "POST", "/v1/sessions/" + id + "/resume", `{"text":"x","digits":"1"}`, 400, CodeBadRequest, ""},
		{"resume with nothing", "POST", "/v1/sessions/" + id + "/resume", `{}`, 400, CodeBadRequest, ""},
		{"interrupt unknown", "POST", "/v1/sessions/nope/interrupt", "", 404, CodeNotFound, ""},
		{"bad status filter", "GET", "/v1/sessions?status=sleeping", "", 400, CodeBadRequest, "status"},
		{"bad limit", "GET", "/v1/sessions?limit=0", "", 400, CodeBadRequest, "limit"},
		{"unknown route", "GET", "/v1/nothing", "", 404, CodeNotFound, ""},
	}
	ts.expectErrors(t, cases)
	// Nothing half-written: the rejected requests started no session.
	list := ts.must(200, "GET", "/v1/sessions", nil)["sessions"].([]any)
	if len(list) != 1 {
		t.Errorf("%d sessions after rejected requests, want 1", len(list))
	}
}

func TestInterruptAndList(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	var ids []string
	for i := range 3 {
		r := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask", "contact": map[string]any{"urn": fmt.Sprintf("tel:+1%d", i)}})
		ids = append(ids, r["id"].(string))
	}
	got := ts.must(200, "POST", "/v1/sessions/"+ids[0]+"/interrupt", nil)
	if got["status"] != "interrupted" {
		t.Errorf("interrupt answered %v", got)
	}
	if r := ts.do("POST", "/v1/sessions/"+ids[0]+"/interrupt", nil); r.Status != 409 {
		t.Errorf("second interrupt: %d", r.Status)
	}

	waiting := ts.must(200, "GET", "/v1/sessions?status=waiting", nil)["sessions"].([]any)
	if len(waiting) != 2 {
		t.Errorf("%d waiting sessions, want 2", len(waiting))
	}
	byContact := ts.must(200, "GET", "/v1/sessions?contact=tel:%2B11", nil)["sessions"].([]any)
	if len(byContact) != 1 || byContact[0].(map[string]any)["id"] != ids[1] {
		t.Errorf("contact filter: %v", byContact)
	}
	if n := len(ts.must(200, "GET", "/v1/sessions?flow=nope", nil)["sessions"].([]any)); n != 0 {
		t.Errorf("flow filter matched %d", n)
	}

	// Pages of one walk every session exactly once.
	seen := map[string]bool{}
	next := ""
	for range 10 {
		page := ts.must(200, "GET", "/v1/sessions?limit=1&after="+next, nil)
		for _, s := range page["sessions"].([]any) {
			seen[s.(map[string]any)["id"].(string)] = true
		}
		n, _ := page["next"].(string)
		if n == "" {
			break
		}
		next = n
	}
	if len(seen) != 3 {
		t.Errorf("pagination saw %d sessions, want 3", len(seen))
	}
}

// A body over the limit is refused before any handler runs; the answer
// still carries the request id, names the limit and its flag, and the
// request is logged as client errors are.
func TestOversizedBody(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.BodyLimit = 4096
		c.Logger = slog.New(slog.NewTextHandler(logs, nil)) // info: client errors are logged
	})
	base := ts.listen()
	// With a Content-Length the server refuses the body before reading it;
	// a chunked body (no length) only once it has read past the limit.
	for _, chunked := range []bool{false, true} {
		for _, path := range []string{"/v1/sessions", "/v1/channels/demo/messages/batch"} {
			body := `{"flow":"ask","variables":{"x":"` + strings.Repeat("a", 5000) + `"}}`
			var rd io.Reader = strings.NewReader(body)
			rid := "big-1" + path
			if chunked {
				rd, rid = io.MultiReader(rd), "chunked-"+rid // a reader of unknown length: sent chunked
			}
			req, _ := http.NewRequest("POST", base+path+"?q=1", rd)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Request-Id", rid)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r := response{Status: resp.StatusCode, Body: b}
			e := r.errorOf(t)
			if r.Status != 413 || e["code"] != CodeTooLarge || e["message"] != "request body over the 4096-byte limit (--body-limit, PARLEY_BODY_LIMIT)" {
				t.Errorf("POST %s oversized body (chunked %v): %d %s", path, chunked, r.Status, b)
			}
			if got := resp.Header.Get("X-Request-Id"); got != rid {
				t.Errorf("POST %s oversized body (chunked %v): X-Request-Id %q, want the caller's %s", path, chunked, got, rid)
			}
			if line := "request_id=" + rid + " method=POST path=" + path + " status=413"; !strings.Contains(logs.String(), line) {
				t.Errorf("POST %s oversized body (chunked %v): no request line with %q in the log:\n%s", path, chunked, line, logs)
			}
		}
	}
	// Without an id of the caller's, the server gives one.
	resp, err := http.Post(base+"/v1/sessions", "application/json", strings.NewReader(strings.Repeat(" ", 5000)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("oversized body without an id: %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
}

// A session on a deleted flow fails at its next input, also when a flow
// was saved again under the same id since: its revisions go on from the
// deleted flow's last, so the old session's revision is not found in it.
func TestSessionOfDeletedFlowFails(t *testing.T) {
	for _, recreate := range []bool{false, true} {
		ts := newTestServer(t, nil)
		ts.createFlow(askFlow)
		id := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask"})["id"].(string)
		ts.must(204, "DELETE", "/v1/flows/ask", nil)
		if recreate {
			ts.createFlow(askFlow)
			if f := ts.must(200, "GET", "/v1/flows/ask", nil); f["revision"] != 2.0 {
				t.Errorf("the flow saved again after its deletion is revision %v, want 2", f["revision"])
			}
		}
		got := ts.must(200, "POST", "/v1/sessions/"+id+"/resume", `{"text":"x"}`)
		if got["status"] != "failed" {
			t.Errorf("recreated %v: resume after the flow was deleted: %v", recreate, got)
		}
		evs := ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any)
		if last := evs[len(evs)-2].(map[string]any); last["type"] != "error" || !strings.Contains(last["message"].(string), "deleted") {
			t.Errorf("recreated %v: no error event naming the deleted flow: %v", recreate, last)
		}
	}
}

// A session started over the API for a channel stores its contact as the
// channel's messages name it, so the contact's reply on the channel resumes
// it; and a listing by a bare number finds the channel's tel: contact.
func TestStartSessionContactAsChannelNamesIt(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web"}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"wa","scheme":"whatsapp"}`)

	start := ts.must(201, "POST", "/v1/sessions", `{"flow":"ask","contact":{"urn":"+15550777"},"channel":"web"}`)
	sess := ts.must(200, "GET", fmt.Sprintf("/v1/sessions/%s", start["id"]), nil)
	if urn := sess["contact"].(map[string]any)["urn"]; urn != "tel:+15550777" {
		t.Errorf("contact urn %v, want tel:+15550777 (as channel web names the sender)", urn)
	}
	reply := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+15550777","text":"Ann"}`)
	if reply["id"] != start["id"] || reply["status"] != "completed" {
		t.Errorf("the contact's reply answered %v, want session %v resumed and completed", reply, start["id"])
	}

	wa := ts.must(201, "POST", "/v1/sessions", `{"flow":"ask","contact":{"urn":"+15550778"},"channel":"wa"}`)
	if got := ts.must(200, "GET", fmt.Sprintf("/v1/sessions/%s", wa["id"]), nil)["contact"].(map[string]any)["urn"]; got != "whatsapp:+15550778" {
		t.Errorf("contact urn %v on channel wa, want whatsapp:+15550778 (the channel's scheme)", got)
	}
	// A flow run on a call waits with a timeout.
	ts.createFlow(strings.Replace(strings.Replace(askFlow, `"id":"ask"`, `"id":"ask-call"`, 1), `"result":"Name",`, `"result":"Name","timeout":30,`, 1))
	call := ts.must(201, "POST", "/v1/sessions", `{"flow":"ask-call","channel":"wa","call":{"id":"CA9","from":"+15550779"}}`)
	if got := ts.must(200, "GET", fmt.Sprintf("/v1/sessions/%s", call["id"]), nil)["contact"].(map[string]any)["urn"]; got != "whatsapp:+15550779" {
		t.Errorf("caller's urn %v on channel wa, want whatsapp:+15550779", got)
	}

	// Without a channel the URN is kept as given.
	bare := ts.must(201, "POST", "/v1/sessions", `{"flow":"ask","contact":{"urn":"+15550777"}}`)

	list := func(q string) []string {
		var ids []string
		for _, s := range ts.must(200, "GET", "/v1/sessions?"+q, nil)["sessions"].([]any) {
			ids = append(ids, s.(map[string]any)["id"].(string))
		}
		return ids
	}
	want := []string{start["id"].(string), bare["id"].(string)}
	slices.Sort(want)
	if got := list("contact=%2B15550777"); !slices.Equal(got, want) {
		t.Errorf("contact=+15550777 lists %v, want %v (the tel: contact and the one stored as given)", got, want)
	}
	if got := list("contact=tel:%2B15550777"); !slices.Equal(got, []string{start["id"].(string)}) {
		t.Errorf("contact=tel:+15550777 lists %v, want only %v", got, start["id"])
	}
	// Pages of the two together: one at a time, in id order, none twice.
	var paged []string
	after := ""
	for range 4 {
		page := ts.must(200, "GET", "/v1/sessions?limit=1&contact=%2B15550777&after="+after, nil)
		for _, s := range page["sessions"].([]any) {
			paged = append(paged, s.(map[string]any)["id"].(string))
		}
		next, _ := page["next"].(string)
		if next == "" {
			break
		}
		after = next
	}
	if !slices.Equal(paged, want) {
		t.Errorf("paged listing %v, want %v", paged, want)
	}
}

// A "+" written bare in the contact parameter is read as a space: the
// listing refuses it, naming the parameter and how to write it, rather
// than answering an empty list.
func TestListSessionsContactWithBarePlus(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	id := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask", "contact": map[string]any{"urn": "tel:+12065551212"}})["id"].(string)
	base := ts.listen()
	for _, q := range []string{"contact=tel:+12065551212", "contact=+12065551212", "status=waiting&contact=tel%3A+12065551212"} {
		resp, err := http.Get(base + "/v1/sessions?" + q)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Code, Message, Field string } `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 400 || body.Error.Field != "contact" || !strings.Contains(body.Error.Message, "%2B") {
			t.Errorf("?%s: %d %+v, want 400 naming contact and %%2B", q, resp.StatusCode, body.Error)
		}
	}
	for _, q := range []string{"contact=tel:%2B12065551212", "contact=%2B12065551212"} {
		list := ts.must(200, "GET", "/v1/sessions?"+q, nil)["sessions"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["id"] != id {
			t.Errorf("?%s: %v, want the session", q, list)
		}
	}
}

// A session's event log pages by the limit asked for, up to 5000: a client
// following next reads every event, however long the log.
func TestSessionEventsPages(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.MaxSteps = 2400 })
	// Each step sends a message, until the step budget fails the session.
	ts.createFlow(`{"id":"chatty","name":"Chatty","widgets":[
 {"id":"a","type":"send_message","text":"a","exits":{"Next":"b"}},
 {"id":"b","type":"send_message","text":"b","exits":{"Next":"a"}}]}`)
	id := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "chatty"})["id"].(string)
	all := ts.must(200, "GET", "/v1/sessions/"+id+"/events?limit=5000", nil)
	total := len(all["events"].([]any))
	if total <= 2400 || all["next"] != nil {
		t.Fatalf("limit=5000 gave %d events and next %v, want all of more than 2,400 and no next", total, all["next"])
	}
	for _, limit := range []int{1000, 1500} {
		after, pages, seen := "0", 0, 0
		for {
			page := ts.must(200, "GET", fmt.Sprintf("/v1/sessions/%s/events?limit=%d&after=%s", id, limit, after), nil)
			evs := page["events"].([]any)
			seen += len(evs)
			pages++
			next, ok := page["next"].(string)
			if !ok {
				break
			}
			if len(evs) != limit {
				t.Fatalf("limit=%d: page %d has %d events and a next", limit, pages, len(evs))
			}
			after = next
		}
		if seen != total || pages != total/limit+1 {
			t.Errorf("limit=%d: %d events in %d pages following next, want %d in %d", limit, seen, pages, total, total/limit+1)
		}
	}
}

// A session that loops past --max-path shows, over HTTP, the latest steps of
// its path and how many older ones were dropped, in GET /v1/sessions/{id} and
// in the flow.completed event a webhook receiver gets; a session whose path
// is whole shows no count.
func TestSessionPathDropped(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.MaxPath = 4
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Now = time.Now // the dispatcher schedules by this clock
	})
	ts.createFlow(`{"id":"echo","name":"Echo","widgets":[
 {"id":"hello","type":"send_message","text":"Say stop to stop","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","rules":[{"type":"has_any_word","args":["stop"],"category":"Stop"}],"exits":{"Stop":"bye","Other":"hello"}},
 {"id":"bye","type":"send_message","text":"Bye","exits":{"Next":""}}]}`)
	hook := newSink(t)
	ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": hook.URL, "events": []string{"flow.completed"}})
	base := ts.listen()
	call := httpJSON(t, base)
	steps := func(v map[string]any) []string {
		var out []string
		for _, st := range v["path"].([]any) {
			st := st.(map[string]any)
			out = append(out, fmt.Sprint(st["widget"], ":", st["exit"]))
		}
		return out
	}

	id := call("POST", "/v1/sessions", `{"flow":"echo"}`)["id"].(string)
	if v := call("GET", "/v1/sessions/"+id, ""); len(steps(v)) != 2 || v["path_dropped"] != nil {
		t.Fatalf("after the start: path %v, path_dropped %v; want 2 steps and no count", steps(v), v["path_dropped"])
	}
	for range 5 {
		call("POST", "/v1/sessions/"+id+"/resume", `{"text":"again"}`)
	}
	// 2 steps at the start and 2 a turn: 12, of which the latest 4 are kept.
	v := call("GET", "/v1/sessions/"+id, "")
	if got, want := steps(v), []string{"hello:Next", "wait:Other", "hello:Next", "wait:<nil>"}; !slices.Equal(got, want) || v["path_dropped"] != float64(8) {
		t.Errorf("after 5 turns: path %v, path_dropped %v; want %v and 8", got, v["path_dropped"], want)
	}

	call("POST", "/v1/sessions/"+id+"/resume", `{"text":"stop"}`)
	eventually(t, "flow.completed", func() bool { return len(hook.ofType("flow.completed")) == 1 })
	fc := hook.ofType("flow.completed")[0].data
	if got, want := steps(fc), []string{"wait:Other", "hello:Next", "wait:Stop", "bye:Next"}; !slices.Equal(got, want) || fc["path_dropped"] != float64(9) {
		t.Errorf("flow.completed: path %v, path_dropped %v; want %v and 9", got, fc["path_dropped"], want)
	}
}

// A voice flow runs on a call: POST /v1/sessions without one is refused,
// naming flow, rather than leaving a session waiting on the channel that
// takes the contact's messages.
func TestStartVoiceFlowNeedsCall(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	ts.createFlow(`{"id":"press","kind":"voice","name":"Press","widgets":[
	 {"id":"menu","type":"gather_digits","prompt":"Press a key","num_digits":1,"exits":{"Next":"said","No Input":"said","No Match":"said"}},
	 {"id":"said","type":"say","text":"Thanks"}]}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"sms","default_flow":"ask"}`)
	ts.expectErrors(t, []apiErrorCase{
		{name: "on a channel", method: "POST", path: "/v1/sessions", body: `{"flow":"press","channel":"sms","contact":{"urn":"+15550500"}}`, status: 422, code: CodeInvalidField, field: "flow"},
		{name: "without a channel", method: "POST", path: "/v1/sessions", body: `{"flow":"press","contact":{"urn":"tel:+15550500"}}`, status: 422, code: CodeInvalidField, field: "flow"},
	})
	r := ts.do("POST", "/v1/sessions", `{"flow":"press","channel":"sms","contact":{"urn":"+15550500"}}`)
	if msg, _ := r.errorOf(t)["message"].(string); !strings.Contains(msg, `flow "press" is a voice flow`) || !strings.Contains(msg, "call") {
		t.Errorf("message %q: want it to say the flow is a voice flow and needs a call", msg)
	}
	// The contact's message starts the channel's flow: no voice session took it.
	reply := ts.must(200, "POST", "/v1/channels/sms/messages", `{"from":"+15550500","text":"1"}`)
	if reply["flow"] != "ask" {
		t.Errorf("the contact's message answered %v, want the channel's default flow ask", reply)
	}
	// With the call it starts.
	call := ts.must(201, "POST", "/v1/sessions", `{"flow":"press","channel":"sms","call":{"id":"CA7","from":"+15550500"}}`)
	if call["status"] != "waiting" {
		t.Errorf("the call's session: %v", call)
	}
}

// GET /v1/sessions takes the statuses a stored session can have; "active",
// which a session has only while its turn runs, would list none, and is
// refused as an unknown status is, naming status and the valid ones.
func TestListSessionsStatus(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/sessions", `{"flow":"ask","contact":{"urn":"tel:+1"}}`)
	ts.expectErrors(t, []apiErrorCase{
		{name: "active", method: "GET", path: "/v1/sessions?status=active", status: 400, code: CodeBadRequest, field: "status"},
		{name: "unknown", method: "GET", path: "/v1/sessions?status=bogus", status: 400, code: CodeBadRequest, field: "status"},
	})
	for _, q := range []string{"active", "bogus"} {
		msg, _ := ts.do("GET", "/v1/sessions?status="+q, nil).errorOf(t)["message"].(string)
		if !strings.Contains(msg, "waiting, completed, expired, failed, interrupted") || strings.Contains(msg, "(active") {
			t.Errorf("status=%s: message %q, want the statuses to give, active not among them", q, msg)
		}
	}
	if l := ts.must(200, "GET", "/v1/sessions?status=waiting", nil)["sessions"].([]any); len(l) != 1 {
		t.Errorf("waiting sessions %v, want 1", l)
	}
}

// A request whose line and headers are over --header-limit is refused with
// 431 headers_too_large naming the limit and its flag; one within it is
// served. The headers were not read, so the answer has an id of the
// server's, and the log line no path.
func TestOversizedHeaders(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.HeaderLimit = 8192
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	base := ts.listen()
	send := func(size int) (response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/v1/flows", nil)
		req.Header.Set("X-Request-Id", "mine")
		req.Header.Set("X-Padding", strings.Repeat("a", size))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{Status: resp.StatusCode, Body: b}, resp.Header.Get("X-Request-Id")
	}
	if r, _ := send(6000); r.Status != 200 {
		t.Errorf("headers of 6000 bytes with --header-limit 8192: %d %s", r.Status, r.Body)
	}
	r, rid := send(9000)
	e := r.errorOf(t)
	if r.Status != 431 || e["code"] != CodeHeadersTooLarge || e["message"] != "request line and headers over the 8192-byte limit (--header-limit, PARLEY_HEADER_LIMIT)" {
		t.Errorf("headers of 9000 bytes: %d %s", r.Status, r.Body)
	}
	if rid == "" || rid == "mine" {
		t.Errorf("X-Request-Id %q, want one of the server's", rid)
	}
	if line := "request_id=" + rid + ` method="" path="" status=431`; !strings.Contains(logs.String(), line) {
		t.Errorf("no request line with %q in the log:\n%s", line, logs)
	}
}

// A cursor of GET /v1/sessions that cannot be a session id is refused, 400
// naming after, as the events listing refuses one that is not a sequence
// number, instead of an empty page that reads as the end of the listing.
// The next of a page and the id of any session, listed or not, page on.
func TestListSessionsCursorOverHTTP(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	base := ts.listen()
	for i := range 3 {
		ts.must(201, "POST", "/v1/sessions", fmt.Sprintf(`{"flow":"favourite-colour","contact":{"urn":"tel:+1555010%04d"}}`, i))
	}
	get := func(query string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(base + "/v1/sessions?" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return resp.StatusCode, v
	}
	for _, bad := range []string{"zzz", "01A2", "0193C0DE-0000-7000-8000-000000000000", "%20"} {
		status, v := get("after=" + bad)
		e, _ := v["error"].(map[string]any)
		if status != 400 || e["code"] != "bad_request" || e["field"] != "after" || !strings.Contains(e["message"].(string), "not a session id") {
			t.Errorf("after=%s: %d %v, want 400 bad_request naming after", bad, status, v)
		}
	}
	status, first := get("limit=1")
	next, _ := first["next"].(string)
	if status != 200 || next == "" {
		t.Fatalf("first page: %d %v", status, first)
	}
	if status, v := get("limit=5&after=" + next); status != 200 || len(v["sessions"].([]any)) != 2 {
		t.Errorf("after the first page's next: %d %v, want the 2 other sessions", status, v)
	}
	if status, v := get("after=ffffffff-ffff-7fff-bfff-ffffffffffff"); status != 200 || len(v["sessions"].([]any)) != 0 {
		t.Errorf("after an id past every session: %d %v, want 200 and an empty page", status, v)
	}
}

// An environment other than live or sandbox is refused over HTTP, 400
// naming the field and the values it takes, as other validation errors
// name theirs.
func TestStartSessionBadEnvironmentOverHTTP(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	base := ts.listen()
	for _, env := range []string{"prod", "Live", " sandbox"} {
		body, _ := json.Marshal(map[string]any{"flow": "favourite-colour", "environment": env})
		resp, err := http.Post(base+"/v1/sessions", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Error map[string]string }
		_ = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		e := v.Error
		if resp.StatusCode != 400 || e["code"] != "bad_request" || e["field"] != "environment" ||
			!strings.Contains(e["message"], "live or sandbox") || !strings.Contains(e["message"], fmt.Sprintf("%q", env)) {
			t.Errorf("environment %q: %d %v, want 400 bad_request naming environment, live and sandbox", env, resp.StatusCode, e)
		}
	}
	if n := len(ts.must(200, "GET", "/v1/sessions", nil)["sessions"].([]any)); n != 0 {
		t.Errorf("%d sessions stored after refused starts, want none", n)
	}
}

// Each listing refuses the cursor parameter of the others, 400 naming it,
// instead of ignoring it and listing the first page again, which a client
// paging with it would read for ever: sessions and their events page with
// after, deliveries with cursor.
func TestListingsRefuseTheOtherCursor(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	ts := newTestServer(t, func(c *Config) {
		c.Examples = nil
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	base := ts.listen()
	id := ts.must(201, "POST", "/v1/sessions", `{"flow":"favourite-colour","contact":{"urn":"tel:+15550100000"}}`)["id"].(string)
	sub := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": hook.URL, "events": []string{"*"}})["id"].(string)
	for _, tc := range []struct{ path, field, use string }{
		{"/v1/sessions?cursor=abc", "cursor", "after"},
		{"/v1/sessions/" + id + "/events?cursor=1", "cursor", "after"},
		{"/v1/webhooks/" + sub + "/deliveries?after=abc", "after", "cursor"},
		{"/v1/webhooks/" + sub + "/deliveries?cursor=zzz", "cursor", "next_cursor"},
		{"/v1/sessions/" + id + "/events?after=zzz", "after", "sequence number"},
	} {
		resp, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Error map[string]string }
		_ = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if resp.StatusCode != 400 || v.Error["code"] != "bad_request" || v.Error["field"] != tc.field || !strings.Contains(v.Error["message"], tc.use) {
			t.Errorf("GET %s: %d %v, want 400 bad_request naming %s and saying %s", tc.path, resp.StatusCode, v.Error, tc.field, tc.use)
		}
	}
}

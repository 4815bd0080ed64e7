package server

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

var update = flag.Bool("update", false, "rewrite testdata/events.json with the payloads the server sends")

// sink is a webhook receiver that keeps every request.
type sink struct {
	*httptest.Server
	mu     sync.Mutex
	got    []sunk
	status int // answer; 204 when zero
}

type sunk struct {
	env    map[string]json.RawMessage
	typ    string
	envID  string
	data   map[string]any
	header http.Header
	body   []byte
}

func newSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var k sunk
		k.header, k.body = r.Header.Clone(), b
		if err := json.Unmarshal(b, &k.env); err == nil {
			_ = json.Unmarshal(k.env["type"], &k.typ)
			_ = json.Unmarshal(k.env["environment"], &k.envID)
			_ = json.Unmarshal(k.env["data"], &k.data)
		}
		s.mu.Lock()
		s.got = append(s.got, k)
		status := s.status
		s.mu.Unlock()
		if status == 0 {
			status = http.StatusNoContent
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) setStatus(code int) {
	s.mu.Lock()
	s.status = code
	s.mu.Unlock()
}

func (s *sink) events() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

func (s *sink) ofType(typ string) []sunk {
	var out []sunk
	for _, e := range s.events() {
		if e.typ == typ {
			out = append(out, e)
		}
	}
	return out
}

// eventually polls cond until it holds; the bound only keeps a broken
// build from hanging.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func secretOf(t *testing.T, sub map[string]any) string {
	t.Helper()
	return sub["secrets"].([]any)[0].(map[string]any)["secret"].(string)
}

func loopbackServer(t *testing.T) *testServer {
	return newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Now = time.Now // the dispatcher schedules by this clock
	})
}

// Every lifecycle event type reaches subscribers, in the documented
// envelope, signed so the Standard Webhooks reference library accepts it,
// live and sandbox apart, and flow.completed also to default subscriptions.
func TestLifecycleEvents(t *testing.T) {
	ts := loopbackServer(t)
	ts.createFlow(askFlow)
	ts.createFlow(orderFlow)
	// The same flow for calls, whose waits have a timeout.
	ts.createFlow(strings.NewReplacer(`"id":"order"`, `"id":"order-call"`, `"result":"Name",`, `"result":"Name","timeout":60,`,
		`"result":"Order",`, `"result":"Order","timeout":60,`).Replace(orderFlow))
	ts.must(201, "POST", "/v1/channels", `{"id":"web","name":"Web chat","type":"api","default_flow":"order"}`)

	all, sandbox, def, gone := newSink(t), newSink(t), newSink(t), newSink(t)
	gone.setStatus(http.StatusGone)
	subAll := ts.must(201, "POST", "/v1/webhooks", map[string]any{"name": "all", "url": all.URL + "/hook", "events": []string{"*"}})
	subSandbox := ts.must(201, "POST", "/v1/webhooks", map[string]any{"name": "sandbox", "url": sandbox.URL, "events": []string{"*"}, "environment": "sandbox"})
	subDef := ts.must(201, "POST", "/v1/webhooks", map[string]any{"name": "default", "url": def.URL, "events": []string{"webhook.ping"}, "is_default": true})
	secrets := map[*sink]string{all: secretOf(t, subAll), sandbox: secretOf(t, subSandbox), def: secretOf(t, subDef)}

	// An API launch with a contact, user keys and variables, to completion.
	api := ts.must(201, "POST", "/v1/sessions", map[string]any{
		"flow": "ask", "contact": map[string]any{"urn": "tel:+15550100", "name": "Ada", "fields": map[string]any{"tier": "gold"}},
		"variables": map[string]any{"code": "7", "greeting": "Ada"},
	})
	ts.must(200, "POST", "/v1/sessions/"+api["id"].(string)+"/resume", `{"text":"Ann"}`)
	// Another is interrupted.
	stopped := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask", "contact": map[string]any{"urn": "tel:+15550103"}})
	ts.must(200, "POST", "/v1/sessions/"+stopped["id"].(string)+"/interrupt", nil)
	// A channel message launches one that calls a webhook and completes.
	msg := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+15550101","text":"hello","id":"m-1"}`)
	ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+15550101","text":"Bo","id":"m-2"}`)
	ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+15550101","text":"CU001","id":"m-3"}`)
	// A call launches one; it completes.
	call := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "order-call", "channel": "web", "call": map[string]any{"id": "CA1", "from": "+15550102", "to": "+15550199"}})
	ts.must(200, "POST", "/v1/sessions/"+call["id"].(string)+"/resume", `{"text":"Cy"}`)
	ts.must(200, "POST", "/v1/sessions/"+call["id"].(string)+"/resume", `{"text":"CU002"}`)
	// The simulator's sessions are sandbox sessions.
	sim := ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"flow": "ask", "variables": map[string]any{"code": "9"}})
	ts.must(200, "POST", "/v1/sessions/"+sim["id"].(string)+"/resume", `{"text":"Sim"}`)
	// An endpoint answering 410 is disabled; the others hear of it.
	goneSub := ts.must(201, "POST", "/v1/webhooks", map[string]any{"name": "gone", "url": gone.URL, "events": []string{"*"}})

	eventually(t, "every event at the live subscriber", func() bool {
		return len(all.ofType("session.launched")) == 4 && len(all.ofType("flow.completed")) == 3 &&
			len(all.ofType("session.finished")) == 4 && len(all.ofType("endpoint.disabled")) == 1
	})
	// Events are not ordered (events.md): flow.completed may come before
	// the session's other events, so each is waited for.
	eventually(t, "the sandbox session at the sandbox subscriber", func() bool {
		return len(sandbox.ofType("flow.completed")) == 1 && len(sandbox.ofType("session.launched")) > 0 &&
			len(sandbox.ofType("session.started")) > 0 && len(sandbox.ofType("session.updated")) > 0 &&
			len(sandbox.ofType("session.finished")) > 0
	})
	eventually(t, "flow.completed at the default subscriber", func() bool { return len(def.ofType("flow.completed")) == 3 })

	for s, secret := range secrets {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range s.events() {
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range e.env {
					if !yield(k) {
						return
					}
				}
			})
			if want := []string{"data", "environment", "id", "timestamp", "type"}; !slices.Equal(keys, want) {
				t.Errorf("%s envelope keys %v, want %v", e.typ, keys, want)
			}
			var id string
			_ = json.Unmarshal(e.env["id"], &id)
			if e.header.Get("webhook-id") != id {
				t.Errorf("%s: webhook-id %q differs from the envelope id %q", e.typ, e.header.Get("webhook-id"), id)
			}
			if err := wh.Verify(e.body, e.header); err != nil {
				t.Errorf("%s: the reference library rejects the signature: %v", e.typ, err)
			}
		}
	}

	for _, e := range all.events() {
		if e.envID != "live" {
			t.Errorf("live subscriber got a %s %s event", e.envID, e.typ)
		}
	}
	for _, e := range sandbox.events() {
		if e.envID != "sandbox" {
			t.Errorf("sandbox subscriber got a %s %s event", e.envID, e.typ)
		}
		if sid, _ := e.data["session_id"].(string); sid != "" && sid != sim["id"] {
			t.Errorf("sandbox subscriber got %s of live session %s", e.typ, sid)
		}
	}
	for _, e := range def.events() {
		if e.typ != "flow.completed" && e.typ != "webhook.ping" {
			t.Errorf("default subscriber (events: webhook.ping) got %s", e.typ)
		}
	}

	bySession := func(typ, id string) []map[string]any {
		var out []map[string]any
		for _, e := range all.ofType(typ) {
			if e.data["session_id"] == id {
				out = append(out, e.data)
			}
		}
		return out
	}
	launchedBy := map[string]string{}
	for _, id := range []string{api["id"].(string), stopped["id"].(string), msg["id"].(string), call["id"].(string)} {
		l := bySession("session.launched", id)
		s := bySession("session.started", id)
		f := bySession("session.finished", id)
		if len(l) != 1 || len(s) != 1 || len(f) != 1 {
			t.Fatalf("session %s: %d launched, %d started, %d finished events, want one each", id, len(l), len(s), len(f))
		}
		launchedBy[id], _ = l[0]["launched_by"].(string)
		if l[0]["launch_id"] == nil || l[0]["launch_id"] != s[0]["launch_id"] {
			t.Errorf("session %s: launch ids %v and %v", id, l[0]["launch_id"], s[0]["launch_id"])
		}
	}
	if want := map[string]string{api["id"].(string): "api", stopped["id"].(string): "api", msg["id"].(string): "message", call["id"].(string): "call"}; !equalMaps(launchedBy, want) {
		t.Errorf("launched_by = %v, want %v", launchedBy, want)
	}
	if st := bySession("session.finished", stopped["id"].(string))[0]["status"]; st != "interrupted" {
		t.Errorf("interrupted session finished with status %v", st)
	}
	if ups := bySession("session.updated", api["id"].(string)); len(ups) != 1 || !slices.Contains(anyStrings(ups[0]["saved"]), "name") {
		t.Errorf("session.updated of the completed session: %v, want one saving name", ups)
	}

	fc := bySession("flow.completed", api["id"].(string))[0]
	vars, _ := fc["variables"].(map[string]any)
	contact, _ := fc["contact"].(map[string]any)
	keys, _ := fc["user_keys"].(map[string]any)
	path, _ := fc["path"].([]any)
	if vars["name"] == nil || vars["code"] == nil || contact["urn"] != "tel:+15550100" || contact["name"] != "Ada" ||
		keys["tier"] != "gold" || len(path) != 3 || fc["started"] == nil || fc["ended"] == nil || fc["launch_id"] == nil {
		t.Errorf("flow.completed data %v", fc)
	}
	if c := bySession("flow.completed", call["id"].(string))[0]; c["caller"] != "+15550102" || c["launch_id"] != "CA1" {
		t.Errorf("flow.completed of a call: caller %v, launch_id %v; want +15550102 and the call id CA1", c["caller"], c["launch_id"])
	}
	if l := bySession("session.launched", call["id"].(string))[0]; l["launch_id"] != "CA1" {
		t.Errorf("session.launched of a call started with POST /v1/sessions: launch_id %v, want the call id CA1", l["launch_id"])
	}
	m := bySession("flow.completed", msg["id"].(string))[0]
	if ch, _ := m["channel"].(map[string]any); ch["id"] != "web" || m["extra"] == nil || m["launch_id"] != "m-1" {
		t.Errorf("flow.completed of a channel session that called a webhook: %v", m)
	}
	if d := all.ofType("endpoint.disabled")[0].data; d["endpoint_id"] != goneSub["id"] || d["last_status"] != float64(410) {
		t.Errorf("endpoint.disabled data %v", d)
	}

	real := map[string][]map[string]any{}
	first := map[string]json.RawMessage{}
	for _, s := range []*sink{all, sandbox} {
		for _, e := range s.events() {
			real[e.typ] = append(real[e.typ], e.data)
			if _, ok := first[e.typ]; !ok || (e.typ == "flow.completed" && e.data["caller"] != nil) {
				first[e.typ] = e.body
			}
		}
	}
	if *update {
		writeExamples(t, first)
	}
	checkEventDocs(t, "../docs/events.md", real)
}

const orderFlow = `{"id":"order","name":"Order status","widgets":[
 {"id":"hello","type":"send_message","text":"Hi! What is your name?","exits":{"Next":"ask_name"}},
 {"id":"ask_name","type":"wait_for_response","result":"Name","exits":{"Next":"ask_order"}},
 {"id":"ask_order","type":"send_message","text":"Your order number, @flow.name?","exits":{"Next":"wait_order"}},
 {"id":"wait_order","type":"wait_for_response","result":"Order","exits":{"Next":"lookup"}},
 {"id":"lookup","type":"webhook","method":"POST","url":"http://127.0.0.1:8080/demo/order-status","result":"Lookup",
  "exits":{"Success":"bye","Failure":"bye","Timeout":"bye"}},
 {"id":"bye","type":"send_message","text":"Order @flow.order: @extra.status","exits":{"Next":""}}]}`

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func anyStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// writeExamples keeps one real envelope per type in testdata/events.json,
// the source of the examples in docs/events.md.
func writeExamples(t *testing.T, first map[string]json.RawMessage) {
	t.Helper()
	types := make([]string, 0, len(first))
	for k := range first {
		types = append(types, k)
	}
	sort.Strings(types)
	var b strings.Builder
	b.WriteString("{\n")
	for i, typ := range types {
		var v any
		_ = json.Unmarshal(first[typ], &v)
		pretty, _ := json.MarshalIndent(v, "  ", "  ")
		fmt.Fprintf(&b, "  %q: %s", typ, pretty)
		if i < len(types)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/events.json", []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkEventDocs holds docs/events.md to what the server sends: every event
// type has a section whose example's data carries the keys every real event
// of that type carries, and none that no real event carries.
func checkEventDocs(t *testing.T, path string, real map[string][]map[string]any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	examples := map[string]string{}
	var section, block string
	inBlock := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "### "):
			section = strings.TrimSpace(strings.TrimPrefix(line, "### "))
		case line == "```json" && section != "":
			inBlock, block = true, ""
		case line == "```" && inBlock:
			inBlock = false
			if _, seen := examples[section]; !seen {
				examples[section] = block
			}
		case inBlock:
			block += line + "\n"
		}
	}
	for typ, datas := range real {
		doc, ok := examples[typ]
		if !ok {
			t.Errorf("%s: no \"### %s\" section with a JSON example in %s", typ, typ, path)
			continue
		}
		var ex map[string]json.RawMessage
		if err := json.Unmarshal([]byte(doc), &ex); err != nil {
			t.Errorf("%s: example in %s is not JSON: %v", typ, path, err)
			continue
		}
		if d, ok := ex["data"]; ok && ex["type"] != nil {
			ex = nil
			_ = json.Unmarshal(d, &ex)
		}
		union, common := map[string]bool{}, map[string]int{}
		for _, d := range datas {
			for k := range d {
				union[k] = true
				common[k]++
			}
		}
		for k := range ex {
			if !union[k] {
				t.Errorf("%s: the example in %s shows %q, which the server never sends", typ, path, k)
			}
		}
		for k, n := range common {
			if _, shown := ex[k]; n == len(datas) && !shown {
				t.Errorf("%s: the example in %s lacks %q, which the server always sends", typ, path, k)
			}
		}
	}
}

// The operations on a subscription: a synchronous test with OAuth 2.0,
// health, the deliveries log with filters and pages, and recovering what an
// endpoint missed.
func TestWebhookOperations(t *testing.T) {
	ts := loopbackServer(t)

	// A test request with OAuth 2.0 (JSON token request) shows the exchange.
	var tokenBody string
	var mu sync.Mutex
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		tokenBody = string(b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"at-secret-42","token_type":"bearer","expires_in":"3600"}`))
	}))
	defer auth.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-secret-42" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"received":true}`))
	}))
	defer api.Close()
	oauth := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": api.URL, "events": []string{"flow.completed"}, "auth": map[string]any{
		"type": "oauth2_client_credentials", "client_id": "parley", "client_secret": "cs-secret-9", "token_url": auth.URL + "/token", "encoding": "json",
	}})
	res := ts.must(200, "POST", "/v1/webhooks/"+oauth["id"].(string)+"/test", nil)
	req, _ := res["request"].(map[string]any)
	resp, _ := res["response"].(map[string]any)
	hdrs, _ := req["headers"].(map[string]any)
	if res["outcome"] != "success" || resp["status"] != float64(200) || resp["body"] != `{"received":true}` ||
		hdrs["Authorization"] != "[redacted]" || !strings.Contains(req["body"].(string), `"test":true`) || hdrs["Webhook-Signature"] == nil {
		t.Errorf("test answered %v", res)
	}
	mu.Lock()
	if !strings.Contains(tokenBody, `"client_id":"parley"`) {
		t.Errorf("token request body %q, want JSON", tokenBody)
	}
	mu.Unlock()
	for _, secret := range []string{"at-secret-42", "cs-secret-9"} {
		r := ts.do("POST", "/v1/webhooks/"+oauth["id"].(string)+"/test", nil)
		if strings.Contains(string(r.Body), secret) {
			t.Errorf("test answer shows %q: %s", secret, r.Body)
		}
	}
	ts.must(404, "POST", "/v1/webhooks/nope/test", nil)

	// An endpoint that answers 410 is disabled at its first delivery.
	rc := newSink(t)
	rc.setStatus(http.StatusGone)
	sub := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": rc.URL, "events": []string{"*"}})
	id := sub["id"].(string)
	eventually(t, "the endpoint to be disabled", func() bool {
		return ts.must(200, "GET", "/v1/webhooks/"+id, nil)["disabled"] == true
	})
	h := ts.must(200, "GET", "/v1/webhooks/"+id+"/health", nil)
	if h["disabled"] != true || h["consecutive_failures"] != float64(1) || h["last_failure"] == nil || h["last_success"] != nil {
		t.Errorf("health of a disabled endpoint: %v", h)
	}
	if r := ts.do("POST", "/v1/webhooks/"+id+"/recover", `{"since":"2020-01-01T00:00:00Z"}`); r.Status != 422 || r.errorOf(t)["field"] != "endpoint_id" {
		t.Errorf("recover of a disabled endpoint: %d %s", r.Status, r.Body)
	}
	if r := ts.do("POST", "/v1/webhooks/"+id+"/ping", nil); r.Status != 422 || r.errorOf(t)["field"] != "endpoint_id" || strings.Contains(string(r.Body), ": invalid") {
		t.Errorf("ping of a disabled endpoint: %d %s", r.Status, r.Body)
	}

	// Re-enabled, recovering resends what failed since the given time.
	rc.setStatus(http.StatusNoContent)
	ts.must(200, "PUT", "/v1/webhooks/"+id, map[string]any{"url": rc.URL, "events": []string{"*"}, "disabled": false})
	if got := ts.must(202, "POST", "/v1/webhooks/"+id+"/recover", map[string]any{"since": time.Now().Add(time.Hour).Format(time.RFC3339)}); got["queued"] != float64(0) {
		t.Errorf("recover since a future time queued %v", got["queued"])
	}
	if got := ts.must(202, "POST", "/v1/webhooks/"+id+"/recover", `{"since":"2020-01-01T00:00:00Z"}`); got["queued"] != float64(1) {
		t.Errorf("recover queued %v, want the failed ping", got["queued"])
	}
	eventually(t, "the recovered delivery", func() bool { return len(rc.events()) == 2 })
	if a, b := rc.events()[0].header.Get("webhook-id"), rc.events()[1].header.Get("webhook-id"); a != b {
		t.Errorf("a recovered delivery carries webhook-id %q, first sent as %q", b, a)
	}
	eventually(t, "health to show the success", func() bool {
		h := ts.must(200, "GET", "/v1/webhooks/"+id+"/health", nil)
		return h["last_success"] != nil && h["consecutive_failures"] == float64(0) && h["pending"] == float64(0)
	})
	for _, c := range []struct{ body, field string }{
		{`{}`, "since"}, {`{"since":"yesterday"}`, "since"}, {`{"since":"2020-01-01T00:00:00Z","x":1}`, "x"},
	} {
		if r := ts.do("POST", "/v1/webhooks/"+id+"/recover", c.body); r.Status != 400 || r.errorOf(t)["field"] != c.field {
			t.Errorf("recover %s: %d %s, want 400 naming %s", c.body, r.Status, r.Body, c.field)
		}
	}

	// The deliveries log: two pings, one failed then succeeded on recovery,
	// one more now.
	ts.must(202, "POST", "/v1/webhooks/"+id+"/ping", nil)
	eventually(t, "the second ping", func() bool { return len(rc.events()) == 3 })
	list := func(q string) []any {
		page := ts.must(200, "GET", "/v1/webhooks/"+id+"/deliveries"+q, nil)
		return page["data"].([]any)
	}
	eventually(t, "both deliveries to succeed", func() bool { return len(list("?status=succeeded")) == 2 })
	if n := len(list("?status=failed")); n != 0 {
		t.Errorf("%d failed deliveries after recovery", n)
	}
	if n := len(list("?since=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339))); n != 0 {
		t.Errorf("%d deliveries created in the future", n)
	}
	if n := len(list("?until=2020-01-01T00:00:00Z")); n != 0 {
		t.Errorf("%d deliveries created before 2020", n)
	}
	page := ts.must(200, "GET", "/v1/webhooks/"+id+"/deliveries?limit=1", nil)
	next, _ := page["next_cursor"].(string)
	first := page["data"].([]any)
	second := list("?limit=1&cursor=" + next)
	if len(first) != 1 || len(second) != 1 || next == "" ||
		first[0].(map[string]any)["id"] == second[0].(map[string]any)["id"] {
		t.Errorf("pages of one: %v then %v (cursor %q)", first, second, next)
	}
	for q, field := range map[string]string{"?since=soon": "since", "?until=1": "until", "?status=lost": "status", "?limit=0": "limit"} {
		r := ts.do("GET", "/v1/webhooks/"+id+"/deliveries"+q, nil)
		if r.Status/100 != 4 || r.errorOf(t)["field"] != field {
			t.Errorf("deliveries%s: %d %s, want an error naming %s", q, r.Status, r.Body, field)
		}
	}
	ts.must(404, "GET", "/v1/webhooks/nope/deliveries", nil)
	ts.must(404, "GET", "/v1/webhooks/nope/health", nil)
}

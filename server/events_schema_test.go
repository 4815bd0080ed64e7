package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/parleyhq/parley/delivery"
)

const eventsSchemaPath = "../docs/events.schema.json"

// eventsSchema compiles docs/events.schema.json with formats asserted
// (date-time), and returns it with the document as read.
func eventsSchema(t *testing.T) (*jsonschema.Compiler, map[string]any) {
	t.Helper()
	f, err := os.Open(eventsSchemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", eventsSchemaPath, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(eventsSchemaPath, doc); err != nil {
		t.Fatal(err)
	}
	return c, doc.(map[string]any)
}

func compileEvents(t *testing.T, c *jsonschema.Compiler, fragment string) *jsonschema.Schema {
	t.Helper()
	sch, err := c.Compile(eventsSchemaPath + fragment)
	if err != nil {
		t.Fatalf("%s%s: %v", eventsSchemaPath, fragment, err)
	}
	return sch
}

// eventDefs maps each event type the schema declares to the name of its
// envelope's definition, read from the type's const.
func eventDefs(t *testing.T, doc map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, alt := range doc["oneOf"].([]any) {
		name := strings.TrimPrefix(alt.(map[string]any)["$ref"].(string), "#/$defs/")
		def := doc["$defs"].(map[string]any)[name].(map[string]any)
		typ, _ := def["properties"].(map[string]any)["type"].(map[string]any)["const"].(string)
		if typ == "" {
			t.Fatalf("%s: definition %s has no properties.type.const naming its event type", eventsSchemaPath, name)
		}
		out[typ] = name
	}
	return out
}

// schemaCoverage records, along the schema's definitions, which properties
// and which enum values the delivered events used.
type schemaCoverage struct {
	defs  map[string]any
	props map[string]bool            // "Def.prop"
	enums map[string]map[string]bool // "Def.prop" or "Def" -> values
}

func (c *schemaCoverage) ref(s map[string]any) (string, map[string]any) {
	r, _ := s["$ref"].(string)
	if r == "" {
		return "", s
	}
	name := strings.TrimPrefix(r, "#/$defs/")
	return name, c.defs[name].(map[string]any)
}

// walk follows value v along schema s, found at location at.
func (c *schemaCoverage) walk(at string, s map[string]any, v any) {
	if name, def := c.ref(s); name != "" {
		at, s = name, def
	}
	if _, ok := s["enum"]; ok {
		if c.enums[at] == nil {
			c.enums[at] = map[string]bool{}
		}
		c.enums[at][fmt.Sprint(v)] = true
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		addl, _ := s["additionalProperties"].(map[string]any)
		for k, e := range v {
			if ps, ok := props[k].(map[string]any); ok {
				c.props[at+"."+k] = true
				c.walk(at+"."+k, ps, e)
			} else if addl != nil {
				c.walk(at+"{}", addl, e)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for _, e := range v {
				c.walk(at+"[]", items, e)
			}
		}
	}
}

// Every event the server sends matches docs/events.schema.json, and the
// schema holds nothing the server does not send: a run that makes every
// event type happen (sessions launched every way, on both channel types,
// that complete, fail, expire and are interrupted, a flow with a webhook
// and a subflow, a call with speech and a recording played, the
// simulator's sandbox events, pings and a disabled endpoint) shows every
// type, every property and every enum value the schema declares. Each
// closed object of the schema refuses properties it does not list, so a
// field the server starts sending fails here until the schema (and
// events.md) says what it is.
func TestEventsMatchSchema(t *testing.T) {
	comp, doc := eventsSchema(t)
	whole := compileEvents(t, comp, "")
	defs := doc["$defs"].(map[string]any)
	types := eventDefs(t, doc)

	// The schema's types are the ones a subscription may name.
	if got, want := slices.Sorted(maps.Keys(types)), slices.Sorted(slices.Values(delivery.EventTypes)); !slices.Equal(got, want) {
		t.Errorf("%s declares event types %v; subscriptions take %v", eventsSchemaPath, got, want)
	}
	// A definition with properties is closed, or says why not.
	for name, d := range defs {
		d := d.(map[string]any)
		if _, ok := d["properties"]; ok && d["additionalProperties"] != false {
			t.Errorf("%s: $defs/%s lists properties but does not set additionalProperties: false", eventsSchemaPath, name)
		}
	}

	// A clock the test can move forward, for expiry; it runs as time does
	// otherwise, as the dispatcher schedules by it.
	var skew atomic.Int64
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		c.MaxSteps = 20
		c.MaxPath = 5
	})
	base := ts.listen()
	call := func(status int, method, path string, body any) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != status {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, status, b)
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m
	}
	flow := func(doc string) { call(201, "POST", "/v1/flows", json.RawMessage(doc)) }

	// The far side of the flows' webhook answers JSON.
	far := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"order":"CU001","status":"Shipped"}`)
	}))
	defer far.Close()

	flow(askFlow)
	flow(`{"id":"thanks","name":"Thanks","widgets":[{"id":"t_say","type":"send_message","text":"Thanks!","exits":{"Next":""}}]}`)
	flow(`{"id":"shop","name":"Shop","widgets":[
	 {"id":"hello","type":"send_message","text":"Your order?","exits":{"Next":"wait"}},
	 {"id":"wait","type":"wait_for_response","result":"Order","exits":{"Next":"lookup"}},
	 {"id":"lookup","type":"webhook","method":"POST","url":"` + far.URL + `/orders","result":"Lookup","exits":{"Success":"child","Failure":"child"}},
	 {"id":"child","type":"subflow","flow":"thanks","exits":{"Complete":"bye","Expired":"bye"}},
	 {"id":"bye","type":"send_message","text":"Order @flow.order: @extra.status","quick_replies":["Again","Stop"],
	  "attachments":["image/png:https://example.com/parcel.png"],"exits":{"Next":""}}]}`)
	flow(`{"id":"ivr","name":"IVR","kind":"voice","widgets":[
	 {"id":"greet","type":"say","text":"Welcome","exits":{"Next":"menu"}},
	 {"id":"menu","type":"gather_digits","prompt":"Press 1","num_digits":1,"result":"Choice","exits":{"Next":"thanks"}},
	 {"id":"thanks","type":"say","text":"Thank you","voice":"alice","language":"en-GB","exits":{"Next":"music"}},
	 {"id":"music","type":"play","url":"https://example.com/bye.mp3","exits":{"Next":""}}]}`)
	flow(`{"id":"hi","name":"Hi","widgets":[{"id":"s","type":"send_message","text":"Hello","exits":{"Next":""}}]}`)
	// Past --max-steps in its first turn, and in a later one after sending.
	flow(`{"id":"loop","name":"Loop","widgets":[{"id":"again","type":"send_message","text":"again","exits":{"Next":"again"}}]}`)
	flow(`{"id":"loop-later","name":"Loop later","widgets":[
	 {"id":"wait","type":"wait_for_response","result":"Word","exits":{"Next":"again"}},
	 {"id":"again","type":"send_message","text":"again","exits":{"Next":"again"}}]}`)
	flow(`{"id":"slow","name":"Slow","expire_minutes":1,"widgets":[
	 {"id":"first","type":"wait_for_response","result":"First","exits":{"Next":"second"}},
	 {"id":"second","type":"wait_for_response","result":"Second","exits":{"Next":""}}]}`)
	call(201, "POST", "/v1/channels", map[string]any{"id": "web", "name": "Web chat", "type": "api", "address": "+15550199", "default_flow": "shop"})
	call(201, "POST", "/v1/channels", map[string]any{"id": "tw", "type": "twilio", "default_flow": "hi", "auth_token": twilioTestToken})

	live, sandbox, gone := newSink(t), newSink(t), newSink(t)
	gone.setStatus(http.StatusGone)
	liveSub := call(201, "POST", "/v1/webhooks", map[string]any{"name": "crm", "url": live.URL + "/hook", "events": []string{"*"}, "extra_json": map[string]any{"tenant": "acme"}})
	call(201, "POST", "/v1/webhooks", map[string]any{"url": sandbox.URL, "events": []string{"*"}, "environment": "sandbox"})

	var sessions []string // every session started, each to finish
	started := func(m map[string]any) string {
		id := m["id"].(string)
		sessions = append(sessions, id)
		return id
	}
	// An API launch with a named contact, user keys and variables, to completion.
	id := started(call(201, "POST", "/v1/sessions", map[string]any{
		"flow": "ask", "contact": map[string]any{"urn": "tel:+15550100", "name": "Ada", "fields": map[string]any{"tier": "gold"}},
		"variables": map[string]any{"greeting": "Ada", "code": "7"},
	}))
	call(200, "POST", "/v1/sessions/"+id+"/resume", map[string]any{"text": "Ann"})
	// One interrupted.
	id = started(call(201, "POST", "/v1/sessions", map[string]any{"flow": "ask", "contact": map[string]any{"urn": "tel:+15550101"}}))
	call(200, "POST", "/v1/sessions/"+id+"/interrupt", nil)
	// A channel message launches the webhook and subflow flow.
	started(call(200, "POST", "/v1/channels/web/messages", map[string]any{"from": "+15550102", "text": "hi", "id": "m-1"}))
	call(200, "POST", "/v1/channels/web/messages", map[string]any{"from": "+15550102", "text": "CU001", "id": "m-2"})
	// A call that says and plays.
	id = started(call(201, "POST", "/v1/sessions", map[string]any{"flow": "ivr", "channel": "web", "call": map[string]any{"id": "CA1", "from": "+15550103", "to": "+15550199"}}))
	call(200, "POST", "/v1/sessions/"+id+"/resume", map[string]any{"digits": "1"})
	// A Twilio SMS, whose flow completes in its first turn.
	if status, body := twilioPost(t, base, "/twilio/tw/sms", smsForm("SM1", "hello")); status != 200 {
		t.Fatalf("Twilio SMS: %d %s", status, body)
	}
	// Failures, at the first turn and at a later one.
	started(call(201, "POST", "/v1/sessions", map[string]any{"flow": "loop"}))
	id = started(call(201, "POST", "/v1/sessions", map[string]any{"flow": "loop-later", "contact": map[string]any{"urn": "tel:+15550104"}}))
	call(200, "POST", "/v1/sessions/"+id+"/resume", map[string]any{"text": "go"})
	// The simulator's sandbox session.
	id = started(call(201, "POST", "/v1/simulator/sessions", map[string]any{"flow": "ask", "variables": map[string]any{"code": "9"}}))
	call(200, "POST", "/v1/sessions/"+id+"/resume", map[string]any{"text": "Sim"})
	// One that waits again after an answer, then expires.
	id = started(call(201, "POST", "/v1/sessions", map[string]any{"flow": "slow", "contact": map[string]any{"urn": "tel:+15550105"}}))
	call(200, "POST", "/v1/sessions/"+id+"/resume", map[string]any{"text": "one"})
	skew.Store(int64(2 * time.Minute))
	if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The twilio session's id, to wait for it too.
	for _, e := range call(200, "GET", "/v1/sessions?contact=tel:%2B15550002", nil)["sessions"].([]any) {
		sessions = append(sessions, e.(map[string]any)["id"].(string))
	}
	// A test request, and an endpoint answering 410, disabled at once.
	if res := call(200, "POST", "/v1/webhooks/"+liveSub["id"].(string)+"/test", nil); res["outcome"] != "success" {
		t.Fatalf("test request: %v", res)
	}
	call(201, "POST", "/v1/webhooks", map[string]any{"name": "gone", "url": gone.URL, "events": []string{"*"}})

	finished := func() bool {
		seen := map[string]bool{}
		for _, s := range []*sink{live, sandbox} {
			for _, e := range s.ofType("session.finished") {
				seen[e.data["session_id"].(string)] = true
			}
		}
		for _, id := range sessions {
			if !seen[id] {
				return false
			}
		}
		return len(live.ofType("endpoint.disabled")) > 0
	}
	eventually(t, "every session's session.finished and the endpoint.disabled", finished)

	// GET /v1/event-types serves the schema, one standalone schema per
	// type, each taking the events of its type and no other.
	res, err := http.Get(base + "/v1/event-types")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /v1/event-types: %d %s", res.StatusCode, served)
	}
	(specChecker{t: t, doc: servedOpenAPI(t, ts)}).check(responseSchema("/v1/event-types", "get", "200"), served)
	var list struct {
		EventTypes []struct {
			Type        string         `json:"type"`
			Description string         `json:"description"`
			Schema      map[string]any `json:"schema"`
		} `json:"event_types"`
	}
	if err := json.Unmarshal(served, &list); err != nil {
		t.Fatalf("GET /v1/event-types: %v", err)
	}
	perType := map[string]*jsonschema.Schema{}
	var listed []string
	for _, et := range list.EventTypes {
		listed = append(listed, et.Type)
		if want := defs[types[et.Type]].(map[string]any)["description"]; et.Description == "" || et.Description != want {
			t.Errorf("GET /v1/event-types: %s is described %q, want the schema's %q", et.Type, et.Description, want)
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		loc := "event-types/" + et.Type + ".json"
		if err := c.AddResource(loc, any(et.Schema)); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile(loc)
		if err != nil {
			t.Errorf("GET /v1/event-types: the schema of %s does not compile on its own: %v", et.Type, err)
			continue
		}
		perType[et.Type] = sch
	}
	if !slices.Equal(listed, delivery.EventTypes) {
		t.Errorf("GET /v1/event-types lists %v, want %v", listed, delivery.EventTypes)
	}

	// gaps lists what the schema names that events do not show: a type,
	// a property, an enum value.
	gaps := func(events []sunk) []string {
		cov := &schemaCoverage{defs: defs, props: map[string]bool{}, enums: map[string]map[string]bool{}}
		seenTypes := map[string]bool{}
		for _, e := range events {
			if name, ok := types[e.typ]; ok {
				seenTypes[e.typ] = true
				var v any
				_ = json.Unmarshal(e.body, &v)
				cov.walk(name, defs[name].(map[string]any), v)
			}
		}
		var out []string
		for _, typ := range slices.Sorted(maps.Keys(types)) {
			if !seenTypes[typ] {
				out = append(out, fmt.Sprintf("%s declares %s, which the run did not deliver", eventsSchemaPath, typ))
			}
		}
		for _, name := range slices.Sorted(maps.Keys(defs)) {
			d := defs[name].(map[string]any)
			props, _ := d["properties"].(map[string]any)
			for _, p := range slices.Sorted(maps.Keys(props)) {
				at := name + "." + p
				if !cov.props[at] {
					out = append(out, fmt.Sprintf("%s: $defs/%s declares %q, which no delivered event had", eventsSchemaPath, name, p))
					continue
				}
				enum, _ := props[p].(map[string]any)["enum"].([]any)
				for _, v := range enum {
					if !cov.enums[at][fmt.Sprint(v)] {
						out = append(out, fmt.Sprintf("%s: $defs/%s.%s allows %q, which no delivered event had", eventsSchemaPath, name, p, v))
					}
				}
			}
			enum, _ := d["enum"].([]any)
			for _, v := range enum {
				if !cov.enums[name][fmt.Sprint(v)] {
					out = append(out, fmt.Sprintf("%s: $defs/%s allows %q, which no delivered event had", eventsSchemaPath, name, v))
				}
			}
		}
		return out
	}
	delivered := func() []sunk { return append(live.events(), sandbox.events()...) }
	// Deliveries go out concurrently and in no order (events.md): a
	// session's flow.completed may come after its session.finished. So
	// the run's events are waited for until they show all the schema
	// names; the bound only keeps a gap from hanging the test.
	deadline := time.Now().Add(30 * time.Second)
	for len(gaps(delivered())) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	events := delivered()
	for _, g := range gaps(events) {
		t.Error(g)
	}

	byType := map[string]*jsonschema.Schema{}
	for _, e := range events {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(e.body))
		if err != nil {
			t.Errorf("a delivered body is not JSON: %v\n%s", err, e.body)
			continue
		}
		name, ok := types[e.typ]
		if !ok {
			t.Errorf("a delivered %s is of a type %s does not declare", e.typ, eventsSchemaPath)
			continue
		}
		// Against its type's definition first, for an error that names
		// what is wrong rather than every alternative of oneOf.
		if byType[name] == nil {
			byType[name] = compileEvents(t, comp, "#/$defs/"+name)
		}
		if err := byType[name].Validate(v); err != nil {
			t.Errorf("a delivered %s does not match %s#/$defs/%s: %v\n%s", e.typ, eventsSchemaPath, name, err, e.body)
		} else if err := whole.Validate(v); err != nil {
			t.Errorf("a delivered %s does not match %s: %v\n%s", e.typ, eventsSchemaPath, err, e.body)
		}
		for typ, sch := range perType {
			if err := sch.Validate(v); (err == nil) != (typ == e.typ) {
				t.Errorf("GET /v1/event-types: the schema of %s, given a delivered %s: %v", typ, e.typ, err)
			}
		}
	}
}

// The JSON examples of docs/events.md's event sections match the schema:
// whole events, or the data of the section's type.
func TestEventDocExamplesMatchSchema(t *testing.T) {
	comp, doc := eventsSchema(t)
	types := eventDefs(t, doc)
	defs := doc["$defs"].(map[string]any)
	examples := eventDocExamples(t, "../docs/events.md")
	for typ, name := range types {
		blocks := examples[typ]
		if len(blocks) == 0 {
			t.Errorf("docs/events.md has no JSON example in its %q section", typ)
			continue
		}
		dataRef := defs[name].(map[string]any)["properties"].(map[string]any)["data"].(map[string]any)["$ref"].(string)
		for _, b := range blocks {
			v, err := jsonschema.UnmarshalJSON(strings.NewReader(b))
			if err != nil {
				t.Errorf("docs/events.md, %s: an example is not JSON: %v", typ, err)
				continue
			}
			frag := dataRef
			if m, ok := v.(map[string]any); ok && m["type"] != nil && m["data"] != nil {
				frag = "#/$defs/" + name
			}
			if err := compileEvents(t, comp, frag).Validate(v); err != nil {
				t.Errorf("docs/events.md, %s: the example does not match %s%s: %v", typ, eventsSchemaPath, frag, err)
			}
		}
	}
}

// eventDocExamples returns the JSON blocks of each "### type" section.
func eventDocExamples(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	var section, block string
	inBlock := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			section = ""
		case strings.HasPrefix(line, "### "):
			section = strings.TrimSpace(strings.TrimPrefix(line, "### "))
		case line == "```json" && section != "":
			inBlock, block = true, ""
		case line == "```" && inBlock:
			inBlock = false
			out[section] = append(out[section], block)
		case inBlock:
			block += line + "\n"
		}
	}
	return out
}

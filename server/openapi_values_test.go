package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/widgets"
)

// A configured webhook or subscription is answered within the document's
// enums whatever way the request wrote what the server takes: an auth that
// adds no credentials ("auth": {}, a type of "" or none) is left out, in
// the API and in a --webhooks file alike, and auth.encoding, read in any
// case, is answered in lower case.
func TestOpenAPIWebhookAuthAnsweredInEnums(t *testing.T) {
	file := filepath.Join(t.TempDir(), "webhooks.json")
	err := os.WriteFile(file, []byte(`{"webhooks":[
	  {"name":"file-empty","url":"https://api.example.com/a","auth":{}},
	  {"name":"file-oauth","url":"https://api.example.com/b","auth":{"type":"oauth2_client_credentials",
	    "client_id":"c","client_secret":"s","token_url":"https://auth.example.com/t","encoding":"JSON"}}]}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(c *Config) { c.WebhooksFile = file })
	sc := specChecker{t: t, doc: servedOpenAPI(t, ts)}

	for name, auth := range map[string]string{"empty": `{}`, "blank-type": `{"type":""}`, "none": `{"type":"none"}`, "none-blank": `{"type":"none","token":""}`} {
		r := ts.do("POST", "/v1/webhook-configs", `{"name":"`+name+`","url":"https://api.example.com/x","auth":`+auth+`}`)
		if r.Status != 201 {
			t.Fatalf("POST with auth %s: %d %s", auth, r.Status, r.Body)
		}
		if _, has := r.JSON(t)["auth"]; has {
			t.Errorf("POST with auth %s answered %s, want no auth", auth, r.Body)
		}
		sc.check(responseSchema("/v1/webhook-configs", "post", "201"), r.Body)
	}
	for _, enc := range []string{"JSON", "Json", "Form"} {
		r := ts.do("PUT", "/v1/webhook-configs/oauth-"+enc, `{"url":"https://api.example.com/x","auth":{"type":"oauth2_password",
		  "client_id":"c","username":"u","password":"p","token_url":"https://auth.example.com/t","encoding":"`+enc+`"}}`)
		if r.Status != 201 {
			t.Fatalf("PUT with encoding %s: %d %s", enc, r.Status, r.Body)
		}
		if got := r.JSON(t)["auth"].(map[string]any)["encoding"]; got != strings.ToLower(enc) {
			t.Errorf("PUT with encoding %s answered encoding %v, want %s", enc, got, strings.ToLower(enc))
		}
	}
	r := ts.do("GET", "/v1/webhook-configs", nil)
	sc.check(responseSchema("/v1/webhook-configs", "get", "200"), r.Body)
	for _, c := range r.JSON(t)["webhook_configs"].([]any) {
		c := c.(map[string]any)
		switch c["name"] {
		case "file-empty", "empty", "blank-type", "none", "none-blank":
			if _, has := c["auth"]; has {
				t.Errorf("listed %v, want no auth", c)
			}
		case "file-oauth":
			if got := c["auth"].(map[string]any)["encoding"]; got != "json" {
				t.Errorf("the file's encoding JSON is listed as %v, want json", got)
			}
		}
	}

	r = ts.do("POST", "/v1/webhooks", `{"url":"https://crm.example.com/hooks","auth":{"type":"oauth2_client_credentials",
	  "client_id":"c","client_secret":"s","token_url":"https://auth.example.com/t","encoding":"Json"}}`)
	if r.Status != 201 {
		t.Fatalf("POST /v1/webhooks: %d %s", r.Status, r.Body)
	}
	if got := r.JSON(t)["auth"].(map[string]any)["encoding"]; got != "json" {
		t.Errorf("a subscription with encoding Json answered %v, want json", got)
	}
	sc.check(responseSchema("/v1/webhooks", "post", "201"), r.Body)
	sc.check(responseSchema("/v1/webhooks", "get", "200"), ts.do("GET", "/v1/webhooks", nil).Body)
}

// A flow stored with "kind": "" (no kind: a messaging flow) is answered
// without it, within the document's enum of kinds, whether POST, PUT or
// the simulator's draft stored it.
func TestOpenAPIFlowEmptyKindLeftOut(t *testing.T) {
	ts := newTestServer(t, nil)
	sc := specChecker{t: t, doc: servedOpenAPI(t, ts)}
	ts.must(201, "POST", "/v1/flows", `{"id":"k","name":"K","kind":"","widgets":[{"id":"a","type":"send_message","text":"hi"}]}`)
	ts.must(200, "PUT", "/v1/flows/k", `{"kind":"","name":"K2","widgets":[{"id":"a","type":"send_message","text":"hi"}]}`)
	for _, rev := range []string{"1", "2"} {
		r := ts.do("GET", "/v1/flows/k?revision="+rev, nil)
		def := r.JSON(t)["definition"].(map[string]any)
		if _, has := def["kind"]; has {
			t.Errorf("revision %s: definition %v, want no kind", rev, def)
		}
		if r.JSON(t)["kind"] != "messaging" {
			t.Errorf("revision %s: %s, want kind messaging", rev, r.Body)
		}
		sc.check(responseSchema("/v1/flows/{id}", "get", "200"), r.Body)
	}
	// The simulator's draft of such a flow too, stored once for the same
	// definition.
	def := json.RawMessage(`{"id":"d","name":"D","kind":"","widgets":[{"id":"a","type":"send_message","text":"hi"}]}`)
	for range 2 {
		if r := ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"definition": def}); r["flow"] != "sim.d" {
			t.Fatalf("the simulator ran %v, want the draft sim.d", r["flow"])
		}
	}
	r := ts.do("GET", "/v1/flows/sim.d", nil)
	if _, has := r.JSON(t)["definition"].(map[string]any)["kind"]; has || r.JSON(t)["revision"] != float64(1) {
		t.Errorf("the simulator's draft: %s, want revision 1 without kind", r.Body)
	}
	sc.check(responseSchema("/v1/flows/{id}", "get", "200"), r.Body)
}

// operations lists the document's operations as "METHOD /path".
func operations(doc map[string]any) map[string]map[string]any {
	ops := map[string]map[string]any{}
	for p, item := range doc["paths"].(map[string]any) {
		for m, op := range item.(map[string]any) {
			if m != "parameters" {
				ops[strings.ToUpper(m)+" "+p] = op.(map[string]any)
			}
		}
	}
	return ops
}

// Every operation has an operationId, unique and written as a Go or
// JavaScript method name, so generated clients name their methods by it.
func TestOpenAPIOperationIDs(t *testing.T) {
	ts := newTestServer(t, nil)
	seen := map[string]string{}
	name := regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)
	for op, o := range operations(servedOpenAPI(t, ts)) {
		id, _ := o["operationId"].(string)
		switch {
		case !name.MatchString(id):
			t.Errorf("%s: operationId %q, want a lowerCamelCase name", op, id)
		case seen[id] != "":
			t.Errorf("%s and %s have the same operationId %q", op, seen[id], id)
		}
		seen[id] = op
	}
}

// Every operation declares a default answer of the shared error shape;
// every operation of /v1 and Twilio's webhooks the 500 (internal,
// invalid_flow) and 503 (unavailable) the server may answer, and those
// that write the 507 (insufficient_storage); every answer declares
// X-Request-Id, which the server sets on each. A stored flow that no
// longer loads is answered as declared, and so is a Twilio webhook sent
// with GET. HEAD answers as GET does.
func TestOpenAPIErrorResponses(t *testing.T) {
	ts := newTestServer(t, nil)
	doc := servedOpenAPI(t, ts)
	sc := specChecker{t: t, doc: doc}
	resolve := func(v any) map[string]any {
		m := v.(map[string]any)
		if ref, ok := m["$ref"].(string); ok {
			r, err := sc.resolve(ref)
			if err != nil {
				t.Fatalf("%s: %v", ref, err)
			}
			m = r.(map[string]any)
		}
		return m
	}
	for op, o := range operations(doc) {
		method, path, _ := strings.Cut(op, " ")
		resps := o["responses"].(map[string]any)
		want := []string{"default"}
		if _, refused := resps["405"]; !refused && (strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/twilio/")) {
			want = append(want, "500", "503")
			if method != "GET" && method != "HEAD" && path != "/v1/flows/validate" && path != "/v1/simulator/validate" {
				want = append(want, "507")
			}
		}
		for _, code := range want {
			r, ok := resps[code]
			if !ok {
				t.Errorf("%s declares no %s", op, code)
				continue
			}
			content, _ := resolve(r)["content"].(map[string]any)
			body, _ := content["application/json"].(map[string]any)
			schema, _ := body["schema"].(map[string]any)
			if schema["$ref"] != "#/components/schemas/Error" {
				t.Errorf("%s: %s is %v, want the Error schema", op, code, schema)
			}
		}
		for code, r := range resps {
			headers, _ := resolve(r)["headers"].(map[string]any)
			if _, ok := headers["X-Request-Id"]; !ok {
				t.Errorf("%s: %s does not declare X-Request-Id", op, code)
			}
		}
	}
	// A Twilio webhook sent with GET (a number set to HTTP GET): 405 with
	// Allow: POST, as declared.
	for _, hook := range []string{"sms", "voice"} {
		o := operations(doc)["GET /twilio/{channel}/"+hook]
		if o == nil {
			t.Errorf("openapi.json has no GET /twilio/{channel}/%s", hook)
			continue
		}
		declared := resolve(o["responses"].(map[string]any)["405"])
		headers, _ := declared["headers"].(map[string]any)
		r := ts.do("GET", "/twilio/tw/"+hook, nil)
		if _, ok := headers["Allow"]; !ok || r.Status != 405 || r.Header.Get("Allow") != "POST" {
			t.Errorf("GET /twilio/tw/%s: %d, Allow %q; declared %v", hook, r.Status, r.Header.Get("Allow"), declared)
		}
		sc.check("/components/responses/MethodNotAllowed/content/application~1json/schema", r.Body)
	}
	if d := doc["info"].(map[string]any)["description"].(string); !strings.Contains(d, "HEAD") {
		t.Errorf("info.description does not say that GET operations answer HEAD: %q", d)
	}
	for _, path := range []string{"/v1/flows", "/v1/sessions", "/v1/channels", "/v1/webhooks", "/v1/webhook-configs", "/v1/keys", "/v1/flows/nope", "/healthz", "/openapi.json"} {
		get, head := ts.do("GET", path, nil), ts.do("HEAD", path, nil)
		if head.Status != get.Status || len(head.Body) != 0 || head.Header.Get("X-Request-Id") == "" || get.Header.Get("X-Request-Id") == "" {
			t.Errorf("HEAD %s: %d, %d bytes, X-Request-Id %q; GET: %d, X-Request-Id %q", path, head.Status, len(head.Body), head.Header.Get("X-Request-Id"), get.Status, get.Header.Get("X-Request-Id"))
		}
	}

	// A stored flow that no longer loads: 500 invalid_flow, as declared.
	dir := t.TempDir()
	first := newTestServer(t, func(c *Config) { c.DataDir = dir })
	first.createFlow(`{"id":"rec","name":"Rec","widgets":[{"id":"log","type":"record","action":"answered","fields":{"a":"@input"}}]}`)
	first.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"rec"}`)
	if err := first.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range widgets.Registered().Names() {
		if n != widgets.TypeRecord {
			names = append(names, n)
		}
	}
	second := newTestServer(t, func(c *Config) {
		c.DataDir = dir
		c.Registry = widgets.Registered().Subset(names...)
	})
	r := second.do("POST", "/v1/channels/web/messages", `{"from":"+2","text":"hi"}`)
	if r.Status != 500 || r.errorOf(t)["code"] != "invalid_flow" || r.Header.Get("X-Request-Id") == "" {
		t.Fatalf("a message to a flow that does not load: %d %v %s", r.Status, r.Header, r.Body)
	}
	declared, ok := operations(doc)["POST /v1/channels/{channel}/messages"]["responses"].(map[string]any)["500"].(map[string]any)
	if !ok {
		t.Fatalf("POST /v1/channels/{channel}/messages declares no 500")
	}
	sc.check(strings.TrimPrefix(declared["$ref"].(string), "#")+"/content/application~1json/schema", r.Body)
}

// specNumber reads a number of the served document, decoded as json.Number.
func specNumber(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// The limits the document gives query parameters and the rotation's
// grace_seconds are the server's: a value just outside is refused (400
// naming it), the bounds themselves and each value of an enum are taken.
func TestOpenAPILimitsAreTheServers(t *testing.T) {
	ts := newTestServer(t, nil)
	doc := servedOpenAPI(t, ts)
	ts.createFlow(counterFlow)
	session := ts.must(201, "POST", "/v1/sessions", `{"flow":"counter","contact":{"urn":"tel:+15550001"}}`)["id"].(string)
	sub := ts.must(201, "POST", "/v1/webhooks", `{"url":"https://crm.example.com/hooks","disabled":true}`)["id"].(string)
	ids := map[string]string{"/v1/flows/": "counter", "/v1/sessions/": session, "/v1/webhooks/": sub}
	checked := 0
	for op, o := range operations(doc) {
		method, path, _ := strings.Cut(op, " ")
		params, _ := o["parameters"].([]any)
		if method != "GET" || !slices.ContainsFunc(params, func(p any) bool { return p.(map[string]any)["in"] == "query" }) {
			continue
		}
		url := specParam.ReplaceAllStringFunc(path, func(string) string {
			for prefix, id := range ids {
				if strings.HasPrefix(path, prefix) {
					return id
				}
			}
			t.Fatalf("%s: no id for its path", op)
			return ""
		})
		for _, p := range params {
			p := p.(map[string]any)
			if p["in"] != "query" {
				continue
			}
			name, schema := p["name"].(string), p["schema"].(map[string]any)
			var bad, good []string
			if lo, ok := specNumber(schema["minimum"]); ok {
				bad, good = append(bad, strconv.FormatFloat(lo-1, 'f', -1, 64)), append(good, strconv.FormatFloat(lo, 'f', -1, 64))
			}
			if hi, ok := specNumber(schema["maximum"]); ok {
				bad, good = append(bad, strconv.FormatFloat(hi+1, 'f', -1, 64)), append(good, strconv.FormatFloat(hi, 'f', -1, 64))
			}
			if enum, ok := schema["enum"].([]any); ok {
				bad = append(bad, "zz")
				for _, v := range enum {
					good = append(good, v.(string))
				}
			}
			if pat, ok := schema["pattern"].(string); ok && !regexp.MustCompile(pat).MatchString("x") {
				bad, good = append(bad, "x"), append(good, "1")
			}
			for _, v := range bad {
				checked++
				r := ts.do("GET", url+"?"+name+"="+v, nil)
				if r.Status != 400 || r.errorOf(t)["field"] != name {
					t.Errorf("%s?%s=%s, outside openapi.json's %v: %d %s, want 400 naming %s", op, name, v, schema, r.Status, r.Body, name)
				}
			}
			for _, v := range good {
				if r := ts.do("GET", url+"?"+name+"="+v, nil); r.Status != 200 {
					t.Errorf("%s?%s=%s, within openapi.json's %v: %d %s", op, name, v, schema, r.Status, r.Body)
				}
			}
		}
	}
	if checked < 10 {
		t.Errorf("%d values outside the document's limits sent, want every limit checked", checked)
	}

	grace := doc["paths"].(map[string]any)["/v1/webhooks/{id}/rotate-secret"].(map[string]any)["post"].(map[string]any)["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)["properties"].(map[string]any)["grace_seconds"].(map[string]any)
	lo, hasLo := specNumber(grace["minimum"])
	hi, hasHi := specNumber(grace["maximum"])
	if !hasLo || !hasHi {
		t.Fatalf("grace_seconds %v, want a minimum and a maximum", grace)
	}
	for _, v := range []float64{lo - 1, hi + 1} {
		if r := ts.do("POST", "/v1/webhooks/"+sub+"/rotate-secret", fmt.Sprintf(`{"grace_seconds":%.0f}`, v)); r.Status != 400 || r.errorOf(t)["field"] != "grace_seconds" {
			t.Errorf("grace_seconds %v: %d %s, want 400", v, r.Status, r.Body)
		}
	}
	for _, v := range []float64{lo, hi} {
		ts.must(200, "POST", "/v1/webhooks/"+sub+"/rotate-secret", fmt.Sprintf(`{"grace_seconds":%.0f}`, v))
	}

	// A configuration without its url is refused, as the document requires it.
	sc := specChecker{t: t, doc: doc}
	if r := ts.do("POST", "/v1/webhook-configs", `{"name":"nourl"}`); r.Status != 422 || r.errorOf(t)["field"] != "url" {
		t.Errorf("a configuration without url: %d %s", r.Status, r.Body)
	}
	if req, _ := doc["components"].(map[string]any)["schemas"].(map[string]any)["WebhookConfig"].(map[string]any)["required"].([]any); !slices.Contains(req, any("url")) {
		t.Errorf("WebhookConfig requires %v, want url", req)
	}
	// The events' next is given back as after, as the document says both are.
	for range 3 {
		ts.must(200, "POST", "/v1/sessions/"+session+"/resume", `{"text":"x"}`)
	}
	r := ts.do("GET", "/v1/sessions/"+session+"/events?limit=1", nil)
	sc.check(responseSchema("/v1/sessions/{id}/events", "get", "200"), r.Body)
	next, _ := r.JSON(t)["next"].(string)
	if r := ts.do("GET", "/v1/sessions/"+session+"/events?limit=1&after="+next, nil); r.Status != 200 || next == "" {
		t.Errorf("the next page after %q: %d %s", next, r.Status, r.Body)
	}
}

// The request bodies the document declares are those the server takes: a
// batch with a message without from (answered with an error entry in its
// place), a RapidPro export to the simulator's check, and the demo order
// service's text in a JSON body, a form or the query.
func TestOpenAPIRequestsTheServerTakes(t *testing.T) {
	ts := newTestServer(t, nil)
	doc := servedOpenAPI(t, ts)
	sc := specChecker{t: t, doc: doc}
	request := func(path, ctype string) string {
		return "/paths/" + strings.ReplaceAll(path, "/", "~1") + "/post/requestBody/content/" + strings.ReplaceAll(ctype, "/", "~1") + "/schema"
	}
	ts.createFlow(counterFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"counter"}`)
	batch := `{"messages":[{"from":"+15550003","text":"start"},{"text":"no sender"}]}`
	sc.check(request("/v1/channels/{channel}/messages/batch", "application/json"), []byte(batch))
	r := ts.do("POST", "/v1/channels/web/messages/batch", batch)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"field":"messages[1].from"`) {
		t.Errorf("a batch with a message without from: %d %s", r.Status, r.Body)
	}

	sc.check(request("/v1/simulator/validate", "application/json"), []byte(legacyExport))
	r = ts.do("POST", "/v1/simulator/validate", legacyExport)
	if r.Status != 200 || r.JSON(t)["valid"] != true {
		t.Errorf("the simulator's check of a RapidPro export: %d %s", r.Status, r.Body)
	}
	sc.check(responseSchema("/v1/simulator/validate", "post", "200"), r.Body)

	demo := doc["paths"].(map[string]any)["/demo/order-status"].(map[string]any)["post"].(map[string]any)
	if p, _ := demo["parameters"].([]any); len(p) != 1 || p[0].(map[string]any)["name"] != "text" || p[0].(map[string]any)["in"] != "query" {
		t.Errorf("the demo's parameters %v, want the query's text", p)
	}
	for _, c := range []struct{ ctype, body, query string }{
		{"application/json", `{"text":"CU001"}`, ""},
		{"application/json", `{"input":{"text":"order CU001 please"}}`, ""},
		{"application/json", `{"input":"CU001"}`, ""},
		{"application/x-www-form-urlencoded", `text=CU001`, ""},
		{"", "", "?text=CU001"},
	} {
		if c.ctype != "" {
			sc.check(request("/demo/order-status", c.ctype), func() []byte {
				if c.ctype == "application/json" {
					return []byte(c.body)
				}
				return []byte(`{"text":"CU001"}`) // the form's fields, as JSON
			}())
		}
		req := httptest.NewRequest("POST", "/demo/order-status"+c.query, strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		r := ts.send(req)
		if r.Status != 200 || r.JSON(t)["status"] != "Shipped" {
			t.Errorf("the demo with %s %s%s: %d %s, want CU001 shipped", c.ctype, c.body, c.query, r.Status, r.Body)
		}
	}
}

// A configured webhook stored as sent by an earlier version, with
// "auth": {"type": ""} or an encoding in upper case, is answered within the
// document's enums.
func TestOpenAPIStoredWebhookConfigAnsweredInEnums(t *testing.T) {
	dir := t.TempDir()
	first := newTestServer(t, func(c *Config) { c.DataDir = dir })
	for name, raw := range map[string]string{
		"blank": `{"name":"blank","url":"https://api.example.com/x","auth":{"type":""}}`,
		"upper": `{"name":"upper","url":"https://api.example.com/x","auth":{"type":"oauth2_client_credentials","client_id":"c","client_secret":"s","token_url":"https://auth.example.com/t","encoding":"JSON"}}`,
	} {
		if err := first.srv.store.PutConfig(context.Background(), store.Webhooks, name, []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(c *Config) { c.DataDir = dir })
	sc := specChecker{t: t, doc: servedOpenAPI(t, ts)}
	r := ts.do("GET", "/v1/webhook-configs", nil)
	sc.check(responseSchema("/v1/webhook-configs", "get", "200"), r.Body)
	if blank := ts.must(200, "GET", "/v1/webhook-configs/blank", nil); blank["auth"] != nil {
		t.Errorf("stored with auth type \"\": %v, want no auth", blank)
	}
	if upper := ts.must(200, "GET", "/v1/webhook-configs/upper", nil); upper["auth"].(map[string]any)["encoding"] != "json" {
		t.Errorf("stored with encoding JSON: %v, want json", upper)
	}
}

package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// servedOpenAPI is the document GET /openapi.json answers.
func servedOpenAPI(t *testing.T, ts *testServer) map[string]any {
	t.Helper()
	r := ts.do("GET", "/openapi.json", nil)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc.(map[string]any)
}

// specParam matches a path parameter, as fiber ({:id}) or OpenAPI ({id}) writes it.
var specParam = regexp.MustCompile(`:[^/]+|\{[^}]+\}`)

// The document describes every route of the API and no other: each
// operation of /v1, the Twilio webhooks, the demo, /healthz, /metrics and
// the document itself. Left out is the simulator's page (HTML, see
// docs/simulator.md), and HEAD, which fiber answers for every GET. An
// operation that declares only 405 is a method the server refuses on a
// route of another: it is answered 405.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	ts := newTestServer(t, nil)
	doc := servedOpenAPI(t, ts)
	spec := map[string]bool{}
	for p, item := range doc["paths"].(map[string]any) {
		for m, op := range item.(map[string]any) {
			switch m {
			case "get", "post", "put", "delete", "patch":
				if _, refused := op.(map[string]any)["responses"].(map[string]any)["405"]; refused {
					path := specParam.ReplaceAllString(p, "x")
					if r := ts.do(strings.ToUpper(m), path, nil); r.Status != 405 {
						t.Errorf("%s %s: %d %s, want 405 as openapi.json declares", strings.ToUpper(m), path, r.Status, r.Body)
					}
					continue
				}
				spec[strings.ToUpper(m)+" "+specParam.ReplaceAllString(p, "{}")] = true
			}
		}
	}
	routes := map[string]bool{}
	for _, r := range ts.srv.App().GetRoutes(true) {
		if r.Method == "HEAD" || r.Path == "/simulator" || strings.HasPrefix(r.Path, "/simulator/") {
			continue
		}
		routes[r.Method+" "+specParam.ReplaceAllString(r.Path, "{}")] = true
	}
	for op := range routes {
		if !spec[op] {
			t.Errorf("route %s is not in openapi.json", op)
		}
	}
	for op := range spec {
		if !routes[op] {
			t.Errorf("openapi.json has %s, which the server does not route", op)
		}
	}
	// Every reference resolves, and every component schema compiles.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, err := (specChecker{t: t, doc: doc}).resolve(ref); err != nil {
					t.Errorf("$ref %s: %v", ref, err)
				}
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	for name := range doc["components"].(map[string]any)["schemas"].(map[string]any) {
		(specChecker{t: t, doc: doc}).compile("/components/schemas/" + name)
	}
	// Every /v1 operation may be refused by the key check.
	for p, item := range doc["paths"].(map[string]any) {
		if !strings.HasPrefix(p, "/v1/") {
			continue
		}
		for m, op := range item.(map[string]any) {
			resp := op.(map[string]any)["responses"].(map[string]any)
			for _, code := range []string{"401", "403"} {
				if _, ok := resp[code]; !ok {
					t.Errorf("%s %s declares no %s", strings.ToUpper(m), p, code)
				}
			}
		}
	}
}

// specChecker validates JSON against the schemas of the served document.
type specChecker struct {
	t   *testing.T
	doc map[string]any
}

// resolve finds what a local reference ("#/components/...") points at.
func (c specChecker) resolve(ref string) (any, error) {
	ptr, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("not a reference into the document")
	}
	var v any = c.doc
	for _, tok := range strings.Split(ptr, "/") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q is inside a value that is not an object", tok)
		}
		if v, ok = m[strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")]; !ok {
			return nil, fmt.Errorf("no %q", tok)
		}
	}
	return v, nil
}

// compile compiles the schema at pointer (a JSON pointer into the document,
// ~1 for "/"): OpenAPI 3.0's schemas are JSON Schema draft 4 for what the
// document uses of them.
func (c specChecker) compile(pointer string) *jsonschema.Schema {
	c.t.Helper()
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft4)
	if err := comp.AddResource("openapi.json", c.doc); err != nil {
		c.t.Fatal(err)
	}
	sch, err := comp.Compile("openapi.json#" + pointer)
	if err != nil {
		c.t.Fatalf("openapi.json#%s: %v", pointer, err)
	}
	return sch
}

// check validates body against the schema at pointer.
func (c specChecker) check(pointer string, body []byte) {
	c.t.Helper()
	sch := c.compile(pointer)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		c.t.Fatalf("%s: not JSON: %v", body, err)
	}
	if err := sch.Validate(v); err != nil {
		c.t.Errorf("%s does not match openapi.json#%s: %v", body, pointer, err)
	}
}

// response is the pointer to the schema of an operation's answer.
func responseSchema(path, method, status string) string {
	return "/paths/" + strings.ReplaceAll(path, "/", "~1") + "/" + method + "/responses/" + status + "/content/application~1json/schema"
}

// What the server answers matches what the document says: the health check
// has a body, a key's allow is an array even when the key was made without
// one, a PUT of a channel may leave its id out, the simulator's endpoints
// are described, and 401 and 403 answers are errors of the shared shape.
func TestOpenAPIDescribesAnswers(t *testing.T) {
	const key = "k-0123456789abcdef"
	ts := newTestServer(t, func(c *Config) {
		c.APIKeys = []APIKey{{Name: "main", Key: key}, {Name: "office", Key: "office-0123456789", Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	})
	sc := specChecker{t: t, doc: servedOpenAPI(t, ts)}

	r := ts.do("GET", "/healthz", nil)
	sc.check(responseSchema("/healthz", "get", "200"), r.Body)

	r = ts.do("POST", "/v1/keys", `{"name":"ci"}`)
	if r.Status != 201 || !strings.Contains(string(r.Body), `"allow":[]`) {
		t.Errorf("POST /v1/keys without allow: %d %s", r.Status, r.Body)
	}
	sc.check(responseSchema("/v1/keys", "post", "201"), r.Body)
	r = ts.do("GET", "/v1/keys", nil)
	if !strings.Contains(string(r.Body), `"allow":[]`) {
		t.Errorf("GET /v1/keys: %s", r.Body)
	}
	sc.check(responseSchema("/v1/keys", "get", "200"), r.Body)

	ts.must(201, "POST", "/v1/flows", `{"id":"hello","name":"Hello","widgets":[
	  {"id":"ask","type":"wait_for_response","exits":{"Next":"said"}},
	  {"id":"said","type":"send_message","text":"You said @input","exits":{"Next":""}}]}`)
	ts.must(200, "POST", "/v1/flows/hello/publish", `{}`)
	put := `{"name":"SMS","type":"api","default_flow":"hello"}`
	sc.check("/components/schemas/ChannelBody", []byte(put))
	r = ts.do("PUT", "/v1/channels/sms", put)
	if r.Status != 201 {
		t.Fatalf("PUT /v1/channels/sms without id: %d %s", r.Status, r.Body)
	}
	sc.check(responseSchema("/v1/channels/{channel}", "put", "201"), r.Body)

	r = ts.do("POST", "/v1/simulator/sessions", `{"flow":"hello","contact":{"urn":"tel:+15550001"}}`)
	if r.Status != 201 {
		t.Fatalf("POST /v1/simulator/sessions: %d %s", r.Status, r.Body)
	}
	sc.check(responseSchema("/v1/simulator/sessions", "post", "201"), r.Body)
	var started struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(r.Body, &started)
	r = ts.do("POST", "/v1/simulator/sessions/"+started.ID+"/hangup", nil)
	if r.Status != 200 {
		t.Fatalf("hangup: %d %s", r.Status, r.Body)
	}
	sc.check(responseSchema("/v1/simulator/sessions/{id}/hangup", "post", "200"), r.Body)

	// A session on a channel, alone and listed, and a RapidPro export as
	// the request of POST /v1/flows.
	r = ts.do("POST", "/v1/channels/sms/messages", `{"from":"+15550002","text":"hi"}`)
	if r.Status != 200 {
		t.Fatalf("POST /v1/channels/sms/messages: %d %s", r.Status, r.Body)
	}
	_ = json.Unmarshal(r.Body, &started)
	r = ts.do("GET", "/v1/sessions/"+started.ID, nil)
	if !strings.Contains(string(r.Body), `"channel":{"id":"sms"`) {
		t.Errorf("GET /v1/sessions/{id} of a channel's session: %s", r.Body)
	}
	sc.check(responseSchema("/v1/sessions/{id}", "get", "200"), r.Body)
	r = ts.do("GET", "/v1/sessions", nil)
	sc.check(responseSchema("/v1/sessions", "get", "200"), r.Body)
	sc.check("/paths/~1v1~1flows/post/requestBody/content/application~1json/schema", []byte(legacyExport))

	// A subscription, its signing secrets shown, and the list, where they
	// read [redacted] as the document says.
	r = ts.do("POST", "/v1/webhooks", `{"url":"https://crm.example.com/hooks","disabled":true}`)
	sc.check(responseSchema("/v1/webhooks", "post", "201"), r.Body)
	subID, _ := r.JSON(t)["id"].(string)
	r = ts.do("GET", "/v1/webhooks/"+subID, nil)
	if !strings.Contains(string(r.Body), `"secret":"whsec_`) {
		t.Errorf("GET /v1/webhooks/{id}: %s, want its signing secret", r.Body)
	}
	sc.check(responseSchema("/v1/webhooks/{id}", "get", "200"), r.Body)
	r = ts.do("GET", "/v1/webhooks", nil)
	if !strings.Contains(string(r.Body), `"secret":"[redacted]"`) || strings.Contains(string(r.Body), "whsec_") {
		t.Errorf("GET /v1/webhooks: %s, want the signing secrets [redacted]", r.Body)
	}
	sc.check(responseSchema("/v1/webhooks", "get", "200"), r.Body)
	listed := sc.doc["paths"].(map[string]any)["/v1/webhooks"].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)["200"].(map[string]any)
	if d, _ := listed["description"].(string); !strings.Contains(d, "[redacted]") || !strings.Contains(d, "GET /v1/webhooks/{id}") {
		t.Errorf("openapi.json's list of subscriptions is described %q: it should say the signing secrets read [redacted] and where to read them", d)
	}

	// No key: 401; a key used from outside its networks: 403.
	req := httptest.NewRequest("GET", "/v1/flows", nil)
	r = ts.send(req)
	if r.Status != 401 || !slices.Contains(r.Header.Values("WWW-Authenticate"), `Bearer realm="parley"`) {
		t.Errorf("no key: %d %v %s", r.Status, r.Header, r.Body)
	}
	sc.check("/components/responses/Unauthorized/content/application~1json/schema", r.Body)
	req = httptest.NewRequest("GET", "/v1/flows", nil)
	req.Header.Set("Authorization", "Bearer office-0123456789")
	r = ts.send(req)
	if r.Status != 403 {
		t.Errorf("key from outside its networks: %d %s", r.Status, r.Body)
	}
	sc.check("/components/responses/Forbidden/content/application~1json/schema", r.Body)
}

// documentedStatus fails the test when the document does not declare the
// status an operation answered with.
func documentedStatus(t *testing.T, doc map[string]any, method, path string, status int, why string) {
	t.Helper()
	op, _ := doc["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
	if op == nil {
		t.Fatalf("openapi.json has no %s %s", method, path)
	}
	if _, ok := op["responses"].(map[string]any)[strconv.Itoa(status)]; !ok {
		t.Errorf("%s %s answered %d (%s), which openapi.json does not declare", method, path, status, why)
	}
}

// Every status the server answers an operation with is one the document
// declares for it: what it answers unknown ids and bodies that are empty,
// malformed, of the wrong type or with an unknown field, or sent as a
// form to a JSON endpoint; a body over
// --body-limit, which every operation that takes one may be sent; a
// channel whose flow is of the wrong kind for a message or call (422
// no_flow); a badly escaped id in the path; and a disabled endpoint's ping
// (422).
func TestOpenAPIDocumentsStatuses(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.BodyLimit = 1024 })
	doc := servedOpenAPI(t, ts)
	base := ts.listen()
	send := func(method, path, ctype, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for p, item := range doc["paths"].(map[string]any) {
		for m := range item.(map[string]any) {
			method := strings.ToUpper(m)
			switch method {
			case "GET", "POST", "PUT", "DELETE":
			default:
				continue
			}
			path := specParam.ReplaceAllString(p, "x")
			ctype := "application/json"
			if strings.HasPrefix(p, "/twilio/") {
				ctype = "application/x-www-form-urlencoded"
			}
			for _, body := range []string{"", "{", "[]", `{"zz":1}`, "{}"} {
				documentedStatus(t, doc, method, p, send(method, path, ctype, body), fmt.Sprintf("body %q", body))
			}
			if method != "GET" && strings.HasPrefix(p, "/v1/") {
				// Every /v1 body is JSON: a form is refused before the
				// handler, validate's "200 for any JSON body" included.
				documentedStatus(t, doc, method, p, send(method, path, "application/x-www-form-urlencoded", "flow=x"), "a form body")
			}
			if method != "GET" {
				status := send(method, path, ctype, strings.Repeat("a", 2048))
				if status != 413 {
					t.Errorf("%s %s with a body over the limit: %d, want 413", method, path, status)
				}
				documentedStatus(t, doc, method, p, status, "a body over --body-limit")
			}
			if path != p {
				// A path id that is not escaped as a URL's path is (as curl
				// --path-as-is sends it): 400, as docs/api.md's "Ids in paths".
				req, err := http.NewRequest(method, base+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.URL.Opaque = specParam.ReplaceAllString(p, "50%zz")
				req.Header.Set("Content-Type", ctype)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", method, req.URL.Opaque, err)
				}
				resp.Body.Close()
				documentedStatus(t, doc, method, p, resp.StatusCode, "a path id badly escaped")
			}
		}
	}

	// A channel whose flows were made the other kind since it was set.
	ts.createFlow(`{"id":"fm","name":"Text","widgets":[{"id":"a","type":"send_message","text":"hi"}]}`)
	ts.must(201, "PUT", "/v1/channels/tw", `{"type":"twilio","default_flow":"fm"}`)
	ts.must(200, "PUT", "/v1/flows/fm", `{"kind":"voice","name":"Now voice","widgets":[{"id":"a","type":"say","text":"spoken"}]}`)
	noFlow := func(why string, cases ...[3]string) {
		for _, c := range cases {
			path, ctype, body := c[0], c[1], c[2]
			status := send("POST", strings.ReplaceAll(path, "{channel}", "tw"), ctype, body)
			if status != 422 {
				t.Errorf("POST %s to a channel %s: %d, want 422", path, why, status)
			}
			documentedStatus(t, doc, "POST", path, status, "no_flow")
		}
	}
	noFlow("whose default_flow is a voice flow",
		[3]string{"/v1/channels/{channel}/messages", "application/json", `{"from":"+1","text":"hi"}`},
		[3]string{"/twilio/{channel}/sms", "application/x-www-form-urlencoded", "From=%2B1&Body=hi"})
	ts.createFlow(`{"id":"fm2","name":"Text","widgets":[{"id":"a","type":"send_message","text":"hi"}]}`)
	ts.must(200, "PUT", "/v1/channels/tw", `{"type":"twilio","default_flow":"fm2"}`)
	// Twilio's voice webhook answers it in TwiML the caller hears.
	noFlow("without a voice flow",
		[3]string{"/v1/channels/{channel}/calls", "application/json", `{"call_id":"CA1","from":"+1"}`})

	// A disabled endpoint is not pinged (nor, by the same check, sent a
	// delivery again: POST /v1/deliveries/{id}/retry declares 422 too).
	sub := ts.must(201, "POST", "/v1/webhooks", `{"url":"https://crm.example.com/hooks"}`)
	id := sub["id"].(string)
	ts.must(200, "PUT", "/v1/webhooks/"+id, `{"url":"https://crm.example.com/hooks","disabled":true}`)
	status := send("POST", "/v1/webhooks/"+id+"/ping", "application/json", "")
	if status != 422 {
		t.Errorf("ping of a disabled endpoint: %d, want 422", status)
	}
	documentedStatus(t, doc, "POST", "/v1/webhooks/{id}/ping", status, "a disabled endpoint")
}

// The document's unions each match a real answer by one branch alone: a
// batch's error entry is not also a turn's reply, and an import's answer,
// with its report, is not also a single saved flow.
func TestOpenAPIUnionsMatchOneBranch(t *testing.T) {
	ts := newTestServer(t, nil)
	sc := specChecker{t: t, doc: servedOpenAPI(t, ts)}
	ts.createFlow(counterFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"counter"}`)

	r := ts.do("POST", "/v1/channels/web/messages/batch", `{"messages":[{"from":"+15550003","text":"start"},{"text":"no sender"}]}`)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"error":{`) {
		t.Fatalf("batch with a message without from: %d %s", r.Status, r.Body)
	}
	sc.check(responseSchema("/v1/channels/{channel}/messages/batch", "post", "200"), r.Body)

	for _, body := range []string{askFlow, partlyLegacyExport, legacyExport} {
		r = ts.do("POST", "/v1/flows", body)
		if r.Status != 201 {
			t.Fatalf("POST /v1/flows: %d %s", r.Status, r.Body)
		}
		sc.check(responseSchema("/v1/flows", "post", "201"), r.Body)
	}
}

// A method a path of the document does not take is answered 405
// method_not_allowed with an Allow header listing the methods it takes,
// as the document declares them (HEAD with GET), not a 404 that reads as
// a wrong path or id.
func TestOpenAPIOtherMethodsNotAllowed(t *testing.T) {
	ts := newTestServer(t, nil)
	doc := servedOpenAPI(t, ts)
	// takes lists, by path pattern, the methods of its operations that
	// are served (not those declared only to be refused with 405).
	takes := map[string]map[string]bool{}
	for p, item := range doc["paths"].(map[string]any) {
		takes[p] = map[string]bool{}
		for m, op := range item.(map[string]any) {
			if m == "parameters" {
				continue
			}
			if _, refused := op.(map[string]any)["responses"].(map[string]any)["405"]; !refused {
				takes[p][strings.ToUpper(m)] = true
			}
		}
	}
	patterns := map[string]*regexp.Regexp{}
	for p := range takes {
		parts := specParam.Split(p, -1)
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		patterns[p] = regexp.MustCompile("(?i)^" + strings.Join(parts, "[^/]+") + "$")
	}
	checked := 0
	for p := range takes {
		path := specParam.ReplaceAllString(p, "x")
		// Every pattern the path matches routes it: /v1/flows/validate
		// is also /v1/flows/{id}.
		methods := map[string]bool{}
		for q, re := range patterns {
			if re.MatchString(path) {
				for m := range takes[q] {
					methods[m] = true
				}
			}
		}
		if methods["GET"] {
			methods["HEAD"] = true
		}
		var want []string
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
			if methods[m] {
				want = append(want, m)
			}
		}
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if methods[m] {
				continue
			}
			checked++
			r := ts.do(m, path, nil)
			if r.Status != 405 {
				t.Errorf("%s %s: %d %s, want 405 method_not_allowed (it takes %v)", m, path, r.Status, r.Body, want)
				continue
			}
			if got := r.Header.Get("Allow"); got != strings.Join(want, ", ") {
				t.Errorf("%s %s: Allow %q, want %q", m, path, got, strings.Join(want, ", "))
			}
			if e := r.errorOf(t); e["code"] != CodeMethodNotAllowed {
				t.Errorf("%s %s: %s, want code %s", m, path, r.Body, CodeMethodNotAllowed)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no method was checked")
	}
	// A path no route has is still 404.
	if r := ts.do("PATCH", "/v1/nowhere", nil); r.Status != 404 || r.Header.Get("Allow") != "" {
		t.Errorf("PATCH /v1/nowhere: %d, Allow %q, want 404 without Allow", r.Status, r.Header.Get("Allow"))
	}
}

// A query parameter an operation declares, given twice, is refused, 400
// bad_request naming it, rather than its first value taken and the other
// dropped (?status=waiting&status=failed, meant as either).
func TestOpenAPIQueryParameterGivenTwice(t *testing.T) {
	ts := newTestServer(t, nil)
	checked := 0
	for op, o := range operations(servedOpenAPI(t, ts)) {
		method, p, _ := strings.Cut(op, " ")
		if !strings.HasPrefix(p, "/v1/") {
			continue
		}
		params, _ := o["parameters"].([]any)
		for _, prm := range params {
			prm := prm.(map[string]any)
			if prm["in"] != "query" {
				continue
			}
			name := prm["name"].(string)
			path := specParam.ReplaceAllString(p, "x") + "?" + name + "=1&" + name + "=2"
			r := ts.do(method, path, nil)
			checked++
			if e := r.errorOf(t); r.Status != 400 || e["code"] != CodeBadRequest || e["field"] != name ||
				!strings.Contains(e["message"].(string), name+` is given 2 times ("1", "2")`) {
				t.Errorf("%s %s: %d %s, want 400 bad_request naming %s", method, path, r.Status, r.Body, name)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no query parameter was checked")
	}
	if r := ts.do("GET", "/v1/sessions?status=waiting&limit=2", nil); r.Status != 200 {
		t.Errorf("GET /v1/sessions with each parameter once: %d %s", r.Status, r.Body)
	}
}

// A query parameter an operation does not declare is refused, 400
// bad_request naming it, with the nearest declared one and the list of
// those the operation takes, on every /v1 operation: ignored, ?stauts=failed
// listed every session and ?limit=1 every flow.
func TestOpenAPIUnknownQueryParameter(t *testing.T) {
	ts := newTestServer(t, nil)
	checked := 0
	for op := range operations(servedOpenAPI(t, ts)) {
		method, p, _ := strings.Cut(op, " ")
		if !strings.HasPrefix(p, "/v1/") {
			continue
		}
		path := specParam.ReplaceAllString(p, "x") + "?nosuch=1"
		r := ts.do(method, path, nil)
		checked++
		if r.Status != 400 {
			t.Errorf("%s %s: %d %s, want 400 bad_request naming nosuch", method, path, r.Status, r.Body)
			continue
		}
		if method == "HEAD" {
			continue // no body to read
		}
		if e := r.errorOf(t); e["code"] != CodeBadRequest || e["field"] != "nosuch" ||
			!strings.Contains(e["message"].(string), `unknown query parameter "nosuch": `+op+" takes") {
			t.Errorf("%s %s: %s, want bad_request naming nosuch and the operation", method, path, r.Body)
		}
	}
	if checked < 40 {
		t.Fatalf("%d operations checked", checked)
	}
	for _, tc := range []struct{ path, field, message string }{
		{"/v1/sessions?stauts=failed", "stauts", `unknown query parameter "stauts" (did you mean "status"?): GET /v1/sessions takes status, flow, contact, contact_prefix, after, limit`},
		{"/v1/flows?limit=1", "limit", `unknown query parameter "limit": GET /v1/flows takes no query parameters`},
		{"/v1/sessions?limit=1&Limit=2", "Limit", `unknown query parameter "Limit" (did you mean "limit"?)`},
		{"/v1/flows/x?rev=1", "rev", `(did you mean "revision"?): GET /v1/flows/{id} takes revision`},
		{"/v1/webhooks?env=sandbox", "env", `(did you mean "environment"?)`},
		{"/v1/webhooks?=sandbox", "", `the query has a parameter without a name (=...): GET /v1/webhooks takes environment`},
	} {
		r := ts.do("GET", tc.path, nil)
		if r.Status != 400 {
			t.Errorf("GET %s: %d %s, want 400", tc.path, r.Status, r.Body)
			continue
		}
		var field any = tc.field
		if tc.field == "" {
			field = nil // none to name
		}
		if e := r.errorOf(t); e["field"] != field || !strings.Contains(e["message"].(string), tc.message) {
			t.Errorf("GET %s: %v, want field %s and a message holding %q", tc.path, e, tc.field, tc.message)
		}
	}
	// Declared ones, HEAD as GET, a trailing slash and a path in another
	// case are taken as the route takes them.
	for _, path := range []string{"/v1/sessions?status=waiting&limit=2", "/v1/sessions/?limit=2", "/V1/Sessions?limit=2", "/v1/flows?", "/v1/webhooks?environment=sandbox"} {
		if r := ts.do("GET", path, nil); r.Status != 200 {
			t.Errorf("GET %s: %d %s, want 200", path, r.Status, r.Body)
		}
	}
	if r := ts.do("HEAD", "/v1/sessions?limit=2", nil); r.Status != 200 {
		t.Errorf("HEAD /v1/sessions?limit=2: %d, want 200", r.Status)
	}
	if r := ts.do("HEAD", "/v1/sessions?x=2", nil); r.Status != 400 {
		t.Errorf("HEAD /v1/sessions?x=2: %d, want 400", r.Status)
	}
	// Routes that are not the API's take any query: Twilio adds its own,
	// and monitoring adds its own to /healthz and /metrics.
	for _, path := range []string{"/healthz?probe=1", "/metrics?name[]=x", "/openapi.json?v=2"} {
		if r := ts.do("GET", path, nil); r.Status != 200 {
			t.Errorf("GET %s: %d %s, want 200", path, r.Status, r.Body)
		}
	}
}

// An operation that takes no body refuses one with a field, 400
// unknown_field naming it, as the operations that take a body refuse a
// field they do not know: POST /v1/webhooks/{id}/ping with {"x":1} was
// answered 202, the field ignored. No body, {} or null is taken.
func TestOpenAPIBodylessOperations(t *testing.T) {
	ts := newTestServer(t, nil)
	checked := 0
	for op, o := range operations(servedOpenAPI(t, ts)) {
		method, p, _ := strings.Cut(op, " ")
		if _, ok := o["requestBody"]; ok || method == "GET" || method == "HEAD" || !strings.HasPrefix(p, "/v1/") {
			continue
		}
		path := specParam.ReplaceAllString(p, "x")
		checked++
		r := ts.do(method, path, `{"x":1}`)
		if r.Status != 400 {
			t.Errorf("%s %s {\"x\":1}: %d %s, want 400 unknown_field", method, path, r.Status, r.Body)
			continue
		}
		if e := r.errorOf(t); e["code"] != CodeUnknownField || e["field"] != "x" ||
			e["message"] != `unknown field "x": `+op+" takes no body; send none, or {}" {
			t.Errorf("%s %s {\"x\":1}: %s, want unknown_field naming x", method, path, r.Body)
		}
		if r := ts.do(method, path, `[1]`); r.Status != 400 || r.errorOf(t)["code"] != CodeInvalidField {
			t.Errorf("%s %s [1]: %d %s, want 400 invalid_field", method, path, r.Status, r.Body)
		}
		// Without a body, or with {}, the operation answers as it does
		// (here 404: no such id).
		for _, body := range []any{nil, "{}", " { }\n", "null"} {
			if r := ts.do(method, path, body); r.Status != 404 {
				t.Errorf("%s %s %v: %d %s, want 404", method, path, body, r.Status, r.Body)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("%d operations checked", checked)
	}

	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	ts = newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	id := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": hook.URL, "events": []string{"*"}})["id"].(string)
	if r := ts.do("POST", "/v1/webhooks/"+id+"/ping", `{"x":1}`); r.Status != 400 {
		t.Errorf("ping with {\"x\":1}: %d %s, want 400", r.Status, r.Body)
	}
	for _, body := range []any{nil, "{}"} {
		if r := ts.do("POST", "/v1/webhooks/"+id+"/ping", body); r.Status != 202 {
			t.Errorf("ping with %v: %d %s, want 202", body, r.Status, r.Body)
		}
	}
}

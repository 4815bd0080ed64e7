package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// messageBodies are channel message bodies on the edges of encoding/json's
// behaviour: name case and folding, duplicates, nulls, escapes, invalid
// UTF-8, unknown members and trailing data.
var messageBodies = []string{
	`{"from":"+1555","text":"hi","id":"m1"}`,
	` {"from":"+1555"} `,
	`{"FROM":"+1555","Text":"hi","ID":"m1"}`,
	`{"from":"a","from":"b"}`,
	`{"from":"a","From":"b"}`,
	`{"from":null,"text":null}`,
	`null`,
	`{"from":"\u00e9\ud83d\ude00","text":"a\"b\\c\n"}`,
	"{\"from\":\"\xff\xfe\",\"text\":\"ok\"}",
	"{\"fr\xc5\xbfom\":\"x\"}",
	"{\"\u017fext\":\"x\",\"from\":\"y\"}",
	`{"from":"a","extra":1}`,
	`{"from":"a"}{"from":"b"}`,
	`{"from":"a"} x`,
	`{"from":1}`,
	`{"from":["a"]}`,
	`{"from":"a",}`,
	`{"from":"a"`,
	`[]`,
	`"from"`,
	``,
	`   `,
	`{}`,
	`{"text":{"a":1}}`,
	`{"id":"1","from":"x","text":""}`,
	`{"from":"a","text":"b","text":"c"}`,
	`{"From":"a"}`,
	`{"from":"a","from":1}`,
}

// TestDecodeStrict checks decodeStrict against encoding/json on message
// bodies: see checkDecodeStrict.
func TestDecodeStrict(t *testing.T) {
	for _, body := range messageBodies {
		checkDecodeStrict(t, []byte(body))
	}
}

func FuzzDecodeStrict(f *testing.F) {
	for _, body := range messageBodies {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecodeStrict(t, body) })
}

// checkDecodeStrict checks that decodeStrict decodes a message body as
// encoding/json does (unknown fields and trailing data refused), the same
// values or an error of the same status and code, except for a body
// encoding/json takes only by its leniency about names: one in another case
// than its field's, or given twice. decodeStrict refuses that one, naming
// the name, and a body of null, which encoding/json reads as {}.
func checkDecodeStrict(t *testing.T, body []byte) {
	t.Helper()
	var strict, std messageBody
	serr := decodeStrict(body, &strict)
	if bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		// encoding/json reads null as {}: decodeStrict refuses it as
		// no JSON object.
		if ae, ok := serr.(*APIError); !ok || ae.Code != CodeInvalidField || ae.Field != "$" {
			t.Fatalf("%q: decodeStrict %v, want invalid_field at $", body, serr)
		}
		return
	}
	var stdErr error
	if len(bytes.TrimSpace(body)) == 0 {
		stdErr = errors.New("empty")
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if stdErr = dec.Decode(&std); stdErr == nil {
			if _, err := dec.Token(); !errors.Is(err, io.EOF) {
				stdErr = errors.New("trailing data")
			}
		}
	}
	switch {
	case serr == nil && stdErr != nil:
		t.Fatalf("%q: decodeStrict took what encoding/json refuses (%v)", body, stdErr)
	case serr == nil:
		if !reflect.DeepEqual(strict, std) {
			t.Fatalf("%q: decodeStrict %+v, encoding/json %+v", body, strict, std)
		}
	case stdErr != nil:
		ae := serr.(*APIError)
		if ae.Status != 400 || ae.Code == "" || ae.Message == "" {
			t.Fatalf("%q: decodeStrict error %+v", body, ae)
		}
		if len(ae.Details) == 1 || len(ae.Details) > 0 && ae.Details[0].Path != ae.Field {
			t.Fatalf("%q: decodeStrict lists %v for its error at %q: want several, that one first", body, ae.Details, ae.Field)
		}
	default:
		// encoding/json took it: only a name may be at fault.
		ae := serr.(*APIError)
		byName := ae.Code == CodeUnknownField && strings.Contains(ae.Message, "case-sensitive") ||
			ae.Code == CodeMalformedJSON && strings.Contains(ae.Message, "given twice")
		if ae.Status != 400 || !byName || ae.Field == "" {
			t.Fatalf("%q: encoding/json takes it, decodeStrict refuses it with %+v, not for a name", body, ae)
		}
		lenient := jsonv2.JoinOptions(apiDecoding, jsonv2.MatchCaseInsensitiveNames(true), jsontext.AllowDuplicateNames(true))
		var again messageBody
		if err := jsonv2.Unmarshal(body, &again, lenient); err != nil {
			t.Fatalf("%q: refused for %q, yet also refused with names matched as encoding/json matches them: %v", body, ae.Message, err)
		}
	}
}

// Errors about a body's JSON types say what was expected in JSON's terms,
// never a Go type's name.
func TestBodyTypeErrorsInJSONTerms(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(201, "POST", "/v1/channels", `{"id":"web"}`)
	for _, c := range []struct{ path, body, field, msg string }{
		{"/v1/channels/web/messages", `[]`, "$", "$: expected a JSON object, got JSON array"},
		{"/v1/channels/web/messages", `{"from":1}`, "from", "from: expected a string, got JSON number"},
		{"/v1/channels/web/messages/batch", `[]`, "$", "$: expected a JSON object, got JSON array"},
		{"/v1/channels/web/messages/batch", `{"messages":{}}`, "messages", "messages: expected an array of messages, got JSON object"},
		{"/v1/channels/web/messages/batch", `{"messages":[1]}`, "messages[0]", "messages[0]: expected a JSON object, got JSON number"},
		{"/v1/sessions", `{"flow":"x","variables":[]}`, "variables", "variables: expected a JSON object, got JSON array"},
		{"/v1/sessions", `{"flow":"x","contact":{"fields":{"a":1}}}`, "contact.fields.a", "contact.fields.a: expected a string, got JSON number"},
		{"/v1/channels", `{"id":"x","triggers":"join"}`, "triggers", "triggers: expected an array of JSON objects, got JSON string"},
		{"/v1/sessions/x/resume", `{"timeout":"yes"}`, "timeout", "timeout: expected true or false, got JSON string"},
		{"/v1/flows/x/publish", `{"revision":1.5}`, "revision", "revision: expected an integer, got JSON number 1.5"},
	} {
		r := ts.do("POST", c.path, c.body)
		e := r.errorOf(t)
		if r.Status != 400 || e["code"] != CodeInvalidField || e["field"] != c.field || e["message"] != c.msg {
			t.Errorf("POST %s %s: %d %s, want 400 invalid_field on %s: %q", c.path, c.body, r.Status, r.Body, c.field, c.msg)
		}
	}
}

// Query parameters are checked alike everywhere: a bad value is 400
// bad_request naming the parameter.
func TestQueryParameterErrors(t *testing.T) {
	ts := newTestServer(t, nil)
	sub := ts.must(201, "POST", "/v1/webhooks", `{"url":"https://crm.example.com/hooks"}`)
	id := sub["id"].(string)
	ts.expectErrors(t, []apiErrorCase{
		{name: "session status", method: "GET", path: "/v1/sessions?status=bogus", status: 400, code: CodeBadRequest, field: "status"},
		{name: "delivery status", method: "GET", path: "/v1/webhooks/" + id + "/deliveries?status=bogus", status: 400, code: CodeBadRequest, field: "status"},
		{name: "delivery since", method: "GET", path: "/v1/webhooks/" + id + "/deliveries?since=yesterday", status: 400, code: CodeBadRequest, field: "since"},
		{name: "delivery limit", method: "GET", path: "/v1/webhooks/" + id + "/deliveries?limit=0", status: 400, code: CodeBadRequest, field: "limit"},
		{name: "delivery cursor", method: "GET", path: "/v1/webhooks/" + id + "/deliveries?cursor=zzz", status: 400, code: CodeBadRequest, field: "cursor"},
		{name: "webhook environment", method: "GET", path: "/v1/webhooks?environment=bogus", status: 400, code: CodeBadRequest, field: "environment"},
		{name: "session limit", method: "GET", path: "/v1/sessions?limit=x", status: 400, code: CodeBadRequest, field: "limit"},
	})
	r := ts.do("GET", "/v1/webhooks/"+id+"/deliveries?cursor=zzz", nil)
	if msg := r.errorOf(t)["message"]; msg != `cursor must be a next_cursor of this endpoint's deliveries, got "zzz"` {
		t.Errorf("bad cursor: message %q, want a sentence naming the parameter once", msg)
	}
	for _, q := range []string{"environment=live", "environment=sandbox", ""} {
		ts.must(200, "GET", "/v1/webhooks?"+q, nil)
	}
	ts.must(200, "GET", "/v1/webhooks/"+id+"/deliveries?status=failed", nil)
}

// Request bodies match names exactly, as flow documents do, and take each
// name once: "From" is not from (encoding/json let it replace from), and
// a name given twice is refused rather than its last value kept.
func TestBodyNamesExactAndOnce(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"ask"}`)
	ts.expectErrors(t, []apiErrorCase{
		{name: "message From", method: "POST", path: "/v1/channels/web/messages", body: `{"from":"+1","From":"+2","text":"hi"}`, status: 400, code: CodeUnknownField, field: "From"},
		{name: "message from twice", method: "POST", path: "/v1/channels/web/messages", body: `{"from":"+1","from":"+2","text":"hi"}`, status: 400, code: CodeMalformedJSON, field: "from"},
		{name: "message TEXT", method: "POST", path: "/v1/channels/web/messages", body: `{"from":"+1","TEXT":"hi"}`, status: 400, code: CodeUnknownField, field: "TEXT"},
		{name: "batch text twice", method: "POST", path: "/v1/channels/web/messages/batch", body: `{"messages":[{"from":"+1","text":"a"},{"from":"+1","text":"a","text":"b"}]}`, status: 400, code: CodeMalformedJSON, field: "messages[1].text"},
		{name: "batch Messages", method: "POST", path: "/v1/channels/web/messages/batch", body: `{"Messages":[{"from":"+1"}]}`, status: 400, code: CodeUnknownField, field: "Messages"},
		{name: "session Flow", method: "POST", path: "/v1/sessions", body: `{"Flow":"ask"}`, status: 400, code: CodeUnknownField, field: "Flow"},
		{name: "session contact URN", method: "POST", path: "/v1/sessions", body: `{"flow":"ask","contact":{"urn":"tel:+1","URN":"tel:+2"}}`, status: 400, code: CodeUnknownField, field: "contact.URN"},
		{name: "session variable twice", method: "POST", path: "/v1/sessions", body: `{"flow":"ask","variables":{"a":"1","a":"2"}}`, status: 400, code: CodeMalformedJSON, field: "variables.a"},
		{name: "channel ID", method: "POST", path: "/v1/channels", body: `{"id":"c","ID":"d"}`, status: 400, code: CodeUnknownField, field: "ID"},
		{name: "channel trigger Keyword", method: "POST", path: "/v1/channels", body: `{"id":"c","triggers":[{"Keyword":"x","flow":"ask"}]}`, status: 400, code: CodeUnknownField, field: "triggers[0].Keyword"},
	})
	r := ts.do("POST", "/v1/channels/web/messages", `{"From":"+2","text":"hi"}`)
	if msg, _ := r.errorOf(t)["message"].(string); !strings.Contains(msg, `"From"`) || !strings.Contains(msg, "case") || !strings.Contains(msg, `did you mean "from"`) {
		t.Errorf("message %q: want the name, that names are case-sensitive and the field meant", msg)
	}
	r = ts.do("POST", "/v1/channels/web/messages", `{"from":"+1","from":"+2","text":"hi"}`)
	if msg, _ := r.errorOf(t)["message"].(string); !strings.Contains(msg, `"from"`) || !strings.Contains(msg, "twice") {
		t.Errorf("message %q: want the name and that it is given twice", msg)
	}
	// Nothing ran for them: the contacts have no session.
	if l := ts.must(200, "GET", "/v1/sessions", nil)["sessions"].([]any); len(l) != 0 {
		t.Errorf("sessions %v, want none", l)
	}
}

// A name given twice inside a value a body carries as it is (a simulator's
// flow definition, a mock's body) is left to that value, as flow documents
// take it; one given twice in the body's own objects is refused.
func TestRepeatedNamesInsideRawValues(t *testing.T) {
	ts := newTestServer(t, nil)
	def := `{"id":"dup","name":"Echo","name":"Echo2","widgets":[` +
		`{"id":"hook","type":"webhook","url":"http://example.com/x","result":"R","exits":{"Success":"m","Failure":"m"}},` +
		`{"id":"m","type":"send_message","text":"@flow.r.category"}]}`
	r := ts.must(201, "POST", "/v1/simulator/sessions", `{"definition":`+def+`,"mocks":{"hook":{"status":200,"body":{"a":1,"a":2}}}}`)
	if msgs, _ := r["messages"].([]any); len(msgs) != 1 || msgs[0].(map[string]any)["text"] != "Success" {
		t.Errorf("simulated %v, want the definition run", r)
	}
	ts.expectErrors(t, []apiErrorCase{
		{name: "definition twice", method: "POST", path: "/v1/simulator/sessions", body: `{"definition":` + def + `,"definition":` + def + `}`, status: 400, code: CodeMalformedJSON, field: "definition"},
		// The body's own mistake is named, not the repeat inside the definition.
		{name: "Flow beside a definition", method: "POST", path: "/v1/simulator/sessions", body: `{"definition":` + def + `,"Flow":"x"}`, status: 400, code: CodeUnknownField, field: "Flow"},
	})
}

// duplicateOutsideRaw finds a repeated name in a body's own objects, at any
// depth and inside lists, and none inside the values it carries as they are.
func TestDuplicateOutsideRaw(t *testing.T) {
	typ := reflect.TypeFor[simStartBody]()
	for body, want := range map[string]string{
		`{"flow":"a","contact":{"urn":"x"}}`:                                  "",
		`{"definition":{"a":1,"a":2},"mocks":{"m":{"body":[{"c":1,"c":2}]}}}`: "",
		`{"variables":{"v":{"x":1,"x":2},"w":[{"y":1,"y":1}]}}`:               "",
		`{"flow":"a","flow":"b"}`:                                             "/flow",
		`{"definition":{"a":1,"a":2},"contact":{"name":"a","name":"b"}}`:      "/contact/name",
		`{"variables":{"v":1,"v":2}}`:                                         "/variables/v",
		`{"mocks":{"m":{"status":200,"status":201}}}`:                         "/mocks/m/status",
		`{"mocks":{"m":{},"m":{}}}`:                                           "/mocks/m",
	} {
		if got := duplicateOutsideRaw([]byte(body), typ); got != want {
			t.Errorf("%s: %q, want %q", body, got, want)
		}
	}
}

// A body with several field problems (unknown fields, values of the wrong
// kind) is told of all of them at once: errors lists each at its path, the
// first one first, and the code, field and message are the first one's,
// as for a body with that problem alone. A body with one problem has no list.
func TestBodyListsEveryProblem(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"ask"}`)
	for _, c := range []struct {
		method, path, body, alone string
		paths                     []string
	}{
		{"POST", "/v1/sessions", `{"flwo":"ask","colour":1,"contact":{"urm":"tel:+1","Name":"Bo"}}`, `{"flwo":"ask"}`,
			[]string{"flwo", "colour", "contact.urm", "contact.Name"}},
		{"PUT", "/v1/channels/c", `{"typ":"twilio","defualt_flow":"ask","keywrods":[]}`, `{"typ":"twilio"}`,
			[]string{"typ", "defualt_flow", "keywrods"}},
		{"POST", "/v1/webhooks", `{"ur":"https://crm.example.com/hooks","event":["a"],"secrets":"x"}`, `{"ur":"https://crm.example.com/hooks"}`,
			[]string{"ur", "event", "secrets"}},
		{"POST", "/v1/channels/web/messages/batch", `{"messages":[{"from":"+1","text":"a"},{"from":"+1","txt":"a"},{"from":5,"text":5}]}`,
			`{"messages":[{"from":"+1","text":"a"},{"from":"+1","txt":"a"}]}`,
			[]string{"messages[1].txt", "messages[2].from", "messages[2].text"}},
		{"POST", "/v1/channels/web/messages", `{"from":"+1","text":5,"id":6,"contact_name":"x"}`, `{"from":"+1","text":5}`,
			[]string{"text", "id", "contact_name"}},
		{"POST", "/v1/sessions", `{"flow":"ask","contact":{"fields":{"x y":5}},"bogus":1}`, `{"flow":"ask","contact":{"fields":{"x y":5}}}`,
			[]string{"contact.fields.x y", "bogus"}},
	} {
		r := ts.do(c.method, c.path, c.body)
		e := r.errorOf(t)
		alone := ts.do(c.method, c.path, c.alone).errorOf(t)
		if r.Status != 400 || e["code"] != alone["code"] || e["field"] != c.paths[0] || e["field"] != alone["field"] || e["message"] != alone["message"] {
			t.Errorf("%s %s %s: %d %s, want 400 with the code, field and message of %s alone: %v", c.method, c.path, c.body, r.Status, r.Body, c.alone, alone)
		}
		if _, ok := alone["errors"]; ok {
			t.Errorf("%s %s %s: errors listed for one problem: %v", c.method, c.path, c.alone, alone)
		}
		list, _ := e["errors"].([]any)
		var paths []string
		for _, p := range list {
			fe := p.(map[string]any)
			if fe["message"] == "" {
				t.Errorf("%s %s: problem %v without a message", c.method, c.path, fe)
			}
			paths = append(paths, fe["path"].(string))
		}
		if !reflect.DeepEqual(paths, c.paths) {
			t.Errorf("%s %s %s: errors at %q, want %q: %s", c.method, c.path, c.body, paths, c.paths, r.Body)
		}
	}
	// Nothing was created by them.
	ts.must(404, "GET", "/v1/channels/c", nil)
	if l := ts.must(200, "GET", "/v1/sessions", nil)["sessions"].([]any); len(l) != 0 {
		t.Errorf("sessions %v, want none", l)
	}
}

// fieldPath writes the paths of a body's problems as the API names fields.
func TestFieldPath(t *testing.T) {
	for in, want := range map[string]string{
		"messages[1].txt":          "messages[1].txt",
		`contact.fields["x y"]`:    "contact.fields.x y",
		`variables["a"]["b c"][2]`: "variables.a.b c[2]",
		`["a b"].c`:                "a b.c",
		`x["a\"b"]`:                `x.a"b`,
	} {
		if got := fieldPath(in); got != want {
			t.Errorf("fieldPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// The message of a body with several problems is the first one's as the
// list words it, its hint included.
func TestFirstProblemMessageKeepsItsHint(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	e := ts.do("POST", "/v1/sessions", `{"flow":"ask","contact":{"urm":"tel:+1"},"colour":1}`).errorOf(t)
	list, _ := e["errors"].([]any)
	if len(list) != 2 {
		t.Fatalf("errors %v, want 2", e["errors"])
	}
	first, _ := list[0].(map[string]any)
	if msg, _ := e["message"].(string); msg != first["message"] || !strings.Contains(msg, `did you mean "urn"?`) {
		t.Errorf("message %q, want the first problem's %q with its hint", msg, first["message"])
	}
}

// A body of null is refused as one that is not a JSON object, as an
// array is, on every operation that takes a body: read as {}, it was
// answered for the fields it lacked ("flow is required").
func TestNullBodyIsNoObject(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(201, "POST", "/v1/webhook-configs", `{"name":"crm","url":"https://crm.example.com/x"}`)
	checked := 0
	for op, o := range operations(servedOpenAPI(t, ts)) {
		method, p, _ := strings.Cut(op, " ")
		if _, ok := o["requestBody"]; !ok || !strings.HasPrefix(p, "/v1/") {
			continue
		}
		path := strings.ReplaceAll(specParam.ReplaceAllString(p, "x"), "webhook-configs/x", "webhook-configs/crm")
		array := ts.do(method, path, "[]")
		want := strings.ReplaceAll(string(array.Body), "got JSON array", "got JSON null")
		if !strings.Contains(want, "expected a JSON object, got JSON null") {
			continue // answered before the body is read (a missing id)
		}
		checked++
		for _, body := range []string{"null", " null\n"} {
			if r := ts.do(method, path, body); r.Status != array.Status || string(r.Body) != want {
				t.Errorf("%s %s %q: %d %s, want %d %s", method, path, body, r.Status, r.Body, array.Status, want)
			}
		}
	}
	if checked < 15 {
		t.Fatalf("%d operations checked", checked)
	}
	r := ts.do("POST", "/v1/sessions", "null")
	if e := r.errorOf(t); r.Status != 400 || e["code"] != CodeInvalidField || e["field"] != "$" || e["message"] != "$: expected a JSON object, got JSON null" {
		t.Errorf("POST /v1/sessions null: %d %s, want 400 invalid_field at $", r.Status, r.Body)
	}
}

package server

import (
	"reflect"
	"testing"
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
}

// TestDecodeMessage checks that decodeMessage answers every body exactly as
// decodeStrict does: the same values, or the same error.
func TestDecodeMessage(t *testing.T) {
	for _, body := range messageBodies {
		checkDecodeMessage(t, []byte(body))
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, body := range messageBodies {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecodeMessage(t, body) })
}

func checkDecodeMessage(t *testing.T, body []byte) {
	t.Helper()
	var fast, strict messageBody
	ferr := decodeMessage(body, &fast)
	serr := decodeStrict(body, &strict)
	if (ferr == nil) != (serr == nil) {
		t.Fatalf("%q: decodeMessage error %v, decodeStrict error %v", body, ferr, serr)
	}
	if ferr != nil {
		fa, sa := ferr.(*APIError), serr.(*APIError)
		if fa.Status != sa.Status || fa.Code != sa.Code || fa.Field != sa.Field || fa.Message != sa.Message {
			t.Fatalf("%q: decodeMessage error %+v, decodeStrict error %+v", body, fa, sa)
		}
		return
	}
	if !reflect.DeepEqual(fast, strict) {
		t.Fatalf("%q: decodeMessage %+v, decodeStrict %+v", body, fast, strict)
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

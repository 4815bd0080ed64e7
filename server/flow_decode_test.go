package server

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// The server decodes every widget, its wrapped webhook widget included, as
// parley validate does: the same problems at the same paths.
func TestFlowBodiesDecodeAsTheCLI(t *testing.T) {
	ts := newTestServer(t, nil)
	cli := engine.New(widgets.Registered())
	for _, tc := range []struct {
		name, doc string
		want      []flows.FieldError
	}{
		{"webhook field in another case", `{"id":"w1","widgets":[{"id":"call","type":"webhook","URL":"https://example.com","Method":"POST"}]}`,
			[]flows.FieldError{
				{Widget: "call", Path: "widgets[0].URL", Message: `unknown field "URL" (did you mean "url"? field names are case-sensitive)`},
				{Widget: "call", Path: "widgets[0].Method", Message: `unknown field "Method" (did you mean "method"? field names are case-sensitive)`},
			}},
		{"unknown webhook field", `{"id":"w2","widgets":[{"id":"call","type":"webhook","url":"https://example.com","bogus":1}]}`,
			[]flows.FieldError{{Widget: "call", Path: "widgets[0].bogus", Message: `unknown field "bogus"`}}},
		{"webhook field of the wrong kind", `{"id":"w3","widgets":[{"id":"call","type":"webhook","url":"https://example.com","timeout":"5","headers":{"X":1}}]}`,
			[]flows.FieldError{
				{Widget: "call", Path: "widgets[0].timeout", Message: `expected a number, got JSON string`},
				{Widget: "call", Path: "widgets[0].headers.X", Message: `expected a string, got JSON number`},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cli.Load([]byte(tc.doc))
			var ve *flows.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("parley validate's decoding: %v", err)
			}
			r := ts.do("POST", "/v1/flows", tc.doc)
			if r.Status != 422 {
				t.Fatalf("POST /v1/flows: %d %s", r.Status, r.Body)
			}
			var body struct {
				Error struct {
					Errors []flows.FieldError `json:"errors"`
				} `json:"error"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatal(err)
			}
			got := body.Error.Errors
			if len(got) != len(tc.want) || len(ve.Errors) != len(tc.want) {
				t.Fatalf("server %v, parley validate %v, want %v", got, ve.Errors, tc.want)
			}
			for i, w := range tc.want {
				cl := ve.Errors[i]
				if got[i] != w || cl.Widget != w.Widget || cl.Path != w.Path || cl.Message != w.Message {
					t.Errorf("problem %d: server %+v, parley validate %+v, want %+v", i, got[i], *cl, w)
				}
			}
		})
	}
}

// A flow body that is not JSON is said the same way on every entry point:
// line and column in characters, as parley validate says it; a byte-order
// mark before the JSON is skipped.
func TestFlowBodySyntaxErrors(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(`{"id":"f","widgets":[{"id":"a","type":"end"}]}`)
	bad := "{\"id\": \"f\", \"name\": \"Café\",\n \"widgets\": [{\"id\": \"a\", \"type\": \"end\",}]}"
	const want = `malformed JSON at line 2, column 40 (in widgets[0]): invalid character '}'`
	for _, method := range []string{"POST /v1/flows", "PUT /v1/flows/f"} {
		m, path, _ := strings.Cut(method, " ")
		r := ts.do(m, path, bad)
		e := r.errorOf(t)
		if r.Status != 400 || e["code"] != CodeMalformedJSON || !strings.HasPrefix(e["message"].(string), want) {
			t.Errorf("%s: %d %s, want 400 malformed_json %q", method, r.Status, r.Body, want)
		}
	}
	v := ts.must(200, "POST", "/v1/flows/validate", bad)
	if errs := v["errors"].([]any); len(errs) != 1 || !strings.HasPrefix(errs[0].(map[string]any)["message"].(string), want) {
		t.Errorf("validate: %v", v)
	}

	bom := "\ufeff" + `{"id":"bom","widgets":[{"id":"a","type":"end"}]}`
	ts.must(201, "POST", "/v1/flows", bom)
	ts.must(200, "PUT", "/v1/flows/bom", bom)
	if v := ts.must(200, "POST", "/v1/flows/validate", bom); v["valid"] != true {
		t.Errorf("validate with a byte-order mark: %v", v)
	}
	def := ts.must(200, "GET", "/v1/flows/bom", nil)["definition"].(map[string]any)
	if def["id"] != "bom" {
		t.Errorf("stored definition %v", def)
	}
}

// /v1/webhook-configs reads a configuration as the --webhooks file is read:
// names match exactly and kinds are said in JSON's terms.
func TestWebhookConfigBodiesDecodeAsTheFile(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, c := range []struct{ body, code, field, message string }{
		{`{"Name":"a","url":"https://example.com"}`, CodeUnknownField, "Name", `unknown field "Name" (did you mean "name"? field names are case-sensitive)`},
		{`{"name":"a","URL":"https://example.com"}`, CodeUnknownField, "URL", `unknown field "URL" (did you mean "url"? field names are case-sensitive)`},
		{`{"name":"a","url":"https://example.com","timeout":"5"}`, CodeInvalidField, "timeout", `timeout: expected a number, got JSON string`},
		{`{"name":"a","url":"https://example.com","headers":{"X":1}}`, CodeInvalidField, "headers.X", `headers.X: expected a string, got JSON number`},
	} {
		r := ts.do("POST", "/v1/webhook-configs", c.body)
		e := r.errorOf(t)
		if r.Status != 400 || e["code"] != c.code || e["field"] != c.field || e["message"] != c.message {
			t.Errorf("POST %s: %d %s, want 400 %s on %s: %s", c.body, r.Status, r.Body, c.code, c.field, c.message)
		}
	}
	ts.must(404, "GET", "/v1/webhook-configs/a", nil)
}

// A field of the wrong kind does not hide the other problems of a flow body.
func TestFlowBodyEveryProblem(t *testing.T) {
	ts := newTestServer(t, nil)
	doc := `{"id":"f5","expire_minutes":"5","colour":1,"widgets":[{"id":"a","type":"nope"},
	 {"id":"b","type":"send_message","text":"hi","exits":{"Next":"zz"}}]}`
	want := []string{"expire_minutes", "colour", "widgets[0].type", `widgets[1].exits.Next`}
	r := ts.do("POST", "/v1/flows", doc)
	var body struct {
		Error struct {
			Field  string             `json:"field"`
			Errors []flows.FieldError `json:"errors"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	v := ts.must(200, "POST", "/v1/flows/validate", doc)
	verrs, _ := v["errors"].([]any)
	if r.Status != 422 || len(body.Error.Errors) != len(want) || len(verrs) != len(want) {
		t.Fatalf("POST: %d %s; validate: %v; want problems at %v", r.Status, r.Body, v, want)
	}
	for i, p := range want {
		if body.Error.Errors[i].Path != p || verrs[i].(map[string]any)["path"] != p {
			t.Errorf("problem %d at %q (validate: %v), want %q", i, body.Error.Errors[i].Path, verrs[i], p)
		}
	}
}

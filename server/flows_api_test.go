package server

import (
	"context"
	"strings"
	"testing"
)

func TestFlowsCRUD(t *testing.T) {
	ts := newTestServer(t, nil)
	created := ts.must(201, "POST", "/v1/flows", askFlow)
	if created["id"] != "ask" || created["revision"] != float64(1) {
		t.Fatalf("create answered %v", created)
	}

	noID := ts.must(201, "POST", "/v1/flows", `{"name":"No id","widgets":[{"id":"a","type":"end"}]}`)
	genID, _ := noID["id"].(string)
	if genID == "" {
		t.Fatalf("no id generated: %v", noID)
	}
	got := ts.must(200, "GET", "/v1/flows/"+genID, nil)
	if def := got["definition"].(map[string]any); def["id"] != genID {
		t.Errorf("stored definition lacks the generated id: %v", def)
	}

	list := ts.must(200, "GET", "/v1/flows", nil)
	if n := len(list["flows"].([]any)); n != 2 {
		t.Errorf("GET /v1/flows lists %d flows, want 2", n)
	}

	updated := ts.must(200, "PUT", "/v1/flows/ask", strings.Replace(askFlow, "What is your name?", "Your name?", 1))
	if updated["revision"] != float64(2) {
		t.Errorf("PUT answered %v, want revision 2", updated)
	}
	r1 := ts.must(200, "GET", "/v1/flows/ask?revision=1", nil)
	r2 := ts.must(200, "GET", "/v1/flows/ask", nil)
	if r1["revision"] != float64(1) || r2["revision"] != float64(2) {
		t.Errorf("revisions: %v / %v", r1["revision"], r2["revision"])
	}
	if !strings.Contains(string(ts.do("GET", "/v1/flows/ask", nil).Body), "Your name?") {
		t.Error("latest revision does not have the new text")
	}

	pub := ts.must(200, "POST", "/v1/flows/ask/publish", `{"revision":1}`)
	if pub["published"] != float64(1) {
		t.Errorf("publish answered %v", pub)
	}

	ts.must(204, "DELETE", "/v1/flows/"+genID, nil)
	ts.must(404, "GET", "/v1/flows/"+genID, nil)
}

// A flow body needs neither an id nor a name where the server supplies the
// id: POST assigns one and PUT takes the URL's, before the flow is checked,
// and the id then names the flow. /v1/flows/validate says the same of it.
func TestFlowWithoutIDOrName(t *testing.T) {
	ts := newTestServer(t, nil)
	const doc = `{"widgets":[{"id":"a","type":"end"}]}`
	if got := ts.must(200, "POST", "/v1/flows/validate", doc); got["valid"] != true {
		t.Errorf("validate: %v", got)
	}
	created := ts.must(201, "POST", "/v1/flows", doc)
	id, _ := created["id"].(string)
	if id == "" || created["name"] != id {
		t.Fatalf("POST answered %v, want a generated id that names the flow", created)
	}
	if def := ts.must(200, "GET", "/v1/flows/"+id, nil)["definition"].(map[string]any); def["id"] != id {
		t.Errorf("stored definition %v lacks the generated id", def)
	}
	ts.createFlow(`{"id":"aud-put","name":"Put","widgets":[{"id":"a","type":"end"}]}`)
	for _, body := range []string{doc, `{"id":"","widgets":[{"id":"a","type":"end"}]}`, `{"id":null,"widgets":[{"id":"a","type":"end"}]}`} {
		updated := ts.must(200, "PUT", "/v1/flows/aud-put", body)
		if updated["id"] != "aud-put" || updated["name"] != "aud-put" {
			t.Errorf("PUT %s answered %v", body, updated)
		}
	}
	got := ts.must(200, "GET", "/v1/flows/aud-put", nil)
	if def := got["definition"].(map[string]any); got["revision"] != float64(4) || def["id"] != "aud-put" {
		t.Errorf("stored revision %v, definition %v", got["revision"], def)
	}
	// A body's problems are still reported, and an id of the wrong kind is
	// one of them, not replaced.
	r := ts.do("PUT", "/v1/flows/aud-put", `{"id":5,"widgets":[{"id":"a","type":"end"}]}`)
	if e := r.errorOf(t); r.Status != 422 || e["field"] != "id" {
		t.Errorf("PUT with id 5: %d %s", r.Status, r.Body)
	}
}

func TestFlowErrors(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	cases := []apiErrorCase{
		{"duplicate id", "POST", "/v1/flows", askFlow, 409, CodeConflict, "id"},
		{"malformed", "POST", "/v1/flows", `{"name":`, 400, CodeMalformedJSON, ""},
		{"invalid", "POST", "/v1/flows", `{"name":"x","widgets":[{"id":"a","type":"nope"},{"id":"b","type":"send_message","exits":{"Next":"zz"}}]}`, 422, CodeInvalidFlow, "widgets[0].type"},
		{"put unknown", "PUT", "/v1/flows/nope", `{"name":"x","widgets":[{"id":"a","type":"end"}]}`, 404, CodeNotFound, ""},
		{"put other id", "PUT", "/v1/flows/ask", `{"id":"other","name":"x","widgets":[{"id":"a","type":"end"}]}`, 400, CodeBadRequest, "id"},
		{"get unknown", "GET", "/v1/flows/nope", "", 404, CodeNotFound, ""},
		{"get unknown revision", "GET", "/v1/flows/ask?revision=9", "", 404, CodeNotFound, "revision"},
		{"bad revision", "GET", "/v1/flows/ask?revision=x", "", 400, CodeBadRequest, "revision"},
		{"delete unknown", "DELETE", "/v1/flows/nope", "", 404, CodeNotFound, ""},
		{"publish unknown", "POST", "/v1/flows/nope/publish", "", 404, CodeNotFound, ""},
		{"publish unknown field", "POST", "/v1/flows/ask/publish", `{"rev":1}`, 400, CodeUnknownField, "rev"},
		{"publish revision 0", "POST", "/v1/flows/ask/publish", `{"revision":0}`, 400, CodeBadRequest, "revision"},
		{"publish revision -1", "POST", "/v1/flows/ask/publish", `{"revision":-1}`, 400, CodeBadRequest, "revision"},
		// A flow document's unknown fields and wrong types are flow problems,
		// reported with every other one by their JSON path.
		{"unknown field", "POST", "/v1/flows", `{"id":"c","name":"x","colour":1,"widgets":[{"id":"a","type":"send_message","text":"hi"}]}`, 422, CodeInvalidFlow, "colour"},
		{"unknown widget field", "POST", "/v1/flows", `{"id":"c","name":"x","widgets":[{"id":"a","type":"send_message","text":"hi","colour":1}]}`, 422, CodeInvalidFlow, "widgets[0].colour"},
		{"wrong type", "POST", "/v1/flows", `{"id":"c","name":"x","widgets":[{"id":"a","type":"send_message","text":1}]}`, 422, CodeInvalidFlow, "widgets[0].text"},
		{"put wrong type", "PUT", "/v1/flows/ask", `{"name":1,"widgets":[{"id":"a","type":"end"}]}`, 422, CodeInvalidFlow, "name"},
		{"not an object", "POST", "/v1/flows", `[]`, 422, CodeInvalidFlow, "$"},
		{"null", "POST", "/v1/flows", `null`, 422, CodeInvalidFlow, "$"},
		{"put null", "PUT", "/v1/flows/ask", ` null `, 422, CodeInvalidFlow, "$"},
		// Other bodies answer 400, as docs/api.md's example.
		{"session unknown field", "POST", "/v1/sessions", `{"flow":"ask","colour":1}`, 400, CodeUnknownField, "colour"},
		{"session wrong type", "POST", "/v1/sessions", `{"flow":"ask","contact":{"urn":1}}`, 400, CodeInvalidField, "contact.urn"},
	}
	ts.expectErrors(t, cases)
	// Every validation problem is reported, not only the first.
	r := ts.do("POST", "/v1/flows", `{"name":"x","widgets":[{"id":"a","type":"nope"},{"id":"b","type":"send_message","text":"hi","exits":{"Next":"zz"}}]}`)
	if errs := r.errorOf(t)["errors"].([]any); len(errs) < 2 {
		t.Errorf("422 lists %d errors, want both: %s", len(errs), r.Body)
	}
}

// A flow whose exit names a widget by a slip of the keyboard is refused
// naming the widget, the exit's path and the id it likely means.
func TestFlowDanglingExitSuggested(t *testing.T) {
	ts := newTestServer(t, nil)
	r := ts.do("POST", "/v1/flows", `{"id":"survey","name":"Survey","widgets":[
		{"id":"ask_age","type":"send_message","text":"How old are you?","exits":{"Next":"age"}},
		{"id":"age","type":"wait_for_response","exits":{"Next":"ask_agee"}}]}`)
	e := r.errorOf(t)
	errs, _ := e["errors"].([]any)
	if r.Status != 422 || e["field"] != "widgets[1].exits.Next" || len(errs) != 1 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	got, _ := errs[0].(map[string]any)
	if got["widget"] != "age" || got["message"] != `exit "Next" points to unknown widget "ask_agee" (did you mean "ask_age"?)` {
		t.Errorf("error %v", got)
	}
}

func TestValidateFlow(t *testing.T) {
	ts := newTestServer(t, nil)
	cases := []struct {
		name, body string
		valid      bool
		errPath    string
	}{
		{"valid", askFlow, true, ""},
		{"unknown type", `{"name":"x","widgets":[{"id":"a","type":"nope"}]}`, false, "widgets[0].type"},
		{"bad template", `{"name":"x","widgets":[{"id":"a","type":"send_message","text":"@(1 +)"}]}`, false, "widgets[0].text"},
		{"malformed", `{"name"`, false, "$"},
		{"text after the flow", `{"name":"x","widgets":[{"id":"a","type":"end"}]} {"name":"y"}`, false, "$"},
		{"unknown function", `{"name":"x","widgets":[{"id":"a","type":"send_message","text":"@(nosuchfn(1))"}]}`, false, "widgets[0].text"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ts.must(200, "POST", "/v1/flows/validate", c.body)
			if got["valid"] != c.valid {
				t.Fatalf("valid = %v, want %v: %v", got["valid"], c.valid, got)
			}
			errs := got["errors"].([]any)
			if c.valid {
				if len(errs) != 0 {
					t.Errorf("errors on a valid flow: %v", errs)
				}
				return
			}
			e := errs[0].(map[string]any)
			if e["path"] != c.errPath || e["message"] == "" {
				t.Errorf("first error %v, want path %s", e, c.errPath)
			}
			if c.errPath != "$" && e["widget"] != "a" {
				t.Errorf("error does not name the widget: %v", e)
			}
		})
	}
}

func TestImportRapidProExport(t *testing.T) {
	ts := newTestServer(t, nil)
	export := `{"version": 8, "flows": [{"version": 8, "base_language": "base", "flow_type": "F",
	 "metadata": {"uuid": "11111111-1111-4111-8111-111111111111", "name": "Imported"},
	 "entry": "a1", "action_sets": [{"uuid": "a1", "actions": [{"type": "reply", "msg": {"base": "Hello from RapidPro"}}]}], "rule_sets": []}]}`
	got := ts.must(201, "POST", "/v1/flows", export)
	saved := got["flows"].([]any)
	if len(saved) != 1 || saved[0].(map[string]any)["id"] != "11111111-1111-4111-8111-111111111111" {
		t.Fatalf("import answered %v", got)
	}
	start := ts.must(201, "POST", "/v1/sessions", `{"flow":"11111111-1111-4111-8111-111111111111"}`)
	if txt := texts(start); len(txt) != 1 || txt[0] != "Hello from RapidPro" {
		t.Errorf("imported flow said %q", txt)
	}
}

// A flow a channel names cannot be deleted; a channel whose flow is missing
// all the same (stored before the check) answers with an error naming the
// channel and its field.
func TestDeleteFlowUsedByChannel(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(strings.ReplaceAll(askFlow, `"id":"ask"`, `"id":"fc3"`))
	ts.must(201, "PUT", "/v1/channels/c3", `{"default_flow":"fc3"}`)
	ts.must(201, "PUT", "/v1/channels/c4", `{"triggers":[{"keyword":"ask","flow":"fc3"}]}`)

	r := ts.do("DELETE", "/v1/flows/fc3", nil)
	e := r.errorOf(t)
	msg, _ := e["message"].(string)
	if r.Status != 409 || e["code"] != CodeConflict || e["field"] != "id" ||
		!strings.Contains(msg, `channel "c3" (default_flow)`) || !strings.Contains(msg, `channel "c4" (triggers[0].flow)`) {
		t.Fatalf("deleting a flow channels use: %d %s", r.Status, r.Body)
	}
	ts.must(200, "GET", "/v1/flows/fc3", nil)
	ts.must(204, "DELETE", "/v1/channels/c3", nil)
	ts.must(200, "PUT", "/v1/channels/c4", `{}`)
	ts.must(204, "DELETE", "/v1/flows/fc3", nil)

	// Channels stored without the check, naming flows that do not exist.
	for _, ch := range []*Channel{{ID: "c5", DefaultFlow: "gone"}, {ID: "c6", Triggers: []Trigger{{Keyword: "go", Flow: "gone"}}}, {ID: "c7", VoiceFlow: "gone"}} {
		if _, err := ts.srv.svc.channels.put(context.Background(), ch, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ path, body, field string }{
		{"/v1/channels/c5/messages", `{"from":"+1555","text":"hi"}`, "default_flow"},
		{"/v1/channels/c6/messages", `{"from":"+1555","text":"go"}`, "triggers[0].flow"},
		{"/v1/channels/c7/calls", `{"call_id":"CA1","from":"+1555"}`, "voice_flow"},
	} {
		r := ts.do("POST", c.path, c.body)
		e := r.errorOf(t)
		msg, _ := e["message"].(string)
		if r.Status != 422 || e["code"] != CodeNoFlow || e["field"] != c.field || !strings.Contains(msg, `"gone"`) || !strings.Contains(msg, "channel") {
			t.Errorf("POST %s on a channel whose flow is missing: %d %s, want 422 no_flow on %s", c.path, r.Status, r.Body, c.field)
		}
	}
}

// A flow id against the rule is one of the flow's problems wherever a flow
// is checked: listed by validate, and in the errors of a 422 from POST,
// PUT and a simulator start, with the flow's other problems.
func TestFlowIDChecked(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	for _, id := range []string{"a/b", ".", "appel-é", strings.Repeat("a", 200)} {
		doc := `{"id":"` + id + `","name":"n","start":"a","widgets":[{"id":"a","type":"send_message","text":"hi"}]}`
		got := ts.must(200, "POST", "/v1/flows/validate", doc)
		errs, _ := got["errors"].([]any)
		if got["valid"] != false || len(errs) != 1 || errs[0].(map[string]any)["path"] != "id" {
			t.Errorf("validate id %q: %v, want one error at id", id, got)
		}
		bad := strings.Replace(doc, `"text":"hi"`, `"text":1`, 1)
		for _, req := range []struct{ method, path, body string }{
			{"POST", "/v1/flows", bad},
			{"PUT", "/v1/flows/ask", bad},
			{"POST", "/v1/simulator/sessions", `{"definition":` + bad + `}`},
		} {
			r := ts.do(req.method, req.path, req.body)
			if r.Status != 422 {
				t.Errorf("%s %s with id %q: %d %s, want 422", req.method, req.path, id, r.Status, r.Body)
				continue
			}
			e := r.errorOf(t)
			paths := map[string]string{}
			for _, x := range e["errors"].([]any) {
				fe := x.(map[string]any)
				paths[fe["path"].(string)], _ = fe["message"].(string)
			}
			if !strings.Contains(paths["id"], "an id is 1 to 128 characters") || paths["widgets[0].text"] == "" {
				t.Errorf("%s %s with id %q: errors %v, want the id's with the text's", req.method, req.path, id, e["errors"])
			}
		}
	}
}

// A flow whose subflow widget names a flow that is not stored (a typo in
// its id) is stored with a warning at the widget's flow, naming the flow
// likely meant; validate says the same. A subflow stored in the same
// import, or stored since, is no warning.
func TestFlowMissingSubflowWarned(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(201, "POST", "/v1/flows", `{"id":"rating","name":"Rating","widgets":[{"id":"a","type":"send_message","text":"Rate us"}]}`)
	main := `{"id":"main","name":"Main","widgets":[
		{"id":"r1","type":"subflow","flow":"rating","exits":{"Complete":"r2"}},
		{"id":"r2","type":"subflow","flow":"ratng"}]}`
	want := `subflow "ratng": no flow has that id, so a session fails here until one does (did you mean "rating"?)`
	check := func(what string, body map[string]any) {
		t.Helper()
		list, _ := body["warnings"].([]any)
		if len(list) != 1 {
			t.Fatalf("%s: %v", what, body)
		}
		w, _ := list[0].(map[string]any)
		if w["widget"] != "r2" || w["path"] != "widgets[1].flow" || w["message"] != want {
			t.Errorf("%s: warning %v, want %q at widgets[1].flow", what, w, want)
		}
	}
	v := ts.must(200, "POST", "/v1/flows/validate", main)
	check("validate", v)
	if v["valid"] != true {
		t.Errorf("validate: %v", v)
	}
	check("POST", ts.must(201, "POST", "/v1/flows", main))
	check("PUT", ts.must(200, "PUT", "/v1/flows/main", main))
	ts.must(201, "POST", "/v1/flows", `{"id":"ratng","name":"Other","widgets":[{"id":"a","type":"end"}]}`)
	if r := ts.must(200, "PUT", "/v1/flows/main", main); r["warnings"] != nil {
		t.Errorf("PUT once the subflow is stored: %v", r)
	}
}

// A revision asked of a flow that is not stored (never stored, or
// deleted) is answered as the flow's absence, naming the flow, not as a
// missing revision of it; a stored flow's missing revision names the
// revision.
func TestRevisionOfMissingFlow(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(201, "POST", "/v1/flows", askFlow)
	ts.must(201, "POST", "/v1/flows", strings.Replace(askFlow, `"id":"ask"`, `"id":"gone"`, 1))
	ts.must(204, "DELETE", "/v1/flows/gone", nil)
	for _, c := range []struct {
		method, path, body, field, msg string
	}{
		{"GET", "/v1/flows/nosuch?revision=1", "", "", `flow "nosuch" not found`},
		{"POST", "/v1/flows/nosuch/publish", `{"revision":1}`, "", `flow "nosuch" not found`},
		{"GET", "/v1/flows/gone?revision=1", "", "", `flow "gone" not found`},
		{"GET", "/v1/flows/ask?revision=9", "", "revision", `flow "ask" has no revision 9`},
		{"POST", "/v1/flows/ask/publish", `{"revision":9}`, "revision", `flow "ask" has no revision 9`},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		r := ts.do(c.method, c.path, body)
		e := r.errorOf(t)
		field, _ := e["field"].(string)
		if r.Status != 404 || e["code"] != CodeNotFound || e["message"] != c.msg || field != c.field {
			t.Errorf("%s %s: %d %s, want 404 not_found %q (field %q)", c.method, c.path, r.Status, r.Body, c.msg, c.field)
		}
	}
}

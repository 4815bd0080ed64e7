package server

import (
	"fmt"
	"strings"
	"testing"
)

const legacyExport = `{"version": 8, "flows": [{"version": 8, "base_language": "base", "flow_type": "F",
 "metadata": {"uuid": "11111111-1111-4111-8111-111111111111", "name": "Hello"},
 "entry": "a1", "action_sets": [{"uuid": "a1", "actions": [{"type": "reply", "msg": {"base": "Hi there"}}]}], "rule_sets": []}]}`

// A legacy export with a flow that does not convert (an unknown action).
const partlyLegacyExport = `{"version": 10, "flows": [
 {"version": 10, "base_language": "eng", "metadata": {"uuid": "22222222-2222-4222-8222-222222222222", "name": "Good"}, "entry": "a1",
  "action_sets": [{"uuid": "a1", "actions": [{"type": "reply", "msg": {"eng": "Hi"}}]}], "rule_sets": []},
 {"version": 10, "base_language": "eng", "metadata": {"uuid": "33333333-3333-4333-8333-333333333333", "name": "Bad"}, "entry": "a1",
  "action_sets": [{"uuid": "a1", "actions": [{"type": "teleport", "uuid": "t1"}]}], "rule_sets": []}]}`

const newFormatExport = `{"version": "13", "flows": [{"name": "Reg", "uuid": "u1", "spec_version": "13.1.0", "nodes": []}]}`

// RapidPro exports on the HTTP API: /v1/flows/validate checks a legacy
// export as POST /v1/flows would import it, and a new-format export is told
// it is not supported, on both.
func TestRapidProExportsOnTheAPI(t *testing.T) {
	ts := newTestServer(t, nil)

	v := ts.must(200, "POST", "/v1/flows/validate", legacyExport)
	if v["valid"] != true {
		t.Errorf("validate of a legacy export: %v", v)
	}
	v = ts.must(200, "POST", "/v1/flows/validate", partlyLegacyExport)
	errs, _ := v["errors"].([]any)
	if v["valid"] != false || len(errs) == 0 ||
		!strings.Contains(errs[0].(map[string]any)["message"].(string), `flow "Bad" did not import: action t1 (teleport): action type "teleport" is not supported`) {
		t.Errorf("validate of an export with a flow that does not import: %v", v)
	}
	v = ts.must(200, "POST", "/v1/flows/validate", newFormatExport)
	errs, _ = v["errors"].([]any)
	if v["valid"] != false || len(errs) != 1 || !strings.Contains(errs[0].(map[string]any)["message"].(string), "new-format flow (spec version 13.1.0") {
		t.Errorf("validate of a new-format export: %v", v)
	}

	r := ts.do("POST", "/v1/flows", newFormatExport)
	e := r.errorOf(t)
	if r.Status != 422 || e["code"] != "import_failed" || !strings.Contains(e["message"].(string), `flow "Reg" did not import: flows[0]: new-format flow (spec version 13.1.0, with "nodes") is not supported`) {
		t.Errorf("POST of a new-format export: %d %s", r.Status, r.Body)
	}
	// Each flow that did not import is listed, as validate lists it.
	if list, _ := e["errors"].([]any); len(list) != 1 || list[0].(map[string]any)["path"] != "$" ||
		!strings.Contains(list[0].(map[string]any)["message"].(string), `flow "Reg" did not import`) {
		t.Errorf("POST of a new-format export lists %v, want the flow's problem", e["errors"])
	}
	created := ts.must(201, "POST", "/v1/flows", legacyExport)
	if list, _ := created["flows"].([]any); len(list) != 1 {
		t.Errorf("POST of a legacy export: %v", created)
	}
}

// An export that converts without a word has an empty report, a list as
// the schemas say, on validate and on import.
func TestImportReportIsAList(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, path := range []string{"/v1/flows/validate", "/v1/flows"} {
		r := ts.do("POST", path, legacyExport)
		if r.Status/100 != 2 {
			t.Fatalf("POST %s: %d %s", path, r.Status, r.Body)
		}
		if rep, ok := r.JSON(t)["report"].([]any); !ok || len(rep) != 0 {
			t.Errorf("POST %s: report %s, want []", path, r.Body)
		}
	}
}

// TestReimportExport: an export whose flows exist is refused (409) naming
// the way to import it again, POST /v1/flows?replace=true, which stores a
// new revision of each flow that exists and creates the others; sessions
// then start on the new revision.
func TestReimportExport(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(201, "POST", "/v1/flows", legacyExport)

	r := ts.do("POST", "/v1/flows", legacyExport)
	e := r.errorOf(t)
	if r.Status != 409 || e["code"] != "conflict" || e["field"] != "id" ||
		!strings.Contains(e["message"].(string), `flow "11111111-1111-4111-8111-111111111111" (Hello) already exists; POST /v1/flows?replace=true imports the export again`) {
		t.Errorf("POST of an export whose flow exists: %d %s", r.Status, r.Body)
	}

	again := strings.Replace(legacyExport, "Hi there", "Hi again", 1)
	again = strings.Replace(again, `"rule_sets": []}]}`, `"rule_sets": []},
	 {"version": 8, "base_language": "base", "flow_type": "F", "metadata": {"uuid": "44444444-4444-4444-8444-444444444444", "name": "New"},
	  "entry": "a1", "action_sets": [{"uuid": "a1", "actions": [{"type": "reply", "msg": {"base": "New"}}]}], "rule_sets": []}]}`, 1)
	created := ts.must(201, "POST", "/v1/flows?replace=true", again)
	list, _ := created["flows"].([]any)
	var got []string
	for _, f := range list {
		m := f.(map[string]any)
		got = append(got, fmt.Sprintf("%s %v", m["name"], m["revision"]))
	}
	if strings.Join(got, ", ") != "Hello 2, New 1" {
		t.Errorf("replace: stored %v, want Hello 2, New 1", got)
	}
	start := ts.must(201, "POST", "/v1/sessions", map[string]any{
		"flow": "11111111-1111-4111-8111-111111111111", "contact": map[string]any{"urn": "tel:+12065551212"},
	})
	if said := strings.Join(texts(start), "|"); said != "Hi again" {
		t.Errorf("a session of the replaced flow says %q, want Hi again", said)
	}

	r = ts.do("POST", "/v1/flows?replace=yes", legacyExport)
	e = r.errorOf(t)
	if r.Status != 400 || e["code"] != "bad_request" || e["field"] != "replace" || e["message"] != `replace must be true or false, got "yes"` {
		t.Errorf("?replace=yes: %d %s", r.Status, r.Body)
	}
	// replace=false is the default: a conflict.
	if r = ts.do("POST", "/v1/flows?replace=false", legacyExport); r.Status != 409 {
		t.Errorf("?replace=false: %d %s", r.Status, r.Body)
	}
}

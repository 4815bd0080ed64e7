package server

import (
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

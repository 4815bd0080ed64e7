package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// timeoutZeroFlow was stored before a timeout of 0 was refused: it loads with
// a warning and runs as it did then.
const timeoutZeroFlow = `{"id":"tz","name":"Timeout zero","widgets":[
 {"id":"ask","type":"wait_for_response","result":"answer","timeout":0,"exits":{"Next":"say"}},
 {"id":"say","type":"send_message","text":"You said @flow.answer"}]}`

// The page sends a stored flow's definition back as it got it: unchanged, it
// runs the stored flow with its warnings, as {"flow": id} does; once edited
// it must pass today's checks.
func TestSimulatorUnchangedStoredFlowWithWarnings(t *testing.T) {
	dir := t.TempDir()
	storeRaw(t, dir, map[string]string{"tz": timeoutZeroFlow})
	ts := newTestServer(t, func(c *Config) { c.DataDir = dir })

	got := ts.must(200, "GET", "/v1/flows/tz", nil)
	def, err := json.Marshal(got["definition"])
	if err != nil {
		t.Fatal(err)
	}

	byID := ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"flow": "tz"})
	byDef := ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"definition": json.RawMessage(def)})
	for name, out := range map[string]map[string]any{"flow": byID, "definition": byDef} {
		if out["flow"] != "tz" || out["status"] != "waiting" {
			t.Errorf("by %s: ran %v with status %v, want the stored flow tz waiting", name, out["flow"], out["status"])
		}
		if w, _ := json.Marshal(out["warnings"]); !strings.Contains(string(w), "timeout") {
			t.Errorf("by %s: warnings %s, want the one at timeout", name, w)
		}
	}

	edited := strings.Replace(string(def), "You said", "You wrote", 1)
	r := ts.do("POST", "/v1/simulator/sessions", map[string]any{"definition": json.RawMessage(edited)})
	if r.Status != 422 {
		t.Fatalf("edited definition: status %d, want 422: %s", r.Status, r.Body)
	}
	if e := r.errorOf(t); e["code"] != "invalid_flow" || e["field"] != "widgets[0].timeout" {
		t.Errorf("edited definition: error %v, want invalid_flow at widgets[0].timeout", e)
	}
}

// The test contact keeps its stored language when a session gives none: an
// empty language and one of only white space alike.
func TestSimulatorBlankLanguageKeepsStored(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(`{"id":"hello","name":"Hello","language":"eng","widgets":[
	 {"id":"m","type":"send_message","text":"Hello","translations":{"fra":{"text":"Bonjour"}}}]}`)
	start := func(lang any) string {
		t.Helper()
		contact := map[string]any{"urn": "tel:+15550001"}
		if lang != nil {
			contact["language"] = lang
		}
		return strings.Join(texts(ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"flow": "hello", "contact": contact})), "|")
	}
	if got := start("fra"); got != "Bonjour" {
		t.Fatalf("language fra: said %q", got)
	}
	for _, lang := range []any{"  ", "", nil, " \t", " fra "} {
		if got := start(lang); got != "Bonjour" {
			t.Errorf("language %q: said %q, want the stored fra's Bonjour", lang, got)
		}
	}
}

// The page's live check of its editor says what Start would do: a stored
// flow's current revision, unchanged, is checked as stored, so a problem
// only a check added since finds is a warning, the one its start answers;
// edited, it is checked as POST /v1/flows/validate checks it.
func TestSimulatorValidateStoredFlowWithWarnings(t *testing.T) {
	dir := t.TempDir()
	storeRaw(t, dir, map[string]string{"tz": timeoutZeroFlow})
	ts := newTestServer(t, func(c *Config) { c.DataDir = dir })
	def, err := json.Marshal(ts.must(200, "GET", "/v1/flows/tz", nil)["definition"])
	if err != nil {
		t.Fatal(err)
	}

	check := ts.must(200, "POST", "/v1/simulator/validate", json.RawMessage(def))
	started := ts.must(201, "POST", "/v1/simulator/sessions", map[string]any{"definition": json.RawMessage(def)})
	if check["valid"] != true || mustJSON(check["errors"]) != "[]" {
		t.Errorf("unchanged: valid %v, errors %s; want valid, no errors", check["valid"], mustJSON(check["errors"]))
	}
	if got, want := mustJSON(check["warnings"]), mustJSON(started["warnings"]); got != want || !strings.Contains(got, `"path":"widgets[0].timeout"`) {
		t.Errorf("unchanged: warnings %s, want the start's %s, at widgets[0].timeout", got, want)
	}
	if got := mustJSON(check["stored"]); got != `{"id":"tz","revision":1}` {
		t.Errorf("unchanged: stored %s, want tz revision 1", got)
	}

	edited := []byte(strings.Replace(string(def), "You said", "You wrote", 1))
	check = ts.must(200, "POST", "/v1/simulator/validate", json.RawMessage(edited))
	plain := ts.must(200, "POST", "/v1/flows/validate", json.RawMessage(edited))
	if mustJSON(check) != mustJSON(plain) || check["valid"] != false || !strings.Contains(mustJSON(check["errors"]), `"path":"widgets[0].timeout"`) {
		t.Errorf("edited: %s, want what /v1/flows/validate answers, %s: invalid at widgets[0].timeout", mustJSON(check), mustJSON(plain))
	}
	if r := ts.do("POST", "/v1/simulator/sessions", map[string]any{"definition": json.RawMessage(edited)}); r.Status != 422 {
		t.Errorf("edited: start status %d, want 422 as the check says", r.Status)
	}
}

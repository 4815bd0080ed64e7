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

package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// A flow that reads a result no widget of it saves (@flow.agee where the
// wait saves Age) is valid and stored, with a warning at the widget and the
// field that reads it naming the result meant, from validate, POST and PUT
// alike, over a real connection; corrected, it has none.
func TestFlowUnsetResultWarned(t *testing.T) {
	ts := newTestServer(t, nil)
	base := ts.listen()
	post := func(method, path, body string, status int) map[string]any {
		t.Helper()
		return apiJSON(t, status, method, base+path, body)
	}
	flow := `{"id":"survey","name":"Survey","widgets":[
		{"id":"ask","type":"wait_for_response","result":"Age","exits":{"Next":"thanks"}},
		{"id":"thanks","type":"send_message","text":"You are @flow.agee, from @flow.source"}]}`
	want := []map[string]any{
		{"widget": "thanks", "path": "widgets[1].text", "message": `@flow.agee: no widget of this flow saves a result "agee", so it is empty unless the session starts with that variable (did you mean "age"?)`},
		{"widget": "thanks", "path": "widgets[1].text", "message": `@flow.source: no widget of this flow saves a result "source", so it is empty unless the session starts with that variable (in a subflow, the calling flow's results are @parent.source)`},
	}
	check := func(what string, body map[string]any, want []map[string]any) {
		t.Helper()
		got, _ := json.Marshal(body["warnings"])
		exp, _ := json.Marshal(want)
		if len(want) == 0 {
			exp = []byte("null")
		}
		if string(got) != string(exp) {
			t.Errorf("%s: warnings %s, want %s", what, got, exp)
		}
	}
	v := post("POST", "/v1/flows/validate", flow, 200)
	if v["valid"] != true {
		t.Errorf("validate: %v", v)
	}
	check("validate", v, want)
	check("POST", post("POST", "/v1/flows", flow, 201), want)
	fixed := strings.Replace(flow, "@flow.agee", "@flow.age", 1)
	check("PUT", post("PUT", "/v1/flows/survey", fixed, 200), want[1:])

	// The session starts with the variable the warning names, and the
	// flow reads it.
	id, _ := post("POST", "/v1/sessions", `{"flow":"survey","contact":{"urn":"tel:+15550100"},"variables":{"source":"ad"}}`, 201)["id"].(string)
	r := post("POST", "/v1/sessions/"+id+"/resume", `{"text":"42"}`, 200)
	if got := texts(r); len(got) != 1 || got[0] != "You are 42, from ad" {
		t.Errorf("messages %q", got)
	}
}

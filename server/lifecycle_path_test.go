package server

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// flow.completed's path steps of a subflow's widgets name the subflow; the
// keys a step carries are the ones docs/events.md lists for path.
func TestFlowCompletedPathOfASubflow(t *testing.T) {
	ts := loopbackServer(t)
	ts.createFlow(`{"id":"child","name":"Child","widgets":[
 {"id":"c_set","type":"set_variable","name":"colour","value":"red"}]}`)
	ts.createFlow(`{"id":"parent","name":"Parent","widgets":[
 {"id":"p_set","type":"set_variable","name":"code","value":"7","exits":{"Next":"p_sub"}},
 {"id":"p_sub","type":"subflow","flow":"child","exits":{"Complete":"p_last"}},
 {"id":"p_last","type":"set_variable","name":"done","value":"yes"}]}`)
	recv := newSink(t)
	ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": recv.URL, "events": []string{"flow.completed"}})
	ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "parent", "contact": map[string]any{"urn": "tel:+15550120"}})
	eventually(t, "flow.completed", func() bool { return len(recv.ofType("flow.completed")) > 0 })

	path, _ := recv.ofType("flow.completed")[0].data["path"].([]any)
	var got []string
	keys := map[string]bool{}
	for _, p := range path {
		step, _ := p.(map[string]any)
		for k := range step {
			keys[k] = true
		}
		f, _ := step["flow"].(string)
		got = append(got, f+"/"+step["widget"].(string))
	}
	if want := []string{"/p_set", "/p_sub", "child/c_set", "/p_last"}; !slices.Equal(got, want) {
		t.Errorf("path (flow/widget) %v, want %v", got, want)
	}
	doc, err := os.ReadFile("../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "| `path` |") {
			row = line
		}
	}
	for k := range keys {
		if !strings.Contains(row, "`"+k+"`") {
			t.Errorf("a path step carries %q, which the path row of flow.completed in docs/events.md does not list: %s", k, row)
		}
	}
}

package server

import (
	"strings"
	"testing"
)

// --max-value (Config.MaxValue) is the engine's limit of a value: a message
// longer than it fails its widget, one within it is sent.
func TestMaxValue(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.MaxValue = 100 })
	ts.createFlow(`{"id":"long","name":"Long","widgets":[
 {"id":"set","type":"set_variable","name":"text","value":"@(repeat('ab', int(flow.n.value)))","exits":{"Next":"say","Failure":"sorry"}},
 {"id":"say","type":"send_message","text":"@flow.text"},
 {"id":"sorry","type":"send_message","text":"too long"}]}`)
	for _, c := range []struct {
		n, want string
	}{{"50", strings.Repeat("ab", 50)}, {"51", "too long"}} {
		r := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "long", "variables": map[string]any{"n": c.n}})
		if got := texts(r); len(got) != 1 || got[0] != c.want {
			t.Errorf("repeat('ab', %s) with --max-value 100: sent %v, want %q", c.n, got, c.want)
		}
	}
}

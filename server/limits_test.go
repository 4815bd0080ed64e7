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

// A contact field the request gives replaces the stored field of the same
// key whatever its spelling: a CRM that sends "Tier" at every start is heard
// after a flow has stored the field as "tier".
func TestRequestFieldReplacesStoredSpelling(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(`{"id":"set","name":"Set","widgets":[
 {"id":"v","type":"set_variable","scope":"user","name":"Tier","value":"silver","exits":{"Next":""}}]}`)
	ts.createFlow(`{"id":"show","name":"Show","widgets":[
 {"id":"say","type":"send_message","text":"tier=@contact.fields.Tier @(length(contact.fields))"}]}`)
	ts.must(201, "POST", "/v1/sessions", `{"flow":"set","contact":{"urn":"tel:+1666","fields":{"Tier":"gold"}}}`)
	r := ts.must(201, "POST", "/v1/sessions", `{"flow":"show","contact":{"urn":"tel:+1666","fields":{"Tier":"platinum"}}}`)
	if got := texts(r); len(got) != 1 || got[0] != "tier=platinum 1" {
		t.Errorf("sent %v, want [tier=platinum 1]", got)
	}
	r = ts.must(201, "POST", "/v1/sessions", `{"flow":"show","contact":{"urn":"tel:+1666"}}`)
	if got := texts(r); len(got) != 1 || got[0] != "tier=platinum 1" {
		t.Errorf("without fields: sent %v, want the stored [tier=platinum 1]", got)
	}
}

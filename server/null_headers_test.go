package server

import (
	"testing"
)

// A header given as null is refused wherever headers are given, as in a
// flow, naming its path, rather than stored and sent as an empty header:
// a configured webhook (POST and PUT), an event endpoint (POST and PUT) and
// a mock of the simulator. Nothing is stored; a header given again after the
// null is the value read.
func TestNullHeaderRefused(t *testing.T) {
	ts := newTestServer(t, nil)
	sub := ts.must(201, "POST", "/v1/webhooks", `{"url":"https://crm.example.com/hooks","headers":{"X-Team":"a"}}`)
	id := sub["id"].(string)
	ts.must(201, "POST", "/v1/webhook-configs", `{"name":"kept","url":"https://api.example.com/","headers":{"X-Team":"a"}}`)
	for _, c := range []struct{ method, path, body, field, message string }{
		{"POST", "/v1/webhook-configs", `{"name":"crm","url":"https://api.example.com/","headers":{"X-Team":null}}`,
			"headers.X-Team", "headers.X-Team: expected a string, got JSON null"},
		{"PUT", "/v1/webhook-configs/kept", `{"name":"kept","url":"https://api.example.com/","headers":{"X-Team":"a","X-Key":null,"X-Other":null}}`,
			"headers.X-Key", "2 problems: headers.X-Key: expected a string, got JSON null; headers.X-Other: expected a string, got JSON null"},
		{"POST", "/v1/webhooks", `{"url":"https://crm.example.com/hooks","headers":{"X-Team":null}}`,
			"headers.X-Team", "headers.X-Team: expected a string, got JSON null"},
		{"PUT", "/v1/webhooks/" + id, `{"url":"https://crm.example.com/hooks","headers":{"X-Team":null}}`,
			"headers.X-Team", "headers.X-Team: expected a string, got JSON null"},
		{"POST", "/v1/simulator/sessions", `{"definition":{"id":"f","widgets":[{"id":"hook","type":"webhook","url":"https://api.example.com/","exits":{"Success":"","Failure":""}}]},"mocks":{"hook":{"status":200,"headers":{"X-Team":null}}}}`,
			"mocks.hook.headers.X-Team", "mocks.hook.headers.X-Team: expected a string, got JSON null"},
	} {
		r := ts.do(c.method, c.path, c.body)
		if r.Status != 400 {
			t.Errorf("%s %s: status %d, want 400: %s", c.method, c.path, r.Status, r.Body)
			continue
		}
		e := r.errorOf(t)
		if e["code"] != "invalid_field" || e["field"] != c.field || e["message"] != c.message {
			t.Errorf("%s %s: error %v, want invalid_field at %s: %s", c.method, c.path, e, c.field, c.message)
		}
	}
	ts.must(404, "GET", "/v1/webhook-configs/crm", nil)
	if got := ts.must(200, "GET", "/v1/webhook-configs/kept", nil)["headers"].(map[string]any); len(got) != 1 || got["X-Team"] != "a" {
		t.Errorf("the configured webhook's headers are %v, want those stored before", got)
	}
	if got := ts.must(200, "GET", "/v1/webhooks/"+id, nil)["headers"].(map[string]any); len(got) != 1 || got["X-Team"] != "a" {
		t.Errorf("the endpoint's headers are %v, want those stored before", got)
	}
	if n := len(ts.must(200, "GET", "/v1/webhooks", nil)["webhooks"].([]any)); n != 1 {
		t.Errorf("%d endpoints, want the one", n)
	}
	// A null the same name given again replaces is no null, as in a flow.
	got := ts.must(201, "POST", "/v1/webhook-configs", `{"name":"twice","url":"https://api.example.com/","headers":{"X-Team":null},"headers":{"X-Team":"b"}}`)
	if h := got["headers"].(map[string]any); h["X-Team"] != "b" {
		t.Errorf("headers given twice: %v, want X-Team: b", h)
	}
}

package callout

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
)

func TestExtract(t *testing.T) {
	body := []byte(`{"data":{"order":{"status":"shipped","items":[{"sku":"A"},{"sku":"B"}],"total":12.5,"paid":true,"note":null}}}`)
	tests := []struct {
		name     string
		body     []byte
		mappings map[string]string
		values   map[string]string
		missing  []string
	}{
		{name: "paths", body: body, mappings: map[string]string{
			"status": "data.order.status", "first_sku": "data.order.items.0.sku", "count": "data.order.items.#",
			"total": "data.order.total", "paid": "data.order.paid", "items": "data.order.items", "skus": "data.order.items.#.sku",
		}, values: map[string]string{
			"status": "shipped", "first_sku": "A", "count": "2", "total": "12.5", "paid": "true",
			"items": `[{"sku":"A"},{"sku":"B"}]`, "skus": `["A","B"]`,
		}},
		// A null is an empty value, as @extra.PATH renders it, not the text "null".
		{name: "null", body: body, mappings: map[string]string{"note": "data.order.note", "nul": "data.order.note.deep"},
			values: map[string]string{"note": ""}, missing: []string{"nul"}},
		{name: "missing", body: body, mappings: map[string]string{"x": "data.nope", "y": "data.order.status.deep"},
			values: map[string]string{}, missing: []string{"x", "y"}},
		{name: "not JSON", body: []byte("<html>"), mappings: map[string]string{"s": "status"}, values: map[string]string{}, missing: []string{"s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values, missing := Extract(tt.body, tt.mappings)
			if !reflect.DeepEqual(values, tt.values) || !reflect.DeepEqual(missing, tt.missing) {
				t.Fatalf("got %v %v, want %v %v", values, missing, tt.values, tt.missing)
			}
		})
	}
}

func TestExtra(t *testing.T) {
	tests := []struct {
		res  flows.WebhookResult
		want string
	}{
		{flows.WebhookResult{Outcome: flows.OutcomeSuccess, Body: []byte(` {"a":1} `)}, `{"a":1}`},
		{flows.WebhookResult{Outcome: flows.OutcomeFailure, Body: []byte(`{"error":"nope"}`)}, `{"error":"nope"}`},
		{flows.WebhookResult{Outcome: flows.OutcomeSuccess, Body: []byte(`[1,2]`)}, `[1,2]`},
		{flows.WebhookResult{Outcome: flows.OutcomeSuccess, Body: []byte(`OK`)}, ``},
		{flows.WebhookResult{Outcome: flows.OutcomeSuccess}, ``},
		{flows.WebhookResult{Outcome: flows.OutcomeTooBig, Body: []byte(`{"a":1}`)}, ``},
		{flows.WebhookResult{Outcome: flows.OutcomeSuccess, Body: []byte(` {"a": 1, "a": 2} `)}, `{"a":2}`},
	}
	for _, tt := range tests {
		if got := string(Extra(&tt.res)); got != tt.want {
			t.Errorf("Extra(%s %q) = %q, want %q", tt.res.Outcome, tt.res.Body, got, tt.want)
		}
	}
}

// TestLastValues: a name given twice in an object keeps its first place and
// its last value, at any depth; text without a repeated name, and text that
// is not JSON, come back as they are.
func TestLastValues(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"no repeat", `{"a": 1, "b": [1, {"c": 2}]}`, `{"a": 1, "b": [1, {"c": 2}]}`},
		{"same name in other objects", `{"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]}`, `{"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]}`},
		{"last value, first place", `{"a": 1, "b": 2, "a": 3}`, `{"a":3,"b":2}`},
		{"three times", `{"a": 1, "a": 2, "a": 3}`, `{"a":3}`},
		{"nested object", `{"o": {"b": "x", "b": "y"}}`, `{"o":{"b":"y"}}`},
		{"inside a list", `[1, [{"q": 1, "q": 2}]]`, `[1,[{"q":2}]]`},
		{"a repeated object replaced whole", `{"o": {"x": 1}, "o": {"y": 2}}`, `{"o":{"y":2}}`},
		{"the replaced value's own repeats", `{"o": 1, "o": {"y": 1, "y": 2}}`, `{"o":{"y":2}}`},
		{"escaped name", `{"a": 1, "\u0061": 2}`, `{"a":2}`},
		{"values keep their text", `{"n": 1, "n": 12345678901234567890.50, "s": "\u00e9\n", "s": "\u00e9\t"}`, `{"n":12345678901234567890.50,"s":"\u00e9\t"}`},
		{"names in strings are not names", `{"a": "\"a\": 1", "b": "a"}`, `{"a": "\"a\": 1", "b": "a"}`},
		{"invalid UTF-8 kept", "{\"a\": \"\xff\", \"a\": \"\xfe\"}", "{\"a\":\"\xfe\"}"},
		{"not JSON", `{"a": 1, "a": }`, `{"a": 1, "a": }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rewritten := LastValues([]byte(tt.in))
			if string(got) != tt.want {
				t.Errorf("LastValues(%s) = %s, want %s", tt.in, got, tt.want)
			}
			if rewritten != (tt.in != tt.want) {
				t.Errorf("rewritten = %v", rewritten)
			}
		})
	}
}

func TestExit(t *testing.T) {
	tests := []struct {
		outcome string
		timeout bool
		want    string
	}{
		{flows.OutcomeSuccess, false, flows.ExitSuccess},
		{flows.OutcomeFailure, true, flows.ExitFailure},
		{flows.OutcomeTimeout, true, flows.ExitTimeout},
		{flows.OutcomeTimeout, false, flows.ExitFailure},
		{flows.OutcomeError, true, flows.ExitTimeout},
		{flows.OutcomeError, false, flows.ExitFailure},
		{flows.OutcomeBlocked, true, flows.ExitFailure},
		{flows.OutcomeTooBig, true, flows.ExitFailure},
	}
	for _, tt := range tests {
		if got := Exit(tt.outcome, tt.timeout); got != tt.want {
			t.Errorf("Exit(%s, %v) = %s, want %s", tt.outcome, tt.timeout, got, tt.want)
		}
	}
}

func TestDescribeAndEvent(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		w.Write([]byte(`{"id":7,"status":"created"}`))
	})
	req := &flows.WebhookRequest{Name: "orders", Method: "post", URL: srv.URL + "/orders", Body: []byte(`{"text":"hi"}`),
		Auth: &flows.WebhookAuth{Type: flows.AuthBearer, Token: "bearer-s3cret"}}
	res := call(t, newService(t, Options{}), req)
	out := Describe(res)
	for _, want := range []string{
		"> POST " + srv.URL + "/orders", "> Authorization: [redacted]", "> Content-Type: application/json", `"text": "hi"`,
		"< 201 Created", "< Content-Type: application/json", `"status": "created"`, "success in ", "1 attempt",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Describe lacks %q:\n%s", want, out)
		}
	}
	ev := Event(req, res)
	if ev.Type != flows.EventWebhookCalled || ev.Name != "orders" || ev.Method != "POST" || ev.URL != srv.URL+"/orders" ||
		ev.Status != 201 || ev.Outcome != flows.OutcomeSuccess || ev.Attempts != 1 || ev.Request == nil || ev.Response == nil {
		t.Fatalf("event %+v", ev)
	}
}

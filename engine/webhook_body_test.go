package engine_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// webhookBodies runs a flow whose first widget, "in", gets answer from a
// test server, then the widgets given (URL in them is the server's); the
// bodies the flow's webhooks sent come back in order.
func webhookBodies(t *testing.T, answer, widgetsJSON string, params engine.StartParams) []string {
	t.Helper()
	var (
		mu     sync.Mutex
		bodies []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(answer))
	}))
	defer srv.Close()
	hooks := callout.New(callout.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	e := engine.New(widgets.Registered(), engine.WithServices(sim.Services{Hooks: hooks}),
		engine.WithClock(func() time.Time { return clock0 }))
	f, err := e.Load([]byte(`{"id": "w", "name": "w", "widgets": [
	  {"id": "in", "type": "webhook", "method": "GET", "url": "` + srv.URL + `/in", "exits": {"Success": "out"}},
	  ` + strings.ReplaceAll(widgetsJSON, "URL", srv.URL) + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Start(context.Background(), f, params); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return bodies
}

// TestJSONBodyInsertsJSONOutsideStrings: in a custom JSON body a value
// inserted outside a string is JSON (a list or map as JSON, null and an
// empty or unknown value as null, a string as before: "n": @extra.amount
// sends 12.50), one inside a string is escaped as its content; whether a
// string is open is read from the body's literal text, escaped quotes
// included.
func TestJSONBodyInsertsJSONOutsideStrings(t *testing.T) {
	answer := `{"arr": [{"sku": "x1"}, {"sku": "x2"}], "a": {"b": "c\"d"}, "nul": null, "amount": "12.50", "n": 3, "empty": "", "ok": true}`
	cases := []struct{ name, body, want string }{
		{"lists, maps and null",
			`{"arr":@extra.arr,"obj":@(extra.a),"list":@([1,"x"]),"nul":@extra.nul}`,
			`{"arr":[{"sku": "x1"}, {"sku": "x2"}],"obj":{"b":"c\"d"},"list":[1,"x"],"nul":null}`},
		{"inside strings",
			`{"s":"@extra.a","l":"@(extra.arr) @extra.nul","q":"say \"@extra.amount\"","k\"@extra.n":1}`,
			`{"s":"{\"b\": \"c\\\"d\"}","l":"[{\"sku\":\"x1\"},{\"sku\":\"x2\"}] ","q":"say \"12.50\"","k\"3":1}`},
		{"numbers, booleans and text outside strings",
			`{"n":@extra.amount,"m":@(extra.n * 2),"b":@extra.ok,"c":@(extra.n > 2),"e":@extra.empty,"u":@extra.missing,"x":@(1/0)}`,
			`{"n":12.50,"m":6,"b":true,"c":true,"e":null,"u":null,"x":null}`},
		{"times as strings",
			`{"h":@(now),"l":@([now]),"d":@(date('2026-01-01')),"s":"@(date('2026-01-01'))"}`,
			`{"h":"2026-05-04T10:00:00Z","l":["2026-05-04T10:00:00Z"],"d":"2026-01-01T00:00:00Z","s":"2026-01-01T00:00:00Z"}`},
		{"durations and time zones as strings, alone as in a list",
			`{"d":@(duration('1h')),"l":@([duration('90s'), timezone('Asia/Tokyo')]),"m":@({"d": duration('1h')}),"z":@(timezone('UTC')),"s":"@(duration('1h'))"}`,
			`{"d":"1h0m0s","l":["1m30s","Asia/Tokyo"],"m":{"d":"1h0m0s"},"z":"UTC","s":"1h0m0s"}`},
		{"the whole answer",
			`{"all":@extra,"r":@flow.in.json.a,"\\":@extra.n}`,
			`{"all":` + answer + `,"r":{"b": "c\"d"},"\\":3}`},
	}
	// The example of docs/webhooks.md, with its answer.
	docAnswer := `{"items": [{"sku": "x1"}], "customer": {"name": "Ana \"A\""}, "note": null, "amount": "12.50"}`
	cases = append(cases, struct{ name, body, want string }{"docs/webhooks.md",
		`{"items": @extra.items, "customer": @(extra.customer), "note": @extra.note, "n": @extra.amount,` + "\n" +
			` "name": "@extra.customer.name", "ids": @([1, "x"]), "missing": @extra.nothing}`,
		`{"items": [{"sku": "x1"}], "customer": {"name":"Ana \"A\""}, "note": null, "n": 12.50,` + "\n" +
			` "name": "Ana \"A\"", "ids": [1,"x"], "missing": null}`})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, _ := json.Marshal(c.body)
			answer := answer
			if c.name == "docs/webhooks.md" {
				answer = docAnswer
			}
			bodies := webhookBodies(t, answer, `{"id": "out", "type": "webhook", "url": "URL/out", "body_mode": "custom", "body": `+string(body)+`}`, engine.StartParams{})
			if len(bodies) != 2 {
				t.Fatalf("%d requests", len(bodies))
			}
			if bodies[1] != c.want {
				t.Errorf("sent\n%s\nwant\n%s", bodies[1], c.want)
			}
			if !json.Valid([]byte(bodies[1])) {
				t.Errorf("sent invalid JSON %s", bodies[1])
			}
		})
	}
}

// TestFormBodyEncodesInserts: in a custom form body an inserted value is
// form-encoded, so a contact's text is one field's value and cannot add or
// replace fields.
func TestFormBodyEncodesInserts(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"Ann & Bob=1+2%", `name=Ann+%26+Bob%3D1%2B2%25&x=1`},
		{"x&amount=1000", `name=x%26amount%3D1000&x=1`},
	} {
		bodies := webhookBodies(t, `{}`, `{"id": "out", "type": "webhook", "url": "URL/out", "content_type": "form", "body_mode": "custom",
		  "body": "name=@contact.name&x=1"}`, engine.StartParams{Contact: flows.Contact{Name: c.name}})
		if len(bodies) != 2 || bodies[1] != c.want {
			t.Fatalf("contact %q: sent %q, want %s", c.name, bodies, c.want)
		}
		// As the receiver reads it.
		got, err := url.ParseQuery(bodies[1])
		want := url.Values{"name": {c.name}, "x": {"1"}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("contact %q: the receiver reads %v (%v), want %v", c.name, got, err, want)
		}
	}
}

// TestMappedNullIsEmpty: a mapping of a JSON null saves an empty value, as
// @extra.PATH renders it, not the text "null": has_text does not match it.
func TestMappedNullIsEmpty(t *testing.T) {
	bodies := webhookBodies(t, `{"nul": null}`, `
	  {"id": "out", "type": "webhook", "method": "GET", "url": "URL/out", "mappings": {"nul": "nul"}, "exits": {"Success": "split"}},
	  {"id": "split", "type": "split", "operand": "@flow.nul", "rules": [{"type": "has_text", "category": "Text"}],
	   "exits": {"Text": "text", "Other": "other"}},
	  {"id": "text", "type": "webhook", "url": "URL/text", "body_mode": "custom", "body": "{\"route\": \"text\", \"nul\": \"@flow.nul\"}"},
	  {"id": "other", "type": "webhook", "url": "URL/other", "body_mode": "custom", "body": "{\"route\": \"other\", \"nul\": \"@flow.nul\"}"}`,
		engine.StartParams{})
	want := []string{"", "", `{"route": "other", "nul": ""}`}
	if !reflect.DeepEqual(bodies, want) {
		t.Errorf("sent %q, want %q", bodies, want)
	}
}

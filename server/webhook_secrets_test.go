package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// A configured webhook keeps its credentials out of flows: the API shows
// them [redacted]. A flow that names it and gives a url of its own must
// not have them sent to another address, where its author would read them;
// a url to the same scheme, host and port is its to choose.
func TestConfiguredWebhookCredentialsStayWithItsAddress(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	defer api.Close()
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/fine" {
			t.Errorf("the other address was called at %s, with Authorization %q and X-Api-Key %q", r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
		}
	}))
	defer elsewhere.Close()

	ts := newTestServer(t, func(c *Config) { c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	for _, hook := range []string{
		`{"name":"orders","url":"` + api.URL + `/orders","method":"GET","auth":{"type":"bearer","token":"bearer-secret"}}`,
		`{"name":"crm","url":"` + api.URL + `/crm","method":"GET","headers":{"X-Api-Key":"header-secret","X-Tenant":"acme"}}`,
		`{"name":"plain","url":"` + api.URL + `/plain","method":"GET","headers":{"X-Tenant":"acme"}}`,
	} {
		if r := ts.do("POST", "/v1/webhook-configs", hook); r.Status != 201 {
			t.Fatalf("webhook config: %d %s", r.Status, r.Body)
		}
	}
	widget := func(id, hook, url, next string) string {
		w := `{"id":"` + id + `","type":"webhook","webhook":"` + hook + `","result":"` + id + `","exits":{"Success":"` + next + `","Failure":"` + next + `"}`
		if url != "" {
			w = strings.Replace(w, `"result"`, `"url":"`+url+`","result"`, 1)
		}
		return w + "}"
	}
	flow := `{"id":"hooks","name":"hooks","start":"a","widgets":[` +
		widget("a", "orders", elsewhere.URL+"/steal", "b") + "," +
		widget("b", "crm", elsewhere.URL+"/steal", "c") + "," +
		widget("c", "orders", api.URL+"/orders/@contact.name", "d") + "," +
		widget("d", "plain", elsewhere.URL+"/fine", "e") + "," +
		`{"id":"e","type":"send_message","text":"done","exits":{}}]}`
	errs := errorsOfRun(t, ts, flow, `{"flow":"hooks","contact":{"urn":"tel:+15550100","name":"Ada"}}`)
	for id, want := range map[string]string{
		"a": `webhook "orders": url: the configured webhook sends credentials (its auth) to ` + api.URL + `; a flow may not send them to ` + elsewhere.URL,
		"b": `webhook "crm": url: the configured webhook sends credentials (its header X-Api-Key) to ` + api.URL + `; a flow may not send them to ` + elsewhere.URL,
	} {
		if !strings.Contains(errs[id], want) {
			t.Errorf("widget %s: error %q; want it to say %q", id, errs[id], want)
		}
	}
	if errs["c"] != "" || errs["d"] != "" {
		t.Errorf("errors %v; want none for c (the configured address) and d (no credentials)", errs)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Get("Authorization") != "Bearer bearer-secret" {
		t.Errorf("calls to the configured address: %v; want c's, with its token", got)
	}
}

// The Host header decides which site of a server a request reaches: a flow
// that names a configured webhook sending credentials may not set another
// Host, which would hand them to another site at the configured address.
// One without credentials, and the configured webhook's own host, go as
// before; an Authorization header of the widget's own is sent in place of
// the configured auth, as an auth of its own would be.
func TestConfiguredWebhookCredentialsStayWithItsHost(t *testing.T) {
	type call struct{ host, auth, key string }
	var mu sync.Mutex
	var got []call
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, call{r.Host, r.Header.Get("Authorization"), r.Header.Get("X-Api-Key")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	defer api.Close()
	apiHost := strings.TrimPrefix(api.URL, "http://")

	ts := newTestServer(t, func(c *Config) { c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	for _, hook := range []string{
		`{"name":"orders","url":"` + api.URL + `/orders","method":"GET","auth":{"type":"bearer","token":"bearer-secret"}}`,
		`{"name":"crm","url":"` + api.URL + `/crm","method":"GET","headers":{"X-Api-Key":"header-secret"}}`,
		`{"name":"plain","url":"` + api.URL + `/plain","method":"GET","headers":{"X-Tenant":"acme"}}`,
	} {
		if r := ts.do("POST", "/v1/webhook-configs", hook); r.Status != 201 {
			t.Fatalf("webhook config: %d %s", r.Status, r.Body)
		}
	}
	widget := func(id, hook, headers, next string) string {
		return `{"id":"` + id + `","type":"webhook","webhook":"` + hook + `","headers":` + headers +
			`,"exits":{"Success":"` + next + `","Failure":"` + next + `"}}`
	}
	flow := `{"id":"hosts","name":"hosts","start":"a","widgets":[` +
		widget("a", "orders", `{"Host":"other.example"}`, "b") + "," +
		widget("b", "crm", `{"host":"@contact.name"}`, "c") + "," +
		widget("c", "orders", `{"Host":"`+strings.ToUpper(apiHost)+`"}`, "d") + "," +
		widget("d", "plain", `{"Host":"other.example"}`, "e") + "," +
		widget("e", "orders", `{"Host":"other.example","Authorization":"Bearer the-flow-own"}`, "f") + "," +
		`{"id":"f","type":"send_message","text":"done","exits":{}}]}`
	errs := errorsOfRun(t, ts, flow, `{"flow":"hosts","contact":{"urn":"tel:+15550100","name":"other.example"}}`)
	for id, want := range map[string]string{
		"a": `webhook "orders": headers.Host: the configured webhook sends credentials (its auth) to the host ` + apiHost + `; a flow may not send them to the host "other.example"`,
		"b": `webhook "crm": headers.host: the configured webhook sends credentials (its header X-Api-Key) to the host ` + apiHost + `; a flow may not send them to the host "other.example"`,
	} {
		if !strings.Contains(errs[id], want) {
			t.Errorf("widget %s: error %q; want it to say %q", id, errs[id], want)
		}
	}
	if errs["c"] != "" || errs["d"] != "" || errs["e"] != "" {
		t.Errorf("errors %v; want none for c (the configured host), d (no credentials) and e (its own Authorization)", errs)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []call{
		{strings.ToUpper(apiHost), "Bearer bearer-secret", ""},
		{"other.example", "", ""},
		{"other.example", "Bearer the-flow-own", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("calls %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("call %d: %+v; want %+v", i, got[i], want[i])
		}
	}
}

// errorsOfRun stores flow, starts a session as start says, and returns the
// messages of its error events by widget.
func errorsOfRun(t *testing.T, ts *testServer, flow, start string) map[string]string {
	t.Helper()
	if r := ts.do("POST", "/v1/flows", flow); r.Status != 201 {
		t.Fatalf("flow: %d %s", r.Status, r.Body)
	}
	r := ts.do("POST", "/v1/sessions", start)
	if r.Status != 201 {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	var s struct{ ID string }
	json.Unmarshal(r.Body, &s)
	ev := ts.do("GET", "/v1/sessions/"+s.ID+"/events", nil)
	var events struct {
		Events []struct{ Type, Widget, Message string }
	}
	json.Unmarshal(ev.Body, &events)
	errs := map[string]string{}
	for _, e := range events.Events {
		if e.Type == "error" {
			errs[e.Widget] = e.Message
		}
	}
	return errs
}

package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/syncbuf"

	"github.com/parleyhq/parley/callout"
)

// orderAPI is an order service behind OAuth 2.0: /token hands out a token,
// /v1/orders/X and /v2/orders/X answer with the token.
type orderAPI struct {
	*httptest.Server
	mu     sync.Mutex
	paths  []string
	tokens int
}

func newOrderAPI(t *testing.T) *orderAPI {
	o := &orderAPI{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/token" {
			_ = r.ParseForm()
			if r.Form.Get("client_secret") != "cs-orders-77" && r.Header.Get("Authorization") == "" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			o.mu.Lock()
			o.tokens++
			o.mu.Unlock()
			w.Write([]byte(`{"access_token":"at-orders-55","token_type":"Bearer","expires_in":3600}`))
			return
		}
		o.mu.Lock()
		o.paths = append(o.paths, r.URL.Path)
		o.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer at-orders-55" || r.Header.Get("X-Api-Key") != "k-orders-123" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"status":"shipped","path":"` + r.URL.Path + `"}`))
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *orderAPI) calls() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.paths...)
}

const lookupFlow = `{"id":"lookup","name":"Lookup","widgets":[
 {"id":"call","type":"webhook","webhook":"orders","result":"Lookup","exits":{"Success":"ok","Failure":"ko","Timeout":"ko"}},
 {"id":"ok","type":"send_message","text":"@extra.status @extra.path","exits":{"Next":""}},
 {"id":"ko","type":"send_message","text":"failed","exits":{"Next":""}}]}`

// Configured webhooks managed through the API: validated, stored, shown
// without secrets, tested like `parley webhook test`, and used by flows
// at once.
func TestWebhookConfigsAPI(t *testing.T) {
	orders := newOrderAPI(t)
	logs := &syncbuf.Buffer{}
	file := filepath.Join(t.TempDir(), "webhooks.json")
	if err := os.WriteFile(file, []byte(`{"webhooks":[{"name":"from-file","url":"https://example.com/x"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mod := func(c *Config) {
		c.DataDir = dir
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.WebhooksFile = file
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ts := newTestServer(t, mod)
	ts.createFlow(lookupFlow)
	run := func() string {
		r := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "lookup"})
		return strings.Join(texts(r), " ")
	}
	if got := run(); got != "failed" {
		t.Fatalf("a flow calling an unknown webhook said %q", got)
	}

	cfg := map[string]any{
		"name": "orders", "method": "GET", "url": orders.URL + "/v1/orders/@flow.order",
		"headers": map[string]any{"X-Api-Key": "k-orders-123", "X-Tenant": "acme"},
		"auth": map[string]any{"type": "oauth2_client_credentials", "client_id": "parley", "client_secret": "cs-orders-77",
			"token_url": orders.URL + "/token", "scopes": []string{"orders:read"}},
	}
	created := ts.must(201, "POST", "/v1/webhook-configs", cfg)
	if a := created["auth"].(map[string]any); a["client_secret"] != "[redacted]" || a["client_id"] != "parley" ||
		created["headers"].(map[string]any)["X-Api-Key"] != "[redacted]" || created["headers"].(map[string]any)["X-Tenant"] != "acme" ||
		created["source"] != "api" {
		t.Errorf("created answer %v", created)
	}
	ts.must(409, "POST", "/v1/webhook-configs", cfg)

	// Running flows use it at once.
	if got := run(); got != "shipped /v1/orders/" {
		t.Errorf("flow with the new webhook said %q", got)
	}

	// A GET, changed and sent back as it is ("source" included), keeps the
	// secrets it showed redacted.
	got := ts.must(200, "GET", "/v1/webhook-configs/orders", nil)
	got["url"] = orders.URL + "/v2/orders/@flow.order"
	if got["source"] != "api" {
		t.Fatalf("GET: source %v, want api", got["source"])
	}
	ts.must(200, "PUT", "/v1/webhook-configs/orders", got)
	if got := run(); got != "shipped /v2/orders/" {
		t.Errorf("after PUT the flow said %q, want the new URL with the kept credentials", got)
	}

	// Test: one request from sample variables; the request and the answer.
	res := ts.must(200, "POST", "/v1/webhook-configs/orders/test", `{"variables":{"order":"A-17"}}`)
	req, _ := res["request"].(map[string]any)
	resp, _ := res["response"].(map[string]any)
	if res["outcome"] != "success" || req["url"] != orders.URL+"/v2/orders/A-17" || req["method"] != "GET" ||
		req["headers"].(map[string]any)["Authorization"] != "[redacted]" || resp["status"] != float64(200) ||
		!strings.Contains(resp["body"].(string), `"shipped"`) {
		t.Errorf("test answered %v", res)
	}
	if c := orders.calls(); c[len(c)-1] != "/v2/orders/A-17" {
		t.Errorf("the test called %v", c)
	}
	ts.must(404, "POST", "/v1/webhook-configs/nope/test", `{}`)
	if r := ts.do("POST", "/v1/webhook-configs/orders/test", `{"variables":{"":"x"}}`); r.Status != 400 {
		t.Errorf("test with a nameless variable: %d %s", r.Status, r.Body)
	}

	list := ts.must(200, "GET", "/v1/webhook-configs", nil)["webhook_configs"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["name"] != "from-file" || list[0].(map[string]any)["source"] != "file" {
		t.Errorf("list %v, want from-file (file) and orders (api)", list)
	}

	for _, c := range []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"oauth2 without token_url", "PUT", "/v1/webhook-configs/x", `{"url":"https://e.com","auth":{"type":"oauth2_client_credentials","client_id":"c","client_secret":"s"}}`, 422, "auth.token_url"},
		{"unknown method", "PUT", "/v1/webhook-configs/x", `{"url":"https://e.com","method":"TRACE"}`, 422, "method"},
		{"no url", "POST", "/v1/webhook-configs", `{"name":"x"}`, 422, "url"},
		{"no name", "POST", "/v1/webhook-configs", `{"url":"https://e.com"}`, 400, "name"},
		{"bad name", "POST", "/v1/webhook-configs", `{"name":"a b","url":"https://e.com"}`, 422, "name"},
		{"names differ", "PUT", "/v1/webhook-configs/x", `{"name":"y","url":"https://e.com"}`, 400, "name"},
		{"unknown field", "PUT", "/v1/webhook-configs/x", `{"url":"https://e.com","colour":"red"}`, 400, "colour"},
		{"file config is read-only", "PUT", "/v1/webhook-configs/from-file", `{"url":"https://e.com"}`, 409, "name"},
		{"file config cannot be deleted", "DELETE", "/v1/webhook-configs/from-file", nil, 409, "name"},
	} {
		r := ts.do(c.method, c.path, c.body)
		if r.Status != c.status || r.errorOf(t)["field"] != c.field {
			t.Errorf("%s: %d %s, want %d naming %s", c.name, r.Status, r.Body, c.status, c.field)
		}
	}

	// Secrets never appear in answers or logs.
	for _, path := range []string{"/v1/webhook-configs", "/v1/webhook-configs/orders"} {
		body := string(ts.do("GET", path, nil).Body)
		for _, secret := range []string{"cs-orders-77", "k-orders-123", "at-orders-55"} {
			if strings.Contains(body, secret) {
				t.Errorf("GET %s shows %q", path, secret)
			}
		}
	}
	for _, secret := range []string{"cs-orders-77", "k-orders-123", "at-orders-55"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs show %q", secret)
		}
	}

	// Stored: a restart on the same data keeps it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ts = newTestServer(t, mod)
	if got := run(); got != "shipped /v2/orders/" {
		t.Errorf("after a restart the flow said %q", got)
	}
	ts.must(204, "DELETE", "/v1/webhook-configs/orders", nil)
	ts.must(404, "GET", "/v1/webhook-configs/orders", nil)
	ts.must(404, "DELETE", "/v1/webhook-configs/orders", nil)
	if got := run(); got != "failed" {
		t.Errorf("after DELETE the flow said %q", got)
	}
}

// The decoded answer of a test with basic auth shows the request with the
// credentials redacted.
func TestWebhookConfigTestBasicAuth(t *testing.T) {
	var seen http.Header
	var body []byte
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("no"))
	}))
	defer target.Close()
	ts := newTestServer(t, func(c *Config) { c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	ts.must(201, "PUT", "/v1/webhook-configs/crm", map[string]any{
		"url": target.URL + "/contacts", "auth": map[string]any{"type": "basic", "username": "parley", "password": "pw-crm-31"},
	})
	res := ts.must(200, "POST", "/v1/webhook-configs/crm/test", map[string]any{
		"variables": map[string]any{"order": "B-2"}, "contact": map[string]any{"urn": "tel:+15550111", "name": "Bea"},
	})
	if u, p, _ := (&http.Request{Header: seen}).BasicAuth(); u != "parley" || p != "pw-crm-31" {
		t.Errorf("the target got basic auth %q %q", u, p)
	}
	if !strings.Contains(string(body), "B-2") || !strings.Contains(string(body), "tel:+15550111") {
		t.Errorf("the default body lacks the sample variables or contact: %s", body)
	}
	if res["outcome"] != "failure" || res["status"] != float64(418) || strings.Contains(mustJSON(res), "pw-crm-31") {
		t.Errorf("test answered %v", res)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A receiver that echoes the credentials as JSON shows them neither in the
// test's response body nor in its "extra" (the answer as @extra).
func TestWebhookConfigTestRedactsExtra(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pw, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"password": pw, "key": r.Header.Get("X-Api-Key"), "ok": true})
	}))
	defer target.Close()
	ts := newTestServer(t, func(c *Config) { c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	ts.must(201, "PUT", "/v1/webhook-configs/crm", map[string]any{
		"url": target.URL, "headers": map[string]any{"X-Api-Key": "hdrkey777"},
		"auth": map[string]any{"type": "basic", "username": "parley", "password": "pw-secret-1"},
	})
	res := ts.must(200, "POST", "/v1/webhook-configs/crm/test", nil)
	extra, _ := res["extra"].(map[string]any)
	if res["outcome"] != "success" || extra["ok"] != true || extra["password"] != "[redacted]" || extra["key"] != "[redacted]" {
		t.Errorf("test answered %v", res)
	}
	for _, secret := range []string{"pw-secret-1", "hdrkey777"} {
		if strings.Contains(mustJSON(res), secret) {
			t.Errorf("the test answer shows %q: %s", secret, mustJSON(res))
		}
	}
}

// A configuration sent to /v1/webhook-configs has every problem reported,
// as the same entry of a --webhooks file has: those of decoding together
// (400), those of validation together (422), the first named by field.
func TestWebhookConfigEveryProblem(t *testing.T) {
	ts := newTestServer(t, nil)
	entry := `{"name":"a","url":"http://x/","timeout":"5","Headers":{}}`
	_, fileErr := callout.ParseConfigs([]byte(`{"webhooks":[` + entry + `]}`))
	if fileErr == nil {
		t.Fatal("the webhooks file took the entry")
	}
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		code, field              string
		want                     []string
	}{
		{"decoding", "POST", "/v1/webhook-configs", entry, 400, CodeInvalidField, "timeout", []string{
			`timeout: expected a number, got JSON string`,
			`Headers: unknown field "Headers" (did you mean "headers"?`,
		}},
		{"validation", "PUT", "/v1/webhook-configs/x", `{"url":"ftp://x/","method":"TRACE","retries":-1}`, 422, CodeInvalidField, "method", []string{
			`method: "TRACE" is not supported`,
			`url: "ftp://x/" must start with http:// or https://`,
			`retries: -1 is out of range`,
		}},
		{"validation with a bad name", "POST", "/v1/webhook-configs", `{"name":"a b","auth":{"type":"bearer"}}`, 422, CodeInvalidField, "name", []string{
			`name: name "a b" must start with a letter or digit`,
			`url: required`,
			`auth.token: required for bearer auth`,
		}},
		{"limits over their maximum", "POST", "/v1/webhook-configs", `{"name":"big","url":"http://x/","timeout":1000,"max_response_bytes":99999999}`, 422, CodeInvalidField, "timeout", []string{
			`timeout: 1000 seconds is out of range (0 to 300)`,
			`max_response_bytes: 99999999 is over the maximum of 16777216 (16 MiB)`,
		}},
		{"validation without a name", "POST", "/v1/webhook-configs", `{"url":"http://x/","timeout":301}`, 400, CodeBadRequest, "name", []string{
			`name: name is required`,
			`timeout: 301 seconds is out of range`,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ts.do(c.method, c.path, c.body)
			e := r.errorOf(t)
			if r.Status != c.status || e["code"] != c.code || e["field"] != c.field {
				t.Fatalf("%d %s, want %d %s naming %s", r.Status, r.Body, c.status, c.code, c.field)
			}
			list, _ := e["errors"].([]any)
			if len(list) != len(c.want) {
				t.Fatalf("errors %v, want %d", e["errors"], len(c.want))
			}
			for i, w := range c.want {
				p, _ := list[i].(map[string]any)
				if got := fmt.Sprint(p["path"], ": ", p["message"]); !strings.HasPrefix(got, w) {
					t.Errorf("error %d is %q, want it to start with %q", i, got, w)
				}
				if c.name == "decoding" && !strings.Contains(fileErr.Error(), fmt.Sprint("webhooks[0].", p["path"], ": ", p["message"])) {
					t.Errorf("the webhooks file's error %q does not have %v", fileErr, p)
				}
				if !strings.Contains(e["message"].(string), fmt.Sprint(p["path"], ": ", p["message"])) {
					t.Errorf("message %q does not name error %d", e["message"], i)
				}
			}
		})
	}
}

// A max_response_bytes over 16 MiB alone is refused by field, as a widget's.
func TestWebhookConfigMaxResponseBytes(t *testing.T) {
	ts := newTestServer(t, nil)
	r := ts.do("POST", "/v1/webhook-configs", `{"name":"big","url":"http://x/","max_response_bytes":99999999}`)
	e := r.errorOf(t)
	if r.Status != 422 || e["field"] != "max_response_bytes" || e["message"] != "max_response_bytes: 99999999 is over the maximum of 16777216 (16 MiB)" {
		t.Errorf("%d %s", r.Status, r.Body)
	}
	ts.must(201, "POST", "/v1/webhook-configs", `{"name":"most","url":"http://x/","max_response_bytes":16777216}`)
}

// The test's "extra" of an answer that repeats a name is the answer as
// @extra holds it: the name once, with its last value.
func TestWebhookConfigTestExtraRepeatedName(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status": "Pending", "order": {"id": 1, "id": 2}, "status": "Shipped"}`))
	}))
	defer target.Close()
	ts := newTestServer(t, func(c *Config) { c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	ts.must(201, "PUT", "/v1/webhook-configs/orders", map[string]any{"url": target.URL})
	r := ts.do("POST", "/v1/webhook-configs/orders/test", nil)
	var res struct{ Extra json.RawMessage }
	if err := json.Unmarshal(r.Body, &res); err != nil || r.Status != 200 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	if want := `{"status":"Shipped","order":{"id":2}}`; string(res.Extra) != want {
		t.Errorf("extra %s, want %s", res.Extra, want)
	}
}

// A URL's password and credential parameters read [redacted] as written in
// the configuration's answers and in a flow's webhook_called event; sent back
// as shown, or edited elsewhere, they keep the stored secrets.
func TestWebhookConfigURLSecrets(t *testing.T) {
	type seen struct{ path, user, pass, key string }
	var mu sync.Mutex
	var got []seen
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		mu.Lock()
		got = append(got, seen{r.URL.Path, u, p, r.URL.Query().Get("api_key")})
		mu.Unlock()
		// Echoes the headers, Basic auth from the URL's user part included.
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "headers": r.Header})
	}))
	defer target.Close()
	last := func() seen {
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 {
			return seen{}
		}
		return got[len(got)-1]
	}
	ts := newTestServer(t, func(c *Config) { c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	host := strings.TrimPrefix(target.URL, "http://")
	stored := "http://bob:CFGPASS55@" + host + "/hook?api_key=CFGKEY&q=a+b"
	shown := "http://bob:[redacted]@" + host + "/hook?api_key=[redacted]&q=a+b"
	noSecrets := func(what, body string) {
		t.Helper()
		for _, s := range []string{"CFGPASS55", "CFGKEY", "%5Bredacted%5D", base64.StdEncoding.EncodeToString([]byte("bob:CFGPASS55"))} {
			if strings.Contains(body, s) {
				t.Errorf("%s shows %q: %s", what, s, body)
			}
		}
	}

	created := ts.must(201, "PUT", "/v1/webhook-configs/crm", map[string]any{"url": stored, "method": "GET"})
	if created["url"] != shown {
		t.Errorf("PUT answered url %v, want %s", created["url"], shown)
	}
	noSecrets("PUT", mustJSON(created))
	cfg := ts.must(200, "GET", "/v1/webhook-configs/crm", nil)
	if cfg["url"] != shown {
		t.Errorf("GET answered url %v, want %s", cfg["url"], shown)
	}
	noSecrets("GET", mustJSON(cfg))
	noSecrets("the list", mustJSON(ts.must(200, "GET", "/v1/webhook-configs", nil)))

	// Sent back as shown, and with the path changed: the secrets are kept.
	ts.must(200, "PUT", "/v1/webhook-configs/crm", cfg)
	cfg["url"] = strings.Replace(shown, "/hook?", "/hook2?", 1)
	noSecrets("PUT", mustJSON(ts.must(200, "PUT", "/v1/webhook-configs/crm", cfg)))
	res := ts.must(200, "POST", "/v1/webhook-configs/crm/test", nil)
	if want := (seen{"/hook2", "bob", "CFGPASS55", "CFGKEY"}); res["outcome"] != "success" || last() != want {
		t.Errorf("after an edit the test sent %+v (outcome %v), want %+v", last(), res["outcome"], want)
	}
	if req, _ := res["request"].(map[string]any); req["url"] != strings.Replace(shown, "/hook?", "/hook2?", 1) {
		t.Errorf("the test's request url %v", req["url"])
	}
	noSecrets("the test's answer", mustJSON(res))
	if req, _ := res["request"].(map[string]any); req["headers"].(map[string]any)["Authorization"] != "[redacted]" {
		t.Errorf("the test's request headers %v, want Authorization [redacted]", req["headers"])
	}
	if resp, _ := res["response"].(map[string]any); !strings.Contains(resp["body"].(string), `"Basic [redacted]"`) {
		t.Errorf("the test's response body %v, want the echoed Authorization redacted", resp["body"])
	}

	// Another user has no stored password: [redacted] is refused, by field.
	cfg["url"] = strings.Replace(shown, "bob:", "ann:", 1)
	r := ts.do("PUT", "/v1/webhook-configs/crm", cfg)
	if e := r.errorOf(t); r.Status != 422 || e["field"] != "url" || !strings.Contains(e["message"].(string), "[redacted]") {
		t.Errorf("a URL with [redacted] and no stored secret: %d %s", r.Status, r.Body)
	}

	// A flow's event shows the URL as the answers do.
	ts.createFlow(`{"id":"crm-call","name":"CRM","widgets":[
 {"id":"call","type":"webhook","webhook":"crm","result":"CRM","exits":{"Success":"","Failure":""}}]}`)
	id := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "crm-call"})["id"].(string)
	ev := webhookEvent(t, ts, id)
	var e struct {
		URL     string
		Request struct {
			URL     string
			Headers map[string]string
		}
	}
	json.Unmarshal([]byte(ev), &e)
	if want := strings.Replace(shown, "/hook?", "/hook2?", 1); e.URL != want || e.Request.URL != want {
		t.Errorf("the webhook_called event's urls %q and %q, want %s", e.URL, e.Request.URL, want)
	}
	if e.Request.Headers["Authorization"] != "[redacted]" {
		t.Errorf("the webhook_called event's request headers %v, want Authorization [redacted]", e.Request.Headers)
	}
	noSecrets("the event", ev)
}

// A secret sent back as [redacted] is kept only for the address it was
// stored for: a PUT that moves the webhook to another scheme, host or port
// must give the secrets again, or the stored password, api_key, bearer
// token and secret headers would go to a host of the PUT's choosing.
func TestWebhookConfigSecretsKeptOnlyForTheirAddress(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.String()+" "+r.Header.Get("Authorization")+" "+r.Header.Get("X-Api-Key"))
		mu.Unlock()
		io.WriteString(w, `{"ok":true}`)
	}))
	defer echo.Close()
	ts := newTestServer(t, func(c *Config) { c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	stored := map[string]any{"method": "GET", "url": "https://bob:URLPW777@api.example.com/x?api_key=QK777",
		"auth": map[string]any{"type": "bearer", "token": "TOK777"}, "headers": map[string]any{"X-Api-Key": "HK777"}}
	ts.must(201, "PUT", "/v1/webhook-configs/crm", stored)
	shown := ts.must(200, "GET", "/v1/webhook-configs/crm", nil)
	newHost := strings.TrimPrefix(echo.URL, "http://")

	const says = "[redacted] stands for the secret stored for https://api.example.com: give the secret again for a new address"
	for _, url := range []string{
		"http://bob:[redacted]@" + newHost + "/echo?api_key=[redacted]", // another host, over http
		"http://bob:[redacted]@api.example.com/x?api_key=[redacted]",    // the same host over http
		"https://bob:[redacted]@api.example.com:8443/x?api_key=[redacted]",
		"https://bob:[redacted]@api.example.com.evil.example/x?api_key=[redacted]",
	} {
		cfg := maps.Clone(shown)
		cfg["url"] = url
		r := ts.do("PUT", "/v1/webhook-configs/crm", cfg)
		e := r.errorOf(t)
		if r.Status != 422 || e["code"] != CodeInvalidField || e["field"] != "url" || !strings.Contains(e["message"].(string), says) {
			t.Errorf("PUT url %s: %d %s, want 422 on url saying %q", url, r.Status, r.Body, says)
			continue
		}
		var fields []string
		for _, d := range e["errors"].([]any) {
			fields = append(fields, d.(map[string]any)["path"].(string))
		}
		if strings.Join(fields, " ") != "url auth.token headers.X-Api-Key" {
			t.Errorf("PUT url %s: problems on %q, want url, auth.token and headers.X-Api-Key", url, fields)
		}
	}
	// The stored configuration is unchanged.
	if got := ts.must(200, "GET", "/v1/webhook-configs/crm", nil); got["url"] != shown["url"] {
		t.Errorf("after the refused PUTs: url %v, want %v", got["url"], shown["url"])
	}
	// Moved with only the bearer token left [redacted]: refused on it alone.
	cfg := maps.Clone(shown)
	cfg["url"] = echo.URL + "/echo"
	cfg["headers"] = map[string]any{"X-Api-Key": "HK-new"}
	r := ts.do("PUT", "/v1/webhook-configs/crm", cfg)
	if e := r.errorOf(t); r.Status != 422 || e["field"] != "auth.token" || !strings.Contains(e["message"].(string), "auth.token: "+says) {
		t.Errorf("PUT to a new address with auth.token [redacted]: %d %s, want 422 on auth.token", r.Status, r.Body)
	}
	// The same address with its default port written out keeps them.
	cfg = maps.Clone(shown)
	cfg["url"] = "HTTPS://bob:[redacted]@API.example.com:443/y?api_key=[redacted]"
	ts.must(200, "PUT", "/v1/webhook-configs/crm", cfg)
	got := ts.srv.hooks.api["crm"]
	if got.URL != "HTTPS://bob:URLPW777@API.example.com:443/y?api_key=QK777" || got.Auth.Token != "TOK777" || got.Headers["X-Api-Key"] != "HK777" {
		t.Errorf("PUT to the same address: stored %s, token %q, headers %v; want the stored secrets kept", got.URL, got.Auth.Token, got.Headers)
	}
	// Given again, the new address gets the new secrets, never the old.
	cfg = map[string]any{"method": "GET", "url": echo.URL + "/echo?api_key=QK-new",
		"auth": map[string]any{"type": "bearer", "token": "TOK-new"}, "headers": map[string]any{"X-Api-Key": "HK-new"}}
	ts.must(200, "PUT", "/v1/webhook-configs/crm", cfg)
	ts.must(200, "POST", "/v1/webhook-configs/crm/test", nil)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "/echo?api_key=QK-new Bearer TOK-new HK-new" {
		t.Errorf("the new address got %q, want only the new secrets", seen)
	}
}

// An OAuth 2.0 client secret goes to the token URL: it is kept while that
// is the same, and refused [redacted] for another.
func TestWebhookConfigClientSecretKeptForItsTokenURL(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(201, "PUT", "/v1/webhook-configs/orders", map[string]any{"url": "https://api.example.com/orders",
		"auth": map[string]any{"type": "oauth2_client_credentials", "client_id": "parley", "client_secret": "CS777", "token_url": "https://auth.example.com/token"}})
	cfg := ts.must(200, "GET", "/v1/webhook-configs/orders", nil)
	cfg["url"] = "https://api2.example.com/orders"
	ts.must(200, "PUT", "/v1/webhook-configs/orders", cfg)
	if s := ts.srv.hooks.api["orders"].Auth.ClientSecret; s != "CS777" {
		t.Errorf("client secret %q after a new URL with the same token URL, want it kept", s)
	}
	cfg["auth"].(map[string]any)["token_url"] = "https://auth.evil.example/token"
	r := ts.do("PUT", "/v1/webhook-configs/orders", cfg)
	if e := r.errorOf(t); r.Status != 422 || e["field"] != "auth.client_secret" ||
		!strings.Contains(e["message"].(string), "[redacted] stands for the secret stored for https://auth.example.com: give the secret again for a new address (https://auth.evil.example)") {
		t.Errorf("PUT with another token URL: %d %s, want 422 on auth.client_secret", r.Status, r.Body)
	}
}

// A [redacted] sent back percent-encoded, as URL libraries and earlier
// answers write the brackets (%5Bredacted%5D, in either case), stands for the
// stored secret as [redacted] does: in the password and in a query value.
func TestWebhookConfigPercentEncodedRedacted(t *testing.T) {
	var mu sync.Mutex
	var got []string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		mu.Lock()
		got = append(got, r.URL.Path+" "+u+":"+p+" "+r.URL.RawQuery)
		mu.Unlock()
		io.WriteString(w, `{"ok":true}`)
	}))
	defer target.Close()
	ts := newTestServer(t, func(c *Config) { c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	host := strings.TrimPrefix(target.URL, "http://")
	ts.must(201, "PUT", "/v1/webhook-configs/w1", map[string]any{"method": "GET", "url": "http://bob:PW4242@" + host + "/x?api_key=KEY4242&q=1"})

	for i, url := range []string{
		"http://bob:%5Bredacted%5D@" + host + "/x?api_key=%5Bredacted%5D&q=1",
		"http://bob:%5bredacted%5d@" + host + "/y?api_key=%5bredacted%5D&q=2",
	} {
		r := ts.do("PUT", "/v1/webhook-configs/w1", map[string]any{"method": "GET", "url": url})
		if r.Status != 200 {
			t.Fatalf("PUT %s: %d %s", url, r.Status, r.Body)
		}
		res := ts.must(200, "POST", "/v1/webhook-configs/w1/test", nil)
		want := []string{"/x bob:PW4242 api_key=KEY4242&q=1", "/y bob:PW4242 api_key=KEY4242&q=2"}[i]
		mu.Lock()
		last := got[len(got)-1]
		mu.Unlock()
		if res["outcome"] != "success" || last != want {
			t.Errorf("after PUT %s the receiver got %q, want %q", url, last, want)
		}
	}

	// For another address it is refused as [redacted] is, nothing stored.
	r := ts.do("PUT", "/v1/webhook-configs/w1", map[string]any{"method": "GET", "url": "http://bob:%5Bredacted%5D@127.0.0.2:9/x?api_key=%5Bredacted%5D"})
	if e := r.errorOf(t); r.Status != 422 || e["field"] != "url" || !strings.Contains(e["message"].(string), "[redacted] stands for the secret stored for http://"+host) {
		t.Errorf("PUT to another address: %d %s, want 422 on url", r.Status, r.Body)
	}
	// Where no stored secret fits it is refused too, not stored as a password.
	for _, method := range []string{"PUT", "POST"} {
		path := "/v1/webhook-configs/w1"
		body := map[string]any{"method": "GET", "url": "http://ann:%5Bredacted%5D@" + host + "/x"}
		if method == "POST" {
			path, body["name"] = "/v1/webhook-configs", "w2"
		}
		r := ts.do(method, path, body)
		if e := r.errorOf(t); r.Status != 422 || e["field"] != "url" || !strings.Contains(e["message"].(string), "no stored secret of this webhook fits") {
			t.Errorf("%s with %%5Bredacted%%5D for another user: %d %s, want 422 on url", method, r.Status, r.Body)
		}
	}
	if u := ts.srv.hooks.api["w1"].URL; u != "http://bob:PW4242@"+host+"/y?api_key=KEY4242&q=2" {
		t.Errorf("stored url %s", u)
	}
}

// A URL with an empty password (bob:@) has nothing to redact: it is shown
// as it is, and a GET answer, edited, can be PUT back.
func TestWebhookConfigEmptyURLPassword(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(201, "PUT", "/v1/webhook-configs/w1", map[string]any{"url": "https://bob:@api.example.com/x?api_key=KEY4242&q=1"})
	cfg := ts.must(200, "GET", "/v1/webhook-configs/w1", nil)
	if want := "https://bob:@api.example.com/x?api_key=[redacted]&q=1"; cfg["url"] != want {
		t.Errorf("GET url %v, want %s", cfg["url"], want)
	}
	cfg["url"] = strings.Replace(cfg["url"].(string), "/x?", "/y?", 1)
	r := ts.do("PUT", "/v1/webhook-configs/w1", cfg)
	if r.Status != 200 {
		t.Fatalf("PUT of the GET answer with the path edited: %d %s", r.Status, r.Body)
	}
	if u := ts.srv.hooks.api["w1"].URL; u != "https://bob:@api.example.com/y?api_key=KEY4242&q=1" {
		t.Errorf("stored url %s", u)
	}
}

// Error answers do not repeat the secrets of the URLs they quote: a URL's
// password and credential parameters read [redacted] there too.
func TestWebhookConfigErrorsRedactURLs(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(201, "PUT", "/v1/webhook-configs/w1", map[string]any{"url": "https://api.example.com/x?token=TOK4242"})
	wantRedactedErrors(t, ts, "PUT", "/v1/webhook-configs/w1", []redactedErrorCase{
		{"a [redacted] no stored secret fits", map[string]any{"url": "https://bob:PW4242@api.example.com/y?token=[redacted]&api_key=[redacted]"},
			"url", `"https://bob:[redacted]@api.example.com/y?token=[redacted]&api_key=[redacted]" holds [redacted]`},
		{"not http", map[string]any{"url": "ftp://bob:PW4242@api.example.com/x?api_key=KEY4242&q=1"},
			"url", `"ftp://bob:[redacted]@api.example.com/x?api_key=[redacted]&q=1" must start with http:// or https://`},
		{"not a URL", map[string]any{"url": "bob:PW4242@api.example.com/x?token=[redacted]"},
			"url", "give the secret again for a new address (not an http or https address)"},
		{"a token URL", map[string]any{"url": "https://api.example.com/x", "auth": map[string]any{"type": "oauth2_client_credentials",
			"client_id": "c", "client_secret": "CS4242", "token_url": "ftp://u:PW4242@auth.example.com/t?client_secret=CS4242"}},
			"auth.token_url", `"ftp://u:[redacted]@auth.example.com/t?client_secret=[redacted]" must be an http or https URL`},
	})
}

// A token URL's password and credential parameters read [redacted] in the
// answers too; sent back so, for the same token URL address, they keep the
// stored ones, and elsewhere or where none fits they are refused.
func TestWebhookConfigTokenURLSecrets(t *testing.T) {
	ts := newTestServer(t, nil)
	auth := map[string]any{"type": "oauth2_client_credentials", "client_id": "c", "client_secret": "CS4242",
		"token_url": "https://auth.example.com/token?api_key=KEY4242&tenant=t1"}
	ts.must(201, "PUT", "/v1/webhook-configs/w1", map[string]any{"url": "https://api.example.com/x", "auth": auth})
	cfg := ts.must(200, "GET", "/v1/webhook-configs/w1", nil)
	a := cfg["auth"].(map[string]any)
	if a["token_url"] != "https://auth.example.com/token?api_key=[redacted]&tenant=t1" {
		t.Errorf("GET auth.token_url %v, want its api_key [redacted]", a["token_url"])
	}
	if strings.Contains(mustJSON(ts.must(200, "GET", "/v1/webhook-configs", nil)), "KEY4242") {
		t.Errorf("the list shows the token URL's api_key")
	}
	a["token_url"] = "https://auth.example.com/token2?api_key=%5Bredacted%5D&tenant=t2"
	ts.must(200, "PUT", "/v1/webhook-configs/w1", cfg)
	if got := ts.srv.hooks.api["w1"].Auth; got.TokenURL != "https://auth.example.com/token2?api_key=KEY4242&tenant=t2" || got.ClientSecret != "CS4242" {
		t.Errorf("stored token_url %s, client secret %q; want the api_key and client secret kept", got.TokenURL, got.ClientSecret)
	}
	for _, tc := range []struct{ tokenURL, says string }{
		{"https://auth.evil.example/token?api_key=[redacted]", "auth.token_url: [redacted] stands for the secret stored for https://auth.example.com"},
		{"https://auth.example.com/token?key2=[redacted]", "auth.token_url: \"https://auth.example.com/token?key2=[redacted]\" holds [redacted] where no stored secret of this webhook fits"},
	} {
		a["token_url"] = tc.tokenURL
		r := ts.do("PUT", "/v1/webhook-configs/w1", cfg)
		if e := r.errorOf(t); r.Status != 422 || e["field"] != "auth.token_url" || !strings.Contains(e["message"].(string), tc.says) {
			t.Errorf("PUT token_url %s: %d %s, want 422 on auth.token_url saying %s", tc.tokenURL, r.Status, r.Body, tc.says)
		}
	}
}

// A secret header sent back [redacted] under its name in another case keeps
// the stored value, header names being the same without case; a [redacted]
// that no stored secret stands behind (an auth token or header never
// stored) is refused naming it, instead of being stored and sent as the
// text [redacted].
func TestWebhookConfigRedactedWithoutStoredSecret(t *testing.T) {
	var mu sync.Mutex
	var key string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		key = r.Header.Get("X-Api-Key")
		mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	defer target.Close()
	ts := newTestServer(t, func(c *Config) { c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	ts.must(201, "PUT", "/v1/webhook-configs/crm", map[string]any{"url": target.URL + "/h", "method": "GET", "headers": map[string]any{"X-Api-Key": "HDRSECRET1"}})
	ts.must(200, "PUT", "/v1/webhook-configs/crm", map[string]any{"url": target.URL + "/h", "method": "GET", "headers": map[string]any{"x-api-key": "[redacted]"}})
	ts.must(200, "POST", "/v1/webhook-configs/crm/test", map[string]any{})
	mu.Lock()
	got := key
	mu.Unlock()
	if got != "HDRSECRET1" {
		t.Errorf("the receiver got X-Api-Key %q, want the stored HDRSECRET1", got)
	}
	for _, body := range []map[string]any{
		{"url": target.URL + "/h", "method": "GET", "headers": map[string]any{"X-Other-Token": "[redacted]"}},
		{"url": target.URL + "/h", "method": "GET", "auth": map[string]any{"type": "bearer", "token": "[redacted]"}},
	} {
		r := ts.do("PUT", "/v1/webhook-configs/crm", body)
		e := r.errorOf(t)
		if r.Status != 422 || !strings.Contains(e["message"].(string), "no stored secret of this webhook fits") {
			t.Errorf("PUT %v: %d %s, want 422 saying no stored secret fits", body, r.Status, r.Body)
		}
	}
}

// Headers whose names differ only in case each keep their own stored value
// when sent back [redacted]: the name as stored is taken first.
func TestKeepSecretsHeadersOfEveryCase(t *testing.T) {
	stored := &flows.WebhookConfig{URL: "https://api.example.com/x", Headers: map[string]string{"X-Api-Key": "AAA", "x-api-key": "BBB"}}
	for range 20 {
		in := &flows.WebhookConfig{URL: "https://api.example.com/x", Headers: map[string]string{"X-Api-Key": "[redacted]", "x-api-key": "[redacted]"}}
		if err := keepSecrets(in, stored); err != nil {
			t.Fatal(err)
		}
		if in.Headers["X-Api-Key"] != "AAA" || in.Headers["x-api-key"] != "BBB" {
			t.Fatalf("headers %v, want each its own stored value", in.Headers)
		}
	}
}

// redactedErrorCase is a body whose answer must be 422 on field, saying
// says, and show none of the secrets wantRedactedErrors looks for.
type redactedErrorCase struct {
	name  string
	body  map[string]any
	field string
	says  string
}

// wantRedactedErrors sends each case's body and checks its error, and that
// no secret of the cases (PW4242, KEY4242, CS4242, TOK4242) shows in it.
func wantRedactedErrors(t *testing.T, ts *testServer, method, path string, cases []redactedErrorCase) {
	t.Helper()
	for _, tc := range cases {
		r := ts.do(method, path, tc.body)
		e := r.errorOf(t)
		if r.Status != 422 || e["field"] != tc.field || !strings.Contains(e["message"].(string), tc.says) {
			t.Errorf("%s: %d %s, want 422 on %s saying %s", tc.name, r.Status, r.Body, tc.field, tc.says)
		}
		for _, s := range []string{"PW4242", "KEY4242", "CS4242", "TOK4242"} {
			if strings.Contains(string(r.Body), s) {
				t.Errorf("%s: the answer shows %s: %s", tc.name, s, r.Body)
			}
		}
	}
}

// A configuration with more problems than are listed at once: the list
// ends saying there may be more, and the message counts "at least".
func TestWebhookConfigProblemsCutShort(t *testing.T) {
	ts := newTestServer(t, nil)
	var headers []string
	for i := range 60 {
		headers = append(headers, fmt.Sprintf(`"X-H%02d": 1`, i))
	}
	r := ts.do("PUT", "/v1/webhook-configs/x", `{"url":"http://x/","headers":{`+strings.Join(headers, ",")+`}}`)
	e := r.errorOf(t)
	list, _ := e["errors"].([]any)
	if r.Status != 400 || len(list) != 51 {
		t.Fatalf("%d, %d errors: %s", r.Status, len(list), r.Body)
	}
	last, _ := list[50].(map[string]any)
	if last["path"] != "$" || last["message"] != "and more: at most 50 problems are listed at once; these are the first 50" {
		t.Errorf("the last entry is %v", last)
	}
	if msg, _ := e["message"].(string); !strings.HasPrefix(msg, "more than 50 problems: headers.X-H00: expected a string, got JSON number") {
		t.Errorf("message %q", msg)
	}
}

// A header given twice, or in two spellings of one name, is refused by the
// configured webhooks' API as by the event endpoints', naming the header
// (both spellings), and nothing is stored; before, a configuration kept
// the last of a name given twice and dropped the other in silence.
func TestHeadersOfOneNameRefusedByConfigsAndEndpoints(t *testing.T) {
	ts := loopbackServer(t)
	for _, c := range []struct {
		headers     string
		status      int
		code, field string
		message     string
	}{
		{`{"Authorization": "Bearer one", "Authorization": "Bearer two"}`, 400, CodeMalformedJSON, "headers.Authorization",
			`headers.Authorization: the name "Authorization" is given twice in its object; give each name once`},
		{`{"Authorization": "Bearer one", "authorization": "Bearer two"}`, 422, CodeInvalidField, "headers.authorization",
			`names the same header as "Authorization" (header names are the same in any case): give it once`},
	} {
		for _, req := range []struct{ method, path, body string }{
			{"PUT", "/v1/webhook-configs/crm", `{"url": "https://crm.example.com/in", "headers": ` + c.headers + `}`},
			{"POST", "/v1/webhook-configs", `{"name": "crm", "url": "https://crm.example.com/in", "headers": ` + c.headers + `}`},
			{"POST", "/v1/webhooks", `{"url": "https://crm.example.com/in", "events": ["*"], "headers": ` + c.headers + `}`},
		} {
			r := ts.do(req.method, req.path, req.body)
			e := r.errorOf(t)
			if msg, _ := e["message"].(string); r.Status != c.status || e["code"] != c.code || e["field"] != c.field || !strings.Contains(msg, c.message) {
				t.Errorf("%s %s with headers %s: %d %s; want %d %s at %s saying %q", req.method, req.path, c.headers, r.Status, r.Body, c.status, c.code, c.field, c.message)
			}
		}
	}
	ts.must(404, "GET", "/v1/webhook-configs/crm", nil)
}

// Through the API as in the file, a field of a configured webhook given as
// null is not given (extra_json was refused as no object), while an element
// of a list given as null is refused, naming it, as a flow refuses it.
func TestWebhookConfigNullFields(t *testing.T) {
	ts := newTestServer(t, nil)
	got := ts.must(201, "PUT", "/v1/webhook-configs/crm", `{"url": "https://crm.example.com/in", "extra_json": null, "timeout": null,
	  "include": {"call": true, "user_keys": null}, "auth": {"type": "bearer", "token": "s", "username": null}}`)
	if _, ok := got["extra_json"]; ok || got["timeout"] != nil || got["auth"].(map[string]any)["username"] != nil {
		t.Errorf("stored as %v; want it without extra_json, timeout and auth.username", got)
	}
	r := ts.do("PUT", "/v1/webhook-configs/crm", `{"url": "https://crm.example.com/in", "auth": {"type": "oauth2_client_credentials",
	  "client_id": "c", "client_secret": "s", "token_url": "https://auth.example.com/t", "scopes": [null]}}`)
	if e := r.errorOf(t); r.Status != 400 || e["code"] != CodeInvalidField || e["field"] != "auth.scopes[0]" ||
		e["message"] != "auth.scopes[0]: expected a string, got JSON null" {
		t.Errorf("a null scope: %d %s", r.Status, r.Body)
	}
}

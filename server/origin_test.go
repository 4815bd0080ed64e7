package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// A web page the operator visits must not be able to use the API through
// the operator's browser: another site's Origin is refused, and a server
// without keys answers only loopback names (DNS rebinding).
func TestCrossSiteRequestsRefused(t *testing.T) {
	const key = "k_0123456789abcdef"
	cases := []struct {
		name        string
		keys        bool
		publicURL   string
		host        string
		origin      string
		status      int
		field, says string
	}{
		{name: "keyless, other site's origin", host: "127.0.0.1:8080", origin: "http://evil.example", status: 403, field: "Origin", says: `Origin "http://evil.example" is not this server's origin (http://127.0.0.1:8080`},
		{name: "keyless, opaque origin", host: "127.0.0.1:8080", origin: "null", status: 403, field: "Origin"},
		{name: "keyless, same host other port", host: "127.0.0.1:8080", origin: "http://127.0.0.1:9999", status: 403, field: "Origin"},
		{name: "keyless, https origin for an http server", host: "127.0.0.1:8080", origin: "https://127.0.0.1:8080", status: 403, field: "Origin"},
		{name: "keyless, own origin", host: "127.0.0.1:8080", origin: "http://127.0.0.1:8080", status: 201},
		{name: "keyless, no origin", host: "127.0.0.1:8080", status: 201},
		{name: "keyless, localhost", host: "localhost:8080", origin: "http://localhost:8080", status: 201},
		{name: "keyless, IPv6 loopback", host: "[::1]:8080", origin: "http://[::1]:8080", status: 201},
		{name: "keyless, 127.0.0.2", host: "127.0.0.2", status: 201},
		{name: "keyless, rebinding name", host: "evil.example:8080", status: 403, field: "Host", says: `Host "evil.example:8080" refused: a server without API keys answers only requests sent to a loopback name or address`},
		{name: "keyless, rebinding name with its own origin", host: "evil.example:8080", origin: "http://evil.example:8080", status: 403, field: "Host"},
		{name: "keyless, public URL host", publicURL: "https://parley.example.com/", host: "parley.example.com", origin: "https://parley.example.com", status: 403, field: "Host", says: `"/v1/keys" refused through the --public-url host "parley.example.com": serving /v1 and the simulator through --public-url needs API keys`},
		{name: "keyless, other host than the public URL's", publicURL: "https://parley.example.com/", host: "evil.example", status: 403, field: "Host"},
		{name: "keys, other site's origin", keys: true, host: "parley.example.com", origin: "http://evil.example", status: 403, field: "Origin"},
		{name: "keys, any host", keys: true, host: "parley.example.com", status: 201},
		{name: "keys, own origin", keys: true, host: "parley.example.com", origin: "http://parley.example.com", status: 201},
		{name: "keys, public URL origin", keys: true, publicURL: "https://parley.example.com/parley/", host: "10.0.0.5:8080", origin: "https://parley.example.com", status: 201},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestServer(t, func(cfg *Config) {
				cfg.PublicURL = c.publicURL
				if c.keys {
					cfg.APIKeys = []APIKey{{Name: "test", Key: key}}
				}
			})
			req, _ := http.NewRequest("POST", "/v1/keys", strings.NewReader(`{"name":"x"}`))
			req.Host = c.host
			req.Header.Set("Content-Type", "text/plain")
			if c.origin != "" {
				req.Header.Set("Origin", c.origin)
			}
			if c.keys {
				req.Header.Set("Authorization", "Bearer "+key)
			}
			r := ts.send(req)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.status != 403 {
				return
			}
			e := r.errorOf(t)
			if e["code"] != CodeForbidden || e["field"] != c.field || !strings.Contains(e["message"].(string), c.says) {
				t.Errorf("error %v, want forbidden on %s saying %q", e, c.field, c.says)
			}
			// Nothing was created: the server still needs no key.
			if !c.keys {
				ts.must(200, "GET", "/v1/flows", nil)
			}
		})
	}
}

// Over a real connection, as a browser page would send it: a text/plain
// POST from another origin creates no key, and the simulator page's own
// requests still pass.
func TestCrossSiteRequestOverHTTP(t *testing.T) {
	ts := newTestServer(t, nil)
	base := ts.listen()
	post := func(origin string) (int, string) {
		req, _ := http.NewRequest("POST", base+"/v1/keys", strings.NewReader(`{"name":"x"}`))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := post("http://evil.example"); st != 403 || !strings.Contains(body, "cross-site request refused") {
		t.Fatalf("cross-site POST /v1/keys: %d %s, want 403", st, body)
	}
	resp, err := http.Get(base + "/v1/keys")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"keys":[]`) {
		t.Fatalf("GET /v1/keys after the refused request: %d %s, want no key", resp.StatusCode, b)
	}
	if st, body := post(base); st != 201 {
		t.Fatalf("same-origin POST /v1/keys: %d %s, want 201", st, body)
	}
}

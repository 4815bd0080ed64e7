package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// An API key's allow entry written as an IPv4-mapped IPv6 address or
// prefix matches the IPv4 clients it names, from --api-key and from
// POST /v1/keys alike.
func TestKeyAllowIPv4Mapped(t *testing.T) {
	const allowed = "k_allowed_0123456789"
	const elsewhere = "k_elsewhere_0123456"
	keys := []APIKey{{Name: "admin", Key: "k_admin_0123456789"}}
	for _, s := range []string{allowed + "@::ffff:127.0.0.1", elsewhere + "@::ffff:10.0.0.0/104"} {
		k, err := ParseAPIKey(s)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	ts := newTestServer(t, func(c *Config) { c.APIKeys = keys })
	base := ts.listen()
	get := func(key string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/v1/flows", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := get(allowed); st != 200 {
		t.Errorf("key allowed from ::ffff:127.0.0.1, used from 127.0.0.1: %d %s", st, body)
	}
	if st, body := get(elsewhere); st != 403 || !strings.Contains(body, "may not be used from 127.0.0.1") {
		t.Errorf("key allowed from ::ffff:10.0.0.0/104, used from 127.0.0.1: %d %s, want 403", st, body)
	}
	created := ts.must(201, "POST", "/v1/keys", `{"name":"mapped","allow":["::ffff:127.0.0.0/104"]}`)
	if st, body := get(created["key"].(string)); st != 200 {
		b, _ := json.Marshal(created)
		t.Errorf("stored key %s used from 127.0.0.1: %d %s", b, st, body)
	}
}

// An allow list is matched against the address the connection comes from:
// headers a client writes (X-Forwarded-For, X-Real-IP, Forwarded) cannot
// claim another, so a key allowed only from 10.0.0.0/8 is refused from
// loopback whatever they say.
func TestKeyAllowIgnoresForwardedHeaders(t *testing.T) {
	const key = "k_office_0123456789"
	k, err := ParseAPIKey(key + "@10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(c *Config) { c.APIKeys = []APIKey{k} })
	base := ts.listen()
	for _, h := range [][2]string{{"X-Forwarded-For", "10.1.2.3"}, {"X-Real-IP", "10.1.2.3"}, {"Forwarded", "for=10.1.2.3"}} {
		req, _ := http.NewRequest("GET", base+"/v1/flows", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set(h[0], h[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(string(b), "may not be used from 127.0.0.1") {
			t.Errorf("%s: %s: %d %s; want 403 naming 127.0.0.1", h[0], h[1], resp.StatusCode, b)
		}
	}
}

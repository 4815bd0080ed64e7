package server

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// getServers fetches /openapi.json from a listening server, with host as
// the request's Host when set, checks that the document is the embedded
// one but for its servers, and returns the URLs of its servers.
func getServers(t *testing.T, base, host string) []string {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/openapi.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %s %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var served, embedded map[string]any
	if err := json.Unmarshal(body, &served); err != nil {
		t.Fatalf("served openapi.json: %v", err)
	}
	if err := json.Unmarshal(openAPI, &embedded); err != nil {
		t.Fatal(err)
	}
	var urls []string
	list, _ := served["servers"].([]any)
	for _, s := range list {
		u, _ := s.(map[string]any)["url"].(string)
		urls = append(urls, u)
	}
	delete(served, "servers")
	delete(embedded, "servers")
	if !reflect.DeepEqual(served, embedded) {
		t.Errorf("the served document differs from the embedded one in more than its servers")
	}
	return urls
}

// The document names the server a client reached as its server, so that
// tools reading it call this server rather than the default address.
func TestOpenAPIServersAreThisServer(t *testing.T) {
	t.Run("request host", func(t *testing.T) {
		ts := newTestServer(t, nil)
		base := ts.listen() // a loopback port, not 8080
		if got := getServers(t, base, ""); !reflect.DeepEqual(got, []string{base}) {
			t.Errorf("servers %q, want [%q]", got, base)
		}
		port := strings.TrimPrefix(base, "http://127.0.0.1")
		if got, want := getServers(t, base, "localhost"+port), "http://localhost"+port; !reflect.DeepEqual(got, []string{want}) {
			t.Errorf("Host localhost%s: servers %q, want [%q]", port, got, want)
		}
	})
	t.Run("public url", func(t *testing.T) {
		ts := newTestServer(t, func(c *Config) {
			c.PublicURL = "https://bot:s3cret@parley.example.com/chat/"
		})
		base := ts.listen()
		got := getServers(t, base, "")
		if want := "https://parley.example.com/chat"; !reflect.DeepEqual(got, []string{want}) {
			t.Errorf("servers %q, want [%q] (--public-url without its password)", got, want)
		}
	})
}

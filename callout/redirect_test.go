package callout

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// A redirect must not carry the webhook's secrets to another host, nor the
// original URL (query and all) in a Referer to any host.
func TestRedirectDropsSecretsForAnotherHost(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]http.Header{}
	record := func(name string, r *http.Request) {
		mu.Lock()
		seen[name] = r.Header.Clone()
		mu.Unlock()
	}
	other := server(t, func(w http.ResponseWriter, r *http.Request) {
		record("other"+r.URL.Path, r)
		if r.URL.Path == "/back" {
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
			return
		}
		w.Write([]byte(`{}`))
	})
	var origin string
	first := server(t, func(w http.ResponseWriter, r *http.Request) {
		record("first"+r.URL.Path, r)
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/there", http.StatusFound)
		case "/round":
			http.Redirect(w, r, other.URL+"/back?to="+url.QueryEscape(origin+"/home"), http.StatusFound)
		default:
			w.Write([]byte(`{}`))
		}
	})
	origin = first.URL
	s := newService(t, Options{})
	secret := map[string]string{"X-Api-Key": "k-s3cret", "X-Tenant": "acme", "Cookie": "sid=1"}
	send := func(path string, auth *flows.WebhookAuth) {
		t.Helper()
		res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: first.URL + path + "?api_key=q-s3cret", Headers: secret, Auth: auth, FollowRedirects: true})
		if res.Outcome != flows.OutcomeSuccess {
			t.Fatalf("%s: outcome %s (%s)", path, res.Outcome, res.Error)
		}
	}
	send("/away", &flows.WebhookAuth{Type: flows.AuthBearer, Token: "b-s3cret"})
	send("/here", &flows.WebhookAuth{Type: flows.AuthBearer, Token: "b-s3cret"})
	send("/round", nil)

	mu.Lock()
	defer mu.Unlock()
	for _, hop := range []string{"other/landing", "other/back", "first/home"} {
		h := seen[hop]
		if h == nil {
			t.Fatalf("no request reached %s", hop)
		}
		for _, name := range []string{"X-Api-Key", "X-Tenant", "Cookie", "Authorization", "Referer"} {
			if v := h.Get(name); v != "" {
				t.Errorf("%s got %s: %q", hop, name, v)
			}
		}
		if h.Get("User-Agent") != UserAgent {
			t.Errorf("%s got User-Agent %q, want %q", hop, h.Get("User-Agent"), UserAgent)
		}
	}
	// On the same host the webhook's headers stay; the Referer never comes.
	h := seen["first/there"]
	if h.Get("X-Api-Key") != "k-s3cret" || h.Get("Authorization") != "Bearer b-s3cret" {
		t.Errorf("same-host hop lost the webhook's headers: %v", h)
	}
	if v := h.Get("Referer"); v != "" {
		t.Errorf("same-host hop got Referer %q", v)
	}
}

// A hop from https to http, on the same host, loses the secrets too.
func TestRedirectPolicyDowngrade(t *testing.T) {
	hop := func(raw string) *http.Request {
		r, _ := http.NewRequest("GET", raw, nil)
		r.Header.Set("X-Api-Key", "k")
		r.Header.Set("Authorization", "Bearer t")
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	policy := redirectPolicy(true, map[string]string{"x-api-key": "k", "Content-Type": "application/json"})
	for _, c := range []struct {
		from, to string
		keeps    bool
	}{
		{"https://api.example.com/a", "http://api.example.com/b", false},
		{"http://api.example.com/a", "https://api.example.com/b", true},
		{"https://api.example.com/a", "https://API.example.com/b", true},
		{"https://api.example.com/a", "https://sub.api.example.com/b", false},
		{"https://api.example.com/a", "https://api.example.com:8443/b", false},
	} {
		r := hop(c.to)
		if err := policy(r, []*http.Request{hop(c.from)}); err != nil {
			t.Fatal(err)
		}
		kept := r.Header.Get("X-Api-Key") != "" && r.Header.Get("Authorization") != ""
		if kept != c.keeps {
			t.Errorf("%s → %s: headers kept %v, want %v", c.from, c.to, kept, c.keeps)
		}
		if r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s → %s: Content-Type dropped", c.from, c.to)
		}
	}
}

package callout

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
)

func TestBasicAndBearer(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == "ana" && p == "s3cret-pass" {
			return
		}
		if r.Header.Get("Authorization") == "Bearer tok-12345" {
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	})
	s := newService(t, Options{})
	tests := []struct {
		name string
		auth *flows.WebhookAuth
		want int
	}{
		{name: "basic", auth: &flows.WebhookAuth{Type: flows.AuthBasic, Username: "ana", Password: "s3cret-pass"}, want: 200},
		{name: "basic wrong password", auth: &flows.WebhookAuth{Type: flows.AuthBasic, Username: "ana", Password: "nope"}, want: 401},
		{name: "bearer", auth: &flows.WebhookAuth{Type: flows.AuthBearer, Token: "tok-12345"}, want: 200},
		{name: "none", auth: &flows.WebhookAuth{Type: flows.AuthNone}, want: 401},
		{name: "nil", want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: srv.URL, Auth: tt.auth})
			if res.Status != tt.want {
				t.Fatalf("status %d (%s), want %d", res.Status, res.Error, tt.want)
			}
		})
	}
}

// tokenServer is an OAuth 2.0 token endpoint and a protected API.
type tokenServer struct {
	t        *testing.T
	requests atomic.Int32 // token requests
	apiCalls atomic.Int32
	mu       sync.Mutex
	last     map[string]string // fields of the last token request
	lastCT   string
	valid    map[string]bool // access tokens the API accepts
	reject   map[string]bool // tokens the API answers 401 to despite being issued
	delay    time.Duration
	expires  any
	srv      string
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{t: t, valid: map[string]bool{}, reject: map[string]bool{}, expires: 3600}
	srv := server(t, ts.serve)
	ts.srv = srv.URL
	return ts
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/token" {
		ts.apiCalls.Add(1)
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		ts.mu.Lock()
		ok := ts.valid[tok] && !ts.reject[tok]
		ts.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"ok":true,"token_seen":"` + tok + `"}`))
		return
	}
	n := ts.requests.Add(1)
	time.Sleep(ts.delay) // lets concurrent callers pile up behind the first
	body, _ := io.ReadAll(r.Body)
	fields := map[string]string{}
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/json") {
		if err := json.Unmarshal(body, &fields); err != nil {
			ts.t.Errorf("token request body %q: %v", body, err)
		}
	} else {
		q, _ := url.ParseQuery(string(body))
		for k := range q {
			fields[k] = q.Get(k)
		}
	}
	if id, secret, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		fields["client_id"], fields["client_secret"] = id, secret
	}
	ts.mu.Lock()
	ts.last, ts.lastCT = fields, ct
	ts.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if fields["client_secret"] != "client-s3cret" || (fields["grant_type"] == "password" && fields["password"] != "user-passw0rd") {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"invalid_client","error_description":"bad credentials"}`))
		return
	}
	tok := "access-" + itoa(int(n))
	ts.mu.Lock()
	ts.valid[tok] = true
	ts.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": ts.expires})
}

func (ts *tokenServer) auth(grant, encoding string) *flows.WebhookAuth {
	a := &flows.WebhookAuth{
		Type: grant, ClientID: "parley", ClientSecret: "client-s3cret", TokenURL: ts.srv + "/token",
		Scopes: []string{"orders:read", "orders:write"}, Audience: "https://api.example.com", Encoding: encoding,
	}
	if grant == flows.AuthOAuth2Password {
		a.Username, a.Password = "ana", "user-passw0rd"
	}
	return a
}

func TestOAuth2Grants(t *testing.T) {
	tests := []struct {
		grant, encoding, mime string
	}{
		{flows.AuthOAuth2ClientCredentials, "", "application/x-www-form-urlencoded"},
		{flows.AuthOAuth2ClientCredentials, EncodingJSON, "application/json"},
		{flows.AuthOAuth2Password, EncodingForm, "application/x-www-form-urlencoded"},
		{flows.AuthOAuth2Password, EncodingJSON, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.grant+"/"+tt.encoding, func(t *testing.T) {
			ts := newTokenServer(t)
			s := newService(t, Options{})
			auth := ts.auth(tt.grant, tt.encoding)
			res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: ts.srv + "/api", Auth: auth})
			if res.Outcome != flows.OutcomeSuccess {
				t.Fatalf("outcome %q status %d (%s)", res.Outcome, res.Status, res.Error)
			}
			want := map[string]string{
				"grant_type": "client_credentials", "client_id": "parley", "client_secret": "client-s3cret",
				"scope": "orders:read orders:write", "audience": "https://api.example.com",
			}
			if tt.grant == flows.AuthOAuth2Password {
				want["grant_type"], want["username"], want["password"] = "password", "ana", "user-passw0rd"
			}
			ts.mu.Lock()
			last, lastCT := ts.last, ts.lastCT
			ts.mu.Unlock()
			for k, v := range want {
				if last[k] != v {
					t.Errorf("token request %s=%q, want %q", k, last[k], v)
				}
			}
			if !strings.HasPrefix(lastCT, tt.mime) {
				t.Errorf("token request Content-Type %q, want %s", lastCT, tt.mime)
			}
			// The token exchange is listed with the call, secrets redacted.
			if len(res.Calls) != 2 || !strings.HasSuffix(res.Calls[0].Request.URL, "/token") {
				t.Fatalf("calls %+v, want the token request then the API call", res.Calls)
			}
			// A second call reuses the token.
			res = call(t, s, &flows.WebhookRequest{Method: "GET", URL: ts.srv + "/api", Auth: ts.auth(tt.grant, tt.encoding)})
			if res.Outcome != flows.OutcomeSuccess || ts.requests.Load() != 1 || res.Calls != nil {
				t.Fatalf("second call: outcome %q, %d token requests, calls %v", res.Outcome, ts.requests.Load(), res.Calls)
			}
		})
	}
}

func TestOAuth2ConcurrentCallsShareOneTokenRequest(t *testing.T) {
	ts := newTokenServer(t)
	ts.delay = 50 * time.Millisecond
	s := newService(t, Options{})
	const n = 20
	var wg sync.WaitGroup
	outcomes := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: ts.srv + "/api", Auth: ts.auth(flows.AuthOAuth2ClientCredentials, "")})
			outcomes[i] = res.Outcome
		}()
	}
	wg.Wait()
	for i, o := range outcomes {
		if o != flows.OutcomeSuccess {
			t.Fatalf("call %d: %s", i, o)
		}
	}
	if got := ts.requests.Load(); got != 1 {
		t.Fatalf("%d concurrent calls made %d token requests, want 1", n, got)
	}
}

func TestOAuth2TokenKeys(t *testing.T) {
	ts := newTokenServer(t)
	s := newService(t, Options{})
	base := ts.auth(flows.AuthOAuth2ClientCredentials, "")
	other := *base
	other.Scopes = []string{"orders:read"}
	for _, a := range []*flows.WebhookAuth{base, &other, base, &other} {
		if res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: ts.srv + "/api", Auth: a}); res.Outcome != flows.OutcomeSuccess {
			t.Fatal(res.Error)
		}
	}
	if got := ts.requests.Load(); got != 2 {
		t.Fatalf("two scope sets made %d token requests, want 2", got)
	}
}

func TestOAuth2Expiry(t *testing.T) {
	// Every grant and encoding: x/oauth2 gives the client-credentials token
	// an Expiry only, the password grant's expires_in too, and JSON token
	// requests are read by our own code.
	for _, grant := range []string{flows.AuthOAuth2ClientCredentials, flows.AuthOAuth2Password} {
		for _, enc := range []string{EncodingForm, EncodingJSON} {
			t.Run(grant+"/"+enc, func(t *testing.T) {
				ts := newTokenServer(t)
				clk := &clock{t: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
				s := newService(t, Options{Now: clk.Now})
				steps := []struct {
					advance  time.Duration
					requests int32
				}{
					{0, 1},
					{30 * time.Minute, 1},        // still fresh
					{29 * time.Minute, 1},        // 59 min: 60 s left, outside the refresh margin
					{40 * time.Second, 2},        // 20 s left: refreshed shortly before expiry
					{time.Hour + time.Minute, 3}, // long expired
				}
				for i, st := range steps {
					clk.Advance(st.advance)
					res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: ts.srv + "/api", Auth: ts.auth(grant, enc)})
					if res.Outcome != flows.OutcomeSuccess {
						t.Fatalf("step %d: %s", i, res.Error)
					}
					if got := ts.requests.Load(); got != st.requests {
						t.Fatalf("step %d: %d token requests, want %d", i, got, st.requests)
					}
				}
			})
		}
	}
}

// TestOAuth2ShortLivedToken runs on the real clock: a token that expires
// in a second is replaced by the call after it, not sent expired to an API
// that may refuse it with a status other than 401.
func TestOAuth2ShortLivedToken(t *testing.T) {
	for _, grant := range []string{flows.AuthOAuth2ClientCredentials, flows.AuthOAuth2Password} {
		t.Run(grant, func(t *testing.T) {
			ts := newTokenServer(t)
			ts.expires = 1
			s := newService(t, Options{})
			auth := ts.auth(grant, "")
			if res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: ts.srv + "/api", Auth: auth}); res.Outcome != flows.OutcomeSuccess {
				t.Fatal(res.Error)
			}
			time.Sleep(1100 * time.Millisecond)
			res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: ts.srv + "/api", Auth: auth})
			if res.Outcome != flows.OutcomeSuccess || !strings.Contains(string(res.Body), "access-2") {
				t.Fatalf("outcome %q, answer %s: want the API called with a new token", res.Outcome, res.Body)
			}
			if got := ts.requests.Load(); got != 2 || res.Attempts != 1 {
				t.Fatalf("%d token requests, %d attempts: want a new token before the call, not after a 401", got, res.Attempts)
			}
		})
	}
}

func TestOAuth2ExpiresInAsString(t *testing.T) {
	ts := newTokenServer(t)
	ts.expires = "60"
	clk := &clock{t: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
	s := newService(t, Options{Now: clk.Now})
	for i, adv := range []time.Duration{0, 30 * time.Second, 30 * time.Second} {
		clk.Advance(adv)
		if res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: ts.srv + "/api", Auth: ts.auth(flows.AuthOAuth2Password, EncodingJSON)}); res.Outcome != flows.OutcomeSuccess {
			t.Fatalf("call %d: %s", i, res.Error)
		}
	}
	if got := ts.requests.Load(); got != 2 {
		t.Fatalf("%d token requests, want 2 (the 60 s token expired)", got)
	}
}

func TestOAuth2RefreshOn401(t *testing.T) {
	tests := []struct {
		name       string
		rejectAll  bool
		outcome    string
		tokenReqs  int32
		apiCalls   int32
		attempts   int
		lastStatus int
	}{
		{name: "revoked token is replaced and the call retried", outcome: flows.OutcomeSuccess, tokenReqs: 2, apiCalls: 2, attempts: 2, lastStatus: 200},
		{name: "refreshed only once", rejectAll: true, outcome: flows.OutcomeFailure, tokenReqs: 2, apiCalls: 2, attempts: 2, lastStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t)
			s := newService(t, Options{})
			auth := ts.auth(flows.AuthOAuth2ClientCredentials, "")
			if res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: ts.srv + "/api", Auth: auth}); res.Outcome != flows.OutcomeSuccess {
				t.Fatal(res.Error)
			}
			ts.mu.Lock()
			ts.reject["access-1"] = true
			if tt.rejectAll {
				ts.reject["access-2"] = true
			}
			ts.mu.Unlock()
			ts.apiCalls.Store(0)
			res := call(t, s, &flows.WebhookRequest{Method: "POST", URL: ts.srv + "/api", Auth: auth})
			if res.Outcome != tt.outcome || res.Status != tt.lastStatus || res.Attempts != tt.attempts {
				t.Fatalf("outcome %q status %d attempts %d", res.Outcome, res.Status, res.Attempts)
			}
			if ts.requests.Load() != tt.tokenReqs || ts.apiCalls.Load() != tt.apiCalls {
				t.Fatalf("%d token requests and %d API calls, want %d and %d", ts.requests.Load(), ts.apiCalls.Load(), tt.tokenReqs, tt.apiCalls)
			}
		})
	}
}

func TestOAuth2TokenErrors(t *testing.T) {
	ts := newTokenServer(t)
	s := newService(t, Options{})
	for _, enc := range []string{EncodingForm, EncodingJSON} {
		t.Run(enc, func(t *testing.T) {
			auth := ts.auth(flows.AuthOAuth2ClientCredentials, enc)
			auth.ClientSecret = "wrong-secret"
			res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: ts.srv + "/api", Auth: auth})
			if res.Outcome != flows.OutcomeFailure || !strings.Contains(res.Error, "oauth2 token request") || !strings.Contains(res.Error, "invalid_client") {
				t.Fatalf("outcome %q error %q", res.Outcome, res.Error)
			}
			if ts.apiCalls.Load() != 0 {
				t.Fatal("the API was called without a token")
			}
			b, _ := json.Marshal(res)
			if strings.Contains(string(b), "wrong-secret") {
				t.Fatalf("the client secret leaked: %s", b)
			}
		})
	}
}

func TestOAuth2TokenServerBlocked(t *testing.T) {
	ts := newTokenServer(t)
	s := New(Options{}) // no allowlist: the loopback token URL is refused
	res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: "https://api.example.com/", Auth: ts.auth(flows.AuthOAuth2ClientCredentials, "")})
	if res.Outcome != flows.OutcomeBlocked || ts.requests.Load() != 0 {
		t.Fatalf("outcome %q (%s), %d token requests", res.Outcome, res.Error, ts.requests.Load())
	}
}

// A token URL's password and secret parameters stay out of the errors of a
// token request, whether it could not connect or the token server echoed
// them, in the result, its event, the log and AccessToken's error.
func TestOAuth2TokenURLSecretsInErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	echo := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": "bad url " + r.URL.String()})
	})
	for _, tt := range []struct{ name, host, want string }{
		{"no connection", closed, "connection refused"},
		{"echoed", strings.TrimPrefix(echo.URL, "http://"), "invalid_request"},
	} {
		for _, enc := range []string{EncodingForm, EncodingJSON} {
			t.Run(tt.name+"/"+enc, func(t *testing.T) {
				var logs bytes.Buffer
				s := newService(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
				auth := &flows.WebhookAuth{
					Type: flows.AuthOAuth2ClientCredentials, ClientID: "x", ClientSecret: "client-s3cret", Encoding: enc,
					TokenURL: "http://u:tkpass99@" + tt.host + "/token?api_key=TKQSECRET&tenant=7",
				}
				req := &flows.WebhookRequest{Method: "GET", URL: "http://" + tt.host + "/api", Auth: auth}
				res := call(t, s, req)
				wantURL := "oauth2 token request to http://u:[redacted]@" + tt.host + "/token?api_key=[redacted]&tenant=7: "
				if !strings.HasPrefix(res.Error, wantURL) || !strings.Contains(res.Error, tt.want) {
					t.Errorf("error %q, want it to start %q and say %q", res.Error, wantURL, tt.want)
				}
				_, _, aerr := s.AccessToken(context.Background(), auth)
				if aerr == nil {
					t.Fatal("AccessToken: no error")
				}
				ev, _ := json.Marshal(Event(req, res))
				recorded := string(ev) + Describe(res) + logs.String() + aerr.Error()
				for _, secret := range []string{"TKQSECRET", "tkpass99", "***"} {
					if strings.Contains(recorded, secret) {
						t.Errorf("%q recorded:\n%s", secret, recorded)
					}
				}
			})
		}
	}
}

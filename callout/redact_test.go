package callout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// Secrets never appear in traces, events, Describe output or logs, even when
// the receiver echoes them back.
func TestRedaction(t *testing.T) {
	ts := newTokenServer(t)
	var n atomic.Int32
	api := server(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(503) // one retry, so every attempt is listed
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "cookie-s3cret"})
		w.Header().Set("X-Echo-Auth", r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"headers": r.Header, "query": r.URL.RawQuery, "visible": "kept"})
	})
	tests := []struct {
		name    string
		auth    *flows.WebhookAuth
		secrets []string
	}{
		{name: "basic", auth: &flows.WebhookAuth{Type: flows.AuthBasic, Username: "ana", Password: "basic-s3cret"},
			secrets: []string{"basic-s3cret", "YW5hOmJhc2ljLXMzY3JldA=="}},
		{name: "bearer", auth: &flows.WebhookAuth{Type: flows.AuthBearer, Token: "bearer-s3cret"}, secrets: []string{"bearer-s3cret"}},
		{name: "client credentials form", auth: ts.auth(flows.AuthOAuth2ClientCredentials, EncodingForm),
			secrets: []string{"client-s3cret", "access-"}},
		{name: "password json", auth: ts.auth(flows.AuthOAuth2Password, EncodingJSON),
			secrets: []string{"client-s3cret", "user-passw0rd", "access-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n.Store(0)
			var logs bytes.Buffer
			s := newService(t, Options{
				Logger:        slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
				SecretHeaders: []string{"X-Partner"},
			})
			req := &flows.WebhookRequest{
				Method: "GET", URL: api.URL + "/orders?api_key=query-s3cret&access_token=query-token-s3cret&page=2",
				Headers: map[string]string{"X-Api-Key": "hdr-s3cret", "X-Partner": "partner-s3cret", "X-Request-Id": "req-42"},
				Auth:    tt.auth, Retries: 1, RetryBackoff: 1,
			}
			res := call(t, s, req)
			if res.Outcome != flows.OutcomeSuccess || res.Attempts != 2 {
				t.Fatalf("outcome %q attempts %d (%s)", res.Outcome, res.Attempts, res.Error)
			}
			ev, _ := json.Marshal(Event(req, res))
			all, _ := json.Marshal(struct {
				Req, Resp *flows.HTTPTrace
				Headers   map[string]string
				Calls     []flows.WebhookCall
				Error     string
			}{res.Request, res.Response, res.Headers, res.Calls, res.Error})
			recorded := string(all) + string(ev) + Describe(res) + logs.String()
			for _, secret := range append(tt.secrets, "query-s3cret", "query-token-s3cret", "hdr-s3cret", "partner-s3cret", "cookie-s3cret") {
				if strings.Contains(recorded, secret) {
					t.Errorf("secret %q recorded:\n%s", secret, recorded)
				}
			}
			// Redaction keeps what is not secret.
			for _, keep := range []string{"page=2", "req-42", `\"visible\":\"kept\"`, "/orders", Redacted} {
				if !strings.Contains(recorded, keep) {
					t.Errorf("%q missing from the record", keep)
				}
			}
			// The flow still gets the real answer.
			if !strings.Contains(string(res.Body), "hdr-s3cret") {
				t.Errorf("the answer body given to the flow was altered: %s", res.Body)
			}
		})
	}
}

func TestRedactorURL(t *testing.T) {
	r := NewRedactor(&flows.WebhookAuth{Type: flows.AuthBearer, Token: "path-s3cret"})
	tests := []struct{ in, want string }{
		{"https://u:pw@example.com/x", "https://u:[redacted]@example.com/x"},
		{"https://a%40b:pw@example.com/x", "https://a%40b:[redacted]@example.com/x"},
		{"https://example.com/x?token=abc&q=1", "https://example.com/x?token=[redacted]&q=1"},
		{"https://example.com/x?q=a+b&API%5FKEY=abc&sig&key=", "https://example.com/x?q=a+b&API%5FKEY=[redacted]&sig=[redacted]&key=[redacted]"},
		{"https://u:pw@example.com/x?api_key=k1&api_key=k2#f", "https://u:[redacted]@example.com/x?api_key=[redacted]&api_key=[redacted]#f"},
		{"https://example.com/hooks/path-s3cret", "https://example.com/hooks/[redacted]"},
		{"https://example.com/x?q=1", "https://example.com/x?q=1"},
		// An empty password has nothing to hide: shown as it is, parsed or not.
		{"https://u:@example.com/x?token=abc", "https://u:@example.com/x?token=[redacted]"},
		{"https://u@example.com/x", "https://u@example.com/x"},
		{"https://u:@exa mple.com/x?token=abc", "https://u:@exa mple.com/x?token=[redacted]"},
		{"https://u:pw@exa mple.com/x", "https://u:[redacted]@exa mple.com/x"},
		// Without "://", url.Parse finds no user: the password is still hidden,
		// from the first ':' when a scheme may come before it.
		{"u:pw@parley.example.com", "u:[redacted]@parley.example.com"},
		{"u:pw@127.0.0.1:8080/x?token=abc", "u:[redacted]@127.0.0.1:8080/x?token=[redacted]"},
		{"https:/u:pw@parley.example.com/x", "https:[redacted]@parley.example.com/x"},
		{"https:u:pw@parley.example.com", "https:[redacted]@parley.example.com"},
		{"//u:pw@parley.example.com", "//u:[redacted]@parley.example.com"},
		{"u:@parley.example.com", "u:@parley.example.com"},
		{"/x?token=abc", "/x?token=[redacted]"},
	}
	for _, tt := range tests {
		if got := r.URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// The names judged in advance are judged as any other name would be, and
// extra secret names still apply to them.
func TestCommonHeaders(t *testing.T) {
	plain := &Redactor{}
	for name, ok := range commonHeaders {
		n := strings.ToLower(name)
		if want := secretHeaderNames[n] || looksSecret(n); plain.IsSecretHeader(name) != want || ok == want {
			t.Errorf("%s: secret %v, want %v", name, plain.IsSecretHeader(name), want)
		}
	}
	r := NewRedactor(nil, "x-request-id", "Server")
	for _, name := range []string{"X-Request-Id", "Server", "Authorization"} {
		if !r.IsSecretHeader(name) {
			t.Errorf("%s is not redacted with extra secret headers %v", name, r.headers)
		}
	}
	if r.IsSecretHeader("Content-Type") {
		t.Error("Content-Type redacted")
	}
}

// A receiver echoing a secret escaped, as PHP's json_encode writes "/" ("\/")
// or percent-encoded in a URL, does not get it into the trace either.
func TestRedactionOfEscapedEchoes(t *testing.T) {
	const token = "abc/def+TOKEN-999"
	api := server(t, func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		php := strings.ReplaceAll(got, "/", `\/`)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "https://example.com/next?t="+url.QueryEscape(got)+"&p="+url.PathEscape(got))
		lower := strings.NewReplacer("%2F", "%2f", "%2B", "%2b").Replace(url.QueryEscape(got))
		fmt.Fprintf(w, `{"php":"%s","query":"t=%s","lower":"t=%s","path":"/u/%s"}`, php, url.QueryEscape(got), lower, url.PathEscape(got))
	})
	s := newService(t, Options{})
	req := &flows.WebhookRequest{Method: "GET", URL: api.URL + "/orders", Auth: &flows.WebhookAuth{Type: flows.AuthBearer, Token: token}}
	res := call(t, s, req)
	if res.Outcome != flows.OutcomeSuccess {
		t.Fatalf("outcome %q (%s)", res.Outcome, res.Error)
	}
	ev, _ := json.Marshal(Event(req, res))
	for _, recorded := range []string{res.Response.Body, fmt.Sprint(res.Response.Headers), Describe(res), string(ev)} {
		if strings.Contains(recorded, "TOKEN-999") || strings.Contains(recorded, "token-999") {
			t.Errorf("the token is recorded in one of its forms:\n%s", recorded)
		}
	}
	if n := strings.Count(res.Response.Body, Redacted); n != 4 {
		t.Errorf("%d redactions in the answer's trace, want 4: %s", n, res.Response.Body)
	}
	// The flow still gets the real answer.
	if !strings.Contains(string(res.Body), `abc\/def+TOKEN-999`) {
		t.Errorf("the answer body given to the flow was altered: %s", res.Body)
	}
}

// A secret's escaped forms: JSON with or without HTML escapes, "/" as "\/",
// characters beyond ASCII as \uXXXX, percent-encoded in upper or lower case.
func TestRedactorEscapedForms(t *testing.T) {
	r := NewRedactor(&flows.WebhookAuth{Type: flows.AuthBearer, Token: `p<a&s>/w"ö😀 d`})
	for _, echo := range []string{
		`p<a&s>/w"ö😀 d`,
		`p<a&s>/w\"ö😀 d`,
		`p\u003ca\u0026s\u003e/w\"ö😀 d`,
		`p<a&s>\/w\"\u00f6\ud83d\ude00 d`,
		`p\u003ca\u0026s\u003e\/w\"\u00f6\ud83d\ude00 d`,
		url.QueryEscape(`p<a&s>/w"ö😀 d`),
		strings.ToLower(url.QueryEscape(`p<a&s>/w"ö😀 d`)),
		strings.ReplaceAll(url.QueryEscape(`p<a&s>/w"ö😀 d`), "+", "%20"),
		url.PathEscape(`p<a&s>/w"ö😀 d`),
	} {
		if got := r.String("[" + echo + "]"); got != "["+Redacted+"]" {
			t.Errorf("%s: %s", echo, got)
		}
	}
	// A token of letters, digits and -_. has one form.
	if r := NewRedactor(&flows.WebhookAuth{Type: flows.AuthBearer, Token: "Abc-123_x.y"}); len(r.values) != 1 {
		t.Errorf("forms of a plain token: %q", r.values)
	}
}

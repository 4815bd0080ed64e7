package callout

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "webhooks.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigs(t *testing.T) {
	const one = `{"name":"orders","url":"https://api.example.com/orders","method":"post",
		"auth":{"type":"oauth2_client_credentials","client_id":"p","client_secret":"s","token_url":"https://auth.example.com/token","scopes":["a"]}}`
	tests := []struct {
		name    string
		file    string
		names   []string
		wantErr []string
	}{
		{name: "object", file: `{"webhooks":[` + one + `,{"name":"ping","url":"http://example.com/ping","method":"GET"}]}`, names: []string{"orders", "ping"}},
		{name: "bare array", file: `[` + one + `]`, names: []string{"orders"}},
		{name: "empty", file: `{"webhooks":[]}`},
		{name: "unknown field", file: `[{"name":"x","url":"https://e.com","methd":"GET"}]`, wantErr: []string{`unknown field "methd"`}},
		{name: "malformed", file: `[{"name":`, wantErr: []string{"$: JSON ends early at line 1, column 10"}},
		{name: "syntax error", file: "{\"webhooks\": [\n {\"name\": \"x\",}]}", wantErr: []string{"$: malformed JSON at line 2, column 15 (in webhooks[0])"}},
		{name: "unknown field named by entry", file: `{"webhooks":[{"name":"a","url":"https://e.com"},{"name":"b","url":"https://e.com","bogus":1}]}`,
			wantErr: []string{`webhooks[1].bogus: unknown field "bogus"`}},
		{name: "field names are case-sensitive", file: `[{"Name":"a","URL":"https://e.com"}]`,
			wantErr: []string{`webhooks[0].Name: unknown field "Name" (did you mean "name"?`, `webhooks[0].URL: unknown field "URL" (did you mean "url"?`}},
		{name: "kinds in JSON's terms", file: `{"webhooks":[{"name":"a","url":"https://e.com","timeout":"5","headers":["x"]}]}`,
			wantErr: []string{`webhooks[0].timeout: expected a number, got JSON string`, `webhooks[0].headers: expected a JSON object, got JSON array`}},
		{name: "null", file: " null\n", wantErr: []string{`$: expected a JSON object, got JSON null: the file holds {"webhooks": [...]} or an array of webhooks ({"webhooks": []} or [] for none)`}},
		{name: "a number", file: `3`, wantErr: []string{`$: expected a JSON object, got JSON number: the file holds {"webhooks": [...]} or an array of webhooks`}},
		{name: "empty file", file: ``, wantErr: []string{`$: empty document: the file holds {"webhooks": [...]} or an array of webhooks ({"webhooks": []} or [] for none)`}},
		{name: "webhooks not an array", file: `{"webhooks":{"name":"a"}}`,
			wantErr: []string{`webhooks: expected an array of JSON objects, got JSON object`}},
		{name: "max_response_bytes over the maximum", file: `[{"name":"big","url":"https://e.com","max_response_bytes":99999999},{"name":"most","url":"https://e.com","max_response_bytes":16777216}]`,
			wantErr: []string{`webhooks[0] "big": max_response_bytes: 99999999 is over the maximum of 16777216 (16 MiB)`}},
		{name: "max_response_bytes at the maximum", file: `[{"name":"most","url":"https://e.com","max_response_bytes":16777216}]`, names: []string{"most"}},
		{name: "retry_backoff_ms over the maximum", file: `[{"name":"slow","url":"https://e.com","retry_backoff_ms":9223372036854775807},{"name":"most","url":"https://e.com","retry_backoff_ms":30000}]`,
			wantErr: []string{`webhooks[0] "slow": retry_backoff_ms: 9223372036854775807 is over the maximum of 30000 (30 s, the longest wait between attempts)`}},
		{name: "auth without a type", file: `[{"name":"tok","url":"https://e.com","auth":{"token":"s3cret"}},{"name":"pw","url":"https://e.com","auth":{"username":"u","password":"p"}},{"name":"empty","url":"https://e.com","auth":{}}]`,
			wantErr: []string{
				`webhooks[0] "tok": auth.type: required when auth sets token: one of none, basic, bearer, oauth2_client_credentials or oauth2_password; without it the call would go out with no credentials`,
				`webhooks[1] "pw": auth.type: required when auth sets username, password: one of`,
			}},
		{name: "an empty auth", file: `[{"name":"empty","url":"https://e.com","auth":{}}]`, names: []string{"empty"}},
		{name: "auth fields their type does not send", file: `[{"name":"b","url":"https://e.com","auth":{"type":"bearer","token":"t","encoding":"xml"}},
			{"name":"n","url":"https://e.com","auth":{"type":"none","password":"p"}},
			{"name":"u","url":"https://e.com","auth":{"type":"basic","username":"u","token":"t","scopes":["a"]}}]`,
			wantErr: []string{
				`webhooks[0] "b": auth.encoding: bearer auth does not use encoding (it uses token)`,
				`webhooks[1] "n": auth.password: none auth does not use password (it sends no credentials)`,
				`webhooks[2] "u": auth.token: basic auth does not use token (it uses username, password)`,
				`webhooks[2] "u": auth.scopes: basic auth does not use scopes (it uses username, password)`,
			}},
		{name: "URLs quoted redacted", file: `[{"name":"f","url":"ftp://bob:PW4242@e.com/x?api_key=K4242&q=1",
			"auth":{"type":"oauth2_client_credentials","client_id":"c","client_secret":"s","token_url":"file://u:PW4242@h/t?token=T4242"}}]`,
			wantErr: []string{
				`webhooks[0] "f": url: "ftp://bob:[redacted]@e.com/x?api_key=[redacted]&q=1" must start with http:// or https://`,
				`webhooks[0] "f": auth.token_url: "file://u:[redacted]@h/t?token=[redacted]" must be an http or https URL`,
			}},
		{name: "retry_backoff_ms at the maximum", file: `[{"name":"most","url":"https://e.com","retry_backoff_ms":30000}]`, names: []string{"most"}},
		{name: "every problem named", file: `{"webhooks":[
			{"name":"a","url":"ftp://e.com","method":"TRACE","content_type":"xml","body_mode":"custom","retries":50,"extra_json":[1]},
			{"url":"https://e.com"},
			{"name":"c","url":"https://e.com","auth":{"type":"basic"}},
			{"name":"c","url":"https://e.com","auth":{"type":"oauth2_password","client_id":"x","token_url":"file:///t","encoding":"xml"}},
			{"name":"e","auth":{"type":"digest"}}]}`,
			wantErr: []string{
				`webhooks[0] "a": url: "ftp://e.com" must start with http:// or https://`,
				`webhooks[0] "a": method: "TRACE" is not supported`,
				`webhooks[0] "a": content_type: "xml"`,
				`webhooks[0] "a": body: required when body_mode is custom`,
				`webhooks[0] "a": retries: 50 is out of range`,
				`webhooks[0] "a": extra_json: must be a JSON object`,
				`webhooks[1]: name: required`,
				`webhooks[2] "c": auth.username: required for basic auth`,
				`webhooks[3] "c": name: "c" is defined twice`,
				`webhooks[3] "c": auth.token_url: "file:///t" must be an http or https URL`,
				`webhooks[3] "c": auth.username: required for oauth2_password auth`,
				`webhooks[3] "c": auth.password: required`,
				`webhooks[3] "c": auth.encoding: "xml"`,
				`webhooks[4] "e": url: required`,
				`webhooks[4] "e": auth.type: "digest" is not supported`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfgs, err := LoadConfigs(writeFile(t, tt.file))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				for _, goName := range []string{"float64", "map[string]string", "[]*flows.", "json: unknown", "Go struct"} {
					if strings.Contains(err.Error(), goName) {
						t.Errorf("error shows Go's %q:\n%v", goName, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cfgs) != len(tt.names) {
				t.Fatalf("got %d configs, want %v", len(cfgs), tt.names)
			}
			s := New(Options{Configs: cfgs})
			for _, n := range tt.names {
				if c, ok := s.Config(n); !ok || c.Name != n {
					t.Errorf("Config(%q) = %v, %v", n, c, ok)
				}
			}
			if _, ok := s.Config("missing"); ok {
				t.Error("Config found a webhook that is not configured")
			}
		})
	}
	if _, err := LoadConfigs(filepath.Join(t.TempDir(), "nope.json")); err == nil || !strings.Contains(err.Error(), "nope.json") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestMerge(t *testing.T) {
	named := &flows.WebhookConfig{
		Name: "orders", URL: "https://api.example.com/orders", Method: "POST", ContentType: "json",
		Headers:   map[string]string{"X-Tenant": "acme", "Accept": "application/json"},
		Auth:      &flows.WebhookAuth{Type: flows.AuthBearer, Token: "t-named"},
		ExtraJSON: json.RawMessage(`{"a":1}`), TimeoutSeconds: 5, Retries: 2,
	}
	inline := &flows.WebhookConfig{
		URL: "https://api.example.com/orders/@flow.order.value", Method: "GET",
		Headers: map[string]string{"x-tenant": "other", "X-Trace": "1"}, TimeoutSeconds: 2.5,
		Include: &flows.ParamGroups{Call: true}, FollowRedirects: true,
	}
	m := Merge(named, inline)
	if m.Name != "orders" || m.URL != inline.URL || m.Method != "GET" || m.ContentType != "json" {
		t.Errorf("scalars: %+v", m)
	}
	if len(m.Headers) != 3 || m.Headers["x-tenant"] != "other" || m.Headers["Accept"] != "application/json" || m.Headers["X-Trace"] != "1" {
		t.Errorf("headers %v", m.Headers)
	}
	if m.Auth == nil || m.Auth.Token != "t-named" || m.Auth == named.Auth {
		t.Errorf("auth %+v should be a copy of the named auth", m.Auth)
	}
	if m.TimeoutSeconds != 2.5 || m.Retries != 2 || !m.FollowRedirects || m.Include == nil || !m.Include.Call || string(m.ExtraJSON) != `{"a":1}` {
		t.Errorf("merged %+v", m)
	}
	if named.Headers["X-Tenant"] != "acme" || len(named.Headers) != 2 {
		t.Error("Merge modified the named config")
	}
	if c := Merge(nil, nil); c == nil {
		t.Error("Merge(nil, nil) = nil")
	}

	req := NewRequest(m, "https://api.example.com/orders/A-1", m.Headers, nil, "")
	if req.Method != "GET" || req.Timeout != 2500*time.Millisecond || req.Retries != 2 || !req.FollowRedirects || req.Auth == m.Auth || req.Auth.Token != "t-named" {
		t.Errorf("request %+v", req)
	}
}

func TestValidateInline(t *testing.T) {
	// An inline config may leave the URL to the named one and use templates.
	if errs := Validate(&flows.WebhookConfig{Headers: map[string]string{"X-A": "@flow.a"}}, false); len(errs) != 0 {
		t.Fatalf("inline without URL: %v", errs)
	}
	errs := Validate(&flows.WebhookConfig{URL: "@flow.url", Headers: map[string]string{"Bad Header": "x"}}, false)
	if len(errs) != 2 || errs[0].Path != "url" || errs[1].Path != `headers["Bad Header"]` {
		t.Fatalf("errors %v", errs)
	}
}

// TestNewRequestHoldsMaxResponseToTheMaximum: a configured webhook or a
// stored flow that sets more than MaxResponseBytes keeps at most that much.
func TestNewRequestHoldsMaxResponseToTheMaximum(t *testing.T) {
	for set, want := range map[int]int{0: 0, 1 << 20: 1 << 20, 1e12: MaxResponseBytes} {
		req := NewRequest(&flows.WebhookConfig{URL: "https://e.com", MaxResponseBytes: set}, "https://e.com", nil, nil, "")
		if req.MaxResponse != want {
			t.Errorf("max_response_bytes %d: the request keeps %d, want %d", set, req.MaxResponse, want)
		}
	}
}

// TestNewRequestHoldsRetryBackoffToTheMaximum: a stored flow that sets a
// retry_backoff_ms too large for a time.Duration waits MaxRetryBackoff, not
// a wrapped-around (negative: no) wait.
func TestNewRequestHoldsRetryBackoffToTheMaximum(t *testing.T) {
	for set, want := range map[int]time.Duration{0: 0, 200: 200 * time.Millisecond, 30000: MaxRetryBackoff, math.MaxInt: MaxRetryBackoff} {
		req := NewRequest(&flows.WebhookConfig{URL: "https://e.com", RetryBackoffMS: set}, "https://e.com", nil, nil, "")
		if req.RetryBackoff != want {
			t.Errorf("retry_backoff_ms %d: the request waits %v, want %v", set, req.RetryBackoff, want)
		}
	}
}

// NormalizeAuth writes an auth as configured webhooks and subscriptions
// store it: none for one that sends nothing, the encoding in lower case,
// the auth given never changed.
func TestNormalizeAuth(t *testing.T) {
	oauth := func(enc string) *flows.WebhookAuth {
		return &flows.WebhookAuth{Type: flows.AuthOAuth2ClientCredentials, ClientID: "c", ClientSecret: "s",
			TokenURL: "https://auth.example.com/t", Encoding: enc}
	}
	tests := []struct {
		name string
		in   *flows.WebhookAuth
		want *flows.WebhookAuth // nil: dropped
		same bool               // the auth given, not a copy
	}{
		{name: "nil"},
		{name: "empty", in: &flows.WebhookAuth{}},
		{name: "none", in: &flows.WebhookAuth{Type: flows.AuthNone}},
		{name: "none with a field", in: &flows.WebhookAuth{Type: flows.AuthNone, Token: "t"},
			want: &flows.WebhookAuth{Type: flows.AuthNone, Token: "t"}, same: true},
		{name: "no type with a field", in: &flows.WebhookAuth{Token: "t"}, want: &flows.WebhookAuth{Token: "t"}, same: true},
		{name: "no type with scopes alone", in: &flows.WebhookAuth{Scopes: []string{"a"}}, want: &flows.WebhookAuth{Scopes: []string{"a"}}, same: true},
		{name: "bearer", in: &flows.WebhookAuth{Type: flows.AuthBearer, Token: "t"}, want: &flows.WebhookAuth{Type: flows.AuthBearer, Token: "t"}, same: true},
		{name: "encoding lower already", in: oauth("json"), want: oauth("json"), same: true},
		{name: "encoding upper", in: oauth("JSON"), want: oauth("json")},
		{name: "encoding mixed", in: oauth("Form"), want: oauth("form")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before flows.WebhookAuth
			if tt.in != nil {
				before = *tt.in
			}
			got := NormalizeAuth(tt.in)
			switch {
			case tt.want == nil && got != nil:
				t.Fatalf("NormalizeAuth(%+v) = %+v, want nil", tt.in, got)
			case tt.want == nil:
				return
			case got == nil:
				t.Fatalf("NormalizeAuth(%+v) = nil, want %+v", tt.in, tt.want)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("NormalizeAuth(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
			if (got == tt.in) != tt.same {
				t.Errorf("NormalizeAuth(%+v) returned the auth given: %v, want %v", tt.in, got == tt.in, tt.same)
			}
			if !reflect.DeepEqual(*tt.in, before) {
				t.Errorf("NormalizeAuth changed the auth given: %+v, was %+v", tt.in, before)
			}
		})
	}
}

// A webhooks file with more problems than are listed at once ends the list
// saying there may be more.
func TestConfigProblemsCutShort(t *testing.T) {
	var entries []string
	for i := range 60 {
		entries = append(entries, fmt.Sprintf(`{"name":"w%d","url":"https://e.com","timeout":"5"}`, i))
	}
	for _, file := range []string{`{"webhooks":[` + strings.Join(entries, ",") + `]}`, `[` + strings.Join(entries, ",") + `]`} {
		_, err := ParseConfigs([]byte(file))
		if err == nil {
			t.Fatal("accepted")
		}
		lines := strings.Split(err.Error(), "\n")
		want := `$: and more: at most 50 problems are listed at once; these are the first 50`
		if len(lines) != 51 || lines[49] != `webhooks[49].timeout: expected a number, got JSON string` || lines[50] != want {
			t.Errorf("%d lines, the last two %q; want 50 problems and %q", len(lines), lines[len(lines)-2:], want)
		}
	}
}

// A --webhooks file of megabytes of unknown fields is read on a budget, as
// a flow is: the list stops after a few of them, saying the file is too
// large to list them all, instead of reading it once per problem.
func TestLargeWebhooksFileProblemsOnABudget(t *testing.T) {
	var keys strings.Builder
	for i := range 100000 {
		fmt.Fprintf(&keys, `"k%d": 1, `, i)
	}
	path := writeFile(t, `{"webhooks": [{"name": "a", `+keys.String()+`"url": "https://api.example.com/"}]}`)
	_, err := LoadConfigs(path)
	if err == nil {
		t.Fatal("the file loads")
	}
	lines := strings.Split(err.Error(), "\n")
	last := lines[len(lines)-1]
	want := "webhooks file " + path + ": $: and perhaps more: the document is too large to list every problem of it at once; these are the first "
	if len(lines) > 10 || !strings.HasPrefix(last, want) || !strings.Contains(lines[0], `webhooks[0].k0: unknown field "k0"`) {
		t.Errorf("%d lines, the first %q, the last %q; want a few ending with %q", len(lines), lines[0], last, want)
	}
}

// A header given as null in a --webhooks file is refused, as in a flow,
// naming the webhook's path, instead of being sent empty.
func TestWebhooksFileNullHeaderRefused(t *testing.T) {
	path := writeFile(t, `{"webhooks": [{"name": "crm", "url": "https://api.example.com/", "headers": {"X-Key": null}}]}`)
	_, err := LoadConfigs(path)
	want := "webhooks file " + path + ": webhooks[0].headers.X-Key: expected a string, got JSON null"
	if err == nil || err.Error() != want {
		t.Errorf("LoadConfigs: %v, want %s", err, want)
	}
	_, err = ParseConfigs([]byte(`[{"name": "crm", "url": "https://api.example.com/", "headers": {"A": "1", "X-Key": null}}]`))
	if want := "webhooks[0].headers.X-Key: expected a string, got JSON null"; err == nil || err.Error() != want {
		t.Errorf("a bare array: %v, want %s", err, want)
	}
}

// TestCheckOverrideHost: a widget's Host may name the host a configured
// webhook with credentials sends to anyway, in any case and with or without
// the scheme's default port, and no other.
func TestCheckOverrideHost(t *testing.T) {
	bearer := &flows.WebhookAuth{Type: flows.AuthBearer, Token: "s"}
	for _, c := range []struct {
		named   *flows.WebhookConfig
		widget  map[string]string
		allowed bool
	}{
		{&flows.WebhookConfig{URL: "https://api.example.com/x", Auth: bearer}, map[string]string{"Host": "API.example.com:443"}, true},
		{&flows.WebhookConfig{URL: "https://api.example.com/x", Auth: bearer}, map[string]string{"host": "api.example.com"}, true},
		{&flows.WebhookConfig{URL: "https://api.example.com/x", Auth: bearer}, map[string]string{"Host": "api.example.com:8443"}, false},
		{&flows.WebhookConfig{URL: "https://api.example.com/x", Auth: bearer}, map[string]string{"Host": "other.example"}, false},
		{&flows.WebhookConfig{URL: "https://api.example.com/x", Auth: bearer}, map[string]string{"Host": "other.example", "authorization": "Bearer own"}, true},
		{&flows.WebhookConfig{URL: "https://10.0.0.5/x", Auth: bearer, Headers: map[string]string{"Host": "api.internal"}}, map[string]string{"Host": "api.internal"}, true},
		{&flows.WebhookConfig{URL: "https://10.0.0.5/x", Auth: bearer, Headers: map[string]string{"Host": "api.internal"}}, map[string]string{"Host": "10.0.0.5"}, false},
		{&flows.WebhookConfig{URL: "https://@flow.region.value.example.com/x", Auth: bearer}, map[string]string{"Host": "eu.example.com"}, false},
		{&flows.WebhookConfig{URL: "https://api.example.com/x", Headers: map[string]string{"X-Api-Key": "k"}}, map[string]string{"Host": "other.example"}, false},
		{&flows.WebhookConfig{URL: "https://api.example.com/x", Headers: map[string]string{"X-Api-Key": "k"}}, map[string]string{"Host": "other.example", "x-api-key": "mine"}, true},
		{&flows.WebhookConfig{URL: "https://api.example.com/x", Headers: map[string]string{"X-Tenant": "acme"}}, map[string]string{"Host": "other.example"}, true},
		// A user and password in the configured URL are sent as basic auth.
		{&flows.WebhookConfig{URL: "https://bob:pw@api.example.com/x"}, map[string]string{"Host": "other.example"}, false},
		{&flows.WebhookConfig{URL: "https://bob:pw@api.example.com/x"}, map[string]string{"Host": "other.example", "Authorization": "Bearer own"}, true},
		// A flow stored before two spellings of one name were refused: each is checked.
		{&flows.WebhookConfig{URL: "https://api.example.com/x", Auth: bearer}, map[string]string{"Host": "api.example.com", "host": "other.example"}, false},
		{&flows.WebhookConfig{URL: "https://api.example.com/x", Auth: bearer}, map[string]string{"HOST": "other.example", "Host": "api.example.com"}, false},
	} {
		inline := &flows.WebhookConfig{Headers: c.widget}
		var err error
		for k, v := range c.widget {
			if e := CheckOverrideHost(c.named, inline, k, v); e != nil {
				err = e
			}
		}
		if (err == nil) != c.allowed {
			t.Errorf("configured %s %v, widget headers %v: error %v, want allowed %v", c.named.URL, c.named.Headers, c.widget, err, c.allowed)
		}
	}
}

// A field of a configured webhook given as null is not given, extra_json
// too (which was refused as "must be a JSON object"), as in a flow's
// webhook widget: the file loads as one without those fields.
func TestWebhooksFileNullFieldsAreNotGiven(t *testing.T) {
	path := writeFile(t, `{"webhooks": [{"name": "crm", "url": "https://api.example.com/", "description": null, "method": null,
	  "content_type": null, "headers": null, "extra_json": null, "body_mode": null, "body": null, "include": {"call": true, "user_keys": null},
	  "timeout": null, "max_response_bytes": null, "follow_redirects": null, "retries": null, "retry_backoff_ms": null, "retry_unsafe": null,
	  "auth": {"type": "bearer", "token": "s", "username": null, "scopes": null, "encoding": null}}]}`)
	got, err := LoadConfigs(path)
	if err != nil {
		t.Fatalf("LoadConfigs: %v", err)
	}
	want := &flows.WebhookConfig{Name: "crm", URL: "https://api.example.com/", Include: &flows.ParamGroups{Call: true},
		Auth: &flows.WebhookAuth{Type: flows.AuthBearer, Token: "s"}}
	if !reflect.DeepEqual(got["crm"], want) {
		t.Errorf("read as %+v, want %+v", got["crm"], want)
	}
}

// An element of a list given as null in a configured webhook (a scope) is
// refused, naming it, as a flow refuses it: a field given as null is not
// given, but the element would have been read as an empty scope.
func TestWebhooksFileNullScopeRefused(t *testing.T) {
	_, err := ParseConfigs([]byte(`{"webhooks": [{"name": "crm", "url": "https://api.example.com/", "auth": {"type": "oauth2_client_credentials",
	  "client_id": "c", "client_secret": "s", "token_url": "https://auth.example.com/t", "scopes": ["read", null]}}]}`))
	if want := "webhooks[0].auth.scopes[1]: expected a string, got JSON null"; err == nil || err.Error() != want {
		t.Errorf("ParseConfigs: %v, want %s", err, want)
	}
	_, err = ParseConfigs([]byte(`[{"name": "crm", "url": "https://api.example.com/", "auth": {"type": "oauth2_client_credentials",
	  "client_id": "c", "client_secret": "s", "token_url": "https://auth.example.com/t", "scopes": [null]}}, null]`))
	if want := "webhooks[0].auth.scopes[0]: expected a string, got JSON null"; err == nil || err.Error() != want {
		t.Errorf("a bare array: %v, want %s", err, want)
	}
}

package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A server without API keys behind a tunnel: the tunnel connects from
// loopback, with the --public-url host in Host. Through that host only the
// routes that check who sent a request themselves are served; /v1 and the
// simulator are refused, so the internet can neither use the API nor lock
// the operator out by creating the first key.
func TestPublicHostWithoutKeys(t *testing.T) {
	const public = "abc.ngrok.app"
	const token = "tw-auth-token"
	var logs bytes.Buffer
	ts := newTestServer(t, func(cfg *Config) {
		cfg.Examples = nil
		cfg.PublicURL = "https://" + public
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	base := ts.listen()
	send := func(host, method, path, ctype, body string, hdr ...string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	local := strings.TrimPrefix(base, "http://")
	if st, _ := send(local, "POST", "/v1/channels", "application/json", `{"id":"tw","type":"twilio","default_flow":"order-status","auth_token":"`+token+`"}`); st != 201 {
		t.Fatalf("create channel tw: %d", st)
	}
	if st, _ := send(local, "POST", "/v1/channels", "application/json", `{"id":"open","type":"twilio","default_flow":"order-status"}`); st != 201 {
		t.Fatalf("create channel open: %d", st)
	}

	refused := []struct{ method, path, body string }{
		{"GET", "/v1/flows", ""},
		{"POST", "/v1/keys", `{"name":"intruder"}`},
		{"GET", "/V1/keys", ""},
		{"POST", "/v1/channels/tw/messages", `{"from":"tel:+12065557777","text":"hi"}`},
		{"POST", "/v1/simulator/sessions", `{"flow":"order-status"}`},
		{"GET", "/simulator", ""},
		{"GET", "/simulator/simulator.js", ""},
		{"GET", "/metrics", ""},
		{"GET", "/openapi.json", ""},
	}
	for _, r := range refused {
		for _, host := range []string{public, "ABC.ngrok.app:443"} {
			st, m := send(host, r.method, r.path, "application/json", r.body)
			e, _ := m["error"].(map[string]any)
			if st != 403 || e["code"] != CodeForbidden || e["field"] != "Host" ||
				!strings.Contains(e["message"].(string), "serving /v1 and the simulator through --public-url needs API keys (--api-key or PARLEY_API_KEYS)") {
				t.Errorf("%s %s with Host %s: %d %v, want 403 naming the missing API keys", r.method, r.path, host, st, m)
			}
		}
	}
	// No key was created: the operator still uses the API from loopback.
	if st, m := send(local, "GET", "/v1/keys", "", ""); st != 200 || len(m["keys"].([]any)) != 0 {
		t.Fatalf("GET /v1/keys from loopback: %d %v, want 200 and no key", st, m)
	}

	if st, m := send(public, "GET", "/healthz", "", ""); st != 200 {
		t.Errorf("GET /healthz through the public host: %d %v, want 200", st, m)
	}
	sms := url.Values{"From": {"+1999"}, "Body": {"hi"}, "MessageSid": {"SM1"}}
	form := "application/x-www-form-urlencoded"
	sig := TwilioSignature(token, "https://"+public+"/twilio/tw/sms", sms)
	if st, m := send(public, "POST", "/twilio/tw/sms", form, sms.Encode(), TwilioSignatureHeader, sig); st != 200 {
		t.Errorf("signed Twilio SMS through the public host: %d %v, want 200", st, m)
	}
	sms.Set("MessageSid", "SM2")
	if st, m := send(public, "POST", "/twilio/tw/sms", form, sms.Encode()); st != 403 || m["error"].(map[string]any)["code"] != CodeBadSignature {
		t.Errorf("unsigned Twilio SMS through the public host: %d %v, want 403 bad_signature", st, m)
	}
	// A channel without an auth_token: nothing checks who sent it, so it is
	// refused through the public host, and still served from loopback.
	open := url.Values{"From": {"+1888"}, "Body": {"hi"}, "MessageSid": {"SM3"}}
	st, m := send(public, "POST", "/twilio/open/sms", form, open.Encode())
	if e, _ := m["error"].(map[string]any); st != 403 || e["code"] != CodeForbidden || e["field"] != "auth_token" ||
		!strings.Contains(e["message"].(string), `channel "open" has no auth_token: through the --public-url host a server without API keys takes Twilio webhooks only for a channel whose auth_token checks their signature`) {
		t.Errorf("Twilio SMS for a channel without auth_token through the public host: %d %v, want 403 on auth_token", st, m)
	}
	if st, m := send(local, "GET", "/v1/sessions?contact=tel:%2B1888", "", ""); st != 200 || len(m["sessions"].([]any)) != 0 {
		t.Errorf("sessions after the refused Twilio SMS: %d %v, want none", st, m)
	}
	if st, m := send(local, "POST", "/twilio/open/sms", form, open.Encode()); st != 200 {
		t.Errorf("Twilio SMS for a channel without auth_token from loopback: %d %v, want 200", st, m)
	}
	if !strings.Contains(logs.String(), "through --public-url only the Twilio webhooks of channels with an auth_token and /healthz are served") {
		t.Errorf("the start-up warning does not say what --public-url serves without keys:\n%s", logs.String())
	}
}

// With API keys, the --public-url host serves /v1 to a request with a key.
func TestPublicHostWithKeys(t *testing.T) {
	const key = "k_0123456789abcdef"
	ts := newTestServer(t, func(cfg *Config) {
		cfg.PublicURL = "https://abc.ngrok.app"
		cfg.APIKeys = []APIKey{{Name: "test", Key: key}}
	})
	base := ts.listen()
	for _, authz := range []string{"", "Bearer " + key} {
		req, _ := http.NewRequest("GET", base+"/v1/flows", nil)
		req.Host = "abc.ngrok.app"
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := 401
		if authz != "" {
			want = 200
		}
		if resp.StatusCode != want {
			t.Errorf("GET /v1/flows through the public host, Authorization %q: %d, want %d", authz, resp.StatusCode, want)
		}
	}
}

package server

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// postTwilio sends form to target with the X-Twilio-Signature sig, and
// returns the status and body.
func postTwilio(t *testing.T, target, sig string, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(TwilioSignatureHeader, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A --public-url with a user name and password (Twilio's HTTP basic auth)
// is checked without them, as Twilio drops them before it signs, and kept
// in the TwiML's URLs, where Twilio needs them.
func TestTwilioPublicURLWithUserInfo(t *testing.T) {
	base := twilioBehindPublicURL(t, "https://u:p@example.com/parley")
	form := callForm("CA1", "CallStatus", "ringing")
	sig := officialTwilioSignature(twilioTestToken, "https://example.com/parley/twilio/tw/voice", form)
	status, body := postTwilio(t, base+"/twilio/tw/voice", sig, form)
	want := `<Gather action="https://u:p@example.com/parley/twilio/tw/voice" method="POST"`
	if status != 200 || !strings.Contains(body, want) {
		t.Fatalf("signed without the user info: %d %s\nwant %s", status, body, want)
	}
	// Twilio never signs the URL with them.
	form = callForm("CA2", "CallStatus", "ringing")
	sig = officialTwilioSignature(twilioTestToken, "https://u:p@example.com/parley/twilio/tw/voice", form)
	status, body = postTwilio(t, base+"/twilio/tw/voice", sig, form)
	if status != 403 || !strings.Contains(body, "checked against https://example.com/parley/twilio/tw/voice,") {
		t.Errorf("signed with the user info: %d %s", status, body)
	}
}

func TestWithoutUserInfo(t *testing.T) {
	for in, want := range map[string]string{
		"https://u:p@example.com/parley": "https://example.com/parley",
		"https://u@example.com:8443/a@b": "https://example.com:8443/a@b",
		"https://u:p%40x@example.com":    "https://example.com",
		"https://example.com/parley/x@y": "https://example.com/parley/x@y",
		"http://example.com?x=@":         "http://example.com?x=@",
		"":                               "",
	} {
		if got := withoutUserInfo(in); got != want {
			t.Errorf("withoutUserInfo(%q) = %q, want %q", in, got, want)
		}
	}
}

// twilioBehindPublicURL listens with --public-url publicURL, the who flow
// as the voice flow of a signed Twilio channel "tw", and returns its base URL.
func twilioBehindPublicURL(t *testing.T, publicURL string) string {
	t.Helper()
	ts := newTestServer(t, func(c *Config) {
		c.Examples = nil
		c.PublicURL = publicURL
	})
	ts.createFlow(whoFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","voice_flow":"who","auth_token":"`+twilioTestToken+`"}`)
	return ts.listen()
}

package server

import (
	"net/url"
	"strconv"
	"testing"
)

// Twilio signs the URL as configured: a proxy that adds the default port or
// drops any port must not break the check, as Twilio's libraries accept the
// URL without its port, while another URL still fails.
func TestTwilioSignatureDefaultPort(t *testing.T) {
	params := url.Values{"From": {"+15550001"}, "Body": {"hi"}}
	const token = "12345"
	cases := []struct {
		signedAs, received string
		ok                 bool
	}{
		{"https://parley.example.com/twilio/sms/sms", "https://parley.example.com/twilio/sms/sms", true},
		{"https://parley.example.com:443/twilio/sms/sms", "https://parley.example.com/twilio/sms/sms", true},
		{"https://parley.example.com/twilio/sms/sms", "https://parley.example.com:443/twilio/sms/sms", true},
		{"http://parley.example.com/twilio/sms/sms", "http://parley.example.com:80/twilio/sms/sms", true},
		{"https://parley.example.com:8443/twilio/sms/sms", "https://parley.example.com/twilio/sms/sms", false},
		{"https://parley.example.com/twilio/sms/sms", "https://parley.example.com:8443/twilio/sms/sms", true},
		{"https://parley.example.com:8443/twilio/sms/sms", "https://parley.example.com:8443/twilio/sms/sms", true},
		{"https://parley.example.com:9443/twilio/sms/sms", "https://parley.example.com:8443/twilio/sms/sms", false},
		{"https://parley.example.com:443/twilio/sms/sms", "https://parley.example.com:8443/twilio/sms/sms", false},
		{"http://[2001:db8::1]/twilio/sms/sms?x=1", "http://[2001:db8::1]:8080/twilio/sms/sms?x=1", true},
		{"http://[2001:db8::1]:80/twilio/sms/sms", "http://[2001:db8::1]/twilio/sms/sms", true},
		{"https://other.example.com/twilio/sms/sms", "https://parley.example.com/twilio/sms/sms", false},
	}
	for _, c := range cases {
		sig := TwilioSignature(token, c.signedAs, params)
		if got := twilioSigned(token, c.received, params, sig); got != c.ok {
			t.Errorf("signed as %s, received %s: accepted=%v, want %v", c.signedAs, c.received, got, c.ok)
		}
	}
}

// With a --public-url on another port than the scheme's, a signature over
// the URL without the port is taken, over a real HTTP server.
func TestTwilioPublicURLOtherPort(t *testing.T) {
	base := twilioBehindPublicURL(t, "https://example.com:8443/parley")
	for i, c := range []struct {
		signed string
		status int
	}{
		{"https://example.com/parley/twilio/tw/voice", 200},
		{"https://example.com:8443/parley/twilio/tw/voice", 200},
		{"https://example.com:443/parley/twilio/tw/voice", 403},
		{"https://example.com:9443/parley/twilio/tw/voice", 403},
	} {
		form := callForm("CA"+strconv.Itoa(i), "CallStatus", "ringing")
		status, body := postTwilio(t, base+"/twilio/tw/voice", officialTwilioSignature(twilioTestToken, c.signed, form), form)
		if status != c.status {
			t.Errorf("signed over %s: %d %s, want %d", c.signed, status, body, c.status)
		}
	}
}

package server

import (
	"net/url"
	"testing"
)

// Twilio signs the URL as configured: a proxy that adds or drops the default
// port must not break the check, while another URL still fails.
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
		{"https://other.example.com/twilio/sms/sms", "https://parley.example.com/twilio/sms/sms", false},
	}
	for _, c := range cases {
		sig := TwilioSignature(token, c.signedAs, params)
		if got := twilioSigned(token, c.received, params, sig); got != c.ok {
			t.Errorf("signed as %s, received %s: accepted=%v, want %v", c.signedAs, c.received, got, c.ok)
		}
	}
}

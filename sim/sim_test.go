package sim

import (
	"context"
	"testing"

	"github.com/parleyhq/parley/flows"
)

func TestMocksMatchInOrder(t *testing.T) {
	m, err := ParseMocks([]byte(`{
	  "http://x/orders/*": [{"status": 200, "body": {"n": 1}}, {"status": 500, "body": "down"}],
	  "http://x/orders/special": [{"status": 201, "body": {"special": true}}],
	  "http://x/*": [{"timeout": true}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	call := func(url string) *flows.WebhookResult {
		return m.Call(context.Background(), &flows.WebhookRequest{Method: "POST", URL: url})
	}
	cases := []struct {
		url     string
		status  int
		outcome string
		body    string
	}{
		{"http://x/orders/special", 201, flows.OutcomeSuccess, `{"special": true}`},
		{"http://x/orders/1", 200, flows.OutcomeSuccess, `{"n": 1}`},
		{"http://x/orders/2", 500, flows.OutcomeFailure, "down"},
		{"http://x/orders/3", 500, flows.OutcomeFailure, "down"}, // the last answer repeats
		{"http://x/other", 0, flows.OutcomeTimeout, ""},
		{"http://y/", 0, flows.OutcomeError, ""},
	}
	for _, c := range cases {
		res := call(c.url)
		if res.Status != c.status || res.Outcome != c.outcome || string(res.Body) != c.body {
			t.Errorf("%s: got %d %s %q, want %d %s %q", c.url, res.Status, res.Outcome, res.Body, c.status, c.outcome, c.body)
		}
	}
}

func TestParseMocksErrors(t *testing.T) {
	for _, bad := range []string{`[]`, `{"u": []}`, `{"u": [{"status": 42}]}`, `{"u": [{"status": 200, "bogus": 1}]}`, `{"u": [{"body": {"v": 1}}]}`} {
		if _, err := ParseMocks([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestParseLine(t *testing.T) {
	cases := []struct {
		line string
		call bool
		want flows.Input
		bad  bool
	}{
		{"hello", false, flows.Text("hello"), false},
		{"12#", true, flows.Digits("12#"), false},
		{"/timeout", false, flows.Timeout(), false},
		{"/hangup", true, flows.Hangup(), false},
		{"//start", false, flows.Text("/start"), false},
		{"/bogus", false, flows.Input{}, true},
	}
	for _, c := range cases {
		got, err := ParseLine(c.line, c.call)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("%q: got %+v, %v", c.line, got, err)
		}
	}
}

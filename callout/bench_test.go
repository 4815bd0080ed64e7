package callout

import (
	"context"
	"net/http"
	"testing"

	"github.com/parleyhq/parley/flows"
)

func BenchmarkDefaultBodyJSON(b *testing.B) {
	sess, flow := testSession()
	for b.Loop() {
		if _, _, err := EncodeBody(DefaultBody(sess, flow, nil), nil, flows.ContentJSON); err != nil {
			b.Fatal(err)
		}
	}
}

func benchCall(b *testing.B, auth func(*tokenServer) *flows.WebhookAuth) {
	ts := &tokenServer{valid: map[string]bool{}, reject: map[string]bool{}, expires: 3600}
	srv := httptestServer(b, ts.serve)
	ts.srv = srv
	s := New(Options{AllowCIDRs: loopback})
	req := &flows.WebhookRequest{Method: "POST", URL: srv + "/api", Body: []byte(`{"text":"hi"}`)}
	if auth != nil {
		req.Auth = auth(ts)
	} else {
		ts.valid[""] = true
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if res := s.Call(ctx, req); res.Outcome != flows.OutcomeSuccess {
			b.Fatal(res.Outcome, res.Error)
		}
	}
}

func BenchmarkCall(b *testing.B) { benchCall(b, nil) }

func BenchmarkCallOAuth2Cached(b *testing.B) {
	benchCall(b, func(ts *tokenServer) *flows.WebhookAuth { return ts.auth(flows.AuthOAuth2ClientCredentials, "") })
}

var _ http.HandlerFunc = (*tokenServer)(nil).serve

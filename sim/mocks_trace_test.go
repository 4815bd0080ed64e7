package sim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/flows"
)

// A mocked call records the request the real service would have sent: the
// same method, headers and body, redacted the same way.
func TestMockedRequestTraceAsTheRealService(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	real := callout.New(callout.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})

	cases := []struct {
		name string
		req  flows.WebhookRequest
	}{
		{"plain GET", flows.WebhookRequest{Method: "GET", URL: srv.URL + "/orders?id=1"}},
		{"JSON body, lower-case method", flows.WebhookRequest{Method: "post", URL: srv.URL + "/orders", Body: []byte(`{"order":"CU001"}`)}},
		{"form body", flows.WebhookRequest{Method: "POST", URL: srv.URL + "/form", ContentType: flows.ContentForm, Body: []byte("a=1&password=hunter2")}},
		{"bearer token", flows.WebhookRequest{Method: "POST", URL: srv.URL + "/x", Body: []byte(`{}`),
			Auth: &flows.WebhookAuth{Type: flows.AuthBearer, Token: "tok-123"}}},
		{"basic auth", flows.WebhookRequest{Method: "GET", URL: srv.URL + "/x",
			Auth: &flows.WebhookAuth{Type: flows.AuthBasic, Username: "ann", Password: "s3cret"}}},
		{"URL user part", flows.WebhookRequest{Method: "GET", URL: strings.Replace(srv.URL, "://", "://ann:url-s3cret@", 1) + "/x?api_key=k-1"}},
		{"headers, Host and a secret one", flows.WebhookRequest{Method: "GET", URL: srv.URL + "/x",
			Headers: map[string]string{"x-trace": "t1", "Host": "api.example.com", "X-Api-Key": "k-999", "accept": "application/json"}}},
		{"headers the client writes", flows.WebhookRequest{Method: "POST", URL: srv.URL + "/x", Body: []byte(`{}`),
			Headers: map[string]string{"content-length": "9", "Connection": "close", "Transfer-Encoding": "chunked", "X-A": "1"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := real.Call(context.Background(), &tc.req)
			if want.Request == nil || want.Outcome != flows.OutcomeSuccess {
				t.Fatalf("real call: %s %s", want.Outcome, want.Error)
			}
			mock := NewMocks(map[string][]MockResponse{tc.req.URL: {{Status: 200, Body: []byte(`{}`)}}})
			got := mock.Call(context.Background(), &tc.req)
			if !reflect.DeepEqual(got.Request, want.Request) {
				t.Errorf("mocked call's request sent:\n  %+v\nreal call's:\n  %+v", *got.Request, *want.Request)
			}
		})
	}
}

package callout

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parleyhq/parley/flows"
)

// The bodies a webhook_called event keeps of an answer over the cap (the
// answer's, the request's, an OAuth 2.0 token answer's, a mocked answer's)
// are cut at the end of the last whole character that fits, never inside
// one, so the event's JSON holds no U+FFFD where the bytes were split.
func TestBodiesCutBetweenCharacters(t *testing.T) {
	// The token answer is redacted and re-encoded with its names sorted:
	// {"access_token":"[redacted]",...,"scope":"ééééé","token_type":...};
	// the cap falls inside its second é, and inside a character of the
	// answer and of the request too.
	cap := strings.Index(`{"access_token":"[redacted]","expires_in":3600,"scope":"ééééé"`, "é") + 3
	answer := `"` + strings.Repeat("a", cap-2) + `é"`
	body := []byte(`"` + strings.Repeat("x", cap-3) + `🇫🇷"`)
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/token" {
			w.Write([]byte(`{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"scope":"ééééé"}`))
			return
		}
		w.Write([]byte(answer))
	})
	auth := &flows.WebhookAuth{Type: flows.AuthOAuth2ClientCredentials, ClientID: "cid", ClientSecret: "cs", TokenURL: srv.URL + "/token"}
	res := call(t, newService(t, Options{}), &flows.WebhookRequest{
		Method: "POST", URL: srv.URL + "/api", Body: body, MaxResponse: cap, Auth: auth,
		Headers: map[string]string{"Content-Type": "application/json"},
	})
	if len(res.Calls) != 2 || res.Calls[0].Response == nil {
		t.Fatalf("calls %+v; want the token request then the API call", res.Calls)
	}
	if got, want := res.Calls[0].Response.Body, `{"access_token":"[redacted]","expires_in":3600,"scope":"é`; got != want || !res.Calls[0].Response.Truncated {
		t.Errorf("token answer kept as %q; want %q, truncated", got, want)
	}
	if want := answer[:cap-1]; res.Outcome != flows.OutcomeTooBig || string(res.Body) != want || res.Response == nil ||
		res.Response.Body != want || !res.Response.Truncated {
		t.Errorf("answer kept as %q (trace %+v), outcome %s; want %q, too_large", res.Body, res.Response, res.Outcome, want)
	}
	if want := string(body[:cap-2]); res.Request == nil || res.Request.Body != want || !res.Request.Truncated {
		t.Errorf("request kept as %+v; want the body %q, truncated before the flag", res.Request, want)
	}
	ev := Event(&flows.WebhookRequest{Method: "POST", URL: srv.URL}, res)
	checkEventUTF8(t, ev)

	// A mocked answer is held to the same cap, at a whole character.
	mocked := &flows.WebhookResult{Outcome: flows.OutcomeSuccess, Status: 200, Body: []byte("aaaaaaaaé and more"), Response: &flows.HTTPTrace{Status: 200}}
	CapAnswer(mocked, 9)
	if string(mocked.Body) != "aaaaaaaa" || mocked.Response.Body != "aaaaaaaa" || mocked.Outcome != flows.OutcomeTooBig {
		t.Errorf("mocked answer capped to %q (trace %q), outcome %s; want aaaaaaaa, too_large", mocked.Body, mocked.Response.Body, mocked.Outcome)
	}
}

func checkEventUTF8(t *testing.T, ev flows.Event) {
	t.Helper()
	var check func(path string, v any)
	check = func(path string, v any) {
		switch v := v.(type) {
		case string:
			if !utf8.ValidString(v) || strings.ContainsRune(v, utf8.RuneError) {
				t.Errorf("%s: %q holds half of a character", path, v)
			}
		case map[string]any:
			for k, x := range v {
				check(path+"."+k, x)
			}
		case []any:
			for i, x := range v {
				check(path+"["+itoa(i)+"]", x)
			}
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	check("event", v)
}

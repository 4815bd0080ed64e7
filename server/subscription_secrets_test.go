package server

import (
	"context"
	"encoding/base64"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/delivery"
)

// A subscription's answers show its auth password, token and client
// secret, secret-looking headers and its URL's credential parameters as
// [redacted], as a configured webhook's do; a PUT that sends them back so
// keeps the stored secrets for the same address, and refuses them for
// another. The signing secret is shown: the receiver checks with it.
func TestSubscriptionAnswersRedactSecrets(t *testing.T) {
	var mu sync.Mutex
	var got []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.RawQuery+" "+r.Header.Get("Authorization")+" "+r.Header.Get("X-Api-Key"))
		mu.Unlock()
	}))
	defer receiver.Close()
	ts := loopbackServer(t)
	secrets := []string{"UT777", "TOK777", "HK777", "CS777"}
	noSecrets := func(what string, body []byte) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(string(body), s) {
				t.Errorf("%s shows %q: %s", what, s, body)
			}
		}
	}

	r := ts.do("POST", "/v1/webhooks", map[string]any{"url": receiver.URL + "/hook?token=UT777&q=1", "events": []string{"flow.completed"},
		"auth": map[string]any{"type": "bearer", "token": "TOK777"}, "headers": map[string]any{"X-Api-Key": "HK777", "X-Tenant": "acme"}})
	if r.Status != 201 {
		t.Fatalf("POST /v1/webhooks: %d %s", r.Status, r.Body)
	}
	noSecrets("POST", r.Body)
	created := r.JSON(t)
	id, signing := created["id"].(string), secretOf(t, created)
	if !strings.HasPrefix(signing, "whsec_") || created["url"] != receiver.URL+"/hook?token=[redacted]&q=1" ||
		created["auth"].(map[string]any)["token"] != "[redacted]" ||
		created["headers"].(map[string]any)["X-Api-Key"] != "[redacted]" || created["headers"].(map[string]any)["X-Tenant"] != "acme" {
		t.Errorf("POST answer %v: want the signing secret, and the url's token, auth.token and X-Api-Key [redacted]", created)
	}
	oauth := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": receiver.URL + "/o", "events": []string{"*"}, "disabled": true,
		"auth": map[string]any{"type": "oauth2_client_credentials", "client_id": "parley", "client_secret": "CS777", "token_url": receiver.URL + "/token"}})
	if a := oauth["auth"].(map[string]any); a["client_secret"] != "[redacted]" || a["client_id"] != "parley" {
		t.Errorf("POST answer auth %v, want client_secret [redacted]", a)
	}

	one := ts.do("GET", "/v1/webhooks/"+id, nil)
	noSecrets("GET", one.Body)
	if !strings.Contains(string(one.Body), signing) {
		t.Errorf("GET does not show the signing secret: %s", one.Body)
	}
	noSecrets("the list", ts.do("GET", "/v1/webhooks", nil).Body)
	noSecrets("GET the OAuth one", ts.do("GET", "/v1/webhooks/"+oauth["id"].(string), nil).Body)
	noSecrets("rotate-secret", ts.do("POST", "/v1/webhooks/"+id+"/rotate-secret", nil).Body)

	// Sent back as read, with a change: the stored secrets are kept.
	sub := one.JSON(t)
	delete(sub, "secrets")
	sub["description"] = "CRM"
	r = ts.do("PUT", "/v1/webhooks/"+id, sub)
	if r.Status != 200 {
		t.Fatalf("PUT of the GET answer: %d %s", r.Status, r.Body)
	}
	noSecrets("PUT", r.Body)
	ts.must(200, "POST", "/v1/webhooks/"+id+"/test", nil)
	mu.Lock()
	if n := len(got); n == 0 || got[n-1] != "token=UT777&q=1 Bearer TOK777 HK777" {
		t.Errorf("the receiver got %q, want the stored secrets", got)
	}
	mu.Unlock()

	// Moved to another address: each [redacted] is refused, nothing stored.
	moved := maps.Clone(sub)
	moved["url"] = "https://elsewhere.example/hook?token=[redacted]&q=1"
	r = ts.do("PUT", "/v1/webhooks/"+id, moved)
	e := r.errorOf(t)
	var fields []string
	for _, d := range e["errors"].([]any) {
		fields = append(fields, d.(map[string]any)["path"].(string))
	}
	if r.Status != 422 || e["field"] != "url" || strings.Join(fields, " ") != "url auth.token headers.X-Api-Key" ||
		!strings.Contains(e["message"].(string), "[redacted] stands for the secret stored for "+receiver.URL+": give the secret again for a new address (https://elsewhere.example)") {
		t.Errorf("PUT to another address: %d %s, want 422 on url, auth.token and headers.X-Api-Key", r.Status, r.Body)
	}
	if after := ts.must(200, "GET", "/v1/webhooks/"+id, nil); after["url"] != sub["url"] {
		t.Errorf("url after the refused PUT: %v, want %v", after["url"], sub["url"])
	}
}

// A [redacted] sent back percent-encoded (%5Bredacted%5D, as URL libraries
// write the brackets) keeps the stored secret, as [redacted] does.
func TestSubscriptionPercentEncodedRedacted(t *testing.T) {
	var mu sync.Mutex
	var got []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		mu.Lock()
		got = append(got, r.URL.Path+" "+u+":"+p+" "+r.URL.RawQuery)
		mu.Unlock()
	}))
	defer receiver.Close()
	ts := loopbackServer(t)
	host := strings.TrimPrefix(receiver.URL, "http://")
	id := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": "http://bob:PW4242@" + host + "/x?api_key=KEY4242&q=1",
		"events": []string{"flow.completed"}})["id"].(string)

	ts.must(200, "PUT", "/v1/webhooks/"+id, map[string]any{"url": "http://bob:%5Bredacted%5D@" + host + "/y?api_key=%5bredacted%5d&q=2",
		"events": []string{"flow.completed"}})
	ts.must(200, "POST", "/v1/webhooks/"+id+"/test", nil)
	// The test's request is the one to /y; the creation's ping, to /x, is
	// delivered in the background and may come after it.
	mu.Lock()
	if !slices.Contains(got, "/y bob:PW4242 api_key=KEY4242&q=2") {
		t.Errorf("the receiver got %q, want the stored password and api_key at /y", got)
	}
	mu.Unlock()

	r := ts.do("POST", "/v1/webhooks", map[string]any{"url": "http://bob:%5Bredacted%5D@" + host + "/x", "events": []string{"*"}})
	if e := r.errorOf(t); r.Status != 422 || e["field"] != "url" || !strings.Contains(e["message"].(string), "no stored secret of this subscription fits") {
		t.Errorf("POST with %%5Bredacted%%5D: %d %s, want 422 on url", r.Status, r.Body)
	}
}

// A URL with an empty password is shown as it is, and sent back edited.
func TestSubscriptionEmptyURLPassword(t *testing.T) {
	ts := loopbackServer(t)
	sub := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": "https://bob:@crm.example.com/x?token=TOK4242", "events": []string{"*"}, "disabled": true})
	if want := "https://bob:@crm.example.com/x?token=[redacted]"; sub["url"] != want {
		t.Errorf("POST url %v, want %s", sub["url"], want)
	}
	id := sub["id"].(string)
	delete(sub, "secrets")
	sub["url"] = "https://bob:@crm.example.com/y?token=[redacted]"
	ts.must(200, "PUT", "/v1/webhooks/"+id, sub)
	stored, err := ts.srv.deliv.Get(context.Background(), id)
	if err != nil || stored.URL != "https://bob:@crm.example.com/y?token=TOK4242" {
		t.Errorf("stored url %v (%v), want the token kept", stored, err)
	}
}

// Error answers do not repeat the secrets of the URLs they quote.
func TestSubscriptionErrorsRedactURLs(t *testing.T) {
	ts := loopbackServer(t)
	wantRedactedErrors(t, ts, "POST", "/v1/webhooks", []redactedErrorCase{
		{"not a URL", map[string]any{"url": "https://bob:PW4242@exa mple.com/x?token=TOK4242&q=1"},
			"url", `url "https://bob:[redacted]@exa mple.com/x?token=[redacted]&q=1" is not a URL: invalid character " " in host name`},
		{"a [redacted] no stored secret fits", map[string]any{"url": "https://bob:PW4242@crm.example.com/x?token=[redacted]&api_key=KEY4242"},
			"url", `"https://bob:[redacted]@crm.example.com/x?token=[redacted]&api_key=[redacted]" holds [redacted]`},
		{"a token URL", map[string]any{"url": "https://crm.example.com/x", "auth": map[string]any{"type": "oauth2_client_credentials",
			"client_id": "c", "client_secret": "CS4242", "token_url": "ftp://u:PW4242@auth.example.com/t?client_secret=CS4242"}},
			"auth.token_url", `not "ftp://u:[redacted]@auth.example.com/t?client_secret=[redacted]"`},
	})
}

// The list does not carry every endpoint's signing secrets: each reads
// [redacted] there, with its dates, and GET /v1/webhooks/{id} shows one
// endpoint's. A list entry sent back with PUT keeps the stored secrets.
func TestSubscriptionListRedactsSigningSecrets(t *testing.T) {
	ts := loopbackServer(t)
	id := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": "https://crm.example.com/in", "events": []string{"*"}, "disabled": true})["id"].(string)
	ts.must(200, "POST", "/v1/webhooks/"+id+"/rotate-secret", nil)
	one := ts.must(200, "GET", "/v1/webhooks/"+id, nil)
	stored := one["secrets"].([]any)
	if len(stored) != 2 {
		t.Fatalf("GET secrets %v, want two after a rotation", stored)
	}
	for _, s := range stored {
		if !strings.HasPrefix(s.(map[string]any)["secret"].(string), "whsec_") {
			t.Errorf("GET secrets %v, want them shown", stored)
		}
	}

	r := ts.do("GET", "/v1/webhooks", nil)
	if strings.Contains(string(r.Body), "whsec_") {
		t.Errorf("the list shows signing secrets: %s", r.Body)
	}
	entry := r.JSON(t)["webhooks"].([]any)[0].(map[string]any)
	listed := entry["secrets"].([]any)
	if len(listed) != 2 {
		t.Fatalf("the list's secrets %v, want two", listed)
	}
	for i, s := range listed {
		s := s.(map[string]any)
		if s["secret"] != "[redacted]" || s["created_at"] != stored[i].(map[string]any)["created_at"] || s["expires_at"] != stored[i].(map[string]any)["expires_at"] {
			t.Errorf("the list's secrets[%d] %v, want [redacted] with the dates of %v", i, s, stored[i])
		}
	}

	// Sent back as listed: the stored secrets are kept.
	entry["description"] = "CRM"
	ts.must(200, "PUT", "/v1/webhooks/"+id, entry)
	if after := ts.must(200, "GET", "/v1/webhooks/"+id, nil); mustJSON(after["secrets"]) != mustJSON(stored) || after["description"] != "CRM" {
		t.Errorf("after a PUT of the list entry: secrets %v, description %v; want %v kept", after["secrets"], after["description"], stored)
	}
	// A [redacted] no stored secret fits (another created_at) is refused.
	listed[1].(map[string]any)["created_at"] = "2020-01-01T00:00:00Z"
	r = ts.do("PUT", "/v1/webhooks/"+id, entry)
	if e := r.errorOf(t); r.Status != 422 || e["field"] != "secrets[1].secret" || !strings.Contains(e["message"].(string), "[redacted]") {
		t.Errorf("PUT with a [redacted] secret of another created_at: %d %s, want 422 on secrets[1].secret", r.Status, r.Body)
	}
	r = ts.do("POST", "/v1/webhooks", map[string]any{"url": "https://crm.example.com/in", "secrets": []any{map[string]any{"secret": "[redacted]"}}})
	if e := r.errorOf(t); r.Status != 422 || e["field"] != "secrets[0].secret" {
		t.Errorf("POST with a [redacted] secret: %d %s, want 422 on secrets[0].secret", r.Status, r.Body)
	}
}

// The token URL's credential parameters read [redacted] in a subscription's
// answers, and sent back so they keep the stored ones.
func TestSubscriptionTokenURLSecrets(t *testing.T) {
	ts := loopbackServer(t)
	sub := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": "https://crm.example.com/in", "events": []string{"*"}, "disabled": true,
		"auth": map[string]any{"type": "oauth2_client_credentials", "client_id": "c", "client_secret": "CS4242", "token_url": "https://auth.example.com/t?api_key=KEY4242"}})
	if a := sub["auth"].(map[string]any); a["token_url"] != "https://auth.example.com/t?api_key=[redacted]" {
		t.Errorf("POST auth.token_url %v, want its api_key [redacted]", a["token_url"])
	}
	id := sub["id"].(string)
	for _, path := range []string{"/v1/webhooks", "/v1/webhooks/" + id} {
		if r := ts.do("GET", path, nil); strings.Contains(string(r.Body), "KEY4242") {
			t.Errorf("GET %s shows the token URL's api_key: %s", path, r.Body)
		}
	}
	delete(sub, "secrets")
	sub["auth"].(map[string]any)["token_url"] = "https://auth.example.com/t2?api_key=[redacted]"
	ts.must(200, "PUT", "/v1/webhooks/"+id, sub)
	stored, err := ts.srv.deliv.Get(context.Background(), id)
	if err != nil || stored.Auth.TokenURL != "https://auth.example.com/t2?api_key=KEY4242" || stored.Auth.ClientSecret != "CS4242" {
		t.Errorf("stored auth %+v (%v), want the api_key and client secret kept", stored.Auth, err)
	}
	sub["auth"].(map[string]any)["token_url"] = "https://auth.example.com/t2?key2=[redacted]"
	r := ts.do("PUT", "/v1/webhooks/"+id, sub)
	if e := r.errorOf(t); r.Status != 422 || e["field"] != "auth.token_url" || !strings.Contains(e["message"].(string), "no stored secret of this subscription fits") {
		t.Errorf("PUT with a [redacted] no stored secret fits: %d %s, want 422 on auth.token_url", r.Status, r.Body)
	}
}

// Signing secrets given together share their created_at: a list entry sent
// back unchanged keeps each in its place, and one moved among them is
// refused, not taken for another.
func TestSubscriptionListSecretsGivenTogether(t *testing.T) {
	ts := loopbackServer(t)
	a, b := "whsec_"+base64.StdEncoding.EncodeToString([]byte("secret-aaaaaaaaaaaaaaaaaaaaaaaaaa")), "whsec_"+base64.StdEncoding.EncodeToString([]byte("secret-bbbbbbbbbbbbbbbbbbbbbbbbbb"))
	id := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": "https://crm.example.com/in", "events": []string{"*"}, "disabled": true,
		"secrets": []any{map[string]any{"secret": a}, map[string]any{"secret": b}}})["id"].(string)
	stored := ts.must(200, "GET", "/v1/webhooks/"+id, nil)["secrets"]
	entry := ts.must(200, "GET", "/v1/webhooks", nil)["webhooks"].([]any)[0].(map[string]any)
	ts.must(200, "PUT", "/v1/webhooks/"+id, entry)
	after := ts.must(200, "GET", "/v1/webhooks/"+id, nil)["secrets"]
	if mustJSON(after) != mustJSON(stored) || !strings.Contains(mustJSON(after), a) || !strings.Contains(mustJSON(after), b) {
		t.Errorf("after a PUT of the list entry: secrets %v, want %v kept", after, stored)
	}
	listed := entry["secrets"].([]any)
	entry["secrets"] = []any{listed[1], listed[0], map[string]any{"secret": "[redacted]", "created_at": listed[0].(map[string]any)["created_at"]}}
	r := ts.do("PUT", "/v1/webhooks/"+id, entry)
	if e := r.errorOf(t); r.Status != 422 || e["field"] != "secrets[2].secret" {
		t.Errorf("PUT with a third [redacted] of the same time: %d %s, want 422 on secrets[2].secret", r.Status, r.Body)
	}
}

// A password holding a / or a # keeps the URL from parsing: no piece of it
// shows in the error, and a webhook configuration stored with one can be
// sent back as GET shows it.
func TestPasswordThatBreaksTheURL(t *testing.T) {
	ts := loopbackServer(t)
	for _, u := range []string{"https://bob:ab/cdEF+gh=@api.example.com/x", "https://bob:s3cr#et@host.example.com/x"} {
		r := ts.do("POST", "/v1/webhooks", map[string]any{"url": u, "events": []string{"*"}})
		if r.Status != 422 || strings.Contains(string(r.Body), `:ab\"`) || strings.Contains(string(r.Body), "s3cr") {
			t.Errorf("POST %s: %d %s, want 422 showing no piece of the password", u, r.Status, r.Body)
		}
	}
	ts.must(201, "POST", "/v1/webhook-configs", map[string]any{"name": "slash", "url": "https://bob:pa/ss9@api.example.com/x"})
	got := ts.must(200, "GET", "/v1/webhook-configs/slash", nil)
	if strings.Contains(mustJSON(got), "pa/ss9") {
		t.Fatalf("GET shows the password: %v", got)
	}
	delete(got, "source")
	r := ts.do("PUT", "/v1/webhook-configs/slash", got)
	if r.Status != 200 {
		t.Errorf("PUT of the GET answer: %d %s, want 200", r.Status, r.Body)
	}
}

// Secrets given together differ by their expiry: one left out of a list
// entry sent back is the one left out, the others keep their own, and two
// with the same dates cannot lose one of them unnoticed.
func TestSubscriptionListSecretsByTheirDates(t *testing.T) {
	ts := loopbackServer(t)
	secret := func(c byte) string {
		return "whsec_" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(c), 32)))
	}
	a, b, c := secret('a'), secret('b'), secret('c')
	id := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": "https://crm.example.com/in", "events": []string{"*"}, "disabled": true,
		"secrets": []any{
			map[string]any{"secret": a, "expires_at": "2030-01-01T00:00:00Z"},
			map[string]any{"secret": b, "expires_at": "2030-02-01T00:00:00Z"},
			map[string]any{"secret": c},
		}})["id"].(string)
	entry := ts.must(200, "GET", "/v1/webhooks", nil)["webhooks"].([]any)[0].(map[string]any)
	listed := entry["secrets"].([]any)
	entry["secrets"] = []any{listed[0], listed[2]}
	ts.must(200, "PUT", "/v1/webhooks/"+id, entry)
	after := mustJSON(ts.must(200, "GET", "/v1/webhooks/"+id, nil)["secrets"])
	if !strings.Contains(after, a) || strings.Contains(after, b) || !strings.Contains(after, c) {
		t.Errorf("after leaving B out: %s, want A and C kept, B gone", after)
	}

	id = ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": "https://crm.example.com/in", "events": []string{"*"}, "disabled": true,
		"secrets": []any{map[string]any{"secret": a}, map[string]any{"secret": b}}})["id"].(string)
	var mine map[string]any
	for _, w := range ts.must(200, "GET", "/v1/webhooks", nil)["webhooks"].([]any) {
		if w.(map[string]any)["id"] == id {
			mine = w.(map[string]any)
		}
	}
	mine["secrets"] = mine["secrets"].([]any)[:1]
	r := ts.do("PUT", "/v1/webhooks/"+id, mine)
	if e := r.errorOf(t); r.Status != 422 || e["field"] != "secrets[0].secret" || !strings.Contains(e["message"].(string), "cannot be told") {
		t.Errorf("PUT leaving out one of two secrets with the same dates: %d %s, want 422 on secrets[0].secret", r.Status, r.Body)
	}
}

// A subscription's headers whose names differ only in case are refused.
func TestSubscriptionHeadersOfOneName(t *testing.T) {
	ts := loopbackServer(t)
	r := ts.do("POST", "/v1/webhooks", map[string]any{"url": "https://crm.example.com/in", "events": []string{"*"},
		"headers": map[string]any{"X-Tenant": "aaa", "x-tenant": "bbb"}})
	if e := r.errorOf(t); r.Status != 422 || e["field"] != "headers.x-tenant" || !strings.Contains(e["message"].(string), `names the same header as "X-Tenant"`) {
		t.Errorf("POST with X-Tenant and x-tenant: %d %s, want 422 on headers.x-tenant", r.Status, r.Body)
	}
}

// A list entry sent back by a client that keeps times in microseconds
// (Python) or milliseconds (JavaScript) keeps the stored signing secrets,
// each matched by its dates to the precision sent, offset or Z; dates that
// fit two stored secrets to that precision are refused, not taken for
// either.
func TestSubscriptionListSecretsDatesToThePrecisionSent(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.clock.Advance(123456789 * time.Nanosecond)
	id := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": "https://crm.example.com/in", "events": []string{"*"}, "disabled": true})["id"].(string)
	ts.clock.Advance(time.Hour + 987654321*time.Nanosecond)
	ts.must(200, "POST", "/v1/webhooks/"+id+"/rotate-secret", map[string]any{"grace_seconds": 3600})
	stored := mustJSON(ts.must(200, "GET", "/v1/webhooks/"+id, nil)["secrets"])
	// Python's datetime.isoformat() and JavaScript's toISOString().
	python := func(v string) string {
		tm, _ := time.Parse(time.RFC3339Nano, v)
		return tm.Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000-07:00")
	}
	javascript := func(v string) string {
		tm, _ := time.Parse(time.RFC3339Nano, v)
		return tm.Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
	}
	// .NET's "o" format: seven digits; and a client keeping tenths.
	dotnet := func(v string) string {
		tm, _ := time.Parse(time.RFC3339Nano, v)
		return tm.Truncate(100 * time.Nanosecond).Format("2006-01-02T15:04:05.0000000Z07:00")
	}
	tenths := func(v string) string {
		tm, _ := time.Parse(time.RFC3339Nano, v)
		return tm.Truncate(100 * time.Millisecond).Format("2006-01-02T15:04:05.0Z07:00")
	}
	for name, conv := range map[string]func(string) string{"microseconds": python, "milliseconds": javascript, "seven digits": dotnet, "tenths": tenths} {
		entry := ts.must(200, "GET", "/v1/webhooks", nil)["webhooks"].([]any)[0].(map[string]any)
		for _, s := range entry["secrets"].([]any) {
			s := s.(map[string]any)
			for _, k := range []string{"created_at", "expires_at"} {
				if v, ok := s[k].(string); ok {
					s[k] = conv(v)
				}
			}
		}
		if name == "microseconds" && !strings.Contains(mustJSON(entry), `"created_at":"2026-03-01T12:00:00.123456+00:00"`) {
			t.Fatalf("the entry sent back: %s", mustJSON(entry))
		}
		r := ts.do("PUT", "/v1/webhooks/"+id, entry)
		if r.Status != 200 {
			t.Fatalf("PUT of the list entry with its dates in %s: %d %s", name, r.Status, r.Body)
		}
		if after := mustJSON(ts.must(200, "GET", "/v1/webhooks/"+id, nil)["secrets"]); after != stored {
			t.Errorf("after a PUT of the list entry with its dates in %s: secrets %s, want %s kept, dates to the nanosecond", name, after, stored)
		}
	}

	a := "whsec_" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("a", 32)))
	b := "whsec_" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("b", 32)))
	id = ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": "https://crm.example.com/in", "events": []string{"*"}, "disabled": true,
		"secrets": []any{
			map[string]any{"secret": a, "created_at": "2026-03-01T11:00:00.123456789Z"},
			map[string]any{"secret": b, "created_at": "2026-03-01T11:00:00.123999999Z"},
		}})["id"].(string)
	body := func(ca, cb string) map[string]any {
		return map[string]any{"url": "https://crm.example.com/in", "disabled": true, "secrets": []any{
			map[string]any{"secret": "[redacted]", "created_at": ca}, map[string]any{"secret": "[redacted]", "created_at": cb}}}
	}
	ts.must(200, "PUT", "/v1/webhooks/"+id, body("2026-03-01T11:00:00.123456Z", "2026-03-01T11:00:00.123999Z"))
	after := ts.must(200, "GET", "/v1/webhooks/"+id, nil)["secrets"].([]any)
	if after[0].(map[string]any)["secret"] != a || after[1].(map[string]any)["secret"] != b {
		t.Errorf("after a PUT with the dates in microseconds: %v, want A then B", after)
	}
	r := ts.do("PUT", "/v1/webhooks/"+id, body("2026-03-01T11:00:00.123Z", "2026-03-01T11:00:00.123Z"))
	if e := r.errorOf(t); r.Status != 422 || e["field"] != "secrets[0].secret" || !strings.Contains(e["message"].(string), "cannot be told") {
		t.Errorf("PUT with dates in milliseconds that fit both secrets: %d %s, want 422 on secrets[0].secret", r.Status, r.Body)
	}
}

// A signing secret past its expires_at signs no delivery and is no longer
// shown: GET /v1/webhooks/{id} listed it until the next rotation, for a
// receiver to check with a secret nothing signs with any more.
func TestExpiredSecretNotShown(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	var bodies [][]byte
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Header.Clone())
		bodies = append(bodies, b)
		mu.Unlock()
	}))
	defer hook.Close()
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	old, current := delivery.NewSecret(), delivery.NewSecret()
	expires := ts.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	id := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": hook.URL, "events": []string{"*"},
		"secrets": []any{map[string]any{"secret": old, "expires_at": expires}, map[string]any{"secret": current}}})["id"].(string)
	shown := func() (one, listed []any) {
		one = ts.must(200, "GET", "/v1/webhooks/"+id, nil)["secrets"].([]any)
		listed = ts.must(200, "GET", "/v1/webhooks", nil)["webhooks"].([]any)[0].(map[string]any)["secrets"].([]any)
		return one, listed
	}
	if one, listed := shown(); len(one) != 2 || len(listed) != 2 {
		t.Fatalf("before the expiry: %v and %v listed, want both secrets", one, listed)
	}

	ts.clock.Advance(2 * time.Hour)
	one, listed := shown()
	if len(one) != 1 || one[0].(map[string]any)["secret"] != current || len(listed) != 1 {
		t.Errorf("after the expiry: %v and %v listed, want the current secret alone", one, listed)
	}
	ts.must(200, "POST", "/v1/webhooks/"+id+"/test", nil)
	mu.Lock()
	defer mu.Unlock()
	// The test's request is the one marked test; the creation's ping is
	// delivered in the background, signed then with both secrets.
	i := slices.IndexFunc(bodies, func(b []byte) bool { return strings.Contains(string(b), `"test":true`) })
	if i < 0 {
		t.Fatalf("the receiver got no test request: %q", bodies)
	}
	if sig := got[i].Get(delivery.HeaderSignature); strings.Count(sig, "v1,") != 1 {
		t.Errorf("signatures %q, want one, the current secret's", sig)
	}
	if err := delivery.Verify([]string{current}, got[i], bodies[i], -1); err != nil {
		t.Errorf("not signed with the current secret: %v", err)
	}
	if err := delivery.Verify([]string{old}, got[i], bodies[i], -1); err == nil {
		t.Error("signed with the expired secret")
	}
}

package widgets_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// TestWebhookMaxResponseBytesHasAMaximum: max_response_bytes is at most 16
// MiB; more is refused, naming the widget and the field, except in a flow
// stored before, which loads held to the maximum.
func TestWebhookMaxResponseBytesHasAMaximum(t *testing.T) {
	flow := func(n string) []byte {
		return []byte(`{"name": "f", "widgets": [{"id": "h", "type": "webhook", "url": "https://example.com", "max_response_bytes": ` + n + `}]}`)
	}
	e := engine.New(widgets.Registered())
	for _, n := range []string{"0", "262144", "16777216"} {
		if _, err := e.Load(flow(n)); err != nil {
			t.Errorf("max_response_bytes %s: %v", n, err)
		}
	}
	want := `widget "h": widgets[0].max_response_bytes: 1000000000000 is over the maximum of 16777216 (16 MiB)`
	for _, n := range []string{"16777217", "1000000000000"} {
		_, err := e.Load(flow(n))
		if err == nil || !strings.Contains(err.Error(), "max_response_bytes: "+n+" is over the maximum of 16777216") || !strings.Contains(err.Error(), `widget "h"`) {
			t.Errorf("max_response_bytes %s: error %v, want %s", n, err, want)
		}
	}
	if _, err := e.LoadStored(flow("1000000000000")); err != nil {
		t.Errorf("a stored flow with more does not load: %v", err)
	}
}

// TestWebhookMappingNames: each mapping whose variable name makes no result
// key is reported at its own key, saying what is wrong with the name.
func TestWebhookMappingNames(t *testing.T) {
	e := engine.New(widgets.Registered())
	_, err := e.Load([]byte(`{"name": "f", "widgets": [{"id": "h", "type": "webhook", "url": "https://example.com",
	  "mappings": {"--": "b", "!!": "a", "": "c", "ok": "", "Fine Name": "d"}}]}`))
	var ve *flows.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v, want a validation error", err)
	}
	want := []string{
		`widget "h": widgets[0].mappings[""]: mapping to an empty variable name`,
		`widget "h": widgets[0].mappings["!!"]: variable name "!!" has no letters or digits to make a result key`,
		`widget "h": widgets[0].mappings["--"]: variable name "--" has no letters or digits to make a result key`,
		`widget "h": widgets[0].mappings.ok: empty JSON path`,
	}
	var got []string
	for _, fe := range ve.Errors {
		got = append(got, fe.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestWebhookClientHeadersRefused: a header the HTTP client writes itself
// (Content-Length, Transfer-Encoding, Connection ...) is refused, naming the
// widget and the header, except in a flow stored before, which loads and
// runs without it.
func TestWebhookClientHeadersRefused(t *testing.T) {
	flow := []byte(`{"name": "f", "widgets": [{"id": "h", "type": "webhook", "url": "https://example.com", "headers": {"Content-Length": "5"}}]}`)
	e := engine.New(widgets.Registered())
	want := `widget "h": widgets[0].headers.Content-Length: is written by the HTTP client itself`
	if _, err := e.Load(flow); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %s", err, want)
	}
	if _, err := e.LoadStored(flow); err != nil {
		t.Errorf("a stored flow with one does not load: %v", err)
	}
}

// TestWebhookAuthNeedsItsType: an auth that sets credentials without a
// type, which would call with no credentials, and a field the auth's type
// does not send are refused naming the field; an empty auth is none. A flow
// stored with either loads with the error as a warning and calls as before.
func TestWebhookAuthNeedsItsType(t *testing.T) {
	flow := func(auth string) []byte {
		return []byte(`{"name": "f", "widgets": [{"id": "h", "type": "webhook", "url": "https://example.com", "auth": ` + auth + `}]}`)
	}
	e := engine.New(widgets.Registered())
	tests := []struct{ auth, want string }{
		{`{"token": "s3cret"}`, `widget "h": widgets[0].auth.type: required when auth sets token: one of none, basic, bearer, oauth2_client_credentials or oauth2_password; without it the call would go out with no credentials`},
		{`{"username": "u", "password": "p"}`, `widget "h": widgets[0].auth.type: required when auth sets username, password: one of none, basic, bearer, oauth2_client_credentials or oauth2_password; without it the call would go out with no credentials`},
		{`{"type": "bearer", "token": "t", "encoding": "xml"}`, `widget "h": widgets[0].auth.encoding: bearer auth does not use encoding (it uses token)`},
		{`{"type": "basic", "username": "u", "client_id": "c"}`, `widget "h": widgets[0].auth.client_id: basic auth does not use client_id (it uses username, password)`},
	}
	for _, tc := range tests {
		_, err := e.Load(flow(tc.auth))
		var ve *flows.ValidationError
		if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Error() != tc.want {
			t.Errorf("auth %s: %v\nwant the one error %s", tc.auth, err, tc.want)
			continue
		}
		f, err := e.LoadStored(flow(tc.auth))
		if err != nil {
			t.Errorf("auth %s in a stored flow: %v", tc.auth, err)
			continue
		}
		if len(f.Warnings) != 1 || f.Warnings[0].Error() != tc.want {
			t.Errorf("auth %s in a stored flow: warnings %v, want the one %s", tc.auth, f.Warnings, tc.want)
		}
	}
	for _, auth := range []string{`{}`, `{"type": "none"}`, `{"type": "bearer", "token": "t"}`,
		`{"type": "oauth2_password", "client_id": "c", "username": "u", "password": "p", "token_url": "https://a.example.com/t", "encoding": "json", "scopes": ["x"]}`} {
		if _, err := e.Load(flow(auth)); err != nil {
			t.Errorf("auth %s: %v", auth, err)
		}
	}
}

// TestWebhookCategoryNames: categories names the result's category of the
// Success and Failure outcomes only, and a name may not be blank; each
// problem is reported at its own key.
func TestWebhookCategoryNames(t *testing.T) {
	e := engine.New(widgets.Registered())
	if _, err := e.Load([]byte(`{"name": "f", "widgets": [{"id": "h", "type": "webhook", "url": "https://example.com",
	  "categories": {"Success": "Succès", "Failure": "Échec"}}]}`)); err != nil {
		t.Fatalf("Success and Failure named: %v", err)
	}
	_, err := e.Load([]byte(`{"name": "f", "widgets": [{"id": "h", "type": "webhook", "url": "https://example.com",
	  "categories": {"Timeout": "Late", "Failure": " "}}]}`))
	var ve *flows.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v, want a validation error", err)
	}
	want := []string{
		`widget "h": widgets[0].categories.Failure: empty category name: leave "Failure" out for the category "Failure"`,
		`widget "h": widgets[0].categories.Timeout: categories names the category of the outcomes "Success" and "Failure", not of "Timeout"`,
	}
	var got []string
	for _, fe := range ve.Errors {
		got = append(got, fe.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestWebhookNullFieldsAreNotGiven: a field of the webhook widget given as
// JSON null is read as not given, as a configured webhook reads it: the
// flow loads without a problem or a warning, and its widget is the one
// without the field. A header, a mapping or a category given as null, and
// an element of scopes, are no fields, and are still refused.
func TestWebhookNullFieldsAreNotGiven(t *testing.T) {
	e := engine.New(widgets.Registered())
	load := func(fields string) (*widgets.Webhook, error) {
		f, err := e.Load([]byte(`{"name": "f", "widgets": [{"id": "h", "type": "webhook", "url": "https://example.com/x", ` + fields + `}]}`))
		if err != nil {
			return nil, err
		}
		if len(f.Warnings) > 0 {
			t.Errorf("%s: warnings %v", fields, f.Warnings)
		}
		return f.Widget("h").(*widgets.Webhook), nil
	}
	for _, c := range []struct{ null, absent string }{
		{`"webhook": null`, ``}, {`"method": null`, ``}, {`"content_type": null`, ``},
		{`"headers": null`, ``}, {`"auth": null`, ``}, {`"body_mode": null`, ``}, {`"body": null`, ``},
		{`"extra_json": null`, ``}, {`"include": null`, ``}, {`"timeout": null`, ``},
		{`"max_response_bytes": null`, ``}, {`"follow_redirects": null`, ``}, {`"retries": null`, ``},
		{`"retry_backoff_ms": null`, ``}, {`"retry_unsafe": null`, ``}, {`"result": null`, ``},
		{`"mappings": null`, ``}, {`"categories": null`, ``}, {`"name": null`, ``}, {`"description": null`, ``},
		{`"auth": {"type": "bearer", "token": "s", "username": null, "password": null, "client_id": null,
		  "client_secret": null, "token_url": null, "scopes": null, "audience": null, "encoding": null}`, `"auth": {"type": "bearer", "token": "s"}`},
		{`"auth": {"type": null, "token": null}`, `"auth": {}`},
		{`"include": {"call": true, "flow_keys": null, "user_keys": null}`, `"include": {"call": true}`},
	} {
		got, err := load(c.null + `, "exits": {}`)
		if err != nil {
			t.Errorf("%s: %v", c.null, err)
			continue
		}
		fields := `"exits": {}`
		if c.absent != "" {
			fields = c.absent + ", " + fields
		}
		want, err := load(fields)
		if err != nil {
			t.Fatalf("%s: %v", fields, err)
		}
		if !reflect.DeepEqual(got.WebhookConfig, want.WebhookConfig) || got.Webhook != want.Webhook || got.Result != want.Result ||
			len(got.Mappings) != len(want.Mappings) || len(got.Categories) != len(want.Categories) {
			t.Errorf("%s reads as %+v; want it read as %+v", c.null, got.WebhookConfig, want.WebhookConfig)
		}
	}
	for field, want := range map[string]string{
		`"headers": {"X-Api-Key": null}`:                             `widgets[0].headers.X-Api-Key: expected a string, got JSON null`,
		`"mappings": {"status": null}`:                               `widgets[0].mappings.status: expected a string, got JSON null`,
		`"categories": {"Success": null}`:                            `widgets[0].categories.Success: expected a string, got JSON null`,
		`"auth": {"type": "bearer", "token": "s", "scopes": [null]}`: `widgets[0].auth.scopes[0]: expected a string, got JSON null`,
		`"id": null`:   `widgets[0].id: expected a string, got JSON null`,
		`"note": null`: `widgets[0].note: expected a string, got JSON null`,
	} {
		if _, err := load(field); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v; want %s", field, err, want)
		}
	}
}

// TestWebhookHeaderGivenTwice: a header whose name a widget's headers give
// twice is refused, naming the widget and the header, instead of the last
// value going and the first being dropped in silence; a flow stored with
// one loads, with that as a warning, and sends the last as it did.
func TestWebhookHeaderGivenTwice(t *testing.T) {
	flow := []byte(`{"name": "f", "widgets": [{"id": "h", "type": "webhook", "url": "https://example.com",
	  "headers": {"Authorization": "Bearer one", "X-Tenant": "acme", "Authorization": "Bearer two", "Authorization": "Bearer three"}}]}`)
	e := engine.New(widgets.Registered())
	want := `widget "h": widgets[0].headers.Authorization: the name "Authorization" is given twice in its object; give each name once`
	_, err := e.Load(flow)
	var ve *flows.ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	f, err := e.LoadStored(flow)
	if err != nil {
		t.Fatalf("a stored flow with one does not load: %v", err)
	}
	if len(f.Warnings) != 1 || f.Warnings[0].Error() != want {
		t.Errorf("warnings %v, want %s", f.Warnings, want)
	}
	if h := f.Widget("h").(*widgets.Webhook).Headers["Authorization"]; h != "Bearer three" {
		t.Errorf("the stored flow sends %q, want the last value", h)
	}
	// Given once in each of two headers objects of the same widget, which
	// are read as one, is no repeat within an object.
	if _, err := e.Load([]byte(`{"name": "f", "widgets": [{"id": "h", "type": "webhook", "url": "https://example.com",
	  "headers": {"X-A": "1"}, "headers": {"X-A": "2"}, "extra_json": {"headers": {"a": 1, "a": 2}}}]}`)); err != nil {
		t.Errorf("headers objects given twice: %v", err)
	}
}

// TestWebhookNullAndHeaderGivenTwice: a widget with both a null and a
// header given twice has both reported, each at its path, whichever comes
// first; a null header given twice is both, and a null replaced by a later
// value of its name is no null.
func TestWebhookNullAndHeaderGivenTwice(t *testing.T) {
	e := engine.New(widgets.Registered())
	for headers, want := range map[string][]string{
		`"note": null, "headers": {"Authorization": "a", "Authorization": "b"}`: {
			`widgets[0].note: expected a string, got JSON null`,
			`widgets[0].headers.Authorization: the name "Authorization" is given twice in its object; give each name once`},
		`"headers": {"Authorization": "a", "X-Key": null, "Authorization": "b"}`: {
			`widgets[0].headers.X-Key: expected a string, got JSON null`,
			`widgets[0].headers.Authorization: the name "Authorization" is given twice in its object; give each name once`},
		`"headers": {"X-Key": "a", "X-Key": null}`: {
			`widgets[0].headers.X-Key: expected a string, got JSON null`,
			`widgets[0].headers.X-Key: the name "X-Key" is given twice in its object; give each name once`},
		`"headers": {"X-Key": null, "X-Key": "a"}`: {
			`widgets[0].headers.X-Key: the name "X-Key" is given twice in its object; give each name once`},
	} {
		_, err := e.Load([]byte(`{"name": "f", "widgets": [{"id": "h", "type": "webhook", "url": "https://example.com", ` + headers + `}]}`))
		var ve *flows.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: error %v, want %q", headers, err, want)
			continue
		}
		var got []string
		for _, fe := range ve.Errors {
			got = append(got, strings.TrimPrefix(fe.Error(), `widget "h": `))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: errors %q, want %q", headers, got, want)
		}
	}
}

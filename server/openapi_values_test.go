package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A configured webhook or subscription is answered within the document's
// enums whatever way the request wrote what the server takes: an auth that
// adds no credentials ("auth": {}, a type of "" or none) is left out, in
// the API and in a --webhooks file alike, and auth.encoding, read in any
// case, is answered in lower case.
func TestOpenAPIWebhookAuthAnsweredInEnums(t *testing.T) {
	file := filepath.Join(t.TempDir(), "webhooks.json")
	err := os.WriteFile(file, []byte(`{"webhooks":[
	  {"name":"file-empty","url":"https://api.example.com/a","auth":{}},
	  {"name":"file-oauth","url":"https://api.example.com/b","auth":{"type":"oauth2_client_credentials",
	    "client_id":"c","client_secret":"s","token_url":"https://auth.example.com/t","encoding":"JSON"}}]}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(c *Config) { c.WebhooksFile = file })
	sc := specChecker{t: t, doc: servedOpenAPI(t, ts)}

	for name, auth := range map[string]string{"empty": `{}`, "blank-type": `{"type":""}`, "none": `{"type":"none"}`, "none-blank": `{"type":"none","token":""}`} {
		r := ts.do("POST", "/v1/webhook-configs", `{"name":"`+name+`","url":"https://api.example.com/x","auth":`+auth+`}`)
		if r.Status != 201 {
			t.Fatalf("POST with auth %s: %d %s", auth, r.Status, r.Body)
		}
		if _, has := r.JSON(t)["auth"]; has {
			t.Errorf("POST with auth %s answered %s, want no auth", auth, r.Body)
		}
		sc.check(responseSchema("/v1/webhook-configs", "post", "201"), r.Body)
	}
	for _, enc := range []string{"JSON", "Json", "Form"} {
		r := ts.do("PUT", "/v1/webhook-configs/oauth-"+enc, `{"url":"https://api.example.com/x","auth":{"type":"oauth2_password",
		  "client_id":"c","username":"u","password":"p","token_url":"https://auth.example.com/t","encoding":"`+enc+`"}}`)
		if r.Status != 201 {
			t.Fatalf("PUT with encoding %s: %d %s", enc, r.Status, r.Body)
		}
		if got := r.JSON(t)["auth"].(map[string]any)["encoding"]; got != strings.ToLower(enc) {
			t.Errorf("PUT with encoding %s answered encoding %v, want %s", enc, got, strings.ToLower(enc))
		}
	}
	r := ts.do("GET", "/v1/webhook-configs", nil)
	sc.check(responseSchema("/v1/webhook-configs", "get", "200"), r.Body)
	for _, c := range r.JSON(t)["webhook_configs"].([]any) {
		c := c.(map[string]any)
		switch c["name"] {
		case "file-empty", "empty", "blank-type", "none", "none-blank":
			if _, has := c["auth"]; has {
				t.Errorf("listed %v, want no auth", c)
			}
		case "file-oauth":
			if got := c["auth"].(map[string]any)["encoding"]; got != "json" {
				t.Errorf("the file's encoding JSON is listed as %v, want json", got)
			}
		}
	}

	r = ts.do("POST", "/v1/webhooks", `{"url":"https://crm.example.com/hooks","auth":{"type":"oauth2_client_credentials",
	  "client_id":"c","client_secret":"s","token_url":"https://auth.example.com/t","encoding":"Json"}}`)
	if r.Status != 201 {
		t.Fatalf("POST /v1/webhooks: %d %s", r.Status, r.Body)
	}
	if got := r.JSON(t)["auth"].(map[string]any)["encoding"]; got != "json" {
		t.Errorf("a subscription with encoding Json answered %v, want json", got)
	}
	sc.check(responseSchema("/v1/webhooks", "post", "201"), r.Body)
	sc.check(responseSchema("/v1/webhooks", "get", "200"), ts.do("GET", "/v1/webhooks", nil).Body)
}

// A flow stored with "kind": "" (no kind: a messaging flow) is answered
// without it, within the document's enum of kinds.
func TestOpenAPIFlowEmptyKindLeftOut(t *testing.T) {
	ts := newTestServer(t, nil)
	sc := specChecker{t: t, doc: servedOpenAPI(t, ts)}
	ts.must(201, "POST", "/v1/flows", `{"id":"k","name":"K","kind":"","widgets":[{"id":"a","type":"send_message","text":"hi"}]}`)
	ts.must(200, "PUT", "/v1/flows/k", `{"kind":"","name":"K2","widgets":[{"id":"a","type":"send_message","text":"hi"}]}`)
	for _, rev := range []string{"1", "2"} {
		r := ts.do("GET", "/v1/flows/k?revision="+rev, nil)
		def := r.JSON(t)["definition"].(map[string]any)
		if _, has := def["kind"]; has {
			t.Errorf("revision %s: definition %v, want no kind", rev, def)
		}
		if r.JSON(t)["kind"] != "messaging" {
			t.Errorf("revision %s: %s, want kind messaging", rev, r.Body)
		}
		sc.check(responseSchema("/v1/flows/{id}", "get", "200"), r.Body)
	}
}

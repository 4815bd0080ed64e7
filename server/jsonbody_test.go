package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Every /v1 body is JSON: one that is not, sent as a form, a multipart
// body or XML, is refused naming the Content-Type it needs; a JSON body is
// read whatever its Content-Type says (curl -d sends a form's), and a
// byte-order mark before it is skipped.
func TestJSONBodies(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(counterFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"counter"}`)
	base := ts.listen()
	send := func(method, path, ctype, body string) response {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{Status: resp.StatusCode, Body: b}
	}
	msg := `{"from":"+15550001","text":"hi"}`
	for _, c := range []struct{ ctype, body string }{
		{"application/x-www-form-urlencoded", "from=%2B15550001&text=hi"},
		{"multipart/form-data; boundary=xx", "--xx\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\n+15550001\r\n--xx--\r\n"},
		{"text/xml", "<message><from>+15550001</from></message>"},
		{"text/plain", "from +15550001: hi"},
	} {
		r := send("POST", "/v1/channels/web/messages", c.ctype, c.body)
		e := r.errorOf(t)
		msg, _ := e["message"].(string)
		if r.Status != 400 || e["code"] != CodeBadRequest || e["field"] != "Content-Type" ||
			!strings.Contains(msg, "Content-Type application/json") || !strings.Contains(msg, strings.Fields(c.ctype)[0]) {
			t.Errorf("a %s body: %d %s, want 400 naming the Content-Type", c.ctype, r.Status, r.Body)
		}
	}
	for _, ctype := range []string{"", "application/json", "application/json; charset=utf-8", "Application/JSON",
		"application/vnd.api+json", "application/x-www-form-urlencoded", "text/plain"} {
		for _, body := range []string{msg, "\ufeff" + msg} {
			if r := send("POST", "/v1/channels/web/messages", ctype, body); r.Status != 200 {
				t.Errorf("a JSON body %.8q as %q: %d %s", body, ctype, r.Status, r.Body)
			}
		}
	}
	// The byte-order mark is skipped on every JSON body.
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/sessions", `{"flow":"counter"}`},
		{"POST", "/v1/webhook-configs", `{"name":"orders","url":"https://shop.example.com/orders"}`},
		{"PUT", "/v1/channels/web", `{"default_flow":"counter"}`},
		{"POST", "/v1/channels/web/messages/batch", `{"messages":[` + msg + `]}`},
	} {
		if r := send(c.method, c.path, "application/json", "\ufeff"+c.body); r.Status/100 != 2 {
			t.Errorf("%s %s with a byte-order mark: %d %s", c.method, c.path, r.Status, r.Body)
		}
	}
}

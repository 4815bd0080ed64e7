package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parleyhq/parley/internal/syncbuf"
	"github.com/parleyhq/parley/store"
)

// A configured webhook that an earlier version stored, and that this
// version's checks refuse, is checked when the server starts: the server
// starts, logs a line naming it, the field and what to do, shows its
// problems in the API, and fails calls through it (outcome failure, the
// webhook_called event naming the problem) without sending anything,
// until it is corrected. One that only fails a check added since, which
// calls were let pass, is shown with warnings and still called.
func TestStoredWebhookConfigCheckedAtStart(t *testing.T) {
	var got atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	defer target.Close()

	// The store as an earlier version left it: written directly, as the
	// API took it then.
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, DBFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string]string{
		// A password stored as the text [redacted] would be sent as such.
		"legacy": `{"name":"legacy","url":"` + target.URL + `/legacy","auth":{"type":"basic","username":"u","password":"[redacted]"}}`,
		// A header the HTTP client writes itself: refused today, and
		// calls go without it.
		"oldheader": `{"name":"oldheader","url":"` + target.URL + `/oldheader","headers":{"Connection":"close"}}`,
		"good":      `{"name":"good","url":"` + target.URL + `/good"}`,
	} {
		if err := st.PutConfig(context.Background(), store.Webhooks, name, []byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	var logs syncbuf.Buffer
	ts := newTestServer(t, func(c *Config) {
		c.DataDir = dir
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	base := ts.listen()
	for _, want := range []string{
		`level=ERROR msg="stored webhook configuration fails this version's checks: calls through it fail, sending nothing, until it is corrected" webhook=legacy field=auth.password problems="auth.password: [redacted] where no stored secret of this webhook fits: write the secret itself" fix="GET /v1/webhook-configs/legacy, correct auth.password and PUT it back (secrets shown as [redacted] are kept), or DELETE it"`,
		`level=WARN msg="stored webhook configuration fails checks added since it was stored: calls through it go as before" webhook=oldheader field=headers.Connection`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the start's log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "webhook=good") {
		t.Errorf("a configuration that passes the checks was logged:\n%s", logs.String())
	}

	call := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}

	// The API shows the problems and warnings, and nothing for the good one.
	_, legacy := call("GET", "/v1/webhook-configs/legacy", nil)
	if p, _ := legacy["problems"].([]any); len(p) != 1 || p[0].(map[string]any)["path"] != "auth.password" {
		t.Errorf("GET legacy: problems %v, want one naming auth.password", legacy["problems"])
	}
	_, old := call("GET", "/v1/webhook-configs/oldheader", nil)
	if w, _ := old["warnings"].([]any); len(w) != 1 || w[0].(map[string]any)["path"] != "headers.Connection" || old["problems"] != nil {
		t.Errorf("GET oldheader: problems %v, warnings %v; want one warning naming headers.Connection", old["problems"], old["warnings"])
	}
	if _, good := call("GET", "/v1/webhook-configs/good", nil); good["problems"] != nil || good["warnings"] != nil {
		t.Errorf("GET good: %v", good)
	}

	// A flow calling it takes Failure, with the event saying why, and
	// nothing reaches the target.
	flow := func(hook string) string {
		return `{"id":"f-` + hook + `","name":"call","widgets":[
 {"id":"call","type":"webhook","webhook":"` + hook + `","result":"R","exits":{"Success":"ok","Failure":"ko"}},
 {"id":"ok","type":"send_message","text":"ok","exits":{"Next":""}},
 {"id":"ko","type":"send_message","text":"failed","exits":{"Next":""}}]}`
	}
	for _, hook := range []string{"legacy", "oldheader"} {
		if code, m := call("POST", "/v1/flows", json.RawMessage(flow(hook))); code != 201 {
			t.Fatalf("create flow: %d %v", code, m)
		}
	}
	code, sess := call("POST", "/v1/sessions", map[string]any{"flow": "f-legacy", "contact": map[string]any{"urn": "tel:+15550100"}})
	if code != 201 {
		t.Fatalf("start: %d %v", code, sess)
	}
	if got.Load() != 0 {
		t.Errorf("the target got %d requests through the refused configuration", got.Load())
	}
	if texts := texts(sess); len(texts) != 1 || texts[0] != "failed" {
		t.Errorf("the session said %q, want the Failure exit's \"failed\"", texts)
	}
	_, evs := call("GET", "/v1/sessions/"+sess["id"].(string)+"/events", nil)
	var called map[string]any
	for _, e := range evs["events"].([]any) {
		if e := e.(map[string]any); e["type"] == "webhook_called" {
			called = e
		}
	}
	wantErr := `webhook "legacy", as stored, fails this version's checks and is not called: auth.password: [redacted] where no stored secret of this webhook fits: write the secret itself; correct it with PUT /v1/webhook-configs/legacy (or delete it)`
	if called == nil || called["outcome"] != "failure" || called["message"] != wantErr {
		t.Errorf("webhook_called event %v, want outcome failure and message %q", called, wantErr)
	}
	// A widget that gives a name of its own calls the same configuration.
	renamed := strings.Replace(flow("legacy"), `"webhook":"legacy",`, `"webhook":"legacy","name":"other",`, 1)
	renamed = strings.Replace(renamed, `"id":"f-legacy"`, `"id":"f-renamed"`, 1)
	if code, m := call("POST", "/v1/flows", json.RawMessage(renamed)); code != 201 {
		t.Fatalf("create flow: %d %v", code, m)
	}
	if code, m := call("POST", "/v1/sessions", map[string]any{"flow": "f-renamed", "contact": map[string]any{"urn": "tel:+15550103"}}); code != 201 || texts(m)[0] != "failed" || got.Load() != 0 {
		t.Errorf("through legacy, the widget naming it other: %d %v, target got %d requests", code, m, got.Load())
	}
	if code, res := call("POST", "/v1/webhook-configs/legacy/test", nil); code != 200 || res["outcome"] != "failure" || res["error"] != wantErr || got.Load() != 0 {
		t.Errorf("test of legacy: %d %v (target got %d requests)", code, res, got.Load())
	}

	// The warned one is called as before.
	if code, m := call("POST", "/v1/sessions", map[string]any{"flow": "f-oldheader", "contact": map[string]any{"urn": "tel:+15550101"}}); code != 201 || texts(m)[0] != "ok" || got.Load() != 1 {
		t.Errorf("through oldheader: %d %v, target got %d requests", code, m, got.Load())
	}

	// Corrected with a PUT of what GET showed, the password given, it is
	// called again and shows no problems.
	legacy["auth"].(map[string]any)["password"] = "pw-1"
	if code, m := call("PUT", "/v1/webhook-configs/legacy", legacy); code != 200 || m["problems"] != nil {
		t.Fatalf("PUT legacy corrected: %d %v", code, m)
	}
	if code, m := call("POST", "/v1/sessions", map[string]any{"flow": "f-legacy", "contact": map[string]any{"urn": "tel:+15550102"}}); code != 201 || texts(m)[0] != "ok" || got.Load() != 2 {
		t.Errorf("through legacy corrected: %d %v, target got %d requests", code, m, got.Load())
	}
}

package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// A flow's webhook must not call the server that runs it, even where
// --allow-cidr allows its address: /v1 would answer it without a key. The
// demo order service on the same address is answered in process, and other
// services on the allowed network stay reachable.
func TestWebhookToOwnAddressRefused(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	base := ts.listen()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"from":"other"}`))
	}))
	defer other.Close()
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/sessions", `{"flow":"ask","contact":{"urn":"tel:+1555000"}}`)

	for i, c := range []struct {
		url, want string
	}{
		{base + "/v1/sessions?limit=2", "failed blocked"},
		{base + "/v1/flows", "failed blocked"},
		{strings.Replace(base, "127.0.0.1", "localhost", 1) + "/v1/keys", "failed blocked"},
		{base + "/demo/order-status?text=CU001", "answered Shipped"},
		{other.URL + "/lookup", "answered other"},
	} {
		t.Run(c.url, func(t *testing.T) {
			id := fmt.Sprintf("self%d", i)
			ts.createFlow(`{"id":"` + id + `","name":"Self","widgets":[
 {"id":"hook","type":"webhook","method":"GET","url":"` + c.url + `","result":"Call","exits":{"Success":"ok","Failure":"ko"}},
 {"id":"ok","type":"send_message","text":"answered @extra.status@extra.from"},
 {"id":"ko","type":"send_message","text":"failed @flow.call.category"}]}`)
			r := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": id})
			got := texts(r)
			want := c.want
			if strings.HasPrefix(want, "failed") {
				want = "failed Failure"
			}
			if len(got) != 1 || got[0] != want {
				t.Fatalf("reply %v, want %q", got, want)
			}
			if !strings.HasPrefix(c.want, "failed") {
				return
			}
			evs := ts.must(200, "GET", "/v1/sessions/"+r["id"].(string)+"/events", nil)
			var call map[string]any
			for _, e := range evs["events"].([]any) {
				if e := e.(map[string]any); e["type"] == "webhook_called" {
					call = e
				}
			}
			if call == nil {
				t.Fatalf("no webhook_called event: %v", evs)
			}
			b, _ := json.Marshal(call)
			s := string(b)
			if !strings.Contains(s, `"outcome":"blocked"`) || !strings.Contains(s, "this server's own listen address") {
				t.Errorf("webhook_called event %s, want outcome blocked naming the server's own address", s)
			}
		})
	}
}

// Event deliveries must not post to the server that sends them either, even
// where --allow-cidr allows its address.
func TestDeliveryToOwnAddressRefused(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	base := ts.listen()
	keys := len(ts.must(200, "GET", "/v1/keys", nil)["keys"].([]any))
	sub := ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": base + "/v1/keys", "events": []string{"*"}})
	id := sub["id"].(string)
	ts.must(202, "POST", "/v1/webhooks/"+id+"/ping", nil)
	var d map[string]any
	eventually(t, "the ping's first attempt", func() bool {
		page := ts.must(200, "GET", "/v1/webhooks/"+id+"/deliveries", nil)["data"].([]any)
		if len(page) == 0 {
			return false
		}
		d = page[0].(map[string]any)
		n, _ := d["attempts"].(float64)
		return n >= 1
	})
	if e, _ := d["last_error"].(string); !strings.Contains(e, "this server's own listen address") {
		t.Errorf("delivery %v, want its error naming the server's own address", d)
	}
	if n := len(ts.must(200, "GET", "/v1/keys", nil)["keys"].([]any)); n != keys {
		t.Errorf("%d keys after the delivery, want %d: it reached /v1", n, keys)
	}
}

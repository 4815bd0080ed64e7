package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestRapidProKeywordTriggerEndToEnd imports an export with a keyword
// trigger over HTTP, configures a channel with the trigger the import
// report gives, and a message starting with the keyword starts the flow,
// as it did in RapidPro.
func TestRapidProKeywordTriggerEndToEnd(t *testing.T) {
	export, err := os.ReadFile("../rapidpro/testdata/triggers.json")
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, nil)
	var ln net.Listener
	for port := 24100; port < 24200 && ln == nil; port++ {
		ln, _ = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	}
	if ln == nil {
		t.Fatal("no free port in 127.0.0.1:24100-24199")
	}
	go func() { _ = ts.srv.App().Listener(ln) }()
	base := "http://" + ln.Addr().String()
	call := func(method, path string, body []byte, want int) map[string]any {
		t.Helper()
		req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, raw)
		}
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
		return out
	}

	created := call("POST", "/v1/flows", export, 201)
	report, _ := json.Marshal(created["report"])
	// The report's line for the keyword trigger gives the channel's trigger.
	m := regexp.MustCompile(`add (\{\\"keyword\\":\\"join\\"[^}]*\}) to the channel`).FindSubmatch(report)
	if m == nil {
		t.Fatalf("no trigger to add for the keyword join in the report: %s", report)
	}
	var trigger map[string]string
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(m[1]), `\"`, `"`)), &trigger); err != nil {
		t.Fatal(err)
	}
	channel, _ := json.Marshal(map[string]any{"id": "sms", "triggers": []any{trigger}})
	call("POST", "/v1/channels", channel, 201)

	msg := []byte(`{"from": "tel:+12065551212", "text": "JOIN please", "id": "m1"}`)
	got, _ := json.Marshal(call("POST", "/v1/channels/sms/messages", msg, 200)["messages"])
	if !strings.Contains(string(got), "Welcome") {
		t.Errorf("a message starting with the keyword got %s, want the flow's welcome", got)
	}
	other := []byte(`{"from": "tel:+12065551213", "text": "hello", "id": "m2"}`)
	if got, _ := json.Marshal(call("POST", "/v1/channels/sms/messages", other, 200)["messages"]); strings.Contains(string(got), "Welcome") {
		t.Errorf("a message without the keyword started the flow: %s", got)
	}
}

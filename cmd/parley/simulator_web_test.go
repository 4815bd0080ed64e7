package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/parleyhq/parley/server"
)

// TestWebSimulatorMatchesSimulate: the web simulator's API and parley
// simulate give the same transcript for a flow that reads its contact's
// URN, and its webhook receives the same path and body: the flow sees the
// URN the author gave in both.
func TestWebSimulatorMatchesSimulate(t *testing.T) {
	var mu sync.Mutex
	var got []string // each call's path and body's contact URN
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Contact struct{ URN string } `json:"contact"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		mu.Lock()
		got = append(got, r.URL.Path+" "+body.Contact.URN)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"path": "`+r.URL.Path+`"}`)
	}))
	defer crm.Close()
	flow := `{"id": "whoami", "name": "Who am I", "widgets": [
	 {"id": "say", "type": "send_message", "text": "urn=@contact.urn tel=@contact.tel fmt=@(format_tel(contact.urn))", "exits": {"Next": "hook"}},
	 {"id": "hook", "type": "webhook", "method": "POST", "url": "` + crm.URL + `/crm/@contact.tel", "exits": {"Success": "ok", "Failure": "ko"}},
	 {"id": "ok", "type": "send_message", "text": "called @extra.path", "exits": {"Next": ""}},
	 {"id": "ko", "type": "send_message", "text": "call failed", "exits": {"Next": ""}}]}`
	const urn = "tel:+12065551212"
	want := []string{"urn=tel:+12065551212 tel=+12065551212 fmt=(206) 555-1212", "called /crm/+12065551212"}

	file := writeFile(t, t.TempDir(), "whoami.json", flow)
	code, stdout, stderr := parley(t, "", "simulate", "--urn", urn, "--allow-cidr", "127.0.0.1/32", file)
	if code != 0 {
		t.Fatalf("simulate: exit %d: %s", code, stderr)
	}
	terminal := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if strings.Join(terminal, "|") != strings.Join(want, "|") {
		t.Fatalf("parley simulate said %q, want %q", terminal, want)
	}

	base := serveForTest(t, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	body, _ := json.Marshal(map[string]any{"definition": json.RawMessage(flow), "contact": map[string]any{"urn": urn}})
	resp, err := http.Post(base+"/v1/simulator/sessions", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var reply struct {
		Messages []struct{ Text string } `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil || resp.StatusCode != 201 {
		t.Fatalf("POST /v1/simulator/sessions: %d (%v)", resp.StatusCode, err)
	}
	var web []string
	for _, m := range reply.Messages {
		web = append(web, m.Text)
	}
	if strings.Join(web, "|") != strings.Join(terminal, "|") {
		t.Errorf("the web simulator said %q, parley simulate %q", web, terminal)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "/crm/+12065551212 "+urn || got[1] != got[0] {
		t.Errorf("webhook calls (path, contact URN) = %q, want both /crm/+12065551212 with %s", got, urn)
	}
}

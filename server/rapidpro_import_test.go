package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/rapidprodata"
)

// TestRapidProOrderStatusEndToEnd imports RapidPro's Order Status Checker
// export through POST /v1/flows and runs it against the built-in demo order
// service: its webhook (https://textit.in/demo/status/) is pointed at
// /demo/order-status on import.
func TestRapidProOrderStatusEndToEnd(t *testing.T) {
	dir := rapidprodata.Dir()
	if dir == "" {
		t.Skip("RapidPro test data (shared/testdata/rapidpro beside the repository) is absent")
	}
	export, err := os.ReadFile(filepath.Join(dir, "migrate_to_11_8.json"))
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, nil)
	created := ts.must(201, "POST", "/v1/flows", export)
	list, _ := created["flows"].([]any)
	if len(list) == 0 {
		t.Fatalf("no flow imported: %v", created)
	}
	first, _ := list[0].(map[string]any)
	id, _ := first["id"].(string)
	if id == "" {
		t.Fatalf("imported flow has no id: %v", first)
	}
	if _, ok := created["report"]; !ok {
		t.Errorf("the answer has no import report: %v", created)
	}

	start := ts.must(201, "POST", "/v1/sessions", map[string]any{
		"flow": id, "contact": map[string]any{"urn": "tel:+12065551212", "name": "Ben Haggerty"},
	})
	if got := strings.Join(texts(start), "\n"); !strings.Contains(got, "ThriftShop order status system") {
		t.Fatalf("first message: %q", got)
	}
	sid, _ := start["id"].(string)
	reply := ts.must(200, "POST", "/v1/sessions/"+sid+"/resume", map[string]any{"text": "CU001"})
	got := strings.Join(texts(reply), "\n")
	if !strings.Contains(got, "Great news") || !strings.Contains(got, "shipped your order") {
		t.Fatalf("reply to CU001: %q", got)
	}
	view := ts.must(200, "GET", "/v1/sessions/"+sid, nil)
	vars, _ := view["variables"].(map[string]any)
	flow, _ := vars["flow"].(map[string]any)
	lookup, _ := flow["lookup"].(map[string]any)
	if lookup["value"] != "Shipped" {
		t.Errorf("@flow.lookup = %v, want Shipped (from the demo service's @extra.status)", flow["lookup"])
	}
}

package server

import (
	"testing"

	"go.etcd.io/bbolt"
)

// A simulated session's webhook mocks are kept while it runs and dropped once
// it ends.
func TestSandboxMocksDroppedWhenSessionEnds(t *testing.T) {
	s := simServer(t)
	shipped := map[string]any{"status": 200, "body": map[string]any{"status": "Shipped", "name": "Ben", "order": "CU001"}}
	_, out := call(t, s, "POST", "/v1/simulator/sessions", map[string]any{"flow": "order-status", "mocks": map[string]any{"lookup": shipped}})
	id, _ := out["id"].(string)
	stored := func() bool {
		var found bool
		_ = s.simMocks.db.View(func(tx *bbolt.Tx) error {
			found = tx.Bucket(bSandboxMocks).Get([]byte(id)) != nil
			return nil
		})
		return found
	}
	if !stored() {
		t.Fatal("the mocks of a running simulated session are not stored")
	}
	// CU001, then the comment: the flow completes.
	for _, text := range []string{"CU001", "leave it at the door"} {
		if status, out := call(t, s, "POST", "/v1/sessions/"+id+"/resume", map[string]any{"text": text}); status != 200 {
			t.Fatalf("resume %q: %d %v", text, status, out)
		}
	}
	if _, out := call(t, s, "GET", "/v1/sessions/"+id, nil); out["status"] != "completed" {
		t.Fatalf("session status %v, want completed", out["status"])
	}
	if stored() {
		t.Error("the mocks of an ended simulated session are still stored")
	}
}

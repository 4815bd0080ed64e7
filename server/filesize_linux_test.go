package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestStoreFileSizeLimit: a turn whose write needs the store file to grow
// past the file size limit (ulimit -f) answers 507 naming the limit and
// saying nothing was written, not a bare 500; /healthz names it too.
func TestStoreFileSizeLimit(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	base := ts.listen()
	fi, err := os.Stat(filepath.Join(ts.srv.cfg.DataDir, "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(fi.Size()), Max: old.Max}); err != nil {
		t.Skipf("cannot set the file size limit: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old) })

	big := make([]byte, 300<<10)
	rand.Read(big)
	body, _ := json.Marshal(map[string]any{"flow": "ask", "contact": map[string]any{"urn": "tel:+15550101", "fields": map[string]any{"notes": hex.EncodeToString(big)}}})
	get := func(method, path string, body []byte) (int, http.Header, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m struct{ Error map[string]any }
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, resp.Header, m.Error
	}
	// The file has room for some starts first: each takes new pages until
	// it has to grow.
	status, hdr, e := 0, http.Header(nil), map[string]any(nil)
	for i := 0; i < 200; i++ {
		if status, hdr, e = get("POST", "/v1/sessions", body); status != http.StatusCreated {
			break
		}
	}
	if status != http.StatusInsufficientStorage || e["code"] != CodeDiskFull || e["message"] !=
		"the store file has reached the file size limit (ulimit -f, or the file system's largest file): file too large; nothing was written, retry once the limit is raised" {
		t.Errorf("a turn past the file size limit: %d %v, want 507 naming the limit", status, e)
	}
	if ra := hdr.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}
	status, _, e = get("GET", "/healthz", nil)
	if msg, _ := e["message"].(string); status != http.StatusServiceUnavailable || e["code"] != CodeDiskFull ||
		!strings.HasSuffix(msg, ": the store file has reached the file size limit (ulimit -f, or the file system's largest file): file too large") {
		t.Errorf("/healthz past the file size limit: %d %v, want 503 naming the limit", status, e)
	}
}

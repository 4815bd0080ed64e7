package server

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStoreFileRestoredWhileServing: a backup put in the place of a
// running server's store file, moved there or copied over it, is noticed:
// /healthz answers 503 saying the file was replaced, turns are refused, and
// none of these answers has a Retry-After, since no retry succeeds before
// the server is restarted; and
// the server writes nothing into the file now there, so that once it is
// restarted it serves the backup whole.
func TestStoreFileRestoredWhileServing(t *testing.T) {
	restores := map[string]func(t *testing.T, path string, backup []byte){
		"moved into place": func(t *testing.T, path string, backup []byte) {
			tmp := path + ".restore"
			if err := os.WriteFile(tmp, backup, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		},
		// Written in place without first cutting the file short (as dd
		// conv=notrunc writes): cp truncates the file first, and a read of
		// the server's memory map in that moment stops it with a bus error
		// (docs/storage.md), which a test cannot wait out.
		"written over it": func(t *testing.T, path string, backup []byte) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(backup, 0); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, restore := range restores {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			ts := newTestServer(t, func(c *Config) { c.DataDir = dir })
			ts.createFlow(askFlow)
			start := func(urn string) response {
				return ts.do("POST", "/v1/sessions", map[string]any{"flow": "ask", "contact": map[string]any{"urn": urn}})
			}
			if r := start("tel:+15550100"); r.Status != http.StatusCreated {
				t.Fatalf("start before the backup: %d %s", r.Status, r.Body)
			}
			r := ts.do("GET", "/v1/backup", nil)
			if r.Status != http.StatusOK {
				t.Fatalf("GET /v1/backup: %d %s", r.Status, r.Body)
			}
			backup := r.Body
			if r := start("tel:+15550101"); r.Status != http.StatusCreated {
				t.Fatalf("start after the backup: %d %s", r.Status, r.Body)
			}

			path := filepath.Join(dir, DBFile)
			restore(t, path, backup)
			// The file as restored: the backup, and past it, when written over
			// a longer file, the rest of that file (pages beyond the backup's
			// last, which bbolt does not read).
			restored, err := os.ReadFile(path)
			if err != nil || !bytes.HasPrefix(restored, backup) {
				t.Fatalf("the restore did not put the backup in place (%v)", err)
			}

			r = ts.do("GET", "/healthz", nil)
			if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "replaced or overwritten while the server had it open") {
				t.Errorf("/healthz after the restore: %d %s, want 503 saying the store file was replaced", r.Status, r.Body)
			}
			noRetryAfter := func(what string, r response) {
				t.Helper()
				if v := r.Header.Get("Retry-After"); v != "" {
					t.Errorf("%s: Retry-After %q, want none (no retry succeeds before a restart)", what, v)
				}
			}
			noRetryAfter("/healthz after the restore", r)
			for i, urn := range []string{"tel:+15550102", "tel:+15550103"} {
				r = start(urn)
				if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), CodeUnavailable) {
					t.Errorf("start %d after the restore: %d %s, want 503 %s", i+1, r.Status, r.Body, CodeUnavailable)
				}
				noRetryAfter("a start after the restore", r)
			}
			r = ts.do("POST", "/v1/channels", map[string]any{"id": "late", "default_flow": "ask"})
			if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "replaced") {
				t.Errorf("a channel created after the restore: %d %s, want 503 saying the store file was replaced", r.Status, r.Body)
			}
			noRetryAfter("a channel created after the restore", r)
			if err := ts.srv.Shutdown(t.Context()); err != nil {
				t.Logf("Shutdown: %v", err)
			}
			if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, restored) {
				t.Fatalf("the restored file was written to by the server it was put under (%d bytes, as restored %d; %v)", len(got), len(restored), err)
			}

			// Started again, the server serves the backup: what was stored
			// before it, not what came after.
			ts = newTestServer(t, func(c *Config) { c.DataDir = dir })
			ts.must(http.StatusOK, "GET", "/healthz", nil)
			for urn, want := range map[string]int{"tel:%2B15550100": 1, "tel:%2B15550101": 0, "tel:%2B15550102": 0} {
				got := ts.must(http.StatusOK, "GET", "/v1/sessions?contact="+urn, nil)["sessions"].([]any)
				if len(got) != want {
					t.Errorf("after the restart, %d sessions of %s, want %d", len(got), urn, want)
				}
			}
		})
	}
}

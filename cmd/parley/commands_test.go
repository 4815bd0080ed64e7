package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/server"
	"github.com/parleyhq/parley/store"
)

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestImportRapidPro converts an export into flow files that validate, with
// a report naming what was rewritten and what is not delivered.
func TestImportRapidPro(t *testing.T) {
	root := sharedTestdata(t)
	out := t.TempDir()
	code, stdout, stderr := runCmd(t, "", "import", "rapidpro", filepath.Join(root, "migrate_to_11_8.json"), "-o", out,
		"--rewrite-url", "https://textit.in/demo/status/=http://127.0.0.1:8080/demo/order-status")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.json"))
	if len(files) != 1 {
		t.Fatalf("wrote %v", files)
	}
	for _, want := range []string{"wrote ", "rewritten to http://127.0.0.1:8080/demo/order-status", "not delivered"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	data, _ := os.ReadFile(files[0])
	if strings.Contains(string(data), "textit.in") || !strings.Contains(string(data), "127.0.0.1:8080/demo/order-status") {
		t.Errorf("the converted flow kept the old URL")
	}
	if code, _, stderr := runCmd(t, "", "validate", files[0]); code != 0 {
		t.Errorf("validate the imported flow: exit %d: %s", code, stderr)
	}

	// The IVR export, which records the caller, imports and validates.
	ivrOut := t.TempDir()
	code, stdout, stderr = runCmd(t, "", "import", "rapidpro", filepath.Join(root, "ivr.json"), "-o", ivrOut)
	if code != 0 || strings.Contains(stdout, "error") {
		t.Errorf("ivr.json: exit %d, output %q %q", code, stdout, stderr)
	}
	if code, _, stderr := runCmd(t, "", "validate", filepath.Join(ivrOut, "ivr_flow.json")); code != 0 {
		t.Errorf("validate the imported IVR flow: exit %d: %s", code, stderr)
	}

	// An export with constructs Parley cannot run fails with a precise line.
	airtime := writeFile(t, t.TempDir(), "airtime.json", `{"version": "11.9", "flows": [{"version": "11.9", "base_language": "base", "flow_type": "M",
	 "metadata": {"uuid": "11111111-1111-4111-8111-111111111111", "name": "Top Up"}, "entry": "r1", "action_sets": [],
	 "rule_sets": [{"uuid": "r1", "ruleset_type": "airtime", "label": "Airtime", "operand": "@step.value", "config": {},
	  "rules": [{"uuid": "x1", "category": {"base": "All Responses"}, "destination": null, "test": {"type": "true"}}]}]}]}`)
	code, stdout, _ = runCmd(t, "", "import", "rapidpro", airtime, "-o", t.TempDir())
	if code != 1 || !strings.Contains(stdout, "airtime transfers are not supported") {
		t.Errorf("airtime export: exit %d, output %q", code, stdout)
	}
	// Not an export at all.
	code, _, stderr = runCmd(t, "", "import", "rapidpro", "../../examples/order-status/flow.json")
	if code != 2 || !strings.Contains(stderr, "not a RapidPro export") {
		t.Errorf("plain flow: exit %d, %q", code, stderr)
	}
}

// TestWebhookTestCommand sends one request of a configured webhook built from
// sample variables and prints the exchange with the secret redacted.
func TestWebhookTestCommand(t *testing.T) {
	var got struct {
		Auth, Path, Query string
		Body              map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Auth, got.Path, got.Query = r.Header.Get("Authorization"), r.URL.Path, r.URL.RawQuery
		_ = json.NewDecoder(r.Body).Decode(&got.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"Shipped"}`))
	}))
	defer srv.Close()
	hooks := filepath.Join(t.TempDir(), "hooks.json")
	cfg := `{"webhooks":[{"name":"orders","url":"` + srv.URL + `/orders?id=@flow.order","method":"POST",
	  "auth":{"type":"bearer","token":"tok-s3cret"}}]}`
	if err := os.WriteFile(hooks, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd(t, "", "webhook", "test", "orders", "--webhooks", hooks, "--var", "order=CU 001", "--allow-cidr", "127.0.0.0/8")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	if got.Auth != "Bearer tok-s3cret" || got.Path != "/orders" || (got.Query != "id=CU+001" && got.Query != "id=CU%20001") {
		t.Errorf("server saw auth %q path %q query %q", got.Auth, got.Path, got.Query)
	}
	if results, _ := got.Body["results"].(map[string]any); results["order"] == nil {
		t.Errorf("default body lacks the sample variable: %v", got.Body)
	}
	if strings.Contains(stdout, "tok-s3cret") {
		t.Errorf("the secret was printed:\n%s", stdout)
	}
	for _, want := range []string{"POST " + srv.URL, "200 OK", "Shipped", "success"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// Without the allowlist the loopback receiver is refused.
	code, stdout, _ = runCmd(t, "", "webhook", "test", "orders", "--webhooks", hooks)
	if code == 0 || !strings.Contains(stdout, "blocked") {
		t.Errorf("loopback without --allow-cidr: exit %d, %q", code, stdout)
	}
	// An unknown name is a clear error.
	code, _, stderr = runCmd(t, "", "webhook", "test", "nope", "--webhooks", hooks)
	if code != 2 || !strings.Contains(stderr, `no webhook named "nope"`) {
		t.Errorf("unknown name: exit %d, %q", code, stderr)
	}
	// A missing --webhooks or name is named, before the usage.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"orders"}, "parley webhook test: --webhooks FILE is required"},
		{[]string{"--webhooks", hooks}, "parley webhook test: the webhook NAME is missing"},
		{[]string{"orders", "more", "--webhooks", hooks}, `parley webhook test: one webhook NAME expected, got 2 ("orders" "more")`},
	} {
		code, _, stderr = runCmd(t, "", append([]string{"webhook", "test"}, c.args...)...)
		if code != 2 || !strings.HasPrefix(stderr, c.want) || !strings.Contains(stderr, "Usage: parley webhook test") {
			t.Errorf("webhook test %v: exit %d, %q; want 2 and %q with the usage", c.args, code, stderr, c.want)
		}
	}
}

// parley webhook test sends the contact a real message of the --urn would
// make: the URN normal as the server keeps it; and one with an invisible
// character is refused naming the flag, as parley simulate refuses it.
func TestWebhookTestCommandURN(t *testing.T) {
	var sent struct {
		Contact struct{ URN string }
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&sent)
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	hooks := filepath.Join(t.TempDir(), "hooks.json")
	if err := os.WriteFile(hooks, []byte(`{"webhooks":[{"name":"crm","url":"`+srv.URL+`/crm","method":"POST"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd(t, "", "webhook", "test", "crm", "--webhooks", hooks, "--allow-cidr", "127.0.0.0/8", "--urn", " TEL:+1 (555) 010-0100")
	if code != 0 || sent.Contact.URN != "tel:+15550100100" {
		t.Errorf("exit %d, contact URN sent %q; want 0 and tel:+15550100100\n%s%s", code, sent.Contact.URN, stdout, stderr)
	}
	sent.Contact.URN = ""
	for _, args := range [][]string{
		{"webhook", "test", "crm", "--webhooks", hooks, "--allow-cidr", "127.0.0.0/8", "--urn", "tel:+1555\n0100"},
		{"simulate", "--urn", "tel:+1555\n0100", "../../examples/order-status/flow.json"},
	} {
		code, stdout, stderr = runCmd(t, "hi\n", args...)
		want := "parley simulate"
		if args[0] == "webhook" {
			want = "parley webhook test"
		}
		want += `: --urn: the URN "tel:+1555\n0100" holds the invisible character U+000A at byte 9: write the URN without it`
		if code != 2 || !strings.HasPrefix(stderr, want) || stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 2 and %q", args[0], code, stdout, stderr, want)
		}
	}
	if sent.Contact.URN != "" {
		t.Errorf("the refused URN was sent: %q", sent.Contact.URN)
	}
}

// parley compact shrinks a stopped server's store file, keeps what it
// holds, and refuses a file a server has open.
func TestCompactCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, server.DBFile)
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := store.SeedWaiting(ctx, st, 0, 2000, 0, func(i int) *flows.Session { return store.SampleSession(i, now) }); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 2000; i++ {
		if err := st.DeleteSession(ctx, store.SampleSession(i, now).ID); err != nil {
			t.Fatal(err)
		}
	}

	var out, errOut bytes.Buffer
	// The directory given as an argument, not with --data: said so.
	if code := run(ctx, []string{"compact", dir}, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `unexpected argument "`+dir+`": give the data directory with --data`) {
		t.Errorf("compact DIR: exit %d, %s", code, errOut.String())
	}
	errOut.Reset()
	if code := run(ctx, []string{"compact", "--data", dir}, nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "in use") {
		t.Fatalf("compact with the store open: exit %d, %s", code, errOut.String())
	}
	st.Close()
	before, _ := os.Stat(path)

	out.Reset()
	errOut.Reset()
	if code := run(ctx, []string{"compact", "--data", dir, "--no-backup"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	after, _ := os.Stat(path)
	if after.Size()*2 > before.Size() || !strings.Contains(out.String(), " → ") || !strings.Contains(out.String(), "; 1 sessions, 0 event log values and 2000 contacts decoded;") {
		t.Errorf("%d → %d bytes; output %q", before.Size(), after.Size(), out.String())
	}
	if _, err := os.Stat(path + store.BackupSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--no-backup left %s: %v", path+store.BackupSuffix, err)
	}
	st, err = store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if s, err := st.LoadSession(ctx, store.SampleSession(0, now).ID); err != nil || s.Status != flows.StatusWaiting {
		t.Fatalf("the kept session after compaction: %v %v", s, err)
	}
}

// parley compact with a --data (or PARLEY_DATA) that holds no store file,
// a mistyped directory for one, says so naming the flag or variable, and
// makes nothing there.
func TestCompactNoStoreFile(t *testing.T) {
	ctx := context.Background()
	empty := t.TempDir()
	missing := filepath.Join(t.TempDir(), "parley-dat")
	cases := []struct {
		name, env string
		args      []string
		want      string
	}{
		{"an empty directory", "", []string{"compact", "--data", empty},
			"parley compact: --data " + empty + ": there is no store file " + filepath.Join(empty, server.DBFile) + " (no such file or directory): give the data directory of the stopped server"},
		{"a directory that is not there", "", []string{"compact", "--data", missing},
			"parley compact: --data " + missing + ": there is no store file " + filepath.Join(missing, server.DBFile)},
		{"from PARLEY_DATA", missing, []string{"compact"},
			"parley compact: PARLEY_DATA " + missing + ": there is no store file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(server.EnvData, tc.env)
			var out, errOut bytes.Buffer
			if code := run(ctx, tc.args, nil, &out, &errOut); code != 2 || !strings.HasPrefix(errOut.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut.String(), tc.want)
			}
		})
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("compact made %s: %v", missing, err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) > 0 {
		t.Errorf("compact left %v in the empty directory", entries)
	}
}

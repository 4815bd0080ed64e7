package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/parleyhq/parley/internal/syncbuf"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/store"
)

const backupKey = "backup-key-0123456789"

// padStore adds n bytes of values to the store file, in a bucket of its
// own, so that a copy of it outlasts what the sockets buffer.
func padStore(b *store.Bolt, n int) error {
	return b.DB().Update(func(tx *bbolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte("test_padding"))
		if err != nil {
			return err
		}
		v := make([]byte, 1<<20)
		for i := range n >> 20 {
			if err := bk.Put(fmt.Appendf(nil, "%d-%d", bk.Sequence(), i), v); err != nil {
				return err
			}
		}
		_, err = bk.NextSequence()
		return err
	})
}

// apiRequest sends a request with the backup key to the server at base.
func apiRequest(t *testing.T, method, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+backupKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp
}

// apiJSON sends a request and decodes its JSON answer, which must have
// the status want.
func apiJSON(t *testing.T, want int, method, url, body string) map[string]any {
	t.Helper()
	resp := apiRequest(t, method, url, body)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s; want %d", method, url, resp.StatusCode, raw, want)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: %v: %s", method, url, err, raw)
	}
	return m
}

// startBackup sends GET /v1/backup, checks the answer's headers and
// returns it with its Content-Length.
func startBackup(t *testing.T, base string) (*http.Response, int64) {
	t.Helper()
	resp := apiRequest(t, "GET", base+"/v1/backup", "")
	if resp.StatusCode != 200 {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET /v1/backup: %d %s", resp.StatusCode, raw)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="parley-\d{8}T\d{6}Z\.db"$`).MatchString(cd) {
		t.Errorf("Content-Disposition %q", cd)
	}
	if resp.ContentLength <= 0 {
		t.Fatalf("no Content-Length (%d)", resp.ContentLength)
	}
	return resp, resp.ContentLength
}

// openTxs is the number of read transactions open on the server's store.
func openTxs(ts *testServer) int { return ts.srv.store.(*store.Bolt).DB().Stats().OpenTxN }

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %s", what)
		}
	}
}

// backupServer is a test server with an API key and a flow that waits,
// listening on a loopback port, whose store file holds 48 MB of padding.
func backupServer(t *testing.T, mod func(*Config)) (*testServer, string) {
	ts := newTestServer(t, func(c *Config) {
		c.APIKeys = []APIKey{{Name: "ops", Key: backupKey}}
		if mod != nil {
			mod(c)
		}
	})
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"ask"}`)
	if err := padStore(ts.srv.store.(*store.Bolt), 48<<20); err != nil {
		t.Fatal(err)
	}
	return ts, ts.listen()
}

// message sends a message from a new contact over HTTP; the flow answers
// and waits. It returns the session id.
func message(t *testing.T, base, from string) string {
	t.Helper()
	r := apiJSON(t, 200, "POST", base+"/v1/channels/web/messages", `{"from":"`+from+`","text":"hi"}`)
	if got := texts(r); !slices.Equal(got, []string{"Hi ! What is your name?"}) {
		t.Fatalf("message from %s answered %v", from, got)
	}
	return r["id"].(string)
}

// While a backup streams to a client that reads slowly, turns are answered
// and committed, and a write that grows the file beyond its size at the
// start does not wait for the copy; the copy is whole (Content-Length
// bytes), passes store.Verify, and holds the sessions committed before it
// began and none of those after.
func TestBackupWhileServing(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts, base := backupServer(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	var before []string
	for i := range 3 {
		before = append(before, message(t, base, fmt.Sprintf("+1555000100%d", i)))
	}

	resp, size := startBackup(t, base)
	head := make([]byte, 64<<10)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	if openTxs(ts) == 0 {
		t.Fatal("no read transaction open while the backup streams")
	}
	grown := make(chan error, 1)
	go func() { grown <- padStore(ts.srv.store.(*store.Bolt), 64<<20) }()
	select {
	case err := <-grown:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a write growing the file waited for the backup")
	}
	var during []string
	for i := range 3 {
		id := message(t, base, fmt.Sprintf("+1555000200%d", i))
		if s := apiJSON(t, 200, "GET", base+"/v1/sessions/"+id, ""); s["status"] != "waiting" {
			t.Errorf("session %s during the backup: %v", id, s["status"])
		}
		during = append(during, id)
	}
	if openTxs(ts) == 0 {
		t.Fatal("the backup ended before the turns: the test did not hold it open")
	}

	path := filepath.Join(t.TempDir(), "copy.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(f, io.MultiReader(bytes.NewReader(head), resp.Body))
	f.Close()
	if err != nil || n != size {
		t.Fatalf("read %d bytes of %d: %v", n, size, err)
	}
	waitFor(t, "the backup's read transaction is still open", func() bool { return openTxs(ts) == 0 })
	res, err := store.Verify(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records.Sessions != int64(len(before)) {
		t.Errorf("the copy holds %d sessions, want the %d committed before it", res.Records.Sessions, len(before))
	}
	cp, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	for _, id := range before {
		if _, err := cp.LoadSession(context.Background(), id); err != nil {
			t.Errorf("session %s, committed before the backup: %v", id, err)
		}
	}
	for _, id := range during {
		if _, err := cp.LoadSession(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session %s, committed during the backup, is in the copy: %v", id, err)
		}
	}
	if !regexp.MustCompile(`msg=backup .*bytes=` + strconv.FormatInt(size, 10) + ` elapsed=`).MatchString(logs.String()) {
		t.Errorf("no log line of the backup with its size:\n%s", logs.String())
	}
	metrics := ts.do("GET", "/metrics", nil)
	if !strings.Contains(string(metrics.Body), `parley_backups_total{result="ok"} 1`) {
		t.Errorf("metrics:\n%s", metrics.Body)
	}
}

// A client that goes away mid-copy ends the backup's read transaction: a
// second backup is whole, and the shutdown is not held up.
func TestBackupClientGoesAway(t *testing.T) {
	ts, base := backupServer(t, nil)
	resp, _ := startBackup(t, base)
	if _, err := io.ReadFull(resp.Body, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // the transport closes the connection of a body not read to its end
	waitFor(t, "the read transaction of a backup whose client went away is still open", func() bool { return openTxs(ts) == 0 })

	resp, size := startBackup(t, base)
	if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != size {
		t.Fatalf("second backup: %d of %d bytes: %v", n, size, err)
	}
	metrics := string(ts.do("GET", "/metrics", nil).Body)
	for _, want := range []string{`parley_backups_total{result="failed"} 1`, `parley_backups_total{result="ok"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown after the backups: %v", err)
	}
}

// A shutdown waits for a backup under way as for any answer, up to its
// grace; then it ends the copy, even one whose client has stopped reading,
// and closes the store, instead of waiting for the write timeout.
func TestShutdownEndsBackup(t *testing.T) {
	srv, err := New(Config{
		DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Examples: fstest.MapFS{},
		APIKeys: []APIKey{{Name: "ops", Key: backupKey}}, TimerInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, srv: srv, clock: newClock(), key: backupKey}
	if err := padStore(srv.store.(*store.Bolt), 48<<20); err != nil {
		t.Fatal(err)
	}
	base := ts.listen()
	resp, size := startBackup(t, base)
	if _, err := io.ReadFull(resp.Body, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = srv.Shutdown(ctx)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Shutdown with a grace of 0.5 s took %s", took)
	}
	if err == nil || !strings.Contains(err.Error(), "http shutdown: context deadline exceeded (1 backups still streaming were cut short)") {
		t.Errorf("Shutdown: %v; want the grace reported as run out by the backup", err)
	}
	// The timers and delivery had stopped: the grace the backup used up
	// is not theirs to report.
	if err != nil && (strings.Contains(err.Error(), "timer turns") || strings.Contains(err.Error(), "event delivery")) {
		t.Errorf("Shutdown: %v; reports what did stop", err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && n+64<<10 == size {
		t.Errorf("the backup was read whole (%d bytes) although the shutdown ended it", size)
	}
}

// GET /v1/backup needs a key as the rest of /v1 does; HEAD says the size
// without sending the copy or keeping a transaction open.
func TestBackupAuth(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.APIKeys = []APIKey{{Name: "ops", Key: backupKey}} })
	base := ts.listen()
	for _, key := range []string{"", "wrong-key-0123456789"} {
		req, _ := http.NewRequest("GET", base+"/v1/backup", nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(raw), `"code":"unauthorized"`) {
			t.Errorf("key %q: %d %s", key, resp.StatusCode, raw)
		}
	}
	resp := apiRequest(t, "HEAD", base+"/v1/backup", "")
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength <= 0 || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("HEAD: %d, length %d, %v", resp.StatusCode, resp.ContentLength, resp.Header)
	}
	if n := openTxs(ts); n != 0 {
		t.Errorf("%d read transactions open after HEAD", n)
	}
}

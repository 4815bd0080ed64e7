package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	exampleflows "github.com/parleyhq/parley/examples"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/server"
	"github.com/parleyhq/parley/store"
	"github.com/valyala/fasthttp"
)

// TestBenchJSON runs parley bench for a moment against a server in process
// and checks that the report has every figure, with values a real run gives:
// messages answered, conversations completed, webhook calls made and the
// completion events delivered to the receiver.
func TestBenchJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it for a second")
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"bench", "--duration", "700ms", "--concurrency", "4", "--idle", "200", "--json"}, nil, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}
	positive := []string{
		"messages_per_sec", "turn_p50_ms", "turn_p99_ms", "webhook_calls_per_sec",
		"deliveries_per_sec", "bytes_per_waiting_session", "peak_rss_mb", "conversations_per_sec",
		"pages_written_per_turn", "committer_write_sync_pct", "cpu_us_per_message", "cpu_cores",
		"heap_live_mb",
	}
	for _, k := range positive {
		v, ok := got[k].(float64)
		if !ok {
			t.Errorf("%s missing or not a number: %v", k, got[k])
			continue
		}
		if v <= 0 {
			t.Errorf("%s = %v, want > 0", k, v)
		}
	}
	if v, ok := got["delivery_lag_p99_ms"].(float64); !ok || v < 0 {
		t.Errorf("delivery_lag_p99_ms = %v, want a number ≥ 0", got["delivery_lag_p99_ms"])
	}
	if p50, p99 := got["turn_p50_ms"].(float64), got["turn_p99_ms"].(float64); p99 < p50 {
		t.Errorf("turn p99 %v < p50 %v", p99, p50)
	}
	// The scheduler's latency may round to 0 ms with 4 contacts, but is given.
	p50, ok50 := got["sched_latency_p50_ms"].(float64)
	p99, ok99 := got["sched_latency_p99_ms"].(float64)
	if !ok50 || !ok99 || p50 < 0 || p99 < p50 {
		t.Errorf("scheduler latency p50 %v, p99 %v: want numbers, 0 ≤ p50 ≤ p99", got["sched_latency_p50_ms"], got["sched_latency_p99_ms"])
	}
	if v := got["bytes_per_waiting_session"].(float64); v < 100 || v > 100_000 {
		t.Errorf("bytes_per_waiting_session = %v, not a plausible size", v)
	}
	// One webhook call per conversation: the second message looks the order up.
	conv, calls := got["conversations_per_sec"].(float64), got["webhook_calls_per_sec"].(float64)
	if calls < conv {
		t.Errorf("webhook calls/s %v < conversations/s %v: the lookup was not called each time", calls, conv)
	}
	if n := got["errors"].(float64); n != 0 {
		t.Errorf("%v messages failed: %s", n, errOut.String())
	}
	// The server in process listens on 127.0.0.1 without keys by design:
	// no warning to set --api-key, which bench refuses without --url.
	if strings.Contains(errOut.String(), "api-key") {
		t.Errorf("stderr of an in-process run: %q", errOut.String())
	}
}

// With --rate the load is offered at that rate, whatever the server could take.
func TestBenchRate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it for a second")
	}
	var got struct {
		Rate           int     `json:"rate"`
		Messages       int     `json:"messages"`
		MessagesPerSec float64 `json:"messages_per_sec"`
	}
	benchJSON(t, &got, "--duration", "1s", "--concurrency", "8", "--rate", "200", "--idle", "0", "--flow", "favourite-colour", "--json")
	// 200 messages/s for 1 s: each of the 8 contacts sends every 40 ms, so
	// at most 26 messages each however fast the server answers (a closed
	// loop would send thousands).
	if got.Rate != 200 || got.Messages < 1 || got.Messages > 8*26 {
		t.Errorf("offered 200 messages/s for 1 s: rate %d, %d messages (%.0f/s)", got.Rate, got.Messages, got.MessagesPerSec)
	}
}

func TestBenchRefuses(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "http://example.com:8080"}, "not a loopback address"},
		{[]string{"--url", "http://10.0.0.1:8080"}, "not a loopback address"},
		// Only http://, checked before anything is sent.
		{[]string{"--url", "127.0.0.1:8080"}, `--url: "127.0.0.1:8080" is not a server URL: give http://HOST:PORT`},
		{[]string{"--url", "localhost:8080"}, `--url: "localhost:8080" is not a server URL`},
		{[]string{"--url", "ftp://127.0.0.1:1"}, "the scheme is ftp, not http"},
		{[]string{"--url", "https://127.0.0.1:8443"}, "the scheme is https, not http"},
		{[]string{"--url", "http://127.0.0.1:99999"}, `port "99999"`},
		{[]string{"--url", "http://127.0.0.1:8080?x=1"}, "without user, query or fragment"},
		// A password is not shown.
		{[]string{"--url", "http://u:secretpw@127.0.0.1:8080"}, `--url: "http://u:[redacted]@127.0.0.1:8080": give the server's URL without user`},
		{[]string{"--url", "ftp://u:secretpw@127.0.0.1:1"}, `--url: "ftp://u:[redacted]@127.0.0.1:1": the scheme is ftp`},
		{[]string{"--url", "http://u:secretpw@127.0.0.1:8080 x"}, `--url: "http://u:[redacted]@127.0.0.1:8080 x" is not a server URL`},
		{[]string{"--url", "u:secretpw@127.0.0.1:8080"}, `--url: "u:[redacted]@127.0.0.1:8080" is not a server URL`},
		{[]string{"--url", "http:/u:secretpw@127.0.0.1:8080"}, `--url: "http:[redacted]@127.0.0.1:8080" is not a server URL`},
		{[]string{"--duration", "1h"}, "--duration"},
		{[]string{"--concurrency", "0"}, "--concurrency"},
		{[]string{"--rate", "-5"}, "--rate"},
		{[]string{"--idle", "-1"}, "--idle"},
		{[]string{"--no-fsync", "--url", "http://127.0.0.1:8080"}, "--no-fsync"},
		{[]string{"--dedupe-retention", "1s", "--url", "http://127.0.0.1:8080"}, "--dedupe-retention"},
		{[]string{"--session-retention", "1s", "--url", "http://127.0.0.1:8080"}, "--session-retention"},
		{[]string{"--session-retention", "-1s"}, "--session-retention"},
		// The server in process's flags, whatever their value, are refused
		// with --url rather than ignored.
		{[]string{"--idle", "0", "--url", "http://127.0.0.1:8080"}, "--idle: only for a server in process"},
		{[]string{"--url", "http://127.0.0.1:8080", "--idle", "5000"}, "--idle: only for a server in process"},
		{[]string{"--keep", "--url", "http://127.0.0.1:8080"}, "--keep: only for a server in process"},
		{[]string{"--data", "/tmp", "--url", "http://127.0.0.1:8080"}, "--data: only for a server in process"},
		// A --data directory that is not there is named as the flag's.
		{[]string{"--data", "/nonexistent/parley", "--idle", "1000000"}, "parley bench: --data /nonexistent/parley: no such file or directory"},
		{[]string{"--data", "/dev/null"}, "parley bench: --data /dev/null: not a directory"},
		{[]string{"--no-fsync=false", "--url", "http://127.0.0.1:8080"}, "--no-fsync: only for a server in process"},
		{[]string{"--api-key", "k"}, "--api-key: only with --url"},
		{[]string{"--dedupe-retention", "-1s"}, "--dedupe-retention"},
		{[]string{"--batch", "0"}, "--batch"},
		{[]string{"--batch", "4", "--rate", "100"}, "--batch"},
		{[]string{"--batch", "16", "--concurrency", "4"}, "--batch 16: give at most --concurrency (4)"},
		{[]string{"--no-message-ids", "--message-ids", "random"}, "--message-ids: not with --no-message-ids"},
		{[]string{"--message-ids", "per-contact", "--no-message-ids"}, "--message-ids: not with --no-message-ids"},
		{[]string{"--message-ids", "sorted"}, "--message-ids"},
		{[]string{"--contacts", "100"}, "--contacts"},
		{[]string{"--contacts", "-1"}, "--contacts"},
		{[]string{"--flow", "testdata/no-such-flow.json"}, "--flow testdata/no-such-flow.json: neither a built-in example (favourite-colour, order-status) nor a flow file: open"},
		{[]string{"--flow", "nosuch"}, "--flow nosuch: neither a built-in example (favourite-colour, order-status) nor a flow file"},
		{[]string{"extra"}, `parley bench: unexpected argument "extra"`},
		// Output paths are tried before the idle sessions are seeded.
		{[]string{"--trace", "/nonexistent/x.trace", "--idle", "1000000"}, "parley bench: --trace /nonexistent/x.trace: open /nonexistent/x.trace: no such file or directory"},
		{[]string{"--profile", "/dev/null/prof", "--idle", "1000000"}, "parley bench: --profile /dev/null/prof: mkdir /dev/null/prof: not a directory"},
		{[]string{"--profile", "/nonexistent/prof", "--idle", "1000000"}, "parley bench: --profile /nonexistent/prof: the directory /nonexistent does not exist"},
		{[]string{"--duration", "1s", "flow.json", "--json"}, `parley bench: unexpected argument "flow.json": parley bench takes flags only (a flow file is --flow FILE)`},
		{[]string{"--flow", "../../examples/favourite-colour/flow.json"}, "give the conversation's texts with --messages"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"bench"}, tc.args...), nil, &out, &errOut)
			if code != 2 || !strings.Contains(errOut.String(), tc.want) || strings.Contains(errOut.String(), "secretpw") {
				t.Errorf("exit %d, stderr %q; want exit 2 naming %q", code, errOut.String(), tc.want)
			}
		})
	}
}

// TestMsgConn checks the contacts' HTTP client against net/http's server:
// bodies and statuses read, keep-alive connections reused, a connection the
// server closed replaced, a non-2xx reply reported with its body.
func TestMsgConn(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || r.URL.Path != "/v1/channels/bench/messages" || r.Header.Get("Authorization") != "Bearer k" ||
			r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request line or headers", 400)
			return
		}
		switch string(body) {
		case "fail":
			http.Error(w, "no such thing", 404)
		case "close":
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte("bye"))
		default:
			w.Header().Set("Content-Length", strconv.Itoa(len("echo ")+len(body)))
			_, _ = w.Write(append([]byte("echo "), body...))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	mc, err := newMsgConn(&benchClient{base: srv.URL, apiKey: "k"}, "/v1/channels/bench/messages", time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.close()
	var out []byte
	for i, c := range []struct{ send, want, err string }{
		{send: "hi", want: "echo hi"},
		{send: "again", want: "echo again"},
		{send: "fail", err: "status 404: no such thing"},
		{send: "after a failure", want: "echo after a failure"},
		// More than a socket buffer takes at once: the rest of the
		// request is written while the server reads.
		{send: strings.Repeat("long ", 2<<20), want: "echo " + strings.Repeat("long ", 2<<20)},
		{send: "close", want: "bye"},
		{send: "new connection", want: "echo new connection"},
	} {
		out, err = mc.post([]byte(c.send), out)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("%d: error %v, want %q", i, err, c.err)
			}
			continue
		}
		if err != nil || string(out) != c.want {
			t.Fatalf("%d: %q, %v; want %q", i, out, err, c.want)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (one until the server closed it, then one more)", n)
	}

	// A keep-alive connection the server dropped while idle is replaced.
	srv.CloseClientConnections()
	if out, err = mc.post([]byte("after idle close"), out); err != nil || string(out) != "echo after idle close" {
		t.Fatalf("after the server closed the connection: %q, %v", out, err)
	}
}

// --profile and --trace write what go tool pprof and go tool trace read.
func TestBenchProfileAndTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it for a moment")
	}
	dir := t.TempDir()
	tracePath := filepath.Join(dir, "run.trace")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"bench", "--duration", "300ms", "--concurrency", "2", "--idle", "0",
		"--flow", "favourite-colour", "--events", "", "--json", "--profile", filepath.Join(dir, "prof"), "--trace", tracePath}, nil, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
	}
	tr, err := os.ReadFile(tracePath)
	if err != nil {
		t.Fatal(err)
	}
	// An execution trace starts with its header, "go 1.NN trace".
	if !bytes.HasPrefix(tr, []byte("go 1.")) || len(tr) < 1000 {
		t.Errorf("trace: %d bytes starting %q, want an execution trace", len(tr), tr[:min(len(tr), 16)])
	}
	for _, name := range []string{"cpu.pprof", "block.pprof", "mutex.pprof", "allocs.pprof"} {
		fi, err := os.Stat(filepath.Join(dir, "prof", name))
		if err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v (size %d)", name, err, sizeOf(fi))
		}
	}
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return 0
	}
	return fi.Size()
}

// --no-message-ids sends messages without an id: the server answers them
// all and keeps no dedupe record, where a normal run keeps one per message.
func TestBenchNoMessageIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it for a second")
	}
	for _, tc := range []struct {
		noIDs bool
		shape string // --message-ids, "" for the default
	}{{false, ""}, {false, idsOrdered}, {false, idsRandom}, {true, ""}} {
		parent := t.TempDir()
		args := []string{"--duration", "500ms", "--concurrency", "4", "--idle", "0", "--flow", "favourite-colour",
			"--events", "", "--json", "--keep", "--data", parent}
		if tc.noIDs {
			args = append(args, "--no-message-ids")
		}
		if tc.shape != "" {
			args = append(args, "--message-ids", tc.shape)
		}
		var got struct {
			Messages     int64  `json:"messages"`
			Errors       int64  `json:"errors"`
			NoMessageIDs bool   `json:"no_message_ids"`
			MessageIDs   string `json:"message_ids"`
		}
		benchJSON(t, &got, args...)
		if got.Messages == 0 || got.Errors != 0 || got.NoMessageIDs != tc.noIDs || got.MessageIDs != tc.shape {
			t.Fatalf("%+v: %+v", tc, got)
		}
		// Every message had a new id: a repeat would have been answered
		// from its dedupe record without a turn of its own.
		stats := keptStats(t, parent)
		if want := map[bool]bool{false: stats.Processed == got.Messages, true: stats.Processed == 0}[tc.noIDs]; !want {
			t.Errorf("%+v: %d dedupe records after %d messages", tc, stats.Processed, got.Messages)
		}
	}
}

// TestBenchContacts: with --contacts the conversations go through that
// many contacts, each stored once, instead of one per concurrent contact.
func TestBenchContacts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it for a second")
	}
	for _, tc := range []struct{ arg, want int }{{0, 4}, {64, 64}, {66, 64}} {
		var parent string
		var got struct {
			Conversations int64 `json:"conversations"`
			Errors        int64 `json:"errors"`
			Contacts      int   `json:"contacts"`
		}
		// Each of the 64 contacts needs a conversation: a run on a busy
		// machine that had too few is run again for longer.
		for _, d := range []string{"700ms", "3s", "10s"} {
			parent = t.TempDir()
			args := []string{"--duration", d, "--concurrency", "4", "--idle", "0", "--flow", "favourite-colour",
				"--events", "", "--json", "--keep", "--data", parent}
			if tc.arg > 0 {
				args = append(args, "--contacts", fmt.Sprint(tc.arg))
			}
			benchJSON(t, &got, args...)
			if got.Conversations >= 4*16 {
				break
			}
		}
		if got.Errors != 0 || got.Conversations < 4*16 || got.Contacts != map[bool]int{true: tc.want, false: 0}[tc.arg > 0] {
			t.Fatalf("--contacts %d: %+v", tc.arg, got)
		}
		if stored := keptStats(t, parent).Contacts; stored != int64(tc.want) {
			t.Errorf("--contacts %d: %d contacts stored, want %d", tc.arg, stored, tc.want)
		}
	}
}

// TestBenchMessageIDShapes checks the ids --message-ids makes: per contact
// they carry the contact and its own count, ordered ones sort in the order
// they were made across contacts, and random ones are 32 hex digits.
func TestBenchMessageIDShapes(t *testing.T) {
	ids := func(shape string) []string {
		l := &load{idShape: shape, idPrefix: "bx-"}
		var out []string
		for n := 1; n <= 50; n++ {
			for _, w := range []*worker{{id: 3}, {id: 12}} {
				out = append(out, string(l.appendID(nil, w, n)))
			}
		}
		return out
	}
	if got := ids(idsPerContact); got[0] != "bx-3-1" || got[1] != "bx-12-1" || got[99] != "bx-12-50" {
		t.Errorf("per contact: %q %q %q", got[0], got[1], got[99])
	}
	ordered := ids(idsOrdered)
	if !slices.IsSorted(ordered) || len(slices.Compact(slices.Clone(ordered))) != len(ordered) || ordered[0] != "bx-000000000001" {
		t.Errorf("ordered ids not strictly increasing: %q", ordered)
	}
	random := ids(idsRandom)
	seen := map[string]bool{}
	for _, id := range random {
		hex := strings.TrimPrefix(id, "bx-")
		if len(hex) != 32 || strings.Trim(hex, "0123456789abcdef") != "" || seen[id] {
			t.Fatalf("random id %q: want 32 new hex digits", id)
		}
		seen[id] = true
	}
	if slices.IsSorted(random) {
		t.Errorf("100 random ids came out sorted: %q", random)
	}
}

// --dedupe-retention and --session-retention reach the server in process:
// with message ids and ended sessions kept 200 ms, pruning (each second)
// removes them during the run, so at most the last 1.2 s of them, about a
// third, remain, and the store counts the deleted sessions as pruned.
func TestBenchRetentions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it for 3.5 seconds")
	}
	parent := t.TempDir()
	var got struct {
		Messages      int64   `json:"messages"`
		Conversations int64   `json:"conversations"`
		Dedupe        float64 `json:"dedupe_retention_sec"`
		Sessions      float64 `json:"session_retention_sec"`
	}
	benchJSON(t, &got, "--duration", "3500ms", "--concurrency", "4", "--idle", "0", "--flow", "favourite-colour",
		"--events", "", "--json", "--keep", "--data", parent, "--dedupe-retention", "200ms", "--session-retention", "200ms")
	if got.Dedupe != 0.2 || got.Sessions != 0.2 || got.Messages == 0 || got.Conversations == 0 {
		t.Fatalf("result %+v", got)
	}
	stats := keptStats(t, parent)
	if stats.Processed*2 > got.Messages {
		t.Errorf("%d dedupe records left after %d messages with ids kept 200 ms", stats.Processed, got.Messages)
	}
	kept, pruned := stats.Sessions[flows.StatusCompleted], stats.Pruned[flows.StatusCompleted]
	if kept+pruned < got.Conversations || kept*2 > got.Conversations {
		t.Errorf("%d completed sessions kept and %d pruned after %d conversations with ended sessions kept 200 ms", kept, pruned, got.Conversations)
	}
}

// --batch sends several contacts' messages per request to the batch
// endpoint; every message is answered and conversations complete as they
// do one message at a time, and the server kept a dedupe record per
// message.
func TestBenchBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it for a second")
	}
	parent := t.TempDir()
	var got struct {
		Batch         int   `json:"batch"`
		Messages      int64 `json:"messages"`
		Errors        int64 `json:"errors"`
		Conversations int64 `json:"conversations"`
	}
	benchJSON(t, &got, "--duration", "1s", "--concurrency", "10", "--batch", "4", "--idle", "0",
		"--flow", "favourite-colour", "--events", "", "--json", "--keep", "--data", parent)
	// Favourite colour is two messages a conversation.
	if got.Batch != 4 || got.Messages == 0 || got.Errors != 0 || got.Conversations < got.Messages/2-10 {
		t.Fatalf("batch run: %+v", got)
	}
	stats := keptStats(t, parent)
	if stats.Processed < got.Messages {
		t.Errorf("%d dedupe records after %d messages", stats.Processed, got.Messages)
	}
}

// keptStats reads the store counters of the one data directory a --keep
// run left under parent.
func keptStats(t *testing.T, parent string) store.Stats {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(parent, "*", server.DBFile))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("kept data: %v %v", dirs, err)
	}
	st, err := store.Open(dirs[0], store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stats, err := st.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return stats
}

// benchJSON runs parley bench with args (--json among them) and decodes its
// one JSON object into v.
func benchJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	benchJSONStderr(t, v, args...)
}

// benchJSONStderr is benchJSON returning what the run wrote on stderr.
func benchJSONStderr(t *testing.T, v any, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), append([]string{"bench"}, args...), nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}
	return errOut.String()
}

// Two runs against one server (--url) send different message ids: the
// second run's messages are new turns, not repeats the server answers from
// its dedupe records, so the server keeps a record for every message of
// both runs.
func TestBenchURLRunsSendNewIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it twice")
	}
	base, st := benchTarget(t, true)
	var total int64
	for run := 1; run <= 2; run++ {
		var got struct {
			Messages int64 `json:"messages"`
			Errors   int64 `json:"errors"`
		}
		benchJSON(t, &got, "--url", base, "--duration", "300ms", "--concurrency", "4",
			"--flow", "favourite-colour", "--events", "", "--json")
		if got.Messages == 0 || got.Errors != 0 {
			t.Fatalf("run %d: %+v", run, got)
		}
		total += got.Messages
	}
	// Every turn was committed before its reply.
	stats, err := st.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Processed != total {
		t.Errorf("%d dedupe records after %d messages in two runs: the second run repeated ids", stats.Processed, total)
	}
}

// benchTarget starts a server on a loopback port for --url runs and returns
// its URL; allowLoopback lets its webhook calls and event deliveries reach
// loopback addresses, as parley serve --allow-cidr 127.0.0.0/8 does. The
// server stops at the end of the test.
func benchTarget(t *testing.T, allowLoopback bool) (string, *store.Bolt) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, server.DBFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{Addr: "127.0.0.1:0", DataDir: dir, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if allowLoopback {
		cfg.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}
	return serveForTest(t, cfg), st
}

// apiCall sends one request to the server at base and decodes its JSON
// answer into out (when not nil).
func apiCall(t *testing.T, method, url, body string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode > 299 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
}

// A --url run deletes its receiver's event subscription when it ends,
// stopped early or not, and the subscription an earlier run left (it was
// killed), but no other.
func TestBenchURLDeletesSubscription(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it three times")
	}
	base, _ := benchTarget(t, true)
	apiCall(t, "POST", base+"/v1/webhooks", `{"url":"http://127.0.0.1:1/events","events":["flow.completed"],"description":"parley bench receiver"}`, nil)
	apiCall(t, "POST", base+"/v1/webhooks", `{"url":"http://127.0.0.1:2/hook","events":["flow.completed"],"description":"mine"}`, nil)
	args := []string{"bench", "--url", base, "--duration", "300ms", "--concurrency", "2", "--flow", "favourite-colour", "--json"}
	for i := 1; i <= 2; i++ {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, nil, &out, &errOut); code != 0 {
			t.Fatalf("run %d: exit %d\n%s", i, code, errOut.String())
		}
		if left := strings.Contains(errOut.String(), "left by an earlier run"); left != (i == 1) {
			t.Errorf("run %d: stderr %q", i, errOut.String())
		}
	}
	// Stopped (Ctrl-C) a moment into a 10 s run.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var out, errOut bytes.Buffer
	run(ctx, []string{"bench", "--url", base, "--duration", "10s", "--concurrency", "2", "--flow", "favourite-colour", "--json"}, nil, &out, &errOut)

	var list struct {
		Webhooks []struct {
			Description string `json:"description"`
		} `json:"webhooks"`
	}
	apiCall(t, "GET", base+"/v1/webhooks", "", &list)
	if len(list.Webhooks) != 1 || list.Webhooks[0].Description != "mine" {
		t.Errorf("subscriptions after the runs: %+v, want only the one named mine", list.Webhooks)
	}

	// A run without events deletes what a killed run left all the same.
	apiCall(t, "POST", base+"/v1/webhooks", `{"url":"http://127.0.0.1:1/events","events":["flow.completed"],"description":"parley bench receiver"}`, nil)
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), append(args, "--events", ""), nil, &out, &errOut); code != 0 {
		t.Fatalf("--events \"\": exit %d\n%s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "left by an earlier run") {
		t.Errorf("--events \"\": stderr %q does not say it deleted the subscription left", errOut.String())
	}
	apiCall(t, "GET", base+"/v1/webhooks", "", &list)
	if len(list.Webhooks) != 1 || list.Webhooks[0].Description != "mine" {
		t.Errorf("subscriptions after a run with --events \"\": %+v, want only the one named mine", list.Webhooks)
	}
}

// A second --url run starts new conversations: the conversations the
// first left unfinished, of another flow, are interrupted at the second's
// setup, with a line on stderr saying how many, and the second run's
// contacts are not the first's. Each run has a channel and flow of its own,
// named with its receiver's port; a later run deletes those of ended runs,
// but not a channel that is not a run's, nor a flow such a channel names.
func TestBenchURLRunsNewContacts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it three times")
	}
	base, st := benchTarget(t, true)
	ctx := context.Background()
	waiting := func() map[string]time.Time {
		list, _, err := st.ListSessions(ctx, store.SessionFilter{Status: flows.StatusWaiting}, store.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]time.Time{}
		for _, s := range list {
			m[s.ID] = s.UpdatedAt
		}
		return m
	}
	// channelOf is the channel of the sessions of all that first does not
	// hold, which must all have the same: the run's.
	channelOf := func(all []*flows.Session, first map[string]bool) string {
		t.Helper()
		var ch string
		for _, s := range all {
			if first[s.Contact.URN] {
				continue
			}
			if s.Channel == nil || (ch != "" && s.Channel.ID != ch) {
				t.Fatalf("a run's sessions are on channels %q and %+v", ch, s.Channel)
			}
			ch = s.Channel.ID
		}
		return ch
	}
	exists := func(path string) bool {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	var got struct {
		Messages, Errors, Conversations int64
	}
	benchJSON(t, &got, "--url", base, "--duration", "300ms", "--concurrency", "4", "--events", "", "--json")
	if got.Messages == 0 || got.Errors != 0 {
		t.Fatalf("order status run: %+v", got)
	}
	all := allSessions(t, st)
	firstChannel := channelOf(all, nil)
	port, ok := strings.CutPrefix(firstChannel, "bench-")
	if !ok {
		t.Fatalf("the first run's channel is %q, want bench-PORT", firstChannel)
	}
	firstFlow := "bench-flow-" + port
	if all[0].FlowID != firstFlow {
		t.Fatalf("the first run's flow is %q, want %q", all[0].FlowID, firstFlow)
	}
	left := waiting()
	if len(left) == 0 {
		// Every contact happened to finish its conversation: leave one
		// waiting for its order number.
		apiCall(t, "POST", base+"/v1/channels/"+firstChannel+"/messages", fmt.Sprintf(`{"from":%q,"text":"hi"}`, all[0].Contact.URN), nil)
		left = waiting()
		all = allSessions(t, st)
	}
	first := map[string]bool{}
	for _, s := range all {
		first[s.Contact.URN] = true
	}
	// Not a run's channel, though it has a run's name: it and the flow it
	// names stay.
	apiCall(t, "PUT", base+"/v1/channels/bench-2", fmt.Sprintf(`{"name":"mine","default_flow":%q}`, firstFlow), nil)

	stderr := benchJSONStderr(t, &got, "--url", base, "--duration", "300ms", "--concurrency", "4", "--flow", "favourite-colour", "--events", "", "--json")
	if got.Messages == 0 || got.Errors != 0 || got.Conversations < got.Messages/2-4 {
		t.Fatalf("favourite colour run: %+v", got)
	}
	if want := fmt.Sprintf("parley bench: interrupted %d sessions left waiting on channel %s by an earlier run", len(left), firstChannel); !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not say %q", stderr, want)
	}
	for id := range left {
		s, err := st.LoadSession(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if s.Status != flows.StatusInterrupted {
			t.Errorf("session %s, left waiting by the first run, is %s after the second, want interrupted before it sent a message", id, s.Status)
		}
	}
	// The second run's contacts are new.
	after := allSessions(t, st)
	var firsts int
	for _, s := range after {
		if first[s.Contact.URN] {
			firsts++
		}
	}
	if firsts != len(all) || len(after) == len(all) {
		t.Errorf("%d sessions after the first run, %d after the second, %d of the first run's contacts: want the second run's contacts new", len(all), len(after), firsts)
	}
	secondChannel := channelOf(after, first)
	if secondChannel == firstChannel {
		t.Skipf("the two runs' receivers had the same port, %s: the first run's channel is the second's", port)
	}
	if want := "parley bench: deleted channel " + firstChannel + " of an ended run\n"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not say %q", stderr, want)
	}
	if exists("/v1/channels/"+firstChannel) || !exists("/v1/flows/"+firstFlow) || !exists("/v1/channels/bench-2") {
		t.Errorf("after the second run: channel %s %v, flow %s %v, channel bench-2 %v; want the first gone, the others kept",
			firstChannel, exists("/v1/channels/"+firstChannel), firstFlow, exists("/v1/flows/"+firstFlow), exists("/v1/channels/bench-2"))
	}

	// Once no channel names it, the first run's flow goes too, with the
	// second run's channel and flow.
	apiCall(t, "DELETE", base+"/v1/channels/bench-2", "", nil)
	second := map[string]bool{}
	for _, s := range after {
		second[s.Contact.URN] = true
	}
	stderr = benchJSONStderr(t, &got, "--url", base, "--duration", "300ms", "--concurrency", "2", "--flow", "favourite-colour", "--events", "", "--json")
	secondFlow := "bench-flow-" + strings.TrimPrefix(secondChannel, "bench-")
	thirdChannel := channelOf(allSessions(t, st), second)
	if thirdChannel == secondChannel {
		t.Skipf("the last two runs' receivers had the same port: the second run's channel is the third's")
	}
	for _, want := range []string{"deleted flow " + firstFlow + " of an ended run", "deleted channel " + secondChannel + " and flow " + secondFlow + " of an ended run"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not say %q", stderr, want)
		}
	}
	if exists("/v1/flows/"+firstFlow) || exists("/v1/channels/"+secondChannel) || exists("/v1/flows/"+secondFlow) || !exists("/v1/channels/"+thirdChannel) {
		t.Errorf("after the third run: flow %s, channel %s or flow %s kept, or the third run's channel %s gone", firstFlow, secondChannel, secondFlow, thirdChannel)
	}
}

// allSessions lists every session of st.
func allSessions(t *testing.T, st *store.Bolt) []*flows.Session {
	t.Helper()
	var all []*flows.Session
	for after := ""; ; {
		list, next, err := st.ListSessions(context.Background(), store.SessionFilter{}, store.Page{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, list...)
		if after = next; after == "" {
			return all
		}
	}
}

// Against a server that refuses loopback addresses (started without
// --allow-cidr 127.0.0.0/8) the flow's webhook and the event deliveries
// cannot reach the receiver: the run says so, naming the flag, and fails,
// rather than report no webhook calls and no deliveries as a result. Its
// event subscription is deleted all the same.
func TestBenchURLLoopbackRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it")
	}
	base, _ := benchTarget(t, false)
	for _, tc := range []struct {
		events string
		want   []string
	}{
		// The subscription's test ping is refused before the load starts.
		{"flow.completed", []string{"cannot deliver events to the loopback receiver", "blocked", "--allow-cidr 127.0.0.0/8"}},
		// Without events, the conversations show it: none made a call.
		{"", []string{"the flow's webhook did not reach the loopback receiver", "--allow-cidr 127.0.0.0/8"}},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"bench", "--url", base, "--duration", "300ms", "--concurrency", "2", "--events", tc.events},
			nil, &out, &errOut)
		if code != 1 {
			t.Errorf("--events %q: exit %d, want 1\n%s", tc.events, code, errOut.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut.String(), w) {
				t.Errorf("--events %q: stderr %q does not say %q", tc.events, errOut.String(), w)
			}
		}
	}
	var list struct {
		Webhooks []any `json:"webhooks"`
	}
	apiCall(t, "GET", base+"/v1/webhooks", "", &list)
	if len(list.Webhooks) != 0 {
		t.Errorf("subscriptions left: %v", list.Webhooks)
	}
}

// serveForTest starts a server made from cfg on a loopback port and returns
// its URL; it stops at the end of the test.
func serveForTest(t *testing.T, cfg server.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, cfg, ln)
}

// serveOn starts a server made from cfg on ln and returns its URL; it stops
// at the end of the test.
func serveOn(t *testing.T, cfg server.Config, ln net.Listener) string {
	t.Helper()
	srv, err := server.New(cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

// A server on the IPv6 loopback address is reached at http://[::1]:PORT,
// which --url accepts, and at http://localhost:PORT when localhost is ::1
// (among its addresses, first or not).
func TestBenchURLIPv6(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it twice")
	}
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback address on this machine: %v", err)
	}
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, server.DBFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := serveOn(t, server.Config{Addr: "[::1]:0", DataDir: dir, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, ln)
	urls := []string{base}
	if addrs, _ := net.DefaultResolver.LookupIPAddr(context.Background(), "localhost"); slices.ContainsFunc(addrs, func(a net.IPAddr) bool { return a.IP.Equal(net.IPv6loopback) }) {
		urls = append(urls, fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port))
	}
	for _, u := range urls {
		var got struct {
			Messages, Errors, Conversations int64
		}
		benchJSON(t, &got, "--url", u, "--duration", "300ms", "--concurrency", "2", "--flow", "favourite-colour", "--json")
		if got.Messages == 0 || got.Errors != 0 || got.Conversations == 0 {
			t.Errorf("--url %s: %+v", u, got)
		}
	}
}

// A script that never takes a conversation to the flow's end has no
// conversations/s to report: the run fails, saying where the session was
// after the last text, rather than report 0 as a figure.
func TestBenchScriptNeverCompletes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it")
	}
	flow := filepath.Join(t.TempDir(), "loop.json")
	doc := `{"id": "loop", "name": "Loop", "start": "ask", "widgets": [
		{"id": "ask", "type": "send_message", "text": "Yes?", "exits": {"Next": "wait"}},
		{"id": "wait", "type": "wait_for_response", "rules": [{"type": "has_any_word", "args": ["yes"], "category": "Yes"}],
		 "exits": {"Yes": "end", "Other": "ask"}},
		{"id": "end", "type": "end"}]}`
	if err := os.WriteFile(flow, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"bench", "--flow", flow, "--duration", "300ms", "--concurrency", "2", "--idle", "0", "--events", ""}
	var out, errOut bytes.Buffer
	code := run(context.Background(), append(args, "--messages", "hi|no"), nil, &out, &errOut)
	want := `completed the flow: after the last text, "no", the session was waiting, not completed; give --messages`
	if code != 1 || !strings.Contains(errOut.String(), want) {
		t.Errorf("--messages 'hi|no': exit %d, stderr %q; want exit 1 saying %q", code, errOut.String(), want)
	}
	if !strings.Contains(out.String(), "conversations/s") {
		t.Errorf("the report is not printed: %q", out.String())
	}
	// A script that ends it passes.
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), append(args, "--messages", "hi|yes"), nil, &out, &errOut); code != 0 {
		t.Errorf("--messages 'hi|yes': exit %d\n%s", code, errOut.String())
	}
}

// With --url the server is another process: the report's peak RSS,
// GOMAXPROCS and CPU figures are the load generator's, and say so, in the table and in
// --json, instead of passing for the server's.
func TestBenchURLLoadGeneratorFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it twice")
	}
	base, _ := benchTarget(t, true)
	args := []string{"--url", base, "--duration", "300ms", "--concurrency", "2", "--flow", "favourite-colour", "--events", ""}
	var got map[string]any
	benchJSON(t, &got, append(args, "--json")...)
	for _, k := range []string{"peak_rss_mb", "gomaxprocs", "cpu_us_per_message", "cpu_cores"} {
		if v, ok := got[k]; ok {
			t.Errorf("--url --json has %s %v, a figure of the server's it does not measure", k, v)
		}
	}
	for _, k := range []string{"load_generator_peak_rss_mb", "load_generator_gomaxprocs", "load_generator_cpu_us_per_message", "load_generator_cpu_cores"} {
		if v, ok := got[k].(float64); !ok || v <= 0 {
			t.Errorf("--url --json: %s = %v, want > 0", k, got[k])
		}
	}
	// Figures the run did not measure (the server's idle sessions and their
	// size; the delivery lag, without events) are null, not 0, and the
	// table says so.
	for _, k := range []string{"idle_sessions", "bytes_per_waiting_session", "delivery_lag_p50_ms", "delivery_lag_p99_ms"} {
		if v, ok := got[k]; !ok || v != nil {
			t.Errorf("--url --events \"\" --json: %s = %v (present %v), want null", k, v, ok)
		}
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), append([]string{"bench"}, args...), nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
	for _, want := range []string{"idle waiting sessions  not measured", "bytes per waiting session  not measured", "delivery lag p50  not measured",
		"load generator's GOMAXPROCS", "peak RSS (load generator)", "CPU per message (load generator)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--url table does not say %q:\n%s", want, out.String())
		}
	}
}

// Two runs against one server at the same time leave each other alone: the
// second neither deletes the first's event subscription nor interrupts its
// conversations, its contacts are not the first's, and its flow and channel
// are its own, so the second's flow does not send the first's webhook calls
// to the second's receiver. Every conversation of both completes, and each
// run's receiver gets the webhook calls and completions of its own
// conversations only.
func TestBenchURLConcurrentRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it twice at once")
	}
	base, _ := benchTarget(t, true)
	type result struct {
		Messages, Errors, Conversations, Deliveries int64
		WebhookCalls                                int64 `json:"webhook_calls"`
	}
	const concurrency = 2
	args := func(duration string) []string {
		return []string{"bench", "--url", base, "--duration", duration, "--concurrency", strconv.Itoa(concurrency), "--rate", "40", "--json"}
	}
	var first result
	var firstErr bytes.Buffer
	done := make(chan int)
	go func() {
		var out bytes.Buffer
		code := run(context.Background(), args("2500ms"), nil, &out, &firstErr)
		if code == 0 {
			_ = json.Unmarshal(out.Bytes(), &first)
		}
		done <- code
	}()
	// The second starts once the first is sending.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var list struct {
			Sessions []any `json:"sessions"`
		}
		apiCall(t, "GET", base+"/v1/sessions?limit=1", "", &list)
		if len(list.Sessions) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first run sent nothing in 5 s")
		}
	}
	var second result
	stderr := benchJSONStderr(t, &second, args("1s")[1:]...)
	if code := <-done; code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, firstErr.String())
	}
	for _, say := range []string{"left by an earlier run", "interrupted", "deleted"} {
		if strings.Contains(stderr, say) {
			t.Errorf("the second run's stderr says %q: %s", say, stderr)
		}
	}
	for name, r := range map[string]result{"first": first, "second": second} {
		// A conversation the run's end cut off after its order number made
		// its webhook call without completing: at most one per contact.
		if r.Messages == 0 || r.Errors != 0 || r.Conversations < r.Messages/3-concurrency ||
			r.WebhookCalls < r.Conversations || r.WebhookCalls > r.Conversations+concurrency || r.Deliveries != r.Conversations {
			t.Errorf("%s run: %+v, want every conversation completed, with its own webhook call and delivery", name, r)
		}
	}
}

// A run stopped before --duration is up (Ctrl-C) still prints its report,
// but says it was cut short, on stderr and in --json, and exits 130.
func TestBenchInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it for a moment")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(time.Second, cancel)
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"bench", "--duration", "10s", "--concurrency", "2", "--idle", "0", "--flow", "favourite-colour", "--events", "", "--json"}, nil, &out, &errOut)
	var got struct {
		Interrupted bool    `json:"interrupted"`
		DurationSec float64 `json:"duration_sec"`
		Messages    int64   `json:"messages"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("exit %d, no report: %v\n%s\n%s", code, err, out.String(), errOut.String())
	}
	if code != 130 || !got.Interrupted || got.DurationSec >= 10 || got.Messages == 0 {
		t.Errorf("exit %d, %+v; want exit 130 and a report of the part that ran, interrupted", code, got)
	}
	if want := "parley bench: interrupted after "; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q does not say %q", errOut.String(), want)
	}
}

// A server with API keys answers a run without its key 401: the error
// names --api-key, whose key alone the run sends; with it the run goes.
func TestBenchURLAPIKey(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it")
	}
	base := serveForTest(t, server.Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		APIKeys:    []server.APIKey{{Name: "ops", Key: backupTestKey}},
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	args := []string{"bench", "--url", base, "--duration", "300ms", "--concurrency", "2", "--flow", "favourite-colour", "--events", ""}
	for _, tc := range []struct {
		key  []string
		want string
	}{
		{nil, "status 401"},
		{nil, "(give the server's key with --api-key)"},
		{[]string{"--api-key", "wrong-key-0123456789"}, "(the server does not know the key given with --api-key)"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), append(args, tc.key...), nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 saying %q", tc.key, code, errOut.String(), tc.want)
		}
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), append(args, "--api-key", backupTestKey), nil, &out, &errOut); code != 0 {
		t.Errorf("with the key: exit %d\n%s", code, errOut.String())
	}
}

// The table's header gives the batches' real size: the last batch of
// contacts is smaller when --batch does not divide --concurrency.
func TestBenchTableBatchSize(t *testing.T) {
	for _, tc := range []struct {
		concurrency, batch int
		want               string
	}{
		{16, 4, " batches of 4,"},
		{10, 4, " batches of up to 4,"},
	} {
		var b bytes.Buffer
		(&BenchResult{Flow: "f", Concurrency: tc.concurrency, Batch: tc.batch, GoMaxProcs: 1}).table(&b)
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("--concurrency %d --batch %d: header %q does not say %q", tc.concurrency, tc.batch, strings.SplitN(b.String(), "\n", 2)[0], tc.want)
		}
	}
}

// A --url that takes connections but never answers fails the setup after
// benchSetupTimeout (10 s; shortened here), naming the URL and the request
// it waited for, instead of after a minute.
func TestBenchURLNoAnswer(t *testing.T) {
	base := silentServer(t)
	defer func(d time.Duration) { benchSetupTimeout = d }(benchSetupTimeout)
	benchSetupTimeout = 300 * time.Millisecond
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"bench", "--url", base, "--duration", "300ms", "--concurrency", "2"}, nil, &out, &errOut)
	want := "POST /v1/flows: " + base + " did not answer in 300ms (it takes connections: is it a Parley server?)"
	if code != 1 || !strings.Contains(errOut.String(), want) {
		t.Errorf("exit %d, stderr %q; want exit 1 saying %q", code, errOut.String(), want)
	}
}

// Ctrl-C while a --url target is being set up stops the run at once, with
// status 130 as for a run interrupted later, not after the setup request's
// timeout with status 1.
func TestBenchURLInterruptedInSetup(t *testing.T) {
	base := silentServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(200*time.Millisecond, cancel)
	var out, errOut bytes.Buffer
	start := time.Now()
	code := run(ctx, []string{"bench", "--url", base, "--duration", "1s", "--concurrency", "2"}, nil, &out, &errOut)
	took := time.Since(start)
	want := "parley bench: interrupted while setting up the target (" + base + "), before any message was sent"
	if code != 130 || !strings.Contains(errOut.String(), want) || took > 5*time.Second {
		t.Errorf("exit %d after %s, stderr %q; want exit 130 at once saying %q", code, took.Round(time.Millisecond), errOut.String(), want)
	}
}

// Ctrl-C while --idle sessions are being stored stops the run cleanly: it
// says it was interrupted then and how many were stored, removes the
// temporary data directory and exits 130, without a report.
func TestBenchInterruptedSeeding(t *testing.T) {
	if testing.Short() {
		t.Skip("stores sessions for a moment")
	}
	parent := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(700*time.Millisecond, cancel)
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"bench", "--idle", "10000000", "--data", parent, "--duration", "1s", "--json"}, nil, &out, &errOut)
	want := regexp.MustCompile(`^parley bench: interrupted while storing idle sessions \(\d+ of the 10000000 of --idle stored\), before any message was sent: nothing was measured\n$`)
	if code != 130 || !want.MatchString(errOut.String()) || out.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 130, no report, stderr matching %s", code, out.String(), errOut.String(), want)
	}
	if left, _ := os.ReadDir(parent); len(left) != 0 {
		t.Errorf("the temporary data directory is left: %v", left)
	}
}

// benchFlowFile writes the order status example with its lookup widget
// changed by edit into a file of dir, for --flow FILE.
func benchFlowFile(t *testing.T, dir string, edit func(lookup map[string]any)) string {
	t.Helper()
	doc, err := fs.ReadFile(exampleflows.FS, "order-status/flow.json")
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(doc, &f); err != nil {
		t.Fatal(err)
	}
	for _, w := range f["widgets"].([]any) {
		if m := w.(map[string]any); m["id"] == "lookup" {
			edit(m)
		}
	}
	doc, _ = json.Marshal(f)
	path := filepath.Join(dir, "flow.json")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A --flow FILE's webhooks are called where they are written, and counted
// as the server makes them: one that leaves this machine only with
// --call-webhooks, a named one with its configuration from --webhooks, and
// a run whose calls failed says so rather than measure the Failure path in
// silence.
func TestBenchFlowWebhooks(t *testing.T) {
	var hits atomic.Int64
	status := atomic.Int64{}
	status.Store(200)
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write(orderAnswer)
	}))
	defer svc.Close()
	dir := t.TempDir()
	hooks := filepath.Join(dir, "webhooks.json")
	if err := os.WriteFile(hooks, fmt.Appendf(nil, `{"webhooks":[{"name":"orders","url":%q,"method":"POST"}]}`, svc.URL+"/orders"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := []string{"--messages", "hi|CU001|thanks", "--idle", "0", "--events", "", "--concurrency", "2", "--duration", "400ms"}

	refused := []struct {
		name string
		edit func(map[string]any)
		args []string
		want string
	}{
		{"elsewhere", func(m map[string]any) { m["url"] = "https://orders.example.com/lookup" }, nil,
			`widget "lookup" calls https://orders.example.com/lookup, which is not this machine (or cannot be told before the run): the run's load would go there; give --call-webhooks`},
		{"template host", func(m map[string]any) { m["url"] = "http://@contact.fields.host/lookup" }, nil, "give --call-webhooks"},
		{"named, no file", func(m map[string]any) { delete(m, "url"); m["webhook"] = "orders" }, nil,
			`widget "lookup" calls the named webhook "orders", which is not configured (no --webhooks file was given): every call would fail; give its configuration with --webhooks FILE`},
		{"named, not in the file", func(m map[string]any) { delete(m, "url"); m["webhook"] = "shipping" }, []string{"--webhooks", hooks},
			`"shipping", which is not configured (--webhooks ` + hooks + ` has none of that name)`},
		{"named, --url", func(m map[string]any) { delete(m, "url"); m["webhook"] = "orders" }, []string{"--url", "http://127.0.0.1:1"},
			`the webhook "orders" configured on the server at --url, whose destination the run cannot see: give --call-webhooks`},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			flow := benchFlowFile(t, t.TempDir(), tc.edit)
			args := append(append([]string{"bench", "--flow", flow}, tc.args...), "--messages", "hi|CU001|thanks")
			var out, errOut bytes.Buffer
			if code := run(context.Background(), args, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 saying %q", code, errOut.String(), tc.want)
			}
		})
	}
	if testing.Short() {
		t.Skip("starts a server and drives it")
	}

	type result struct {
		Conversations      int64    `json:"conversations"`
		WebhookCalls       int64    `json:"webhook_calls"`
		WebhookCallsFailed int64    `json:"webhook_calls_failed"`
		Warnings           []string `json:"warnings"`
	}
	// A named webhook, configured by --webhooks, to a service on this
	// machine: every call is counted, though none reaches the receiver.
	named := benchFlowFile(t, t.TempDir(), func(m map[string]any) { delete(m, "url"); m["webhook"] = "orders" })
	var got result
	stderr := benchJSONStderr(t, &got, append([]string{"--flow", named, "--webhooks", hooks, "--json"}, script...)...)
	if got.Conversations == 0 || got.WebhookCalls < got.Conversations || got.WebhookCalls != hits.Load() || got.WebhookCallsFailed != 0 || len(got.Warnings) != 0 {
		t.Errorf("named webhook: %+v, the service answered %d calls; want every conversation's call counted, none failed", got, hits.Load())
	}
	if want := `the flow's webhook is called as written: widget "lookup", ` + svc.URL + "/orders"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not say %q", stderr, want)
	}

	// The same service failing: the run is measured, and says its calls failed.
	status.Store(500)
	hits.Store(0)
	loop := benchFlowFile(t, t.TempDir(), func(m map[string]any) { m["url"] = svc.URL + "/orders" })
	got = result{}
	stderr = benchJSONStderr(t, &got, append([]string{"--flow", loop, "--json"}, script...)...)
	if got.WebhookCalls == 0 || got.WebhookCallsFailed != got.WebhookCalls || got.WebhookCalls != hits.Load() || len(got.Warnings) != 1 {
		t.Errorf("failing webhook: %+v, the service answered %d calls; want every call counted as failed, with a warning", got, hits.Load())
	}
	if want := fmt.Sprintf("parley bench: warning: %d of the %d webhook calls the server made during the run failed (failure %d)", got.WebhookCalls, got.WebhookCalls, got.WebhookCalls); !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not say %q", stderr, want)
	}
}

// With --call-webhooks a webhook off this machine is called as written, and
// the run says so.
func TestBenchCallWebhooks(t *testing.T) {
	flow := benchFlowFile(t, t.TempDir(), func(m map[string]any) { m["url"] = "https://orders.example.com/lookup" })
	doc, err := os.ReadFile(flow)
	if err != nil {
		t.Fatal(err)
	}
	o := benchOptions{flow: flow, callWebhooks: true}
	if err := o.checkWebhooks(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	if want := []string{`widget "lookup", https://orders.example.com/lookup (--call-webhooks)`}; !slices.Equal(o.asWritten, want) {
		t.Errorf("called as written: %q, want %q", o.asWritten, want)
	}
}

// The load average reported is the machine's at the end of the load, which
// its 1-minute figure covers most of in a long run, with the one before the
// first message beside it.
func TestBenchLoadAvgAtEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it for a moment")
	}
	file := filepath.Join(t.TempDir(), "loadavg")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s+" 1/100 4242\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
	write("0.10 0.20 0.30")
	defer func(f string) { loadAvgFile = f }(loadAvgFile)
	loadAvgFile = file
	// The run's own load shows by its end.
	timer := time.AfterFunc(900*time.Millisecond, func() { write("1.50 0.60 0.40") })
	defer timer.Stop()
	var got struct {
		LoadAvg      string `json:"load_avg"`
		LoadAvgStart string `json:"load_avg_start"`
	}
	benchJSON(t, &got, "--duration", "1500ms", "--concurrency", "2", "--idle", "0", "--flow", "favourite-colour", "--events", "", "--json")
	if got.LoadAvg != "1.50 0.60 0.40" || got.LoadAvgStart != "0.10 0.20 0.30" {
		t.Errorf("load_avg %q, load_avg_start %q; want the end's 1.50 0.60 0.40 and the start's 0.10 0.20 0.30", got.LoadAvg, got.LoadAvgStart)
	}
	var b bytes.Buffer
	(&BenchResult{Flow: "f", Concurrency: 1, GoMaxProcs: 1, LoadAvg: got.LoadAvg, LoadAvgStart: got.LoadAvgStart}).table(&b)
	if want := "load 1.50 0.60 0.40 at the end (0.10 0.20 0.30 before)"; !strings.Contains(b.String(), want) {
		t.Errorf("header %q does not say %q", strings.SplitN(b.String(), "\n", 2)[0], want)
	}
}

// A --url run lists the sessions earlier runs left waiting by its own
// contacts' URN prefix, which the store answers without decompressing the
// sessions of other contacts, and without the setup requests' timeout: a
// server holding millions of waiting sessions may take longer than that.
func TestBenchURLListsLeftSessionsCheaply(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it")
	}
	base, _ := benchTarget(t, true)
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	var listings []string
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" && r.URL.Path == "/v1/sessions" {
			mu.Lock()
			listings = append(listings, r.URL.RawQuery)
			mu.Unlock()
			time.Sleep(500 * time.Millisecond) // a long walk
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	defer func(d time.Duration) { benchSetupTimeout = d }(benchSetupTimeout)
	benchSetupTimeout = 300 * time.Millisecond
	var got struct{ Messages, Errors int64 }
	benchJSON(t, &got, "--url", front.URL, "--duration", "300ms", "--concurrency", "2", "--flow", "favourite-colour", "--events", "", "--json")
	if got.Messages == 0 || got.Errors != 0 {
		t.Errorf("%+v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(listings) == 0 {
		t.Fatal("the run did not list the sessions left waiting")
	}
	for _, q := range listings {
		if !strings.Contains(q, "contact_prefix=tel%3A%2B999") {
			t.Errorf("listing %q is not by the run's contacts' URN prefix", q)
		}
	}
}

// The server in process has a new store of the run's own, so setting it up
// lists no sessions left waiting (with --idle, every one would be read for
// nothing); against --url the run lists its own contacts' alone.
func TestBenchSetupListsLeftSessionsOnlyWhenShared(t *testing.T) {
	for _, shared := range []bool{false, true} {
		var mu sync.Mutex
		var listings []string
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/sessions" {
				mu.Lock()
				listings = append(listings, r.URL.RawQuery)
				mu.Unlock()
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{}`)
		}))
		rcv, err := startReceiver(shared)
		if err != nil {
			t.Fatal(err)
		}
		cl := &benchClient{base: api.URL, hc: &fasthttp.Client{}}
		cl.forPort(rcv.port(), shared)
		doc, err := fs.ReadFile(exampleflows.FS, "favourite-colour/flow.json")
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.setup(context.Background(), doc, nil, rcv, nil, io.Discard); err != nil {
			t.Fatal(err)
		}
		rcv.close()
		api.Close()
		switch {
		case !shared && len(listings) != 0:
			t.Errorf("in process: setup listed sessions: %q", listings)
		case shared && (len(listings) == 0 || !strings.Contains(listings[0], "contact_prefix="+url.QueryEscape(rcv.contacts))):
			t.Errorf("--url: listings %q, want one by the run's contacts %s", listings, rcv.contacts)
		}
	}
}

// silentServer returns the URL of a listener that takes connections and
// holds them open without ever answering.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // held open, never answered
		}
	}()
	return "http://" + ln.Addr().String()
}

// subflowTestFlow is a flow of id (none when "") that starts at the first
// of widgets, with a widget "end" after them for their exits.
func subflowTestFlow(id string, widgets ...string) string {
	var first struct{ ID string }
	_ = json.Unmarshal([]byte(widgets[0]), &first)
	head := `{`
	if id != "" {
		head += fmt.Sprintf(`"id":%q,`, id)
	}
	return head + fmt.Sprintf(`"name":"Sub","start":%q,"widgets":[`, first.ID) + strings.Join(widgets, ",") + `,{"id":"end","type":"end"}]}`
}

// subflowWidget enters flow, going on to next.
func subflowWidget(id, flow, next string) string {
	return fmt.Sprintf(`{"id":%q,"type":"subflow","flow":%q,"exits":{"Complete":%q,"Expired":%q}}`, id, flow, next, next)
}

// webhookWidget calls url, going on to "end".
func webhookWidget(id, url string) string {
	return fmt.Sprintf(`{"id":%q,"type":"webhook","url":%q,"method":"GET","timeout":2,"exits":{"Success":"end","Failure":"end"}}`, id, url)
}

// A --flow FILE's subflows are followed, through the subflows they enter
// in turn and round their cycles, to the flows the run's server has: a
// webhook there that leaves this machine is refused as one of the file's
// own is, and with --url so is a subflow the server does not give, whose
// webhooks the run cannot see.
func TestBenchSubflowWebhooks(t *testing.T) {
	const off = "http://198.51.100.7:20310/offmachine"
	const local = "http://127.0.0.1:20410/local"
	base, _ := benchTarget(t, true)
	// middle enters itself, then outbound, whose webhook leaves this machine.
	apiCall(t, "POST", base+"/v1/flows", subflowTestFlow("outbound", webhookWidget("h", off)), nil)
	apiCall(t, "POST", base+"/v1/flows", subflowTestFlow("middle", subflowWidget("again", "middle", "s2"), subflowWidget("s2", "outbound", "end")), nil)
	file := func(enters string) (string, []byte) {
		doc := subflowTestFlow("benchsub", `{"id":"a","type":"wait_for_response","result":"Ans","exits":{"Next":"s"}}`, subflowWidget("s", enters, "end"))
		path := filepath.Join(t.TempDir(), "benchsub.json")
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return path, []byte(doc)
	}
	ctx := context.Background()
	viaMiddle, viaMiddleDoc := file("middle")

	// The command refuses the run before any message is sent.
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"bench", "--url", base, "--flow", viaMiddle, "--messages", "hi|x", "--duration", "300ms", "--concurrency", "2", "--events", ""}, nil, &out, &errOut)
	want := `parley bench: --flow ` + viaMiddle + ` enters subflow "middle" (widget "s"), which enters subflow "outbound" (widget "s2"): widget "h" calls ` + off +
		`, which is not this machine (or cannot be told before the run): the run's load would go there; give --call-webhooks`
	if code != 2 || !strings.HasPrefix(errOut.String(), want) || out.Len() != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 saying %q", code, out.String(), errOut.String(), want)
	}

	check := func(path string, doc []byte, callWebhooks bool) ([]string, error) {
		t.Helper()
		o := benchOptions{flow: path, url: base, callWebhooks: callWebhooks}
		err := o.checkWebhooks(ctx, doc)
		return o.asWritten, err
	}
	if as, err := check(viaMiddle, viaMiddleDoc, true); err != nil || !slices.Equal(as, []string{
		`subflow "middle" (widget "s"), which enters subflow "outbound" (widget "s2"): widget "h", ` + off + ` (--call-webhooks)`}) {
		t.Errorf("--call-webhooks: %v, called as written %q", err, as)
	}

	// The revision the server enters is checked: the published one, not a
	// later draft, else the latest.
	apiCall(t, "PUT", base+"/v1/flows/outbound", subflowTestFlow("outbound", webhookWidget("h", local)), nil)
	apiCall(t, "POST", base+"/v1/flows/outbound/publish", `{}`, nil)
	apiCall(t, "PUT", base+"/v1/flows/outbound", subflowTestFlow("outbound", webhookWidget("h", off)), nil)
	if as, err := check(viaMiddle, viaMiddleDoc, false); err != nil || !slices.Equal(as, []string{
		`subflow "middle" (widget "s"), which enters subflow "outbound" (widget "s2"): widget "h", ` + local}) {
		t.Errorf("published revision on this machine, later draft off it: %v, called as written %q; want the run allowed", err, as)
	}
	apiCall(t, "POST", base+"/v1/flows/outbound/publish", `{}`, nil)
	if _, err := check(viaMiddle, viaMiddleDoc, false); err == nil || !strings.Contains(err.Error(), `widget "h" calls `+off) {
		t.Errorf("the draft published: %v; want it refused", err)
	}

	// A subflow the server does not give is named, and refused.
	missing, missingDoc := file("missing")
	_, err := check(missing, missingDoc, false)
	if want := `--flow ` + missing + ` enters subflow "missing" (widget "s"), which the run could not read from ` + base + ` (GET /v1/flows/missing: status 404`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("a subflow not on the server: %v; want %q", err, want)
	}
	if as, err := check(missing, missingDoc, true); err != nil || len(as) != 1 || !strings.HasPrefix(as[0], `subflow "missing" (widget "s"), not read (GET /v1/flows/missing: status 404`) {
		t.Errorf("a subflow not on the server, --call-webhooks: %v, called as written %q", err, as)
	}

	// In process the subflows are the examples the new store is seeded with.
	inProcess := func(path string, doc []byte, examples fs.FS) ([]string, error) {
		t.Helper()
		o := benchOptions{flow: path, examples: examples}
		err := o.checkWebhooks(ctx, doc)
		return o.asWritten, err
	}
	shop, shopDoc := file("shop")
	examples := fstest.MapFS{"shop/flow.json": {Data: []byte(subflowTestFlow("", subflowWidget("back", "shop", "h"), webhookWidget("h", off)))}}
	if _, err := inProcess(shop, shopDoc, examples); err == nil || !strings.Contains(err.Error(), `enters subflow "shop" (widget "s"): widget "h" calls `+off) {
		t.Errorf("in process, an example off this machine: %v; want it refused", err)
	}
	// The order status example calls the server's own demo service; a
	// flow the new store will not have calls nothing.
	orders, ordersDoc := file("order-status")
	if as, err := inProcess(orders, ordersDoc, nil); err != nil || !slices.Equal(as, []string{
		`subflow "order-status" (widget "s"): widget "lookup", http://127.0.0.1:8080/demo/order-status`}) {
		t.Errorf("in process, the order status example: %v, called as written %q", err, as)
	}
	if as, err := inProcess(viaMiddle, viaMiddleDoc, nil); err != nil || len(as) != 0 {
		t.Errorf("in process, a flow not among the examples: %v, called as written %q", err, as)
	}
}

// benchExport writes a legacy RapidPro export whose one flow replies and
// calls the webhook hook, and returns its path.
func benchExport(t *testing.T, hook string) string {
	t.Helper()
	export := fmt.Sprintf(`{"version": "11.7", "flows": [{"version": "11.7", "base_language": "eng", "flow_type": "M",
 "metadata": {"uuid": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "name": "Hooks"}, "entry": "a1",
 "action_sets": [{"uuid": "a1", "destination": "r1", "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "hi"}}]}],
 "rule_sets": [{"uuid": "r1", "ruleset_type": "webhook", "label": "Hook", "operand": "@step.value",
   "config": {"webhook": %q, "webhook_action": "POST"},
   "rules": [{"uuid": "x1", "category": {"eng": "Success"}, "destination": null, "test": {"type": "webhook_status", "status": "success"}},
     {"uuid": "x2", "category": {"eng": "Failure"}, "destination": null, "test": {"type": "webhook_status", "status": "failure"}}]}]}]}`, hook)
	path := filepath.Join(t.TempDir(), "export.json")
	if err := os.WriteFile(path, []byte(export), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A RapidPro export given to --flow is run as the Parley flow its first
// flow imports as, and its webhooks are checked as a flow file's: one that
// leaves this machine is refused without --call-webhooks, before anything
// is sent to the server; RapidPro's demo order service goes to the run's
// receiver, as the native example's does.
func TestBenchRapidProExportWebhooks(t *testing.T) {
	export := benchExport(t, "https://orders.example.com/lookup")
	want := `parley bench: --flow ` + export + `: widget "r1" calls https://orders.example.com/lookup, which is not this machine (or cannot be told before the run): the run's load would go there; give --call-webhooks`
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"bench", "--flow", export, "--messages", "hi"}, nil, &out, &errOut); code != 2 || !strings.HasPrefix(errOut.String(), want) {
		t.Errorf("in process: exit %d, stderr %q; want exit 2 saying %q", code, errOut.String(), want)
	}
	o := benchOptions{flow: export, messages: "hi", callWebhooks: true}
	if conv, _, err := o.benchFlow(); err != nil {
		t.Fatal(err)
	} else if err := o.checkWebhooks(context.Background(), conv); err != nil || !slices.Equal(o.asWritten, []string{`widget "r1", https://orders.example.com/lookup (--call-webhooks)`}) {
		t.Errorf("with --call-webhooks: %v, called as written %q", err, o.asWritten)
	}
	if testing.Short() {
		t.Skip("starts a server and drives it")
	}
	base := serveForTest(t, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"bench", "--url", base, "--flow", export, "--messages", "hi"}, nil, &out, &errOut); code != 2 || !strings.HasPrefix(errOut.String(), want) {
		t.Errorf("--url: exit %d, stderr %q; want exit 2 saying %q", code, errOut.String(), want)
	}
	resp, err := http.Get(base + "/v1/flows")
	if err != nil {
		t.Fatal(err)
	}
	list, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(list), "Hooks") {
		t.Errorf("the refused run imported the export on the server: %s", list)
	}

	var got struct {
		Conversations int64 `json:"conversations"`
		WebhookCalls  int64 `json:"webhook_calls"`
		Failed        int64 `json:"webhook_calls_failed"`
	}
	demo := benchExport(t, "https://textit.in/demo/status")
	benchJSONStderr(t, &got, "--flow", demo, "--messages", "hi", "--json", "--idle", "0", "--events", "", "--concurrency", "2", "--duration", "400ms")
	if got.Conversations == 0 || got.WebhookCalls < got.Conversations || got.Failed != 0 {
		t.Errorf("the export with RapidPro's demo service: %+v; want conversations, each with its webhook call answered by the run's receiver", got)
	}
}

// With --url and --call-webhooks, a named webhook the server does not have
// is refused, as one missing from --webhooks is in process: every call
// would fail; one it has is called as the server has it.
func TestBenchURLNamedWebhookMissing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	base := serveForTest(t, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	flow := benchFlowFile(t, t.TempDir(), func(m map[string]any) { delete(m, "url"); m["webhook"] = "orders" })
	want := `parley bench: --flow ` + flow + `: widget "lookup" calls the named webhook "orders", which the server at --url does not have (GET /v1/webhook-configs/orders: 404): every call would fail; configure it there`
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"bench", "--url", base, "--call-webhooks", "--flow", flow, "--messages", "hi|CU001|thanks"}, nil, &out, &errOut); code != 2 || !strings.HasPrefix(errOut.String(), want) {
		t.Errorf("exit %d, stderr %q; want exit 2 saying %q", code, errOut.String(), want)
	}
	req, _ := http.NewRequest("PUT", base+"/v1/webhook-configs/orders", strings.NewReader(`{"name":"orders","url":"https://orders.example.com/lookup","method":"POST"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("PUT /v1/webhook-configs/orders: %d", resp.StatusCode)
	}
	doc, err := os.ReadFile(flow)
	if err != nil {
		t.Fatal(err)
	}
	o := benchOptions{flow: flow, url: base, callWebhooks: true}
	if err := o.checkWebhooks(context.Background(), doc); err != nil || !slices.Equal(o.asWritten, []string{`widget "lookup", the server's webhook "orders"`}) {
		t.Errorf("once the server has it: %v, called as written %q", err, o.asWritten)
	}
}

// benchSubflowExport writes a legacy RapidPro export of two flows: the
// parent enters the child at once and completes when it does; the child
// asks for a colour, then, when hook is given, calls it. It returns the
// export's path.
func benchSubflowExport(t *testing.T, hook string) string {
	t.Helper()
	next, hookSet := "null", ""
	if hook != "" {
		next = `"h1"`
		hookSet = fmt.Sprintf(`, {"uuid": "h1", "ruleset_type": "webhook", "label": "Hook", "operand": "@step.value",
   "config": {"webhook": %q, "webhook_action": "POST"},
   "rules": [{"uuid": "hx1", "category": {"eng": "Success"}, "destination": null, "test": {"type": "webhook_status", "status": "success"}},
     {"uuid": "hx2", "category": {"eng": "Failure"}, "destination": null, "test": {"type": "webhook_status", "status": "failure"}}]}`, hook)
	}
	export := `{"version": "11.7", "flows": [{"version": "11.7", "base_language": "eng", "flow_type": "M",
 "metadata": {"uuid": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", "name": "Parent"}, "entry": "s1",
 "action_sets": [{"uuid": "a2", "destination": null, "actions": [{"type": "reply", "uuid": "m2", "msg": {"eng": "thanks"}}]}],
 "rule_sets": [{"uuid": "s1", "ruleset_type": "subflow", "label": "Sub", "operand": "@step.value",
   "config": {"flow": {"uuid": "cccccccc-cccc-4ccc-8ccc-cccccccccccc", "name": "Child"}},
   "rules": [{"uuid": "sx1", "category": {"eng": "Complete"}, "destination": "a2", "test": {"type": "subflow", "exit_type": "completed"}},
     {"uuid": "sx2", "category": {"eng": "Expired"}, "destination": null, "test": {"type": "subflow", "exit_type": "expired"}}]}]},
 {"version": "11.7", "base_language": "eng", "flow_type": "M",
 "metadata": {"uuid": "cccccccc-cccc-4ccc-8ccc-cccccccccccc", "name": "Child"}, "entry": "a1",
 "action_sets": [{"uuid": "a1", "destination": "c1", "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "Which colour?"}}]}],
 "rule_sets": [{"uuid": "c1", "ruleset_type": "wait_message", "label": "Colour", "operand": "@step.value", "config": {},
   "rules": [{"uuid": "cx1", "category": {"eng": "Red"}, "destination": ` + next + `, "test": {"type": "contains_any", "test": {"eng": "red"}}},
     {"uuid": "cx2", "category": {"eng": "Other"}, "destination": ` + next + `, "test": {"type": "true"}}]}` + hookSet + `]}]}`
	path := filepath.Join(t.TempDir(), "subflow-export.json")
	if err := os.WriteFile(path, []byte(export), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A RapidPro export runs with every flow it imports: the flows its first
// one enters are stored beside it, in process under their ids and with
// --url under ids of the run's own, which the next run deletes with the
// run's flow, and their webhooks are checked as a subflow's.
func TestBenchRapidProExportSubflows(t *testing.T) {
	const child = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
	// The child's webhook is checked before anything is sent, in process
	// and with --url alike.
	off := benchSubflowExport(t, "https://orders.example.com/lookup")
	want := `parley bench: --flow ` + off + ` enters subflow "` + child + `" (widget "s1"): widget "h1" calls https://orders.example.com/lookup, which is not this machine (or cannot be told before the run): the run's load would go there; give --call-webhooks`
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"bench", "--flow", off, "--messages", "hi|red"}, nil, &out, &errOut); code != 2 || !strings.HasPrefix(errOut.String(), want) {
		t.Errorf("in process, the child's webhook off this machine: exit %d, stderr %q; want exit 2 saying %q", code, errOut.String(), want)
	}
	if testing.Short() {
		t.Skip("starts a server and drives it")
	}
	var got struct {
		Conversations int64 `json:"conversations"`
		Errors        int64 `json:"errors"`
	}
	args := []string{"--messages", "hi|red", "--json", "--events", "", "--concurrency", "2", "--duration", "400ms"}
	export := benchSubflowExport(t, "")
	benchJSON(t, &got, append([]string{"--flow", export, "--idle", "0"}, args...)...)
	if got.Conversations == 0 || got.Errors != 0 {
		t.Errorf("in process: %+v; want conversations through the child flow", got)
	}

	base, _ := benchTarget(t, true)
	errOut.Reset()
	if code := run(context.Background(), []string{"bench", "--url", base, "--flow", off, "--messages", "hi|red"}, nil, &out, &errOut); code != 2 || !strings.HasPrefix(errOut.String(), want) {
		t.Errorf("--url, the child's webhook off this machine: exit %d, stderr %q; want exit 2 saying %q", code, errOut.String(), want)
	}
	// The child's demo service is the server's own, on a loopback address.
	demo := benchSubflowExport(t, "https://textit.in/demo/status")
	stored := func() []string {
		var list struct{ Flows []struct{ ID string } }
		apiCall(t, "GET", base+"/v1/flows", "", &list)
		var ids []string
		for _, f := range list.Flows {
			if strings.HasPrefix(f.ID, "bench-flow-") || strings.HasSuffix(f.ID, child) {
				ids = append(ids, f.ID)
			}
		}
		slices.Sort(ids)
		return ids
	}
	var runs [][]string
	for range 2 {
		got.Conversations = 0
		benchJSON(t, &got, append([]string{"--url", base, "--flow", demo}, args...)...)
		if got.Conversations == 0 || got.Errors != 0 {
			t.Fatalf("--url: %+v; want conversations through the child flow", got)
		}
		runs = append(runs, stored())
	}
	// Each run has its flow bench-flow-PORT and the child as
	// bench-flow-PORT-ID; the second deleted the first's.
	first := runs[0]
	if len(first) != 2 || !strings.HasSuffix(first[1], "-"+child) || first[1] != first[0]+"-"+child {
		t.Fatalf("after the first run the server has %q; want bench-flow-PORT and bench-flow-PORT-%s", first, child)
	}
	second := runs[1]
	if len(second) != 2 || second[1] != second[0]+"-"+child || slices.Contains(second, first[0]) || slices.Contains(second, first[1]) {
		t.Errorf("after the second run the server has %q; want the second run's flow and child alone (the first's were %q)", second, first)
	}
	var sub struct {
		Definition struct {
			Widgets []struct{ ID, Flow string }
		}
	}
	apiCall(t, "GET", base+"/v1/flows/"+second[0], "", &sub)
	if i := slices.IndexFunc(sub.Definition.Widgets, func(w struct{ ID, Flow string }) bool { return w.ID == "s1" }); i < 0 || sub.Definition.Widgets[i].Flow != second[1] {
		t.Errorf("the run's flow %s: widgets %+v; want s1 entering %s", second[0], sub.Definition.Widgets, second[1])
	}
}

// benchPartialExport writes a legacy RapidPro export of two flows: the
// first, "Where", does not import (a district rule, which Parley cannot
// evaluate); the second, "Hello", replies. It returns the export's path.
func benchPartialExport(t *testing.T, second bool) string {
	t.Helper()
	export := `{"version": "11.7", "flows": [
 {"version": "11.7", "base_language": "eng", "flow_type": "M",
 "metadata": {"uuid": "dddddddd-dddd-4ddd-8ddd-dddddddddddd", "name": "Where"}, "entry": "w1",
 "action_sets": [],
 "rule_sets": [{"uuid": "w1", "ruleset_type": "wait_message", "label": "Place", "operand": "@step.value", "config": {},
   "rules": [{"uuid": "wx1", "category": {"eng": "Here"}, "destination": null, "test": {"type": "district", "test": "state"}},
     {"uuid": "wx2", "category": {"eng": "Other"}, "destination": null, "test": {"type": "true"}}]}]}`
	if second {
		export += `,
 {"version": "11.7", "base_language": "eng", "flow_type": "M",
 "metadata": {"uuid": "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee", "name": "Hello"}, "entry": "a1",
 "action_sets": [{"uuid": "a1", "destination": null, "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "hi there"}}]}],
 "rule_sets": []}`
	}
	path := filepath.Join(t.TempDir(), "partial-export.json")
	if err := os.WriteFile(path, []byte(export+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A RapidPro export whose flows do not all import names each that did not,
// by its name and uuid, with the import's error, and says which flow runs
// when the export's first did not import; one of which no flow imports is
// refused naming them the same way.
func TestBenchRapidProExportNamesFlowsNotImported(t *testing.T) {
	const where = `flow "Where" (uuid dddddddd-dddd-4ddd-8ddd-dddddddddddd) did not import: ruleset w1 rules[0].test: district test: location rules need RapidPro's administrative boundaries`
	none := benchPartialExport(t, false)
	var out, errOut bytes.Buffer
	want := `parley bench: --flow ` + none + `: a RapidPro export with no flow that imports: ` + where
	if code := run(context.Background(), []string{"bench", "--flow", none, "--messages", "hi"}, nil, &out, &errOut); code != 2 || !strings.HasPrefix(errOut.String(), want) {
		t.Errorf("no flow imports: exit %d, stderr %q; want exit 2 saying %q", code, errOut.String(), want)
	}
	if testing.Short() {
		t.Skip("starts a server and drives it")
	}
	partial := benchPartialExport(t, true)
	var got struct {
		Conversations int64 `json:"conversations"`
		Errors        int64 `json:"errors"`
	}
	stderr := benchJSONStderr(t, &got, "--flow", partial, "--messages", "hi", "--json", "--idle", "0", "--events", "", "--concurrency", "1", "--duration", "300ms")
	for _, want := range []string{
		`parley bench: --flow ` + partial + `: ` + where,
		`parley bench: --flow ` + partial + `: runs flow "Hello" (uuid eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee) instead, the export's first flow that imports` + "\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q; want it to say %q", stderr, want)
		}
	}
	if got.Conversations == 0 || got.Errors != 0 {
		t.Errorf("the run of the flow that imports: %+v; want conversations", got)
	}
}

// A run whose sessions fail says so, with the error that failed the first
// one, rather than blaming --messages.
func TestBenchSessionsFail(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it")
	}
	flow := filepath.Join(t.TempDir(), "fails.json")
	doc := subflowTestFlow("fails", `{"id":"a","type":"wait_for_response","exits":{"Next":"s"}}`, subflowWidget("s", "missing", "end"))
	if err := os.WriteFile(flow, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"bench", "--flow", flow, "--messages", "hi|go", "--duration", "300ms", "--concurrency", "2", "--idle", "0", "--events", ""}, nil, &out, &errOut)
	want := regexp.MustCompile(`parley bench: none of the \d+ conversations completed the flow: \d+ sessions failed, the first after the text "go", at widget "s": subflow "missing": flow "missing": not found \(session [0-9a-f-]{36}\)\n`)
	if code != 1 || !want.MatchString(errOut.String()) || strings.Contains(errOut.String(), "give --messages") {
		t.Errorf("exit %d, stderr %q; want exit 1 saying %s", code, errOut.String(), want)
	}
}

// --profile makes its directory, but not the folders above it: a mistyped
// path is refused, exit 2, and leaves nothing made; an existing directory
// is taken, and a file is refused.
func TestBenchProfileDirParentMissing(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, want string }{
		{filepath.Join(tmp, "typo", "prof"), "--profile " + filepath.Join(tmp, "typo", "prof") + ": the directory " + filepath.Join(tmp, "typo") + " does not exist"},
		{file, "--profile " + file + ": " + file + " is a file: give a directory"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"bench", "--profile", tc.dir, "--idle", "1000000"}, nil, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("--profile %s: exit %d, stderr %q; want exit 2 naming %q", tc.dir, code, errOut.String(), tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "typo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused --profile made its parent folder: %v", err)
	}
	o := benchOptions{cpuProfile: filepath.Join(tmp, "prof")}
	for range 2 { // made, then taken as it is
		if err := o.openOutputs(); err != nil {
			t.Fatalf("--profile in an existing folder: %v", err)
		}
		o.closeOutputs()
	}
}

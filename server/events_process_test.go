package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/parleyhq/parley/delivery"
)

// eventCounter receives events, checks each signature with the Standard
// Webhooks reference library, and counts them by webhook-id.
type eventCounter struct {
	wh *standardwebhooks.Webhook

	mu      sync.Mutex
	byMsg   map[string]int             // webhook-id → deliveries
	logical map[string]map[string]bool // type + session → webhook-ids seen
	types   map[string]map[string]bool // session → types seen
	badSigs []string
	total   int
}

func newEventCounter(t *testing.T, secret string) *eventCounter {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return &eventCounter{wh: wh, byMsg: map[string]int{}, logical: map[string]map[string]bool{}, types: map[string]map[string]bool{}}
}

func (c *eventCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	msgID := r.Header.Get("webhook-id")
	// A receiver a little slower than the server makes a backlog, so the
	// kill finds deliveries queued and in flight.
	time.Sleep(2 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	if err := c.wh.Verify(body, r.Header); err != nil {
		c.badSigs = append(c.badSigs, fmt.Sprintf("%s: %v", msgID, err))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var env struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data struct {
			SessionID string `json:"session_id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &env)
	c.byMsg[msgID]++
	key := env.Type + " " + env.Data.SessionID
	if c.logical[key] == nil {
		c.logical[key] = map[string]bool{}
	}
	c.logical[key][msgID] = true
	if env.Data.SessionID != "" {
		if c.types[env.Data.SessionID] == nil {
			c.types[env.Data.SessionID] = map[string]bool{}
		}
		c.types[env.Data.SessionID][env.Type] = true
	}
	w.WriteHeader(http.StatusNoContent)
}

// missing lists the expected events of each session not received yet.
func (c *eventCounter) missing(expected map[string][]string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id, types := range expected {
		for _, typ := range types {
			if !c.types[id][typ] {
				out = append(out, typ+" of "+id)
			}
		}
	}
	sort.Strings(out)
	return out
}

// A thousand sessions run to completion while the server is SIGKILLed and
// restarted, once with a store file of few free pages and once with one of
// many, whose commits do not write bbolt's list of free pages, so that the
// restart rebuilds it: every turn answered before the kill is stored, the
// file the kill left is undamaged, and every event is delivered at least
// once, correctly signed, a duplicate always carrying the webhook-id of the
// first delivery.
func TestEventDeliverySurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	bin := buildServer(t)
	for _, tc := range []struct {
		name     string
		manyFree bool
	}{{"few free pages", false}, {"many free pages", true}} {
		t.Run(tc.name, func(t *testing.T) { testDeliverySurvivesKill(t, bin, tc.manyFree) })
	}
}

func testDeliverySurvivesKill(t *testing.T, bin string, manyFree bool) {
	const n = 1000
	dir := t.TempDir()
	if manyFree {
		freePages(t, dir)
	}
	addr := freePort(t)
	secret := delivery.NewSecret()
	counter := newEventCounter(t, secret)
	receiver := httptest.NewServer(counter)
	defer receiver.Close()
	args := []string{"--allow-cidr", "127.0.0.0/8"}

	first := startServer(t, bin, addr, dir, args...)
	if code, m, err := first.post("/v1/flows", json.RawMessage(askFlow)); err != nil || code != 201 {
		t.Fatalf("create flow: %d %v %v", code, m, err)
	}
	if code, m, err := first.post("/v1/webhooks", map[string]any{
		"url": receiver.URL + "/events", "events": []string{"*"}, "secrets": []map[string]any{{"secret": secret}},
	}); err != nil || code != 201 {
		t.Fatalf("subscribe: %d %v %v", code, m, err)
	}

	// Each session: start, then answer. Halfway through, SIGKILL the server
	// while turns and deliveries are under way. acked records the status
	// of each session's last answered turn before the kill.
	ids := make([]string, n)
	done := make([]bool, n)
	acked := make([]string, n)
	var completed atomic.Int64
	var kill sync.Once
	session := func(p *proc, i int) {
		if ids[i] == "" {
			code, m, err := p.post("/v1/sessions", map[string]any{
				"flow": "ask", "contact": map[string]any{"urn": fmt.Sprintf("tel:+1%06d", i)},
				"variables": map[string]any{"code": fmt.Sprint(i)},
			})
			if err != nil || code != 201 {
				return
			}
			ids[i] = m["id"].(string)
			if p == first {
				acked[i] = "waiting"
			}
		}
		code, _, err := p.post("/v1/sessions/"+ids[i]+"/resume", map[string]any{"text": fmt.Sprintf("n%d", i)})
		if err != nil {
			return
		}
		if code == 409 { // answered before the kill, reply lost
			code = 200
		}
		if code == 200 {
			done[i] = true
			if p == first {
				acked[i] = "completed"
			}
			if completed.Add(1) == n/2 {
				kill.Do(func() { _ = first.cmd.Process.Kill() })
			}
		}
	}
	parallel(n, 16, func(i int) { session(first, i) })
	<-first.done
	counter.mu.Lock()
	before := counter.total
	counter.mu.Unlock()
	t.Logf("SIGKILL after %d completed sessions and %d events received", completed.Load(), before)
	checkStoreFile(t, bin, dir)

	second := startServer(t, bin, addr, dir, args...)
	if rebuilt := strings.Contains(second.stderr.String(), "rebuilt by reading the file"); rebuilt != manyFree {
		t.Errorf("restart after SIGKILL rebuilt the list of free pages: %v, want %v (many free pages: %v)\n%s", rebuilt, manyFree, manyFree, second.stderr.String())
	}
	// Every turn answered before the kill is stored, with what it saved.
	lost := 0
	for i := range n {
		if acked[i] == "" {
			continue
		}
		code, m, err := second.get("/v1/sessions/" + ids[i])
		ok := err == nil && code == 200 && (m["status"] == acked[i] || acked[i] == "waiting" && m["status"] == "completed")
		if ok && m["status"] == "completed" {
			ok = flowVar(m, "name") == fmt.Sprintf("n%d", i)
		}
		if !ok {
			if lost++; lost <= 5 {
				t.Errorf("session %d (%s), answered %s before the kill: %d %v %v", i, ids[i], acked[i], code, m, err)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d sessions lost a turn answered before the kill", lost)
	}
	parallel(n, 16, func(i int) {
		if !done[i] {
			session(second, i)
		}
	})
	for i := range n {
		if !done[i] {
			t.Fatalf("session %d (%s) did not complete after the restart", i, ids[i])
		}
	}

	// Expected: every stored session's launch and start; for completed
	// ones, the saved result, the end and flow.completed. Sessions whose
	// start was answered by nobody (killed) are in the store too.
	expected := map[string][]string{}
	after := ""
	for {
		resp, err := http.Get(second.base + "/v1/sessions?limit=1000&after=" + url.QueryEscape(after))
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Sessions []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"sessions"`
			Next string `json:"next"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Sessions {
			types := []string{"session.launched", "session.started"}
			if s.Status == "completed" {
				types = append(types, "session.updated", "session.finished", "flow.completed")
			}
			expected[s.ID] = types
		}
		if page.Next == "" || len(page.Sessions) == 0 {
			break
		}
		after = page.Next
	}
	if len(expected) < n {
		t.Fatalf("%d sessions stored, want at least %d", len(expected), n)
	}

	deadline := time.Now().Add(3 * time.Minute)
	for {
		missing := counter.missing(expected)
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			if len(missing) > 10 {
				missing = missing[:10]
			}
			t.Fatalf("events never delivered (first 10): %v", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}

	counter.mu.Lock()
	defer counter.mu.Unlock()
	if len(counter.badSigs) > 0 {
		t.Errorf("%d deliveries failed the reference signature check, e.g. %s", len(counter.badSigs), counter.badSigs[0])
	}
	dups := 0
	for _, c := range counter.byMsg {
		dups += c - 1
	}
	for key, msgIDs := range counter.logical {
		if len(msgIDs) > 1 {
			t.Errorf("%s arrived under %d different webhook-ids", key, len(msgIDs))
		}
	}
	t.Logf("%d sessions, %d events received, %d distinct, %d duplicates", len(expected), counter.total, len(counter.byMsg), dups)
}

package server

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/store"
)

// /metrics' parley_webhook_pending_deliveries and parley_webhook_outbox_depth
// read counters the store keeps with the deliveries; this test holds them
// to a count of the store file's keys through everything that makes, ends
// and resends deliveries: creation, success, a retry, failure (the
// schedule run out), disabling and deleting an endpoint, a kill -9 while
// deliveries are under way, the start after it, and a file of an older
// layout that kept no such counter.
func TestPendingDeliveriesGaugeMatchesStore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	bin := buildServer(t)
	dir := t.TempDir()
	addr := freePort(t)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/ok") {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer receiver.Close()
	// Three attempts: at once, 50 ms later, an hour later; a delivery to a
	// failing endpoint stays pending for the hour, and a retry of it is its
	// last attempt.
	args := []string{"--allow-cidr", "127.0.0.0/8", "--delivery-schedule", "0s,50ms,1h"}

	p := startServer(t, bin, addr, dir, args...)
	if code, m, err := p.post("/v1/flows", json.RawMessage(askFlow)); err != nil || code != 201 {
		t.Fatalf("create flow: %d %v %v", code, m, err)
	}
	subs := map[string]string{}
	for _, name := range []string{"ok", "failing", "disabled", "deleted"} {
		code, m, err := p.post("/v1/webhooks", map[string]any{"url": receiver.URL + "/" + name, "events": []string{"*"}})
		if err != nil || code != 201 {
			t.Fatalf("subscribe %s: %d %v %v", name, code, m, err)
		}
		subs[name] = m["id"].(string)
	}
	// sessions starts n sessions, each making events for every endpoint;
	// after is called after each one started.
	sessions := func(p *proc, from, n int, after func()) {
		parallel(n, 8, func(i int) {
			code, m, err := p.post("/v1/sessions", map[string]any{"flow": "ask", "contact": map[string]any{"urn": fmt.Sprintf("tel:+1%06d", from+i)}})
			if after != nil {
				after() // the process may be killed: no answer is expected
				return
			}
			if err != nil || code != 201 {
				t.Errorf("start session %d: %d %v %v", from+i, code, m, err)
			}
		})
	}
	// pendingOf is what GET /v1/webhooks/{id}/health counts, reading the
	// endpoint's due deliveries one by one.
	pendingOf := func(p *proc, id string) int {
		code, m, err := p.get("/v1/webhooks/" + id + "/health")
		if err != nil || code != 200 {
			t.Fatalf("health of %s: %d %v %v", id, code, m, err)
		}
		return int(m["pending"].(float64))
	}
	// settled waits until the gauge equals the endpoints' pending
	// deliveries and want says the counts are where the test expects them.
	var last map[string]int
	settled := func(p *proc, what string, want func(pending map[string]int) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			pending, sum := map[string]int{}, 0
			for name, id := range subs {
				pending[name] = pendingOf(p, id)
				sum += pending[name]
			}
			gauge := metric(t, p, "parley_webhook_pending_deliveries")
			outbox := metric(t, p, "parley_webhook_outbox_depth")
			if int(gauge) == sum && outbox == 0 && want(pending) {
				last = pending
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: parley_webhook_pending_deliveries %v, outbox depth %v; the endpoints' pending deliveries %v (sum %d)", what, gauge, outbox, pending, sum)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Creation and success: every endpoint but "ok" keeps its deliveries
	// pending for their third attempt.
	sessions(p, 0, 20, nil)
	settled(p, "created", func(pending map[string]int) bool {
		return pending["ok"] == 0 && pending["failing"] >= 40 && pending["disabled"] == pending["failing"] && pending["deleted"] == pending["failing"]
	})
	failing := last["failing"]
	// A retry: the last attempt of a delivery that had its first two,
	// which fails and ends it failed.
	var retried string
	for deadline := time.Now().Add(30 * time.Second); retried == ""; {
		code, page, err := p.get("/v1/webhooks/" + subs["failing"] + "/deliveries?status=pending&limit=100")
		if err != nil || code != 200 {
			t.Fatalf("list pending deliveries: %d %v %v", code, page, err)
		}
		for _, d := range page["data"].([]any) {
			if d := d.(map[string]any); d["attempts"] == 2.0 {
				retried = d["id"].(string)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pending delivery of the failing endpoint had two attempts: %v", page)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, m, err := p.post("/v1/deliveries/"+retried+"/retry", nil); err != nil || code != 200 {
		t.Fatalf("retry %s: %d %v %v", retried, code, m, err)
	}
	settled(p, "retried", func(pending map[string]int) bool { return pending["failing"] == failing-1 })
	// Disabling and deleting end the endpoints' pending deliveries.
	if code, m, err := p.put("/v1/webhooks/"+subs["disabled"], map[string]any{"url": receiver.URL + "/disabled", "events": []string{"*"}, "disabled": true}); err != nil || code != 200 {
		t.Fatalf("disable: %d %v %v", code, m, err)
	}
	if code, err := p.delete("/v1/webhooks/" + subs["deleted"]); err != nil || code != 204 {
		t.Fatalf("delete: %d %v", code, err)
	}
	delete(subs, "deleted")
	settled(p, "disabled and deleted", func(pending map[string]int) bool { return pending["disabled"] == 0 && pending["failing"] == failing-1 })

	// kill -9 while sessions fan out and deliveries are sent.
	var started atomic.Int64
	var kill sync.Once
	sessions(p, 1000, 200, func() {
		if started.Add(1) == 100 {
			kill.Do(func() { _ = p.cmd.Process.Kill() })
		}
	})
	<-p.done
	checkDeliveryCounters(t, dir, "after kill -9")

	p = startServer(t, bin, addr, dir, args...)
	sessions(p, 2000, 10, nil)
	settled(p, "restarted after kill -9", func(pending map[string]int) bool { return pending["ok"] == 0 && pending["disabled"] == 0 })
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v\n%s", err, p.stderr.String())
	}
	checkDeliveryCounters(t, dir, "after a stop")

	// A file as an older version left it: layout 7, no pending deliveries
	// counter, an outbox counter that only grew.
	err := withStoreFile(dir, func(tx *bbolt.Tx) error {
		stats := tx.Bucket([]byte("stats"))
		if err := stats.Delete([]byte(store.CounterPendingDeliveries)); err != nil {
			return err
		}
		if err := stats.Put([]byte(store.CounterOutbox), binary.BigEndian.AppendUint64(nil, 123456)); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("layout"), binary.BigEndian.AppendUint32(nil, 7))
	})
	if err != nil {
		t.Fatal(err)
	}
	p = startServer(t, bin, addr, dir, args...)
	if log := p.stderr.String(); !strings.Contains(log, "store: counted the outbox and the pending deliveries once") {
		t.Errorf("the start on a layout 7 file logged no count of the pending deliveries:\n%s", log)
	}
	settled(p, "started on a layout 7 file", func(map[string]int) bool { return true })
	sessions(p, 3000, 5, nil)
	settled(p, "sessions on the upgraded file", func(pending map[string]int) bool { return pending["ok"] == 0 })
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v\n%s", err, p.stderr.String())
	}
	checkDeliveryCounters(t, dir, "after the upgrade")
}

// withStoreFile runs fn in a write transaction of the store file in dir,
// with no server running.
func withStoreFile(dir string, fn func(tx *bbolt.Tx) error) error {
	db, err := bbolt.Open(filepath.Join(dir, "parley.db"), 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(fn)
}

// checkDeliveryCounters compares the store file's counters of the outbox
// and the pending deliveries with a count of the buckets' keys.
func checkDeliveryCounters(t *testing.T, dir, when string) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, "parley.db"), 0o600, &bbolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		for _, c := range []struct{ counter, bucket string }{
			{store.CounterOutbox, store.OutboxBucket}, {store.CounterPendingDeliveries, store.DueBucket},
		} {
			keys := 0
			if bk := tx.Bucket([]byte(c.bucket)); bk != nil {
				_ = bk.ForEach(func(_, _ []byte) error { keys++; return nil })
			}
			if got := store.ReadCounter(tx, c.counter); got != int64(keys) {
				t.Errorf("%s: counter %s = %d, but bucket %s holds %d keys", when, c.counter, got, c.bucket, keys)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (p *proc) put(path string, body any) (int, map[string]any, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPut, p.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return jsonObjectReply(http.DefaultClient.Do(req))
}

func (p *proc) delete(path string) (int, error) {
	req, err := http.NewRequest(http.MethodDelete, p.base+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

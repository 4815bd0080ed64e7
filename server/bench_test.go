package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/parleyhq/parley/delivery"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/cputime"
	"github.com/parleyhq/parley/store"
)

// BenchmarkChannelConversation measures one inbound message turn (resume a
// waiting session, run it, commit) with many contacts talking at once, the
// store's group commit and fsync included.
func BenchmarkChannelConversation(b *testing.B) {
	ts := newTestServer(b, func(c *Config) { c.Now = time.Now })
	ts.createFlow(counterFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"counter"}`)
	var contact atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		from := fmt.Sprintf(`{"from":"+1%d","text":"x"}`, contact.Add(1))
		for pb.Next() {
			if r := ts.do("POST", "/v1/channels/web/messages", from); r.Status != 200 {
				b.Errorf("status %d: %s", r.Status, r.Body)
				return
			}
		}
	})
}

// BenchmarkOutboxRecords measures building the lifecycle events of a turn
// that saves a result and completes a session (session.updated,
// session.finished, flow.completed).
func BenchmarkOutboxRecords(b *testing.B) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ended := t0.Add(time.Minute)
	s := &flows.Session{ID: "01a201fb-cbdd-7b83-a6a7-8ab6276cdf66", FlowID: "f", Status: flows.StatusCompleted,
		CreatedAt: t0, UpdatedAt: ended, EndedAt: &ended,
		Frames:  []*flows.Frame{{FlowID: "f", Results: map[string]*flows.Result{"name": {Name: "Name", Value: "x", At: t0}}}},
		Contact: flows.Contact{URN: "tel:+15550100", Name: "Ada"}, Channel: &flows.Channel{ID: "web", Type: "api"},
		Path: []flows.Step{{Widget: "a", At: t0, Exit: "Next"}, {Widget: "b", At: t0}, {Widget: "c", At: t0}}}
	ev := []flows.Event{{Type: flows.EventMessageOut, Text: "Thanks"}, {Type: flows.EventResultSaved, Widget: "ask", Name: "Name"}, {Type: flows.EventSessionEnded}}
	b.Run("all", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if n := len(outboxRecords(s, ev, "", nil)); n != 3 {
				b.Fatalf("%d records, want 3", n)
			}
		}
	})
	// A subscription to flow.completed alone, as parley bench's receiver.
	completedOnly := func(typ, _, _ string) bool { return typ == delivery.EventFlowCompleted }
	b.Run("completed-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if n := len(outboxRecords(s, ev, "", completedOnly)); n != 1 {
				b.Fatalf("%d records, want 1", n)
			}
		}
	})
}

// BenchmarkChannelMessage measures one inbound channel message through the
// fiber app's handler chain (request id, authentication, body decoding,
// HandleMessage, reply encoding) as parley bench sends it: a message id, and
// a conversation of the favourite colour example (start, then a rule-routed
// answer that completes the session), 64 contacts at once so that turns share
// group commits. The store does not fsync, so the figure is the CPU of a
// message rather than the disk; cpu-µs/msg is the process's CPU time
// (committer included) per message.
func BenchmarkChannelMessage(b *testing.B) {
	st, err := store.Open(filepath.Join(b.TempDir(), DBFile), store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	ts := newTestServer(b, func(c *Config) { c.Now = time.Now; c.Store = st; c.Examples = nil })
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"favourite-colour"}`)
	h := ts.srv.App().Handler()
	var contact, msgID atomic.Int64
	texts := [2]string{"hi", "blue"}
	ru0 := rusage(b)
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		from := contact.Add(1)
		var rc fasthttp.RequestCtx
		for i := 0; pb.Next(); i++ {
			rc.Request.Reset()
			rc.Response.Reset()
			rc.Request.Header.SetMethod("POST")
			rc.Request.SetRequestURI("/v1/channels/web/messages")
			rc.Request.Header.SetHost("127.0.0.1") // as a channel on this machine sends it
			rc.Request.Header.SetContentType("application/json")
			rc.Request.SetBodyString(fmt.Sprintf(`{"from":"+1555%07d","id":"m%d","text":%q}`, from, msgID.Add(1), texts[i%2]))
			h(&rc)
			if c := rc.Response.StatusCode(); c != 200 {
				b.Errorf("status %d: %s", c, rc.Response.Body())
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(rusage(b)-ru0)/float64(b.N)/1e3, "cpu-µs/msg")
}

// rusage is the process's user and system CPU time.
func rusage(b *testing.B) time.Duration {
	d := cputime.Process()
	if d == 0 {
		b.Skip("CPU time not reported here")
	}
	return d
}

// BenchmarkContactLookup measures GET and DELETE /v1/contacts/{urn} of one
// contact among many: PARLEY_BENCH_CONTACTS waiting sessions, each of its
// own contact (store.SeedWaiting, 100,000 unless set). With
// PARLEY_BENCH_DIR the store file is seeded there once and used again by
// later runs (the erasures of each run are of contacts chosen anew, and
// one erased by an earlier run is a lookup without a write: erased/op
// says how many were erased).
//
//	PARLEY_BENCH_CONTACTS=1000000 PARLEY_BENCH_DIR=/tmp/contacts go test ./server -run X -bench ContactLookup -benchtime 20x
func BenchmarkContactLookup(b *testing.B) {
	n := 100_000
	if v := os.Getenv("PARLEY_BENCH_CONTACTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 2 {
			b.Fatalf("PARLEY_BENCH_CONTACTS=%q: a number of contacts, 2 or more", v)
		}
	}
	dir := os.Getenv("PARLEY_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	if _, err := os.Stat(filepath.Join(dir, DBFile)); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		st, err := store.Open(filepath.Join(dir, DBFile), store.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		err = store.SeedWaiting(context.Background(), st, 0, n, 0, nil)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	ts := newTestServer(b, func(c *Config) { c.DataDir, c.Now = dir, time.Now })
	urn := func(i int) string { return fmt.Sprintf("/v1/contacts/tel:%%2B1555%07d", i) }
	b.Run("get", func(b *testing.B) {
		i := n / 2
		for b.Loop() {
			if r := ts.do("GET", urn(i), nil); r.Status != 200 {
				b.Fatalf("GET %s: %d %s", urn(i), r.Status, r.Body)
			}
			i = n/2 + (i+7919)%(n/2)
		}
	})
	b.Run("get-unknown", func(b *testing.B) {
		for b.Loop() {
			if r := ts.do("GET", "/v1/contacts/tel:%2B19995550000", nil); r.Status != 404 {
				b.Fatalf("GET of an unknown contact: %d %s", r.Status, r.Body)
			}
		}
	})
	b.Run("delete", func(b *testing.B) {
		i, erased := int(time.Now().UnixNano()%int64(n/2)), 0
		for b.Loop() {
			switch r := ts.do("DELETE", urn(i), nil); r.Status {
			case 204:
				erased++
			case 404:
			default:
				b.Fatalf("DELETE %s: %d %s", urn(i), r.Status, r.Body)
			}
			i = (i + 104729) % (n / 2)
		}
		b.ReportMetric(float64(erased)/float64(b.N), "erased/op")
	})
}

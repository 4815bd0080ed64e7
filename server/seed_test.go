package server

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/examples"
	"github.com/parleyhq/parley/internal/smalldisk"
	"github.com/parleyhq/parley/store"
)

// TestSeedFullDisk: a first start on a nearly full disk writes no part of
// the seed and does not start, naming the store file and the cause; once
// there is room, the next start seeds the store whole.
func TestSeedFullDisk(t *testing.T) {
	disk := smalldisk.Mount(t, 512<<10)
	disk.Fill(28 << 10)
	cfg := Config{DataDir: disk.Dir, Logger: slog.New(slog.DiscardHandler), Examples: examples.FS, TimerInterval: time.Hour}
	_, err := New(cfg)
	if err == nil {
		t.Fatal("New on a full disk: no error")
	}
	t.Log(err)
	for _, want := range []string{"seed the new store " + disk.Dir + "/parley.db", "order-status/flow.json", "no space left on device"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	disk.Free()
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New once the disk has room: %v", err)
	}
	defer srv.Shutdown(context.Background())
	ch, err := srv.svc.channels.get(DemoChannel)
	if err != nil {
		t.Fatal(err)
	}
	if ch.DefaultFlow != "order-status" || ch.VoiceFlow == "" {
		t.Errorf("demo channel after the second start: default_flow %q, voice_flow %q", ch.DefaultFlow, ch.VoiceFlow)
	}
	list, err := srv.store.ListFlows(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("%d flows seeded, want the 3 examples", len(list))
	}
	for _, f := range list {
		if f.Published != 1 {
			t.Errorf("flow %q: published revision %d, want 1", f.ID, f.Published)
		}
	}
}

// TestSeedOnce: the examples and the demo channel are written on the first
// start only. An operator who deletes them does not get them back on the
// next start, nor does a store from before the seed was recorded that
// holds flows of its own.
func TestSeedOnce(t *testing.T) {
	start := func(cfg Config) *testServer {
		t.Helper()
		srv, err := New(cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return &testServer{t: t, srv: srv, clock: newClock()}
	}
	stop := func(ts *testServer) {
		t.Helper()
		if err := ts.srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	flowIDs := func(ts *testServer) []string {
		t.Helper()
		var ids []string
		for _, f := range ts.must(200, "GET", "/v1/flows", nil)["flows"].([]any) {
			ids = append(ids, f.(map[string]any)["id"].(string))
		}
		return ids
	}
	cfg := Config{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Examples: examples.FS, TimerInterval: time.Hour}

	ts := start(cfg)
	ids := flowIDs(ts)
	if len(ids) != 3 {
		t.Fatalf("first start: flows %v, want the 3 examples", ids)
	}
	ts.must(204, "DELETE", "/v1/channels/"+DemoChannel, nil)
	for _, id := range ids {
		ts.must(204, "DELETE", "/v1/flows/"+id, nil)
	}
	stop(ts)

	ts = start(cfg)
	if ids := flowIDs(ts); len(ids) != 0 {
		t.Errorf("restart after the examples were deleted: flows %v are back", ids)
	}
	if r := ts.do("GET", "/v1/channels/"+DemoChannel, nil); r.Status != 404 {
		t.Errorf("restart after the demo channel was deleted: GET it answers %d: %s", r.Status, r.Body)
	}
	stop(ts)

	// A store of an earlier version: a flow, never seeded, no record of it.
	cfg.DataDir = t.TempDir()
	st, err := store.Open(filepath.Join(cfg.DataDir, DBFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveFlow(context.Background(), store.NewFlow{ID: "ask", Name: "Ask", Definition: []byte(askFlow)}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	ts = start(cfg)
	if ids := flowIDs(ts); !slices.Equal(ids, []string{"ask"}) {
		t.Errorf("store with a flow of its own: flows %v, want only ask", ids)
	}
	ts.must(204, "DELETE", "/v1/flows/ask", nil)
	stop(ts)
	ts = start(cfg)
	defer stop(ts)
	if ids := flowIDs(ts); len(ids) != 0 {
		t.Errorf("store whose own flow was deleted: flows %v on restart, want none", ids)
	}
	if r := ts.do("GET", "/v1/channels/"+DemoChannel, nil); r.Status != 404 {
		t.Errorf("store whose own flow was deleted: channel demo answers %d on restart", r.Status)
	}
}

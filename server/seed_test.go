package server

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/examples"
	"github.com/parleyhq/parley/internal/smalldisk"
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

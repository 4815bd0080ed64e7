package sim_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// TestStartOnCallChecksKind: a messaging flow a Simulator starts on a call
// runs as a voice flow, and one whose wait_for_response has no timeout is
// refused, naming the widget, before anything runs; without a call it runs.
func TestStartOnCallChecksKind(t *testing.T) {
	e := engine.New(widgets.Registered())
	f, err := e.Load([]byte(`{"id": "chat", "widgets": [
	  {"id": "hi", "type": "send_message", "text": "Say something", "exits": {"Next": "wait"}},
	  {"id": "wait", "type": "wait_for_response", "exits": {"Next": ""}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, now := context.Background(), time.Now()
	s := sim.New(e, f, sim.Options{Contact: flows.Contact{URN: sim.DefaultURN}, Call: true})
	evs, err := s.Start(ctx, now)
	if !errors.Is(err, flows.ErrWrongKind) || !strings.Contains(err.Error(), `widget "wait": widgets[1].timeout`) || len(evs) != 0 || s.Session() != nil {
		t.Errorf("on a call: %v, %d events, want the wait's timeout refused", err, len(evs))
	}
	s = sim.New(e, f, sim.Options{Contact: flows.Contact{URN: sim.DefaultURN}})
	if evs, err := s.Start(ctx, now); err != nil || len(sim.Outputs(evs)) != 1 {
		t.Errorf("without a call: %v, %v", err, evs)
	}
}

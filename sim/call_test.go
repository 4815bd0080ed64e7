package sim_test

import (
	"context"
	"errors"
	"fmt"
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

// TestStartOnCallChecksSubflows: a flow a Simulator starts on a call is
// refused, naming the subflow, its widget and field, when a subflow of the
// engine's library it can enter would keep the caller waiting in silence;
// a voice flow's subflows too, without Options.Call. Subflows that enter
// each other are checked once.
func TestStartOnCallChecksSubflows(t *testing.T) {
	lib := sim.NewLibrary()
	e := engine.New(widgets.Registered(), engine.WithFlows(lib))
	for _, doc := range []string{
		`{"id": "chat", "widgets": [
	  {"id": "hi", "type": "send_message", "text": "Say something", "exits": {"Next": "wait"}},
	  {"id": "wait", "type": "wait_for_response", "exits": {"Next": ""}}]}`,
		`{"id": "main", "widgets": [{"id": "go", "type": "subflow", "flow": "chat", "exits": {"Complete": "", "Expired": ""}}]}`,
		`{"id": "ivr", "kind": "voice", "widgets": [{"id": "go", "type": "subflow", "flow": "chat", "exits": {"Complete": "", "Expired": ""}}]}`,
		`{"id": "ring", "widgets": [
	  {"id": "hi", "type": "send_message", "text": "Ring", "exits": {"Next": "again"}},
	  {"id": "again", "type": "subflow", "flow": "ring", "exits": {"Complete": "", "Expired": ""}}]}`,
	} {
		f, err := e.Load([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		lib.Add(f)
	}
	ctx, now := context.Background(), time.Now()
	flow := func(id string) *flows.Flow { f, _ := lib.Flow(ctx, id, 0); return f }
	for id, call := range map[string]bool{"main": true, "ivr": false} {
		s := sim.New(e, flow(id), sim.Options{Contact: flows.Contact{URN: sim.DefaultURN}, Call: call})
		evs, err := s.Start(ctx, now)
		want := `flow "` + id + `" enters subflow "chat" (widget "go"): flow "chat" is a messaging flow, which a call runs as a voice flow: widget "wait": widgets[1].timeout`
		if !errors.Is(err, flows.ErrWrongKind) || !strings.HasPrefix(fmt.Sprint(err), want) || len(evs) != 0 || s.Session() != nil {
			t.Errorf("%s: %v, %d events, want %q", id, err, len(evs), want)
		}
	}
	s := sim.New(e, flow("ring"), sim.Options{Contact: flows.Contact{URN: sim.DefaultURN}, Call: true})
	if _, err := s.Start(ctx, now); err != nil {
		t.Errorf("ring: %v", err)
	}
}

// TestContactURNNormal: the simulated contact's URN is the one the server
// would keep for it, and a call's caller is its number.
func TestContactURNNormal(t *testing.T) {
	e := engine.New(widgets.Registered())
	f, err := e.Load([]byte(`{"id": "who", "kind": "voice", "widgets": [
	  {"id": "hi", "type": "say", "text": "urn=[@contact.urn] tel=[@contact.tel] cli=[$call.cli]", "exits": {"Next": ""}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s := sim.New(e, f, sim.Options{Contact: flows.Contact{URN: " TEL:+1 (555) 010-0100"}, Call: true})
	evs, err := s.Start(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := "urn=[tel:+15550100100] tel=[+15550100100] cli=[+15550100100]"
	if got := sim.Outputs(evs); len(got) != 1 || got[0] != want {
		t.Errorf("said %q, want %q", got, want)
	}
}

// TestCallStartUTC: a call's start ($call.start) is in UTC, as now is,
// whatever the zone of the time the simulation starts at.
func TestCallStartUTC(t *testing.T) {
	e := engine.New(widgets.Registered())
	f, err := e.Load([]byte(`{"id": "when", "kind": "voice", "widgets": [
	  {"id": "hi", "type": "say", "text": "start @call.start hour @(call.start.Hour())", "exits": {"Next": ""}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 3, 0, 57, 0, time.UTC).In(time.FixedZone("EST", -5*3600))
	evs, err := sim.New(e, f, sim.Options{Contact: flows.Contact{URN: sim.DefaultURN}}).Start(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	want := "start 2026-12-07T03:00:57Z hour 3"
	if got := sim.Outputs(evs); len(got) != 1 || got[0] != want {
		t.Errorf("said %q, want %q", got, want)
	}
}

// TestStartWithoutCallRefusesVoiceSubflow: a flow a Simulator starts
// without a call is refused, naming the subflows on the way and the
// widgets entering them, when it can enter a voice flow, whose prompts no
// one would hear; on a call it starts.
func TestStartWithoutCallRefusesVoiceSubflow(t *testing.T) {
	lib := sim.NewLibrary()
	e := engine.New(widgets.Registered(), engine.WithFlows(lib))
	for _, doc := range []string{
		`{"id": "menu", "kind": "voice", "widgets": [{"id": "hi", "type": "say", "text": "Press 1", "exits": {"Next": ""}}]}`,
		`{"id": "via", "widgets": [{"id": "go", "type": "subflow", "flow": "menu", "exits": {"Complete": "", "Expired": ""}}]}`,
		`{"id": "main", "widgets": [{"id": "enter", "type": "subflow", "flow": "via", "exits": {"Complete": "", "Expired": ""}}]}`,
	} {
		f, err := e.Load([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		lib.Add(f)
	}
	ctx, now := context.Background(), time.Now()
	main, _ := lib.Flow(ctx, "main", 0)
	s := sim.New(e, main, sim.Options{Contact: flows.Contact{URN: sim.DefaultURN}})
	evs, err := s.Start(ctx, now)
	const want = `flow "main" enters subflow "via" (widget "enter"), which enters subflow "menu" (widget "go"): flow "menu" is a voice flow, which runs only on a call`
	if !errors.Is(err, flows.ErrWrongKind) || !strings.HasPrefix(fmt.Sprint(err), want) || len(evs) != 0 || s.Session() != nil {
		t.Errorf("without a call: %v, %d events, want %q", err, len(evs), want)
	}
	s = sim.New(e, main, sim.Options{Contact: flows.Contact{URN: sim.DefaultURN}, Call: true})
	if evs, err := s.Start(ctx, now); err != nil || len(sim.Outputs(evs)) != 1 {
		t.Errorf("on a call: %v, %v", err, evs)
	}
}

package engine_test

import (
	"context"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// A contact who goes quiet inside a subflow: the subflow expires and the
// parent carries on from its Expired exit.
func TestExpireInsideSubflow(t *testing.T) {
	lib := sim.NewLibrary()
	e := engine.New(widgets.Registered(), engine.WithFlows(lib))
	child, err := e.Load([]byte(`{"id":"child","name":"child","widgets":[
	  {"id":"ask","type":"wait_for_response","result":"Age"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	lib.Add(child)
	parent, err := e.Load([]byte(`{"id":"parent","name":"parent","widgets":[
	  {"id":"sub","type":"subflow","flow":"child","exits":{"Complete":"done","Expired":"late"}},
	  {"id":"done","type":"send_message","text":"done"},
	  {"id":"late","type":"send_message","text":"you went quiet"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	lib.Add(parent)
	ctx := context.Background()
	sess, _, err := e.Start(ctx, parent, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	if sess.Status != flows.StatusWaiting || len(sess.Frames) != 2 {
		t.Fatalf("expected to wait inside the child, got %s with %d frames", sess.Status, len(sess.Frames))
	}
	evs := e.Expire(ctx, parent, sess)
	if got := sim.Outputs(evs); len(got) != 1 || got[0] != "you went quiet" {
		t.Errorf("outputs %q, want the Expired branch's message", got)
	}
	if sess.Status != flows.StatusCompleted || len(sess.Frames) != 1 {
		t.Errorf("status %s with %d frames, want completed at the root", sess.Status, len(sess.Frames))
	}

	// Expiring at the root ends the session as expired.
	sess2, _, _ := e.Start(ctx, child, engine.StartParams{})
	e.Expire(ctx, child, sess2)
	if sess2.Status != flows.StatusExpired {
		t.Errorf("root expiry: status %s", sess2.Status)
	}
}

package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

var errGone = errors.New("gone")

// flowMap is a FlowSource whose flows can be taken away.
type flowMap map[string]*flows.Flow

func (m flowMap) Flow(_ context.Context, id string, _ int) (*flows.Flow, error) {
	if f := m[id]; f != nil {
		return f, nil
	}
	return nil, fmt.Errorf("flow %q: %w", id, errGone)
}

// Resuming a session whose subflow can no longer be had fails with a
// SubflowError naming the subflow and wrapping the source's error, and
// leaves the session as it was.
func TestResumeInMissingSubflow(t *testing.T) {
	src := flowMap{}
	e := engine.New(widgets.Registered(), engine.WithFlows(src))
	child, err := e.Load([]byte(`{"id":"child","widgets":[{"id":"ask","type":"wait_for_response"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	parent, err := e.Load([]byte(`{"id":"parent","widgets":[{"id":"sub","type":"subflow","flow":"child","exits":{"Complete":"","Expired":""}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	src["child"], src["parent"] = child, parent
	ctx := context.Background()
	sess, _, err := e.Start(ctx, parent, engine.StartParams{})
	if err != nil || sess.Status != flows.StatusWaiting || len(sess.Frames) != 2 {
		t.Fatalf("start: %v, %+v", err, sess)
	}
	delete(src, "child")
	updated := sess.UpdatedAt
	_, err = e.Resume(ctx, parent, sess, flows.Text("hi"))
	var se *engine.SubflowError
	if !errors.As(err, &se) || se.FlowID != "child" || !errors.Is(err, errGone) {
		t.Fatalf("resume: %v, want a SubflowError for child wrapping the source's error", err)
	}
	if sess.Status != flows.StatusWaiting || sess.Input != "" || !sess.UpdatedAt.Equal(updated) {
		t.Errorf("the session changed: %s, input %q", sess.Status, sess.Input)
	}
}

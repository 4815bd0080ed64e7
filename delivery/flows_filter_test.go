package delivery

import (
	"context"
	"errors"
	"testing"
)

// With Options.FlowExists, a subscription's flows name known flows: an
// unknown one is a problem naming flows[i], except on Update an id the
// stored subscription names already; the lookup's own failure is returned
// as it is, nothing stored.
func TestFlowsFilterNamesKnownFlows(t *testing.T) {
	known := map[string]bool{"a": true, "b": true}
	broken := errors.New("store unreadable")
	e := newEnv(t, func(o *Options) {
		o.FlowExists = func(_ context.Context, id string) (bool, error) {
			if id == "broken" {
				return false, broken
			}
			return known[id], nil
		}
	})
	ctx := context.Background()
	sub := Subscription{URL: "http://127.0.0.1:9/h", Flows: []string{"a", "nope"}}
	var ve *ValidationError
	if _, err := e.svc.Create(ctx, sub); !errors.As(err, &ve) || ve.Field != "flows[1]" {
		t.Fatalf("create with an unknown flow: %v, want a problem naming flows[1]", err)
	}
	sub.Flows = []string{"broken"}
	if _, err := e.svc.Create(ctx, sub); !errors.Is(err, broken) {
		t.Errorf("create while flows cannot be read: %v, want the lookup's error", err)
	}
	sub.Flows = []string{"a", "b"}
	stored := e.create(sub)
	delete(known, "a")
	if _, err := e.svc.Update(ctx, stored.ID, sub); err != nil {
		t.Errorf("update keeping a flow deleted since: %v", err)
	}
	sub.Flows = []string{"b", "nope"}
	if _, err := e.svc.Update(ctx, stored.ID, sub); !errors.As(err, &ve) || ve.Field != "flows[1]" {
		t.Errorf("update adding an unknown flow: %v, want a problem naming flows[1]", err)
	}
	if subs, _ := e.svc.List(ctx, ""); len(subs) != 1 || len(subs[0].Flows) != 2 || subs[0].Flows[0] != "a" {
		t.Errorf("stored: %+v, want the one subscription as it was", subs)
	}
}

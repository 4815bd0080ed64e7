package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
	"go.etcd.io/bbolt"
)

// A store is seeded once: Seed records it with the seed, and a store that
// was seeded is not seeded again, whatever was deleted from it since.
func TestSeedOnce(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	if done, err := b.Seeded(ctx); err != nil || done {
		t.Fatalf("new store: seeded %v, %v", done, err)
	}
	flow := []NewFlow{{ID: "hello", Name: "Hello", Definition: json.RawMessage(`{"id":"hello"}`)}}
	ch := []SeedConfig{{Collection: Channels, ID: "demo", Value: json.RawMessage(`{"id":"demo"}`)}}
	if err := b.Seed(ctx, flow, ch); err != nil {
		t.Fatal(err)
	}
	if done, err := b.Seeded(ctx); err != nil || !done {
		t.Fatalf("after Seed: seeded %v, %v", done, err)
	}
	if err := b.DeleteConfig(ctx, Channels, "demo"); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteFlow(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if done, err := b.Seeded(ctx); err != nil || !done {
		t.Fatalf("seed deleted: seeded %v, %v", done, err)
	}
	if err := b.Seed(ctx, flow, ch); !errors.Is(err, ErrConflict) {
		t.Fatalf("second Seed: %v, want ErrConflict", err)
	}
	if list, _ := b.ListFlows(ctx); len(list) != 0 {
		t.Errorf("second Seed wrote %d flows", len(list))
	}
}

// A file from before Seed recorded it counts as seeded when it holds
// anything written by an earlier start or its operator, and has that
// recorded, so that deleting them afterwards does not make it look new.
func TestSeededBeforeTheRecord(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		fill func(b *Bolt) error
	}{
		{"a flow", func(b *Bolt) error {
			_, err := b.SaveFlow(ctx, NewFlow{ID: "mine", Definition: json.RawMessage(`{"id":"mine"}`)})
			return err
		}},
		{"a deleted flow", func(b *Bolt) error {
			if _, err := b.SaveFlow(ctx, NewFlow{ID: "mine", Definition: json.RawMessage(`{"id":"mine"}`)}); err != nil {
				return err
			}
			return b.DeleteFlow(ctx, "mine")
		}},
		{"a channel", func(b *Bolt) error {
			return b.PutConfig(ctx, Channels, "sms", json.RawMessage(`{"id":"sms"}`))
		}},
		// A store whose examples were all deleted by an earlier build, which
		// kept no record of deleted flows, still holds what it served.
		{"a session", func(b *Bolt) error {
			return b.SaveTurn(ctx, &Turn{Session: session("s1", flows.StatusCompleted, "tel:+15550100")})
		}},
		{"an API key", func(b *Bolt) error {
			return b.PutConfig(ctx, APIKeys, "k1", json.RawMessage(`{"id":"k1"}`))
		}},
		{"a configured webhook", func(b *Bolt) error {
			return b.PutConfig(ctx, Webhooks, "orders", json.RawMessage(`{"name":"orders"}`))
		}},
		{"an event subscription", func(b *Bolt) error {
			return b.DB().Update(func(tx *bbolt.Tx) error {
				bk, err := tx.CreateBucketIfNotExists(bDeliverySubs)
				if err != nil {
					return err
				}
				return bk.Put([]byte("sub1"), []byte(`{}`))
			})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, _ := openTest(t)
			if err := c.fill(b); err != nil {
				t.Fatal(err)
			}
			if done, err := b.Seeded(ctx); err != nil || !done {
				t.Fatalf("seeded %v, %v", done, err)
			}
			var marked bool
			_ = b.DB().View(func(tx *bbolt.Tx) error { marked = tx.Bucket(bMeta).Get(keySeeded) != nil; return nil })
			if !marked {
				t.Error("the store's seed was not recorded")
			}
		})
	}
}

// Sessions seeded with SampleSession stay waiting for as long as sessions
// left waiting for an answer do: no timer of theirs is due a day later, so
// a server started on a seeded directory then has none to fail, and they
// are due once SampleWait has passed.
func TestSeedWaitingLasts(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	if err := SeedWaiting(ctx, b, 0, 50, 0, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		after time.Duration
		due   int
	}{
		{10 * time.Minute, 0},
		{24 * time.Hour, 0},
		{7 * 24 * time.Hour, 0},
		{SampleWait + time.Minute, 50},
	} {
		timers, err := b.DueTimers(ctx, t0.Add(tc.after), 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(timers) < tc.due || (tc.due == 0 && len(timers) != 0) {
			t.Errorf("%s after seeding: %d timers due, want %d", tc.after, len(timers), tc.due)
		}
	}
}

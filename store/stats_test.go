package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// TestGroupCountersMatchWriteThrough saves the same turns twice: through
// group commits, which sum counter changes per transaction (failed writes
// in a group make it re-run), and one turn per transaction with every
// change written through. The stats buckets must hold the same bytes.
func TestGroupCountersMatchWriteThrough(t *testing.T) {
	ctx := context.Background()
	grouped, _ := openTest(t)
	through, _ := openTest(t)

	now := t0
	turn := func(i int, status flows.Status, msg string, prev time.Time) *Turn {
		s := session(fmt.Sprintf("s%02d", i), status, fmt.Sprintf("tel:+%d", i%7))
		s.UpdatedAt = now
		if status == flows.StatusWaiting {
			s.Wait = &flows.Wait{Kind: flows.WaitMessage, TimeoutAt: tp(now.Add(time.Minute))}
			s.ExpiresAt = tp(now.Add(time.Hour))
		}
		c := flows.Contact{URN: s.Contact.URN, Name: fmt.Sprintf("c%d", i%5)}
		return &Turn{Session: s, Channel: fmt.Sprintf("ch%d", i%2), Contact: &c, MessageID: msg, PrevUpdated: prev,
			Events: []flows.Event{{Type: flows.EventMessageIn, Time: now, Text: "hi"}},
			Outbox: []OutboxRecord{{ID: "x", Type: "t", Timestamp: now, Data: json.RawMessage(`1`)}}}
	}
	var waves [][]*Turn
	// New sessions; some wait for the same contact on the same channel
	// as an earlier one and conflict.
	var w []*Turn
	for i := range 24 {
		w = append(w, turn(i, flows.StatusWaiting, fmt.Sprintf("m%d", i), time.Time{}))
	}
	waves = append(waves, w)
	// Resumed: some wait again, some complete, some repeat a message id.
	now = now.Add(time.Second)
	w = nil
	for i := range 24 {
		st, msg := flows.StatusWaiting, fmt.Sprintf("n%d", i)
		switch i % 3 {
		case 1:
			st = flows.StatusCompleted
		case 2:
			msg = fmt.Sprintf("m%d", i) // duplicate
		}
		w = append(w, turn(i, st, msg, t0))
	}
	waves = append(waves, w)

	failed := 0
	for _, wave := range waves {
		// The whole wave as one group, in order (the committer goroutine
		// is idle: nothing else writes to this store).
		batch := make([]*writeReq, len(wave))
		for i, tn := range wave {
			cp := *tn
			p, err := grouped.prepareTurn(&cp)
			if err != nil {
				t.Fatal(err)
			}
			batch[i] = &writeReq{ctx: ctx, fn: p.apply, done: make(chan struct{})}
		}
		grouped.commit(slices.Clone(batch))
		for i, tn := range wave {
			cp := *tn
			p, err := through.prepareTurn(&cp)
			if err != nil {
				t.Fatal(err)
			}
			err = through.update(ctx, func(tx *bbolt.Tx) error { return p.apply(tx, nil) })
			if (err == nil) != (batch[i].err == nil) {
				t.Fatalf("turn %s: grouped %v, one by one %v", tn.Session.ID, batch[i].err, err)
			}
			if err != nil {
				failed++
			}
		}
	}
	if failed == 0 {
		t.Fatal("no turn failed: the groups were never re-run")
	}
	dump := func(b *Bolt) []byte {
		var out bytes.Buffer
		b.DB().View(func(tx *bbolt.Tx) error {
			return tx.Bucket(bStats).ForEach(func(k, v []byte) error {
				fmt.Fprintf(&out, "%s=%x\n", k, v)
				return nil
			})
		})
		return out.Bytes()
	}
	if g, o := dump(grouped), dump(through); !bytes.Equal(g, o) {
		t.Fatalf("stats after group commits:\n%s\none write per transaction:\n%s", g, o)
	}
}

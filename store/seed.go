package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// SampleSession returns a realistic waiting session of about 1 KiB of JSON:
// a contact with fields, three collected results, a short path and a wait
// with a timeout. Session i waits for contact "tel:+1555" + i on channel
// "sample". Tests and benchmarks use it; so can load tools.
//
// Its wait times out, and the session expires, SampleWait after now, as a
// session left waiting for an answer does: a directory seeded with them
// serves the same on every start for that long, rather than its timer
// scanner failing them by the thousand (their flow is no stored flow).
func SampleSession(i int, now time.Time) *flows.Session {
	now = now.UTC()
	timeout := now.Add(SampleWait)
	expires := now.Add(SampleWait)
	flowID := "5f0c7a9e-3b1d-4c8e-9a57-2d9f1e6b4c30"
	id := sampleID(i)
	at := func(sec int) time.Time { return now.Add(time.Duration(sec-60) * time.Second) }
	return &flows.Session{
		ID:          id,
		FlowID:      flowID,
		Revision:    3,
		Status:      flows.StatusWaiting,
		Environment: flows.EnvLive,
		Contact: flows.Contact{
			URN:      fmt.Sprintf("tel:+1555%07d", i),
			Name:     "Amina Wanjiru",
			Language: "eng",
			Fields:   map[string]string{"age": "34", "district": "Kisumu", "opt_in": "yes"},
			Groups:   []string{"registered"},
		},
		Channel: &flows.Channel{ID: "sample", Name: "Sample SMS", Type: "sms"},
		Frames: []*flows.Frame{{
			FlowID:   flowID,
			Revision: 3,
			Widget:   "ask_symptoms",
			Results: map[string]*flows.Result{
				"name":     {Name: "Name", Value: "Amina", Category: "Has Text", Input: "Amina", Widget: "ask_name", At: at(10)},
				"age":      {Name: "Age", Value: "34", Category: "Number", Input: "34", Widget: "ask_age", At: at(25)},
				"district": {Name: "District", Value: "Kisumu", Category: "Known", Input: "kisumu", Widget: "ask_district", At: at(40)},
			},
		}},
		Input: "kisumu",
		Wait:  &flows.Wait{Widget: "ask_symptoms", Kind: flows.WaitMessage, Timeout: int(SampleWait / time.Second), TimeoutAt: &timeout},
		Path: []flows.Step{
			{Widget: "welcome", Exit: "Success", At: at(0)},
			{Widget: "ask_name", Exit: "Has Text", At: at(10)},
			{Widget: "ask_age", Exit: "Number", At: at(25)},
			{Widget: "ask_district", Exit: "Known", At: at(40)},
			{Widget: "ask_symptoms", At: at(41)},
		},
		Language:  "eng",
		CreatedAt: at(0),
		UpdatedAt: now,
		ExpiresAt: &expires,
	}
}

// SampleWait is how long a SampleSession waits before its wait times out
// and it expires: 30 days.
const SampleWait = 30 * 24 * time.Hour

// sampleID makes a UUIDv7-shaped id that sorts by i, so seeding appends to
// the end of the id-keyed buckets like time-ordered (v7) ids do in
// production: i takes the place of v7's 48-bit timestamp, so the version
// nibble does not disturb the order.
func sampleID(i int) string {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[0:8], uint64(i)<<16)
	binary.BigEndian.PutUint64(u[8:16], 0x8000_0000_0000_0000|uint64(i)*0x9E3779B97F4A7C15>>1)
	u[6] = u[6]&0x0f | 0x70
	return u.String()
}

// SeedWaiting writes n waiting sessions made by gen (SampleSession when nil)
// with their contacts, waiting index entries and timers, perBatch sessions
// per transaction (default 10,000). It bypasses group commit: it is for
// building large test databases, e.g. to measure start-up with a million
// waiting sessions, not for serving traffic. first is the index of the first
// session, so a database can be grown in steps.
func SeedWaiting(ctx context.Context, b *Bolt, first, n, perBatch int, gen func(i int) *flows.Session) error {
	if gen == nil {
		now := b.now()
		gen = func(i int) *flows.Session { return SampleSession(i, now) }
	}
	if perBatch <= 0 {
		perBatch = 10_000
	}
	for start := first; start < first+n; start += perBatch {
		end := min(start+perBatch, first+n)
		turns, err := prepareSeed(b, start, end, gen)
		if err != nil {
			return err
		}
		err = b.update(ctx, func(tx *bbolt.Tx) error {
			var st statBatch
			for _, p := range turns {
				if err := p.apply(tx, &st); err != nil {
					return err
				}
			}
			return st.flush(tx)
		})
		if err != nil {
			return fmt.Errorf("seed sessions %d-%d: %w", start, end-1, err)
		}
	}
	return nil
}

func prepareSeed(b *Bolt, start, end int, gen func(int) *flows.Session) ([]*preparedTurn, error) {
	out := make([]*preparedTurn, 0, end-start)
	for i := start; i < end; i++ {
		s := gen(i)
		c := s.Contact
		p, err := b.prepareTurn(&Turn{Session: s, Contact: &c})
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// SeedConfig is a configuration record that Seed writes.
type SeedConfig struct {
	Collection Collection
	ID         string
	Value      json.RawMessage
}

// bDeliverySubs is event delivery's bucket of subscriptions (package
// delivery, in the same file).
var bDeliverySubs = []byte("dl_subscriptions")

// keySeeded is the meta key that says the store was seeded: ns(when).
var keySeeded = []byte("seeded")

// Seeded reports whether the store was ever seeded, so that it is seeded
// once: what an operator deletes of the seed does not come back. Seed
// records it in its own transaction. A file from before it did counts as
// seeded when it holds anything an earlier start or its operator wrote (a
// flow, a deleted flow's record, a channel, a session, a contact, an API
// key, a configured webhook or an event subscription), and has it recorded
// now, so that what was deleted of the examples does not come back.
func (b *Bolt) Seeded(ctx context.Context) (bool, error) {
	var marked, used bool
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		marked = tx.Bucket(bMeta).Get(keySeeded) != nil
		for _, name := range [][]byte{bFlows, bFlowsDeleted, bChannels, bIDs, bContacts, bAPIKeys, bWebhooks, bDeliverySubs} {
			if bk := tx.Bucket(name); bk != nil {
				if k, _ := bk.Cursor().First(); k != nil {
					used = true
				}
			}
		}
		return nil
	})
	if err != nil || marked || !used {
		return marked, err
	}
	now := b.now()
	if err := b.update(ctx, func(tx *bbolt.Tx) error { return markSeeded(tx, now) }); err != nil {
		return false, fmt.Errorf("record that the store was seeded: %w", err)
	}
	return true, nil
}

func markSeeded(tx *bbolt.Tx, at time.Time) error {
	return tx.Bucket(bMeta).Put(keySeeded, binary.BigEndian.AppendUint64(nil, nanos(at)))
}

// Seed fills an empty store in one transaction: every flow of fs as its
// revision 1, published, and every configuration record of config, and
// records that the store was seeded (Seeded). It is all or nothing: a write
// that fails (a full disk) leaves the store as empty and unseeded as it
// was, so the next start seeds it again. A store seeded before, or that
// already holds a flow or a record of config's collections, is not
// touched: ErrConflict.
func (b *Bolt) Seed(ctx context.Context, fs []NewFlow, config []SeedConfig) error {
	for _, f := range fs {
		if err := checkID("flow", f.ID); err != nil {
			return err
		}
		if !json.Valid(f.Definition) {
			return fmt.Errorf("flow %q: definition is not valid JSON: %w", f.ID, ErrInvalid)
		}
	}
	for _, c := range config {
		if _, err := bucketOf(c.Collection); err != nil {
			return err
		}
		if err := checkID(string(c.Collection), c.ID); err != nil {
			return err
		}
		if !json.Valid(c.Value) {
			return fmt.Errorf("%s %q: value is not valid JSON: %w", c.Collection, c.ID, ErrInvalid)
		}
	}
	now := b.now().UTC()
	return b.update(ctx, func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bMeta).Get(keySeeded); v != nil {
			return fmt.Errorf("seed: the store was seeded already: %w", ErrConflict)
		}
		if k, _ := tx.Bucket(bFlows).Cursor().First(); k != nil {
			return fmt.Errorf("seed: the store holds flow %q already: %w", k, ErrConflict)
		}
		for _, c := range config {
			bk, _ := bucketOf(c.Collection)
			if k, _ := tx.Bucket(bk).Cursor().First(); k != nil {
				return fmt.Errorf("seed: the store holds %s %q already: %w", c.Collection, k, ErrConflict)
			}
		}
		for _, f := range fs {
			if tx.Bucket(bFlows).Get([]byte(f.ID)) != nil {
				return fmt.Errorf("seed: flow %q given twice: %w", f.ID, ErrInvalid)
			}
			h := &flowHead{Name: f.Name, Kind: f.Kind, Latest: 1, Published: 1, CreatedAt: now, UpdatedAt: now}
			rev := encodeRev(revMeta{Name: f.Name, Kind: f.Kind, CreatedAt: now}, bytes.Clone(f.Definition))
			if err := tx.Bucket(bFlowRevs).Put(revKey(f.ID, 1), rev); err != nil {
				return err
			}
			if err := putHead(tx, f.ID, h); err != nil {
				return err
			}
		}
		if err := addStat(tx, statFlows, int64(len(fs))); err != nil {
			return err
		}
		for _, c := range config {
			bk, _ := bucketOf(c.Collection)
			if err := tx.Bucket(bk).Put([]byte(c.ID), bytes.Clone(c.Value)); err != nil {
				return err
			}
		}
		return markSeeded(tx, now)
	})
}

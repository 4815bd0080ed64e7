package store

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

func TestOutboxReadAndAck(t *testing.T) {
	ctx := context.Background()
	b, clk := openTest(t)
	clk.Set(t0)
	for i := range 5 {
		rec := OutboxRecord{Type: "session.completed", Environment: flows.EnvLive, FlowID: "f1", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
		if i == 0 {
			rec.ID, rec.Timestamp = "fixed-id", t0.Add(-time.Minute)
		}
		mustSave(t, b, &Turn{Session: session(fmt.Sprint("s", i), flows.StatusCompleted, "tel:+1"), Outbox: []OutboxRecord{rec}})
	}
	if err := b.AppendOutbox(ctx, OutboxRecord{Type: "flow.published"}); err != nil {
		t.Fatal(err)
	}

	all, err := b.Outbox(ctx, 0, 100)
	if err != nil || len(all) != 6 {
		t.Fatalf("Outbox = %d records, %v", len(all), err)
	}
	first := all[0].Record
	if first.ID != "fixed-id" || !first.Timestamp.Equal(t0.Add(-time.Minute)) || first.FlowID != "f1" || first.Environment != "live" || string(first.Data) != `{"n":0}` {
		t.Fatalf("first record = %+v", first)
	}
	if r := all[1].Record; r.ID == "" || r.ID == all[2].Record.ID || !r.Timestamp.Equal(t0) {
		t.Fatalf("generated id/timestamp: %+v", r)
	}
	if r := all[5].Record; r.Type != "flow.published" || string(r.Data) != "null" {
		t.Fatalf("appended record = %+v", r)
	}

	tests := []struct {
		name     string
		after    uint64
		limit    int
		wantSeqs []uint64
	}{
		{"first page", 0, 2, []uint64{all[0].Seq, all[1].Seq}},
		{"next page", all[1].Seq, 2, []uint64{all[2].Seq, all[3].Seq}},
		{"past the end", all[5].Seq, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, err := b.Outbox(ctx, tc.after, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			for _, e := range page {
				seqs = append(seqs, e.Seq)
			}
			if !slices.Equal(seqs, tc.wantSeqs) {
				t.Fatalf("seqs %v, want %v", seqs, tc.wantSeqs)
			}
		})
	}

	acks := []struct {
		name      string
		seqs      []uint64
		wantDepth int
	}{
		{"ack two", []uint64{all[0].Seq, all[2].Seq}, 4},
		{"ack again is harmless", []uint64{all[0].Seq}, 4},
		{"ack unknown", []uint64{9999}, 4},
		{"ack nothing", nil, 4},
		{"ack the rest", []uint64{all[1].Seq, all[3].Seq, all[4].Seq, all[5].Seq}, 0},
	}
	for _, tc := range acks {
		t.Run(tc.name, func(t *testing.T) {
			if err := b.AckOutbox(ctx, tc.seqs...); err != nil {
				t.Fatal(err)
			}
			depth, err := b.OutboxDepth()
			if err != nil || depth != tc.wantDepth {
				t.Fatalf("OutboxDepth = %d, %v; want %d", depth, err, tc.wantDepth)
			}
			left, _ := b.Outbox(ctx, 0, 100)
			if len(left) != tc.wantDepth {
				t.Fatalf("%d records left, want %d", len(left), tc.wantDepth)
			}
		})
	}
	// Sequences are never reused after an ack.
	mustSave(t, b, &Turn{Session: session("later", flows.StatusCompleted, "tel:+1"), Outbox: []OutboxRecord{{Type: "x"}}})
	if recs, _ := b.Outbox(ctx, 0, 10); len(recs) != 1 || recs[0].Seq <= all[5].Seq {
		t.Fatalf("new record %+v reuses an old sequence", recs)
	}
}

func TestConfigCRUD(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	for _, c := range []Collection{Channels, APIKeys, Webhooks} {
		t.Run(string(c), func(t *testing.T) {
			steps := []struct {
				name string
				op   func() error
				want error
			}{
				{"put", func() error { return b.PutConfig(ctx, c, "a", json.RawMessage(`{"v":1}`)) }, nil},
				{"put another", func() error { return b.PutConfig(ctx, c, "b", json.RawMessage(`{"v":2}`)) }, nil},
				{"replace", func() error { return b.PutConfig(ctx, c, "a", json.RawMessage(`{"v":3}`)) }, nil},
				{"invalid JSON", func() error { return b.PutConfig(ctx, c, "c", json.RawMessage(`{`)) }, ErrInvalid},
				{"empty id", func() error { return b.PutConfig(ctx, c, "", json.RawMessage(`{}`)) }, ErrInvalid},
				{"delete b", func() error { return b.DeleteConfig(ctx, c, "b") }, nil},
				{"delete missing", func() error { return b.DeleteConfig(ctx, c, "b") }, ErrNotFound},
			}
			for _, st := range steps {
				wantErr(t, st.name, st.op(), st.want)
			}
			v, err := b.GetConfig(ctx, c, "a")
			if err != nil || string(v) != `{"v":3}` {
				t.Fatalf("GetConfig(a) = %s, %v", v, err)
			}
			_, err = b.GetConfig(ctx, c, "b")
			wantErr(t, "GetConfig(b)", err, ErrNotFound)
			list, err := b.ListConfig(ctx, c)
			if err != nil || len(list) != 1 || list[0].ID != "a" {
				t.Fatalf("ListConfig = %+v, %v", list, err)
			}
		})
	}
	// Collections are separate.
	b.PutConfig(ctx, Channels, "only-here", json.RawMessage(`1`))
	_, err := b.GetConfig(ctx, Webhooks, "only-here")
	wantErr(t, "other collection", err, ErrNotFound)
	_, err = b.ListConfig(ctx, "users")
	wantErr(t, "unknown collection", err, ErrInvalid)
}

// TestReopen closes the store and opens the file again: everything written is
// there, counters included, and the next writes continue sequences.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	b, err := Open(path, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.SaveFlow(ctx, NewFlow{ID: "f1", Name: "F", Definition: json.RawMessage(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(ctx, "f1", 1); err != nil {
		t.Fatal(err)
	}
	s := SampleSession(1, t0)
	c := s.Contact
	mustSave(t, b, &Turn{Session: s, Contact: &c, Channel: "sample", MessageID: "m1", Reply: []byte("ok"),
		Events: []flows.Event{{Type: flows.EventMessageIn, Text: "hi"}},
		Outbox: []OutboxRecord{{Type: "session.waiting"}}})
	if err := b.PutConfig(ctx, Webhooks, "crm", json.RawMessage(`{"url":"http://127.0.0.1/"}`)); err != nil {
		t.Fatal(err)
	}
	before := stats(t, b)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	wantErr(t, "SaveTurn after Close", b.SaveTurn(ctx, &Turn{Session: session("z", flows.StatusActive, "")}), ErrClosed)
	_, err = b.LoadSession(ctx, s.ID)
	wantErr(t, "LoadSession after Close", err, ErrClosed)

	b, err = Open(path, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	checks := []struct {
		name string
		ok   func() bool
	}{
		{"flow", func() bool {
			fr, err := b.PublishedFlow(ctx, "f1")
			return err == nil && string(fr.Definition) == `{"a":1}`
		}},
		{"session", func() bool {
			got, err := b.LoadSession(ctx, s.ID)
			return err == nil && got.Contact.URN == s.Contact.URN
		}},
		{"waiting index", func() bool {
			got, err := b.WaitingSession(ctx, "sample", s.Contact.URN)
			return err == nil && got.ID == s.ID
		}},
		{"contact", func() bool { got, err := b.Contact(ctx, s.Contact.URN); return err == nil && got.Name == c.Name }},
		{"events", func() bool { evs, err := b.SessionEvents(ctx, s.ID, 0, 10); return err == nil && len(evs) == 1 }},
		{"timers", func() bool { ts, err := b.DueTimers(ctx, farFuture, 10); return err == nil && len(ts) == 2 }},
		{"outbox", func() bool { n, err := b.OutboxDepth(); return err == nil && n == 1 }},
		{"dedupe", func() bool {
			r, ok, err := b.ProcessedReply(ctx, "sample", s.Contact.URN, "m1")
			return err == nil && ok && string(r) == "ok"
		}},
		{"config", func() bool { v, err := b.GetConfig(ctx, Webhooks, "crm"); return err == nil && len(v) > 0 }},
		{"stats", func() bool {
			after := stats(t, b)
			after.FileBytes, before.FileBytes = 0, 0
			return fmt.Sprint(after) == fmt.Sprint(before)
		}},
	}
	for _, ck := range checks {
		if !ck.ok() {
			t.Errorf("%s did not survive reopening", ck.name)
		}
	}
	// Sequences continue: the next event is 2, the next outbox record is after the first.
	mustSave(t, b, &Turn{Session: s, Events: []flows.Event{{Type: flows.EventMessageOut}}, Outbox: []OutboxRecord{{Type: "x"}}})
	if evs, _ := b.SessionEvents(ctx, s.ID, 1, 10); len(evs) != 1 || evs[0].Seq != 2 {
		t.Fatalf("event after reopen: %+v", evs)
	}
	if recs, _ := b.Outbox(ctx, 0, 10); len(recs) != 2 || recs[1].Seq <= recs[0].Seq {
		t.Fatalf("outbox after reopen: %+v", recs)
	}
}

// TestSharedDB checks that another package can keep its own bucket in the
// same file through DB().
func TestSharedDB(t *testing.T) {
	b, _ := openTest(t)
	err := b.DB().Update(func(tx *bbolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte("delivery_state"))
		if err != nil {
			return err
		}
		return bk.Put([]byte("k"), []byte("v"))
	})
	if err != nil {
		t.Fatal(err)
	}
	b.DB().View(func(tx *bbolt.Tx) error {
		if string(tx.Bucket([]byte("delivery_state")).Get([]byte("k"))) != "v" {
			t.Fatal("shared bucket not readable")
		}
		return nil
	})
}

// TestAppendAfterEmptyingBucket appends to the outbox in the transaction that
// emptied it: bbolt's pages for it are all empty until the commit, and the
// append (which checks whether it goes past the last key) must still return.
func TestAppendAfterEmptyingBucket(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	big := json.RawMessage(`"` + strings.Repeat("x", 500) + `"`)
	for range 50 {
		if err := b.AppendOutbox(ctx, OutboxRecord{Type: "t", Data: big}); err != nil {
			t.Fatal(err)
		}
	}
	rec, _ := encodeJSON("outbox record", "last", &OutboxRecord{ID: "last", Type: "t", Data: big})
	err := b.group(ctx, func(tx *bbolt.Tx, st *statBatch) error {
		ob := tx.Bucket(bOutbox)
		for seq := uint64(1); seq <= 50; seq++ {
			if err := ob.Delete(u64(seq)); err != nil {
				return err
			}
		}
		return putOutbox(tx, st, [][]byte{rec})
	})
	if err != nil {
		t.Fatal(err)
	}
	if recs, err := b.Outbox(ctx, 0, 100); err != nil || len(recs) != 1 || recs[0].Record.ID != "last" {
		t.Fatalf("outbox after emptying and appending: %+v, %v", recs, err)
	}
}

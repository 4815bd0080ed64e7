package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// TestDedupeModel runs random turns with message ids (new ones and
// repeats, from a few senders and one turn without a sender, on two
// channels), several at a time so that they share commits, and prunes at
// random cutoffs and batch sizes. After each round it compares every
// possible message with a model: found or not, and the reply, through
// ProcessedReply and Inbound; the counter; and that the entries in the
// contact rows and processed_index are exactly one per record, each under
// its record's sender.
func TestDedupeModel(t *testing.T) {
	ctx := context.Background()
	b, clk := openTest(t)
	r := rand.New(rand.NewPCG(3, 4))
	urns := []string{"tel:+1", "tel:+10", "tel:+2", ""}
	channels := []string{"sms", "wa"}
	type key struct{ ch, urn, id string }
	type record struct {
		at    time.Time
		reply string
	}
	model := map[key]record{}
	var all []key
	for _, ch := range channels {
		for _, urn := range urns {
			for i := range 12 {
				all = append(all, key{ch, urn, fmt.Sprintf("m%d", i)})
			}
		}
	}
	now := t0
	seq := 0
	for round := range 250 {
		now = now.Add(time.Second)
		clk.Set(now)
		// Up to four turns at once, for distinct messages.
		turns := map[key]bool{}
		for n := 1 + r.IntN(4); len(turns) < n; {
			turns[all[r.IntN(len(all))]] = true
		}
		type result struct {
			k   key
			err error
		}
		results := make(chan result, len(turns))
		for k := range turns {
			seq++
			id := fmt.Sprintf("s%04d", seq)
			go func() {
				sess := session(id, flows.StatusCompleted, k.urn)
				results <- result{k, b.SaveTurn(ctx, &Turn{Session: sess, Channel: k.ch, MessageID: k.id,
					Reply: []byte(fmt.Sprintf(`{"round":%d}`, round))})}
			}()
		}
		for range turns {
			res := <-results
			_, seen := model[res.k]
			switch {
			case seen && !errors.Is(res.err, ErrDuplicate):
				t.Fatalf("round %d: repeated %+v: %v, want ErrDuplicate", round, res.k, res.err)
			case !seen && res.err != nil:
				t.Fatalf("round %d: new %+v: %v", round, res.k, res.err)
			case !seen:
				model[res.k] = record{now, fmt.Sprintf(`{"round":%d}`, round)}
			}
		}
		if r.IntN(6) == 0 {
			cutoff := now.Add(-time.Duration(r.IntN(60)) * time.Second)
			limit := 1 + r.IntN(8)
			for {
				n, err := b.PruneProcessed(ctx, cutoff, limit)
				if err != nil {
					t.Fatal(err)
				}
				if n < limit {
					break
				}
			}
			for k, rec := range model {
				if rec.at.Before(cutoff) {
					delete(model, k)
				}
			}
		}
		for _, k := range all {
			want, ok := model[k]
			reply, found, err := b.ProcessedReply(ctx, k.ch, k.urn, k.id)
			if err != nil || found != ok || string(reply) != want.reply {
				t.Fatalf("round %d: ProcessedReply(%+v) = %q %v %v; want %q %v", round, k, reply, found, err, want.reply, ok)
			}
			if k.urn == "" {
				continue
			}
			st, err := b.Inbound(ctx, InboundQuery{Channel: k.ch, URN: k.urn, MessageID: k.id})
			if err != nil || st.Processed != ok || string(st.Reply) != want.reply {
				t.Fatalf("round %d: Inbound(%+v): processed %v, reply %q, %v; want %v %q", round, k, st.Processed, st.Reply, err, ok, want.reply)
			}
		}
		if got := stats(t, b).Processed; got != int64(len(model)) {
			t.Fatalf("round %d: Stats.Processed = %d, want %d", round, got, len(model))
		}
		checkDedupeEntries(t, b, len(model))
	}
}

// checkDedupeEntries checks that the message entries of the contact rows
// and processed_index point one to one at the processed_log records, each
// from the record's sender.
func checkDedupeEntries(t *testing.T, b *Bolt, records int) {
	t.Helper()
	err := b.DB().View(func(tx *bbolt.Tx) error {
		type entry struct {
			urn      string
			hash, at uint64
		}
		logged := map[entry]int{}
		err := tx.Bucket(bProcessedLog).ForEach(func(k, _ []byte) error {
			at, msg, urn, ok := splitLogKey(k)
			if !ok {
				return fmt.Errorf("log record %q: corrupt key", k)
			}
			logged[entry{urn, msgHash(msg), at}]++
			return nil
		})
		if err != nil {
			return err
		}
		if len(logged) != records {
			return fmt.Errorf("%d processed_log records, want %d", len(logged), records)
		}
		seen := func(e entry, where string) error {
			if logged[e] != 1 {
				return fmt.Errorf("%s entry %+v: no record, or listed twice", where, e)
			}
			logged[e]--
			return nil
		}
		err = tx.Bucket(bContacts).ForEach(func(k, v []byte) error {
			r, err := decodeRow(string(k), v)
			if err != nil {
				return err
			}
			if len(r.msgs) > rowMsgsMax {
				return fmt.Errorf("row %s: %d message entries", k, len(r.msgs))
			}
			for _, m := range r.msgs {
				if err := seen(entry{string(k), m.hash, m.at}, "row"); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bProcessedIndex).ForEach(func(k, _ []byte) error {
			i := bytes.IndexByte(k, sep)
			if i < 0 || len(k) != i+17 {
				return fmt.Errorf("index key %q: malformed", k)
			}
			return seen(entry{string(k[:i]), binary.BigEndian.Uint64(k[i+1:]), binary.BigEndian.Uint64(k[i+9:])}, "index")
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDedupeHashCollision stores entries whose hash is that of a message
// but which point at another (as two ids with one hash would), in the
// sender's row and in processed_index: the message is still new, and once
// stored, found.
func TestDedupeHashCollision(t *testing.T) {
	ctx := context.Background()
	b, clk := openTest(t)
	mustSave(t, b, &Turn{Session: session("s0", flows.StatusCompleted, "tel:+1"), Channel: "sms", MessageID: "other", Reply: []byte(`{"other":1}`)})
	otherAt := nanos(t0)
	h := msgHash(join("sms", "target"))
	err := b.DB().Update(func(tx *bbolt.Tx) error {
		rows := newRowSet(tx, nil)
		r, err := rows.get("tel:+1")
		if err != nil {
			return err
		}
		r.msgs = append(r.msgs, msgEntry{hash: h, at: otherAt})
		if err := rows.flush(); err != nil {
			return err
		}
		// One entry names a time just before the other record's: a seek
		// for it lands on that record, which is not this message's.
		return tx.Bucket(bProcessedIndex).Put(processedIndexKey(nil, "tel:+1", h, otherAt-1), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := b.ProcessedReply(ctx, "sms", "tel:+1", "target"); found || err != nil {
		t.Fatalf("target found before it was stored: %v, %v", found, err)
	}
	clk.Set(t0.Add(time.Minute))
	mustSave(t, b, &Turn{Session: session("s1", flows.StatusCompleted, "tel:+1"), Channel: "sms", MessageID: "target", Reply: []byte(`{"target":1}`)})
	err = b.SaveTurn(ctx, &Turn{Session: session("s2", flows.StatusCompleted, "tel:+1"), Channel: "sms", MessageID: "target"})
	wantErr(t, "repeat", err, ErrDuplicate)
	for msg, want := range map[string]string{"target": `{"target":1}`, "other": `{"other":1}`} {
		if reply, found, err := b.ProcessedReply(ctx, "sms", "tel:+1", msg); !found || err != nil || string(reply) != want {
			t.Errorf("%s: %q %v %v, want %s", msg, reply, found, err, want)
		}
	}
}

// TestDedupeRowsMoveTogether checks where a sender's entries go: the row
// holds the latest rowMsgsMax, and the turn that adds one more moves them
// to processed_index together, in one group of keys.
func TestDedupeRowsMoveTogether(t *testing.T) {
	b, _ := openTest(t)
	count := func() (row, index int) {
		b.DB().View(func(tx *bbolt.Tx) error {
			if r, _ := readRow(tx, "tel:+1"); r != nil {
				row = len(r.msgs)
			}
			index = tx.Bucket(bProcessedIndex).Stats().KeyN
			return nil
		})
		return row, index
	}
	for i := 1; i <= 2*rowMsgsMax+1; i++ {
		mustSave(t, b, &Turn{Session: session(fmt.Sprintf("s%02d", i), flows.StatusCompleted, "tel:+1"), Channel: "sms",
			MessageID: fmt.Sprintf("m%02d", i), Reply: []byte(`{}`)})
		row, index := count()
		wantIndex := (i - 1) / rowMsgsMax * rowMsgsMax
		if row != i-wantIndex || index != wantIndex {
			t.Fatalf("after %d messages: %d entries in the row, %d in processed_index; want %d and %d", i, row, index, i-wantIndex, wantIndex)
		}
	}
}

// TestProcessedLogAppends saves turns with message ids from many goroutines,
// so that groups commit several records, with a clock that runs backwards,
// so that each record is prepared with an earlier time than the one before,
// and checks that every group still appended its records to processed_log,
// which therefore fills its pages, instead of splitting them half-way.
func TestProcessedLogAppends(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	var ticks atomic.Int64
	b.now = func() time.Time { return t0.Add(-time.Duration(ticks.Add(1)) * time.Microsecond) }
	const workers, turns = 32, 80
	inParallel(t, workers, func(w int) error {
		for i := range turns {
			sess := session(fmt.Sprintf("s%02d-%03d", w, i), flows.StatusCompleted, fmt.Sprintf("tel:+%d", w))
			if err := b.SaveTurn(ctx, &Turn{Session: sess, Channel: "sms", MessageID: fmt.Sprintf("m%02d-%03d", w, i), Reply: make([]byte, 200)}); err != nil {
				return err
			}
		}
		return nil
	})
	if c := b.CommitStats(); c.Turns/c.Commits < 2 {
		t.Fatalf("%d turns in %d commits: no groups to test with", c.Turns, c.Commits)
	}
	b.DB().View(func(tx *bbolt.Tx) error {
		s := tx.Bucket(bProcessedLog).Stats()
		if s.KeyN != workers*turns {
			t.Fatalf("%d records, want %d", s.KeyN, workers*turns)
		}
		fill := float64(s.LeafInuse) / float64(s.LeafPageN*tx.DB().Info().PageSize)
		t.Logf("processed_log: %d pages, %.0f%% full", s.LeafPageN, 100*fill)
		if fill < 0.85 {
			t.Errorf("processed_log pages %.0f%% full, want them filled by appends", 100*fill)
		}
		return nil
	})
	checkDedupeEntries(t, b, workers*turns)
}

// msgHash is FNV-1a as hash/fnv computes it.
func TestMsgHashIsFNV1a(t *testing.T) {
	for _, k := range []string{"", "sms\x00m1", "whatsapp\x00wamid.HBgLMTU1NTAwMDAwMDEVAgASGBQzQTg3"} {
		h := fnv.New64a()
		h.Write([]byte(k))
		if got, want := msgHash([]byte(k)), h.Sum64(); got != want {
			t.Errorf("msgHash(%q) = %x, want %x", k, got, want)
		}
	}
}

// TestDamagedDedupeEntry: a dedupe entry of the wrong length in
// processed_index, or a processed_log key that does not split into its
// parts, is a damaged store file (ErrCorrupt, naming the file, the bucket
// and the entry), as a record that does not decode is, not an error of the
// request that read it: for a message delivered again, an erasure of the
// contact and pruning alike.
func TestDamagedDedupeEntry(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	b, err := Open(path, Options{Now: func() time.Time { return t0 }, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	const urn = "tel:+15550000001"
	// More messages than a contact row holds: the first move to processed_index.
	for i := range rowMsgsMax + 1 {
		mustSave(t, b, &Turn{Session: session(fmt.Sprintf("s%d", i), flows.StatusCompleted, urn), Channel: "sms",
			MessageID: fmt.Sprintf("m%d", i), Reply: []byte(`{}`)})
	}
	b.Close()

	// m0's entry loses its last byte; a processed_log key loses its parts.
	hash := msgHash(join("sms", "m0"))
	var logKey []byte
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		ib := tx.Bucket(bProcessedIndex)
		prefix := processedIndexKey(nil, urn, hash, 0)[:len(urn)+9]
		k, _ := ib.Cursor().Seek(prefix)
		if !bytes.HasPrefix(k, prefix) {
			t.Fatalf("no processed_index entry for m0")
		}
		k = bytes.Clone(k)
		if err := ib.Delete(k); err != nil {
			return err
		}
		if err := ib.Put(k[:len(k)-1], nil); err != nil {
			return err
		}
		lb := tx.Bucket(bProcessedLog)
		first, v := lb.Cursor().First()
		logKey = append(bytes.Clone(first[:8]), "no separators"...)
		return lb.Put(logKey, bytes.Clone(v))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	b, err = Open(path, Options{Now: func() time.Time { return t0.Add(time.Hour) }, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	prefix := "store file " + path + " is corrupt or truncated: dedupe entry "
	_, _, err = b.ProcessedReply(ctx, "sms", urn, "m0")
	if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), `of contact "tel:+15550000001" (bucket processed_index): 32 bytes, not 33`) {
		t.Errorf("ProcessedReply of a message whose entry is damaged: %v, want a damaged store file naming the entry", err)
	}
	_, err = b.EraseContact(ctx, []string{urn}, nil, nil)
	if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("EraseContact with a damaged entry: %v, want a damaged store file naming the entry", err)
	}
	_, err = b.PruneProcessed(ctx, t0.Add(time.Minute), 0)
	want := fmt.Sprintf("store file %s is corrupt or truncated: dedupe record %x (bucket processed_log): ", path, logKey)
	if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("PruneProcessed with a damaged key: %v, want an error starting %q", err, want)
	}
}

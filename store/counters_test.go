package store

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/bbolt"
)

// A file of layout 7 was written by versions that kept no count of the
// pending deliveries and whose event delivery emptied the outbox without
// lowering its counter. Opened, it has both counted once, is of layout 8,
// and says so in the log; opened again, nothing is counted.
func TestOpenCountsDeliveries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	b, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		if err := b.AppendOutbox(ctx, OutboxRecord{Type: "flow.published"}); err != nil {
			t.Fatal(err)
		}
	}
	// As a layout 7 file left by event delivery: one record fanned out
	// (deleted without the counter), five deliveries pending, no counter.
	err = b.DB().Update(func(tx *bbolt.Tx) error {
		k, _ := tx.Bucket(bOutbox).Cursor().First()
		if err := tx.Bucket(bOutbox).Delete(k); err != nil {
			return err
		}
		due, err := tx.CreateBucketIfNotExists([]byte(DueBucket))
		if err != nil {
			return err
		}
		for _, k := range []string{"a", "b", "c", "d", "e"} {
			if err := due.Put([]byte("sub\x00"+k), []byte("m")); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bStats).Delete([]byte(CounterPendingDeliveries)); err != nil {
			return err
		}
		return setLayout(tx, layoutV7)
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()

	var logs bytes.Buffer
	b, err = Open(path, Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	assertLayout(t, b, layoutCurrent)
	counters := func() (outbox, pending int64) {
		_ = b.DB().View(func(tx *bbolt.Tx) error {
			outbox, pending = ReadCounter(tx, CounterOutbox), ReadCounter(tx, CounterPendingDeliveries)
			return nil
		})
		return
	}
	if outbox, pending := counters(); outbox != 2 || pending != 5 {
		t.Errorf("after Open: outbox counter %d, pending deliveries counter %d; want 2 and 5", outbox, pending)
	}
	if depth, _ := b.OutboxDepth(); depth != 2 {
		t.Errorf("OutboxDepth = %d, want 2", depth)
	}
	want := `msg="store: counted the outbox and the pending deliveries once, kept as counters from now on" outbox=2 pending_deliveries=5`
	if !strings.Contains(logs.String(), want) {
		t.Errorf("logs lack %q:\n%s", want, logs.String())
	}
	b.Close()

	logs.Reset()
	b, err = Open(path, Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if strings.Contains(logs.String(), "counted") {
		t.Errorf("opened again, the file was counted again:\n%s", logs.String())
	}
	if outbox, pending := counters(); outbox != 2 || pending != 5 {
		t.Errorf("opened again: outbox counter %d, pending deliveries counter %d; want 2 and 5", outbox, pending)
	}
}

// A new file starts with both counters at zero, and logs no count.
func TestOpenNewFileDeliveryCounters(t *testing.T) {
	var logs bytes.Buffer
	b, err := Open(filepath.Join(t.TempDir(), "new.db"), Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.DB().View(func(tx *bbolt.Tx) error {
		if !hasDeliveryCounters(tx) || ReadCounter(tx, CounterPendingDeliveries) != 0 || ReadCounter(tx, CounterOutbox) != 0 {
			t.Errorf("a new file's counters: present %v, pending %d, outbox %d", hasDeliveryCounters(tx),
				ReadCounter(tx, CounterPendingDeliveries), ReadCounter(tx, CounterOutbox))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "counted") {
		t.Errorf("a new file logged a count:\n%s", logs.String())
	}
}

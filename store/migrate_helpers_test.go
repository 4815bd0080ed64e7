package store

import (
	"path/filepath"
	"slices"
	"testing"

	"go.etcd.io/bbolt"
)

// withBuckets runs f in a write transaction on a new file holding the
// buckets named, with the keys given.
func withBuckets(t *testing.T, keys map[string][]string, f func(tx *bbolt.Tx)) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "h.db"), 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bbolt.Tx) error {
		for name, ks := range keys {
			bk, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			for _, k := range ks {
				if err := bk.Put([]byte(k), []byte("v")); err != nil {
					return err
				}
			}
		}
		f(tx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func bucketKeys(tx *bbolt.Tx, name []byte) []string {
	var out []string
	tx.Bucket(name).ForEach(func(k, _ []byte) error { out = append(out, string(k)); return nil })
	return out
}

// deletePrefix deletes the keys that start with the prefix, all of them
// though each delete moves the cursor, and counts them.
func TestDeletePrefix(t *testing.T) {
	tests := []struct {
		name   string
		keys   []string
		prefix string
		want   int
		left   []string
	}{
		{name: "empty bucket", prefix: "a|", want: 0},
		{name: "none match", keys: []string{"a", "b|1"}, prefix: "a|", want: 0, left: []string{"a", "b|1"}},
		{name: "some", keys: []string{"a", "a|1", "a|2", "a|3", "ab|1", "b|1"}, prefix: "a|", want: 3, left: []string{"a", "ab|1", "b|1"}},
		{name: "the prefix itself", keys: []string{"a|", "a|1"}, prefix: "a|", want: 2},
		{name: "every key", keys: []string{"x1", "x2", "x3", "x4", "x5"}, prefix: "x", want: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withBuckets(t, map[string][]string{"b": tt.keys}, func(tx *bbolt.Tx) {
				n, err := deletePrefix(tx.Bucket([]byte("b")), []byte(tt.prefix))
				if err != nil || n != tt.want {
					t.Errorf("deletePrefix = %d, %v; want %d", n, err, tt.want)
				}
				if left := bucketKeys(tx, []byte("b")); !slices.Equal(left, tt.left) {
					t.Errorf("left %q, want %q", left, tt.left)
				}
			})
		})
	}
}

// deleteTimerV1 deletes a layout 1 timer only when the session has one at
// that time and it is still stored, and says whether it did.
func TestDeleteTimerV1(t *testing.T) {
	const id = "s1"
	stored := string(timerKeyV1(100, TimerWaitTimeout, id))
	other := string(timerKeyV1(200, TimerExpiry, "s2"))
	tests := []struct {
		name      string
		noBucket  bool
		at        uint64
		kind      TimerKind
		want      bool
		remaining int
	}{
		{name: "stored", at: 100, kind: TimerWaitTimeout, want: true, remaining: 1},
		{name: "no time", at: 0, kind: TimerWaitTimeout, remaining: 2},
		{name: "removed already", at: 150, kind: TimerWaitTimeout, remaining: 2},
		{name: "another kind at that time", at: 100, kind: TimerExpiry, remaining: 2},
		{name: "no bucket", noBucket: true, at: 100, kind: TimerWaitTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := map[string][]string{string(bV1Timers): {stored, other}}
			if tt.noBucket {
				keys = nil
			}
			withBuckets(t, keys, func(tx *bbolt.Tx) {
				got, err := deleteTimerV1(tx.Bucket(bV1Timers), tt.at, tt.kind, id)
				if err != nil || got != tt.want {
					t.Errorf("deleteTimerV1 = %v, %v; want %v", got, err, tt.want)
				}
				if tt.noBucket {
					return
				}
				if left := bucketKeys(tx, bV1Timers); len(left) != tt.remaining || !slices.Contains(left, other) {
					t.Errorf("left %d timers %q, want %d with the other session's", len(left), left, tt.remaining)
				}
			})
		})
	}
}

// deleteIndexV1 deletes a layout 1 session's contact and status index
// entries, none of another session's, and passes over a bucket the file
// does not hold and a session without a contact.
func TestDeleteIndexV1(t *testing.T) {
	const id = "s1"
	h1 := &headerV1{status: 2, urn: "tel:+1"}
	byContact := []string{string(join("tel:+1", id)), string(join("tel:+1", "s2"))}
	byStatus := []string{string(append([]byte{2}, id...)), string(append([]byte{2}, "s2"...)), string(append([]byte{3}, id...))}
	t.Run("both", func(t *testing.T) {
		withBuckets(t, map[string][]string{string(bV1ByContact): byContact, string(bV1ByStatus): byStatus}, func(tx *bbolt.Tx) {
			if err := deleteIndexV1(tx, id, h1); err != nil {
				t.Fatal(err)
			}
			if got := bucketKeys(tx, bV1ByContact); !slices.Equal(got, byContact[1:]) {
				t.Errorf("contact index %q, want %q", got, byContact[1:])
			}
			if got := bucketKeys(tx, bV1ByStatus); !slices.Equal(got, byStatus[1:]) {
				t.Errorf("status index %q, want %q", got, byStatus[1:])
			}
		})
	})
	t.Run("no contact", func(t *testing.T) {
		withBuckets(t, map[string][]string{string(bV1ByContact): {id, string(join("", id))}, string(bV1ByStatus): byStatus}, func(tx *bbolt.Tx) {
			if err := deleteIndexV1(tx, id, &headerV1{status: 2}); err != nil {
				t.Fatal(err)
			}
			if got := bucketKeys(tx, bV1ByContact); len(got) != 2 {
				t.Errorf("contact index %q: a session without a contact has no entry there", got)
			}
			if got := bucketKeys(tx, bV1ByStatus); !slices.Equal(got, byStatus[1:]) {
				t.Errorf("status index %q, want %q", got, byStatus[1:])
			}
		})
	})
	t.Run("no buckets", func(t *testing.T) {
		withBuckets(t, nil, func(tx *bbolt.Tx) {
			if err := deleteIndexV1(tx, id, h1); err != nil {
				t.Errorf("deleteIndexV1 without the buckets: %v", err)
			}
		})
	})
}

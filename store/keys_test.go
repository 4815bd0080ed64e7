package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

func TestIDKeys(t *testing.T) {
	for _, tc := range []struct {
		id     string
		packed bool
	}{
		{"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", true},
		{"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B", false}, // upper case would not come back the same
		{"0190a1b2c3d47e5f8a9b0c1d2e3f4a5b", false},
		{"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5", false},
		{"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g", false},
		{"s1", false},
		{"0123456789abcdef", false}, // 16 bytes, like a packed UUID
	} {
		k := idKey(tc.id)
		if got := len(k) == 17 && k[0] == idUUID; got != tc.packed {
			t.Errorf("idKey(%q) packed = %v, want %v", tc.id, got, tc.packed)
		}
		if back, err := decodeID(k); err != nil || back != tc.id {
			t.Errorf("decodeID(idKey(%q)) = %q, %v", tc.id, back, err)
		}
	}
}

// TestNextUUIDAfter compares nextUUIDAfter with the answer a sorted list of
// UUIDs gives, for strings around and between them.
func TestNextUUIDAfter(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var uuids []string
	for range 300 {
		var u uuid.UUID
		for i := range u {
			u[i] = byte(r.IntN(3)) * 0x7f // few distinct bytes: many shared prefixes
		}
		uuids = append(uuids, u.String())
	}
	uuids = append(uuids, "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff")
	slices.Sort(uuids)
	probes := []string{"", "-", "0", "00000000", "00000000-", "00000000-0000-0000-0000-0000000000000", "7f", "7f7f7f7f-", "7f7f7f7g",
		"f", "ffffffff-ffff-ffff-ffff-ffffffffffff0", "g", "A", "zz", "0000000-", "fe7f7f7f-0000-0000-0000-00000000000:"}
	for _, u := range uuids[:50] {
		probes = append(probes, u+"x", u[:r.IntN(36)], u[:r.IntN(36)]+"~", u[:r.IntN(36)]+"/")
	}
	for _, s := range probes {
		if _, ok := packUUID(s); ok {
			continue
		}
		got, ok := nextUUIDAfter(s)
		if ok && (got <= s || !isCanonical(got)) {
			t.Fatalf("nextUUIDAfter(%q) = %q: not a UUID above it", s, got)
		}
		// No UUID of the list lies strictly between s and the answer.
		i, _ := slices.BinarySearch(uuids, s)
		for ; i < len(uuids) && uuids[i] <= s; i++ {
		}
		if i < len(uuids) && (!ok || uuids[i] < got) {
			t.Fatalf("nextUUIDAfter(%q) = %q, %v; but %q lies between", s, got, ok, uuids[i])
		}
	}
}

func isCanonical(s string) bool { _, ok := packUUID(s); return ok }

// TestListSessionsMixedIDs lists UUID and other ids together, in every
// source, page by page: the order is the ids' string order throughout.
func TestListSessionsMixedIDs(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	r := rand.New(rand.NewPCG(5, 6))
	var ids []string
	seen := map[string]bool{}
	for i := range 40 {
		var id string
		switch i % 4 {
		case 0:
			id = uuid.Must(uuid.NewRandomFromReader(r0{r})).String()
		case 1:
			id = sampleID(i)
		case 2:
			id = string(rune('0'+r.IntN(75))) + "-legacy"
		default:
			id = sampleID(i)[:r.IntN(36)+1] + "x"
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
		s := session(id, flows.StatusWaiting, "tel:+1")
		mustSave(t, b, &Turn{Session: s, Channel: "ch" + id}) // waiting entries in the row
		s2 := session(id+"-done", flows.StatusCompleted, "tel:+1")
		mustSave(t, b, &Turn{Session: s2})
		ids = append(ids, id+"-done")
	}
	slices.Sort(ids)
	for _, f := range []SessionFilter{{}, {Contact: "tel:+1"}, {Status: flows.StatusWaiting}, {Status: flows.StatusCompleted}} {
		var got []string
		after := ""
		for {
			list, next, err := b.ListSessions(ctx, f, Page{After: after, Limit: 7})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range list {
				got = append(got, s.ID)
			}
			if next == "" {
				break
			}
			after = next
		}
		var want []string
		for _, id := range ids {
			done := len(id) > 5 && id[len(id)-5:] == "-done"
			if (f.Status == flows.StatusWaiting && done) || (f.Status == flows.StatusCompleted && !done) {
				continue
			}
			want = append(want, id)
		}
		if !slices.Equal(got, want) {
			t.Errorf("ListSessions(%+v) =\n%v\nwant\n%v", f, got, want)
		}
	}
}

type r0 struct{ r *rand.Rand }

func (r r0) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.r.IntN(256))
	}
	return len(p), nil
}

// TestContactCodecCoversContact fails when flows.Contact gains a field the
// contact row does not store: extend encodeContact (and the row format)
// first.
func TestContactCodecCoversContact(t *testing.T) {
	if n := reflect.TypeFor[flows.Contact]().NumField(); n != 5 {
		t.Fatalf("flows.Contact has %d fields; encodeContact stores 5", n)
	}
	for _, c := range []flows.Contact{
		{URN: "tel:+1"},
		{URN: "tel:+1", Name: "Ann", Language: "fra", Fields: map[string]string{"b": "2", "a": ""}, Groups: []string{"x", ""}},
	} {
		got, err := decodeContact(c.URN, encodeContact(&c))
		if err != nil || !reflect.DeepEqual(*got, c) {
			t.Errorf("contact round trip: %+v, %v; want %+v", got, err, c)
		}
	}
}

// contactIs tells a stored contact from a copy exactly when decoding it
// would: the same name, language, fields and groups, nil where decoding
// leaves them nil.
func TestContactIs(t *testing.T) {
	cs := []flows.Contact{
		{},
		{Name: "Ann"},
		{Name: "Ann", Language: "fra"},
		{Fields: map[string]string{}},
		{Fields: map[string]string{"a": "1"}},
		{Fields: map[string]string{"a": "2"}},
		{Fields: map[string]string{"b": "1"}},
		{Fields: map[string]string{"a": "1", "b": ""}},
		{Groups: []string{}},
		{Groups: []string{"x"}},
		{Groups: []string{"x", "y"}},
		{Groups: []string{"y", "x"}},
		{Name: "Ann", Language: "fra", Fields: map[string]string{"b": "2", "a": ""}, Groups: []string{"x", ""}},
	}
	for i := range cs {
		stored := encodeContact(&cs[i])
		dec, err := decodeContact("", stored)
		if err != nil {
			t.Fatal(err)
		}
		for j := range cs {
			if got, want := contactIs(stored, &cs[j]), reflect.DeepEqual(*dec, cs[j]); got != want {
				t.Errorf("contactIs(%+v stored, %+v) = %v, want %v", cs[i], cs[j], got, want)
			}
		}
		if contactIs(append(stored, 0), &cs[i]) || contactIs(stored[:len(stored)-1], &cs[i]) {
			t.Errorf("contactIs takes %+v with a byte more or less", cs[i])
		}
	}
}

// TestTimerPairs covers a session's two timers sharing one record: both are
// reported when due, in time order across sessions, within the limit, and
// either can be removed alone.
func TestTimerPairs(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	save := func(id string, timeout, expiry int) {
		s := session(id, flows.StatusWaiting, "tel:"+id)
		if timeout > 0 {
			s.Wait = &flows.Wait{Widget: "w", Kind: flows.WaitMessage, TimeoutAt: tp(at(timeout))}
		}
		if expiry > 0 {
			s.ExpiresAt = tp(at(expiry))
		}
		mustSave(t, b, &Turn{Session: s, Channel: "sms"})
	}
	save("a", 1, 10) // a: timeout 1, expiry 10
	save("b", 5, 3)  // b: expiry 3 before timeout 5
	save("c", 0, 4)
	name := func(ts []Timer) []string {
		var out []string
		for _, x := range ts {
			out = append(out, x.SessionID+"/"+x.Kind.String()+"@"+x.At.Sub(t0).String())
		}
		return out
	}
	for _, tc := range []struct {
		now   int
		limit int
		want  []string
	}{
		{20, 10, []string{"a/wait_timeout@1m0s", "b/expiry@3m0s", "c/expiry@4m0s", "b/wait_timeout@5m0s", "a/expiry@10m0s"}},
		{20, 3, []string{"a/wait_timeout@1m0s", "b/expiry@3m0s", "c/expiry@4m0s"}},
		{20, 4, []string{"a/wait_timeout@1m0s", "b/expiry@3m0s", "c/expiry@4m0s", "b/wait_timeout@5m0s"}},
		{4, 10, []string{"a/wait_timeout@1m0s", "b/expiry@3m0s", "c/expiry@4m0s"}},
	} {
		ts, err := b.DueTimers(ctx, at(tc.now), tc.limit)
		if got := name(ts); err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("DueTimers(%d min, %d) = %v, %v; want %v", tc.now, tc.limit, got, err, tc.want)
		}
	}
	// Remove a's expiry (the second of its record), then b's expiry (the first of its).
	wantErr(t, "RemoveTimer", b.RemoveTimer(ctx, Timer{At: at(10), SessionID: "a", Kind: TimerExpiry}), nil)
	wantErr(t, "RemoveTimer", b.RemoveTimer(ctx, Timer{At: at(3), SessionID: "b", Kind: TimerExpiry}), nil)
	wantErr(t, "RemoveTimer of a timer that is not there", b.RemoveTimer(ctx, Timer{At: at(7), SessionID: "b", Kind: TimerWaitTimeout}), nil)
	ts, _ := b.DueTimers(ctx, at(20), 10)
	if got, want := name(ts), []string{"a/wait_timeout@1m0s", "c/expiry@4m0s", "b/wait_timeout@5m0s"}; !slices.Equal(got, want) {
		t.Fatalf("after removals: %v, want %v", got, want)
	}
	if n := stats(t, b).Timers; n != 3 {
		t.Fatalf("Stats.Timers = %d, want 3", n)
	}
	// b saved again with the same times gets its expiry back; its timeout stays.
	save("b", 5, 3)
	ts, _ = b.DueTimers(ctx, at(20), 10)
	if got, want := name(ts), []string{"a/wait_timeout@1m0s", "b/expiry@3m0s", "c/expiry@4m0s", "b/wait_timeout@5m0s"}; !slices.Equal(got, want) {
		t.Fatalf("after saving b again: %v, want %v", got, want)
	}
	if n := stats(t, b).Timers; n != 4 {
		t.Fatalf("Stats.Timers = %d, want 4", n)
	}
}

// TestGroupPutFill runs random puts and deletes through put and through
// statBatch.put on two copies of a bucket: after each operation the two
// must have chosen the same page fill.
func TestGroupPutFill(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "fill.db"), 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys := map[byte]bool{} // what both buckets hold
	last := func() int {
		m := -1
		for k := range keys {
			m = max(m, int(k))
		}
		return m
	}
	for round := range 500 {
		err := db.Update(func(tx *bbolt.Tx) error {
			var st statBatch
			var bks [2]*bbolt.Bucket
			for i := range bks {
				bk, err := tx.CreateBucketIfNotExists([]byte{byte('a' + i)})
				if err != nil {
					return err
				}
				bks[i] = bk
			}
			for op := range 1 + r.IntN(16) {
				k := byte(r.IntN(60))
				switch r.IntN(4) {
				case 0: // delete the last key, or another
					if m := last(); m >= 0 && r.IntN(2) == 0 {
						k = byte(m)
					}
					for _, bk := range bks {
						if err := bk.Delete([]byte{k}); err != nil {
							return err
						}
					}
					delete(keys, k)
				case 1: // go past the end
					if m := last(); m < 255 {
						k = byte(m + 1)
					}
					fallthrough
				default:
					if err := put(bks[0], []byte{k}, nil); err != nil {
						return err
					}
					if err := st.put(bks[1], []byte{k}, nil); err != nil {
						return err
					}
					keys[k] = true
				}
				if bks[0].FillPercent != bks[1].FillPercent {
					t.Fatalf("round %d op %d: fill %v with put, %v with statBatch.put", round, op, bks[0].FillPercent, bks[1].FillPercent)
				}
			}
			if r.IntN(4) == 0 { // start again now and then
				for _, name := range [][]byte{{'a'}, {'b'}} {
					if err := tx.DeleteBucket(name); err != nil {
						return err
					}
				}
				clear(keys)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestPutCopiesKey holds bbolt to what the store's key buffers rely on
// (statBatch.scratch): Put keeps a copy of its key, not the caller's slice.
func TestPutCopiesKey(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "k.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		bk, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		k := []byte("key-a")
		if err := bk.Put(k, []byte("1")); err != nil {
			return err
		}
		copy(k, "key-b")
		if err := bk.Put(k, []byte("2")); err != nil {
			return err
		}
		copy(k, "zzzzz")
		for _, want := range [][2]string{{"key-a", "1"}, {"key-b", "2"}} {
			if v := bk.Get([]byte(want[0])); string(v) != want[1] {
				t.Errorf("in the transaction: %s = %q, want %q", want[0], v, want[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *bbolt.Tx) error {
		var keys []string
		tx.Bucket([]byte("b")).ForEach(func(k, _ []byte) error { keys = append(keys, string(k)); return nil })
		if fmt.Sprint(keys) != "[key-a key-b]" {
			t.Errorf("committed keys %q, want [key-a key-b]", keys)
		}
		return nil
	})
}

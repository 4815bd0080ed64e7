package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// eraseFixture stores, for the contact tel:+15550100 under its normal key
// and under an older key form, a contact with fields, a session waiting on
// a channel with a wait timeout and expiry, more ended sessions and
// inbound messages than a row holds (so some are in session_contacts and
// processed_index), each with events; and the same for another contact,
// which an erasure must leave whole. It returns the ids of the erased
// contact's sessions, and the waiting one.
func eraseFixture(t *testing.T, b *Bolt) (ids []string, waiting *flows.Session) {
	t.Helper()
	msg := 0
	for _, urn := range []string{"tel:+15550100", "tel:+1 555 0100", "tel:+15550199"} {
		for i := range rowEndedMax + 3 {
			id := fmt.Sprintf("%s-ended-%02d", strings.ReplaceAll(urn, " ", "_"), i)
			s := session(id, flows.StatusCompleted, urn)
			s.Contact.Name = "Ada " + urn
			s.Contact.Fields = map[string]string{"secret": "text of " + urn}
			s.EndedAt = tp(t0)
			msg++
			mustSave(t, b, &Turn{Session: s, Contact: &s.Contact, Channel: "sms",
				Events:    []flows.Event{{Type: flows.EventMessageIn, Time: t0, Text: "said by " + urn}},
				MessageID: fmt.Sprintf("m%d", msg), Reply: []byte(`{"text":"answer to ` + urn + `"}`)})
			if urn != "tel:+15550199" {
				ids = append(ids, id)
			}
		}
		id := strings.ReplaceAll(urn, " ", "_") + "-waiting"
		s := session(id, flows.StatusWaiting, urn)
		s.Channel = &flows.Channel{ID: "sms"}
		s.Wait = &flows.Wait{Kind: "message", TimeoutAt: tp(t0.Add(time.Hour))}
		s.ExpiresAt = tp(t0.Add(2 * time.Hour))
		s.Contact.Fields = map[string]string{"secret": "text of " + urn}
		msg++
		mustSave(t, b, &Turn{Session: s, Contact: &s.Contact,
			Events:    []flows.Event{{Type: flows.EventMessageIn, Time: t0, Text: "said by " + urn}},
			MessageID: fmt.Sprintf("m%d", msg), Reply: []byte(`{"text":"answer to ` + urn + `"}`)})
		if urn != "tel:+15550199" {
			ids = append(ids, id)
			if urn == "tel:+15550100" {
				waiting = s
			}
		}
	}
	// The older key's waiting session is on another channel, as a session
	// waiting under an older key stays there until it ends.
	return ids, waiting
}

// TestEraseContact erases a contact stored under its normal key and an
// older key form, and scans every bucket of the file: nothing of the
// contact is left (its URNs, its sessions' ids, its texts), the counters
// count only what is left, the other contact is whole, and the file checks.
func TestEraseContact(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	path := b.db.Path()
	ids, _ := eraseFixture(t, b)
	// Dedupe records of layout 6, as an upgraded file keeps them until
	// they are pruned: one of each contact (layout 2 kept the reply in
	// processed, later layouts in processed_by_time).
	err := b.db.Update(func(tx *bbolt.Tx) error {
		at := nanos(t0.Add(-time.Hour))
		for i, id := range []string{ids[0], "tel:+15550199-ended-00", ids[1]} {
			reply := []byte(`{"id":"` + id + `","text":"answer to ` + id + ` (layout 6)"}`)
			k := join("sms", fmt.Sprint("old", i))
			v, byTime := u64(at+uint64(i)), reply
			if i == 2 {
				v, byTime = append(v, reply...), nil
			}
			if err := tx.Bucket(bProcessed).Put(k, v); err != nil {
				return err
			}
			if err := tx.Bucket(bProcessedAt).Put(append(u64(at+uint64(i)), k...), byTime); err != nil {
				return err
			}
		}
		return addStat(tx, statProcessed, 3)
	})
	if err != nil {
		t.Fatal(err)
	}
	b.legacyDedupe.Store(true)
	before := stats(t, b)

	match := func(urn string) bool { return strings.ReplaceAll(urn, " ", "") == "tel:+15550100" }
	keys, err := b.ContactKeys(ctx, nil, match)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"tel:+1 555 0100", "tel:+15550100"}; fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Fatalf("ContactKeys = %q, want %q", keys, want)
	}

	// A session that has not ended and that no turn ends: nothing is erased.
	_, err = b.EraseContact(ctx, keys, nil, nil)
	wantErr(t, "erase with a waiting session", err, ErrConflict)
	if got := stats(t, b); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("a refused erasure changed the counters: %+v, want %+v", got, before)
	}

	// Both waiting sessions are ended by their turns, in the same transaction.
	var ending []*Turn
	for _, urn := range keys {
		id := strings.ReplaceAll(urn, " ", "_") + "-waiting"
		s, err := b.LoadSession(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		prev := s.UpdatedAt
		s.Status, s.Wait, s.ExpiresAt, s.EndedAt, s.UpdatedAt = flows.StatusInterrupted, nil, nil, tp(t0.Add(time.Minute)), t0.Add(time.Minute)
		ending = append(ending, &Turn{Session: s, PrevUpdated: prev,
			Events: []flows.Event{{Type: flows.EventSessionEnded, Time: s.UpdatedAt, SessionStatus: flows.StatusInterrupted}}})
	}
	got, err := b.EraseContact(ctx, keys, ending, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := ContactErasure{Contacts: 2, Sessions: len(ids), Events: len(ids) + 2, Messages: len(ids) + 2}
	if got != want {
		t.Fatalf("EraseContact = %+v, want %+v", got, want)
	}

	for _, k := range keys {
		if _, err := b.Contact(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Errorf("Contact(%q) after the erasure: %v, want not found", k, err)
		}
	}
	if keys, err := b.ContactKeys(ctx, nil, match); err != nil || len(keys) != 0 {
		t.Errorf("ContactKeys after the erasure = %q, %v; want none", keys, err)
	}
	// Each session of the other contact stays: eleven ended and one waiting.
	st := stats(t, b)
	if st.Contacts != 1 || st.Sessions[flows.StatusCompleted] != rowEndedMax+3 || st.Sessions[flows.StatusWaiting] != 1 ||
		st.Sessions[flows.StatusInterrupted] != 0 || st.Events != rowEndedMax+4 || st.Processed != rowEndedMax+5 || st.Timers != 2 {
		t.Errorf("counters after the erasure: %+v", st)
	}
	if c, err := b.Contact(ctx, "tel:+15550199"); err != nil || c.Fields["secret"] != "text of tel:+15550199" {
		t.Errorf("the other contact: %+v, %v", c, err)
	}
	if _, found, err := b.ProcessedReply(ctx, "sms", "tel:+15550199", "m1"); found || err != nil {
		t.Errorf("the erased contact's message m1 found for the other contact: %v %v", found, err)
	}
	if _, found, err := b.ProcessedReply(ctx, "sms", "tel:+15550199", fmt.Sprintf("m%d", 2*(rowEndedMax+4)+1)); !found || err != nil {
		t.Errorf("the other contact's first message is not found: %v %v", found, err)
	}
	if _, found, err := b.ProcessedReply(ctx, "sms", "tel:+15550199", "old1"); !found || err != nil {
		t.Errorf("the other contact's record of layout 6 is not found: %v %v", found, err)
	}
	if w, err := b.WaitingSession(ctx, "sms", "tel:+15550199"); err != nil || w.ID != "tel:+15550199-waiting" {
		t.Errorf("the other contact's waiting session: %v", err)
	}
	list, _, err := b.ListSessions(ctx, SessionFilter{}, Page{Limit: 1000})
	if err != nil || len(list) != rowEndedMax+4 {
		t.Errorf("sessions listed after the erasure: %d, %v", len(list), err)
	}
	for _, s := range list {
		if s.Contact.URN != "tel:+15550199" {
			t.Errorf("session %s of %q is left", s.ID, s.Contact.URN)
		}
	}

	// Nothing in any bucket names the erased contact, its sessions or
	// its texts: keys, values and the session records' payloads.
	needles := [][]byte{[]byte("tel:+15550100"), []byte("tel:+1 555 0100"), []byte("said by tel:+15550100"),
		[]byte("answer to tel:+15550100"), []byte("text of tel:+15550100")}
	for _, id := range ids {
		needles = append(needles, idKey(id), []byte(id))
	}
	err = b.db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bbolt.Bucket) error {
			return bk.ForEach(func(k, v []byte) error {
				if bytes.Equal(name, bRecords) && len(k) == 8 {
					s, err := decodeSession("", v)
					if err != nil {
						return err
					}
					if s.Contact.URN != "tel:+15550199" {
						t.Errorf("session record %x of %q is left", k, s.Contact.URN)
					}
				}
				if bytes.Equal(name, bRecords) && len(k) == 16 {
					evs, err := decodeEvents(v)
					if err != nil {
						return err
					}
					for _, e := range evs {
						v = append(v, e...)
					}
				}
				for _, n := range needles {
					if bytes.Contains(k, n) || bytes.Contains(v, n) {
						t.Errorf("bucket %s holds %q: key %q", name, n, k)
					}
				}
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	checkRefs(t, b)

	// The file checks as a backup of it would, and opens again.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, path); err != nil {
		t.Fatalf("Verify after the erasure: %v", err)
	}
	if _, err := Compact(ctx, path, CompactOptions{}); err != nil {
		t.Fatalf("Compact after the erasure: %v", err)
	}
}

// checkRefs checks the references between the session buckets: every id
// entry has its record and every record its id entry, every timer,
// status, ended and session_contacts entry and every waiting or ended
// entry of a row names a stored session, and every dedupe entry its
// processed_log record.
func checkRefs(t *testing.T, b *Bolt) {
	t.Helper()
	err := b.db.View(func(tx *bbolt.Tx) error {
		stored := map[string]bool{}
		seqs := map[uint64]bool{}
		tx.Bucket(bIDs).ForEach(func(k, v []byte) error {
			_, seq, err := decodeIDEntry("", v)
			if err != nil || tx.Bucket(bRecords).Get(recordKey(seq)) == nil {
				t.Errorf("id entry %x without its record", k)
			}
			stored[string(k)], seqs[seq] = true, true
			return nil
		})
		tx.Bucket(bRecords).ForEach(func(k, _ []byte) error {
			if !seqs[bytesU64(k)] {
				t.Errorf("session record %x without its id entry", k)
			}
			return nil
		})
		tx.Bucket(bTimers).ForEach(func(k, _ []byte) error {
			if !stored[string(k[8:])] {
				t.Errorf("timer %x of no stored session", k)
			}
			return nil
		})
		tx.Bucket(bEnded).ForEach(func(k, _ []byte) error {
			if !stored[string(k[8:])] {
				t.Errorf("ended entry %x of no stored session", k)
			}
			return nil
		})
		tx.Bucket(bByStatus).ForEach(func(k, _ []byte) error {
			if !stored[string(k[1:])] {
				t.Errorf("status entry %x of no stored session", k)
			}
			return nil
		})
		tx.Bucket(bByContact).ForEach(func(k, _ []byte) error {
			if !stored[string(k[bytes.IndexByte(k, sep)+1:])] {
				t.Errorf("session_contacts entry %q of no stored session", k)
			}
			return nil
		})
		logb := tx.Bucket(bProcessedLog)
		hasLog := func(urn string, m msgEntry) bool {
			c := logb.Cursor()
			at := u64(m.at)
			for k, _ := c.Seek(at); bytes.HasPrefix(k, at); k, _ = c.Next() {
				if _, msg, kurn, ok := splitLogKey(k); ok && kurn == urn && msgHash(msg) == m.hash {
					return true
				}
			}
			return false
		}
		tx.Bucket(bContacts).ForEach(func(k, v []byte) error {
			r, err := decodeRow(string(k), v)
			if err != nil {
				return err
			}
			for _, w := range r.waits {
				if !stored[string(w.eid)] {
					t.Errorf("row %q: waiting entry of no stored session", k)
				}
			}
			for _, e := range r.ended {
				if !stored[string(e)] {
					t.Errorf("row %q: ended entry of no stored session", k)
				}
			}
			for _, m := range r.msgs {
				if !hasLog(string(k), m) {
					t.Errorf("row %q: dedupe entry without its record", k)
				}
			}
			return nil
		})
		return tx.Bucket(bProcessedIndex).ForEach(func(k, _ []byte) error {
			i := bytes.IndexByte(k, sep)
			if !hasLog(string(k[:i]), msgEntry{hash: bytesU64(k[i+1:]), at: bytesU64(k[i+9:])}) {
				t.Errorf("processed_index entry %q without its record", k)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func bytesU64(b []byte) uint64 {
	var n uint64
	for _, c := range b[:8] {
		n = n<<8 | uint64(c)
	}
	return n
}

package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/klauspost/compress/zstd"
	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// This file writes files in layout 1, as Parley did before layout 2, so the
// migration can be tested against real old files: the buckets, keys and
// values below are layout 1's, taken from its SaveTurn.

var v1Zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))

// createV1 creates the buckets of a layout 1 file (no meta bucket).
func createV1(tx *bbolt.Tx) error {
	for _, name := range [][]byte{bFlows, bFlowRevs, bV1Sessions, bV1ByStatus, bV1ByContact, bV1Contacts, bV1Waiting,
		bV1Timers, bV1Events, bOutbox, bProcessed, bProcessedAt, bStats, bChannels, bAPIKeys, bWebhooks} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

func encodeRecordV1(h *headerV1) []byte {
	b := make([]byte, headerFixedV1)
	b[0], b[1], b[2] = layoutV1, h.status, h.codec
	binary.BigEndian.PutUint64(b[3:], h.updated)
	binary.BigEndian.PutUint64(b[11:], h.timeoutAt)
	binary.BigEndian.PutUint64(b[19:], h.expiresAt)
	for _, str := range []string{h.channel, h.urn, h.flowID} {
		b = appendString(b, str)
	}
	return append(b, h.payload...)
}

// saveTurnV1 is layout 1's SaveTurn (without the PrevUpdated check), in
// the caller's transaction; at is the dedupe record's time.
func saveTurnV1(tx *bbolt.Tx, t *Turn, at uint64) error {
	s := t.Session
	js, err := jsonv1.Marshal(s)
	if err != nil {
		return err
	}
	codec, payload := byte(codecJSON), js
	if len(js) >= minCompressInput {
		codec, payload = codecZstd, v1Zenc.EncodeAll(js, nil)
	}
	timeoutAt, expiresAt := timersOf(s)
	channel := t.Channel
	if channel == "" && s.Channel != nil {
		channel = s.Channel.ID
	}
	cur := headerV1{status: statusCodes[s.Status], codec: codec, updated: nanos(s.UpdatedAt),
		timeoutAt: timeoutAt, expiresAt: expiresAt, urn: s.Contact.URN, flowID: s.FlowID, payload: payload}
	sessions := tx.Bucket(bV1Sessions)
	var prev *headerV1
	if old := sessions.Get([]byte(s.ID)); old != nil {
		h, err := decodeHeaderV1(s.ID, old)
		if err != nil {
			return err
		}
		prev = &h
		if channel == "" {
			channel = h.channel
		}
	}
	cur.channel = channel
	if t.MessageID != "" {
		// The dedupe record's channel is the turn's, not the previous save's.
		msgChannel := t.Channel
		if msgChannel == "" && s.Channel != nil {
			msgChannel = s.Channel.ID
		}
		k := join(msgChannel, t.MessageID)
		if tx.Bucket(bProcessed).Get(k) != nil {
			return ErrDuplicate
		}
		tx.Bucket(bProcessed).Put(k, append(u64(at), t.Reply...))
		tx.Bucket(bProcessedAt).Put(processedAtKey(at, msgChannel, t.MessageID), nil)
		addStat(tx, statProcessed, 1)
	}
	waitKey := func(h *headerV1) []byte {
		if h == nil || h.status != waitingCode || h.channel == "" || h.urn == "" {
			return nil
		}
		return join(h.channel, h.urn)
	}
	wb := tx.Bucket(bV1Waiting)
	if ok, nk := waitKey(prev), waitKey(&cur); ok != nil && !bytes.Equal(ok, nk) && string(wb.Get(ok)) == s.ID {
		wb.Delete(ok)
	}
	if nk := waitKey(&cur); nk != nil {
		if other := wb.Get(nk); other != nil && string(other) != s.ID {
			return ErrConflict
		}
		wb.Put(nk, []byte(s.ID))
	}
	tb := tx.Bucket(bV1Timers)
	var delta int64
	move := func(kind TimerKind, from, to uint64) {
		if from == to {
			return
		}
		if from != 0 && tb.Get(timerKeyV1(from, kind, s.ID)) != nil {
			tb.Delete(timerKeyV1(from, kind, s.ID))
			delta--
		}
		if to != 0 {
			tb.Put(timerKeyV1(to, kind, s.ID), []byte{byte(kind)})
			delta++
		}
	}
	var oldTimeout, oldExpiry uint64
	if prev != nil {
		oldTimeout, oldExpiry = prev.timeoutAt, prev.expiresAt
	}
	move(TimerWaitTimeout, oldTimeout, cur.timeoutAt)
	move(TimerExpiry, oldExpiry, cur.expiresAt)
	addStat(tx, statTimers, delta)
	sb, cb := tx.Bucket(bV1ByStatus), tx.Bucket(bV1ByContact)
	if prev == nil || prev.status != cur.status {
		if prev != nil {
			sb.Delete(append([]byte{prev.status}, s.ID...))
			addStat(tx, statSession(codeStatuses[prev.status]), -1)
		}
		sb.Put(append([]byte{cur.status}, s.ID...), nil)
		addStat(tx, statSession(s.Status), 1)
	}
	if prev == nil || prev.urn != cur.urn {
		if prev != nil && prev.urn != "" {
			cb.Delete(join(prev.urn, s.ID))
		}
		if cur.urn != "" {
			cb.Put(join(cur.urn, s.ID), nil)
		}
	}
	sessions.Put([]byte(s.ID), encodeRecordV1(&cur))
	if len(t.Events) > 0 {
		eb := tx.Bucket(bV1Events)
		seq := uint64(0)
		c := eb.Cursor()
		prefix := join(s.ID, "")
		k, _ := c.Seek(append(bytes.Clone(prefix), u64(math.MaxUint64)...))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		if len(k) == len(prefix)+8 && bytes.HasPrefix(k, prefix) {
			seq = binary.BigEndian.Uint64(k[len(prefix):])
		}
		for i := range t.Events {
			seq++
			v, _ := jsonv1.Marshal(&t.Events[i])
			eb.Put(append(bytes.Clone(prefix), u64(seq)...), v)
		}
		addStat(tx, statEvents, int64(len(t.Events)))
	}
	if c := t.Contact; c != nil {
		v, _ := jsonv1.Marshal(c)
		ct := tx.Bucket(bV1Contacts)
		if ct.Get([]byte(c.URN)) == nil {
			addStat(tx, statContacts, 1)
		}
		ct.Put([]byte(c.URN), v)
	}
	var recs [][]byte
	for _, r := range t.Outbox {
		v, _ := jsonv1.Marshal(&r)
		recs = append(recs, v)
	}
	return putOutbox(tx, nil, recs)
}

// writeV1 creates a layout 1 file at path holding the given turns.
func writeV1(t testing.TB, path string, turns []*Turn) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := createV1(tx); err != nil {
			return err
		}
		for i, turn := range turns {
			if err := saveTurnV1(tx, turn, nanos(t0)+uint64(i)); err != nil {
				return fmt.Errorf("turn %d (%s): %w", i, turn.Session.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// seedV1 writes n waiting sample sessions in layout 1, perBatch per
// transaction, as layout 1's SeedWaiting did.
func seedV1(t testing.TB, path string, n, perBatch int, gen func(int) *flows.Session) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(createV1); err != nil {
		t.Fatal(err)
	}
	for start := 0; start < n; start += perBatch {
		err := db.Update(func(tx *bbolt.Tx) error {
			for i := start; i < min(start+perBatch, n); i++ {
				s := gen(i)
				c := s.Contact
				if err := saveTurnV1(tx, &Turn{Session: s, Contact: &c}, 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestMigrateV1Again runs layout 1's writes on a file of the current layout,
// as a layout 1 version, which reads no layout version, did when started
// on an upgraded file, and checks that the next Open migrates them on top
// of the current data: nothing of either is lost but where both hold one
// session, or a waiting session for one contact on one channel, and there
// the one saved last wins, as the logs say; the counters count what is
// stored.
func TestMigrateV1Again(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	b, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration, s *flows.Session) *flows.Session {
		s.UpdatedAt = t0.Add(d)
		return s
	}
	waitOn := func(s *flows.Session) *flows.Session {
		s.Wait = &flows.Wait{Widget: "w", Kind: flows.WaitMessage}
		return s
	}
	mustSave(t, b, &Turn{Session: waitOn(session("a", flows.StatusWaiting, "tel:+1")), Channel: "sms",
		Contact: &flows.Contact{URN: "tel:+1", Name: "Before"}})
	mustSave(t, b, &Turn{Session: at(time.Hour, session("dup-kept", flows.StatusActive, "tel:+5")), Events: []flows.Event{{Type: "now"}}})
	mustSave(t, b, &Turn{Session: session("dup-replaced", flows.StatusActive, "tel:+6"), Events: []flows.Event{{Type: "now"}}})
	b.Close()

	writeV1(t, path, []*Turn{
		{Session: at(time.Minute, waitOn(session("b", flows.StatusWaiting, "tel:+1"))), Channel: "sms",
			Contact: &flows.Contact{URN: "tel:+1", Name: "After"}},
		{Session: session("dup-kept", flows.StatusCompleted, "tel:+5"), Events: []flows.Event{{Type: "v1"}}},
		{Session: at(2*time.Hour, session("dup-replaced", flows.StatusCompleted, "tel:+6")), Events: []flows.Event{{Type: "v1"}, {Type: "v1"}}},
		{Session: waitOn(session("c", flows.StatusWaiting, "tel:+7")), Channel: "sms", MessageID: "m-c", Reply: []byte(`{"id":"c"}`),
			Events: []flows.Event{{Type: "v1"}}},
	})

	var logs bytes.Buffer
	b, err = Open(path, Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	assertLayout(t, b, layoutCurrent)

	for id, want := range map[string]struct {
		status  flows.Status
		updated time.Time
		events  []string
	}{
		"a":            {flows.StatusWaiting, t0, nil},
		"b":            {flows.StatusWaiting, t0.Add(time.Minute), nil},
		"c":            {flows.StatusWaiting, t0, []string{"v1"}},
		"dup-kept":     {flows.StatusActive, t0.Add(time.Hour), []string{"now"}},
		"dup-replaced": {flows.StatusCompleted, t0.Add(2 * time.Hour), []string{"v1", "v1"}},
	} {
		s, err := b.LoadSession(ctx, id)
		if err != nil || s.Status != want.status || !s.UpdatedAt.Equal(want.updated) {
			t.Errorf("session %s: %+v, %v; want %s saved at %s", id, s, err, want.status, want.updated)
			continue
		}
		evs, err := b.SessionEvents(ctx, id, 0, 10)
		var types []string
		for _, e := range evs {
			types = append(types, e.Event.Type)
		}
		if err != nil || !slices.Equal(types, want.events) {
			t.Errorf("session %s events: %v, %v; want %v", id, types, err, want.events)
		}
	}
	for urn, want := range map[string]string{"tel:+1": "b", "tel:+7": "c"} {
		if s, err := b.WaitingSession(ctx, "sms", urn); err != nil || s == nil || s.ID != want {
			t.Errorf("WaitingSession(sms, %s) = %+v, %v; want %s", urn, s, err, want)
		}
	}
	if list, _, err := b.ListSessions(ctx, SessionFilter{Contact: "tel:+1"}, Page{}); err != nil || len(list) != 2 {
		t.Errorf("sessions of tel:+1: %d, %v; want a and b", len(list), err)
	}
	if c, err := b.Contact(ctx, "tel:+1"); err != nil || c == nil || c.Name != "After" {
		t.Errorf("contact tel:+1: %+v, %v; want the one layout 1 wrote last", c, err)
	}
	if r, ok, err := b.ProcessedReply(ctx, "sms", "tel:+7", "m-c"); err != nil || !ok || string(r) != `{"id":"c"}` {
		t.Errorf("ProcessedReply(m-c) = %q %v %v", r, ok, err)
	}
	st := stats(t, b)
	want := Stats{Sessions: map[flows.Status]int64{flows.StatusWaiting: 3, flows.StatusActive: 1, flows.StatusCompleted: 1},
		Contacts: 1, Events: 4, Processed: 1}
	for status, n := range want.Sessions {
		if st.Sessions[status] != n {
			t.Errorf("Stats.Sessions[%s] = %d, want %d", status, st.Sessions[status], n)
		}
	}
	if st.Contacts != want.Contacts || st.Events != want.Events || st.Processed != want.Processed {
		t.Errorf("Stats: contacts %d, events %d, processed %d; want %d, %d, %d", st.Contacts, st.Events, st.Processed,
			want.Contacts, want.Events, want.Processed)
	}
	for _, line := range []string{
		`level=WARN msg="store: the file, of layout 9, holds layout 1 buckets, written by a version of Parley before layout 2 run on it after its upgrade: migrating them again`,
		`msg="store: migrated layout 1 to 9" sessions=5 sessions_this_run=4 contacts_this_run=1 `,
		`conflicts=3 `,
		`level=WARN msg="store: layout 1 migration conflict: sessions \"a\" and \"b\" both wait for contact \"tel:+1\" on channel \"sms\": \"b\", saved last, gets its messages; \"a\" ends at its expiry or when interrupted"`,
		`level=WARN msg="store: layout 1 migration conflict: session \"dup-kept\": kept the version saved at 2026-03-01T13:00:00Z; dropped layout 1's, saved at 2026-03-01T12:00:00Z"`,
		`level=WARN msg="store: layout 1 migration conflict: session \"dup-replaced\": kept layout 1's version, saved at 2026-03-01T14:00:00Z; dropped the one saved at 2026-03-01T12:00:00Z"`,
	} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("logs lack %q:\n%s", line, logs.String())
		}
	}
	// Session a, which lost the entry, still ends: interrupted, it leaves
	// b waiting.
	s, err := b.LoadSession(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	prev := s.UpdatedAt
	s.Status, s.Wait, s.UpdatedAt = flows.StatusInterrupted, nil, t0.Add(3*time.Hour)
	if err := b.SaveTurn(ctx, &Turn{Session: s, PrevUpdated: prev}); err != nil {
		t.Fatalf("interrupting a: %v", err)
	}
	if w, err := b.WaitingSession(ctx, "sms", "tel:+1"); err != nil || w == nil || w.ID != "b" {
		t.Errorf("WaitingSession(sms, tel:+1) after a ended = %+v, %v; want b", w, err)
	}
}

// TestDamagedV1Records: in a layout 1 file, Compact checks layout 1's
// sessions, events and contacts, names each damaged one by its bucket and
// leaves the file as it was. Open migrates a session whose payload does not
// decompress as it is: it is then reported damaged, as a damaged session of
// the current layout is, and left out of listings, while the rest of the
// file opens. A session whose layout 1 header is damaged, which cannot be
// placed, stops the migration with an error naming it and its bucket.
func TestDamagedV1Records(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	big := session("s-bad", flows.StatusWaiting, "tel:+2")
	big.Input = strings.Repeat("compressible ", 100) // compressed by layout 1
	writeV1(t, path, []*Turn{
		{Session: session("s-ok", flows.StatusWaiting, "tel:+1"), Channel: "sms", Contact: &flows.Contact{URN: "tel:+1"}},
		{Session: big, Channel: "sms", Events: []flows.Event{{Type: "a"}}},
		{Session: session("s-ev", flows.StatusActive, "tel:+3"), Events: []flows.Event{{Type: "b"}}},
	})
	damageValue(t, path, bV1Sessions, []byte("s-bad"), func(v []byte) []byte {
		h, err := decodeHeaderV1("s-bad", v)
		if err != nil || h.codec != codecZstd {
			t.Fatalf("s-bad: %+v, %v; want a layout 1 zstd payload", h, err)
		}
		p := v[len(v)-len(h.payload):]
		for i := 4; i < len(p); i++ { // the frame's magic number stays
			p[i] = 0xff
		}
		return v
	})
	damageValue(t, path, bV1Events, append([]byte("s-ev\x00"), u64(1)...), func(v []byte) []byte { return v[:len(v)-1] })
	damageValue(t, path, bV1Contacts, []byte("tel:+1"), func(v []byte) []byte { return v[:len(v)-1] })

	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compact(ctx, path, CompactOptions{})
	prefix := "store file " + path + " is corrupt or truncated: "
	for _, line := range []string{
		"compact: " + prefix + "3 stored records do not decode; restore it from a backup",
		"\n\tsession \"s-bad\" (bucket sessions): decompress: ",
		"\n\tevents of session \"s-ev\" (bucket events): an event is not JSON",
		"\n\tcontact \"tel:+1\" (bucket contacts): decode: ",
	} {
		if err == nil || !strings.Contains(err.Error(), line) {
			t.Errorf("Compact's error does not say %q:\n%v", line, err)
		}
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(before, after) {
		t.Errorf("Compact changed the file (%v)", err)
	}

	// The contact, which would stop the migration, is mended; the session
	// is carried over damaged.
	damageValue(t, path, bV1Contacts, []byte("tel:+1"), func([]byte) []byte { return []byte(`{"urn":"tel:+1"}`) })
	var logs bytes.Buffer
	b, err := Open(path, Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Open of a layout 1 file with a damaged session: %v", err)
	}
	assertLayout(t, b, layoutCurrent)
	_, err = b.LoadSession(ctx, "s-bad")
	if want := prefix + `session "s-bad" (bucket session_records): decompress: `; !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("LoadSession(s-bad): %v\nwant an error starting %q", err, want)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="store: a damaged layout 1 session was carried over as it is, and is reported damaged: session \"s-bad\": decompress: `) {
		t.Errorf("the migration does not log the damaged session:\n%s", logs.String())
	}
	list, _, err := b.ListSessions(ctx, SessionFilter{}, Page{})
	var got []string
	for _, s := range list {
		got = append(got, s.ID)
	}
	if err != nil || strings.Join(got, ",") != "s-ev,s-ok" {
		t.Errorf("ListSessions: %v, %v; want the sessions that decode, s-ev,s-ok", got, err)
	}
	if s, err := b.WaitingSession(ctx, "sms", "tel:+1"); err != nil || s == nil || s.ID != "s-ok" {
		t.Errorf("WaitingSession(sms, tel:+1) = %+v, %v", s, err)
	}
	b.Close()

	// A damaged header.
	path = filepath.Join(t.TempDir(), "parley.db")
	writeV1(t, path, []*Turn{{Session: session("s-hdr", flows.StatusActive, "tel:+1")}})
	damageValue(t, path, bV1Sessions, []byte("s-hdr"), func(v []byte) []byte { v[0] = 9; return v })
	_, err = Open(path, Options{NoSync: true})
	want := prefix[:len("store file ")] + path + ` is corrupt or truncated: session "s-hdr" (bucket sessions): unknown layout 1 record format (found while migrating layout 1 to 9, which stopped there); restore it from a backup`
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
		t.Errorf("Open of a layout 1 file with a damaged header: %v\nwant an error with %q", err, want)
	}
}

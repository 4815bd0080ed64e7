package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// migrationTurns are turns covering what layout 1 stored: UUID and other
// ids, waiting sessions with both timers, a session that ended, one without
// a contact, events, contacts, outbox and dedupe records.
func migrationTurns() []*Turn {
	exp, t1 := t0.Add(time.Hour), t0.Add(time.Minute)
	wait := func(s *flows.Session, timeout *time.Time) *flows.Session {
		s.Wait = &flows.Wait{Widget: "w", Kind: flows.WaitMessage, TimeoutAt: timeout}
		s.ExpiresAt = &exp
		return s
	}
	sample := SampleSession(1, t0)
	sampleContact := sample.Contact
	legacy := wait(session("legacy-7", flows.StatusWaiting, "tel:+2"), &t1)
	legacy2 := wait(session("legacy-7", flows.StatusWaiting, "tel:+2"), &exp) // timeout and expiry at one instant
	legacy2.UpdatedAt = t0.Add(time.Second)
	done := session("s-done", flows.StatusCompleted, "tel:+2")
	active := session(sampleID(2), flows.StatusActive, "tel:+3")
	active.ExpiresAt = &exp
	noURN := session("zz-nourn", flows.StatusActive, "")
	noChannel := wait(session("a-nochannel", flows.StatusWaiting, "tel:+3"), nil)
	rm := wait(session("s-rm", flows.StatusWaiting, "tel:+4"), &t1)
	out := func(typ string) []OutboxRecord {
		return []OutboxRecord{{ID: "rec-" + typ, Type: typ, Timestamp: t0, Data: json.RawMessage(`{}`)}}
	}
	return []*Turn{
		{Session: sample, Contact: &sampleContact, Channel: "sample", MessageID: "m1", Reply: []byte(`{"id":"` + sample.ID + `","messages":[]}`),
			Events: []flows.Event{{Type: flows.EventMessageIn, Text: "hi"}}, Outbox: out("session.waiting")},
		{Session: legacy, Channel: "sms", Contact: &flows.Contact{URN: "tel:+2", Name: "Bo", Fields: map[string]string{"k": "v"}},
			Events: []flows.Event{{Type: "a"}, {Type: "b"}}},
		{Session: legacy2, Channel: "sms", Events: []flows.Event{{Type: "c"}}, MessageID: "m2", Reply: []byte(`{"id":"legacy-7"}`)},
		{Session: done, Channel: "sms", Outbox: out("session.completed")},
		{Session: active, Channel: "web"},
		{Session: noURN},
		{Session: noChannel, Contact: &flows.Contact{URN: "tel:+3", Groups: []string{"g"}}},
		{Session: rm, Channel: "web"},
	}
}

// removedTimer is the timer migrationTurns' last session had removed with
// RemoveTimer: the header still names it, the timers bucket does not.
var removedTimer = Timer{At: t0.Add(time.Minute), SessionID: "s-rm", Kind: TimerWaitTimeout}

// orphanTimer belongs to a session that no longer exists.
var orphanTimer = Timer{At: t0.Add(2 * time.Hour), SessionID: "gone", Kind: TimerExpiry}

// writeMigrationFixture writes migrationTurns in layout 1, removes
// removedTimer and adds orphanTimer as layout 1 did.
func writeMigrationFixture(t *testing.T, path string) {
	writeV1(t, path, migrationTurns())
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		tb := tx.Bucket(bV1Timers)
		if err := tb.Delete(timerKeyV1(nanos(removedTimer.At), removedTimer.Kind, removedTimer.SessionID)); err != nil {
			return err
		}
		if err := tb.Put(timerKeyV1(nanos(orphanTimer.At), orphanTimer.Kind, orphanTimer.SessionID), []byte{byte(orphanTimer.Kind)}); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// freshEquivalent writes the same turns through the current code, with the
// same timer removed and the orphan left out.
func freshEquivalent(t *testing.T) *Bolt {
	b, _ := openTest(t)
	for _, turn := range migrationTurns() {
		mustSave(t, b, turn)
	}
	wantErr(t, "RemoveTimer", b.RemoveTimer(context.Background(), removedTimer), nil)
	return b
}

// observe reads everything a caller can see of the migration fixture.
func observe(t *testing.T, b *Bolt) map[string]string {
	ctx := context.Background()
	out := map[string]string{}
	show := func(name string, v any, err error) {
		j, _ := json.Marshal(v)
		out[name] = fmt.Sprintf("%s err=%v", j, err)
	}
	for _, id := range []string{sampleID(1), "legacy-7", "s-done", sampleID(2), "zz-nourn", "a-nochannel", "s-rm", "nope"} {
		s, err := b.LoadSession(ctx, id)
		show("load "+id, s, err)
		evs, err := b.SessionEvents(ctx, id, 0, 10)
		show("events "+id, evs, err)
		evs, err = b.SessionEvents(ctx, id, 1, 10)
		show("events after 1 "+id, evs, err)
	}
	for _, w := range [][2]string{{"sample", "tel:+15550000001"}, {"sms", "tel:+2"}, {"web", "tel:+3"}, {"web", "tel:+4"}, {"sms", "tel:+3"}} {
		s, err := b.WaitingSession(ctx, w[0], w[1])
		show("waiting "+w[0]+" "+w[1], s, err)
	}
	for _, f := range []SessionFilter{{}, {Status: flows.StatusWaiting}, {Status: flows.StatusActive}, {Status: flows.StatusCompleted},
		{Contact: "tel:+2"}, {Contact: "tel:+3"}, {Contact: "tel:+3", Status: flows.StatusWaiting}, {FlowID: "flow-1"}} {
		for _, after := range []string{"", "b", sampleID(1)} {
			list, next, err := b.ListSessions(ctx, f, Page{After: after, Limit: 3})
			var ids []string
			for _, s := range list {
				ids = append(ids, s.ID)
			}
			show(fmt.Sprintf("list %+v after %q", f, after), []any{ids, next}, err)
		}
	}
	timers, err := b.DueTimers(ctx, farFuture, 100)
	show("timers", timers, err)
	for _, urn := range []string{"tel:+15550000001", "tel:+2", "tel:+3", "tel:+4"} {
		c, err := b.Contact(ctx, urn)
		show("contact "+urn, c, err)
	}
	for _, m := range [][3]string{{"sample", "tel:+15550000001", "m1"}, {"sms", "tel:+2", "m2"}, {"sms", "tel:+2", "m1"}} {
		r, ok, err := b.ProcessedReply(ctx, m[0], m[1], m[2])
		show("processed "+m[0]+" "+m[2], []any{string(r), ok}, err)
	}
	recs, err := b.Outbox(ctx, 0, 10)
	show("outbox", recs, err)
	st := stats(t, b)
	st.FileBytes = 0
	show("stats", st, nil)
	return out
}

func compareObserved(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s:\nmigrated %s\nfresh    %s", k, got[k], w)
		}
	}
}

// TestMigrateV1 opens a layout 1 file and checks that a caller sees exactly
// what the same writes produce in layout 2, and that it keeps working.
func TestMigrateV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	writeMigrationFixture(t, path)
	var logs bytes.Buffer
	b, err := Open(path, Options{Now: func() time.Time { return t0 }, NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// The logs name the layout migrated to, and count the 7 sessions.
	for _, want := range []string{
		`msg="store: migrating layout 1 to 9, one way: an older version of Parley must not be run on the file afterwards" path=` + path + ` sessions=7`,
		`msg="store: migrated layout 1 to 9" sessions=7 sessions_this_run=7 contacts_this_run=3 `,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}

	// The orphan timer survives the migration; the scanner removes it as before.
	timers, _ := b.DueTimers(ctx, farFuture, 100)
	if !slices_Contains(timers, orphanTimer) {
		t.Fatalf("orphan timer lost: %+v", timers)
	}
	wantErr(t, "RemoveTimer(orphan)", b.RemoveTimer(ctx, orphanTimer), nil)
	compareObserved(t, observe(t, b), observe(t, freshEquivalent(t)))

	assertLayout(t, b, layoutCurrent)
	// Writes continue: events keep their sequence, dedupe records hold.
	s, err := b.LoadSession(ctx, "legacy-7")
	if err != nil {
		t.Fatal(err)
	}
	s.UpdatedAt = t0.Add(time.Hour)
	err = b.SaveTurn(ctx, &Turn{Session: s, Events: []flows.Event{{Type: "d"}}, MessageID: "m2", Channel: "sms"})
	wantErr(t, "SaveTurn with a migrated message id", err, ErrDuplicate)
	mustSave(t, b, &Turn{Session: s, Events: []flows.Event{{Type: "d"}}, PrevUpdated: t0.Add(time.Second)})
	if evs, _ := b.SessionEvents(ctx, "legacy-7", 3, 10); len(evs) != 1 || evs[0].Seq != 4 || evs[0].Event.Type != "d" {
		t.Fatalf("event after migration: %+v", evs)
	}
}

func slices_Contains(ts []Timer, want Timer) bool {
	for _, t := range ts {
		if t.SessionID == want.SessionID && t.Kind == want.Kind && t.At.Equal(want.At) {
			return true
		}
	}
	return false
}

func assertLayout(t *testing.T, b *Bolt, want int) {
	t.Helper()
	b.DB().View(func(tx *bbolt.Tx) error {
		got, err := layoutOf(tx)
		if err != nil || got != want {
			t.Errorf("layout = %d, %v; want %d", got, err, want)
		}
		for _, name := range v1Buckets {
			if tx.Bucket(name) != nil {
				t.Errorf("layout 1 bucket %s left behind", name)
			}
		}
		return nil
	})
}

// TestMigrateV1Resumes interrupts a migration after one transaction and
// checks that the next Open finishes it with nothing lost.
func TestMigrateV1Resumes(t *testing.T) {
	defer func(n int) { migrateBatch = n }(migrateBatch)
	migrateBatch = 4 // one session per transaction
	path := filepath.Join(t.TempDir(), "v1.db")
	writeMigrationFixture(t, path)

	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	half := &Bolt{db: db, log: slog.New(slog.DiscardHandler), compress: true}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	for i := 0; i < 3 && err == nil; i++ {
		err = db.Update(func(tx *bbolt.Tx) error { _, err := half.migrateSessions(tx); return err })
	}
	if err != nil {
		t.Fatal(err)
	}
	db.Close() // the process dies here

	var logs bytes.Buffer
	b, err := Open(path, Options{Now: func() time.Time { return t0 }, NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// The logs say the migration resumes, and count the sessions stored in
	// all apart from those this run moved.
	for _, want := range []string{
		`msg="store: resuming the migration of layout 1 to 9, one way: an older version of Parley must not be run on the file afterwards" path=` + path + ` sessions_to_move=4 sessions_moved_before=3`,
		`msg="store: migrated layout 1 to 9" sessions=7 sessions_this_run=4 `,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
	wantErr(t, "RemoveTimer(orphan)", b.RemoveTimer(context.Background(), orphanTimer), nil)
	compareObserved(t, observe(t, b), observe(t, freshEquivalent(t)))
	assertLayout(t, b, layoutCurrent)
}

// TestOpenLayouts checks the layout version of new files and that a file
// from a newer version is refused rather than misread.
func TestOpenLayouts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	b, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	assertLayout(t, b, layoutCurrent)
	b.DB().Update(func(tx *bbolt.Tx) error { return setLayout(tx, layoutCurrent+1) })
	b.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("layout %d was written by a newer version of Parley (this one reads up to %d)", layoutCurrent+1, layoutCurrent)
	if b, err := Open(path, Options{NoSync: true}); err == nil {
		b.Close()
		t.Fatal("Open accepted a file of a newer layout")
	} else if !errors.Is(err, ErrNewerLayout) || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("Open: %v, want an error ending %q", err, want)
	}
	// Nor is it rewritten by a compaction, which could drop what this
	// version does not know of it.
	for _, noBackup := range []bool{false, true} {
		_, err := Compact(context.Background(), path, CompactOptions{NoBackup: noBackup})
		if want := "compact: " + path + ": " + want + ": compact it with that version"; !errors.Is(err, ErrNewerLayout) || err.Error() != want {
			t.Errorf("Compact (no backup %v): %v, want %q", noBackup, err, want)
		}
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the file changed (%v)", err)
	}
	for _, left := range []string{path + BackupSuffix, path + CompactSuffix} {
		if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want no such file", left, err)
		}
	}
}

// BenchmarkMigrate measures opening a layout 1 file of waiting sample
// sessions (PARLEY_BENCH_SESSIONS, default 100,000): the migration, then
// Open of the migrated file. Run it with -benchtime=1x.
func BenchmarkMigrate(b *testing.B) {
	n := benchSessions(b, 100_000)
	dir := b.TempDir()
	path := filepath.Join(dir, "v1.db")
	now := time.Now()
	seedV1(b, path, n, 10_000, func(i int) *flows.Session { return SampleSession(i, now) })
	before := fileSize(b, path)
	b.ResetTimer()
	start := time.Now()
	st, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	migrated := time.Since(start)
	b.StopTimer()
	used := usedBytes(st.DB())
	st.Close()
	start = time.Now()
	st, err = Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	reopen := time.Since(start)
	st.Close()
	b.ReportMetric(migrated.Seconds(), "migrate_s")
	b.ReportMetric(float64(n)/migrated.Seconds(), "sessions/s")
	b.ReportMetric(float64(reopen.Microseconds())/1000, "reopen_ms")
	b.ReportMetric(float64(before)/float64(n), "v1_file_B/session")
	b.ReportMetric(float64(used)/float64(n), "v2_used_B/session")
}

// TestOpenOldDedupeRecords opens a layout 2 and a layout 6 file holding
// dedupe records in the forms layouts 2 (the reply in the `processed`
// value) and 3-6 (the time in `processed`, the reply in
// `processed_by_time`) wrote, and checks that the version is raised without
// rewriting them, that they and a record written now (in processed_log and
// the sender's row) are all answered, and that pruning removes every form.
// An old record holds no sender: it answers the message only from the
// contact of the session its reply names, so the same id from another
// contact, or a record whose reply names no stored session, is a new
// message.
func TestOpenOldDedupeRecords(t *testing.T) {
	for _, layout := range []int{layoutV2, layoutV6} {
		t.Run(fmt.Sprint("layout ", layout), func(t *testing.T) { testOldDedupeRecords(t, layout) })
	}
}

func testOldDedupeRecords(t *testing.T, layout int) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	b, err := Open(path, Options{NoSync: true, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	// The messages' session, of tel:+1, stored before the upgrade.
	mustSave(t, b, &Turn{Session: session("s1", flows.StatusWaiting, "tel:+1"), Channel: "sms"})
	oldAt := nanos(t0.Add(-time.Hour))
	err = b.DB().Update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bProcessed).Put(join("sms", "v2"), append(u64(oldAt), `{"id":"s1","reply":"v2"}`...)); err != nil {
			return err
		}
		if err := tx.Bucket(bProcessedAt).Put(processedAtKey(oldAt, "sms", "v2"), nil); err != nil {
			return err
		}
		if err := tx.Bucket(bProcessed).Put(join("sms", "v6"), u64(oldAt+1)); err != nil {
			return err
		}
		if err := tx.Bucket(bProcessedAt).Put(processedAtKey(oldAt+1, "sms", "v6"), []byte(`{"id":"s1","reply":"v6"}`)); err != nil {
			return err
		}
		// A reply that names no session, and one whose session is gone.
		for i, reply := range []string{`{"messages":[]}`, `{"id":"gone","reply":"gone"}`} {
			msg, at := fmt.Sprint("u", i), oldAt+2+uint64(i)
			if err := tx.Bucket(bProcessed).Put(join("sms", msg), u64(at)); err != nil {
				return err
			}
			if err := tx.Bucket(bProcessedAt).Put(processedAtKey(at, "sms", msg), []byte(reply)); err != nil {
				return err
			}
		}
		if err := addStat(tx, statProcessed, 4); err != nil {
			return err
		}
		return setLayout(tx, layout)
	})
	if err != nil {
		t.Fatal(err)
	}
	b = reopen(t, b, path)
	assertLayout(t, b, layoutCurrent)
	if !b.legacyDedupe.Load() {
		t.Fatal("records of an older layout not noticed at Open")
	}
	err = b.SaveTurn(ctx, &Turn{Session: session("s1", flows.StatusWaiting, "tel:+1"), Channel: "sms", MessageID: "new", Reply: []byte(`{"reply":"new"}`)})
	if err != nil {
		t.Fatal(err)
	}
	b.DB().View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bProcessedLog).Get(processedLogKey(nanos(t0), "sms", "new", "tel:+1")); string(v) != `{"reply":"new"}` {
			t.Errorf("new dedupe record: processed_log value %q, want the reply", v)
		}
		r, err := readRow(tx, "tel:+1")
		if want := []msgEntry{{msgHash(join("sms", "new")), nanos(t0)}}; err != nil || r == nil || !slices.Equal(r.msgs, want) {
			t.Errorf("row of tel:+1: %+v, %v; want message entries %v", r, err, want)
		}
		for _, name := range [][]byte{bProcessed, bProcessedAt} {
			if n := tx.Bucket(name).Stats().KeyN; n != 4 {
				t.Errorf("%s: %d keys, want the 4 old records alone", name, n)
			}
		}
		return nil
	})
	for _, msg := range []string{"v2", "v6", "new"} {
		want := `{"id":"s1","reply":"` + msg + `"}`
		if msg == "new" {
			want = `{"reply":"new"}`
		}
		if r, ok, err := b.ProcessedReply(ctx, "sms", "tel:+1", msg); err != nil || !ok || string(r) != want {
			t.Errorf("ProcessedReply(%s) = %q %v %v, want %s", msg, r, ok, err, want)
		}
		st, err := b.Inbound(ctx, InboundQuery{Channel: "sms", URN: "tel:+1", MessageID: msg})
		if err != nil || !st.Processed || string(st.Reply) != want {
			t.Errorf("Inbound(%s): processed %v, reply %q, %v; want %s", msg, st.Processed, st.Reply, err, want)
		}
	}
	// The same ids from another contact, and the records whose sender
	// cannot be told, are new messages: not answered from the records, and
	// their turns are stored.
	for _, q := range []struct{ urn, msg string }{{"tel:+9", "v2"}, {"tel:+9", "v6"}, {"tel:+1", "u0"}, {"tel:+1", "u1"}} {
		if r, ok, err := b.ProcessedReply(ctx, "sms", q.urn, q.msg); ok || err != nil {
			t.Errorf("ProcessedReply(%s from %s) = %q, %v, %v; want no record", q.msg, q.urn, r, ok, err)
		}
		st, err := b.Inbound(ctx, InboundQuery{Channel: "sms", URN: q.urn, MessageID: q.msg})
		if err != nil || st.Processed {
			t.Errorf("Inbound(%s from %s): processed %v, reply %q, %v; want a new message", q.msg, q.urn, st.Processed, st.Reply, err)
		}
	}
	err = b.SaveTurn(ctx, &Turn{Session: session("s9", flows.StatusCompleted, "tel:+9"), Channel: "sms", MessageID: "v6", Reply: []byte(`{"id":"s9"}`)})
	if err != nil {
		t.Fatalf("SaveTurn of message v6 from tel:+9: %v", err)
	}
	if r, ok, err := b.ProcessedReply(ctx, "sms", "tel:+9", "v6"); err != nil || !ok || string(r) != `{"id":"s9"}` {
		t.Errorf("ProcessedReply(v6 from tel:+9) = %q %v %v, want its own reply", r, ok, err)
	}
	if n, err := b.PruneProcessed(ctx, t0.Add(time.Second), 0); err != nil || n != 6 {
		t.Fatalf("PruneProcessed = %d, %v; want 6", n, err)
	}
	for _, msg := range []string{"v2", "v6", "new"} {
		if _, ok, err := b.ProcessedReply(ctx, "sms", "tel:+1", msg); ok || err != nil {
			t.Errorf("ProcessedReply(%s) after pruning: found %v, %v", msg, ok, err)
		}
	}
	b.DB().View(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bProcessed, bProcessedAt, bProcessedLog, bProcessedIndex} {
			if k, _ := tx.Bucket(name).Cursor().First(); k != nil {
				t.Errorf("%s: key %q left after pruning", name, k)
			}
		}
		if r, err := readRow(tx, "tel:+1"); err != nil || r == nil || len(r.msgs) != 0 || len(r.waits) != 1 {
			t.Errorf("row of tel:+1 after pruning: %+v, %v; want its waiting entry alone", r, err)
		}
		return nil
	})
	if got := stats(t, b).Processed; got != 0 {
		t.Errorf("Stats.Processed = %d after pruning, want 0", got)
	}
	if b.legacyDedupe.Load() {
		t.Error("lookups still read the older layout's buckets after they were pruned empty")
	}
	if b = reopen(t, b, path); b.legacyDedupe.Load() {
		t.Error("older layout's records noticed at Open after they were pruned")
	}
}

// TestOpenLayout3 opens a file without the session_ended index (layout 3)
// and checks that Open indexes its ended sessions, in more than one
// transaction, so that PruneEnded finds them, and leaves waiting and active
// sessions out.
func TestOpenLayout3(t *testing.T) {
	defer func(n int) { migrateBatch = n }(migrateBatch)
	migrateBatch = 3
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v3.db")
	b, err := Open(path, Options{NoSync: true, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	ended := map[string]flows.Status{"c1": flows.StatusCompleted, "c2": flows.StatusCompleted, "x1": flows.StatusExpired,
		"f1": flows.StatusFailed, "i1": flows.StatusInterrupted}
	for id, st := range ended {
		mustSave(t, b, &Turn{Session: session(id, st, "tel:+"+id)})
	}
	mustSave(t, b, &Turn{Session: session("w1", flows.StatusWaiting, "tel:+w"), Channel: "sms"})
	mustSave(t, b, &Turn{Session: session("a1", flows.StatusActive, "tel:+a")})
	err = b.DB().Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bEnded); err != nil {
			return err
		}
		return setLayout(tx, layoutV3)
	})
	if err != nil {
		t.Fatal(err)
	}
	b = reopen(t, b, path)
	if n, err := b.PruneEnded(ctx, t0.Add(time.Second), 0); err != nil || n != len(ended) {
		t.Fatalf("PruneEnded after the migration = %d, %v; want %d", n, err, len(ended))
	}
	for id := range ended {
		if _, err := b.LoadSession(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v after pruning", id, err)
		}
	}
	for _, id := range []string{"w1", "a1"} {
		if _, err := b.LoadSession(ctx, id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
}

// TestOpenLayout4 opens a file whose ended sessions are all listed in
// session_contacts, as layout 4 wrote them, and checks that the version is
// raised, that they are still listed and deleted, and that new ones go to
// the row.
func TestOpenLayout4(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v4.db")
	b, err := Open(path, Options{NoSync: true, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	const urn = "tel:+1"
	for _, id := range []string{"c1", "c2", "c3"} {
		mustSave(t, b, &Turn{Session: session(id, flows.StatusCompleted, urn)})
	}
	mustSave(t, b, &Turn{Session: session("w1", flows.StatusWaiting, urn), Channel: "sms"})
	err = b.DB().Update(func(tx *bbolt.Tx) error {
		rows := tx.Bucket(bContacts)
		r, err := decodeRow(urn, rows.Get([]byte(urn)))
		if err != nil {
			return err
		}
		for _, eid := range r.ended {
			if err := tx.Bucket(bByContact).Put(contactKey(urn, eid), nil); err != nil {
				return err
			}
		}
		r.ended = nil
		if err := rows.Put([]byte(urn), r.encode()); err != nil {
			return err
		}
		return setLayout(tx, layoutV4)
	})
	if err != nil {
		t.Fatal(err)
	}
	b = reopen(t, b, path)
	if _, ended, indexed := contactEntries(t, b, urn); len(ended) != 0 || !slices.Equal(indexed, []string{"c1", "c2", "c3"}) {
		t.Fatalf("after the migration: row ended %v, session_contacts %v", ended, indexed)
	}
	mustSave(t, b, &Turn{Session: session("c4", flows.StatusCompleted, urn)})
	if err := b.DeleteSession(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	if got := listContact(t, b, urn); !slices.Equal(got, []string{"c1", "c3", "c4", "w1"}) {
		t.Fatalf("listed %v", got)
	}
	if _, ended, indexed := contactEntries(t, b, urn); !slices.Equal(ended, []string{"c4"}) || !slices.Equal(indexed, []string{"c1", "c3"}) {
		t.Fatalf("row ended %v, session_contacts %v", ended, indexed)
	}
}

// reopen closes b, opens the file at path again (at t0), which brings an
// older layout to the current one, checks its layout and returns the store,
// closed when the test ends.
func reopen(t *testing.T, b *Bolt, path string) *Bolt {
	t.Helper()
	b.Close()
	b, err := Open(path, Options{NoSync: true, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	assertLayout(t, b, layoutCurrent)
	return b
}

// processedAtKey is the key of a layouts 2-6 processed_by_time record:
// stored time (8 bytes) + channel + sep + message id.
func processedAtKey(at uint64, channel, msgID string) []byte {
	k := make([]byte, 8, 8+len(channel)+1+len(msgID))
	binary.BigEndian.PutUint64(k, at)
	return append(k, join(channel, msgID)...)
}

// docs/storage.md gives the layout version that Open writes.
func TestDocsLayoutVersion(t *testing.T) {
	doc, err := os.ReadFile("../docs/storage.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("| `layout` | u32 layout version (%d) |", layoutCurrent); !strings.Contains(string(doc), want) {
		t.Errorf("docs/storage.md lacks %q", want)
	}
}

// TestOpenLogsUpgrade opens files of layouts 2 to 6 and checks that the
// upgrade is logged, from which layout to which, at its start and its end,
// whatever it has to change.
func TestOpenLogsUpgrade(t *testing.T) {
	for layout := layoutV2; layout < layoutCurrent; layout++ {
		t.Run(fmt.Sprint("layout ", layout), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "old.db")
			b, err := Open(path, Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.DB().Update(func(tx *bbolt.Tx) error { return setLayout(tx, layout) }); err != nil {
				t.Fatal(err)
			}
			b.Close()
			var logs bytes.Buffer
			b, err = Open(path, Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			assertLayout(t, b, layoutCurrent)
			for _, want := range []string{
				fmt.Sprintf(`msg="store: upgrading the file, one way: an older version of Parley must not be run on it afterwards" path=%s from_layout=%d to_layout=%d`, path, layout, layoutCurrent),
				fmt.Sprintf(`msg="store: migrated" from_layout=%d to_layout=%d `, layout, layoutCurrent),
			} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("logs lack %q:\n%s", want, logs.String())
				}
			}
			// Opened again, the file is of the current layout: nothing is logged of an upgrade.
			b.Close()
			logs.Reset()
			b, err = Open(path, Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(logs.String(), "upgrad") || strings.Contains(logs.String(), "migrat") {
				t.Errorf("a file of the current layout logged an upgrade:\n%s", logs.String())
			}
		})
	}
}

package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// damageValue changes, in the closed store file at path, the stored value
// at key of bucket with change.
func damageValue(t *testing.T, path string, bucket, key []byte, change func(v []byte) []byte) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucket)
		v := bk.Get(key)
		if v == nil {
			t.Fatalf("no key %q in %s", key, bucket)
		}
		return bk.Put(key, change(bytes.Clone(v)))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// recordKeyOf is the session_records key of a stored session.
func recordKeyOf(t *testing.T, path, id string) []byte {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var key []byte
	err = db.View(func(tx *bbolt.Tx) error {
		_, seq, err := decodeIDEntry(id, tx.Bucket(bIDs).Get(idKey(id)))
		key = recordKey(seq)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestDamagedRecords: a stored value that does not decode is told as a
// damaged store file, naming the file, the bucket, the session or contact
// and the cause; a listing leaves it out (and logs it) instead of failing;
// Compact names every damaged value at once and leaves the file as it was.
func TestDamagedRecords(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "parley.db")
	b, err := Open(path, Options{Now: func() time.Time { return t0 }, NoSync: true, Uncompressed: true})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"s1", "s2", "s3", "s4"}
	for i, id := range ids {
		s := session(id, flows.StatusWaiting, "tel:+1555000000"+string(rune('1'+i)))
		c := s.Contact
		c.Name = "Amina"
		turn := &Turn{Session: s, Channel: "sms", Contact: &c}
		if id == "s3" {
			turn.Events = []flows.Event{{Type: flows.EventMessageOut, Text: "hello there", Time: t0}}
		}
		mustSave(t, b, turn)
	}
	b.Close()

	// s2's JSON gets a control character inside a string, s4's header a
	// codec that does not exist; contact 3's row a flag that does not.
	damageValue(t, path, bRecords, recordKeyOf(t, path, "s2"), func(v []byte) []byte {
		i := bytes.Index(v, []byte(`"flow-1"`))
		v[i+2] = 0x1e
		return v
	})
	damageValue(t, path, bRecords, recordKeyOf(t, path, "s4"), func(v []byte) []byte { v[0] = 9; return v })
	damageValue(t, path, bContacts, []byte("tel:+15550000003"), func(v []byte) []byte { v[0] |= 0x80; return v })
	// s3's one event loses the end of its JSON.
	damageValue(t, path, bRecords, append(recordKeyOf(t, path, "s3"), u64(^uint64(1))...), func(v []byte) []byte {
		i := bytes.Index(v, []byte("hello"))
		v[i-2] = '['
		return v
	})

	var logs bytes.Buffer
	b, err = Open(path, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	prefix := "store file " + path + " is corrupt or truncated: "
	_, err = b.LoadSession(ctx, "s2")
	want := prefix + `session "s2" (bucket session_records): decode: invalid character '\x1e' in string`
	if !errors.Is(err, ErrCorrupt) || err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("LoadSession of a damaged record: %v\nwant an error starting %q", err, want)
	}
	_, err = b.Contact(ctx, "tel:+15550000003")
	want = prefix + `contact "tel:+15550000003" (bucket contact_rows): corrupt stored`
	if !errors.Is(err, ErrCorrupt) || err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Contact of a damaged row: %v\nwant an error starting %q", err, want)
	}

	_, err = b.SessionEvents(ctx, "s3", 0, 10)
	want = prefix + `event 1 of session "s3" (bucket session_records): decode: `
	if !errors.Is(err, ErrCorrupt) || err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("SessionEvents of a damaged log: %v\nwant an error starting %q", err, want)
	}

	list, _, err := b.ListSessions(ctx, SessionFilter{}, Page{Limit: 1000})
	if err != nil {
		t.Fatalf("ListSessions with damaged records: %v", err)
	}
	var got []string
	for _, s := range list {
		got = append(got, s.ID)
	}
	if strings.Join(got, ",") != "s1,s3" {
		t.Errorf("ListSessions: %v, want the sessions with sound records s1,s3", got)
	}
	for _, id := range []string{"s2", "s4"} {
		if !strings.Contains(logs.String(), `session \"`+id+`\" (bucket session_records)`) {
			t.Errorf("the log does not name the damaged session %s:\n%s", id, logs.String())
		}
	}
	b.Close()

	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compact(ctx, path, CompactOptions{})
	var dr *DamagedRecords
	if !errors.As(err, &dr) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Compact of a file with damaged records: %v", err)
	}
	if len(dr.Records) != 4 {
		t.Errorf("Compact named %d damaged records, want 4:\n%v", len(dr.Records), err)
	}
	for _, line := range []string{
		"compact: " + prefix + "4 stored records do not decode; restore it from a backup",
		"\n\tsession \"s2\" (bucket session_records): decode: invalid character",
		"\n\tsession \"s4\" (bucket session_records): unknown stored format",
		"\n\tevents of session \"s3\" (bucket session_records): corrupt stored events: event 1 of 1 is not JSON",
		"\n\tcontact \"tel:+15550000003\" (bucket contact_rows): corrupt stored",
	} {
		if !strings.Contains(err.Error(), line) {
			t.Errorf("Compact's error does not say %q:\n%v", line, err)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("Compact changed the file (%v)", err)
	}
	for _, left := range []string{path + BackupSuffix, path + ".compact"} {
		if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want no such file", left, err)
		}
	}
}

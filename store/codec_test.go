package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/klauspost/compress/s2"
	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

var update = flag.Bool("update", false, "rewrite the golden records under testdata/ written by the current code")

// goldenTime is the clock of the sessions in testdata/session-codec*.rec.
var goldenTime = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

// goldenSample is SampleSession(i, now) as the sessions in
// testdata/session-codec*.rec were written, when the sample's wait timed
// out after 10 minutes and it expired after 7 days.
func goldenSample(i int, now time.Time) *flows.Session {
	s := SampleSession(i, now)
	timeout, expires := now.UTC().Add(10*time.Minute), now.UTC().Add(7*24*time.Hour)
	s.Wait.Timeout, s.Wait.TimeoutAt, s.ExpiresAt = 600, &timeout, &expires
	return s
}

func sampleRecord(t testing.TB, s *flows.Session, compress bool) (byte, []byte) {
	t.Helper()
	codec, payload, err := encodePayload(s, compress)
	if err != nil {
		t.Fatal(err)
	}
	plan := planTimers(timersOf(s))
	return codec, encodeRecord(&header{status: statusCodes[s.Status], codec: codec, payload: payload,
		updated: nanos(s.UpdatedAt), timerAt: plan.at, timerKind: plan.kind, channel: "sample", urn: s.Contact.URN})
}

func sameSession(t testing.TB, got, want *flows.Session) {
	t.Helper()
	gj, _ := jsonv1.Marshal(got)
	wj, _ := jsonv1.Marshal(want)
	if !bytes.Equal(gj, wj) {
		t.Fatalf("decoded session differs:\n got %s\nwant %s", gj, wj)
	}
}

func TestSessionCodecRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name     string
		s        *flows.Session
		compress bool
		codec    byte
	}{
		{"sample, compressed", SampleSession(3, t0), true, codecS2Dict},
		{"sample, uncompressed", SampleSession(3, t0), false, codecJSON},
		// Below minCompressInput sessions stay plain JSON.
		{"small", session("s", flows.StatusActive, ""), true, codecJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			codec, rec := sampleRecord(t, tc.s, tc.compress)
			if codec != tc.codec {
				t.Fatalf("codec %d, want %d", codec, tc.codec)
			}
			got, err := decodeSession(tc.s.ID, rec)
			if err != nil {
				t.Fatal(err)
			}
			sameSession(t, got, tc.s)
		})
	}
}

// A session whose path was cut keeps the count of the steps dropped through
// a save and a load, in the stored JSON as path_dropped; one whose path is
// whole writes no such member, so its record is as large as before, and
// records written before the count existed read as whole paths.
func TestSessionPathDroppedRoundTrip(t *testing.T) {
	cut := SampleSession(3, t0)
	cut.PathDropped = 3_500
	for _, compress := range []bool{true, false} {
		_, rec := sampleRecord(t, cut, compress)
		got, err := decodeSession(cut.ID, rec)
		if err != nil {
			t.Fatal(err)
		}
		if got.PathDropped != 3_500 || len(got.Path) != len(cut.Path) {
			t.Fatalf("compress %v: path_dropped %d and %d steps, want 3500 and %d", compress, got.PathDropped, len(got.Path), len(cut.Path))
		}
		sameSession(t, got, cut)
	}
	js, err := sessionJSON(cut)
	if err != nil || !bytes.Contains(js, []byte(`,"path_dropped":3500,`)) {
		t.Errorf("session JSON %s, %v: want path_dropped 3500", js, err)
	}
	whole := SampleSession(3, t0)
	if js, _ := sessionJSON(whole); bytes.Contains(js, []byte("path_dropped")) {
		t.Errorf("a whole path writes path_dropped: %s", js)
	}
	old, err := os.ReadFile("testdata/session-codec3.rec")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeSession("", old); err != nil || got.PathDropped != 0 || len(got.Path) == 0 {
		t.Errorf("record of an earlier build: %v, path_dropped %v", err, got)
	}
}

// TestStoredCodecsReadable decodes records written by earlier builds: codec
// 2 (zstd with the session dictionary, written until codec 3 replaced it)
// and codec 3 as first written. Neither file may be regenerated once
// committed: stored data depends on both formats.
func TestStoredCodecsReadable(t *testing.T) {
	want := goldenSample(7, goldenTime)
	for _, tc := range []struct {
		file  string
		codec byte
	}{
		{"testdata/session-codec2.rec", codecZstdDict},
		{"testdata/session-codec3.rec", codecS2Dict},
	} {
		t.Run(tc.file, func(t *testing.T) {
			if *update && tc.codec == codecS2Dict {
				if _, err := os.Stat(tc.file); err != nil {
					_, rec := sampleRecord(t, want, true)
					if err := os.WriteFile(tc.file, rec, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			rec, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			h, err := decodeHeader(want.ID, rec)
			if err != nil {
				t.Fatal(err)
			}
			if h.codec != tc.codec || h.channel != "sample" || h.urn != want.Contact.URN || h.updated != nanos(want.UpdatedAt) {
				t.Fatalf("header %+v", h)
			}
			got, err := decodeSession(want.ID, rec)
			if err != nil {
				t.Fatal(err)
			}
			sameSession(t, got, want)
		})
	}
}

// TestStoreReadsCodec2 puts a record written by the zstd build into a store
// and resumes its session: the turn reads it and rewrites it as codec 3.
func TestStoreReadsCodec2(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	old, err := os.ReadFile("testdata/session-codec2.rec")
	if err != nil {
		t.Fatal(err)
	}
	s := goldenSample(7, goldenTime)
	mustSave(t, b, &Turn{Session: s, Channel: "sample"})
	var seq uint64
	if err := b.DB().Update(func(tx *bbolt.Tx) error {
		var err error
		if seq, _, err = lookup(tx, nil, s.ID, idKey(s.ID)); err != nil {
			return err
		}
		return tx.Bucket(bRecords).Put(recordKey(seq), old)
	}); err != nil {
		t.Fatal(err)
	}
	got, err := b.LoadSession(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameSession(t, got, s)
	if got, err = b.WaitingSession(ctx, "sample", s.Contact.URN); err != nil {
		t.Fatal(err)
	}
	sameSession(t, got, s)

	next := goldenSample(7, goldenTime.Add(time.Minute))
	mustSave(t, b, &Turn{Session: next, PrevUpdated: s.UpdatedAt})
	if err := b.DB().View(func(tx *bbolt.Tx) error {
		if c := tx.Bucket(bRecords).Get(recordKey(seq))[0]; c != codecS2Dict {
			t.Errorf("rewritten record has codec %d, want %d", c, codecS2Dict)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, err = b.LoadSession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	sameSession(t, got, next)
}

// TestS2DictFixed guards codec 3's dictionary: stored sessions need exactly
// these bytes and this repeat offset to be read.
func TestS2DictFixed(t *testing.T) {
	sum := sha256.Sum256(sessionDict)
	if got := hex.EncodeToString(sum[:]); got != "5febb20480343cac02ad09bfc0ed208250b7ba39d385927fcc878318cd24ee21" {
		t.Fatalf("dict/session-1.json changed (sha256 %s): stored sessions depend on it", got)
	}
	if want := append([]byte{0}, sessionDict...); !bytes.Equal(s2Dict.Bytes(), want) {
		t.Fatalf("codec 3 dictionary is not session dictionary 1 with repeat offset 0")
	}
}

func TestCodec3Corrupt(t *testing.T) {
	s := SampleSession(3, t0)
	_, rec := sampleRecord(t, s, true)
	h, err := decodeHeader(s.ID, rec)
	if err != nil {
		t.Fatal(err)
	}
	start := len(rec) - len(h.payload)
	withPayload := func(p []byte) []byte { return append(bytes.Clone(rec[:start]), p...) }
	lenPrefix := func(n uint64, rest ...byte) []byte { return append(binary.AppendUvarint(nil, n), rest...) }

	for _, tc := range []struct {
		name string
		rec  []byte
		want string
		is   error
	}{
		{"truncated", rec[:len(rec)-20], "decompress", s2.ErrCorrupt},
		{"longer than stated", withPayload(append(bytes.Clone(h.payload), 'x', 'y')), "decompress", s2.ErrCorrupt},
		{"empty payload", withPayload(nil), "decompress", s2.ErrCorrupt},
		{"oversized", withPayload(lenPrefix(maxSessionBytes+1, 0)), "more than a session may have", s2.ErrTooLarge},
		{"length beyond 32 bits", withPayload(lenPrefix(1<<40, 0)), "decompress", s2.ErrCorrupt},
		{"copy before the dictionary", withPayload(lenPrefix(8, 0x02<<2|2, 0xff, 0xff)), "decompress", s2.ErrCorrupt},
		{"not JSON", withPayload(s2Dict.Encode(nil, []byte(strings.Repeat("not json ", 40)))), "decode", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeSession(s.ID, tc.rec)
			if err == nil {
				t.Fatal("decoded a corrupt record")
			}
			if !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("error %q, want one saying %q (%v)", err, tc.want, tc.is)
			}
		})
	}
}

func TestUnknownCodec(t *testing.T) {
	_, rec := sampleRecord(t, SampleSession(3, t0), true)
	rec[0] = codecS2Dict + 1
	if _, err := decodeSession("x", rec); err == nil || !strings.Contains(err.Error(), "unknown stored format") {
		t.Fatalf("codec %d: error %v", rec[0], err)
	}
}

// A session stored by an earlier version, with a result under the key it
// gave a name with marks (उम_र for उम्र), reads back with the result under
// the name's key now (flows.Key), so the waiting session finds it.
func TestStoredResultsRekeyed(t *testing.T) {
	s := session("s", flows.StatusWaiting, "")
	s.Frames = []*flows.Frame{{FlowID: "flow-1", Results: map[string]*flows.Result{
		"उम_र": {Name: "उम्र", Value: "41"},
		"tier": {Name: "Tier", Value: "gold"},
	}}}
	_, rec := sampleRecord(t, s, false)
	got, err := decodeSession(s.ID, rec)
	if err != nil {
		t.Fatal(err)
	}
	res := got.Frames[0].Results
	if len(res) != 2 || res["उम्र"] == nil || res["उम्र"].Value != "41" || res["tier"] == nil {
		t.Errorf("results %v, want उम्र and tier", res)
	}
}

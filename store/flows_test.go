package store

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

func TestFlowRevisions(t *testing.T) {
	ctx := context.Background()
	b, clk := openTest(t)

	defs := []string{
		`{"id":"f1","name":"Intake","widgets":[]}`,
		"{\n  \"id\": \"f1\",\n  \"name\": \"Intake v2\"\n}", // kept verbatim, whitespace and all
		`{"id":"f1","name":"Intake v3"}`,
	}
	for i, d := range defs {
		clk.Set(t0.Add(time.Duration(i) * time.Hour))
		fr, err := b.SaveFlow(ctx, NewFlow{ID: "f1", Name: "Intake", Kind: "messaging", Definition: json.RawMessage(d)})
		if err != nil {
			t.Fatal(err)
		}
		if fr.Revision != i+1 {
			t.Fatalf("save %d: revision %d, want %d", i, fr.Revision, i+1)
		}
	}
	if _, err := b.SaveFlow(ctx, NewFlow{ID: "f2", Name: "Other", Definition: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		rev     int
		wantRev int
		wantErr error
	}{
		{"latest", 0, 3, nil},
		{"first", 1, 1, nil},
		{"second verbatim", 2, 2, nil},
		{"missing revision", 9, 0, ErrNotFound},
		{"negative revision", -1, 0, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fr, err := b.GetFlow(ctx, "f1", tc.rev)
			wantErr(t, "GetFlow", err, tc.wantErr)
			if tc.wantErr != nil {
				return
			}
			if fr.Revision != tc.wantRev || string(fr.Definition) != defs[tc.wantRev-1] {
				t.Fatalf("got revision %d %q, want %d %q", fr.Revision, fr.Definition, tc.wantRev, defs[tc.wantRev-1])
			}
			if want := t0.Add(time.Duration(tc.wantRev-1) * time.Hour); !fr.CreatedAt.Equal(want) {
				t.Fatalf("created %v, want %v", fr.CreatedAt, want)
			}
		})
	}

	// Nothing is published yet.
	_, err := b.PublishedFlow(ctx, "f1")
	wantErr(t, "PublishedFlow before publish", err, ErrNotFound)

	for _, tc := range []struct {
		name    string
		id      string
		rev     int
		wantPub int
		wantErr error
	}{
		{"publish first", "f1", 1, 1, nil},
		{"publish missing revision", "f1", 7, 1, ErrNotFound},
		{"publish missing flow", "nope", 1, 1, ErrNotFound},
		{"publish latest", "f1", 0, 3, nil},
		{"publish second", "f1", 2, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Publish(ctx, tc.id, tc.rev)
			wantErr(t, "Publish", err, tc.wantErr)
			fr, err := b.PublishedFlow(ctx, "f1")
			if err != nil {
				t.Fatal(err)
			}
			if fr.Revision != tc.wantPub || !fr.Published {
				t.Fatalf("published revision %d (flag %v), want %d", fr.Revision, fr.Published, tc.wantPub)
			}
		})
	}

	revs, err := b.FlowRevisions(ctx, "f1")
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 3 {
		t.Fatalf("%d revisions, want 3", len(revs))
	}
	for i, r := range revs {
		if r.Revision != i+1 || r.Published != (i+1 == 2) || r.Definition != nil {
			t.Fatalf("revision %d: %+v", i+1, r)
		}
	}

	list, err := b.ListFlows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "f1" || list[0].Latest != 3 || list[0].Published != 2 || list[1].ID != "f2" {
		t.Fatalf("ListFlows = %+v", list)
	}
	if got := stats(t, b).Flows; got != 2 {
		t.Fatalf("Stats.Flows = %d, want 2", got)
	}
}

func TestSaveFlowRejects(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	for _, tc := range []struct {
		name string
		f    NewFlow
	}{
		{"empty id", NewFlow{Definition: json.RawMessage(`{}`)}},
		{"NUL in id", NewFlow{ID: "a\x00b", Definition: json.RawMessage(`{}`)}},
		{"invalid JSON", NewFlow{ID: "f", Definition: json.RawMessage(`{"a":`)}},
		{"no definition", NewFlow{ID: "f"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.SaveFlow(ctx, tc.f)
			wantErr(t, "SaveFlow", err, ErrInvalid)
		})
	}
	if list, _ := b.ListFlows(ctx); len(list) != 0 {
		t.Fatalf("rejected flows were stored: %+v", list)
	}
}

// TestSaveFlows: SaveFlows stores the next revision of each flow, new or
// not, and stores none when one of them cannot be stored.
func TestSaveFlows(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	if _, err := b.SaveFlow(ctx, NewFlow{ID: "a", Name: "A", Definition: json.RawMessage(`{"v":1}`)}); err != nil {
		t.Fatal(err)
	}
	revs, err := b.SaveFlows(ctx, []NewFlow{
		{ID: "a", Name: "A2", Definition: json.RawMessage(`{"v":2}`)},
		{ID: "b", Name: "B", Definition: json.RawMessage(`{"v":1}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 || revs[0].ID != "a" || revs[0].Revision != 2 || revs[1].ID != "b" || revs[1].Revision != 1 {
		t.Fatalf("revisions %+v, want a 2 and b 1", revs)
	}
	_, err = b.SaveFlows(ctx, []NewFlow{
		{ID: "a", Name: "A3", Definition: json.RawMessage(`{"v":3}`)},
		{ID: "c", Name: "C", Definition: json.RawMessage(`{"v":`)},
	})
	wantErr(t, "SaveFlows", err, ErrInvalid)
	if fr, err := b.GetFlow(ctx, "a", 0); err != nil || fr.Revision != 2 {
		t.Errorf("after a refused SaveFlows, a is at %+v (%v), want revision 2", fr, err)
	}
	if _, err := b.GetFlow(ctx, "c", 0); err == nil {
		t.Errorf("after a refused SaveFlows, c was stored")
	}
}

func TestDeleteFlow(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	// "f" and "f1" share a prefix: deleting "f" must not touch "f1".
	for _, id := range []string{"f", "f", "f1"} {
		if _, err := b.SaveFlow(ctx, NewFlow{ID: id, Name: id, Definition: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "DeleteFlow", b.DeleteFlow(ctx, "f"), nil)
	wantErr(t, "DeleteFlow again", b.DeleteFlow(ctx, "f"), ErrNotFound)

	_, err := b.GetFlow(ctx, "f", 1)
	wantErr(t, "GetFlow after delete", err, ErrNotFound)
	if fr, err := b.GetFlow(ctx, "f1", 0); err != nil || fr.Revision != 1 {
		t.Fatalf("f1 after deleting f: %+v, %v", fr, err)
	}
	// No orphan revision is left behind.
	b.DB().View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bFlowRevs).ForEach(func(k, _ []byte) error {
			if bytes.HasPrefix(k, []byte("f\x00")) {
				t.Errorf("revision key %q survived DeleteFlow", k)
			}
			return nil
		})
	})
	if got := stats(t, b).Flows; got != 1 {
		t.Fatalf("Stats.Flows = %d, want 1", got)
	}
	// Saving again numbers on from the deleted flow's last revision, also
	// after a restart: a revision number names one definition for good.
	path := b.DB().Path()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fr, err := b.SaveFlow(ctx, NewFlow{ID: "f", Definition: json.RawMessage(`{}`)})
	if err != nil || fr.Revision != 3 {
		t.Fatalf("re-created flow: %+v, %v, want revision 3", fr, err)
	}
	_, err = b.GetFlow(ctx, "f", 1)
	wantErr(t, "a deleted revision of the re-created flow", err, ErrNotFound)
	if revs, err := b.FlowRevisions(ctx, "f"); err != nil || len(revs) != 1 || revs[0].Revision != 3 {
		t.Fatalf("revisions of the re-created flow: %+v, %v", revs, err)
	}
	list, err := b.ListFlows(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "f" || list[0].Latest != 3 || list[1].ID != "f1" {
		t.Fatalf("ListFlows: %+v, %v", list, err)
	}
	if got := stats(t, b).Flows; got != 2 {
		t.Fatalf("Stats.Flows = %d, want 2", got)
	}
}

// A file written before flows_deleted existed opens with the bucket added,
// and its flows are deleted and saved again as in a new file.
func TestFlowsDeletedAddedToOlderFile(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	if _, err := b.SaveFlow(ctx, NewFlow{ID: "f", Definition: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := b.DB().Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(bFlowsDeleted) }); err != nil {
		t.Fatal(err)
	}
	path := b.DB().Path()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatalf("opening a file without flows_deleted: %v", err)
	}
	defer b.Close()
	wantErr(t, "DeleteFlow", b.DeleteFlow(ctx, "f"), nil)
	if fr, err := b.SaveFlow(ctx, NewFlow{ID: "f", Definition: json.RawMessage(`{}`)}); err != nil || fr.Revision != 2 {
		t.Fatalf("re-created flow: %+v, %v, want revision 2", fr, err)
	}
}

// A flow deleted by a version that kept no flows_deleted record, while a
// session was still on it, is recorded when the file gets the bucket: saved
// again, it numbers its revisions on from the highest revision a session
// that has not ended names (its own or a subflow's frame), so that session
// does not resume in the new flow. Ended sessions and revision 0 leave
// nothing; stored flows are not recorded.
func TestFlowsDeletedFilledFromSessions(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	for id, n := range map[string]int{"f": 2, "child": 3, "gone-ended": 5, "kept": 1, "norev": 1} {
		for range n {
			if _, err := b.SaveFlow(ctx, NewFlow{ID: id, Definition: json.RawMessage(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	waiting := session("s-wait", flows.StatusWaiting, "tel:+1")
	waiting.FlowID, waiting.Revision = "f", 2
	waiting.Frames = []*flows.Frame{{FlowID: "f", Revision: 1}, {FlowID: "child", Revision: 3}}
	ended := session("s-ended", flows.StatusCompleted, "tel:+2")
	ended.FlowID, ended.Revision = "gone-ended", 5
	kept := session("s-kept", flows.StatusActive, "tel:+3")
	kept.FlowID, kept.Revision = "kept", 1
	norev := session("s-norev", flows.StatusActive, "tel:+4")
	norev.FlowID = "norev"
	for _, s := range []*flows.Session{waiting, ended, kept, norev} {
		mustSave(t, b, &Turn{Session: s, Channel: "sms"})
	}
	for _, id := range []string{"f", "child", "gone-ended", "norev"} {
		wantErr(t, "DeleteFlow "+id, b.DeleteFlow(ctx, id), nil)
	}
	// As written by a version without flows_deleted.
	if err := b.DB().Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(bFlowsDeleted) }); err != nil {
		t.Fatal(err)
	}
	b = reopen(t, b, b.DB().Path())
	for id, want := range map[string]int{"f": 3, "child": 4, "gone-ended": 1, "norev": 1, "kept": 2} {
		fr, err := b.SaveFlow(ctx, NewFlow{ID: id, Definition: json.RawMessage(`{}`)})
		if err != nil || fr.Revision != want {
			t.Errorf("flow %q saved after the upgrade: revision %d, %v; want %d", id, fr.Revision, err, want)
		}
	}
	// Filled once: a flow deleted now keeps its own record as before.
	b = reopen(t, b, b.DB().Path())
	wantErr(t, "DeleteFlow f", b.DeleteFlow(ctx, "f"), nil)
	if fr, err := b.SaveFlow(ctx, NewFlow{ID: "f", Definition: json.RawMessage(`{}`)}); err != nil || fr.Revision != 4 {
		t.Errorf("flow f deleted and saved again: revision %d, %v; want 4", fr.Revision, err)
	}
	b.Close()
}

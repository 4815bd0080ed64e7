package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/syncbuf"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// A session record damaged inside its value: the listing answers with the
// other sessions, and a message to its contact fails with the documented
// message in the log, naming the file, the bucket and the session.
func TestDamagedSessionRecord(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, DBFile)
	st, err := store.Open(path, store.Options{Uncompressed: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, id := range []string{"s1", "s2", "s3"} {
		s := &flows.Session{ID: id, FlowID: "f", Status: flows.StatusWaiting, Contact: flows.Contact{URN: "tel:+1555" + id[1:]},
			Channel: &flows.Channel{ID: DemoChannel}, Wait: &flows.Wait{Widget: "w", Kind: flows.WaitMessage}, CreatedAt: now, UpdatedAt: now}
		if err := st.SaveTurn(context.Background(), &store.Turn{Session: s}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		bk := tx.Bucket([]byte("session_records"))
		c := bk.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if i := bytes.Index(v, []byte(`"id":"s2"`)); i >= 0 {
				v = bytes.Clone(v)
				v[i+7] = 0x1e
				return bk.Put(bytes.Clone(k), v)
			}
		}
		t.Fatal("no record of s2")
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.DataDir = dir
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	list := ts.must(http.StatusOK, "GET", "/v1/sessions?limit=1000", nil)
	var ids []string
	for _, s := range list["sessions"].([]any) {
		ids = append(ids, s.(map[string]any)["id"].(string))
	}
	if strings.Join(ids, ",") != "s1,s3" {
		t.Errorf("listing: %v, want s1,s3 without the damaged s2", ids)
	}
	want := `store file ` + path + ` is corrupt or truncated: session \"s2\" (bucket session_records): decode: invalid character`
	if !strings.Contains(logs.String(), want) {
		t.Errorf("the log does not say %q:\n%s", want, logs.String())
	}

	// A store that holds sessions is not seeded: the channel is the test's.
	ts.must(http.StatusCreated, "POST", "/v1/channels", `{"id":"demo"}`)
	r := ts.do("POST", "/v1/channels/demo/messages", `{"from":"tel:+15552","text":"hi"}`)
	if r.Status != http.StatusInternalServerError {
		t.Errorf("a message to the damaged session's contact: %d %s", r.Status, r.Body)
	}
	if n := strings.Count(logs.String(), want); n < 2 {
		t.Errorf("the failed message is not logged with %q:\n%s", want, logs.String())
	}
}

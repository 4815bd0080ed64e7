package server

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/store"
)

// A backup whose client stops reading is ended after --backup-stall-timeout,
// not after the write timeout (--turn-timeout + 30 s): until then its read
// transaction holds up a commit that needs the store file mapped larger, and
// every turn behind it. The store here is mapped at bbolt's own size, so
// that the test's writes outgrow the map during the backup.
func TestBackupWhoseClientStopsReadingEndsSoon(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, DBFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts, base := backupServer(t, func(c *Config) {
		c.DataDir, c.Store = dir, st
		c.TurnTimeout = 10 * time.Minute // the write timeout: 10.5 min
		c.BackupStall = time.Second
	})
	resp, size := startBackup(t, base)
	if _, err := io.ReadFull(resp.Body, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	// The client reads no more. A write that grows the file by 64 MiB,
	// past the map of a 48 MiB file, needs a remap; a turn waits behind it.
	grown := make(chan error, 1)
	go func() { grown <- padStore(st, 64<<20) }()
	turn := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("POST", base+"/v1/channels/web/messages", strings.NewReader(`{"from":"+15550003001","text":"hi"}`))
		req.Header.Set("Authorization", "Bearer "+backupKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		turn <- err
	}()
	// The give-up time stops a broken test; it measures nothing.
	select {
	case err := <-grown:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the write that grows the file still waits for the backup whose client stopped reading")
	}
	select {
	case err := <-turn:
		if err != nil {
			t.Fatalf("the turn: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the turn still waits")
	}
	if n := openTxs(ts); n != 0 {
		t.Errorf("%d read transactions open after the backup was ended", n)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	if n+64<<10 >= size {
		t.Errorf("the client got the whole copy (%d bytes): the backup was not ended", size)
	}
	waitFor(t, "the ended backup counted as failed", func() bool {
		return strings.Contains(string(ts.do("GET", "/metrics", nil).Body), `parley_backups_total{result="failed"} 1`)
	})
}

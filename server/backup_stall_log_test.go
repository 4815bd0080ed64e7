package server

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/syncbuf"
)

// The warning of a backup that did not complete says why: a client that
// took none of the copy for --backup-stall-timeout is named so, with the
// setting, and a client that went away is not taken for one.
func TestBackupNotCompletedSaysWhy(t *testing.T) {
	logs := &syncbuf.Buffer{}
	_, base := backupServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.BackupStall = time.Second
	})
	warnings := func() []string {
		var out []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `msg="backup not completed"`) {
				out = append(out, l)
			}
		}
		return out
	}

	// A client that reads a little and stops reading.
	resp, _ := startBackup(t, base)
	if _, err := io.ReadFull(resp.Body, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a backup not completed warning", func() bool { return len(warnings()) == 1 })
	if w := warnings()[0]; !strings.Contains(w, "took none of the copy for 1s (--backup-stall-timeout)") {
		t.Errorf("warning %q; want it to say the client took none of the copy for 1s (--backup-stall-timeout)", w)
	}
	resp.Body.Close()

	// A client that goes away after a little of the copy.
	resp, _ = startBackup(t, base)
	if _, err := io.ReadFull(resp.Body, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, "a second backup not completed warning", func() bool { return len(warnings()) == 2 })
	if w := warnings()[1]; strings.Contains(w, "backup-stall-timeout") {
		t.Errorf("warning %q names the stall timeout for a client that went away", w)
	}
}

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMainPortInUse: a server whose address is taken (another server on
// the port) stops at once with one line naming the address, before it
// touches its data directory: no new store is made and seeded there, and
// an existing one is not opened, so not upgraded to a newer layout by a
// start that cannot serve.
func TestMainPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	data := filepath.Join(t.TempDir(), "parley-data")
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"--data", data, "--addr", addr}, &out, &errOut)
	if want := "parley serve: listen on " + addr + ": "; code != 1 || !strings.HasPrefix(errOut.String(), want) || !strings.Contains(errOut.String(), "address already in use") {
		t.Errorf("exit %d, stderr %q; want 1 and a line starting %q saying the address is in use", code, errOut.String(), want)
	}
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data directory was made by a start that could not listen: %v", err)
	}
}

// TestMainFailedStartJSONLog: with --log-format json, the error that ends a
// failed start is a JSON log line like the others, at level ERROR with the
// message the text format prints, so that a log collector reading stderr
// as JSON lines takes it in.
func TestMainFailedStartJSONLog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	emptyStore := t.TempDir()
	if err := os.WriteFile(filepath.Join(emptyStore, "parley.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"port in use", []string{"--data", filepath.Join(t.TempDir(), "d"), "--addr", ln.Addr().String()}, "parley serve: listen on " + ln.Addr().String() + ": "},
		{"empty store file", []string{"--data", emptyStore, "--addr", "127.0.0.1:0"}, "parley serve: store file " + filepath.Join(emptyStore, "parley.db") + " is corrupt or truncated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(context.Background(), append(c.args, "--log-format", "json"), &out, &errOut)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			lines := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n")
			for i, l := range lines {
				var rec struct{ Time, Level, Msg string }
				if err := json.Unmarshal([]byte(l), &rec); err != nil || rec.Time == "" || rec.Level == "" || rec.Msg == "" {
					t.Errorf("stderr line %d is not a JSON log line (%v): %s", i+1, err, l)
					continue
				}
				if i == len(lines)-1 && (rec.Level != "ERROR" || !strings.HasPrefix(rec.Msg, c.want)) {
					t.Errorf("the last line is %s %q, want ERROR with a message starting %q", rec.Level, rec.Msg, c.want)
				}
			}
		})
	}
}

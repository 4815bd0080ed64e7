package server

import (
	"bytes"
	"context"
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

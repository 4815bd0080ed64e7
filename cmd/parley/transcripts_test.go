package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/rapidprodata"
)

// sharedTestdata returns the RapidPro test data folder, or skips.
func sharedTestdata(t *testing.T) string {
	t.Helper()
	p := rapidprodata.Dir()
	if p == "" {
		t.Skip("RapidPro test data (shared/testdata/rapidpro beside the repository) is absent")
	}
	return p
}

// TestSimulateTranscripts runs every RapidPro reference conversation through
// `parley simulate --json --mocks` on the export itself and compares the
// outbound messages of each turn exactly.
func TestSimulateTranscripts(t *testing.T) {
	root := sharedTestdata(t)
	all, err := rapidprodata.Transcripts(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Skip("no transcripts")
	}
	for _, tr := range all {
		t.Run(tr.Name, func(t *testing.T) {
			if why, ok := rapidprodata.Unreproducible[tr.Name]; ok {
				t.Skip(why)
			}
			mocks := filepath.Join(t.TempDir(), "mocks.json")
			mb, err := json.Marshal(tr.Mocks)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Mocks == nil {
				mb = []byte("{}")
			}
			if err := os.WriteFile(mocks, mb, 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"simulate", "--json", "--mocks", mocks, "--contact-name", tr.Contact.Name, "--urn", tr.Contact.URN}
			if tr.Contact.Language != "" {
				args = append(args, "--contact-language", tr.Contact.Language)
			}
			for k, v := range tr.Contact.Fields {
				args = append(args, "--contact-field", k+"="+v)
			}
			for _, g := range tr.Contact.Groups {
				args = append(args, "--contact-group", g)
			}
			args = append(args, filepath.Join(root, tr.FlowFile))
			stdin := strings.NewReader(strings.Join(tr.Inputs, "\n") + "\n")
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), args, stdin, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			turns := splitTurns(t, stdout.String(), len(tr.Turns))
			for i, want := range tr.Turns {
				got := turns[i]
				if strings.Join(got, "\x00") != strings.Join(want.Messages, "\x00") {
					t.Errorf("turn %d: got %q, want %q", i, got, want.Messages)
				}
			}
			if !strings.Contains(stderr.String(), "session "+tr.FinalStatus) {
				t.Errorf("final status: stderr %q, want %s", stderr.String(), tr.FinalStatus)
			}
		})
	}
}

// splitTurns splits the event stream into turns: each turn ends where the
// session waits, whatever the input was (a message or /timeout).
func splitTurns(t *testing.T, out string, n int) [][]string {
	t.Helper()
	turns := make([][]string, 1, n)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct{ Type, Text string }
		_ = json.Unmarshal([]byte(line), &ev)
		switch ev.Type {
		case "message_out":
			turns[len(turns)-1] = append(turns[len(turns)-1], ev.Text)
		case "session_waiting":
			turns = append(turns, nil)
		}
	}
	for len(turns) < n {
		turns = append(turns, nil)
	}
	return turns
}

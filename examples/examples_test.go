package examples_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// TestExamples runs every example's scripted conversations.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("*/tests/*.test.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("expected the examples' scripted conversations, found %d", len(files))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			rep, err := sim.RunScript(context.Background(), widgets.Registered(), f)
			if err != nil {
				t.Fatal(err)
			}
			for _, msg := range rep.Failures {
				t.Error(msg)
			}
		})
	}
}

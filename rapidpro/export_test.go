package rapidpro

import (
	"testing"

	"github.com/parleyhq/parley/internal/rapidprodata"
)

// testdataDir returns the shared RapidPro test data folder, found from the
// repository root (the folder holding go.mod) as ../shared/testdata/rapidpro,
// or skips the test when it is absent.
func testdataDir(t testing.TB) string {
	t.Helper()
	d := rapidprodata.Dir()
	if d == "" {
		t.Skip("RapidPro test data (shared/testdata/rapidpro beside the repository) is absent")
	}
	return d
}

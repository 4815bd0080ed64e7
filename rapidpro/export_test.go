package rapidpro

import (
	"os"
	"path/filepath"
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

// importShared converts the shared export of that name, which must import
// as one flow that converted (the test is skipped when the data is absent).
func importShared(t *testing.T, name string) *Result {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdataDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Flows) != 1 || res.Flows[0].Failed {
		t.Fatalf("%s did not import:\n%s", name, res.Report)
	}
	return res
}

package rapidpro

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// testdataDir returns the shared RapidPro test data folder, found from the
// repository root (the folder holding go.mod) as ../shared/testdata/rapidpro,
// or skips the test when it is absent.
func testdataDir(t testing.TB) string {
	t.Helper()
	d := findTestdata()
	if d == "" {
		t.Skip("RapidPro test data (shared/testdata/rapidpro beside the repository) is absent")
	}
	return d
}

// findTestdata returns the shared test data folder, or "" when it is absent.
func findTestdata() string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	for _, d := range []string{
		filepath.Join(dir, "..", "shared", "testdata", "rapidpro"),
		filepath.Join(dir, "..", "..", "shared", "testdata", "rapidpro"),
	} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	return ""
}

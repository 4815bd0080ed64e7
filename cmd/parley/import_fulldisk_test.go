package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/smalldisk"
)

// An import into a directory whose disk fills up leaves each flow file
// whole: a file the import was replacing keeps its earlier content, no
// half-written flow and no temporary file is left, and the error names the
// file and the cause.
func TestImportFullDiskKeepsFiles(t *testing.T) {
	disk := smalldisk.Mount(t, 1<<20)
	src := t.TempDir()
	out := filepath.Join(disk.Dir, "flows")
	first := writeFile(t, src, "first.json", legacyExport(legacyFlow("u1", "Greeting", "hello")))
	if code, stdout, stderr := parley(t, "", "import", "rapidpro", first, "-o", out); code != 0 {
		t.Fatalf("first import: exit %d: %s%s", code, stdout, stderr)
	}
	file := filepath.Join(out, "greeting.json")
	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}

	disk.FillUp()
	long := strings.Repeat("a long greeting ", 2000) // 32 KB: more than the page the old file frees
	second := writeFile(t, src, "second.json", legacyExport(legacyFlow("u1", "Greeting", long)))
	code, _, stderr := parley(t, "", "import", "rapidpro", second, "-o", out)
	if code != 1 || !strings.Contains(stderr, file) || !strings.Contains(stderr, "no space left on device") {
		t.Errorf("import to a full disk: exit %d, stderr %q; want exit 1 naming %s and the full disk", code, stderr, file)
	}
	after, err := os.ReadFile(file)
	if err != nil || string(after) != string(before) {
		t.Errorf("%s after the failed import: %d bytes (%v); want the %d bytes of the first import", file, len(after), err, len(before))
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files in the output directory: %v; want greeting.json alone", names)
	}
}

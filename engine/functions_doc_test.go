package engine_test

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
)

// TestFunctionsDocumented: every function of engine.Functions has a row in
// flow-format.md's table of expression functions, and the example of each
// row gives what the row says.
func TestFunctionsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/flow-format.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "### Expression functions")
	if start < 0 {
		t.Fatal("docs/flow-format.md has no section Expression functions")
	}
	table := text[start:]
	table = table[:strings.Index(table, "\n## ")]
	for _, name := range slices.Sorted(maps.Keys(engine.Functions)) {
		if !strings.Contains(table, "\n| `"+name+"(") {
			t.Errorf("docs/flow-format.md's table of expression functions has no row for %s", name)
		}
	}
	example := regexp.MustCompile("`(@\\(.*\\))` → `([^`]*)` \\|$")
	n := 0
	for _, row := range strings.Split(table, "\n") {
		m := example.FindStringSubmatch(row)
		if m == nil {
			continue
		}
		n++
		t.Run(m[1], func(t *testing.T) {
			got, warnings := renderTemplate(t, m[1], "hello there")
			if got != m[2] || len(warnings) > 0 {
				t.Errorf("rendered %q (warnings %q), the docs say %q", got, warnings, m[2])
			}
		})
	}
	if n < len(engine.Functions) {
		t.Errorf("%d examples for %d functions", n, len(engine.Functions))
	}
}

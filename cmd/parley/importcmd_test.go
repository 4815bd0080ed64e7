package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// legacyFlow is a one-message legacy RapidPro flow named name.
func legacyFlow(uuid, name, text string) string {
	return `{"base_language": "eng", "flow_type": "F", "version": "11.12", "entry": "` + uuid + `-a",
	  "action_sets": [{"uuid": "` + uuid + `-a", "destination": null, "actions": [{"type": "reply", "uuid": "` + uuid + `-r", "msg": {"eng": "` + text + `"}}]}],
	  "rule_sets": [], "metadata": {"uuid": "` + uuid + `", "name": "` + name + `"}}`
}

func legacyExport(flows ...string) string {
	return `{"version": "11.12", "flows": [` + strings.Join(flows, ",") + `]}`
}

// TestImportDistinctFileNames: flows whose names give the same file name are
// written to different files, and the output says which got a suffix.
func TestImportDistinctFileNames(t *testing.T) {
	dir := t.TempDir()
	export := writeFile(t, dir, "export.json", legacyExport(
		legacyFlow("u1", "Parent Flow", "one"), legacyFlow("u2", "Parent  flow!", "two"), legacyFlow("u3", "parent flow", "three")))
	out := filepath.Join(dir, "out")
	code, stdout, stderr := parley(t, "", "import", "rapidpro", export, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"wrote " + filepath.Join(out, "parent_flow.json") + " (Parent Flow)\n",
		"wrote " + filepath.Join(out, "parent_flow_2.json") + ` (Parent  flow!; parent_flow.json is "Parent Flow")` + "\n",
		"wrote " + filepath.Join(out, "parent_flow_3.json") + ` (parent flow; parent_flow.json is "Parent Flow")` + "\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	for file, text := range map[string]string{"parent_flow.json": "one", "parent_flow_2.json": "two", "parent_flow_3.json": "three"} {
		data, err := os.ReadFile(filepath.Join(out, file))
		if err != nil || !strings.Contains(string(data), `"`+text+`"`) {
			t.Errorf("%s: %v %s", file, err, data)
		}
	}
}

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

// childFailing is an export whose second flow cannot be imported.
func childFailing() string {
	return legacyExport(legacyFlow("u1", "Parent Flow", "one"),
		`{"base_language": "eng", "flow_type": "F", "version": "11.12", "entry": "u2-a",
		  "action_sets": [{"uuid": "u2-a", "destination": null, "actions": [
		    {"type": "save", "uuid": "u2-s", "field": "tel_e164", "label": "Phone", "value": "@step.value"}]}],
		  "rule_sets": [], "metadata": {"uuid": "u2", "name": "Child Flow"}}`)
}

// TestValidateExportWithFailedFlow: an export is valid only when every flow
// of it imports; the message names the flow that did not.
func TestValidateExportWithFailedFlow(t *testing.T) {
	export := writeFile(t, t.TempDir(), "export.json", childFailing())
	code, stdout, stderr := parley(t, "", "validate", export)
	if code != 2 || strings.Contains(stdout, "ok") ||
		!strings.Contains(stderr, export+`: flow "Child Flow" did not import`) ||
		!strings.Contains(stderr, `error    "Child Flow" action u2-s (save)`) {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	// Simulating the flow that did not import says so, not "no flow named".
	code, _, stderr = parley(t, "", "simulate", "--flow", "Child Flow", export)
	if code != 2 || !strings.Contains(stderr, `flow "Child Flow" did not import`) {
		t.Errorf("simulate: exit %d, stderr %s", code, stderr)
	}
	// The flow that imported still runs.
	code, stdout, _ = parley(t, "", "simulate", "--flow", "Parent Flow", export)
	if code != 0 || stdout != "one\n" {
		t.Errorf("simulate the parent: exit %d, stdout %q", code, stdout)
	}
}

// TestValidateExportNoFlowImports: when no flow of an export imports,
// validate and simulate name each as when some do, after the import's one
// error for each (a refused action is not also "nothing to run").
func TestValidateExportNoFlowImports(t *testing.T) {
	teleport := func(uuid, name string) string {
		return `{"base_language": "eng", "flow_type": "F", "version": "11.12", "entry": "` + uuid + `-a",
		  "action_sets": [{"uuid": "` + uuid + `-a", "destination": null, "actions": [{"type": "teleport", "uuid": "` + uuid + `-t"}]}],
		  "rule_sets": [], "metadata": {"uuid": "` + uuid + `", "name": "` + name + `"}}`
	}
	export := writeFile(t, t.TempDir(), "export.json", legacyExport(teleport("u1", "One"), teleport("u2", "Two")))
	want := export + `: import: error    "One" action u1-t (teleport): action type "teleport" is not supported: replace it with one of the actions docs/rapidpro.md (Actions) lists before exporting` + "\n" +
		export + `: import: error    "Two" action u2-t (teleport): action type "teleport" is not supported: replace it with one of the actions docs/rapidpro.md (Actions) lists before exporting` + "\n" +
		export + `: flow "One" did not import (the import errors above say why)` + "\n" +
		export + `: flow "Two" did not import (the import errors above say why)` + "\n"
	for _, cmd := range []string{"validate", "simulate"} {
		code, stdout, stderr := parley(t, "", cmd, export)
		if code != 2 || stdout != "" || stderr != want {
			t.Errorf("%s: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", cmd, code, stdout, stderr, want)
		}
	}
}

// TestImportErrors: a JSON syntax error names its line and column, a
// new-format export gets an error line per flow, and --flow writes only the
// flow it names.
func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.json", "{\"version\": \"11.12\",\n \"flows\": [\n  {\"name\": \"x\",}\n]}")
	code, _, stderr := parley(t, "", "import", "rapidpro", bad, "-o", dir)
	if code != 2 || !strings.Contains(stderr, bad+": rapidpro: export is not valid JSON: line 3, column 16: invalid character '}'") {
		t.Errorf("syntax error: exit %d, %q", code, stderr)
	}
	// Columns count characters, as flow validation counts them, and validate
	// and simulate say where an export breaks as import does.
	accented := writeFile(t, dir, "accented.json", "{\"version\": \"11.12\",\n \"flows\": [\n  {\"name\": \"Café\",}\n]}")
	code, _, stderr = parley(t, "", "import", "rapidpro", accented, "-o", dir)
	if code != 2 || !strings.Contains(stderr, "line 3, column 19: invalid character '}'") {
		t.Errorf("syntax error after an accent: exit %d, %q", code, stderr)
	}
	for _, cmd := range []string{"validate", "simulate"} {
		code, _, stderr = parley(t, "", cmd, accented)
		if code != 2 || !strings.Contains(stderr, "malformed JSON at line 3, column 19") || strings.Contains(stderr, "unknown field") {
			t.Errorf("%s of an export with a syntax error: exit %d, %q", cmd, code, stderr)
		}
	}
	bom := writeFile(t, dir, "bom.json", "\ufeff"+`{"id": "bom", "widgets": [{"id": "a", "type": "end"}]}`)
	if code, _, stderr = parley(t, "", "validate", bom); code != 0 {
		t.Errorf("validate of a flow with a byte-order mark: exit %d, %q", code, stderr)
	}

	nodes := writeFile(t, dir, "nodes.json", `{"version": "13", "flows": [{"name": "Reg", "uuid": "u1", "spec_version": "13.1.0", "nodes": []}]}`)
	code, stdout, _ := parley(t, "", "import", "rapidpro", nodes, "-o", dir)
	if code != 1 || !strings.Contains(stdout, `error    "Reg" flows[0]: new-format flow (spec version 13.1.0, with "nodes") is not supported`) {
		t.Errorf("new format: exit %d, %q", code, stdout)
	}
	code, _, stderr = parley(t, "", "validate", nodes)
	if code != 2 || !strings.Contains(stderr, `new-format flow`) {
		t.Errorf("validate new format: exit %d, %q", code, stderr)
	}

	export := writeFile(t, dir, "export.json", legacyExport(legacyFlow("u1", "Parent Flow", "one"), legacyFlow("u2", "Child Flow", "two")))
	out := filepath.Join(dir, "one")
	code, stdout, stderr = parley(t, "", "import", "rapidpro", export, "-o", out, "--flow", "Child Flow")
	files, _ := filepath.Glob(filepath.Join(out, "*.json"))
	if code != 0 || len(files) != 1 || filepath.Base(files[0]) != "child_flow.json" || strings.Contains(stdout, "Parent Flow") {
		t.Errorf("--flow: exit %d, files %v, stdout %q, stderr %q", code, files, stdout, stderr)
	}
	code, _, stderr = parley(t, "", "import", "rapidpro", export, "-o", out, "--flow", "u1")
	if _, err := os.Stat(filepath.Join(out, "parent_flow.json")); code != 0 || err != nil {
		t.Errorf("--flow by uuid: exit %d, %v, %q", code, err, stderr)
	}
	// A --flow that names no flow of the export is said the same way by
	// import, validate and simulate, with the flow meant when one is close.
	for _, c := range []struct{ flow, want string }{
		{"Nope", `--flow: no flow named "Nope" in the export (it has "Parent Flow", "Child Flow")`},
		{"parent flow", `--flow: no flow named "parent flow" in the export (did you mean "Parent Flow"? it has "Parent Flow", "Child Flow")`},
		{"Chld Flow", `--flow: no flow named "Chld Flow" in the export (did you mean "Child Flow"? it has "Parent Flow", "Child Flow")`},
	} {
		for _, args := range [][]string{
			{"import", "rapidpro", export, "-o", out, "--flow", c.flow},
			{"validate", "--flow", c.flow, export},
			{"simulate", "--flow", c.flow, export},
		} {
			code, _, stderr = parley(t, "", args...)
			if code != 2 || !strings.Contains(stderr, export+": "+c.want+"\n") {
				t.Errorf("%s --flow %q: exit %d, stderr %q, want it to say %q", args[0], c.flow, code, stderr, export+": "+c.want)
			}
		}
	}
}

// TestFlowFlagOnAFlowFile: --flow chooses among the flows of a RapidPro
// export; given with a Parley flow file, which has one flow, validate and
// simulate refuse it naming the file rather than run that flow, and import
// and test say the file or the flag is not theirs.
func TestFlowFlagOnAFlowFile(t *testing.T) {
	dir := t.TempDir()
	flow := writeFile(t, dir, "f.json", `{"id": "f", "name": "F", "widgets": [{"id": "hi", "type": "send_message", "text": "hi"}]}`)
	want := flow + `: --flow "X" applies only to a RapidPro export (a file with several flows); this is a Parley flow file, which has one flow` + "\n"
	for _, args := range [][]string{
		{"validate", "--flow", "X", flow},
		{"simulate", "--flow", "X", flow},
		{"simulate", flow, "--flow", "X"},
	} {
		code, stdout, stderr := parley(t, "", args...)
		if code != 2 || stdout != "" || stderr != want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q, want exit 2 and %q", args, code, stdout, stderr, want)
		}
	}
	// So are the other flags that only an export takes.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"validate", "--lang", "fra", flow}, `--lang "fra" applies only to a RapidPro export`},
		{[]string{"simulate", "--rewrite-url", "http://a=http://b", flow}, `--rewrite-url "http://a=http://b" applies only to a RapidPro export`},
	} {
		code, _, stderr := parley(t, "", c.args...)
		if code != 2 || !strings.HasPrefix(stderr, flow+": "+c.want) {
			t.Errorf("%v: exit %d, stderr %q, want exit 2 and %q", c.args, code, stderr, c.want)
		}
	}
	code, _, stderr := parley(t, "", "import", "rapidpro", flow, "-o", dir, "--flow", "X")
	if code != 2 || !strings.Contains(stderr, flow+" is not a RapidPro export") {
		t.Errorf("import: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = parley(t, "", "test", "--flow", "X", flow)
	if code != 2 || !strings.Contains(stderr, "flag provided but not defined: -flow") {
		t.Errorf("test: exit %d, stderr %q", code, stderr)
	}
}

// TestLangFlagChecked: --lang is checked as simulate's --contact-language
// is: a code no translation could match (fr-FR, english) is a usage error
// naming the flag and the code meant, on import, validate and simulate;
// ISO 639-3, legacy (fre) and two-letter codes import.
func TestLangFlagChecked(t *testing.T) {
	dir := t.TempDir()
	export := writeFile(t, dir, "export.json", legacyExport(legacyFlow("u1", "Hello", "hi")))
	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "rapidpro", export, "-o", out, "--lang", "fr-FR"}, `parley import: --lang: language "fr-FR" is not an ISO 639-3 code (three lower-case letters): did you mean "fra"?` + "\n"},
		{[]string{"import", "rapidpro", export, "-o", out, "--lang", "english"}, `parley import: --lang: language "english" is not an ISO 639-3 code (three lower-case letters, such as "eng" or "fra")` + "\n"},
		{[]string{"validate", "--lang", "fr-FR", export}, export + `: --lang: language "fr-FR" is not an ISO 639-3 code (three lower-case letters): did you mean "fra"?` + "\n"},
		{[]string{"simulate", "--lang", "fr-FR", export}, export + `: --lang: language "fr-FR" is not an ISO 639-3 code (three lower-case letters): did you mean "fra"?` + "\n"},
	} {
		code, stdout, stderr := parley(t, "", c.args...)
		if code != 2 || stdout != "" || stderr != c.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, stdout, stderr, c.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused --lang wrote %s (%v)", out, err)
	}
	for _, lang := range []string{"fra", "fre", "fr", " FRA "} {
		if code, stdout, stderr := parley(t, "", "import", "rapidpro", export, "-o", out, "--lang", lang); code != 0 {
			t.Errorf("--lang %q: exit %d: %s%s", lang, code, stdout, stderr)
		}
	}
}

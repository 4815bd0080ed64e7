package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// birthdayExport asks a date of birth and says its month and day: the
// date rule and MONTH and DAY read the answer in the flow's date format.
const birthdayExport = `{"version": "11.12", "flows": [{"version": "11.12", "base_language": "eng", "flow_type": "M",
 "metadata": {"uuid": "66666666-6666-4666-8666-666666666666", "name": "Birthday"}, "entry": "r1",
 "action_sets": [{"uuid": "a1", "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "Born in month @(MONTH(flow.dob)), day @(DAY(flow.dob))"}}]},
   {"uuid": "a2", "actions": [{"type": "reply", "uuid": "m2", "msg": {"eng": "That is not a date"}}]}],
 "rule_sets": [{"uuid": "r1", "ruleset_type": "wait_message", "label": "DOB", "operand": "@step.value",
   "rules": [{"uuid": "x1", "category": {"eng": "Date"}, "destination": "a1", "test": {"type": "date"}},
     {"uuid": "x2", "category": {"eng": "Other"}, "destination": "a2", "test": {"type": "true"}}]}]}]}`

// TestImportDateFormatAndCountry: a workspace that wrote dates month first
// imports with --date-format MM-DD-YYYY, so "12/25/1990" is a date, in
// December, as it was in RapidPro; without it the flow reads dates day
// first. The flags write the flows' environment, and a wrong value is a
// usage error naming the flag.
func TestImportDateFormatAndCountry(t *testing.T) {
	dir := t.TempDir()
	export := writeFile(t, dir, "export.json", birthdayExport)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "That is not a date\n"},
		{[]string{"--date-format", "MM-DD-YYYY"}, "Born in month 12, day 25\n"},
		{[]string{"--date-format", "mm-dd-yyyy"}, "Born in month 12, day 25\n"},
	} {
		args := append(append([]string{"simulate"}, tc.args...), export)
		code, stdout, stderr := parley(t, "12/25/1990\n", args...)
		if code != 0 || stdout != tc.want {
			t.Errorf("%q: exit %d, stdout %q, want %q; stderr %s", tc.args, code, stdout, tc.want, stderr)
		}
	}

	out := filepath.Join(dir, "out")
	code, _, stderr := parley(t, "", "import", "rapidpro", "--date-format", "MM-DD-YYYY", "--country", "us", export, "-o", out)
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, stderr)
	}
	written, err := os.ReadFile(filepath.Join(out, "birthday.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(written), `"environment": {
    "default_country": "US",
    "date_format": "MM-DD-YYYY"
  }`) {
		t.Errorf("the converted flow has no environment:\n%s", written)
	}
	code, stdout, _ := parley(t, "12/25/1990\n", "simulate", filepath.Join(out, "birthday.json"))
	if code != 0 || stdout != "Born in month 12, day 25\n" {
		t.Errorf("the written flow: exit %d, stdout %q", code, stdout)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "rapidpro", "--date-format", "MM/DD/YYYY", export, "-o", out},
			`--date-format: unknown date format "MM/DD/YYYY" (DD-MM-YYYY, MM-DD-YYYY or YYYY-MM-DD)`},
		{[]string{"import", "rapidpro", "--country", "XX", export, "-o", out},
			`--country: unknown country "XX" (an ISO 3166-1 alpha-2 code such as "US" or "BR")`},
		{[]string{"validate", "--date-format", "MM-DD-YYYY", filepath.Join(out, "birthday.json")},
			`--date-format and --country apply only to a RapidPro export; a Parley flow file has them in its "environment"`},
	} {
		code, _, stderr := parley(t, "", tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %s, want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

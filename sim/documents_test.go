package sim

import (
	"fmt"
	"strings"
	"testing"
)

// mocksWithProblems is a mocks file whose URL has n responses, each with a
// status of the wrong kind: n problems of reading the JSON.
func mocksWithProblems(n int) []byte {
	return []byte(`{"http://e.com/a": [` + strings.TrimSuffix(strings.Repeat(`{"status": "200"}, `, n), ", ") + `]}`)
}

// A mocks file or a test script with exactly 50 problems lists them all,
// with no entry saying there may be more; one with 51 lists 50 and ends
// with it.
func TestFiftyProblemsListedWhole(t *testing.T) {
	const more = "and more: at most 50 problems are listed at once; these are the first 50"
	for n, wantMore := range map[int]bool{50: false, 51: true} {
		_, err := ParseMocks(mocksWithProblems(n))
		lines := strings.Split(err.Error(), "\n")
		if got := strings.Contains(err.Error(), more); got != wantMore || len(lines) != 51 && wantMore || len(lines) != 50 && !wantMore {
			t.Errorf("mocks file with %d problems: %d lines, the last %q; want the note only past 50", n, len(lines), lines[len(lines)-1])
		}
		script := fmt.Sprintf(`{"flow": "f.json", "conversation": [{"expect": []}], "mocks": %s}`, mocksWithProblems(n))
		_, err = ParseScript([]byte(script))
		lines = strings.Split(err.Error(), "\n")
		if got := strings.Contains(err.Error(), more); got != wantMore || len(lines) != 51 && wantMore || len(lines) != 50 && !wantMore {
			t.Errorf("script with %d problems: %d lines, the last %q; want the note only past 50", n, len(lines), lines[len(lines)-1])
		}
	}
}

// A large mocks file or test script with many problems is read on a
// budget, as a flow is: its list stops after a few of them, saying the
// document is too large to list them all, instead of reading it once per
// problem; a small one is listed whole.
func TestLargeDocumentProblemsOnABudget(t *testing.T) {
	const more = "and perhaps more: the document is too large to list every problem of it at once; these are the first "
	pad := `, "http://e.com/pad": [{"status": 200, "body": "` + strings.Repeat("a", 1<<20) + `"}]`
	large := strings.TrimSuffix(string(mocksWithProblems(60)), "}") + pad + "}"
	_, err := ParseMocks([]byte(large))
	lines := strings.Split(err.Error(), "\n")
	if len(lines) > 10 || !strings.HasPrefix(lines[len(lines)-1], "mocks: $: "+more) || !strings.Contains(lines[0], `["http://e.com/a"][0].status: expected an integer`) {
		t.Errorf("a large mocks file with 60 problems: %d lines, the first %q, the last %q; want a few ending with %q", len(lines), lines[0], lines[len(lines)-1], more)
	}
	_, err = ParseScript([]byte(`{"flow": "f.json", "conversation": [{"expect": []}], "mocks": ` + large + `}`))
	lines = strings.Split(err.Error(), "\n")
	if len(lines) > 10 || !strings.HasPrefix(lines[len(lines)-1], "script: $: "+more) {
		t.Errorf("a large script with 60 problems: %d lines, the last %q; want a few ending with %q", len(lines), lines[len(lines)-1], more)
	}
	_, err = ParseMocks(mocksWithProblems(40))
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 40 {
		t.Errorf("a small mocks file with 40 problems: %d lines, want the 40", len(lines))
	}
}

// A mock's header given as null is refused, as in a flow, naming its path,
// in a mocks file and in a script's mocks; the rest of the mock is checked
// all the same.
func TestMockNullHeaderRefused(t *testing.T) {
	_, err := ParseMocks([]byte(`{"http://e.com/a": [{"status": 200, "headers": {"X-Id": null}}, {"headers": {"A": "1"}}]}`))
	want := `mocks: ["http://e.com/a"][0].headers.X-Id: expected a string, got JSON null` + "\n" +
		`mocks: "http://e.com/a"[1]: "status" is missing (an HTTP status such as 200, or "timeout": true)`
	if err == nil || err.Error() != want {
		t.Errorf("mocks file: %v, want\n%s", err, want)
	}
	_, err = ParseScript([]byte(`{"flow": "f.json", "conversation": [{"expect": []}], "mocks": {"http://e.com/a": [{"status": 200, "headers": {"X-Id": null}}]}}`))
	want = `script: mocks["http://e.com/a"][0].headers.X-Id: expected a string, got JSON null`
	if err == nil || err.Error() != want {
		t.Errorf("script: %v, want %s", err, want)
	}
	if _, err := ParseMocks([]byte(`{"http://e.com/a": [{"status": 200, "headers": {"X-Id": "1"}, "body": {"x": null}}]}`)); err != nil {
		t.Errorf("a null in a mock's body: %v, want it taken", err)
	}
}

// A mocks file written as a test script's "mocks" field, with the field
// around it, is told what a mocks file holds instead.
func TestMocksFileWithScriptField(t *testing.T) {
	_, err := ParseMocks([]byte(`{"mocks": {"http://e.com/a": [{"status": 200}]}}`))
	want := `mocks: the file holds {"mocks": {...}}, as a test script does; a mocks file is what is inside it: {"URL": [{"status": 200, "body": {...}}]}`
	if err == nil || err.Error() != want {
		t.Errorf("mocks file: %v, want %s", err, want)
	}
}

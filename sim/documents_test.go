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
	const more = "and perhaps more: at most 50 problems are listed at once; these are the first 50"
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

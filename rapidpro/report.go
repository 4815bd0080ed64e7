package rapidpro

import (
	"fmt"
	"strings"
)

// Report levels.
const (
	levelError   = "error"
	levelWarning = "warning"
	levelInfo    = "info"
)

// Report lists what an import could not translate or translated with a
// difference, each line with its location.
type Report struct {
	Lines []ReportLine
}

// ReportLine is one finding. Flow names the flow; Where names the action or
// ruleset (by uuid) and the field, e.g. `ruleset 2bff5c33-... rules[6].test`.
// Level is "error" (the flow was not imported), "warning" (imported, but it
// runs differently in the way the message says) or "info" (imported the same,
// noted for the record).
type ReportLine struct {
	Flow    string `json:"flow"`
	Where   string `json:"where,omitempty"`
	Level   string `json:"level"`
	Message string `json:"message"`
}

// String renders the report for a terminal, one line per finding:
//
//	error    Favorites  ruleset 2bff5c33-… rules[3].test: ...
func (r Report) String() string {
	var b strings.Builder
	for _, l := range r.Lines {
		b.WriteString(l.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// String renders one line.
func (l ReportLine) String() string {
	where := ""
	if l.Where != "" {
		where = " " + l.Where + ":"
	}
	return fmt.Sprintf("%-8s %q%s %s", l.Level, l.Flow, where, l.Message)
}

// Count returns how many lines have the given level.
func (r Report) Count(level string) int {
	n := 0
	for _, l := range r.Lines {
		if l.Level == level {
			n++
		}
	}
	return n
}

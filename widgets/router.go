package widgets

import (
	"fmt"
	"slices"
	"strings"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/rules"
)

// router is the routing part shared by the widgets that test an operand with
// rules: wait_for_response, split and gather_digits.
type router struct {
	set     *rules.Set
	operand flows.Template
	// cats are the rule categories, known even when a rule does not compile,
	// so a bad rule is one error rather than one more per exit.
	cats []string
	// uncategorised is set when a rule has no category (or a blank one):
	// which exits the widget has is not known.
	uncategorised bool
	// explained is the exit given for a category named like one of the
	// widget's own exits (see meantExit), which its error names.
	explained []string
}

// ownExitTaken says when each of the routing widgets' own exits is taken,
// for the error of a category that takes its name.
var ownExitTaken = map[string]string{
	flows.ExitOther:   "taken when no rule matches",
	flows.ExitTimeout: "taken when the wait times out",
	flows.ExitNoInput: "taken when the caller presses no key",
	flows.ExitNoMatch: "taken when the digits match no rule",
}

// compile compiles the rules and the operand. exits are the widget's exits
// as given; reserved are the widget's own exits (Other, Timeout ...): a
// category of that name would make an answer take one of them. Its error
// says what the category should be called: the exit the author gave for it
// under another name when it can tell (meantExit), which is then not
// reported as an unknown exit too.
func (rt *router) compile(c flows.Compiler, cases []rules.Case, operand string, exits map[string]string, reserved ...string) error {
	var errs []error
	rt.explained = nil
	meant := meantExit(cases, exits, reserved)
	for i, cs := range cases {
		if slices.Contains(reserved, cs.Category) {
			instead := "the name of the exit its answers should take"
			if meant != "" {
				instead = fmt.Sprintf("such as %q, the exit given for it", meant)
				rt.explained = []string{meant}
			}
			errs = append(errs, newRule(flows.Errorf(fmt.Sprintf("rules[%d].category", i),
				"category %q is the name of this widget's own exit %q, %s: give the category a name of its own, %s",
				cs.Category, cs.Category, ownExitTaken[cs.Category], instead)))
		}
	}
	if len(cases) > 0 {
		s, err := rules.Compile(c, "rules", cases)
		if err != nil {
			errs = append(errs, err)
		}
		rt.set = s
		seen := map[string]bool{}
		for _, cs := range cases {
			switch {
			case strings.TrimSpace(cs.Category) == "":
				// Missing, as rules.Compile reports it: no exit.
				rt.uncategorised = true
			case !seen[cs.Category]:
				seen[cs.Category] = true
				rt.cats = append(rt.cats, cs.Category)
			}
		}
	}
	if operand != "" {
		t, err := c.Template("operand", operand)
		if err != nil {
			errs = append(errs, err)
		}
		rt.operand = t
	}
	if len(errs) > 0 {
		return joinErrs(errs)
	}
	return nil
}

// meantExit is the exit the author likely meant a rule category named like
// one of the widget's own exits (reserved) to take, "" when it cannot be
// told: the one exit given that is no category and no such own exit, when
// the categories use one such name only, that own exit is given too (so the
// category was meant to be another), and every other category has its
// exit, so that the exit is no misspelling of one of theirs.
func meantExit(cases []rules.Case, exits map[string]string, reserved []string) string {
	used := ""
	for _, cs := range cases {
		switch {
		case slices.Contains(reserved, cs.Category):
			if used != "" && used != cs.Category {
				return ""
			}
			used = cs.Category
		case strings.TrimSpace(cs.Category) == "":
			return ""
		default:
			if _, ok := exits[cs.Category]; !ok {
				return ""
			}
		}
	}
	if _, ok := exits[used]; !ok || used == "" {
		return ""
	}
	meant := ""
	for n := range exits {
		if slices.Contains(reserved, n) || slices.ContainsFunc(cases, func(cs rules.Case) bool { return cs.Category == n }) {
			continue
		}
		if meant != "" {
			return ""
		}
		meant = n
	}
	return meant
}

// ExplainedExits: the exit given for a category named like one of the
// widget's own exits, which that category's error names (see meantExit).
func (rt *router) ExplainedExits() []string { return rt.explained }

// exitFields are the fields the categories come from: each rule's category,
// or the rules when there are none (see flows.ExitsFrom).
func exitFields(cases []rules.Case) []string {
	if len(cases) == 0 {
		return []string{"rules"}
	}
	out := make([]string, len(cases))
	for i := range cases {
		out[i] = fmt.Sprintf("rules[%d].category", i)
	}
	return out
}

// ExitsUnread: a rule without a category, reported missing, leaves the
// widget's exits unknown, so they are not also reported unknown (see
// flows.UnreadExits).
func (rt *router) ExitsUnread() bool { return rt.uncategorised }

// categories are the exits the rules can take, then Other.
func (rt *router) categories() []string {
	if rt.cats == nil {
		return nil
	}
	return appendNew(append([]string(nil), rt.cats...), flows.ExitOther)
}

// appendNew appends to list each of names it does not hold yet: a rule
// category named like one of the widget's own exits (reported as an error)
// leaves that exit listed once.
func appendNew(list []string, names ...string) []string {
	for _, n := range names {
		if !slices.Contains(list, n) {
			list = append(list, n)
		}
	}
	return list
}

// value is what the rules test: the operand, or the last input.
func (rt *router) value(r flows.Run) string {
	if rt.operand != nil {
		return r.Render(rt.operand)
	}
	return r.Session().Input
}

// route tests the operand; ok is false when no rule matched. The value is the
// match, or the operand itself for Other; extra is the matching rule's detail
// (has_pattern's groups), to save with the result. An operand with an
// @(...) that failed is not tested: it takes Other.
func (rt *router) route(r flows.Run, operand string) (category, value string, extra map[string]string, ok bool) {
	if rt.set == nil {
		return "", operand, nil, false
	}
	if rt.operand != nil && r.RenderFailed() != nil {
		return flows.ExitOther, operand, nil, false
	}
	m, ok := rt.set.Match(r, operand)
	if !ok {
		return flows.ExitOther, operand, nil, false
	}
	r.Emit(flows.Event{Type: flows.EventRuleMatched, Category: m.Category, Value: m.Value, Input: operand})
	return m.Category, m.Value, m.Extra, true
}

// newRule marks a check added after flows were stored without it: a stored
// flow that fails it still loads, with a warning (flows.ErrNewRule).
func newRule(fe *flows.FieldError) *flows.FieldError {
	fe.Err = flows.ErrNewRule
	return fe
}

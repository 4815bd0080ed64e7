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
}

// compile compiles the rules and the operand. reserved are the widget's own
// exits (Other, Timeout ...): a category of that name would make an answer take
// one of them.
func (rt *router) compile(c flows.Compiler, cases []rules.Case, operand string, reserved ...string) error {
	var errs []error
	for i, cs := range cases {
		if slices.Contains(reserved, cs.Category) {
			errs = append(errs, newRule(flows.Errorf(fmt.Sprintf("rules[%d].category", i),
				"category %q is the name of one of this widget's own exits (%s): name it otherwise", cs.Category, quoted(reserved))))
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

func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// newRule marks a check added after flows were stored without it: a stored
// flow that fails it still loads, with a warning (flows.ErrNewRule).
func newRule(fe *flows.FieldError) *flows.FieldError {
	fe.Err = flows.ErrNewRule
	return fe
}

package widgets

import (
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/rules"
)

// TypeSplit routes on a value without waiting.
const TypeSplit = "split"

// Split tests Operand (default: the last input) with its rules, first match
// wins, no match goes to Other. With Result set the match is saved.
type Split struct {
	flows.WidgetBase
	Operand string       `json:"operand,omitempty"`
	Rules   []rules.Case `json:"rules"`
	Result  string       `json:"result,omitempty"`

	router `json:"-"`
}

func init() { register(TypeSplit, func() flows.Widget { return &Split{} }) }

// Validate compiles the rules and operand.
func (w *Split) Validate(c flows.Compiler) error {
	var errs []error
	if len(w.Rules) == 0 {
		errs = append(errs, flows.Errorf("rules", "split needs at least one rule"))
	}
	errs = append(errs, checkResult(&w.WidgetBase, w.Result, false))
	return joinErrs(append(errs, w.compile(c, w.Rules, w.Operand, w.Exits, flows.ExitOther)))
}

// ResultsSaved: the result, when the split has one.
func (w *Split) ResultsSaved() []string { return optResult(w.Result) }

// UnnamedResult: without a result name it saves none.
func (w *Split) UnnamedResult() bool { return w.Result == "" }

// ExitNames: the categories and Other. Other is there even when the rules are
// missing or wrong, so that the exits are not reported as unknown as well.
func (w *Split) ExitNames() []string {
	return appendNew(append([]string(nil), w.cats...), flows.ExitOther)
}

// ExitFields: the rules' categories.
func (w *Split) ExitFields() []string { return exitFields(w.Rules) }

// Execute routes.
func (w *Split) Execute(r flows.Run) flows.Outcome {
	operand := w.value(r)
	category, value, extra, _ := w.route(r, operand)
	if w.Result != "" {
		r.SaveMatch(w.Result, value, category, operand, extra)
	}
	return flows.Outcome{Exit: category}
}

var (
	_ flows.Widget    = (*Split)(nil)
	_ flows.ExitsFrom = (*Split)(nil)
)

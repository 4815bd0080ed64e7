package widgets

import (
	"fmt"

	"github.com/parleyhq/parley/flows"
)

// TypeSetVariable assigns a flow, user or call variable.
const TypeSetVariable = "set_variable"

// SetVariable sets one variable to a template's text or an expression's value.
// Scope "flow" (default) saves @flow.NAME; "user" saves the contact's
// $user.key.NAME, which persists across sessions; "call" sets $call.state or
// $call.digits; "contact" sets the contact's name or language.
type SetVariable struct {
	flows.WidgetBase
	Scope      string `json:"scope,omitempty"`
	Name       string `json:"name"`
	Value      string `json:"value,omitempty"`
	Expression string `json:"expression,omitempty"`

	value flows.Template
	expr  flows.Expression
}

func init() { register(TypeSetVariable, func() flows.Widget { return &SetVariable{} }) }

// Validate checks the scope and name and compiles the value.
func (w *SetVariable) Validate(c flows.Compiler) error {
	var errs []error
	switch w.Scope {
	case "", flows.ScopeFlow, flows.ScopeUser, flows.ScopeCall, "contact":
	default:
		msg := fmt.Sprintf("unknown scope %q (flow, user, call or contact)", w.Scope)
		msg += flows.DidYouMean(flows.Suggestions(w.Scope, []string{flows.ScopeFlow, flows.ScopeUser, flows.ScopeCall, "contact"}))
		errs = append(errs, flows.Errorf("scope", "%s", msg))
	}
	switch {
	case w.Name == "":
		errs = append(errs, flows.Errorf("name", "set_variable needs a variable name"))
	case (w.Scope == "" || w.Scope == flows.ScopeFlow) && flows.Key(w.Name) == "" && w.Decoded("scope"):
		// The result would have no key: @flow could never show it.
		errs = append(errs, flows.Errorf("name", "%q has no letters or digits to make a result key", w.Name))
	case w.Scope == flows.ScopeUser && flows.Key(w.Name) == "":
		// A contact field is stored under its key, as a result is.
		errs = append(errs, newRule(flows.Errorf("name", "%q has no letters or digits to make a contact field key", w.Name)))
	case w.Scope == flows.ScopeCall && w.Name != "state" && w.Name != "digits":
		errs = append(errs, newRule(flows.Errorf("name", "$call.%s cannot be set: the call scope sets state or digits", w.Name)))
	case w.Scope == "contact" && w.Name != "name" && w.Name != "language":
		errs = append(errs, newRule(flows.Errorf("name", "contact.%s cannot be set: the contact scope sets name or language (a contact field is set with scope user)", w.Name)))
	}
	if w.Value != "" && w.Expression != "" {
		errs = append(errs, flows.Errorf("expression", "give either value or expression, not both"))
	}
	var err error
	if w.Expression != "" {
		w.expr, err = c.Expression("expression", w.Expression)
		errs = append(errs, err)
	}
	if w.Value != "" || w.Expression == "" {
		w.value, err = c.Template("value", w.Value)
		errs = append(errs, err)
	}
	return joinErrs(errs)
}

// ResultsSaved: the variable, in scope flow (a result of the flow).
func (w *SetVariable) ResultsSaved() []string {
	if w.Scope == "" || w.Scope == flows.ScopeFlow {
		return []string{w.Name}
	}
	return nil
}

// ExitNames: Next, or Failure when the expression (or an @(...) of the
// value) fails.
func (w *SetVariable) ExitNames() []string { return []string{ExitNext, flows.ExitFailure} }

// Execute evaluates and assigns.
func (w *SetVariable) Execute(r flows.Run) flows.Outcome {
	var v string
	if w.expr != nil {
		out, err := r.Eval(w.expr)
		if err != nil {
			r.Emit(flows.Event{Type: flows.EventError, Message: fmt.Sprintf("expression %q: %v", w.Expression, err)})
			return flows.Outcome{Exit: flows.ExitFailure}
		}
		v = flows.ValueText(out)
	} else {
		v = r.Render(w.value)
		// A value with an @(...) that failed is not set when the flow
		// lists the Failure exit; a flow that does not goes on with the
		// value as rendered, the failed part empty, as it always has.
		if _, listed := w.Exits[flows.ExitFailure]; listed && r.RenderFailed() != nil {
			return flows.Outcome{Exit: flows.ExitFailure}
		}
	}
	if err := r.SetVariable(w.Scope, w.Name, v); err != nil {
		r.Emit(flows.Event{Type: flows.EventError, Message: err.Error()})
		return flows.Outcome{Exit: flows.ExitFailure}
	}
	return flows.Outcome{Exit: ExitNext}
}

var _ flows.Widget = (*SetVariable)(nil)

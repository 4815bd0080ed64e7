package widgets

import (
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/rules"
)

// TypeWaitForResponse waits for the contact's next message.
const TypeWaitForResponse = "wait_for_response"

// WaitForResponse waits for a message, saves it under Result and, with rules,
// routes on it (RapidPro's "Wait for Response" ruleset in one widget).
type WaitForResponse struct {
	flows.WidgetBase
	Result  string       `json:"result,omitempty"`
	Rules   []rules.Case `json:"rules,omitempty"`
	Operand string       `json:"operand,omitempty"`
	// Timeout in seconds; when it passes the Timeout exit is taken. Nil is
	// no timeout; 0 is an error (see checkTimeout).
	Timeout *int `json:"timeout,omitempty"`

	router `json:"-"`
}

func init() { register(TypeWaitForResponse, func() flows.Widget { return &WaitForResponse{} }) }

// Validate compiles the rules and operand.
func (w *WaitForResponse) Validate(c flows.Compiler) error {
	var errs []error
	errs = append(errs, checkTimeout(w.Timeout, "no timeout (in a messaging flow)"))
	errs = append(errs, checkResult(&w.WidgetBase, w.Result, true))
	return joinErrs(append(errs, w.compile(c, w.Rules, w.Operand, w.Exits, flows.ExitOther, flows.ExitTimeout)))
}

// CheckKind: on a call the wait collects keys, in a Twilio <Gather> that
// ends when the caller stops pressing them; without a timeout, a caller who
// presses none would be gathered from again and again in silence, so a voice
// flow's wait needs one.
func (w *WaitForResponse) CheckKind(kind string) error {
	if kind != flows.KindVoice || w.Timeout != nil {
		return nil // a timeout of 0 or less is reported by Validate
	}
	return flows.Errorf("timeout", "in a voice flow wait_for_response needs a timeout (seconds) and takes its Timeout exit when the caller presses no key in that time; without one the call would wait in silence forever. Give it \"timeout\", or use gather_digits, which re-prompts")
}

// ExitHint: a wait has a Timeout exit only when it has a timeout.
func (w *WaitForResponse) ExitHint(name string) string {
	if name == flows.ExitTimeout && w.Timeout == nil {
		return `a wait takes its Timeout exit only when it has a "timeout": give it one (seconds), or remove the exit`
	}
	return ""
}

// ResultsSaved: the result, named by the widget id when it has no name.
func (w *WaitForResponse) ResultsSaved() []string {
	return []string{resultName(&w.WidgetBase, w.Result)}
}

// ExitNames: Next (no rules) or the categories and Other, plus Timeout.
func (w *WaitForResponse) ExitNames() []string {
	exits := w.categories()
	if exits == nil {
		exits = []string{ExitNext}
	}
	if w.Timeout != nil {
		// With a timeout of 0 too, so that its error is the one at
		// timeout, not an unknown Timeout exit.
		exits = appendNew(exits, flows.ExitTimeout)
	}
	return exits
}

// ExitFields: the rules' categories and the timeout.
func (w *WaitForResponse) ExitFields() []string { return append(exitFields(w.Rules), "timeout") }

// Execute starts the wait.
func (w *WaitForResponse) Execute(flows.Run) flows.Outcome {
	return flows.Outcome{Wait: &flows.Wait{Kind: flows.WaitMessage, Timeout: w.seconds()}}
}

// seconds is the timeout, 0 for none (a stored flow's timeout of 0 is none,
// as it was before it was an error).
func (w *WaitForResponse) seconds() int {
	if w.Timeout == nil || *w.Timeout < 0 {
		return 0
	}
	return min(*w.Timeout, flows.MaxTimeoutSeconds) // a stored flow's longer timeout
}

// checkTimeout checks a widget's timeout: left out it is none (what
// instead says), else it must be 1 second or more, and at most
// flows.MaxTimeoutSeconds. A 0 was read as no timeout once, and a longer
// timeout was taken as it was: each is an error only for flows written now
// (flows.ErrNewRule), and a stored flow's longer timeout waits the most.
func checkTimeout(timeout *int, instead string) error {
	switch {
	case timeout == nil:
		return nil
	case *timeout > flows.MaxTimeoutSeconds:
		return newRule(flows.Errorf("timeout", "timeout is %d seconds, over %d (365 days), the most a timeout may be", *timeout, flows.MaxTimeoutSeconds))
	case *timeout > 0:
		return nil
	case *timeout == 0:
		return newRule(flows.Errorf("timeout", "timeout must be a positive number of seconds (it is 0), or be left out for %s", instead))
	}
	return flows.Errorf("timeout", "timeout must be a positive number of seconds (it is %d), or be left out for %s", *timeout, instead)
}

// Resume handles the message or the timeout.
func (w *WaitForResponse) Resume(r flows.Run, in flows.Input) flows.Outcome {
	if in.Kind == flows.InputTimeout {
		if w.seconds() > 0 || w.Exits[flows.ExitTimeout] != "" {
			// The result is saved as goflow saves it, with the Timeout
			// category and no value, so an earlier answer does not stay.
			r.SaveResult(resultName(&w.WidgetBase, w.Result), "", flows.ExitTimeout, "", nil)
			return flows.Outcome{Exit: flows.ExitTimeout}
		}
		r.Emit(flows.Event{Type: flows.EventWarning, Message: "timeout ignored: this wait has no timeout"})
		return flows.Outcome{Wait: r.Session().Wait}
	}
	if in.Kind != flows.InputText && in.Kind != flows.InputDigits {
		return flows.Outcome{Wait: r.Session().Wait}
	}
	operand := w.value(r)
	category, value, extra, _ := w.route(r, operand)
	// The result's input is @input: with attachments, the text and their URLs.
	r.SaveMatch(resultName(&w.WidgetBase, w.Result), value, category, r.Session().Input, extra)
	if w.set == nil {
		return flows.Outcome{Exit: ExitNext}
	}
	return flows.Outcome{Exit: category}
}

var (
	_ flows.Resumer     = (*WaitForResponse)(nil)
	_ flows.ExitsFrom   = (*WaitForResponse)(nil)
	_ flows.KindChecker = (*WaitForResponse)(nil)
)

package widgets

import "github.com/parleyhq/parley/flows"

// TypeSubflow runs another flow for the same contact and comes back.
const TypeSubflow = "subflow"

// Subflow starts the flow with id Flow. When it ends the subflow widget resumes:
// Complete when the child completed, Expired when it expired. The child's results
// are visible to the parent as @child.NAME; the child sees the parent's as
// @parent.NAME.
type Subflow struct {
	flows.WidgetBase
	Flow string `json:"flow"`
	// Result, when set, saves the child's outcome (completed or expired) as a result.
	Result string `json:"result,omitempty"`
}

func init() { register(TypeSubflow, func() flows.Widget { return &Subflow{} }) }

// Validate checks that a flow is named.
func (w *Subflow) Validate(flows.Compiler) error {
	var errs []error
	if w.Flow == "" {
		errs = append(errs, flows.Errorf("flow", "subflow needs the id of the flow to run"))
	}
	return joinErrs(append(errs, checkResult(&w.WidgetBase, w.Result, false)))
}

// ResultsSaved: the result, when the widget has one. The child flow's own
// results are @child.NAME, not results of this flow.
func (w *Subflow) ResultsSaved() []string { return optResult(w.Result) }

// UnnamedResult: without a result name it saves none.
func (w *Subflow) UnnamedResult() bool { return w.Result == "" }

// ExitNames: Complete and Expired.
func (w *Subflow) ExitNames() []string { return []string{flows.ExitComplete, flows.ExitExpired} }

// EnteredFlow is the child flow's id.
func (w *Subflow) EnteredFlow() string { return w.Flow }

// Execute asks the engine to enter the child flow.
func (w *Subflow) Execute(flows.Run) flows.Outcome {
	return flows.Outcome{Subflow: &flows.SubflowCall{FlowID: w.Flow}}
}

// Resume follows the child's outcome.
func (w *Subflow) Resume(r flows.Run, in flows.Input) flows.Outcome {
	exit := flows.ExitComplete
	if in.Kind == flows.InputSubflow && in.Status == flows.StatusExpired {
		exit = flows.ExitExpired
	}
	if w.Result != "" {
		r.SaveResult(w.Result, string(in.Status), exit, "", nil)
	}
	return flows.Outcome{Exit: exit}
}

var (
	_ flows.Resumer     = (*Subflow)(nil)
	_ flows.FlowEnterer = (*Subflow)(nil)
)

package widgets

import "github.com/parleyhq/parley/flows"

// TypeEnd ends the flow.
const TypeEnd = "end"

// End completes the flow (a subflow returns to its caller).
type End struct {
	flows.WidgetBase
}

func init() { register(TypeEnd, func() flows.Widget { return &End{} }) }

// Validate has nothing to check.
func (w *End) Validate(flows.Compiler) error { return nil }

// ExitNames: an end widget has no exits.
func (w *End) ExitNames() []string { return nil }

// Execute takes the (absent) exit, which ends the running flow.
func (w *End) Execute(flows.Run) flows.Outcome { return flows.Outcome{Exit: ""} }

var _ flows.Widget = (*End)(nil)

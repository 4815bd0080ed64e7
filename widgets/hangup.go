package widgets

import "github.com/parleyhq/parley/flows"

// TypeHangup ends a call.
const TypeHangup = "hangup"

// Hangup hangs up the call and completes the session.
type Hangup struct {
	flows.WidgetBase
}

func init() { register(TypeHangup, func() flows.Widget { return &Hangup{} }) }

// Validate has nothing to check.
func (w *Hangup) Validate(flows.Compiler) error { return nil }

// CheckKind: hangup is for voice flows only.
func (w *Hangup) CheckKind(kind string) error { return voiceOnly(TypeHangup, kind, "end") }

// ExitNames: none.
func (w *Hangup) ExitNames() []string { return nil }

// Execute emits the hangup and ends the session.
func (w *Hangup) Execute(r flows.Run) flows.Outcome {
	r.Emit(flows.Event{Type: flows.EventHangup})
	if c := r.Session().Call; c != nil {
		c.State = "completed"
	}
	return flows.Outcome{End: flows.StatusCompleted}
}

var (
	_ flows.Widget      = (*Hangup)(nil)
	_ flows.KindChecker = (*Hangup)(nil)
)

package widgets

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/parleyhq/parley/flows"
)

// TypeRecord records an action Parley does not carry out itself.
const TypeRecord = "record"

// Record renders its fields and emits them as an action_recorded event, so an
// action that has no Parley equivalent (an e-mail, a message label, a channel
// switch imported from RapidPro) stays visible in the session's events and can
// be delivered by whoever consumes them. It sends nothing.
type Record struct {
	flows.WidgetBase
	// Action names what was recorded ("email", "add_label" ...).
	Action string `json:"action"`
	// Fields are templates, rendered into the event's data.
	Fields map[string]string `json:"fields,omitempty"`

	fields map[string]flows.Template
}

func init() { register(TypeRecord, func() flows.Widget { return &Record{} }) }

// Validate checks the action name and compiles the fields.
func (w *Record) Validate(c flows.Compiler) error {
	var errs []error
	if w.Action == "" {
		errs = append(errs, flows.Errorf("action", "record needs the name of the action it records"))
	}
	w.fields = make(map[string]flows.Template, len(w.Fields))
	// In key order, so errors come out the same way every time.
	for _, k := range slices.Sorted(maps.Keys(w.Fields)) {
		src := w.Fields[k]
		t, err := c.Template(flows.MemberPath("fields", k), src)
		if err != nil {
			errs = append(errs, err)
		}
		if t != nil {
			w.fields[k] = t
		}
	}
	return joinErrs(errs)
}

// ExitNames lists the one exit.
func (w *Record) ExitNames() []string { return []string{ExitNext} }

// Execute emits the action_recorded event.
func (w *Record) Execute(r flows.Run) flows.Outcome {
	data := make(map[string]string, len(w.fields))
	// In key order, so warnings from rendering come out the same way every time.
	for _, k := range slices.Sorted(maps.Keys(w.fields)) {
		data[k] = r.Render(w.fields[k])
	}
	raw, _ := json.Marshal(data)
	r.Emit(flows.Event{
		Type: flows.EventRecorded, Name: w.Action, Data: raw,
		Message: fmt.Sprintf("%s recorded, not delivered", w.Action),
	})
	return flows.Outcome{Exit: ExitNext}
}

var _ flows.Widget = (*Record)(nil)

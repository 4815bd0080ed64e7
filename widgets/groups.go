package widgets

import (
	"strings"

	"github.com/parleyhq/parley/flows"
)

// TypeUpdateGroups adds the contact to groups or removes it from them.
const TypeUpdateGroups = "update_groups"

// UpdateGroups changes the contact's groups (by name, compared without regard
// to case): RemoveAll, then Add, then Remove. Names are templates; one that
// renders empty is skipped.
type UpdateGroups struct {
	flows.WidgetBase
	Add       []string `json:"add,omitempty"`
	Remove    []string `json:"remove,omitempty"`
	RemoveAll bool     `json:"remove_all,omitempty"`

	add, remove []flows.Template
}

func init() { register(TypeUpdateGroups, func() flows.Widget { return &UpdateGroups{} }) }

// Validate compiles the group names.
func (w *UpdateGroups) Validate(c flows.Compiler) error {
	var errs []error
	if len(w.Add) == 0 && len(w.Remove) == 0 && !w.RemoveAll &&
		w.Decoded("add") && w.Decoded("remove") && w.Decoded("remove_all") {
		errs = append(errs, flows.Errorf("add", "update_groups needs groups to add or remove, or remove_all"))
	}
	if w.RemoveAll && len(w.Remove) > 0 {
		errs = append(errs, flows.Errorf("remove", "give either remove or remove_all, not both"))
	}
	var err error
	w.add, err = templates(c, "add", w.Add)
	errs = append(errs, err)
	w.remove, err = templates(c, "remove", w.Remove)
	return joinErrs(append(errs, err))
}

// ExitNames lists the one exit.
func (w *UpdateGroups) ExitNames() []string { return []string{ExitNext} }

// Execute updates the groups and emits variable_set (scope contact, name groups).
func (w *UpdateGroups) Execute(r flows.Run) flows.Outcome {
	c := &r.Session().Contact
	before := strings.Join(c.Groups, ", ")
	// remove_all comes first, so "leave every group and join these" works as
	// RapidPro authors expect (remove from all groups, then add).
	if w.RemoveAll {
		c.Groups = nil
	}
	for _, name := range renderAll(r, w.add) {
		name = strings.TrimSpace(name)
		if name != "" && indexFold(c.Groups, name) < 0 {
			c.Groups = append(c.Groups, name)
		}
	}
	for _, name := range renderAll(r, w.remove) {
		if i := indexFold(c.Groups, strings.TrimSpace(name)); i >= 0 {
			c.Groups = append(c.Groups[:i:i], c.Groups[i+1:]...)
		}
	}
	if after := strings.Join(c.Groups, ", "); after != before {
		r.Emit(flows.Event{Type: flows.EventVariableSet, Scope: flows.ScopeContact, Name: "groups", Value: after})
	}
	return flows.Outcome{Exit: ExitNext}
}

func indexFold(list []string, s string) int {
	for i, x := range list {
		if strings.EqualFold(x, s) {
			return i
		}
	}
	return -1
}

var _ flows.Widget = (*UpdateGroups)(nil)

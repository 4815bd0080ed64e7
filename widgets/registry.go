package widgets

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/parleyhq/parley/flows"
)

// ExitNext is the exit of widgets that simply move on.
const ExitNext = "Next"

var registry = flows.NewRegistry()

// register adds a widget type; a name registered twice panics.
func register(name string, f flows.Factory) { registry.Register(name, f) }

// Registered returns the registry of every widget type in this package. It is
// shared: build a reduced set with Subset rather than changing it.
func Registered() *flows.Registry { return registry }

// templates compiles a list of template strings; field names the JSON list.
func templates(c flows.Compiler, field string, srcs []string) ([]flows.Template, error) {
	out := make([]flows.Template, 0, len(srcs))
	var errs []error
	for i, s := range srcs {
		t, err := c.Template(fmt.Sprintf("%s[%d]", field, i), s)
		if err != nil {
			errs = append(errs, err)
		}
		if t != nil {
			out = append(out, t)
		}
	}
	return out, errors.Join(errs...)
}

// optTemplate compiles an optional template ("" gives nil).
func optTemplate(c flows.Compiler, field, src string) (flows.Template, error) {
	if src == "" {
		return nil, nil
	}
	return c.Template(field, src)
}

func renderAll(r flows.Run, ts []flows.Template) []string {
	if len(ts) == 0 {
		return nil
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = r.Render(t)
	}
	return out
}

// resultName is the name a widget saves its result under: the author's, or the widget id.
func resultName(b *flows.WidgetBase, name string) string {
	if name != "" {
		return name
	}
	return b.ID
}

// optResult is the result an optional result name saves: none when it is "".
func optResult(name string) []string {
	if name == "" {
		return nil
	}
	return []string{name}
}

// checkResult reports a result name that has no letters or digits: its key
// would be empty and the result could never be saved or read with @flow.
// byID is true for widgets that save under their id when no name is given.
func checkResult(b *flows.WidgetBase, name string, byID bool) error {
	switch {
	case name != "" && flows.Key(name) == "":
		return newRule(flows.Errorf("result", "%q has no letters or digits to make a result key", name))
	case name == "" && byID && flows.Key(b.ID) == "":
		return newRule(flows.Errorf("result", "the widget id %q has no letters or digits to make a result key: give the result a name", b.ID))
	}
	return nil
}

// voiceOnly is CheckKind for the widgets that only work on a call (say,
// play, gather_digits, hangup): in a messaging flow what they say, play or
// gather would reach no one (a Twilio SMS reply would be empty), so the flow
// does not validate. instead names the messaging widget to use. kind is ""
// when the flow does not set it, and the message then says that messaging
// is the default.
func voiceOnly(typ, kind, instead string) error {
	if kind == flows.KindVoice {
		return nil
	}
	is := strconv.Quote(kind)
	if kind == "" {
		is = strconv.Quote(flows.KindMessaging) + ` (the default when "kind" is not set)`
	}
	return flows.Errorf("type", "%s is a voice widget, and this flow's kind is %s: over SMS or chat it would do nothing. Set the flow's \"kind\" to \"voice\", or use %s", typ, is, instead)
}

func joinErrs(errs []error) error { return errors.Join(errs...) }

var (
	_ flows.ResultSaver = (*WaitForResponse)(nil)
	_ flows.ResultSaver = (*GatherDigits)(nil)
	_ flows.ResultSaver = (*Split)(nil)
	_ flows.ResultSaver = (*Random)(nil)
	_ flows.ResultSaver = (*Subflow)(nil)
	_ flows.ResultSaver = (*SetVariable)(nil)
	_ flows.ResultSaver = (*Webhook)(nil)
)

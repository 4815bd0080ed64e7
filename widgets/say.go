package widgets

import (
	"strings"

	"github.com/parleyhq/parley/flows"
)

// TypeSay speaks text on a call.
const TypeSay = "say"

// Say speaks a templated text (text-to-speech) on an IVR call.
type Say struct {
	flows.WidgetBase
	Text     string `json:"text"`
	Voice    string `json:"voice,omitempty"`
	Language string `json:"language,omitempty"`

	text flows.Template
}

func init() { register(TypeSay, func() flows.Widget { return &Say{} }) }

// Validate compiles the text and checks the language.
func (w *Say) Validate(c flows.Compiler) error {
	var errs []error
	if w.Text == "" {
		errs = append(errs, flows.Errorf("text", "say needs a text"))
	} else {
		var err error
		w.text, err = c.Template("text", w.Text)
		errs = append(errs, err)
	}
	if err := flows.CheckVoiceLanguage("language", w.Language); err != nil {
		errs = append(errs, err)
	}
	return joinErrs(errs)
}

// CheckKind: say is for voice flows only.
func (w *Say) CheckKind(kind string) error { return voiceOnly(TypeSay, kind, "send_message") }

// ExitNames lists the one exit.
func (w *Say) ExitNames() []string { return []string{ExitNext} }

// Execute emits a say event, unless the text renders blank ("", a variable
// not set): there is nothing to say, as send_message sends no blank text.
func (w *Say) Execute(r flows.Run) flows.Outcome {
	if text := r.Render(w.text); strings.TrimSpace(text) != "" {
		r.Emit(flows.Event{Type: flows.EventSay, Text: text, Voice: w.Voice, Language: w.Language})
	}
	return flows.Outcome{Exit: ExitNext}
}

var (
	_ flows.Widget      = (*Say)(nil)
	_ flows.KindChecker = (*Say)(nil)
)

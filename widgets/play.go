package widgets

import (
	"strings"

	"github.com/parleyhq/parley/flows"
)

// TypePlay plays an audio file on a call.
const TypePlay = "play"

// Play plays audio from a (templated) URL on an IVR call.
type Play struct {
	flows.WidgetBase
	URL string `json:"url"`

	url flows.Template
}

func init() { register(TypePlay, func() flows.Widget { return &Play{} }) }

// Validate compiles the URL.
func (w *Play) Validate(c flows.Compiler) error {
	if w.URL == "" {
		return flows.Errorf("url", "play needs an audio URL")
	}
	var err error
	w.url, err = c.Template("url", w.URL)
	return err
}

// CheckKind: play is for voice flows only.
func (w *Play) CheckKind(kind string) error {
	return voiceOnly(TypePlay, kind, "send_message with attachments")
}

// ExitNames lists the one exit.
func (w *Play) ExitNames() []string { return []string{ExitNext} }

// Execute emits a play event, unless the URL renders blank: there is
// nothing to play.
func (w *Play) Execute(r flows.Run) flows.Outcome {
	if url := r.Render(w.url); strings.TrimSpace(url) != "" {
		r.Emit(flows.Event{Type: flows.EventPlay, URL: url})
	}
	return flows.Outcome{Exit: ExitNext}
}

var (
	_ flows.Widget      = (*Play)(nil)
	_ flows.KindChecker = (*Play)(nil)
)

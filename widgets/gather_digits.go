package widgets

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/rules"
)

// TypeGatherDigits collects keypad digits on a call.
const TypeGatherDigits = "gather_digits"

// Default gather settings.
const (
	DefaultGatherTimeout = 5
	DefaultGatherRetries = 2
)

// GatherDigits says or plays a prompt, waits for digits and routes on them.
// When nothing is pressed in time it re-prompts up to MaxNoInput times, then
// takes "No Input"; when no rule matches it re-prompts up to MaxNoMatch times,
// then takes "No Match". Counters live in the session's wait.
type GatherDigits struct {
	flows.WidgetBase
	Prompt        string       `json:"prompt,omitempty"`
	Play          string       `json:"play,omitempty"`
	NumDigits     int          `json:"num_digits,omitempty"`
	FinishKey     *string      `json:"finish_key,omitempty"`
	Timeout       *int         `json:"timeout,omitempty"`
	Result        string       `json:"result,omitempty"`
	Rules         []rules.Case `json:"rules,omitempty"`
	MaxNoInput    *int         `json:"max_no_input,omitempty"`
	MaxNoMatch    *int         `json:"max_no_match,omitempty"`
	NoInputPrompt string       `json:"no_input_prompt,omitempty"`
	NoMatchPrompt string       `json:"no_match_prompt,omitempty"`
	// Voice and Language speak the prompts, as a say widget's do.
	Voice    string `json:"voice,omitempty"`
	Language string `json:"language,omitempty"`

	router `json:"-"`

	prompt, play, noInput, noMatch flows.Template
}

func init() { register(TypeGatherDigits, func() flows.Widget { return &GatherDigits{} }) }

// Validate compiles prompts and rules.
func (w *GatherDigits) Validate(c flows.Compiler) error {
	var errs []error
	if w.NumDigits < 0 || w.NumDigits > 64 {
		errs = append(errs, flows.Errorf("num_digits", "num_digits must be between 0 and 64"))
	}
	if w.FinishKey != nil && len(*w.FinishKey) > 1 {
		errs = append(errs, flows.Errorf("finish_key", "finish_key is one key (0-9, * or #), or empty for none"))
	} else if w.FinishKey != nil && *w.FinishKey != "" && !strings.Contains("0123456789*#", *w.FinishKey) {
		errs = append(errs, flows.Errorf("finish_key", "finish_key %q is not a phone key", *w.FinishKey))
	}
	errs = append(errs, checkTimeout(w.Timeout, fmt.Sprintf("the default of %d seconds", DefaultGatherTimeout)))
	if err := flows.CheckVoiceLanguage("language", w.Language); err != nil {
		errs = append(errs, err)
	}
	for _, p := range []struct {
		field string
		v     *int
	}{{"max_no_input", w.MaxNoInput}, {"max_no_match", w.MaxNoMatch}} {
		if p.v != nil && *p.v < 0 {
			errs = append(errs, flows.Errorf(p.field, "%s cannot be negative", p.field))
		}
	}
	var err error
	for _, t := range []struct {
		field, src string
		dst        *flows.Template
	}{{"prompt", w.Prompt, &w.prompt}, {"play", w.Play, &w.play}, {"no_input_prompt", w.NoInputPrompt, &w.noInput}, {"no_match_prompt", w.NoMatchPrompt, &w.noMatch}} {
		*t.dst, err = optTemplate(c, t.field, t.src)
		errs = append(errs, err)
	}
	errs = append(errs, w.compile(c, w.Rules, "", w.Exits, flows.ExitNoInput, flows.ExitNoMatch))
	errs = append(errs, checkResult(&w.WidgetBase, w.Result, true))
	return joinErrs(errs)
}

// CheckKind: gather_digits is for voice flows only.
func (w *GatherDigits) CheckKind(kind string) error {
	return voiceOnly(TypeGatherDigits, kind, "wait_for_response")
}

// ResultsSaved: the result, named by the widget id when it has no name.
func (w *GatherDigits) ResultsSaved() []string {
	return []string{resultName(&w.WidgetBase, w.Result)}
}

// ExitNames: the categories (or Next), No Input and No Match.
func (w *GatherDigits) ExitNames() []string {
	exits := []string{ExitNext}
	if w.cats != nil {
		exits = append([]string(nil), w.cats...)
	}
	return appendNew(exits, flows.ExitNoInput, flows.ExitNoMatch)
}

// ExitFields: the rules' categories.
func (w *GatherDigits) ExitFields() []string { return exitFields(w.Rules) }

func (w *GatherDigits) finishKey() string {
	if w.FinishKey == nil {
		return "#"
	}
	return *w.FinishKey
}

func (w *GatherDigits) timeout() int {
	if w.Timeout == nil || *w.Timeout <= 0 { // 0: a stored flow's, read as the default
		return DefaultGatherTimeout
	}
	return min(*w.Timeout, flows.MaxTimeoutSeconds) // a stored flow's longer timeout
}

func limit(v *int) int {
	if v == nil {
		return DefaultGatherRetries
	}
	return *v
}

// Execute prompts and waits.
func (w *GatherDigits) Execute(r flows.Run) flows.Outcome {
	return w.ask(r, &flows.Wait{}, nil)
}

// ask emits the (re-)prompt and the gather, and waits with the given
// counters. A prompt or audio URL that renders blank is left out; the
// prompts are said with the widget's voice and language.
func (w *GatherDigits) ask(r flows.Run, wait *flows.Wait, before flows.Template) flows.Outcome {
	emit := func(typ string, t flows.Template) {
		if t == nil {
			return
		}
		v := r.Render(t)
		switch {
		case strings.TrimSpace(v) == "":
		case typ == flows.EventPlay:
			r.Emit(flows.Event{Type: typ, URL: v})
		default:
			r.Emit(flows.Event{Type: typ, Text: v, Voice: w.Voice, Language: w.Language})
		}
	}
	emit(flows.EventSay, before)
	emit(flows.EventPlay, w.play)
	emit(flows.EventSay, w.prompt)
	r.Emit(flows.Event{Type: flows.EventGather, NumDigits: w.NumDigits, FinishKey: w.finishKey(), Timeout: w.timeout()})
	next := &flows.Wait{Kind: flows.WaitDigits, Timeout: w.timeout(), NumDigits: w.NumDigits, FinishKey: w.finishKey(),
		NoInput: wait.NoInput, NoMatch: wait.NoMatch}
	return flows.Outcome{Wait: next}
}

// Resume handles digits or no input.
func (w *GatherDigits) Resume(r flows.Run, in flows.Input) flows.Outcome {
	wait := r.Session().Wait
	if wait == nil {
		wait = &flows.Wait{}
	}
	digits := strings.TrimSpace(in.Text)
	if fk := w.finishKey(); fk != "" {
		digits, _, _ = strings.Cut(digits, fk)
	}
	// A call stops collecting after num_digits keys; keys pressed after that
	// are not part of the answer. Keys are counted as characters, so digits
	// of other scripts (٣, ۵), several bytes each, are kept whole.
	if w.NumDigits > 0 && utf8.RuneCountInString(digits) > w.NumDigits {
		digits = firstRunes(digits, w.NumDigits)
	}
	if c := r.Session().Call; c != nil {
		c.Digits = digits
	}
	name := resultName(&w.WidgetBase, w.Result)
	if in.Kind == flows.InputTimeout || digits == "" {
		wait.NoInput++
		if wait.NoInput > limit(w.MaxNoInput) {
			// Saved with the No Input category and no value, so an
			// earlier answer does not stay.
			r.SaveResult(name, "", flows.ExitNoInput, "", nil)
			return flows.Outcome{Exit: flows.ExitNoInput}
		}
		return w.ask(r, wait, w.noInput)
	}
	if w.set == nil {
		r.SaveResult(name, digits, "", digits, nil)
		return flows.Outcome{Exit: ExitNext}
	}
	category, value, extra, ok := w.route(r, digits)
	if !ok {
		wait.NoMatch++
		if wait.NoMatch > limit(w.MaxNoMatch) {
			r.SaveResult(name, digits, flows.ExitNoMatch, digits, nil)
			return flows.Outcome{Exit: flows.ExitNoMatch}
		}
		return w.ask(r, wait, w.noMatch)
	}
	r.SaveMatch(name, value, category, digits, extra)
	return flows.Outcome{Exit: category}
}

// firstRunes is s cut after its first n characters.
func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

var (
	_ flows.Resumer     = (*GatherDigits)(nil)
	_ flows.ExitsFrom   = (*GatherDigits)(nil)
	_ flows.KindChecker = (*GatherDigits)(nil)
)

package widgets

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/parleyhq/parley/flows"
)

// TypeRecordVoice records what the caller says on a call.
const TypeRecordVoice = "record_voice"

// ExitRecording is the exit record_voice takes when a recording came.
const ExitRecording = "Recording"

// Defaults and limits of a recording, in seconds.
const (
	DefaultRecordMaxLength = 60
	// MinRecordMaxLength is the shortest maxLength Twilio's <Record>
	// takes ("an integer greater than 1").
	MinRecordMaxLength   = 2
	MaxRecordMaxLength   = 3600
	DefaultRecordTimeout = 5
	MaxRecordTimeout     = 600
	// DefaultRecordFinishKey ends a recording when pressed.
	DefaultRecordFinishKey = "#"
)

// RecordVoice says or plays an optional prompt, then records the caller
// (Twilio's <Record>, Studio's Record Voicemail, RapidPro's "wait for a
// recording"). The recording's URL is saved as the result's value, its
// length in seconds as the result's extra "duration" ("" when it is not
// known, and when nothing was recorded).
// It takes Recording when a recording came, and No Input when nothing was
// recorded (the caller stayed silent, or hung up before speaking: no URL,
// or a length of 0 seconds).
type RecordVoice struct {
	flows.WidgetBase
	Prompt string `json:"prompt,omitempty"`
	Play   string `json:"play,omitempty"`
	// MaxLength is the longest recording, in seconds.
	MaxLength *int `json:"max_length,omitempty"`
	// Timeout is the seconds of silence that end the recording.
	Timeout *int `json:"timeout,omitempty"`
	// FinishKey holds the keys that end the recording (one or more).
	FinishKey *string `json:"finish_key,omitempty"`
	// PlayBeep plays a beep before the recording starts (the default).
	PlayBeep *bool  `json:"play_beep,omitempty"`
	Result   string `json:"result,omitempty"`
	// Categories names the category the result is saved with, by exit
	// (Recording, No Input); each exit's own name by default.
	Categories map[string]string `json:"categories,omitempty"`
	// Voice and Language speak the prompt, as a say widget's do.
	Voice    string `json:"voice,omitempty"`
	Language string `json:"language,omitempty"`

	prompt, play flows.Template
}

func init() { register(TypeRecordVoice, func() flows.Widget { return &RecordVoice{} }) }

// Validate compiles the prompts and checks the recording's settings.
func (w *RecordVoice) Validate(c flows.Compiler) error {
	var errs []error
	switch {
	case w.MaxLength == nil:
	case *w.MaxLength < 1 || *w.MaxLength > MaxRecordMaxLength:
		errs = append(errs, flows.Errorf("max_length", "max_length is %d: the longest recording is %d to %d seconds, or leave it out for %d", *w.MaxLength, MinRecordMaxLength, MaxRecordMaxLength, DefaultRecordMaxLength))
	case *w.MaxLength < MinRecordMaxLength:
		// Taken once: a flow stored with it loads, and records for the
		// shortest length Twilio takes.
		errs = append(errs, &flows.FieldError{Path: "max_length", Err: flows.ErrNewRule,
			Message: fmt.Sprintf("max_length is %d: the longest recording is %d to %d seconds, or leave it out for %d (Twilio's <Record> takes a maxLength greater than 1)", *w.MaxLength, MinRecordMaxLength, MaxRecordMaxLength, DefaultRecordMaxLength)})
	}
	if w.Timeout != nil && (*w.Timeout < 1 || *w.Timeout > MaxRecordTimeout) {
		errs = append(errs, flows.Errorf("timeout", "timeout is %d: the seconds of silence that end the recording are 1 to %d, or leave it out for %d", *w.Timeout, MaxRecordTimeout, DefaultRecordTimeout))
	}
	if w.FinishKey != nil && *w.FinishKey == "" {
		// Taken once: a flow stored with it loads, and ends the
		// recording on the default key.
		errs = append(errs, &flows.FieldError{Path: "finish_key", Err: flows.ErrNewRule,
			Message: fmt.Sprintf("finish_key \"\" names no key: Twilio's <Record> takes one or more of 0-9, * and # (an empty finishOnKey is refused); give the keys that end the recording, or leave it out for %q", DefaultRecordFinishKey)})
	}
	if w.FinishKey != nil {
		for i, k := range *w.FinishKey {
			if !strings.ContainsRune("0123456789*#", k) {
				errs = append(errs, flows.Errorf("finish_key", "finish_key %q: %q is not a phone key (0-9, * or #); give the keys that end the recording, or leave it out for %q", *w.FinishKey, k, DefaultRecordFinishKey))
				break
			}
			if strings.ContainsRune((*w.FinishKey)[:i], k) {
				errs = append(errs, flows.Errorf("finish_key", "finish_key %q names the key %q twice", *w.FinishKey, k))
				break
			}
		}
	}
	if err := flows.CheckVoiceLanguage("language", w.Language); err != nil {
		errs = append(errs, err)
	}
	for _, k := range slices.Sorted(maps.Keys(w.Categories)) {
		at := flows.MemberPath("categories", k)
		switch {
		case k != ExitRecording && k != flows.ExitNoInput:
			errs = append(errs, flows.Errorf(at, "categories names the category of the exits %q and %q, not of %q", ExitRecording, flows.ExitNoInput, k))
		case strings.TrimSpace(w.Categories[k]) == "":
			errs = append(errs, flows.Errorf(at, "empty category name: leave %q out for the category %q", k, k))
		}
	}
	var err error
	w.prompt, err = optTemplate(c, "prompt", w.Prompt)
	errs = append(errs, err)
	w.play, err = optTemplate(c, "play", w.Play)
	errs = append(errs, err)
	errs = append(errs, checkResult(&w.WidgetBase, w.Result, true))
	return joinErrs(errs)
}

// CheckKind: record_voice is for voice flows only; over chat, a voice note
// is an audio attachment, which a wait_for_response routes with has_audio.
func (w *RecordVoice) CheckKind(kind string) error {
	return voiceOnly(TypeRecordVoice, kind, "wait_for_response, whose has_audio rule takes a voice note (an audio attachment)")
}

// ResultsSaved: the result, named by the widget id when it has no name.
func (w *RecordVoice) ResultsSaved() []string {
	return []string{resultName(&w.WidgetBase, w.Result)}
}

// ExitNames: Recording and No Input.
func (w *RecordVoice) ExitNames() []string { return []string{ExitRecording, flows.ExitNoInput} }

// maxLength is the longest recording: a stored flow's value Twilio would
// refuse (1) is held to the shortest it takes.
func (w *RecordVoice) maxLength() int {
	if w.MaxLength == nil || *w.MaxLength < 1 {
		return DefaultRecordMaxLength
	}
	return max(min(*w.MaxLength, MaxRecordMaxLength), MinRecordMaxLength)
}

func (w *RecordVoice) timeout() int {
	if w.Timeout == nil || *w.Timeout < 1 {
		return DefaultRecordTimeout
	}
	return min(*w.Timeout, MaxRecordTimeout)
}

// finishKey is the keys that end the recording: a stored flow's "", which
// Twilio refuses, is the default.
func (w *RecordVoice) finishKey() string {
	if w.FinishKey == nil || *w.FinishKey == "" {
		return DefaultRecordFinishKey
	}
	return *w.FinishKey
}

func (w *RecordVoice) beep() bool { return w.PlayBeep == nil || *w.PlayBeep }

func (w *RecordVoice) category(exit string) string {
	if c := w.Categories[exit]; strings.TrimSpace(c) != "" {
		return c
	}
	return exit
}

// Execute plays and says the prompt, then records. The wait's timeout is
// the longest the recording may take (its length and the silence that ends
// it): the telephony side reports the recording, or that there was none,
// before then.
func (w *RecordVoice) Execute(r flows.Run) flows.Outcome {
	if w.play != nil {
		if v := r.Render(w.play); strings.TrimSpace(v) != "" {
			r.Emit(flows.Event{Type: flows.EventPlay, URL: v})
		}
	}
	if w.prompt != nil {
		if v := r.Render(w.prompt); strings.TrimSpace(v) != "" {
			r.Emit(flows.Event{Type: flows.EventSay, Text: v, Voice: w.Voice, Language: w.Language})
		}
	}
	beep := w.beep()
	r.Emit(flows.Event{Type: flows.EventRecord, MaxLength: w.maxLength(), Timeout: w.timeout(), FinishKey: w.finishKey(), PlayBeep: &beep})
	return flows.Outcome{Wait: &flows.Wait{
		Kind: flows.WaitRecording, Timeout: w.maxLength() + w.timeout(),
		MaxLength: w.maxLength(), Silence: w.timeout(), FinishKey: w.finishKey(), NoBeep: !beep,
	}}
}

// Resume saves the recording and takes Recording, or takes No Input when
// nothing was recorded or the wait timed out. Text or digits are not a
// recording: the widget goes on waiting, with a warning.
func (w *RecordVoice) Resume(r flows.Run, in flows.Input) flows.Outcome {
	name := resultName(&w.WidgetBase, w.Result)
	switch in.Kind {
	case flows.InputRecording, flows.InputTimeout:
	default:
		r.Emit(flows.Event{Type: flows.EventWarning, Message: "this step waits for a recording of the caller: " + string(in.Kind) + " is not one, and is ignored"})
		return flows.Outcome{Wait: r.Session().Wait}
	}
	if !in.Recorded() {
		// Saved with no value, so an earlier recording does not stay; its
		// duration is empty, so a flow reading it gets "" and no warning.
		r.SaveMatch(name, "", w.category(flows.ExitNoInput), "", map[string]string{"duration": ""})
		return flows.Outcome{Exit: flows.ExitNoInput}
	}
	url := strings.TrimSpace(in.Text)
	// The duration is always there, "" when not known.
	r.SaveMatch(name, url, w.category(ExitRecording), url, map[string]string{"duration": in.RecordingDuration()})
	return flows.Outcome{Exit: ExitRecording}
}

var (
	_ flows.Widget      = (*RecordVoice)(nil)
	_ flows.Resumer     = (*RecordVoice)(nil)
	_ flows.KindChecker = (*RecordVoice)(nil)
	_ flows.ResultSaver = (*RecordVoice)(nil)
)

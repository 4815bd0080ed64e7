package widgets

import (
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/parleyhq/parley/flows"
)

// TypeSendMessage sends one or more text messages to the contact.
const TypeSendMessage = "send_message"

// SendMessage sends templated texts, with optional quick replies (on the last
// message) and attachments, and translations picked by the session's language.
type SendMessage struct {
	flows.WidgetBase
	Text         string                         `json:"text,omitempty"`
	Messages     []string                       `json:"messages,omitempty"`
	QuickReplies []string                       `json:"quick_replies,omitempty"`
	Attachments  []string                       `json:"attachments,omitempty"`
	Translations map[string]*MessageTranslation `json:"translations,omitempty"`

	base  compiledMessage
	langs map[string]*compiledMessage
}

// MessageTranslation is a send_message in another language (ISO 639-3 code).
type MessageTranslation struct {
	Text         string   `json:"text,omitempty"`
	Messages     []string `json:"messages,omitempty"`
	QuickReplies []string `json:"quick_replies,omitempty"`
	Attachments  []string `json:"attachments,omitempty"`
}

// compiledMessage holds each field on its own: a translation replaces only
// the fields it gives, the others come from the base message.
type compiledMessage struct {
	text                           flows.Template
	messages, replies, attachments []flows.Template
}

func init() { register(TypeSendMessage, func() flows.Widget { return &SendMessage{} }) }

// compileMessage compiles a message's templates, text first, then messages;
// each problem is reported at its own field (text, messages[1]).
func compileMessage(c flows.Compiler, prefix, text string, msgs, replies, atts []string) (compiledMessage, error) {
	var m compiledMessage
	var errs []error
	var err error
	m.text, err = optTemplate(c, prefix+"text", text)
	errs = append(errs, err)
	m.messages, err = templates(c, prefix+"messages", msgs)
	errs = append(errs, err)
	m.replies, err = templates(c, prefix+"quick_replies", replies)
	errs = append(errs, err)
	m.attachments, err = templates(c, prefix+"attachments", atts)
	errs = append(errs, err)
	return m, errors.Join(errs...)
}

// Validate compiles the texts.
func (w *SendMessage) Validate(c flows.Compiler) error {
	var errs []error
	if w.Text == "" && len(w.Messages) == 0 && len(w.Attachments) == 0 &&
		w.Decoded("text") && w.Decoded("messages") && w.Decoded("attachments") {
		errs = append(errs, flows.Errorf("text", "send_message needs a text, messages or attachments"))
	}
	var err error
	w.base, err = compileMessage(c, "", w.Text, w.Messages, w.QuickReplies, w.Attachments)
	errs = append(errs, err)
	// In language order, so errors come out the same way every time.
	for _, lang := range slices.Sorted(maps.Keys(w.Translations)) {
		at := flows.MemberPath("translations", lang)
		if fe := flows.CheckLanguage(at, "translation key", lang); fe != nil {
			errs = append(errs, fe)
		}
		tr := w.Translations[lang]
		if tr == nil {
			continue
		}
		m, err := compileMessage(c, at+".", tr.Text, tr.Messages, tr.QuickReplies, tr.Attachments)
		errs = append(errs, err)
		if w.langs == nil {
			w.langs = map[string]*compiledMessage{}
		}
		// A stored flow may key a translation "fr" or "FRA": it is found
		// by the code contacts' languages have, unless the flow has a
		// translation under that very code too.
		code := flows.LanguageCode(lang)
		if code == lang || w.Translations[code] == nil {
			w.langs[code] = &m
		}
	}
	return errors.Join(errs...)
}

// ExitNames lists the one exit.
func (w *SendMessage) ExitNames() []string { return []string{ExitNext} }

// Execute emits a message_out event per text. With a translation for the
// session's language, each field the translation leaves out (text, messages,
// quick replies, attachments) is taken from the base message, as RapidPro does.
func (w *SendMessage) Execute(r flows.Run) flows.Outcome {
	m := w.base
	if lang := r.Session().Language; lang != "" {
		// A session stored before languages were read as ISO 639-3 codes
		// may hold "FRA".
		if tr, ok := w.langs[flows.LanguageCode(lang)]; ok {
			if tr.text != nil {
				m.text = tr.text
			}
			if len(tr.messages) > 0 {
				m.messages = tr.messages
			}
			if len(tr.replies) > 0 {
				m.replies = tr.replies
			}
			if len(tr.attachments) > 0 {
				m.attachments = tr.attachments
			}
		}
	}
	// Texts that come out blank ("", a variable not set) are not sent, as
	// blank quick replies are not offered; the replies and attachments go
	// with the last text sent, or alone when every text is blank.
	var texts []string
	for _, t := range append([]flows.Template{m.text}, m.messages...) {
		if t == nil {
			continue
		}
		if s := r.Render(t); strings.TrimSpace(s) != "" {
			texts = append(texts, s)
		}
	}
	replies, atts := renderReplies(r, m.replies), renderAll(r, m.attachments)
	if len(texts) == 0 && (len(atts) > 0 || len(replies) > 0) {
		texts = []string{""}
	}
	for i, text := range texts {
		ev := flows.Event{Type: flows.EventMessageOut, Text: text}
		if i == len(texts)-1 {
			ev.QuickReplies, ev.Attachments = replies, atts
		}
		r.Emit(ev)
	}
	return flows.Outcome{Exit: ExitNext}
}

// renderReplies renders the quick replies and drops those that come out
// blank ("", or a variable that is empty): a blank button cannot be pressed
// meaningfully, and channels refuse or show it as an empty chip.
func renderReplies(r flows.Run, ts []flows.Template) []string {
	var out []string
	for _, t := range ts {
		if s := r.Render(t); strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

var _ flows.Widget = (*SendMessage)(nil)

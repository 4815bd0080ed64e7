package flows

import (
	"fmt"
	"strings"

	"golang.org/x/text/language"
)

// LanguageCode is the code a contact's language is looked up by among a
// flow's translations, which are keyed by ISO 639-3 code: code trimmed and in
// lower case, and the two-letter ISO 639-1 code of a known language as its
// ISO 639-3 code (fr, FR → fra). Anything else is returned lower-cased.
func LanguageCode(code string) string {
	c := strings.ToLower(strings.TrimSpace(code))
	if len(c) == 2 {
		if b, err := language.ParseBase(c); err == nil && isLanguageCode(b.ISO3()) {
			return b.ISO3()
		}
	}
	return c
}

// CheckLanguage reports a language code of a flow (what names it: its
// "language", a "translation key") that is not three lower-case letters,
// the shape of an ISO 639-3 code, which contacts' languages are: one such
// as "fr" or "FRA" would never match a contact's "fra". The error is at
// field, suggests the ISO 639-3 code of a known language (fr, FRA, fr-FR →
// fra) and wraps ErrNewRule, so flows stored before the check still load,
// with a warning. An empty code is no language, and fine.
func CheckLanguage(field, what, code string) *FieldError {
	if code == "" || isLanguageCode(code) {
		return nil
	}
	msg := fmt.Sprintf("%s %q is not an ISO 639-3 code (three lower-case letters, such as \"eng\" or \"fra\")", what, code)
	if s := suggestLanguage(code); s != "" {
		msg = fmt.Sprintf("%s %q is not an ISO 639-3 code (three lower-case letters): did you mean %q?", what, code, s)
	}
	return &FieldError{Path: field, Message: msg, Err: ErrNewRule}
}

// isLanguageCode reports whether code has the shape of an ISO 639-3 code.
func isLanguageCode(code string) bool {
	if len(code) != 3 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < 'a' || code[i] > 'z' {
			return false
		}
	}
	return true
}

// suggestLanguage is the ISO 639-3 code code was likely meant to be: that of
// the language of a known ISO 639-1 code or locale, or code in lower case
// when that has the shape; "" when there is none.
func suggestLanguage(code string) string {
	c := strings.ToLower(strings.TrimSpace(code))
	if t, err := language.Parse(c); err == nil {
		if b, conf := t.Base(); conf != language.No && isLanguageCode(b.ISO3()) {
			return b.ISO3()
		}
	}
	if isLanguageCode(c) {
		return c
	}
	return ""
}

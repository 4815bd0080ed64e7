package sim

import "github.com/parleyhq/parley/flows"

// CheckContactLanguage refuses a test contact's language that no flow
// translation could match: one that is not an ISO 639-3 code once read as
// a contact's language is (flows.LanguageCode: FR, fr → fra), such as
// "French" or "fr-FR", which a live contact's would match nothing with
// either. A simulation says so rather than run the base language unasked;
// the web simulator and parley simulate give the same message. Empty (or
// only white space) is no language, and fine. The error is at field.
func CheckContactLanguage(field, lang string) *flows.FieldError {
	return CheckLanguageCode(field, "contact language", lang)
}

// CheckLanguageCode is CheckContactLanguage for a language given elsewhere
// (what names it in the message): a RapidPro import's --lang is checked so.
func CheckLanguageCode(field, what, lang string) *flows.FieldError {
	if flows.CheckLanguage("", "", flows.LanguageCode(lang)) == nil {
		return nil
	}
	return flows.CheckLanguage(field, what, lang)
}

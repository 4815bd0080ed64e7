package flows

import (
	"fmt"
	"strings"

	"golang.org/x/text/language"
)

// LanguageCode is the code a contact's language is looked up by among a
// flow's translations, which are keyed by ISO 639-3 code: code trimmed and in
// lower case, the two-letter ISO 639-1 code of a known language as its
// ISO 639-3 code (fr, FR → fra), and an ISO 639-2/B (bibliographic) code,
// which RapidPro's early exports and some channels give, as the ISO 639-3
// code of its language (fre → fra, ger → deu). Anything else is returned
// lower-cased.
func LanguageCode(code string) string {
	c := strings.ToLower(strings.TrimSpace(code))
	switch len(c) {
	case 2:
		if b, err := language.ParseBase(c); err == nil && isLanguageCode(b.ISO3()) {
			return b.ISO3()
		}
	case 3:
		if t, ok := bibliographicCodes[c]; ok {
			return t
		}
	}
	return c
}

// bibliographicCodes maps the twenty ISO 639-2/B codes that differ from
// their language's ISO 639-2/T code, which ISO 639-3 (and BCP 47) use, to
// that code. None of them is an ISO 639-3 code of another language.
var bibliographicCodes = map[string]string{
	"alb": "sqi", "arm": "hye", "baq": "eus", "bur": "mya", "chi": "zho",
	"cze": "ces", "dut": "nld", "fre": "fra", "geo": "kat", "ger": "deu",
	"gre": "ell", "ice": "isl", "mac": "mkd", "mao": "mri", "may": "msa",
	"per": "fas", "rum": "ron", "slo": "slk", "tib": "bod", "wel": "cym",
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

// VoiceLanguage reads the language a say or gather_digits widget's text is
// said in: an ISO 639-3 code in lower case (fra, and FRA as fra), the
// two-letter ISO 639-1 code of a known language or an ISO 639-2/B code as
// its ISO 639-3 code, as a contact's language is read (fr, fre → fra), or a
// locale, a language of two or
// three letters and a region of two letters or three digits (UN M.49),
// joined by "-" or "_", as "lang-REGION" (fr-CA, pt_BR → pt-BR, es-419). ok
// is false for anything else; "" is no language, and ok.
func VoiceLanguage(lang string) (code string, ok bool) {
	if lang == "" {
		return "", true
	}
	base, region, hasRegion := strings.Cut(lang, "-")
	if !hasRegion {
		base, region, hasRegion = strings.Cut(lang, "_")
	}
	if !asciiLetters(base) || len(base) < 2 || len(base) > 3 {
		return "", false
	}
	base = strings.ToLower(base)
	if !hasRegion {
		code := LanguageCode(base)
		return code, len(code) == 3
	}
	switch {
	case len(region) == 2 && asciiLetters(region):
		region = strings.ToUpper(region)
	case len(region) == 3 && strings.Trim(region, "0123456789") == "":
	default:
		return "", false
	}
	return base + "-" + region, true
}

// CheckVoiceLanguage reports a say or gather_digits widget's language that
// VoiceLanguage does not read, at field, with the code it likely means; it
// wraps ErrNewRule, so a flow stored before the check loads, the language
// left out on Twilio as it was.
func CheckVoiceLanguage(field, lang string) *FieldError {
	if _, ok := VoiceLanguage(lang); ok {
		return nil
	}
	msg := fmt.Sprintf("language %q is not a language code (an ISO 639-3 code such as \"fra\", a two-letter code such as \"fr\", or a locale such as \"fr-CA\")", lang)
	if s := suggestLocale(lang); s != "" {
		msg += fmt.Sprintf(": did you mean %q?", s)
	}
	return &FieldError{Path: field, Message: msg, Err: ErrNewRule}
}

func asciiLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// suggestLocale is the code or locale lang was likely meant to be: the
// locale of a language tag with a region (zh-Hans-CN → zh-CN), else
// suggestLanguage's code.
func suggestLocale(lang string) string {
	if t, err := language.Parse(strings.TrimSpace(lang)); err == nil {
		b, bconf := t.Base()
		r, rconf := t.Region()
		if bconf == language.Exact && rconf == language.Exact {
			if code, ok := VoiceLanguage(b.String() + "-" + r.String()); ok {
				return code
			}
		}
	}
	return suggestLanguage(lang)
}

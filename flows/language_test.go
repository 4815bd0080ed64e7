package flows_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// TestLanguageCodes: a flow's language and its translation keys are ISO
// 639-3 codes, as contacts' languages are; another spelling is an error at
// its path, with the code it likely meant.
func TestLanguageCodes(t *testing.T) {
	tests := []struct{ name, language, key, want string }{
		{"two-letter language", "fr", "fra", `language: language "fr" is not an ISO 639-3 code (three lower-case letters): did you mean "fra"?`},
		{"upper-case language", "FRA", "fra", `language: language "FRA" is not an ISO 639-3 code (three lower-case letters): did you mean "fra"?`},
		{"a locale", "pt-BR", "por", `language: language "pt-BR" is not an ISO 639-3 code (three lower-case letters): did you mean "por"?`},
		{"a language name", "english", "fra", `language: language "english" is not an ISO 639-3 code (three lower-case letters, such as "eng" or "fra")`},
		{"two-letter key", "eng", "fr", `widget "m": widgets[0].translations.fr: translation key "fr" is not an ISO 639-3 code (three lower-case letters): did you mean "fra"?`},
		{"upper-case key", "eng", "FRA", `widget "m": widgets[0].translations.FRA: translation key "FRA" is not an ISO 639-3 code (three lower-case letters): did you mean "fra"?`},
		{"unknown upper-case key", "eng", "XYZ", `widget "m": widgets[0].translations.XYZ: translation key "XYZ" is not an ISO 639-3 code (three lower-case letters): did you mean "xyz"?`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := `{"id": "f", "language": "` + tc.language + `", "widgets": [{"id": "m", "type": "send_message", "text": "Hello",
			  "translations": {"` + tc.key + `": {"text": "Bonjour"}}}]}`
			_, err := load(src)
			errs := validationErrors(t, err)
			if len(errs) != 1 || errs[0].Error() != tc.want {
				t.Fatalf("errors %v, want the one %q", err, tc.want)
			}
			if !errors.Is(errs[0], flows.ErrNewRule) {
				t.Errorf("%q does not wrap ErrNewRule", errs[0])
			}
		})
	}
	if _, err := load(`{"id": "f", "language": "fra", "widgets": [{"id": "m", "type": "send_message", "text": "Bonjour", "translations": {"eng": {"text": "Hello"}}}]}`); err != nil {
		t.Errorf("ISO 639-3 codes: %v", err)
	}
}

// TestStoredTranslationKeys: a flow stored with a translation keyed "fr" or
// "FRA" still loads, with a warning, and a French contact gets it.
func TestStoredTranslationKeys(t *testing.T) {
	eng := engine.New(widgets.Registered())
	for _, key := range []string{"fr", "FRA"} {
		t.Run(key, func(t *testing.T) {
			f, err := eng.LoadStored([]byte(`{"id": "f", "language": "en", "widgets": [{"id": "m", "type": "send_message", "text": "Hello",
			  "translations": {"` + key + `": {"text": "Bonjour"}}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Warnings) != 2 || !strings.Contains(f.Warnings[0].Error(), `language "en"`) || !strings.Contains(f.Warnings[1].Error(), `translation key "`+key+`"`) {
				t.Errorf("warnings %v, want the language's and the key's", f.Warnings)
			}
			for _, lang := range []string{"fra", "fr", "FRA"} {
				_, evs, err := eng.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{Language: lang}})
				if err != nil {
					t.Fatal(err)
				}
				if got := sent(evs); got != "Bonjour" {
					t.Errorf("contact language %q got %q, want Bonjour", lang, got)
				}
			}
		})
	}
}

// TestContactLanguageIsReadAsISO6393: a contact's "FR", "fr" or " fra " is
// the language "fra": the flow's French translation, and @contact.language.
func TestContactLanguageIsReadAsISO6393(t *testing.T) {
	eng := engine.New(widgets.Registered())
	f, err := load(`{"id": "f", "language": "eng", "widgets": [
	  {"id": "m", "type": "send_message", "text": "Hello @contact.language", "translations": {"fra": {"text": "Bonjour @contact.language"}}, "exits": {"Next": "set"}},
	  {"id": "set", "type": "set_variable", "scope": "contact", "name": "language", "value": "ES", "exits": {"Next": "again"}},
	  {"id": "again", "type": "send_message", "text": "Hello @contact.language", "translations": {"spa": {"text": "Hola @contact.language"}}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"FR", "fr", " fra ", "Fra"} {
		s, evs, err := eng.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{Language: lang}})
		if err != nil {
			t.Fatal(err)
		}
		if got := sent(evs); got != "Bonjour fra\nHola spa" {
			t.Errorf("contact language %q: sent %q", lang, got)
		}
		if s.Contact.Language != "spa" {
			t.Errorf("contact language %q ends as %q, want spa", lang, s.Contact.Language)
		}
	}
	// A value that is no code is kept, in lower case, and matches no translation.
	_, evs, err := eng.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{Language: "French"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := sent(evs); got != "Hello french\nHola spa" {
		t.Errorf("contact language French: sent %q", got)
	}
}

func sent(evs []flows.Event) string {
	var out []string
	for _, ev := range evs {
		if ev.Type == flows.EventMessageOut {
			out = append(out, ev.Text)
		}
	}
	return strings.Join(out, "\n")
}

// TestLanguageCodeBibliographic: the ISO 639-2/B codes that differ from
// their language's ISO 639-3 code are read as that code, in any case and
// with white space around; ISO 639-3 codes, two-letter codes and unknown
// codes are read as before.
func TestLanguageCodeBibliographic(t *testing.T) {
	for in, want := range map[string]string{
		"fre": "fra", "FRE": "fra", " ger ": "deu", "chi": "zho", "dut": "nld", "cze": "ces", "gre": "ell", "per": "fas",
		"alb": "sqi", "arm": "hye", "baq": "eus", "bur": "mya", "geo": "kat", "ice": "isl", "mac": "mkd",
		"mao": "mri", "may": "msa", "rum": "ron", "slo": "slk", "tib": "bod", "wel": "cym",
		"fra": "fra", "deu": "deu", "eng": "eng", "fr": "fra", "xyz": "xyz", "": "",
	} {
		if got := flows.LanguageCode(in); got != want {
			t.Errorf("LanguageCode(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"fre": "fra", "GER": "deu", "fra": "fra", "fr": "fra", "fr-CA": "fr-CA"} {
		if got, ok := flows.VoiceLanguage(in); !ok || got != want {
			t.Errorf("VoiceLanguage(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

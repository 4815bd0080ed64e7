package server

import (
	"context"
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// A contact language given to POST /v1/sessions as "FR" or "fr" is the
// contact's "fra": the flow's French translation is sent, and the stored
// contact's next session is French too.
func TestSessionContactLanguageIsISO6393(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(`{"id": "hello", "language": "eng", "widgets": [{"id": "m", "type": "send_message",
	  "text": "Hello (@contact.language)", "translations": {"fra": {"text": "Bonjour (@contact.language)"}}}]}`)
	for i, lang := range []string{"FR", "fr"} {
		urn := "tel:+1555000100" + string(rune('0'+i))
		r := ts.must(201, "POST", "/v1/sessions", `{"flow": "hello", "contact": {"urn": "`+urn+`", "language": "`+lang+`"}}`)
		if got := strings.Join(texts(r), "|"); got != "Bonjour (fra)" {
			t.Errorf("contact language %q: sent %q", lang, got)
		}
		// The next session of the contact, with no language given, takes the stored one.
		r = ts.must(201, "POST", "/v1/sessions", `{"flow": "hello", "contact": {"urn": "`+urn+`"}}`)
		if got := strings.Join(texts(r), "|"); got != "Bonjour (fra)" {
			t.Errorf("the contact's next session (%q): sent %q", lang, got)
		}
	}
	// A flow keyed "fr" is refused, naming where and what it meant.
	r := ts.do("POST", "/v1/flows", `{"id": "bad", "language": "eng", "widgets": [{"id": "m", "type": "send_message", "text": "Hello", "translations": {"fr": {"text": "Bonjour"}}}]}`)
	if r.Status != 422 || !strings.Contains(string(r.Body), `translation key \"fr\" is not an ISO 639-3 code (three lower-case letters): did you mean \"fra\"?`) ||
		!strings.Contains(string(r.Body), "widgets[0].translations.fr") {
		t.Errorf("a flow with a translation keyed fr: %d %s", r.Status, r.Body)
	}
}

// A contact language of only white space is no language: the stored one is
// kept, as when none is given.
func TestSessionBlankContactLanguageKeepsStored(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(`{"id": "hello", "language": "eng", "widgets": [{"id": "m", "type": "send_message",
	  "text": "Hello (@contact.language)", "translations": {"fra": {"text": "Bonjour (@contact.language)"}}}]}`)
	urn := "tel:+15550001111"
	ts.must(201, "POST", "/v1/sessions", `{"flow": "hello", "contact": {"urn": "`+urn+`", "language": "fra"}}`)
	r := ts.must(201, "POST", "/v1/sessions", `{"flow": "hello", "contact": {"urn": "`+urn+`", "language": "  "}}`)
	if got := strings.Join(texts(r), "|"); got != "Bonjour (fra)" {
		t.Errorf("a blank language: sent %q", got)
	}
	r = ts.must(201, "POST", "/v1/sessions", `{"flow": "hello", "contact": {"urn": "`+urn+`"}}`)
	if got := strings.Join(texts(r), "|"); got != "Bonjour (fra)" {
		t.Errorf("the next session after a blank language: sent %q", got)
	}
}

// A contact name is trimmed of white space, and one of only white space is
// no name: the stored one is kept, as when none is given, through the API
// and the simulator alike.
func TestSessionBlankContactNameKeepsStored(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(`{"id": "hello", "widgets": [{"id": "m", "type": "send_message", "text": "Hello [@contact.name]"}]}`)
	for _, path := range []string{"/v1/sessions", "/v1/simulator/sessions"} {
		urn := "tel:+15550002222"
		for _, c := range []struct{ name, want string }{
			{"", "Hello []"},
			{"   ", "Hello []"},
			{" Ada\t", "Hello [Ada]"},
			{"   ", "Hello [Ada]"},
			{"\n", "Hello [Ada]"},
			{"", "Hello [Ada]"},
			{"Bea", "Hello [Bea]"},
		} {
			r := ts.must(201, "POST", path, map[string]any{"flow": "hello", "contact": map[string]any{"urn": urn, "name": c.name}})
			if got := strings.Join(texts(r), "|"); got != c.want {
				t.Errorf("%s with name %q: sent %q, want %q", path, c.name, got, c.want)
			}
		}
		key := urn
		if path == "/v1/simulator/sessions" {
			key = flows.SandboxContactPrefix + urn
		}
		if stored, err := ts.srv.store.Contact(context.Background(), key); err != nil || stored.Name != "Bea" {
			t.Errorf("%s: stored contact %+v (err %v), want the name Bea", path, stored, err)
		}
	}
}

// A contact language given as an ISO 639-2/B (bibliographic) code, as
// RapidPro's early exports and some channels write it, is the contact's
// ISO 639-3 language: "fre" gets the flow's "fra" translation, "GER" its
// "deu" one, and a flow keyed by such a code reaches contacts of the
// ISO 639-3 code; a flow that sets the contact's language to one does the
// same. Through the API and the simulator alike.
func TestSessionContactLanguageBibliographic(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(`{"id": "hello", "language": "eng", "widgets": [{"id": "m", "type": "send_message",
	  "text": "Hello (@contact.language)", "translations": {"fra": {"text": "Bonjour (@contact.language)"}, "deu": {"text": "Hallo (@contact.language)"}}}]}`)
	ts.createFlow(`{"id": "old", "language": "eng", "widgets": [{"id": "m", "type": "send_message",
	  "text": "Hello", "translations": {"fre": {"text": "Bonjour"}}}]}`)
	ts.createFlow(`{"id": "switch", "language": "eng", "widgets": [
	  {"id": "set", "type": "set_variable", "scope": "contact", "name": "language", "value": "ger", "exits": {"Next": "m"}},
	  {"id": "m", "type": "send_message", "text": "Hello (@contact.language)", "translations": {"deu": {"text": "Hallo (@contact.language)"}}}]}`)
	for i, c := range []struct{ path, flow, lang, want string }{
		{"/v1/sessions", "hello", "fre", "Bonjour (fra)"},
		{"/v1/sessions", "hello", " GER ", "Hallo (deu)"},
		{"/v1/sessions", "old", "fra", "Bonjour"},
		{"/v1/sessions", "old", "fre", "Bonjour"},
		{"/v1/sessions", "switch", "", "Hallo (deu)"},
		{"/v1/simulator/sessions", "hello", "fre", "Bonjour (fra)"},
		{"/v1/simulator/sessions", "hello", "ger", "Hallo (deu)"},
	} {
		urn := "tel:+1555000200" + string(rune('0'+i))
		contact := map[string]any{"urn": urn}
		if c.lang != "" {
			contact["language"] = c.lang
		}
		r := ts.must(201, "POST", c.path, map[string]any{"flow": c.flow, "contact": contact})
		if got := strings.Join(texts(r), "|"); got != c.want {
			t.Errorf("%s, flow %s, contact language %q: sent %q, want %q", c.path, c.flow, c.lang, got, c.want)
		}
	}
}

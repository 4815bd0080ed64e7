package widgets_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// sentMessages runs a one-widget flow for a contact in lang and returns its
// messages as "text | reply, reply | attachment, attachment", one per message.
func sentMessages(t *testing.T, widget, lang string) []string {
	t.Helper()
	e := engine.New(widgets.Registered())
	f, err := e.Load([]byte(`{"name": "m", "language": "eng", "widgets": [{"id": "m", "type": "send_message", ` + widget + `}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, evs, err := e.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{Language: lang}})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.Type == flows.EventMessageOut {
			out = append(out, ev.Text+" | "+strings.Join(ev.QuickReplies, ", ")+" | "+strings.Join(ev.Attachments, ", "))
		}
	}
	return out
}

func TestSendMessageTranslationFallsBackFieldByField(t *testing.T) {
	base := `"text": "Pick one", "messages": ["More"], "quick_replies": ["Yes", "No"], "attachments": ["image/png:https://x.test/en.png"]`
	tests := []struct {
		name, translation string
		want              []string
	}{
		{"only quick replies", `{"quick_replies": ["Oui", "Non"]}`,
			[]string{"Pick one |  | ", "More | Oui, Non | image/png:https://x.test/en.png"}},
		{"only text", `{"text": "Choisis"}`,
			[]string{"Choisis |  | ", "More | Yes, No | image/png:https://x.test/en.png"}},
		{"only messages", `{"messages": ["Encore"]}`,
			[]string{"Pick one |  | ", "Encore | Yes, No | image/png:https://x.test/en.png"}},
		{"only attachments", `{"attachments": ["image/png:https://x.test/fr.png"]}`,
			[]string{"Pick one |  | ", "More | Yes, No | image/png:https://x.test/fr.png"}},
		{"every field", `{"text": "Choisis", "messages": ["Encore"], "quick_replies": ["Oui"], "attachments": ["image/png:https://x.test/fr.png"]}`,
			[]string{"Choisis |  | ", "Encore | Oui | image/png:https://x.test/fr.png"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := sentMessages(t, base+`, "translations": {"fra": `+tc.translation+`}`, "fra")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("sent\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	// The case as authors write it: text, replies and attachments, the replies translated.
	got := sentMessages(t, `"text": "Pick one", "quick_replies": ["Yes", "No"], "attachments": ["image/png:https://x.test/en.png"],
		"translations": {"fra": {"quick_replies": ["Oui", "Non"]}}`, "fra")
	if want := "Pick one | Oui, Non | image/png:https://x.test/en.png"; strings.Join(got, "\n") != want {
		t.Errorf("sent %q, want %q", got, want)
	}
}

// TestSendMessageSkipsBlankTexts: a text that is or renders blank sends no
// empty message; replies and attachments go with the last text sent.
func TestSendMessageSkipsBlankTexts(t *testing.T) {
	tests := []struct {
		name, widget string
		want         []string
	}{
		{"blank messages", `"messages": ["", "@flow.none", "x"]`, []string{"x |  | "}},
		{"blank last message keeps its replies", `"messages": ["x", " ", "@flow.none"], "quick_replies": ["Yes"]`, []string{"x | Yes | "}},
		{"blank text, attachment", `"text": "@flow.none", "attachments": ["image/png:https://x.test/a.png"]`, []string{" |  | image/png:https://x.test/a.png"}},
		{"nothing but blanks", `"messages": ["@flow.none", ""]`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := sentMessages(t, tc.widget, "")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("sent %q, want %q", got, tc.want)
			}
		})
	}
}

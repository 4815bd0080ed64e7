package rapidpro

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/flows"
)

// The legacy export format (RapidPro flow versions 7 to 11.12). Fields whose
// type changed between versions are kept raw and read leniently.

type legacyExport struct {
	Version json.RawMessage   `json:"version"`
	Flows   []json.RawMessage `json:"flows"`
}

type legacyFlow struct {
	Version      json.RawMessage `json:"version"`
	BaseLanguage string          `json:"base_language"`
	FlowType     string          `json:"flow_type"`
	Entry        string          `json:"entry"`
	ActionSets   []actionSet     `json:"action_sets"`
	RuleSets     []ruleSet       `json:"rule_sets"`
	Metadata     struct {
		UUID    string `json:"uuid"`
		Name    string `json:"name"`
		Expires int    `json:"expires"`
		Notes   []struct {
			Title string `json:"title"`
			Body  string `json:"body"`
		} `json:"notes"`
	} `json:"metadata"`
}

type actionSet struct {
	UUID        string   `json:"uuid"`
	X           coord    `json:"x"`
	Y           coord    `json:"y"`
	Destination string   `json:"destination"`
	Actions     []action `json:"actions"`
}

type action struct {
	Type         string            `json:"type"`
	UUID         string            `json:"uuid"`
	Msg          json.RawMessage   `json:"msg"`
	Media        json.RawMessage   `json:"media"`
	QuickReplies json.RawMessage   `json:"quick_replies"`
	SendAll      bool              `json:"send_all"`
	Recording    json.RawMessage   `json:"recording"`
	URL          string            `json:"url"`
	Field        string            `json:"field"`
	Label        string            `json:"label"`
	Value        string            `json:"value"`
	Lang         string            `json:"lang"`
	Name         string            `json:"name"`
	Channel      string            `json:"channel"`
	Groups       []json.RawMessage `json:"groups"`
	Contacts     []json.RawMessage `json:"contacts"`
	Variables    []struct {
		ID string `json:"id"`
	} `json:"variables"`
	Labels         []json.RawMessage           `json:"labels"`
	Flow           struct{ UUID, Name string } `json:"flow"`
	Emails         []string                    `json:"emails"`
	Subject        string                      `json:"subject"`
	Action         string                      `json:"action"`
	Webhook        string                      `json:"webhook"`
	WebhookHeaders []webhookHeader             `json:"webhook_headers"`
}

type webhookHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type ruleSet struct {
	UUID          string          `json:"uuid"`
	X             coord           `json:"x"`
	Y             coord           `json:"y"`
	Label         string          `json:"label"`
	Type          string          `json:"ruleset_type"`
	Operand       string          `json:"operand"`
	FinishedKey   string          `json:"finished_key"`
	Rules         []rule          `json:"rules"`
	Config        json.RawMessage `json:"config"`
	Webhook       string          `json:"webhook"`
	WebhookAction string          `json:"webhook_action"`
}

type rulesetConfig struct {
	Flow *struct {
		UUID string `json:"uuid"`
		Name string `json:"name"`
	} `json:"flow"`
	Webhook        string          `json:"webhook"`
	WebhookAction  string          `json:"webhook_action"`
	WebhookHeaders []webhookHeader `json:"webhook_headers"`
	Resthook       string          `json:"resthook"`
	FieldIndex     int             `json:"field_index"`
	FieldDelimiter string          `json:"field_delimiter"`
}

type rule struct {
	UUID        string          `json:"uuid"`
	Category    json.RawMessage `json:"category"`
	Destination string          `json:"destination"`
	Test        json.RawMessage `json:"test"`
}

type ruleTest struct {
	Type     string          `json:"type"`
	Test     json.RawMessage `json:"test"`
	Min      json.RawMessage `json:"min"`
	Max      json.RawMessage `json:"max"`
	Minutes  int             `json:"minutes"`
	Status   string          `json:"status"`
	ExitType string          `json:"exit_type"`
	// Tests are the tests of an "or" (or "and") test.
	Tests []json.RawMessage `json:"tests"`
}

// translations is a text in several languages: {"base": "...", "fre": "..."}.
// A plain string is read as the text in every language (older exports).
type translations map[string]string

func readTranslations(raw json.RawMessage) (translations, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return translations{"": s}, true
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, false
	}
	t := translations{}
	for k, v := range m {
		var str string
		if json.Unmarshal(v, &str) == nil {
			t[k] = str
			continue
		}
		var n json.Number
		if json.Unmarshal(v, &n) == nil {
			t[k] = n.String()
		}
	}
	return t, true
}

// langs returns the languages present, sorted.
func (t translations) langs() []string {
	out := make([]string, 0, len(t))
	for k := range t {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// scalarText reads a JSON string or number as text.
func scalarText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// versionOf reads a flow or export version: 7, "8", "11.12".
func versionOf(raw json.RawMessage) (major, minor int, text string, ok bool) {
	text, ok = scalarText(raw)
	if !ok {
		return 0, 0, "", false
	}
	parts := strings.SplitN(text, ".", 3)
	var err error
	if major, err = strconv.Atoi(parts[0]); err != nil {
		return 0, 0, text, false
	}
	if len(parts) > 1 {
		if minor, err = strconv.Atoi(parts[1]); err != nil {
			return 0, 0, text, false
		}
	}
	return major, minor, text, true
}

// groupName reads a group reference: {"uuid","name"} or a name (maybe a template).
func groupName(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, s != ""
	}
	var g struct {
		UUID string `json:"uuid"`
		Name string `json:"name"`
	}
	if json.Unmarshal(raw, &g) == nil && g.Name != "" {
		return g.Name, true
	}
	return "", false
}

// normLang returns the ISO 639-3 code of a language code as flows.LanguageCode
// reads it: an ISO 639-2/B code that RapidPro's early exports used (fre) or a
// two-letter ISO 639-1 one (fr) as fra, the code ISO 639-3 (and RapidPro
// since version 11.1) use; "base" and "" stay as they are: no language.
func normLang(code string) string {
	return flows.LanguageCode(code)
}

package widgets_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/rules"
	"github.com/parleyhq/parley/widgets"
)

const schemaPath = "../docs/flow.schema.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	abs, err := filepath.Abs(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(abs)
	if err != nil {
		t.Fatalf("%s does not compile: %v", schemaPath, err)
	}
	return s
}

func readJSON(t *testing.T, path string) any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// TestSchemaAcceptsFlows validates every example flow and every golden flow
// against docs/flow.schema.json.
func TestSchemaAcceptsFlows(t *testing.T) {
	s := compileSchema(t)
	examples, _ := filepath.Glob("../examples/*/flow.json")
	if len(examples) == 0 {
		t.Fatal("no example flows")
	}
	for _, p := range examples {
		if err := s.Validate(readJSON(t, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	goldens, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	n := 0
	for _, p := range goldens {
		for _, c := range readGolden(t, p) {
			for i, src := range append([]json.RawMessage{c.Flow}, c.Flows...) {
				v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(src)))
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Validate(v); err != nil {
					t.Errorf("%s: case %q flow %d: %v", p, c.Name, i, err)
				}
				n++
			}
		}
	}
	if n < 50 {
		t.Errorf("validated only %d golden flows", n)
	}
}

// TestSchemaRejects: the schema is not vacuous; it refuses what the loader refuses.
func TestSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	tests := map[string]string{
		"unknown top-level field":    `{"name": "f", "colour": 1, "widgets": [{"id": "a", "type": "end"}]}`,
		"unknown widget type":        `{"name": "f", "widgets": [{"id": "a", "type": "teleport"}]}`,
		"field name in another case": `{"name": "f", "widgets": [{"id": "a", "type": "send_message", "Text": "x"}]}`,
		"unknown widget field":       `{"name": "f", "widgets": [{"id": "a", "type": "send_message", "text": "x", "txt": "y"}]}`,
		"field of another type":      `{"name": "f", "widgets": [{"id": "a", "type": "end", "text": "x"}]}`,
		"no widgets":                 `{"name": "f", "widgets": []}`,
		"no name or id":              `{"widgets": [{"id": "a", "type": "end"}]}`,
		"rule without category":      `{"name": "f", "widgets": [{"id": "a", "type": "split", "rules": [{"type": "has_text"}]}]}`,
		"unknown rule type":          `{"name": "f", "widgets": [{"id": "a", "type": "split", "rules": [{"type": "has_magic", "category": "X"}]}]}`,
		"too many rule arguments":    `{"name": "f", "widgets": [{"id": "a", "type": "split", "rules": [{"type": "has_number_lt", "args": ["1", "2"], "category": "X"}]}]}`,
		"missing rule argument":      `{"name": "f", "widgets": [{"id": "a", "type": "split", "rules": [{"type": "has_phrase", "category": "X"}]}]}`,
		"exit to a number":           `{"name": "f", "widgets": [{"id": "a", "type": "send_message", "text": "x", "exits": {"Next": 3}}]}`,
		"send_message empty":         `{"name": "f", "widgets": [{"id": "a", "type": "send_message"}]}`,
		"webhook without url":        `{"name": "f", "widgets": [{"id": "a", "type": "webhook", "method": "GET"}]}`,
		"webhook bad method":         `{"name": "f", "widgets": [{"id": "a", "type": "webhook", "url": "http://x", "method": "FETCH"}]}`,
		"wait category Timeout":      `{"name": "f", "widgets": [{"id": "a", "type": "wait_for_response", "timeout": 5, "rules": [{"type": "has_text", "category": "Timeout"}]}]}`,
		"split category Other":       `{"name": "f", "widgets": [{"id": "a", "type": "split", "rules": [{"type": "has_text", "category": "Other"}]}]}`,
		"gather category No Match":   `{"name": "f", "kind": "voice", "widgets": [{"id": "a", "type": "gather_digits", "rules": [{"type": "has_text", "category": "No Match"}]}]}`,
		"value and expression":       `{"name": "f", "widgets": [{"id": "a", "type": "set_variable", "name": "n", "value": "1", "expression": "1"}]}`,
		"contact name not settable":  `{"name": "f", "widgets": [{"id": "a", "type": "set_variable", "scope": "contact", "name": "age", "value": "1"}]}`,
		"call name not settable":     `{"name": "f", "widgets": [{"id": "a", "type": "set_variable", "scope": "call", "name": "foo", "value": "1"}]}`,
		"bad finish key":             `{"name": "f", "kind": "voice", "widgets": [{"id": "a", "type": "gather_digits", "finish_key": "##"}]}`,
		"one random bucket":          `{"name": "f", "widgets": [{"id": "a", "type": "random", "buckets": ["A"]}]}`,
		"wrong version":              `{"name": "f", "version": "2.0", "widgets": [{"id": "a", "type": "end"}]}`,
		"record without action":      `{"name": "f", "widgets": [{"id": "a", "type": "record"}]}`,
		"voice widget, no kind":      `{"name": "f", "widgets": [{"id": "a", "type": "say", "text": "hi"}]}`,
		"voice widget, messaging":    `{"name": "f", "kind": "messaging", "widgets": [{"id": "a", "type": "say", "text": "hi"}]}`,
		"voice wait without timeout": `{"name": "f", "kind": "voice", "widgets": [{"id": "a", "type": "wait_for_response"}]}`,
		"voice wait timeout 0":       `{"name": "f", "kind": "voice", "widgets": [{"id": "a", "type": "wait_for_response", "timeout": 0}]}`,
		"wait timeout 0":             `{"name": "f", "widgets": [{"id": "a", "type": "wait_for_response", "timeout": 0}]}`,
		"record_voice in messaging":  `{"name": "f", "widgets": [{"id": "a", "type": "record_voice"}]}`,
		"record_voice bad key":       `{"name": "f", "kind": "voice", "widgets": [{"id": "a", "type": "record_voice", "finish_key": "#x"}]}`,
		"record_voice max_length 0":  `{"name": "f", "kind": "voice", "widgets": [{"id": "a", "type": "record_voice", "max_length": 0}]}`,
		"record_voice category":      `{"name": "f", "kind": "voice", "widgets": [{"id": "a", "type": "record_voice", "categories": {"Other": "X"}}]}`,
		"gather timeout 0":           `{"name": "f", "kind": "voice", "widgets": [{"id": "a", "type": "gather_digits", "timeout": 0}]}`,
		"update_groups empty":        `{"name": "f", "widgets": [{"id": "a", "type": "update_groups"}]}`,
		"remove and remove_all":      `{"name": "f", "widgets": [{"id": "a", "type": "update_groups", "remove": ["x"], "remove_all": true}]}`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			v, err := jsonschema.UnmarshalJSON(strings.NewReader(src))
			if err != nil {
				t.Fatal(err)
			}
			if s.Validate(v) == nil {
				t.Errorf("the schema accepts %s", src)
			}
		})
	}
}

// TestSchemaAgreesWithLoader: where JSON Schema can say what the loader
// checks, the schema accepts what the loader accepts and refuses what it
// refuses. (A whole number written 30.0 is one it cannot: JSON Schema counts
// it an integer, and the loader refuses it.)
func TestSchemaAgreesWithLoader(t *testing.T) {
	s := compileSchema(t)
	e := engine.New(widgets.Registered())
	tests := []struct {
		name, widget string
		valid        bool
	}{
		{"send_message with an empty text", `{"id": "a", "type": "send_message", "text": ""}`, false},
		{"send_message with no messages", `{"id": "a", "type": "send_message", "messages": []}`, false},
		{"send_message with no attachments", `{"id": "a", "type": "send_message", "attachments": []}`, false},
		{"send_message with an empty text and a message", `{"id": "a", "type": "send_message", "text": "", "messages": ["hi"]}`, true},
		{"send_message with an attachment", `{"id": "a", "type": "send_message", "attachments": ["image/png:https://example.com/a.png"]}`, true},
		{"update_groups adding no groups", `{"id": "a", "type": "update_groups", "add": []}`, false},
		{"update_groups removing no groups", `{"id": "a", "type": "update_groups", "remove": []}`, false},
		{"update_groups adding a group", `{"id": "a", "type": "update_groups", "add": ["vip"]}`, true},
		{"update_groups remove_all and no groups to remove", `{"id": "a", "type": "update_groups", "remove": [], "remove_all": true}`, true},
		{"update_groups remove_all and groups to remove", `{"id": "a", "type": "update_groups", "remove": ["x"], "remove_all": true}`, false},
		{"end with an exit", `{"id": "a", "type": "end", "exits": {"Next": ""}}`, false},
		{"end with no exits", `{"id": "a", "type": "end", "exits": {}}`, true},
		{"hangup with an exit", `{"id": "a", "type": "hangup", "exits": {"Next": ""}}`, false},
		{"hangup with no exits", `{"id": "a", "type": "hangup", "exits": {}}`, true},
		{"wait with a Timeout exit and no timeout", `{"id": "a", "type": "wait_for_response", "exits": {"Timeout": ""}}`, false},
		{"wait with a Timeout exit and a timeout", `{"id": "a", "type": "wait_for_response", "timeout": 30, "exits": {"Timeout": ""}}`, true},
		{"webhook named empty without a url", `{"id": "a", "type": "webhook", "webhook": ""}`, false},
		{"webhook named empty with a url", `{"id": "a", "type": "webhook", "webhook": "", "url": "https://example.com"}`, true},
		{"webhook named", `{"id": "a", "type": "webhook", "webhook": "orders"}`, true},
		{"null exit", `{"id": "a", "type": "send_message", "text": "hi", "exits": {"Next": null}}`, false},
		{"has_any_word with a blank argument", `{"id": "a", "type": "wait_for_response", "rules": [{"type": "has_any_word", "args": ["  "], "category": "A"}]}`, false},
		{"has_all_words with an empty argument", `{"id": "a", "type": "wait_for_response", "rules": [{"type": "has_all_words", "args": [""], "category": "A"}]}`, false},
		{"has_beginning with a blank argument", `{"id": "a", "type": "wait_for_response", "rules": [{"type": "has_beginning", "args": [" "], "category": "A"}]}`, false},
		{"has_beginning with a no-break space", "{\"id\": \"a\", \"type\": \"wait_for_response\", \"rules\": [{\"type\": \"has_beginning\", \"args\": [\"\u00a0\"], \"category\": \"A\"}]}", false},
		{"has_beginning with a next-line character", "{\"id\": \"a\", \"type\": \"wait_for_response\", \"rules\": [{\"type\": \"has_beginning\", \"args\": [\"\u0085\"], \"category\": \"A\"}]}", false},
		{"has_beginning with a byte-order mark", "{\"id\": \"a\", \"type\": \"wait_for_response\", \"rules\": [{\"type\": \"has_beginning\", \"args\": [\"\ufeff\"], \"category\": \"A\"}]}", true},
		{"has_any_word with a word", `{"id": "a", "type": "wait_for_response", "rules": [{"type": "has_any_word", "args": [" yes "], "category": "A"}]}`, true},
		{"webhook setting Content-Length", `{"id": "a", "type": "webhook", "url": "https://example.com", "headers": {"Content-Length": "1"}}`, false},
		{"webhook setting connection in lower case", `{"id": "a", "type": "webhook", "url": "https://example.com", "headers": {"connection": "close"}}`, false},
		{"webhook setting TE", `{"id": "a", "type": "webhook", "url": "https://example.com", "headers": {"te": "trailers"}}`, false},
		{"webhook setting a header of its own", `{"id": "a", "type": "webhook", "url": "https://example.com", "headers": {"X-Content-Length-Hint": "1"}}`, true},
		{"empty exit", `{"id": "a", "type": "send_message", "text": "hi", "exits": {"Next": ""}}`, true},
		{"webhook auth without a type", `{"id": "a", "type": "webhook", "url": "https://example.com", "auth": {"token": "s3cret"}}`, false},
		{"webhook auth empty", `{"id": "a", "type": "webhook", "url": "https://example.com", "auth": {}}`, true},
		{"webhook bearer auth with an encoding", `{"id": "a", "type": "webhook", "url": "https://example.com", "auth": {"type": "bearer", "token": "t", "encoding": "json"}}`, false},
		{"webhook basic auth with a token", `{"id": "a", "type": "webhook", "url": "https://example.com", "auth": {"type": "basic", "username": "u", "token": "t"}}`, false},
		{"webhook none auth with a password", `{"id": "a", "type": "webhook", "url": "https://example.com", "auth": {"type": "none", "password": "p"}}`, false},
		{"webhook oauth2_password auth", `{"id": "a", "type": "webhook", "url": "https://example.com", "auth": {"type": "oauth2_password", "client_id": "c", "username": "u", "password": "p", "token_url": "https://a.example.com/t", "encoding": "json", "scopes": ["x"], "audience": "a"}}`, true},
		{"null widget", `null`, false},
		{"null widget id", `{"id": null, "type": "end"}`, false},
		{"null widget type", `{"id": "a", "type": null}`, false},
		{"null exits", `{"id": "a", "type": "send_message", "text": "hi", "exits": null}`, false},
		{"null note", `{"id": "a", "type": "send_message", "text": "hi", "note": null}`, false},
		{"null position", `{"id": "a", "type": "send_message", "text": "hi", "position": null}`, true},
		{"null text", `{"id": "a", "type": "send_message", "text": null, "messages": ["hi"]}`, false},
		{"null quick_replies", `{"id": "a", "type": "send_message", "text": "hi", "quick_replies": null}`, false},
		{"null quick reply", `{"id": "a", "type": "send_message", "text": "hi", "quick_replies": [null]}`, false},
		{"null translation", `{"id": "a", "type": "send_message", "text": "hi", "translations": {"fra": null}}`, false},
		{"null text of a translation", `{"id": "a", "type": "send_message", "text": "hi", "translations": {"fra": {"text": null}}}`, false},
		{"null timeout", `{"id": "a", "type": "wait_for_response", "timeout": null}`, false},
		{"null rules", `{"id": "a", "type": "wait_for_response", "rules": null}`, false},
		{"null rule", `{"id": "a", "type": "wait_for_response", "rules": [null]}`, false},
		{"null args", `{"id": "a", "type": "wait_for_response", "rules": [{"type": "has_text", "args": null, "category": "A"}]}`, false},
		{"null argument", `{"id": "a", "type": "wait_for_response", "rules": [{"type": "has_any_word", "args": [null], "category": "A"}]}`, false},
		{"null category", `{"id": "a", "type": "wait_for_response", "rules": [{"type": "has_text", "category": null}]}`, false},
		{"null headers", `{"id": "a", "type": "webhook", "url": "https://example.com", "headers": null}`, true},
		{"null header", `{"id": "a", "type": "webhook", "url": "https://example.com", "headers": {"X-Api-Key": null}}`, false},
		{"null auth", `{"id": "a", "type": "webhook", "url": "https://example.com", "auth": null}`, true},
		{"null mapping", `{"id": "a", "type": "webhook", "url": "https://example.com", "mappings": {"x": null}}`, false},
		{"null mappings", `{"id": "a", "type": "webhook", "url": "https://example.com", "mappings": null}`, true},
		{"null webhook fields", `{"id": "a", "type": "webhook", "url": "https://example.com", "webhook": null, "result": null, "categories": null,
		  "name": null, "description": null, "method": null, "content_type": null, "body_mode": null, "body": null, "extra_json": null,
		  "timeout": null, "max_response_bytes": null, "follow_redirects": null, "retries": null, "retry_backoff_ms": null, "retry_unsafe": null}`, true},
		{"null url of a named webhook", `{"id": "a", "type": "webhook", "webhook": "orders", "url": null}`, true},
		{"null url of an inline webhook", `{"id": "a", "type": "webhook", "url": null}`, false},
		{"null webhook without a url", `{"id": "a", "type": "webhook", "webhook": null}`, false},
		{"null auth fields a type does not use", `{"id": "a", "type": "webhook", "url": "https://example.com", "auth": {"type": "bearer", "token": "t",
		  "username": null, "password": null, "client_id": null, "client_secret": null, "token_url": null, "scopes": null, "audience": null, "encoding": null}}`, true},
		{"null auth type and token", `{"id": "a", "type": "webhook", "url": "https://example.com", "auth": {"type": null, "token": null}}`, true},
		{"null auth type with a token", `{"id": "a", "type": "webhook", "url": "https://example.com", "auth": {"type": null, "token": "t"}}`, false},
		{"null scope", `{"id": "a", "type": "webhook", "url": "https://example.com", "auth": {"type": "oauth2_client_credentials", "client_id": "c", "client_secret": "s", "token_url": "https://a.example.com/t", "scopes": [null]}}`, false},
		{"null include group", `{"id": "a", "type": "webhook", "url": "https://example.com", "include": {"call": null}}`, true},
		{"null weights", `{"id": "a", "type": "random", "buckets": ["A", "B"], "weights": null}`, false},
		{"null weight", `{"id": "a", "type": "random", "buckets": ["A", "B"], "weights": [1, null]}`, false},
		// A widget whose exits do not depend on its fields has those exits only.
		{"send_message with an exit in lower case", `{"id": "a", "type": "send_message", "text": "hi", "exits": {"next": ""}}`, false},
		{"set_variable with Next and Failure", `{"id": "a", "type": "set_variable", "name": "x", "value": "1", "exits": {"Next": "", "Failure": ""}}`, true},
		{"set_variable with Fail", `{"id": "a", "type": "set_variable", "name": "x", "value": "1", "exits": {"Fail": ""}}`, false},
		{"webhook with its three exits", `{"id": "a", "type": "webhook", "url": "https://example.com", "exits": {"Success": "", "Failure": "", "Timeout": ""}}`, true},
		{"webhook with Time out", `{"id": "a", "type": "webhook", "url": "https://example.com", "exits": {"Time out": ""}}`, false},
		{"subflow with its exits", `{"id": "a", "type": "subflow", "flow": "b", "exits": {"Complete": "", "Expired": ""}}`, true},
		{"subflow with Completed", `{"id": "a", "type": "subflow", "flow": "b", "exits": {"Completed": ""}}`, false},
		{"update_groups with Done", `{"id": "a", "type": "update_groups", "add": ["vip"], "exits": {"Done": ""}}`, false},
		{"record with Next", `{"id": "a", "type": "record", "action": "email", "exits": {"Next": ""}}`, true},
		{"record with Other", `{"id": "a", "type": "record", "action": "email", "exits": {"Other": ""}}`, false},
		{"say with Next", `{"id": "a", "type": "say", "text": "hi", "exits": {"Next": ""}}`, true},
		{"say with Done", `{"id": "a", "type": "say", "text": "hi", "exits": {"Done": ""}}`, false},
		{"play with Finished", `{"id": "a", "type": "play", "url": "https://example.com/a.mp3", "exits": {"Finished": ""}}`, false},
		{"record_voice with its exits", `{"id": "a", "type": "record_voice", "exits": {"Recording": "", "No Input": ""}}`, true},
		{"record_voice with NoInput", `{"id": "a", "type": "record_voice", "exits": {"NoInput": ""}}`, false},
	}
	check := func(t *testing.T, src string, valid bool) {
		t.Helper()
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(v); (err == nil) != valid {
			t.Errorf("schema: valid %v, want %v: %v", err == nil, valid, err)
		}
		if _, err := e.Load([]byte(src)); (err == nil) != valid {
			t.Errorf("loader: valid %v, want %v: %v", err == nil, valid, err)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind := ""
			if strings.Contains(tc.widget, `"hangup"`) || strings.Contains(tc.widget, `"say"`) || strings.Contains(tc.widget, `"play"`) || strings.Contains(tc.widget, `"record_voice"`) {
				kind = `"kind": "voice", `
			}
			check(t, `{"name": "f", `+kind+`"widgets": [`+tc.widget+`]}`, tc.valid)
		})
	}
	// The top level, around a widget that is valid.
	const widget = `"widgets": [{"id": "a", "type": "end"}]`
	for _, tc := range []struct {
		name, head string
		valid      bool
	}{
		{"null name", `"id": "f", "name": null`, false},
		{"null id", `"id": null, "name": "f"`, true},
		{"empty id", `"id": "", "name": "f"`, true},
		{"null id and no name", `"id": null`, false},
		{"empty id and no name", `"id": ""`, false},
		{"empty name and no id", `"name": ""`, false},
		{"empty name and an id", `"id": "f", "name": ""`, true},
		{"empty name and an empty id", `"id": "", "name": ""`, false},
		{"negative revision", `"name": "f", "revision": -1`, false},
		{"revision 0", `"name": "f", "revision": 0`, true},
		{"revision 3", `"name": "f", "revision": 3`, true},
		{"null description", `"name": "f", "description": null`, false},
		{"null kind", `"name": "f", "kind": null`, false},
		{"null language", `"name": "f", "language": null`, false},
		{"null start", `"name": "f", "start": null`, false},
		{"null expire_minutes", `"name": "f", "expire_minutes": null`, false},
		{"null environment", `"name": "f", "environment": null`, false},
		{"null date_format", `"name": "f", "environment": {"date_format": null}`, false},
		{"null version", `"name": "f", "version": null`, false},
		{"null revision", `"name": "f", "revision": null`, false},
		{"null $schema", `"name": "f", "$schema": null`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, `{`+tc.head+`, `+widget+`}`, tc.valid)
		})
	}
	t.Run("null widgets", func(t *testing.T) { check(t, `{"name": "f", "widgets": null}`, false) })
}

// TestSchemaCoversRegistry: the schema lists every registered widget type with
// exactly the JSON fields its struct decodes, and every rule type.
func TestSchemaCoversRegistry(t *testing.T) {
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	var enums struct {
		Defs struct {
			Widget struct {
				Properties struct {
					Type struct {
						Enum []string `json:"enum"`
					} `json:"type"`
				} `json:"properties"`
			} `json:"widget"`
			Rule struct {
				Properties struct {
					Type struct {
						Enum []string `json:"enum"`
					} `json:"type"`
				} `json:"properties"`
			} `json:"rule"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &enums); err != nil {
		t.Fatal(err)
	}
	reg := widgets.Registered()
	if got, want := enums.Defs.Widget.Properties.Type.Enum, reg.Names(); !slices.Equal(got, want) {
		t.Errorf("schema widget types %v, registered %v", got, want)
	}
	if got, want := enums.Defs.Rule.Properties.Type.Enum, rules.Types(); !slices.Equal(got, want) {
		t.Errorf("schema rule types %v, rules.Types() %v", got, want)
	}
	for _, name := range reg.Names() {
		def, ok := schema.Defs["widget_"+name]
		if !ok {
			t.Errorf("schema has no $defs.widget_%s", name)
			continue
		}
		factory, _ := reg.Lookup(name)
		want := jsonFields(reflect.TypeOf(factory()).Elem())
		var got []string
		for k := range def.Properties {
			got = append(got, k)
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("widget %s: schema properties %v, struct fields %v", name, got, want)
		}
	}
}

// jsonFields lists the JSON names a struct decodes, embedded structs included.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, jsonFields(ft)...)
			}
			continue
		}
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// TestSchemaMaximaAgree: every maximum the schema sets is the loader's: a
// flow with the value at the maximum loads and passes the schema, one with
// the next value is refused by both. A maximum added to the schema needs a
// flow here to check it with.
func TestSchemaMaximaAgree(t *testing.T) {
	cases := map[string]string{
		"/properties/expire_minutes":                          `{"name": "f", "expire_minutes": %d, "widgets": [{"id": "a", "type": "end"}]}`,
		"/$defs/widget_wait_for_response/properties/timeout":  `{"name": "f", "widgets": [{"id": "a", "type": "wait_for_response", "timeout": %d}]}`,
		"/$defs/widget_gather_digits/properties/timeout":      `{"name": "f", "kind": "voice", "widgets": [{"id": "a", "type": "gather_digits", "timeout": %d}]}`,
		"/$defs/widget_gather_digits/properties/num_digits":   `{"name": "f", "kind": "voice", "widgets": [{"id": "a", "type": "gather_digits", "num_digits": %d}]}`,
		"/$defs/widget_record_voice/properties/max_length":    `{"name": "f", "kind": "voice", "widgets": [{"id": "a", "type": "record_voice", "max_length": %d}]}`,
		"/$defs/widget_record_voice/properties/timeout":       `{"name": "f", "kind": "voice", "widgets": [{"id": "a", "type": "record_voice", "timeout": %d}]}`,
		"/$defs/widget_random/properties/weights/items":       `{"name": "f", "widgets": [{"id": "a", "type": "random", "buckets": ["A", "B"], "weights": [%d, 0]}]}`,
		"/$defs/widget_webhook/properties/timeout":            `{"name": "f", "widgets": [{"id": "a", "type": "webhook", "url": "http://x", "timeout": %d}]}`,
		"/$defs/widget_webhook/properties/max_response_bytes": `{"name": "f", "widgets": [{"id": "a", "type": "webhook", "url": "http://x", "max_response_bytes": %d}]}`,
		"/$defs/widget_webhook/properties/retries":            `{"name": "f", "widgets": [{"id": "a", "type": "webhook", "url": "http://x", "retries": %d}]}`,
		"/$defs/widget_webhook/properties/retry_backoff_ms":   `{"name": "f", "widgets": [{"id": "a", "type": "webhook", "url": "http://x", "retry_backoff_ms": %d}]}`,
	}
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	maxima := map[string]float64{}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "maximum" {
					maxima[path], _ = x.(float64)
					continue
				}
				walk(x, path+"/"+k)
			}
		case []any:
			for i, x := range v {
				walk(x, fmt.Sprintf("%s/%d", path, i))
			}
		}
	}
	walk(doc, "")
	s := compileSchema(t)
	eng := engine.New(widgets.Registered())
	for path, max := range maxima {
		flow, ok := cases[path]
		if !ok {
			t.Errorf("the schema sets a maximum of %v at %s, which no flow here checks", max, path)
			continue
		}
		for _, tc := range []struct {
			n  int64
			ok bool
		}{{int64(max), true}, {int64(max) + 1, false}} {
			src := fmt.Sprintf(flow, tc.n)
			_, err := eng.Load([]byte(src))
			if (err == nil) != tc.ok {
				t.Errorf("%s: %d: the loader says %v, want ok=%v", path, tc.n, err, tc.ok)
			}
			v, err := jsonschema.UnmarshalJSON(strings.NewReader(src))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(v); (err == nil) != tc.ok {
				t.Errorf("%s: %d: the schema says %v, want ok=%v", path, tc.n, err, tc.ok)
			}
		}
		delete(cases, path)
	}
	for path := range cases {
		t.Errorf("the schema sets no maximum at %s", path)
	}
}

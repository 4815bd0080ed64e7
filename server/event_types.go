package server

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/docs"
)

// EventType is one entry of GET /v1/event-types: an event type, when it is
// sent, and the JSON Schema of the whole request body of an event of that
// type.
type EventType struct {
	Type        string         `json:"type"`
	Description string         `json:"description"`
	Schema      map[string]any `json:"schema"`
}

// defRef finds the definitions a schema refers to.
var defRef = regexp.MustCompile(`"\$ref":\s*"#/\$defs/([^"]+)"`)

// eventTypesFrom splits the events schema into one schema per event type,
// in the order of its oneOf: each the definition of the type's envelope
// with the definitions it needs under $defs, so that it stands alone (its
// references, #/$defs/..., resolve in it as in the whole document).
func eventTypesFrom(doc []byte) ([]EventType, error) {
	var whole struct {
		Schema string `json:"$schema"`
		OneOf  []struct {
			Ref string `json:"$ref"`
		} `json:"oneOf"`
		Defs map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal(doc, &whole); err != nil {
		return nil, fmt.Errorf("events schema: %w", err)
	}
	var out []EventType
	for i, alt := range whole.OneOf {
		name, ok := strings.CutPrefix(alt.Ref, "#/$defs/")
		if !ok || whole.Defs[name] == nil {
			return nil, fmt.Errorf("events schema: oneOf[%d]: %q is not a definition of $defs", i, alt.Ref)
		}
		var def map[string]any
		if err := json.Unmarshal(whole.Defs[name], &def); err != nil {
			return nil, fmt.Errorf("events schema: $defs/%s: %w", name, err)
		}
		props, _ := def["properties"].(map[string]any)
		typeProp, _ := props["type"].(map[string]any)
		typ, _ := typeProp["const"].(string)
		if typ == "" {
			return nil, fmt.Errorf("events schema: $defs/%s: properties.type.const does not name its event type", name)
		}
		desc, _ := def["description"].(string)
		// The definitions it needs, and those they need in turn.
		needed := map[string]json.RawMessage{}
		todo := []string{name}
		for len(todo) > 0 {
			n := todo[0]
			todo = todo[1:]
			for _, m := range defRef.FindAllSubmatch(whole.Defs[n], -1) {
				dep := string(m[1])
				if _, done := needed[dep]; done || dep == name {
					continue
				}
				if whole.Defs[dep] == nil {
					return nil, fmt.Errorf("events schema: $defs/%s refers to $defs/%s, which is not there", n, dep)
				}
				needed[dep] = whole.Defs[dep]
				todo = append(todo, dep)
			}
		}
		defs := make(map[string]any, len(needed))
		for n, raw := range needed {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("events schema: $defs/%s: %w", n, err)
			}
			defs[n] = v
		}
		def["$schema"] = whole.Schema
		def["$defs"] = defs
		out = append(out, EventType{Type: typ, Description: desc, Schema: def})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("events schema: no event type in oneOf")
	}
	return out, nil
}

// eventTypesAnswer is the answer of GET /v1/event-types, made once from the
// schema the binary embeds.
var eventTypesAnswer = sync.OnceValues(func() ([]byte, error) {
	types, err := eventTypesFrom(docs.EventsSchema)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string][]EventType{"event_types": types})
})

// listEventTypes answers GET /v1/event-types: every event type a
// subscription can receive, with its description and JSON Schema.
func (s *Server) listEventTypes(c *fiber.Ctx) error {
	body, err := eventTypesAnswer()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(body)
}

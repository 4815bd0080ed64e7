package server

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/docs"
)

// A schema GET /v1/event-types cannot be made from is refused with what is
// wrong and where; the embedded one gives every type with only the
// definitions it needs.
func TestEventTypesFromSchema(t *testing.T) {
	for _, c := range []struct{ name, doc, want string }{
		{"not JSON", `{"oneOf":`, "events schema: "},
		{"no types", `{"oneOf":[],"$defs":{}}`, "no event type in oneOf"},
		{"missing definition", `{"oneOf":[{"$ref":"#/$defs/Gone"}],"$defs":{}}`, `oneOf[0]: "#/$defs/Gone" is not a definition of $defs`},
		{"no type const", `{"oneOf":[{"$ref":"#/$defs/A"}],"$defs":{"A":{"properties":{"type":{"type":"string"}}}}}`, "$defs/A: properties.type.const does not name its event type"},
		{"dangling reference", `{"oneOf":[{"$ref":"#/$defs/A"}],"$defs":{"A":{"properties":{"type":{"const":"a.b"},"data":{"$ref":"#/$defs/B"}}},
		  "B":{"properties":{"c":{"$ref":"#/$defs/C"}}}}}`, "$defs/B refers to $defs/C, which is not there"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := eventTypesFrom([]byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one saying %q", err, c.want)
			}
		})
	}

	types, err := eventTypesFrom(docs.EventsSchema)
	if err != nil {
		t.Fatal(err)
	}
	for _, et := range types {
		defs, _ := et.Schema["$defs"].(map[string]any)
		if et.Type == "webhook.ping" {
			if _, ok := defs["WebhookPingData"]; !ok || len(defs) != 4 {
				t.Errorf("webhook.ping's schema has $defs %v, want its data, Time, Environment and Extra only", slices.Sorted(maps.Keys(defs)))
			}
		}
		if et.Schema["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema %v", et.Type, et.Schema["$schema"])
		}
	}
}

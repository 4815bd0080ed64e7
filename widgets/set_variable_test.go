package widgets_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// TestContactFieldKeys: set_variable stores a contact field under its key, as
// results are ("Tier" → tier), so every spelling reads it; a field given
// under another spelling (when the session starts, or stored so before) is
// still read by its key, and setting it again leaves one field.
func TestContactFieldKeys(t *testing.T) {
	const show = `"text": "@contact.fields.tier|@contact.fields.Tier|$user.key.tier|@(contact.fields.tier)|@(user.key.tier)|@(contact.fields.Tier)|@(user.key['Tier'])|@(length(contact.fields))|@(join(keys(contact.fields), ','))|@contact.Tier"`
	tests := []struct {
		name, set string
		before    map[string]string
		text      string
		fields    []string
	}{
		{"set as Tier", `"name": "Tier", "value": "gold"`, nil, "gold|gold|gold|gold|gold|gold|gold|1|tier|gold", []string{"tier=gold"}},
		{"given as Tier", ``, map[string]string{"Tier": "silver"}, "silver|silver|silver|silver|silver|silver|silver|1|tier|silver", []string{"Tier=silver"}},
		{"given as Tier, set as tier", `"name": "tier", "value": "gold"`, map[string]string{"Tier": "silver"}, "gold|gold|gold|gold|gold|gold|gold|1|tier|gold", []string{"tier=gold"}},
		{"given as Tier and tier", ``, map[string]string{"Tier": "silver", "tier": "gold"}, "gold|gold|gold|gold|gold|gold|gold|1|tier|gold", []string{"Tier=silver", "tier=gold"}},
	}
	e := engine.New(widgets.Registered())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := "say"
			set := ""
			if tc.set != "" {
				start = "set"
				set = `{"id": "set", "type": "set_variable", "scope": "user", ` + tc.set + `, "exits": {"Next": "say"}},`
			}
			f, err := e.Load([]byte(`{"name": "f", "start": "` + start + `", "widgets": [` + set + `{"id": "say", "type": "send_message", ` + show + `}]}`))
			if err != nil {
				t.Fatal(err)
			}
			s, evs, err := e.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{Fields: tc.before}})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				switch ev.Type {
				case flows.EventMessageOut:
					if ev.Text != tc.text {
						t.Errorf("sent %q, want %q", ev.Text, tc.text)
					}
				case flows.EventWarning, flows.EventError:
					t.Errorf("%s: %s", ev.Type, ev.Message)
				}
			}
			var fields []string
			for _, k := range slices.Sorted(maps.Keys(s.Contact.Fields)) {
				fields = append(fields, k+"="+s.Contact.Fields[k])
			}
			if strings.Join(fields, " ") != strings.Join(tc.fields, " ") {
				t.Errorf("fields %q, want %q", fields, tc.fields)
			}
		})
	}
	_, err := e.Load([]byte(`{"name": "f", "widgets": [{"id": "set", "type": "set_variable", "scope": "user", "name": "!!", "value": "x"}]}`))
	if want := `widget "set": widgets[0].name: "!!" has no letters or digits to make a contact field key`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
}

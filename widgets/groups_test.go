package widgets_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

func TestUpdateGroups(t *testing.T) {
	tests := []struct {
		name, widget string
		before       []string
		want         string
	}{
		{"add once, case-insensitive", `"add": ["VIP", "@contact.fields.team", "testers"]`, []string{"Testers"}, "Testers, VIP, Blue"},
		{"remove", `"remove": ["testers", "Nope"]`, []string{"Testers", "VIP"}, "VIP"},
		{"remove all", `"remove_all": true`, []string{"Testers", "VIP"}, ""},
		{"remove all, then add", `"remove_all": true, "add": ["VIP", "New"]`, []string{"Testers", "VIP"}, "VIP, New"},
	}
	e := engine.New(widgets.Registered())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := e.Load([]byte(`{"name": "g", "widgets": [{"id": "g", "type": "update_groups", ` + tc.widget + `}]}`))
			if err != nil {
				t.Fatal(err)
			}
			s, _, err := e.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{
				Groups: append([]string(nil), tc.before...), Fields: map[string]string{"team": "Blue"}}})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(s.Contact.Groups, ", "); got != tc.want {
				t.Errorf("groups %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := e.Load([]byte(`{"name": "g", "widgets": [{"id": "g", "type": "update_groups"}]}`)); err == nil {
		t.Error("an update_groups with nothing to do loaded")
	}
}

func TestRecord(t *testing.T) {
	e := engine.New(widgets.Registered())
	f, err := e.Load([]byte(`{"name": "r", "widgets": [
	 {"id": "r", "type": "record", "action": "email", "fields": {"subject": "Hi @contact.name"}, "exits": {"Next": "m"}},
	 {"id": "m", "type": "send_message", "text": "after"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, evs, err := e.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{Name: "Ann"}})
	if err != nil {
		t.Fatal(err)
	}
	var rec *flows.Event
	sent := false
	for i, ev := range evs {
		switch ev.Type {
		case flows.EventRecorded:
			rec = &evs[i]
		case flows.EventMessageOut:
			sent = ev.Text == "after"
		}
	}
	if rec == nil || rec.Name != "email" || string(rec.Data) != `{"subject":"Hi Ann"}` {
		t.Fatalf("recorded event %+v", rec)
	}
	if !sent {
		t.Error("the flow did not go on after the record widget")
	}
	if _, err := e.Load([]byte(`{"name": "r", "widgets": [{"id": "r", "type": "record"}]}`)); err == nil {
		t.Error("a record without an action loaded")
	}
}

package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

func TestSmoke(t *testing.T) {
	e := engine.New(widgets.Registered())
	f, err := e.Load([]byte(`{"name":"s","widgets":[
	 {"id":"a","type":"set_variable","name":"Greeting Name","value":"Bob","exits":{"Next":"b"}},
	 {"id":"x","type":"set_variable","name":"n","expression":"len(flow.greeting_name.value) * 2","exits":{"Next":"b"}},
	 {"id":"b","type":"send_message","text":"Hi @flow.greeting_name! mail me@example.com @(upper(flow.greeting_name.value)) $user.key.age @flow.missing @(flow.nope.value)","exits":{"Next":"c"}},
	 {"id":"c","type":"end"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s, evs, err := e.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{Fields: map[string]string{"age": "33"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		b, _ := json.Marshal(ev)
		fmt.Println(string(b))
	}
	b, _ := json.Marshal(s)
	fmt.Println(len(b), string(b))
}

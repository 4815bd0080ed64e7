package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
)

// environmentFlow waits for an answer and saves its phone number and date;
// env is the flow's "environment" member ("" for none).
func environmentFlow(id, env string) string {
	if env != "" {
		env = `"environment": ` + env + `,`
	}
	return `{"id": "` + id + `", ` + env + ` "widgets": [
	  {"id": "ask", "type": "wait_for_response", "result": "Phone",
	   "rules": [{"type": "has_phone", "category": "Phone"}], "exits": {"Phone": "when", "Other": "when"}},
	  {"id": "when", "type": "split", "operand": "@input", "result": "When",
	   "rules": [{"type": "has_date", "category": "Date"}], "exits": {"Date": "", "Other": ""}}]}`
}

// TestEnvironment: the flow's environment sets the country of has_phone
// without an argument and the order the date rules read; a subflow without
// one uses its caller's; the engine's default applies last.
func TestEnvironment(t *testing.T) {
	const input = "call 2067799294 on 03/04/2026"
	cases := []struct {
		name, env   string
		opts        []engine.Option
		phone, date string
	}{
		{"none: international numbers only, day first", "", nil, "", "2026-04-03"},
		{"US, month first", `{"default_country": "US", "date_format": "MM-DD-YYYY"}`, nil, "+12067799294", "2026-03-04"},
		{"lower-case country", `{"default_country": "us"}`, nil, "+12067799294", "2026-04-03"},
		{"engine default", "", []engine.Option{engine.WithEnvironment(flows.Environment{DefaultCountry: "US", DateFormat: flows.DateFormatMonthDayYear})}, "+12067799294", "2026-03-04"},
		{"the flow's over the engine's", `{"date_format": "DD-MM-YYYY"}`, []engine.Option{engine.WithEnvironment(flows.Environment{DefaultCountry: "US", DateFormat: flows.DateFormatMonthDayYear})}, "+12067799294", "2026-04-03"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, nil, c.opts...)
			f := fx.load(t, environmentFlow("env", c.env))
			s, _, err := fx.e.Start(context.Background(), f, engine.StartParams{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fx.e.Resume(context.Background(), f, s, flows.Text(input)); err != nil {
				t.Fatal(err)
			}
			res := s.Frames[0].Results
			if got := res["phone"]; (c.phone == "" && got.Category != "Other") || (c.phone != "" && got.Value != c.phone) {
				t.Errorf("phone: %+v, want %q", got, c.phone)
			}
			if got := res["when"]; got.Value != c.date {
				t.Errorf("date: %+v, want %q", got, c.date)
			}
		})
	}

	t.Run("a subflow uses its caller's", func(t *testing.T) {
		fx := newFixture(t, nil)
		fx.load(t, environmentFlow("child", ""))
		parent := fx.load(t, `{"id": "parent", "environment": {"default_country": "US", "date_format": "MM-DD-YYYY"}, "widgets": [
		  {"id": "sub", "type": "subflow", "flow": "child", "exits": {"Complete": "", "Expired": ""}}]}`)
		s, _, err := fx.e.Start(context.Background(), parent, engine.StartParams{})
		if err != nil {
			t.Fatal(err)
		}
		child := s.Frames[len(s.Frames)-1]
		if _, err := fx.e.Resume(context.Background(), parent, s, flows.Text(input)); err != nil {
			t.Fatal(err)
		}
		if got := child.Results["phone"].Value + " " + child.Results["when"].Value; got != "+12067799294 2026-03-04" {
			t.Errorf("child saved %q", got)
		}
	})
}

// TestEnvironmentErrors: an unknown country or date format is a validation
// error at its JSON path.
func TestEnvironmentErrors(t *testing.T) {
	fx := newFixture(t, nil)
	for env, want := range map[string]string{
		`{"default_country": "XX"}`:                           `environment.default_country: unknown country "XX"`,
		`{"default_country": "USA"}`:                          `environment.default_country: unknown country "USA"`,
		`{"date_format": "MM/DD/YYYY"}`:                       `environment.date_format: unknown date format "MM/DD/YYYY" (DD-MM-YYYY, MM-DD-YYYY or YYYY-MM-DD)`,
		`{"country": "US"}`:                                   `unknown field "country"`,
		`{"date_format": "YYYY-MM-DD", "default_country": 1}`: `environment.default_country`,
	} {
		_, err := fx.e.Load([]byte(environmentFlow("bad", env)))
		var ve *flows.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", env, err, want)
		}
	}
}

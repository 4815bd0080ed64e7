package rapidpro

import (
	"regexp"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/widgets"
)

// TestSyntaxErrorPosition: an export that is not JSON is refused at the
// line and column flow validation (parley validate, simulate, POST
// /v1/flows) gives for the same bytes: the offending character, or just
// after the last one when the JSON ends early.
func TestSyntaxErrorPosition(t *testing.T) {
	at := regexp.MustCompile(`line \d+, column \d+`)
	e := engine.New(widgets.Registered())
	for _, tc := range []struct{ doc, want string }{
		{`{"flows": [1,`, "line 1, column 14"},
		{"{\"flows\": [\n  {\"x\": 1", "line 2, column 10"},
		{`{"flows": ["é`, "line 1, column 14"},
		{"{\"flows\": [1,   ", "line 1, column 17"},
		{"{\"version\": \"11.12\",\n \"flows\": [\n  {\"name\": \"x\",}\n]}", "line 3, column 16"},
		{`{"flows": [{"x": "é"}] x}`, "line 1, column 24"},
		{`{"flows": [{"x": tru}]}`, "line 1, column 21"},
	} {
		_, err := Convert([]byte(tc.doc), Options{})
		if err == nil {
			t.Errorf("%q: no error", tc.doc)
			continue
		}
		_, verr := e.Load([]byte(tc.doc))
		if verr == nil {
			t.Fatalf("%q: validation gives no error", tc.doc)
		}
		got, valid := at.FindString(err.Error()), at.FindString(verr.Error())
		if got != tc.want || valid != tc.want {
			t.Errorf("%q: import says %q (%v), validation %q (%v); want %q", tc.doc, got, err, valid, verr, tc.want)
		}
	}
}

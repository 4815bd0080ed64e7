package server

import (
	"fmt"
	"strings"
	"testing"
)

// TestImpossibleDateArgument: a fixed date argument whose day its month
// does not have that year is refused as no date, not given a reading in
// another order the author did not mean (29/02/23 as 1929-02-23); one
// that is a date only in another order is still given that reading.
func TestImpossibleDateArgument(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	h := httpClient{t: t, base: ts.listen()}
	flow := func(id, format, arg string) string {
		env := ""
		if format != "" {
			env = fmt.Sprintf(`"environment":{"date_format":%q},`, format)
		}
		return fmt.Sprintf(`{"id":%q,"name":"Dates",%s"widgets":[{"id":"ask","type":"wait_for_response","result":"D",
		 "rules":[{"type":"has_date_lt","args":[%q],"category":"Before"}],"exits":{"Before":"","Other":""}}]}`, id, env, arg)
	}
	for i, c := range []struct{ format, arg, want string }{
		{"", "29/02/23", `"29/02/23" is not a date: 2023 has no 29 February`},
		{"MM-DD-YYYY", "02/29/23", `"02/29/23" is not a date: 2023 has no 29 February`},
		{"YYYY-MM-DD", "23/02/29", `"23/02/29" is not a date: 2023 has no 29 February`},
		{"", "31/04/2026", `"31/04/2026" is not a date: 2026 has no 31 April`},
		{"", "2023-02-29", `"2023-02-29" is not a date: 2023 has no 29 February`},
		{"", "02/29/2024", `"02/29/2024" is not a date in the flow's date format DD-MM-YYYY (it reads as MM-DD-YYYY): write it as 2024-02-29`},
		{"", "29/02/2024", ""},
	} {
		status, m := h.call("POST", "/v1/flows", flow(fmt.Sprintf("d%d", i), c.format, c.arg))
		if c.want == "" {
			if status != 201 {
				t.Errorf("%s %s: %d %v, want it stored", c.format, c.arg, status, m)
			}
			continue
		}
		e, _ := m["error"].(map[string]any)
		if msg, _ := e["message"].(string); status != 422 || e["field"] != "widgets[0].rules[0].args[0]" || !strings.HasSuffix(msg, c.want) {
			t.Errorf("%s %s: %d %v, want 422 ending %q", c.format, c.arg, status, m, c.want)
		}
	}
}

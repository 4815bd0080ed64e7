package engine_test

import (
	"strings"
	"testing"
)

// TestMembersOfText: reading a member of text, or indexing it, fails in a
// sentence that says so (it was expr-lang's "invalid operation:
// int(string)", or the byte at that index: 195 for "héllo"[1]); members of
// maps and lists, and a value not set, read as before.
func TestMembersOfText(t *testing.T) {
	cases := []struct{ tmpl, want, err string }{
		{"<@(step.value.len)>", "<>", "text: expression @(step.value.len): text has no member len (1:12)"},
		{"<@(flow.answer.value.y)>", "<>", "text has no member y"},
		{"<@(flow.answer.value[1])>", "<>", "text cannot be indexed ([1]): mid(text, start, count) gives its characters"},
		{"<@(extra.order.id[0])>", "<>", "text cannot be indexed ([0])"},
		{"<@(extra.order.items.sku)>", "<>", "a list has no member sku"},
		{"<@(extra.total.y)>", "<>", "a number has no member y"},
		{"<@(extra.order.items[1].sku) @(extra.order['id']) @(flow.nope.value.y) @(now.Year()) @(mid(flow.answer.value, 2, 1))>", "<B-2 CU001  2026 é>", ""},
		{"<@(map(extra.order.items, #.sku)) @(filter(extra.order.items, .sku == 'A-1')[0].sku)>", `<["A-1","B-2"] A-1>`, ""},
	}
	for _, c := range cases {
		t.Run(c.tmpl, func(t *testing.T) {
			got, warnings := renderTemplate(t, c.tmpl, "héllo")
			if got != c.want {
				t.Errorf("rendered %q, want %q", got, c.want)
			}
			switch {
			case c.err == "" && len(warnings) > 0:
				t.Errorf("unexpected errors %q", warnings)
			case c.err != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], c.err)):
				t.Errorf("errors %q, want one holding %q", warnings, c.err)
			}
		})
	}
}

// TestMembersAreNotMade: reading a member makes nothing, so reads of a
// webhook answer in a loop do not count against the bytes an expression
// may make (each read of extra.order counted the whole order, and 90,000 of
// them went over the 4 MiB).
func TestMembersAreNotMade(t *testing.T) {
	got, warnings := renderTemplate(t, `<@(count(1..90000, extra.order.items[1].sku == "B-2" && extra.order != nil))>`, "hi")
	if got != "<90000>" || len(warnings) > 0 {
		t.Errorf("rendered %q with errors %q, want <90000> and none", got, warnings)
	}
}

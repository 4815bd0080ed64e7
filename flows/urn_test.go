package flows_test

import (
	"testing"

	"github.com/parleyhq/parley/flows"
)

func TestNormalURN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"tel:+15550100100", "tel:+15550100100"},
		{"tel:+1 555 010 0100", "tel:+15550100100"},
		{"tel:+1-555-010-0100", "tel:+15550100100"},
		{"tel:(555) 010-0100", "tel:5550100100"},
		{"tel: +15550100100", "tel:+15550100100"},
		{"tel:+1.555.010.0100", "tel:+15550100100"},
		{"tel:+1/555/010/0100", "tel:+15550100100"},
		{"tel:+1\u00a0555\u2009010\u202f0100", "tel:+15550100100"},
		{"  tel:+15550100100 \n", "tel:+15550100100"},
		{"TEL:+15550100100", "tel:+15550100100"},
		{"Tel:+1 555 010 0100", "tel:+15550100100"},
		{"WhatsApp:+1 555 010 0100", "whatsapp:+15550100100"},
		{"whatsapp:+15550100100", "whatsapp:+15550100100"},
		{"tel:5550100100", "tel:5550100100"}, // national: no country guessed
		{"tel:+1 555?channel=x y", "tel:+1555?channel=x y"},
		{"Telegram:Ada Lovelace", "telegram:Ada Lovelace"},
		{"mailto:ada.l@example.com", "mailto:ada.l@example.com"},
		{"+1 555 010 0100", "+1 555 010 0100"}, // no scheme: the channel gives one
		{" +15550100100 ", "+15550100100"},
		{"tel:", "tel:"},
		{"", ""},
		{"tel:+1555\u200b0100", "tel:+1555\u200b0100"}, // refused by URNProblem
	} {
		if got := flows.NormalURN(tc.in); got != tc.want {
			t.Errorf("NormalURN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestURNProblem(t *testing.T) {
	for _, urn := range []string{"tel:+1555\n0100", "tel:+1555\u200b0100", "tel:\ufeff+15550100", "tel:+1555\u200e", "tel:+1555\x00"} {
		if flows.URNProblem(flows.NormalURN(urn)) == "" {
			t.Errorf("URNProblem(%q) is empty", urn)
		}
	}
	for _, urn := range []string{"tel:+15550100100", "telegram:Ada Lovelace", "tel:+1555\n", "\u00a0tel:+1555"} {
		if p := flows.URNProblem(flows.NormalURN(urn)); p != "" {
			t.Errorf("URNProblem(%q) = %q", urn, p)
		}
	}
}

func TestNormalURNDoesNotAllocateWhenNormal(t *testing.T) {
	for _, urn := range []string{"tel:+15550100100", "whatsapp:+15550100100", "telegram:12345", "+15550100100"} {
		if n := testing.AllocsPerRun(100, func() { _ = flows.NormalURN(urn) }); n != 0 {
			t.Errorf("NormalURN(%q) allocates %v times", urn, n)
		}
	}
}

func BenchmarkNormalURN(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = flows.NormalURN("tel:+15550100100")
	}
}

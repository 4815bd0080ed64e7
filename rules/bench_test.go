package rules

import (
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// benchRule compiles one case and matches it against in b.N times; the case
// must match, so the benchmark measures the value being built too.
func benchRule(b *testing.B, typ string, args []string, in string, setup func(*fakeRun)) {
	b.Helper()
	set, err := Compile(fakeCompiler{}, "rules", []Case{{Type: typ, Args: args, Category: "C"}})
	if err != nil {
		b.Fatal(err)
	}
	r := newRun()
	if setup != nil {
		setup(r)
	}
	if _, ok := set.Match(r, in); !ok {
		b.Fatalf("%s does not match %q", typ, in)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		set.Match(r, in)
	}
}

const benchText = "Hello, I think the quick brown fox jumped over the lazy dog 👍 yesterday, so YES"

func BenchmarkTokenize(b *testing.B) {
	for _, tc := range []struct{ name, text string }{
		{"mixed", benchText},
		{"ascii", "Hello, I think the quick brown fox jumped over the lazy dog yesterday, so YES"},
		{"latin", "Bonjour, je crois que le renard brun a sauté par-dessus le chien paresseux, déjà hier"},
		{"emoji", "yes 👍🏽 ❤️ 🇫🇷 👨‍👩‍👧 1️⃣ thanks 😀😀 ok"},
		{"selectors", strings.Repeat("\uFE0F", 10_000) + " yes"},
		{"marks and selectors", strings.Repeat("\u0301\uFE0F", 5_000) + " yes"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf [64]span
			for b.Loop() {
				tokenize(tc.text, buf[:0])
			}
		})
	}
}

func BenchmarkHasAllWords(b *testing.B) {
	b.Run("one-word-value", func(b *testing.B) { benchRule(b, "has_all_words", []string{"yes"}, benchText, nil) })
	b.Run("joined-value", func(b *testing.B) { benchRule(b, "has_all_words", []string{"fox dog"}, benchText, nil) })
	b.Run("template-arg", func(b *testing.B) {
		benchRule(b, "has_all_words", []string{"@fields.words"}, benchText, func(r *fakeRun) { r.vars["@fields.words"] = "fox dog" })
	})
}

func BenchmarkHasAnyWord(b *testing.B) {
	benchRule(b, "has_any_word", []string{"yes y yeah ok sure"}, benchText, nil)
}

func BenchmarkHasPhrase(b *testing.B) {
	b.Run("has_phrase", func(b *testing.B) { benchRule(b, "has_phrase", []string{"lazy dog"}, benchText, nil) })
	b.Run("has_only_phrase", func(b *testing.B) { benchRule(b, "has_only_phrase", []string{"yes please"}, "Yes, please!", nil) })
}

func BenchmarkHasText(b *testing.B) {
	b.Run("has_text", func(b *testing.B) { benchRule(b, "has_text", nil, "  some text ", nil) })
	b.Run("has_beginning", func(b *testing.B) { benchRule(b, "has_beginning", []string{"hello, i"}, benchText, nil) })
	b.Run("has_only_text", func(b *testing.B) { benchRule(b, "has_only_text", []string{"Success"}, "Success", nil) })
}

func BenchmarkHasPattern(b *testing.B) {
	b.Run("static", func(b *testing.B) { benchRule(b, "has_pattern", []string{`(\w+) fox`}, benchText, nil) })
	b.Run("template-arg", func(b *testing.B) {
		benchRule(b, "has_pattern", []string{"@fields.re"}, benchText, func(r *fakeRun) { r.vars["@fields.re"] = `(\w+) fox` })
	})
}

func BenchmarkHasNumber(b *testing.B) {
	b.Run("has_number", func(b *testing.B) { benchRule(b, "has_number", nil, "I am 35 years old", nil) })
	b.Run("has_number_between", func(b *testing.B) {
		benchRule(b, "has_number_between", []string{"18", "65"}, "2 kids, I am 35.5 years old", nil)
	})
	b.Run("grouped", func(b *testing.B) { benchRule(b, "has_number_gt", []string{"999"}, "it costs 1,250", nil) })
}

func BenchmarkHasDate(b *testing.B) {
	b.Run("has_date", func(b *testing.B) { benchRule(b, "has_date", nil, "I was born on 15/01/1990", nil) })
	b.Run("has_date_lt", func(b *testing.B) { benchRule(b, "has_date_lt", []string{"today"}, "I was born on 15/01/1990", nil) })
}

func BenchmarkHasEmail(b *testing.B) {
	benchRule(b, "has_email", nil, "sure, write to me at jane.doe@example.org thanks", nil)
}

func BenchmarkHasPhone(b *testing.B) {
	benchRule(b, "has_phone", []string{"US"}, "my number is (206) 779-9294", nil)
}

func BenchmarkContactRules(b *testing.B) {
	setup := func(r *fakeRun) {
		r.sess.Contact.Groups = []string{"Testers", "Nurses"}
		r.sess.Frames[0].Results["webhook"] = &flows.Result{Name: "Webhook", Category: "Success"}
		r.env["age"] = 30
	}
	b.Run("has_group", func(b *testing.B) { benchRule(b, "has_group", []string{"nurses"}, "", setup) })
	b.Run("has_category", func(b *testing.B) { benchRule(b, "has_category", []string{"Webhook", "Failure", "Success"}, "", setup) })
	b.Run("expression", func(b *testing.B) { benchRule(b, "expression", []string{"age >= 18 && age < 65"}, "x", setup) })
}

// BenchmarkMatchSet is a typical menu: the input falls through several rules.
func BenchmarkMatchSet(b *testing.B) {
	set, err := Compile(fakeCompiler{}, "rules", []Case{
		{Type: "has_any_word", Args: []string{"yes y yeah sure"}, Category: "Yes"},
		{Type: "has_any_word", Args: []string{"no n nope"}, Category: "No"},
		{Type: "has_number_between", Args: []string{"1", "5"}, Category: "Choice"},
		{Type: "has_pattern", Args: []string{`^stop|unsubscribe`}, Category: "Stop"},
		{Type: "has_text", Category: "Other"},
	})
	if err != nil {
		b.Fatal(err)
	}
	r := newRun()
	b.ReportAllocs()
	for b.Loop() {
		set.Match(r, "I would like option 3 please")
	}
}

// BenchmarkLongArgumentWord: a 64,000-character word in the argument
// against 10,000 short words of input, each compared up to its first
// difference, and the same word last.
func BenchmarkLongArgumentWord(b *testing.B) {
	in := strings.Repeat("a ", 10000) + strings.Repeat("Y", 64000)
	for _, typ := range []string{"has_any_word", "has_all_words", "has_phrase"} {
		b.Run(typ, func(b *testing.B) { benchRule(b, typ, []string{strings.Repeat("y", 64000)}, in, nil) })
	}
}

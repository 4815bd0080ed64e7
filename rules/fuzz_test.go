package rules

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// argsFor builds arguments of the right count for a rule type from one source.
func argsFor(typ, src string) []string {
	switch typ {
	case "has_category":
		return []string{"webhook", src}
	case "has_group":
		return []string{src}
	}
	info, _ := Describe(typ)
	args := make([]string, info.MinArgs)
	for i := range args {
		args[i] = src
	}
	return args
}

// FuzzMatch runs every rule type, with the fuzzed argument both as static text
// and as a template rendering to it, against the fuzzed input. Rules must never
// panic, and a value they save must be consistent with the input.
func FuzzMatch(f *testing.F) {
	seeds := [][2]string{
		{"the fox", "the quick brown FOX"},
		{"WORD word", "this.is.my.word"},
		{"", ""},
		{"👍", "👍🏽👍 great!!"},
		{`buy (\w+)`, "Buy cheese please"},
		{"(", "(((("},
		{"42", "I'm 42, born 1.2.1984"},
		{"-1.5", "it is -1,000.25 or .5"},
		{"1e400", "١٢٣.٤ ৩.৫ 𝟙𝟚 ½"},
		{"2017-01-15", "15/01/2017 and 2017-01-16T10:00"},
		{"today", "31/02/2020 29 2 20"},
		{"US", "call (206) 779-9294 or +250788123123"},
		{"RW", "+++---((((12345)))) 0788 123 123"},
		{"a@b.co", "mail me at josé@correo.es."},
		{"a@b.co", "我的邮箱是abc@qq.com谢谢 ali@example.comاست 用户@例子.中国"},
		{"١٬٥٠٠", "１，０００ ３．５ ٢٫٥ (206)\u00a0779\u2011 9294 ＋１"},
		{"\u200b", "\ufeff\u200b\u2060 \U000E007F"},
		{"\xff", "\xff\xfe\x00 \u212a"},
		{"Success", "Success"},
		{"age > 1", "x"},
		{"yes", strings.Repeat("\uFE0F", 64) + " yes"},
		{"yes", strings.Repeat(" \u0301\uFE0F\u200D", 16) + "1\uFE0F\u20E3🇫🇷🇫 yes"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, arg, in string) {
		r := newRun()
		r.vars["@arg"] = arg
		r.env["age"] = 3
		r.sess.Contact.Groups = []string{arg}
		for _, typ := range Types() {
			for _, src := range []string{arg, "@arg"} {
				if typ == "expression" && src != arg {
					continue
				}
				set, err := Compile(fakeCompiler{}, "rules", []Case{{Type: typ, Args: argsFor(typ, src), Category: "C"}})
				if err != nil {
					continue
				}
				m, ok := set.Match(r, in)
				if !ok {
					continue
				}
				checkValue(t, typ, in, m.Value)
			}
		}
	})
}

func checkValue(t *testing.T, typ, in, v string) {
	t.Helper()
	fail := func(why string) { t.Fatalf("%s on %q saved %q: %s", typ, in, v, why) }
	if comparesText(typ) {
		in = nfc(in) // the value comes from the input in NFC
	}
	switch typ {
	case "has_all_words", "has_any_word", "has_phrase", "has_only_phrase":
		inToks := tokenWords(in)
		for _, w := range tokenWords(v) {
			if !containsWord(inToks, w) {
				fail("a word not in the input")
			}
		}
		if v == "" && (typ == "has_all_words" || typ == "has_any_word") {
			fail("empty value")
		}
	case "has_text":
		// The input with only blanks (spaces, format characters) around it.
		lead := strings.TrimLeftFunc(in, isBlankRef)
		if v == "" || !strings.HasPrefix(lead, v) || strings.TrimLeftFunc(lead[len(v):], isBlankRef) != "" {
			fail("not the input trimmed of blanks")
		}
	case "has_beginning":
		if v == "" || !strings.HasPrefix(strings.TrimLeftFunc(in, isBlankRef), v) {
			fail("not a prefix of the input")
		}
	case "has_pattern", "has_email":
		if !strings.Contains(in, v) {
			fail("not part of the input")
		}
	case "has_number", "has_number_between", "has_number_lt", "has_number_lte", "has_number_eq", "has_number_gte", "has_number_gt":
		d, ok := parseDecimal(v)
		if !ok || d.String() != v {
			fail("not a canonical number")
		}
	case "has_date", "has_date_lt", "has_date_eq", "has_date_gt":
		if _, err := time.Parse("2006-01-02", v); err != nil {
			fail("not a YYYY-MM-DD date")
		}
	case "has_phone":
		if !strings.HasPrefix(v, "+") || len(v) < 4 {
			fail("not E.164")
		}
	}
	switch typ {
	case "has_group", "has_category", "expression", "has_only_text":
		return // the value comes from the contact, a result or the operand as is
	}
	if utf8.ValidString(in) && !utf8.ValidString(v) {
		fail("invalid UTF-8 from valid input")
	}
}

// isBlankRef is what the text rules trim, written apart from their code:
// white space and the invisible format characters (Unicode's Cf).
func isBlankRef(r rune) bool {
	return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r)
}

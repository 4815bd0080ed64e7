package rules

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rivo/uniseg"
	"golang.org/x/text/unicode/norm"

	"github.com/parleyhq/parley/flows"
)

// ruleCase is one rule tested against one input.
type ruleCase struct {
	typ   string
	args  []string
	in    string
	match bool
	value string
}

// runCases compiles each case on its own and matches it with a fresh run made
// by setup (nil: the default run).
func runCases(t *testing.T, cases []ruleCase, setup func(*fakeRun)) {
	t.Helper()
	for _, tc := range cases {
		name := tc.typ + "(" + strings.Join(tc.args, ",") + ")/" + tc.in
		t.Run(name, func(t *testing.T) {
			set, err := Compile(fakeCompiler{}, "rules", []Case{{Type: tc.typ, Args: tc.args, Category: "Hit"}})
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			r := newRun()
			if setup != nil {
				setup(r)
			}
			m, ok := set.Match(r, tc.in)
			if ok != tc.match {
				t.Fatalf("%s %q with %q: matched=%v, want %v (value %q)", tc.typ, tc.in, tc.args, ok, tc.match, m.Value)
			}
			if ok && (m.Value != tc.value || m.Category != "Hit" || m.Index != 0) {
				t.Fatalf("%s %q with %q: got %+v, want value %q", tc.typ, tc.in, tc.args, m, tc.value)
			}
		})
	}
}

func TestWordRules(t *testing.T) {
	runCases(t, []ruleCase{
		// has_all_words: the input's matching words, in input order and case, each once.
		{"has_all_words", []string{"the fox"}, "the quick brown FOX", true, "the FOX"},
		{"has_all_words", []string{"WORD word"}, "this.is.my.word", true, "word"},
		{"has_all_words", []string{"red fox"}, "the quick brown fox", false, ""},
		{"has_all_words", []string{"fox the"}, "The fox and THE hound", true, "The fox THE"},
		{"has_all_words", []string{"fox"}, "", false, ""},
		{"has_all_words", []string{"fox"}, "foxes", false, ""},
		{"has_all_words", []string{"i'm ok"}, "I'M OK!!!", true, "I'M OK"},
		{"has_all_words", []string{"👍"}, "great👍thanks", true, "👍"},
		{"has_all_words", []string{"$ 5"}, "costs $5.", true, "$ 5"},
		{"has_all_words", []string{"straße"}, "STRASSE", false, ""},
		{"has_all_words", []string{"émile"}, "ÉMILE est là", true, "ÉMILE"},
		{"has_all_words", []string{"yes"}, "y-e-s", false, ""},
		// has_any_word
		{"has_any_word", []string{"fox quick"}, "The Quick Brown Fox", true, "Quick Fox"},
		{"has_any_word", []string{"red fox"}, "The Quick Brown Fox", true, "Fox"},
		{"has_any_word", []string{"red green"}, "The Quick Brown Fox", false, ""},
		{"has_any_word", []string{"yes y"}, "Y", true, "Y"},
		{"has_any_word", []string{"yes"}, "yes, yes YES", true, "yes yes YES"},
		{"has_any_word", []string{"😀 👍"}, "ok 👍👍", true, "👍 👍"},
		{"has_any_word", []string{"yes"}, "   ", false, ""},
		{"has_any_word", []string{"i’m"}, "I’m fine", true, "I’m"},
		{"has_any_word", []string{"i'm"}, "I’m fine", true, "I’m"},
		{"has_any_word", []string{"i’m"}, "I'm fine", true, "I'm"},
		{"has_any_word", []string{"m"}, "I’m fine", false, ""},
		// An emoji is one word, the same with or without U+FE0F and in any skin tone.
		{"has_any_word", []string{"yes ❤️ 👍"}, "☹️ no", false, ""},
		{"has_any_word", []string{"yes ❤️ 👍"}, "✖️", false, ""},
		{"has_any_word", []string{"yes ❤️ 👍"}, "I ❤ it", true, "❤"},
		{"has_any_word", []string{"❤"}, "❤️❤️", true, "❤️ ❤️"},
		{"has_any_word", []string{"🇫🇷"}, "🇫🇮", false, ""},
		{"has_any_word", []string{"🇫🇷"}, "vive la 🇫🇷!", true, "🇫🇷"},
		{"has_any_word", []string{"👍🏽"}, "👎🏽", false, ""},
		{"has_any_word", []string{"👍"}, "ok 👍🏽", true, "👍🏽"},
		{"has_any_word", []string{"👍🏽"}, "👍🏿 and 👍", true, "👍🏿 👍"},
		{"has_any_word", []string{"🏽"}, "🏾", false, ""},
		{"has_any_word", []string{"🏽"}, "👍🏽", false, ""},
		{"has_any_word", []string{"1️⃣ one"}, "1", false, ""},
		{"has_any_word", []string{"1️⃣ one"}, "1⃣", true, "1⃣"},
		{"has_any_word", []string{"👨‍👩‍👧"}, "👨 👩", false, ""},
		// A joiner or non-joiner after an emoji joins nothing and is dropped.
		{"has_any_word", []string{"👍"}, "ok 👍\u200d thanks", true, "👍"},
		{"has_any_word", []string{"❤️"}, "❤️\u200c", true, "❤️"},
		{"has_all_words", []string{"👨‍👩"}, "👨‍👩\u200d", true, "👨‍👩"},
		// ‼ ⁉ 〰 〽 are words of their own, with or without U+FE0F.
		{"has_any_word", []string{"‼"}, "wow‼️", true, "‼️"},
		{"has_any_word", []string{"‼️"}, "wow ‼", true, "‼"},
		{"has_any_word", []string{"⁉️"}, "⁉", true, "⁉"},
		{"has_any_word", []string{"〽"}, "〽️", true, "〽️"},
		{"has_any_word", []string{"〰"}, "!!", false, ""},
		// A long word in the argument is compared up to the first
		// difference, not read whole for each word of the input.
		{"has_any_word", []string{strings.Repeat("y", 64000)}, strings.Repeat("a ", 1000) + strings.Repeat("Y", 64000), true, strings.Repeat("Y", 64000)},
		{"has_all_words", []string{"🇩🇪"}, "🇪🇸 and 🇩🇰", false, ""},
		{"has_all_words", []string{"🇩🇪 ok"}, "OK 🇩🇪", true, "OK 🇩🇪"},
		{"has_phrase", []string{"👍🏽"}, "so 👍🏽 there", true, "👍🏽"},
		{"has_only_phrase", []string{"❤️"}, "❤", true, "❤"},
		{"has_any_word", []string{"cáa"}, "cá️a", true, "cá️a"}, // the value in NFC
		// A letter with a selector after it stays in its word, precomposed or not.
		{"has_any_word", []string{"c\u00E1a"}, "c\u00E1\uFE0Fa", true, "c\u00E1\uFE0Fa"},
		{"has_any_word", []string{"hello"}, "hel\uFE0Flo", true, "hel\uFE0Flo"},
		{"has_any_word", []string{"l"}, "hel\uFE0Flo", false, ""},
		{"has_any_word", []string{"ok"}, "ok\uFE0F", true, "ok\uFE0F"},
		{"has_any_word", []string{"ℹ"}, "infoℹ️", true, "ℹ️"},
		{"has_any_word", []string{"1️⃣"}, "a1️⃣", true, "1️⃣"},
		// The zero-width non-joiner and joiner are part of the word they are in.
		{"has_any_word", []string{"می\u200Cخواهم"}, "می روم", false, ""},
		{"has_any_word", []string{"می\u200Cخواهم"}, "من می\u200Cخواهم", true, "می\u200Cخواهم"},
		{"has_any_word", []string{"می"}, "من می\u200Cخواهم", false, ""},
		{"has_only_phrase", []string{"می\u200Cخواهم"}, "می\u200Cخواهم", true, "می\u200Cخواهم"},
		{"has_only_phrase", []string{"می خواهم"}, "می\u200Cخواهم", false, ""},
		{"has_any_word", []string{"क्\u200Dष"}, "क्\u200Dष", true, "क्\u200Dष"},
		{"has_any_word", []string{"ab"}, "a\u200Db", false, ""},
		{"has_any_word", []string{"hello"}, "hello\u200D!", true, "hello"},
		{"has_any_word", []string{"hello"}, "\u200Chello\u200C", true, "hello"},
		{"has_phrase", []string{"aujourd'hui matin"}, "Aujourd’hui matin!", true, "Aujourd’hui matin"},
		// has_phrase
		{"has_phrase", []string{"brown fox"}, "the quick brown fox", true, "brown fox"},
		{"has_phrase", []string{"quick fox"}, "the Quick Brown fox", false, ""},
		{"has_phrase", []string{""}, "the Quick Brown fox", true, ""},
		{"has_phrase", []string{"BROWN fox"}, "the brown, brown... FOX!", true, "brown FOX"},
		{"has_phrase", []string{"a b"}, "a a b", true, "a b"},
		{"has_phrase", []string{"fox"}, "", false, ""},
		// has_only_phrase
		{"has_only_phrase", []string{"quick brown"}, "Quick Brown", true, "Quick Brown"},
		{"has_only_phrase", []string{"quick brown"}, "The Quick Brown Fox", false, ""},
		{"has_only_phrase", []string{""}, "the Quick Brown fox", false, ""},
		{"has_only_phrase", []string{""}, "", true, ""},
		{"has_only_phrase", []string{"quick brown"}, "  quick...BROWN!  ", true, "quick BROWN"},
		{"has_only_phrase", []string{"red fox"}, "The Quick Brown Fox", false, ""},
		{"has_only_phrase", []string{"quick brown"}, "Quick  Brown", true, "Quick Brown"},
		{"has_phrase", []string{"quick brown"}, "Quick\tBrown fox", true, "Quick Brown"},
	}, nil)
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ,.;  ", nil},
		{"this.is.my.word", []string{"this", "is", "my", "word"}},
		{"I'm fine, thanks!", []string{"I'm", "fine", "thanks"}},
		{"I’m fine", []string{"I’m", "fine"}},
		{"‘quoted’ words’ ’tis", []string{"quoted", "words", "tis"}},
		{"l’été", []string{"l’été"}},
		{"snake_case 42 x2", []string{"snake_case", "42", "x2"}},
		{"$5 + 3=8", []string{"$", "5", "+", "3", "=", "8"}},
		{"great👍thanks 👍🏽", []string{"great", "👍", "thanks", "👍🏽"}},
		// An emoji of several code points is one word.
		{"yes ❤️ 👍 ☹️ no ✖️", []string{"yes", "❤️", "👍", "☹️", "no", "✖️"}},
		{"🇫🇷🇫🇮 and 🇩🇪", []string{"🇫🇷", "🇫🇮", "and", "🇩🇪"}},
		{"👍🏽👎🏿", []string{"👍🏽", "👎🏿"}},
		{"us👨‍👩‍👧!", []string{"us", "👨‍👩‍👧"}},
		{"press 1️⃣ or #️⃣, a1⃣", []string{"press", "1️⃣", "or", "#️⃣", "a", "1⃣"}},
		{"ℹ️ info ‼️", []string{"ℹ️", "info", "‼️"}},
		{"🏴󠁧󠁢󠁷󠁬󠁳󠁿 wales", []string{"🏴󠁧󠁢󠁷󠁬󠁳󠁿", "wales"}},
		{"a ️ b⃣", []string{"a", "b⃣"}},
		{"cá️a ︎x", []string{"cá️a", "x"}},
		{"c\u00E1\uFE0Fa hel\uFE0Flo\uFE0E x\uFE0F\u20E3", []string{"c\u00E1\uFE0Fa", "hel\uFE0Flo\uFE0E", "x\uFE0F\u20E3"}},
		{"1\uFE0F ℹ\uFE0E 〽\uFE0F a2\u20E3 ⁉️", []string{"1\uFE0F", "ℹ\uFE0E", "〽\uFE0F", "a", "2\u20E3", "⁉️"}},
		{"می\u200Cخواهم \u200Cx y\u200D\u200C z a\u200C\u200Db", []string{"می\u200Cخواهم", "x", "y", "z", "a\u200C\u200Db"}},
		{"naïve café", []string{"naïve", "café"}},
		{"नमस्ते दुनिया", []string{"नमस्ते", "दुनिया"}},
		{"«oui»—non", []string{"oui", "non"}},
		{"\xff\xfeabc", []string{"abc"}},
	}
	for _, tc := range tests {
		got := tokenWords(tc.in)
		if len(got) == 0 {
			got = nil
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("tokenize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTextRules(t *testing.T) {
	runCases(t, []ruleCase{
		{"has_text", nil, "quick brown", true, "quick brown"},
		{"has_text", nil, "  padded \n", true, "padded"},
		{"has_text", nil, "", false, ""},
		{"has_text", nil, " \n\t", false, ""},
		{"has_text", nil, "👍", true, "👍"},
		// Invisible format characters (Cf) are no text, as spaces are not.
		{"has_text", nil, "\u200b", false, ""},                   // zero width space
		{"has_text", nil, "\u2060 \ufeff\u200b\n", false, ""},    // word joiner, byte-order mark
		{"has_text", nil, "\u200e\u200f\u202a\u00ad", false, ""}, // bidirectional marks, soft hyphen
		{"has_text", nil, "\u200d", false, ""},                   // a zero width joiner alone
		{"has_text", nil, "\ufeff hi\u200b ", true, "hi"},
		{"has_text", nil, "👨\u200d👩\u200d👧", true, "👨\u200d👩\u200d👧"}, // joined emoji kept whole
		{"has_text", nil, "go 🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", true, "go 🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F"}, // the flag of England ends with a tag
		{"has_text", nil, "می\u200cخواهم", true, "می\u200cخواهم"},
		// has_only_text is exact and case-sensitive, as in goflow.
		{"has_only_text", []string{"foo"}, "foo", true, "foo"},
		{"has_only_text", []string{"foo"}, "FOO", false, ""},
		{"has_only_text", []string{"foo"}, " foo ", false, ""},
		{"has_only_text", []string{""}, "", true, ""},
		// has_beginning
		{"has_beginning", []string{"the quick"}, "The Quick Brown", true, "The Quick"},
		{"has_beginning", []string{"the   quick"}, "The Quick Brown", false, ""},
		{"has_beginning", []string{"quick brown"}, "The Quick Brown", false, ""},
		{"has_beginning", []string{" yes "}, "  YES please", true, "YES"},
		{"has_beginning", []string{"yes please"}, "yes", false, ""},
		{"has_beginning", []string{"yes"}, "", false, ""},
		{"has_beginning", []string{"émile"}, "ÉMILE!", true, "ÉMILE"},
		{"has_beginning", []string{"k"}, "\u212a", true, "K"},               // Kelvin sign folds to k, and is K in NFC
		{"has_beginning", []string{"yes"}, "\ufeff\u200bYes!", true, "Yes"}, // format characters before it, as spaces
		{"has_beginning", []string{"\u200byes"}, "yes", true, "yes"},
		{"has_beginning", []string{"\u200b"}, "yes", false, ""}, // an argument of nothing visible, as an empty one
		// has_pattern
		{"has_pattern", []string{`buy (\w+)`}, "Buy cheese please", true, "Buy cheese"},
		{"has_pattern", []string{`buy (\w+)`}, "Sell cheese please", false, ""},
		{"has_pattern", []string{`^yes$`}, "no\nYES", true, "YES"},
		{"has_pattern", []string{`  ^\d{4}$  `}, "1234", true, "1234"},
		{"has_pattern", []string{`x*`}, "", true, ""},
		// has_email
		{"has_email", nil, "my email is foo1@bar.com, please respond", true, "foo1@bar.com"},
		{"has_email", nil, "my email is <foo@bar2.com>", true, "foo@bar2.com"},
		{"has_email", nil, "first.last+tag@mail.example.org.", true, "first.last+tag@mail.example.org"},
		{"has_email", nil, "josé@correo.es", true, "josé@correo.es"},
		{"has_email", nil, "i'm not sharing my email", false, ""},
		{"has_email", nil, "@ handle@nodomain", false, ""},
		// An address ends where its letters change between Latin and another
		// script, as when written against the words around it.
		{"has_email", nil, "我的邮箱是abc@qq.com谢谢", true, "abc@qq.com"},
		{"has_email", nil, "ایمیل من ali@example.comاست", true, "ali@example.com"},
		{"has_email", nil, "メールはtaro.yamada@example.co.jpです", true, "taro.yamada@example.co.jp"},
		{"has_email", nil, "邮箱：谢谢.abc@qq.com-谢谢", true, "abc@qq.com"},
		{"has_email", nil, "写abc@qq谢谢.com", false, ""}, // the domain would be one label
		{"has_email", nil, "写abc@qq谢谢.com or x@y.org", true, "x@y.org"},
		// Addresses wholly in another script, or with parts in different ones, are kept whole.
		{"has_email", nil, "用户@例子.中国", true, "用户@例子.中国"},
		{"has_email", nil, "写信给 用户@例子.中国 吧", true, "用户@例子.中国"},
		{"has_email", nil, "用户@example.com", true, "用户@example.com"},
		{"has_email", nil, "info@例え.jp", true, "info@例え.jp"},
		{"has_email", nil, "почта: иван@пример.рф", true, "иван@пример.рф"},
		{"has_email", nil, "संपर्क@डाटामेल.भारत", true, "संपर्क@डाटामेल.भारत"}, // vowel signs are marks
		{"has_email", nil, "ติดต่อ@ไทยนิค.ไทย", true, "ติดต่อ@ไทยนิค.ไทย"},
		{"has_email", nil, "josé.núñez@correo.es", true, "josé.núñez@correo.es"},
	}, nil)
}

func TestPatternExtra(t *testing.T) {
	set, err := Compile(fakeCompiler{}, "rules", []Case{{Type: "has_pattern", Args: []string{`(?P<verb>buy|sell) (\w+)( now)?`}, Category: "Trade"}})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := set.Match(newRun(), "I want to SELL shares")
	if !ok {
		t.Fatal("no match")
	}
	want := map[string]string{"0": "SELL shares", "1": "SELL", "verb": "SELL", "2": "shares", "3": ""}
	if !reflect.DeepEqual(m.Extra, want) {
		t.Fatalf("Extra = %v, want %v", m.Extra, want)
	}
}

// TestPatternExtraTurkishI: a pattern whose letters i match the Turkish İ
// and ı keeps its groups, numbered and named as written.
func TestPatternExtraTurkishI(t *testing.T) {
	set, err := Compile(fakeCompiler{}, "rules", []Case{{Type: "has_pattern", Args: []string{`(?P<city>istanbul|izmir) (\d+) (gün)?`}, Category: "Trip"}})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := set.Match(newRun(), "İZMİR 3 gün")
	if !ok {
		t.Fatal("no match")
	}
	want := map[string]string{"0": "İZMİR 3 gün", "1": "İZMİR", "city": "İZMİR", "2": "3", "3": "gün"}
	if !reflect.DeepEqual(m.Extra, want) {
		t.Fatalf("Extra = %v, want %v", m.Extra, want)
	}
}

func TestNumberRules(t *testing.T) {
	runCases(t, []ruleCase{
		{"has_number", nil, "the number is 42", true, "42"},
		{"has_number", nil, "the number is forty two", false, ""},
		{"has_number", nil, "I'm 35 years", true, "35"},
		{"has_number", nil, "I'm 35yo", true, "35"},
		{"has_number", nil, "12.5kg", true, "12.5"},
		{"has_number", nil, "1,000 people", true, "1000"},
		{"has_number", nil, "0042.500", true, "42.5"},
		{"has_number", nil, "-3 degrees", true, "-3"},
		{"has_number", nil, "+7", true, "7"},
		{"has_number", nil, "-0", true, "0"},
		{"has_number", nil, "about .5 of it", true, "0.5"},
		{"has_number", nil, "v.5", true, "5"},
		{"has_number", nil, "١٢٣", true, "123"},     // Arabic-Indic digits
		{"has_number", nil, "۴۲ سال", true, "42"},   // Persian digits
		{"has_number", nil, "৩.৫", true, "3.5"},     // Bengali digits
		{"has_number", nil, "½ or 3", true, "3"},    // "½" is numeric but not a digit: skipped
		{"has_number", nil, "𝟙𝟚", true, "12"},       // mathematical digits
		{"has_number", nil, "12.5.6", true, "12.5"}, // the first number
		{"has_number", nil, "", false, ""},          // empty
		{"has_number", nil, ", . - +", false, ""},   // no digits
		{"has_number", nil, "99999999999999999999999999999.123", true, "99999999999999999999999999999.123"},
		// The separators of Arabic and full-width keyboards, as "," and ".".
		{"has_number", nil, "١٬٥٠٠ ريال", true, "1500"}, // Arabic thousands separator U+066C
		{"has_number", nil, "٢٫٥ كيلو", true, "2.5"},    // Arabic decimal separator U+066B
		{"has_number", nil, "١٬٢٣٤٫٥", true, "1234.5"},  // both
		{"has_number", nil, "１，０００円", true, "1000"},     // full-width comma U+FF0C
		{"has_number", nil, "３．５キロ", true, "3.5"},       // full-width full stop U+FF0E
		{"has_number", nil, "约．５", true, "0.5"},         // a bare fraction
		{"has_number", nil, "3．", true, "3"},            // a full stop after a number ends it
		// The full-width comma is also Chinese's everyday comma, written with no
		// space after it: it groups digits only before exactly three.
		{"has_number", nil, "价格1，500元", true, "1500"},
		// The minus sign of word processors, and the full-width signs.
		{"has_number", nil, "\u22125 degrees", true, "-5"},
		{"has_number", nil, "\uFF0D３．５", true, "-3.5"},
		{"has_number", nil, "\uFF0B7", true, "7"},
		{"has_number_lt", []string{"0"}, "it is \u22122 outside", true, "-2"},
		{"has_number", nil, "选项1，2", true, "1"},
		{"has_number", nil, "我要3，5个", true, "3"},
		{"has_number", nil, "1500，2000", true, "1500"},
		{"has_number_gt", []string{"1"}, "选项1，2", true, "2"},
		{"has_number_gt", []string{"1000"}, "٢٫٥ و ١٬٥٠٠", true, "1500"},
		{"has_number_between", []string{"3", "4"}, "３．５", true, "3.5"},
		// comparisons: the first number that passes wins, as in goflow
		{"has_number_between", []string{"40", "44"}, "the number is 42", true, "42"},
		{"has_number_between", []string{"50", "60"}, "the number is 42", false, ""},
		{"has_number_between", []string{"1", "10"}, "between 1 and 10: 10", true, "1"},
		{"has_number_between", []string{"-5", "-1"}, "it was -3.5 outside", true, "-3.5"},
		{"has_number_lt", []string{"44"}, "the number is 42", true, "42"},
		{"has_number_lt", []string{"40"}, "the number is 42", false, ""},
		{"has_number_lt", []string{"0"}, "-0.001", true, "-0.001"},
		{"has_number_lte", []string{"42"}, "the number is 42", true, "42"},
		{"has_number_lte", []string{"42"}, "42.0001", false, ""},
		{"has_number_eq", []string{"42"}, "the number is 42.00", true, "42"},
		{"has_number_eq", []string{"42"}, "the number is 40", false, ""},
		{"has_number_eq", []string{"0.5"}, ".50", true, "0.5"},
		{"has_number_gte", []string{"42"}, "the number is 42", true, "42"},
		{"has_number_gte", []string{"45"}, "the number is 42", false, ""},
		{"has_number_gt", []string{"40"}, "the number is 42", true, "42"},
		{"has_number_gt", []string{"42"}, "the number is 42", false, ""},
		{"has_number_gt", []string{"30"}, "2 kids, aged 40 and 45", true, "40"},
		{"has_number_gt", []string{"9"}, "10", true, "10"},
		{"has_number_gt", []string{"9.99"}, "10", true, "10"},
		{"has_number_lt", []string{"-10"}, "-9", false, ""},
		{"has_number_gt", []string{"-10"}, "-9", true, "-9"},
	}, nil)
}

func TestDecimalCompare(t *testing.T) {
	nums := []string{"-100", "-10.5", "-10", "-0.01", "0", "0.001", "0.01", "0.1", "0.5", "1", "9.99", "10", "10.01", "100"}
	for i, a := range nums {
		for j, b := range nums {
			da, ok1 := parseDecimal(a)
			db, ok2 := parseDecimal(b)
			if !ok1 || !ok2 {
				t.Fatalf("parse %q %q", a, b)
			}
			want := cmpInt(i, j)
			if got := da.cmp(db); got != want {
				t.Errorf("cmp(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
	for _, bad := range []string{"", "-", ".", "1.", "abc", "1,000", "1e5", "1.2.3", "--1"} {
		if d, ok := parseDecimal(bad); ok {
			t.Errorf("parseDecimal(%q) = %v, want failure", bad, d)
		}
	}
}

func TestDateRules(t *testing.T) {
	// The run's clock is 2026-03-15.
	runCases(t, []ruleCase{
		{"has_date", nil, "the date is 15/01/2017", true, "2017-01-15"},
		{"has_date", nil, "the date is 2017-01-15", true, "2017-01-15"},
		{"has_date", nil, "2017-01-15T10:00:00Z", true, "2017-01-15"},
		{"has_date", nil, "born 1.2.1990", true, "1990-02-01"},
		{"has_date", nil, "3 4 99", true, "1999-04-03"},
		// Digits of any script, as has_number and has_phone read them.
		{"has_date", nil, "١٥/٠١/٢٠١٧", true, "2017-01-15"},
		{"has_date", nil, "जन्म १५.०१.२०१७", true, "2017-01-15"},
		{"has_date", nil, "１５．０１．２０１７", true, "2017-01-15"}, // full-width digits and full stops
		{"has_date", nil, "3 4 26", true, "2026-04-03"},
		{"has_date", nil, "31/02/2020 or 29/02/2020", true, "2020-02-29"},
		{"has_date", nil, "there is no date here, just a year 2017", false, ""},
		{"has_date", nil, "13/13/2020", false, ""},
		{"has_date", nil, "", false, ""},
		{"has_date", nil, "registered 2020-01-01, born 12/03/1990", true, "2020-01-01"},
		{"has_date", nil, "born 12/03/1990, registered 2020-01-01", true, "1990-03-12"},
		{"has_date_lt", []string{"2017-06-01"}, "the date is 15/01/2017", true, "2017-01-15"},
		{"has_date_lt", []string{"2017-01-15"}, "the date is 15/01/2017", false, ""},
		{"has_date_eq", []string{"2017-01-15"}, "the date is 15/01/2017 15:00", true, "2017-01-15"},
		{"has_date_eq", []string{"2017-01-15"}, "16-01-2017", false, ""},
		{"has_date_gt", []string{"2017-01-01"}, "the date is 15/01/2017", true, "2017-01-15"},
		{"has_date_gt", []string{"2017-03-15"}, "the date is 15/01/2017", false, ""},
		{"has_date_lt", []string{"today"}, "14/03/2026", true, "2026-03-14"},
		{"has_date_lt", []string{"today"}, "15/03/2026", false, ""},
		{"has_date_eq", []string{"Tomorrow"}, "16.03.2026", true, "2026-03-16"},
		{"has_date_eq", []string{"yesterday"}, "2026-03-14", true, "2026-03-14"},
		{"has_date_gt", []string{"01/03/2026"}, "02/03/2026", true, "2026-03-02"},
	}, nil)

	// Month-first and year-first environments.
	runCases(t, []ruleCase{
		{"has_date", nil, "01/15/2017", true, "2017-01-15"},
		{"has_date", nil, "15/01/2017", false, ""},
		{"has_date_gt", []string{"03/01/2026"}, "03/02/2026", true, "2026-03-02"},
	}, func(r *fakeRun) { r.dateFormat = DateFormatMonthDayYear })
	runCases(t, []ruleCase{
		{"has_date", nil, "2017/01/15", true, "2017-01-15"},
		{"has_date", nil, "17.1.15", true, "2017-01-15"},
		{"has_date", nil, "15/01/2017", false, ""},
	}, func(r *fakeRun) { r.dateFormat = DateFormatYearMonthDay })
}

func TestPhoneRule(t *testing.T) {
	runCases(t, []ruleCase{
		{"has_phone", nil, "my number is +12067799294 thanks", true, "+12067799294"},
		{"has_phone", []string{"US"}, "my number is 2067799294", true, "+12067799294"},
		{"has_phone", []string{"us"}, "my number is (206) 779-9294", true, "+12067799294"},
		{"has_phone", []string{"RW"}, "call 0788 123 123", true, "+250788123123"},
		{"has_phone", []string{"US"}, "my number is none of your business", false, ""},
		{"has_phone", nil, "my number is 2067799294", false, ""}, // no country: needs +
		{"has_phone", []string{"US"}, "12345", false, ""},
		{"has_phone", nil, "", false, ""},
		{"has_phone", []string{""}, "+12067799294", true, "+12067799294"},
		// Digits of other scripts, as has_number reads them.
		{"has_phone", nil, "رقمي +٩٧١٥٠١٢٣٤٥٦٧ شكرا", true, "+971501234567"},
		{"has_phone", nil, "+٩٧١ ٥٠ ١٢٣ ٤٥٦٧", true, "+971501234567"},
		{"has_phone", []string{"IN"}, "मेरा नंबर ९८७६५ ४३२१० है", true, "+919876543210"},
		{"has_phone", nil, "+९१ ९८७६५-४३२१०", true, "+919876543210"},
		{"has_phone", []string{"IR"}, "شماره من ۰۹۱۲ ۳۴۵ ۶۷۸۹", true, "+989123456789"},
		{"has_phone", []string{"EG"}, "٠١٠٠ ١٢٣ ٤٥٦٧", true, "+201001234567"},
		{"has_phone", []string{"US"}, "٢٠٦٧٧٩", false, ""},
		// The spaces, dashes and signs of other keyboards, as the ASCII ones.
		{"has_phone", []string{"US"}, "call me at (206)\u00a0779-9294", true, "+12067799294"}, // no-break space
		{"has_phone", []string{"US"}, "206\u202f779\u202f9294", true, "+12067799294"},         // narrow no-break space
		{"has_phone", []string{"US"}, "206\u2011779\u20119294", true, "+12067799294"},         // non-breaking hyphen
		{"has_phone", []string{"US"}, "206\u2012779\u20139294", true, "+12067799294"},         // figure dash, en dash
		{"has_phone", []string{"US"}, "206\u2212779\u22129294", true, "+12067799294"},         // minus sign
		{"has_phone", nil, "電話：＋１\u3000２０６－７７９－９２９４", true, "+12067799294"},                   // full-width plus, digits, hyphens, ideographic space
		{"has_phone", []string{"JP"}, "（０３）１２３４－５６７８", true, "+81312345678"},                  // full-width parentheses
		{"has_phone", nil, "+44\u00a020\u00a07946\u00a00958", true, "+442079460958"},
	}, nil)
	runCases(t, []ruleCase{
		{"has_phone", nil, "0788 123 123", true, "+250788123123"},
	}, func(r *fakeRun) { r.country = "RW" })
}

func TestContactRules(t *testing.T) {
	withState := func(r *fakeRun) {
		r.sess.Contact.Groups = []string{"Testers", "Nurses"}
		r.sess.Frames[0].Results["webhook_result"] = &flows.Result{Name: "Webhook Result", Value: "200", Category: "Success"}
		r.env["age"] = 20
	}
	runCases(t, []ruleCase{
		{"has_group", []string{"testers"}, "", true, "Testers"},
		{"has_group", []string{"b7cf0d83-f1c9-411c-96fd-c511a4cfa86d", "Nurses"}, "ignored", true, "Nurses"},
		{"has_group", []string{"Doctors"}, "", false, ""},
		{"has_category", []string{"Webhook Result", "Success", "Failure"}, "", true, "Success"},
		{"has_category", []string{"webhook_result", "success"}, "", true, "Success"},
		{"has_category", []string{"Webhook Result", "Failure"}, "", false, ""},
		{"has_category", []string{"Missing", "Success"}, "", false, ""},
		{"expression", []string{"age >= 18"}, "adult?", true, "adult?"},
		{"expression", []string{"age < 18"}, "adult?", false, ""},
		{"expression", []string{"age + 1"}, "x", false, ""},
	}, withState)
	// Without groups or results nothing matches.
	runCases(t, []ruleCase{
		{"has_group", []string{"Testers"}, "", false, ""},
		{"has_category", []string{"Webhook Result", "Success"}, "", false, ""},
	}, nil)
}

func TestExpressionErrorEmitsEvent(t *testing.T) {
	set, err := Compile(fakeCompiler{}, "rules", []Case{
		{Type: "expression", Args: []string{`int("x") > 1`}, Category: "Broken"},
		{Type: "has_text", Category: "Text"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := newRun()
	m, ok := set.Match(r, "hello")
	if !ok || m.Category != "Text" || m.Index != 1 {
		t.Fatalf("got %+v %v, want the has_text case", m, ok)
	}
	if len(r.events) != 1 || r.events[0].Type != flows.EventError || !strings.Contains(r.events[0].Message, "rules[0] expression") {
		t.Fatalf("events = %+v, want one error naming rules[0]", r.events)
	}
}

func TestTemplateArguments(t *testing.T) {
	set, err := Compile(fakeCompiler{}, "rules", []Case{
		{Type: "has_number_gt", Args: []string{"@contact.fields.age"}, Category: "Older"},
		{Type: "has_pattern", Args: []string{"@fields.pattern"}, Category: "Pattern"},
		{Type: "has_any_word", Args: []string{"@fields.words"}, Category: "Word"},
		{Type: "has_date_lt", Args: []string{"@fields.deadline"}, Category: "Early"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		vars   map[string]string
		in     string
		cat    string
		value  string
		events int
	}{
		{map[string]string{"@contact.fields.age": "30"}, "I'm 35", "Older", "35", 0},
		{map[string]string{"@contact.fields.age": "40", "@fields.pattern": `^i'm (\d+)`}, "I'm 35", "Pattern", "I'm 35", 0},
		// a field that is not a number: the number rule does not match, and says why
		{map[string]string{"@contact.fields.age": "", "@fields.pattern": `^$`, "@fields.words": "red blue"}, "Blue", "Word", "Blue", 1},
		// an invalid pattern from a field: error event, no match, no panic
		{map[string]string{"@contact.fields.age": "99", "@fields.pattern": `(`, "@fields.words": "x"}, "I'm 35", "", "", 2},
		{map[string]string{"@contact.fields.age": "99999", "@fields.pattern": `^$`, "@fields.words": "x", "@fields.deadline": "01/02/2020"}, "31/01/2020", "Early", "2020-01-31", 0},
		{map[string]string{"@contact.fields.age": "99999", "@fields.pattern": `^$`, "@fields.words": "x", "@fields.deadline": "soon"}, "31/01/2020", "", "", 1},
	}
	for i, tc := range tests {
		r := newRun()
		r.vars = tc.vars
		m, ok := set.Match(r, tc.in)
		if ok != (tc.cat != "") || m.Category != tc.cat || m.Value != tc.value {
			t.Errorf("%d: got %+v %v, want %q %q", i, m, ok, tc.cat, tc.value)
		}
		if len(r.events) != tc.events {
			t.Errorf("%d: %d events %+v, want %d", i, len(r.events), r.events, tc.events)
		}
	}
}

func TestFirstMatchWinsAndCategories(t *testing.T) {
	set, err := Compile(fakeCompiler{}, "rules", []Case{
		{Type: "has_any_word", Args: []string{"yes y"}, Category: "Yes"},
		{Type: "has_any_word", Args: []string{"no n"}, Category: "No"},
		{Type: "has_beginning", Args: []string{"ok"}, Category: "Yes"},
		{Type: "has_number", Category: "Number"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := set.Categories(), []string{"Yes", "No", "Number"}; !slices.Equal(got, want) {
		t.Fatalf("Categories = %q, want %q", got, want)
	}
	tests := []struct {
		in    string
		index int
		cat   string
	}{
		{"no, yes", 0, "Yes"},
		{"nope n", 1, "No"},
		{"okay", 2, "Yes"},
		{"7", 3, "Number"},
		{"maybe", -1, ""},
	}
	for _, tc := range tests {
		m, ok := set.Match(newRun(), tc.in)
		if ok != (tc.index >= 0) || ok && (m.Index != tc.index || m.Category != tc.cat) {
			t.Errorf("%q: got %+v %v, want index %d %q", tc.in, m, ok, tc.index, tc.cat)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []Case{
		{Type: "has_text", Category: "OK"},                                     // 0: fine
		{Type: "has_colour", Args: []string{"red"}, Category: "Red"},           // 1
		{Type: "has_number_gt", Args: []string{"ten"}, Category: "Big"},        // 2
		{Type: "has_pattern", Args: []string{"(unclosed"}, Category: "P"},      // 3
		{Type: "has_all_words", Category: "W"},                                 // 4
		{Type: "has_date_lt", Args: []string{"next week"}, Category: "D"},      // 5
		{Type: "expression", Args: []string{"age >"}, Category: "E"},           // 6
		{Type: "has_number_between", Args: []string{"10", "1"}, Category: "B"}, // 7
		{Type: "has_phone", Args: []string{"XX"}, Category: "Phone"},           // 8
		{Type: "has_any_word", Args: []string{"@(fields.x"}, Category: "T"},    // 9
		{Type: "has_text"}, // 10
		{Type: "has_wait_timeout", Category: "Timeout"},                        // 11
		{Type: "has_all_words", Args: []string{"  "}, Category: "W"},           // 12
		{Type: "has_text", Args: []string{"x"}, Category: "X"},                 // 13
		{Type: "has_any_word", Args: []string{"..."}, Category: "A"},           // 14
		{Type: "has_all_words", Args: []string{" , "}, Category: "B"},          // 15
		{Type: "has_any_word", Args: []string{"@fields.words"}, Category: "C"}, // 16: checked when it runs
		{Type: "has_phrase", Args: []string{"..."}, Category: "D"},             // 17: always matches, as documented
		{Type: "has_any_word", Args: []string{"$"}, Category: "E"},             // 18: a symbol is a word
	}
	_, err := Compile(fakeCompiler{}, "rules", cases)
	if err == nil {
		t.Fatal("Compile accepted bad rules")
	}
	want := map[string]string{
		"rules[1].type":      `unknown rule type "has_colour"`,
		"rules[2].args[0]":   `expected a number, got "ten"`,
		"rules[3].args[0]":   "invalid regular expression",
		"rules[4].args":      "has_all_words takes 1 argument (words), got 0",
		"rules[5].args[0]":   `expected a date`,
		"rules[6].args[0]":   "unexpected token",
		"rules[7].args":      "min 10 is greater than max 1",
		"rules[8].args[0]":   `unknown country code "XX"`,
		"rules[9].args[0]":   "unclosed @(",
		"rules[10].category": "missing category",
		"rules[11].type":     "a timeout is an exit",
		"rules[12].args[0]":  "needs a non-empty argument",
		"rules[13].args":     "has_text takes no arguments, got 1",
		"rules[14].args[0]":  `has_any_word needs at least one word to look for, and "..." has none: punctuation only separates words`,
		"rules[15].args[0]":  `has_all_words needs at least one word to look for, and " , " has none`,
	}
	got := map[string]string{}
	var multi interface{ Unwrap() []error }
	if !errors.As(err, &multi) {
		t.Fatalf("error is not joined: %v", err)
	}
	for _, e := range multi.Unwrap() {
		var fe *flows.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a *flows.FieldError", e)
		}
		got[fe.Path] = fe.Message
	}
	for path, msg := range want {
		if !strings.Contains(got[path], msg) {
			t.Errorf("%s: got %q, want it to contain %q", path, got[path], msg)
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok {
			t.Errorf("unexpected error at %s: %s", path, got[path])
		}
	}
	if !errors.Is(err, flows.ErrBadRegex) || !errors.Is(err, flows.ErrBadExpression) || !errors.Is(err, flows.ErrBadTemplate) {
		t.Errorf("sentinels not reachable with errors.Is: %v", err)
	}
}

func TestDynamicArgumentsAreNotCheckedAtCompile(t *testing.T) {
	// Templates with variables can only be checked when rendered.
	_, err := Compile(fakeCompiler{}, "rules", []Case{
		{Type: "has_number_gt", Args: []string{"@contact.fields.age"}, Category: "A"},
		{Type: "has_pattern", Args: []string{"@fields.re"}, Category: "B"},
		{Type: "has_date_lt", Args: []string{"$user.key.deadline"}, Category: "C"},
		{Type: "has_pattern", Args: []string{`^\d+$`}, Category: "D"}, // "$" anchor: static and valid
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTypes(t *testing.T) {
	names := Types()
	if !slices.IsSorted(names) {
		t.Fatalf("Types not sorted: %q", names)
	}
	for _, want := range []string{"has_all_words", "has_any_word", "has_phrase", "has_only_phrase", "has_beginning",
		"has_text", "has_only_text", "has_pattern", "has_number", "has_number_between", "has_number_lt", "has_number_lte",
		"has_number_eq", "has_number_gte", "has_number_gt", "has_date", "has_date_lt", "has_date_eq", "has_date_gt",
		"has_email", "has_phone", "has_category", "has_group", "expression"} {
		if !slices.Contains(names, want) {
			t.Errorf("Types lacks %s", want)
		}
		if _, ok := Describe(want); !ok {
			t.Errorf("Describe(%s) failed", want)
		}
	}
	if slices.Contains(names, "has_wait_timeout") {
		t.Error("has_wait_timeout is an exit, not a rule")
	}
	info, _ := Describe("has_number_between")
	if info.MinArgs != 2 || info.MaxArgs != 2 || !slices.Equal(info.Args, []string{"min", "max"}) {
		t.Errorf("Describe(has_number_between) = %+v", info)
	}
}

func TestNilSetMatchesNothing(t *testing.T) {
	var s *Set
	if _, ok := s.Match(newRun(), "x"); ok {
		t.Fatal("nil set matched")
	}
}

// TestTokenizeLinear checks that tokenising reads each byte of the input a
// bounded number of times, whatever the input: runs of selectors, of marks or
// spaces before selectors, of joiners, flags or keycaps once made the
// tokeniser segment the rest of the run again at every rune.
func TestTokenizeLinear(t *testing.T) {
	scanned := 0
	firstCluster = func(s string, state int) (string, string, int, int) {
		c, rest, w, st := uniseg.FirstGraphemeClusterInString(s, state)
		scanned += len(c)
		if _, n := utf8.DecodeRuneInString(rest); n > 0 {
			scanned += n // the character uniseg looked at to end the cluster
		}
		return c, rest, w, st
	}
	t.Cleanup(func() { firstCluster = uniseg.FirstGraphemeClusterInString })
	const n = 100_000
	for _, tc := range []struct{ name, unit string }{
		{"selectors", "\uFE0F"},
		{"text selectors", "\uFE0E"},
		{"keycaps", "\u20E3"},
		{"space and selector", " \uFE0F"},
		{"mark and selector", "\u0301\uFE0F"},
		{"letter and selector", "a\uFE0F"},
		{"precomposed letter and selector", "\u00E1\uFE0F"},
		{"digit and selector", "1\uFE0F"},
		{"joiners", "\u200D"},
		{"letter and joiners", "a\u200D\u200C\u200D\u200C"},
		{"emoji and joiner", "👍\u200D"},
		{"joiner and selector", "\u200D\uFE0F"},
		{"flags", "🇫"},
		{"keycap sequences", "1\uFE0F\u20E3"},
		{"skin tones", "🏽"},
		{"plain", "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.Repeat(tc.unit, n/utf8.RuneCountInString(tc.unit)) + " yes"
			scanned = 0
			var buf [64]span
			toks := tokenize(in, buf[:0])
			if last := toks[len(toks)-1]; in[last.start:last.end] != "yes" {
				t.Errorf("last word %q, want yes", in[last.start:last.end])
			}
			if scanned > 2*len(in) {
				t.Errorf("segmenting %d bytes read %d bytes, want at most %d", len(in), scanned, 2*len(in))
			}
		})
	}
}

// TestManyWordsLinear checks that the word rules compare a bounded number of
// words per word of the input and of the argument, however many both have: a
// template argument can render thousands of words (an earlier answer), and
// comparing each with each would take seconds of a turn.
func TestManyWordsLinear(t *testing.T) {
	compared := 0
	compareWords = func(a, b string) bool { compared++; return sameWord(a, b) }
	t.Cleanup(func() { compareWords = sameWord })
	const n = 5_000
	many := func(w string, n int) string { return strings.TrimSpace(strings.Repeat(w+" ", n)) }
	for _, tc := range []struct {
		typ, arg, in string
		match        bool
		value        string
	}{
		{"has_all_words", many("a", n) + " z", many("b", n) + " Z", false, ""},
		{"has_all_words", many("a", n) + " z", many("b", n) + " Z a", true, "Z a"},
		{"has_any_word", many("a", n) + " 👍", many("b", n), false, ""},
		{"has_any_word", many("a", n) + " 👍", many("b", n) + " 👍🏽", true, "👍🏽"},
		{"has_phrase", many("a", n) + " b", many("a", 2*n), false, ""},
		{"has_phrase", many("a", n) + " b", many("A", 2*n) + " b", true, many("A", n) + " b"},
		{"has_only_phrase", many("a", n), many("A", n), true, many("A", n)},
		{"has_phrase", many("a", 20) + " b a", many("a", 25) + " b b " + many("a", 20) + " b A x", true, many("a", 20) + " b A"},
		{"has_phrase", many("ab ab c", 10), many("ab ab", 10) + " c " + many("ab ab c", 10), true, many("ab ab c", 10)},
		{"has_any_word", many("x", 20) + " fox quick", "The Quick Brown Fox", true, "Quick Fox"},
		{"has_all_words", many("x", 20) + " fox the", "The fox and THE hound x", true, "The fox THE x"},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			set, err := Compile(fakeCompiler{}, "rules", []Case{{Type: tc.typ, Args: []string{"@arg"}, Category: "Hit"}})
			if err != nil {
				t.Fatal(err)
			}
			r := newRun()
			r.vars["@arg"] = tc.arg
			compared = 0
			m, ok := set.Match(r, tc.in)
			if ok != tc.match || ok && m.Value != tc.value {
				t.Errorf("matched=%v value %.40q, want %v %.40q", ok, m.Value, tc.match, tc.value)
			}
			words := 2*n + 2
			if tc.typ == "has_phrase" {
				words = 3*n + 2
			}
			if compared > 4*words {
				t.Errorf("%d words compared %d times, want at most %d", words, compared, 4*words)
			}
		})
	}
}

// TestWordKey: two words have the same key exactly when sameWord finds them
// the same, so the rules read the same with few words or many.
func TestWordKey(t *testing.T) {
	words := []string{"yes", "YES", "Yes", "yés", "straße", "STRASSE", "ſ", "s", "S", "K", "\u212A", "k",
		"σ", "ς", "Σ", "İ", "i", "ı", "I'm", "i’m", "I’M", "’", "'", "❤", "❤️", "❤︎", "👍", "👍🏽", "👍🏿",
		"👎🏽", "🏽", "🏽️", "🏾", "️", "︎", "1️⃣", "1⃣", "1", "🇫🇷", "🇫🇮", "hel️lo", "hello", "می‌خواهم", "میخواهم",
		"a\u200Db", "ab", "\uFFFD", ""}
	for _, a := range words {
		for _, b := range words {
			if same, keys := sameWord(a, b), wordKey(a) == wordKey(b); same != keys {
				t.Errorf("%q and %q: sameWord %v, same key %v (%q, %q)", a, b, same, keys, wordKey(a), wordKey(b))
			}
		}
	}
}

// TestCommaReadings: the number rules drop a comma wherever it is among the
// digits, as goflow reads numbers ("1,5" is 15, never one and a half), and
// ParseNumber, which number(text) reads with, takes commas only between
// groups of three: rules.md and flow-format.md say each.
func TestCommaReadings(t *testing.T) {
	runCases(t, []ruleCase{
		{"has_number", nil, "1,5", true, "15"},
		{"has_number", nil, "12,34", true, "1234"},
		{"has_number", nil, "1,0000", true, "10000"},
		{"has_number_gt", []string{"10"}, "1,5", true, "15"},
	}, nil)
	for in, want := range map[string]string{"1,000": "1000", "12,345,678.5": "12345678.5", "٣,٠٠٠": "3000", "1,5": "", "12,34": "", "1,0000": "", ",5": "", "3,": ""} {
		got, ok := ParseNumber(in)
		if ok != (want != "") || got != want {
			t.Errorf("ParseNumber(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// TestTurkishI: the Turkish capital İ and small ı, which simple case folding
// leaves apart from i and I, are read as i, so a contact whose keyboard
// capitalises "iptal" as "İptal" or writes "HAYIR" is routed as meant, and
// an English "I" still matches "i".
func TestTurkishI(t *testing.T) {
	runCases(t, []ruleCase{
		{"has_any_word", []string{"iptal"}, "İptal", true, "İptal"},
		{"has_any_word", []string{"İPTAL"}, "iptal lütfen", true, "iptal"},
		{"has_any_word", []string{"hayır"}, "HAYIR", true, "HAYIR"},
		{"has_any_word", []string{"HAYIR"}, "hayır", true, "hayır"},
		{"has_all_words", []string{"siparişimi iptal"}, "SİPARİŞİMİ İPTAL ET", true, "SİPARİŞİMİ İPTAL"},
		{"has_phrase", []string{"iptal et"}, "lütfen İptal Et", true, "İptal Et"},
		{"has_only_phrase", []string{"hayır"}, "Hayır!", true, "Hayır"},
		{"has_beginning", []string{"iptal"}, "İPTAL et", true, "İPTAL"},
		{"has_beginning", []string{"hayır"}, "HAYIR teşekkürler", true, "HAYIR"},
		{"has_any_word", []string{"i"}, "I think so", true, "I"},
		{"has_beginning", []string{"i think"}, "I THINK so", true, "I THINK"},
		{"has_any_word", []string{"iptal"}, "ipta", false, ""},
		// has_pattern: a letter i of the pattern, where case is ignored,
		// matches them too; the match and its groups are as the input wrote them.
		{"has_pattern", []string{"istanbul"}, "İSTANBUL'a gidiyorum", true, "İSTANBUL"},
		{"has_pattern", []string{"^(evet|hayır)$"}, "HAYIR", true, "HAYIR"},
		{"has_pattern", []string{"İptal"}, "iptal et", true, "iptal"},
		{"has_pattern", []string{`\x{130}PTAL`}, "ıptal", true, "ıptal"},
		{"has_pattern", []string{"(?P<no>hayır)"}, "Hayir", true, "Hayir"},
		{"has_pattern", []string{"i think"}, "I THINK so", true, "I THINK"},
		// Written case-sensitive, or in a class, a pattern says which it takes.
		{"has_pattern", []string{"(?-i)istanbul"}, "İstanbul", false, ""},
		{"has_pattern", []string{`^\w+$`}, "İstanbul", false, ""},
		{"has_pattern", []string{"hay[ı]r"}, "Hayir", false, ""},
		{"has_pattern", []string{"iptal"}, "ipta", false, ""},
	}, nil)
	// Many words are looked up by key: the same answers.
	many := "iptal " + strings.Repeat("x ", manyWords)
	runCases(t, []ruleCase{
		{"has_any_word", []string{many}, "İptal", true, "İptal"},
		{"has_all_words", []string{many}, "İPTAL x", true, "İPTAL x"},
	}, nil)
}

// TestComposedAndDecomposed: an accent written as a combining mark after its
// letter (NFD, as some keyboards and systems send it) is the same as the
// accented letter (NFC), in the input and in the argument; has_beginning
// never ends inside a letter and its marks; "ʼ" (U+02BC), as Ukrainian
// writes the apostrophe, is read as "'" in words, as "’" is.
func TestComposedAndDecomposed(t *testing.T) {
	runCases(t, []ruleCase{
		{"has_any_word", []string{"café"}, "un cafe\u0301 svp", true, "café"},
		{"has_any_word", []string{"cafe\u0301"}, "un café svp", true, "café"},
		{"has_all_words", []string{"cafe\u0301 crème"}, "Café et cre\u0300me", true, "Café crème"},
		{"has_phrase", []string{"déjà vu"}, "un de\u0301ja\u0300 vu", true, "déjà vu"},
		{"has_only_phrase", []string{"José"}, "Jose\u0301", true, "José"},
		{"has_only_text", []string{"José"}, "Jose\u0301", true, "José"},
		{"has_pattern", []string{`caf(é)`}, "un cafe\u0301", true, "café"},
		{"has_pattern", []string{"cafe\u0301"}, "un café", true, "café"},
		{"has_beginning", []string{"José"}, "Jose\u0301 Maria", true, "José"},
		{"has_beginning", []string{"Jose"}, "Jose\u0301 Maria", false, ""},
		{"has_beginning", []string{"Jose"}, "José Maria", false, ""},
		// No composed letter: the mark stays apart, and the match may not end before it.
		{"has_beginning", []string{"q"}, "q\u0301 ok", false, ""},
		{"has_beginning", []string{"q\u0301"}, "q\u0301 ok", true, "q\u0301"},
		{"has_beginning", []string{"क"}, "कि", false, ""},
		{"has_beginning", []string{"कि"}, "किताब", true, "कि"},
		{"has_beginning", []string{"Jose"}, "Jose Maria", true, "Jose"},
		{"has_any_word", []string{"м'ясо"}, "мʼясо", true, "мʼясо"},
		{"has_any_word", []string{"мʼясо"}, "М’ЯСО", true, "М’ЯСО"},
	}, nil)
	// An argument from a template is read in NFC too.
	runCases(t, []ruleCase{
		{"has_any_word", []string{"@fields.words"}, "un café", true, "café"},
		{"has_beginning", []string{"@fields.words"}, "café noir", true, "café"},
	}, func(r *fakeRun) { r.vars["@fields.words"] = "cafe\u0301" })
}

// TestNFCDoesNotAllocate: ASCII text, and text already in NFC, are matched
// as they are.
func TestNFCDoesNotAllocate(t *testing.T) {
	for _, s := range []string{"hello there", "un café svp", "नमस्ते 👍🏽"} {
		if n := testing.AllocsPerRun(100, func() { _ = nfc(s) }); n != 0 {
			t.Errorf("nfc(%q): %v allocations, want 0", s, n)
		}
	}
}

// TestStableRunes: a text of the characters nfc passes without normalising
// is in NFC in any order, and the table knows the characters that are not.
func TestStableRunes(t *testing.T) {
	var stables []rune
	for r := rune(0x80); r <= 0x1FFFF; r++ {
		if stableRune(r) && (r < 0xD800 || r > 0xDFFF) {
			stables = append(stables, r)
		}
	}
	for _, r := range []rune{'é', 'İ', 'ı', 'न', '👍', '\uFE0F', 'ʼ', '’', '。', 'ß', 'Ω'} {
		if !stableRune(r) {
			t.Errorf("%q (%U): not stable, want stable", r, r)
		}
	}
	for _, r := range []rune{'\u0301', '\u0307', '\u093C', '\u094D', '\u1161', '\u212A', '\u2126', '\u0BBE', '\uF900', '\U0001D15E'} {
		if stableRune(r) {
			t.Errorf("%q (%U): stable, want not", r, r)
		}
	}
	// Pairs of stable characters, and each after and before ASCII, are in NFC.
	for i, a := range stables {
		b := stables[(i*7919)%len(stables)]
		for _, s := range []string{string(a) + string(b), "a" + string(a), string(a) + "a", string(b) + string(a)} {
			if !norm.NFC.IsNormalString(s) {
				t.Fatalf("%q: stable characters, not in NFC", s)
			}
		}
	}
}

// A rule type as close to two types as to each other is told both.
func TestUnknownTypeListsEveryClosest(t *testing.T) {
	for _, c := range []struct{ typ, want string }{
		{"has_only", `rules[0].type: unknown rule type "has_only" (did you mean "has_only_phrase" or "has_only_text"?)`},
		{"has_numbr", `rules[0].type: unknown rule type "has_numbr" (did you mean "has_number"?)`},
	} {
		_, err := Compile(fakeCompiler{}, "rules", []Case{{Type: c.typ, Category: "X"}})
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %s", c.typ, err, c.want)
		}
	}
}

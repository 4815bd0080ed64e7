package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
)

// TestLegacyWords: the legacy_ word functions split words as RapidPro's
// legacy expressions did (runs of letters, marks, digits and _, each emoji
// or currency sign alone; by_spaces at white space only), and count them as
// it did, from 1. The values are RapidPro's own tests' and a reviewer's.
func TestLegacyWords(t *testing.T) {
	checkRendersWarning(t, []renderCase{
		// Punctuation splits words: a date is three, o'brien two.
		{"<@(legacy_word('01-02-2014', 2))> <@(legacy_word_count('01-02-2014'))> <@(legacy_first_word('01-02-2014'))>", "<02> <3> <01>", ""},
		{"<@(legacy_first_word(\"yes, mary-jane o'brien\"))> <@(legacy_word_count(\"yes, mary-jane o'brien\"))> <@(legacy_proper(\"yes, mary-jane o'brien\"))>", "<yes> <5> <Yes, Mary-Jane O'Brien>", ""},
		// by_spaces: white space only.
		{"<@(legacy_word_slice('a.b c', 1, 2, true))> <@(legacy_word_count('a.b c', true))> <@(legacy_word('a.b c', 1, 'TRUE'))> <@(legacy_word('a.b c', 1, false))>", "<a.b> <2> <a.b> <a>", ""},
		{"<@(legacy_word(' abc def ghi', 1))> <@(legacy_word('abc-def  ghi  jkl', 3))> <@(legacy_word('abc-def  ghi  jkl', 3, true))> <@(legacy_word('abc-def  ghi  jkl', '3', 'TRUE'))>", "<abc> <ghi> <jkl> <jkl>", ""},
		{"<@(legacy_word('abc-def  ghi  jkl', -1))> <@(legacy_word(' abc def   ghi', 6))> <@(legacy_word('', 1))> <@(legacy_word('a b c', -2))> <@(legacy_word('a b c', 1.6))>", "<jkl> <> <> <b> <b>", ""},
		{"<@(legacy_word(' واحد إثنان ثلاثة ', 1))> <@(legacy_word(' واحد إثنان ثلاثة ', -1))> <@(legacy_word_count('नमस्ते दुनिया'))>", "<واحد> <ثلاثة> <2>", ""},
		{"<@(legacy_word_count(''))> <@(legacy_word_count(' abc-def  ghi  jkl'))> <@(legacy_word_count(' abc-def  ghi  jkl', false))> <@(legacy_word_count(' abc-def  ghi  jkl', true))>", "<0> <4> <4> <3>", ""},
		{"<@(legacy_word_count(' واحد إثنان-ثلاثة ', false))> <@(legacy_word_count(' واحد إثنان-ثلاثة ', true))> <@(legacy_word_count('we win @game and we 🙌😀 🚁 for €5 \U0001F650'))>", "<3> <2> <11>", ""},
		{"<@(legacy_word_slice(' abc  def ghi-jkl ', 1, 3))> <@(legacy_word_slice(' abc  def ghi-jkl ', 3, 0))> <@(legacy_word_slice(' abc  def ghi-jkl ', 3, 0, true))> <@(legacy_word_slice(' abc  def ghi-jkl ', '3', '0', 'false'))>", "<abc def> <ghi jkl> <ghi-jkl> <ghi jkl>", ""},
		{"<@(legacy_word_slice(' abc  def ghi-jkl ', 3))> <@(legacy_word_slice(' abc  def ghi-jkl ', 2, -1))> <@(legacy_word_slice(' abc  def ghi-jkl ', -1))> <@(legacy_word_slice(' abc  def ghi-jkl ', 2, -1, true))>", "<ghi jkl> <def ghi> <jkl> <def>", ""},
		{"<@(legacy_word_slice(' واحد إثنان ثلاثة ', 1, 3))> <@(legacy_word_slice('a b c', 3, 2))> <@(legacy_word_slice('a b c', -9, 9))>", "<واحد إثنان> <> <a b c>", ""},
		{"<@(legacy_first_word('  '))> <@(legacy_first_word(' abc '))> <@(legacy_first_word(' abc def ghi'))> <@(legacy_first_word(' واحد إثنان ثلاثة '))>", "<> <abc> <abc> <واحد>", ""},
		// The rest of the text, cut after as many characters as the first
		// word has, as RapidPro cut it.
		{"<@(legacy_remove_first_word('abc'))> <@(legacy_remove_first_word(' abc '))> <@(legacy_remove_first_word(' abc def-ghi '))> <@(legacy_remove_first_word('yes, no'))>", "<> <> <def-ghi > <, no>", ""},
		{"<@(legacy_remove_first_word(' واحد '))> <@(legacy_remove_first_word(' واحد إثنان ثلاثة '))> <@(legacy_remove_first_word('  '))>", "<> <إثنان ثلاثة > <>", ""},
		// Python's title(): a letter after a letter is lower case.
		{"<@(legacy_proper('first-second third'))> <@(legacy_proper('واحد abc ثلاثة'))> <@(legacy_proper('2nd PLACE'))> <@(legacy_proper('ǆemal'))>", "<First-Second Third> <واحد Abc ثلاثة> <2Nd Place> <ǅemal>", ""},
		// Bad arguments name the function and the argument.
		{"<@(legacy_word('a b', 0))>", "<>", "legacy_word: words are counted from 1 (-1 for the last), not 0"},
		{"<@(legacy_word_slice('a b', 0, 1))>", "<>", "legacy_word_slice: words are counted from 1 (-1 for the last), not 0"},
		{"<@(legacy_word('a b', 'x'))>", "<>", `legacy_word: number "x" is not a whole number`},
		{"<@(legacy_word_slice('a b', 1, 'y'))>", "<>", `legacy_word_slice: stop "y" is not a whole number`},
		{"<@(legacy_word_count('a b', 'maybe'))>", "<>", `legacy_word_count: by_spaces "maybe" is not TRUE or FALSE`},
	})
}

// TestWords: Parley's own word functions split words as goflow does (runs
// of letters, marks, digits, _ and ', each symbol alone), count them from
// 0, and take the delimiters to split at instead; title() capitalises as
// goflow's does. The values are goflow's documented examples and tests.
func TestWords(t *testing.T) {
	checkRendersWarning(t, []renderCase{
		{`<@(word("bee cat dog", 0))> <@(word("bee.cat,dog", 0))> <@(word("bee.cat,dog", 1))> <@(word("bee.cat,dog", 2))> <@(word("bee.cat,dog", -1))> <@(word("bee.cat,dog", -2))>`, "<bee> <bee> <cat> <dog> <dog> <cat>", ""},
		{`<@(word("bee.*cat,dog", 1, ".*=|"))> <@(word("O'Grady O'Flaggerty", 1, " "))> <@(word("O'Grady O'Flaggerty", 1))> <@(word("O'Grady, hi!", 0))>`, "<cat,dog> <O'Flaggerty> <O'Flaggerty> <O'Grady>", ""},
		{`<@(word("hello World", 1.5))> <@(word("😁 hello World", 0))> <@(word("“SIGN ABCDEF”", 0))> <@(word("mary-jane o'brien", 1))> <@(word("spend$5", 1))>`, "<World> <😁> <SIGN> <jane> <$>", ""},
		// Past the last word: empty (goflow fails the expression).
		{`<@(word(" hello World", 2))> <@(word("", 0))> <@(word("a b", -3))>`, "<> <> <>", ""},
		{`<@(word_count("foo bar"))> <@(word_count(10))> <@(word_count(""))> <@(word_count("😀😃😄😁"))> <@(word_count("bee.*cat,dog", ".*=|"))> <@(word_count("O'Grady O'Flaggerty", " "))> <@(word_count("“SIGN ABCDEF”"))>`, "<2> <1> <0> <4> <2> <2> <2>", ""},
		{`<@(word_count("yes, mary-jane o'brien"))> <@(word_count("01-02-2014"))> <@(word_count("ยกเลิก sasa"))>`, "<4> <3> <2>", ""},
		// word_slice counts from 1, stop excluded, as it always has.
		{`<@(word_slice("bee cat dog", 1, 2))> <@(word_slice("bee cat dog", 1, 3))> <@(word_slice("bee cat dog", 2, 0))> <@(word_slice("bee cat dog", 2))> <@(word_slice("bee cat dog", 3, 4))> <@(word_slice("bee cat dog", 4, 10))> <@(word_slice("bee cat dog", 1, -1))>`, "<bee> <bee cat> <cat dog> <cat dog> <dog> <> <bee cat>", ""},
		{`<@(word_slice("bee.*cat,dog", 2, 0, ".*=|,"))> <@(word_slice("O'Grady O'Flaggerty", 2, 3, " "))> <@(word_slice("post_special_chars_to_webhook", 2, 3, "_"))> <@(word_slice("hello-world from mars", 1, 3))> <@(word_slice("hello-world from mars", 4, 10))> <@(word_slice("a b", 2, 1))>`, "<cat dog> <O'Flaggerty> <special> <hello world> <mars> <>", ""},
		{`<@(word_slice("hello-world from mars", 0, 2))>`, "<>", "word_slice: argument 2 (start) is 0: words are counted from 1"},
		{`<@(word_slice("hello-world from mars", 1, "x"))>`, "<>", `word_slice: argument 3 (stop) is "x", not a number`},
		{`<@(word("a b", flow.nope.value))>`, "<>", "word: argument 2 (n) is not set"},
		{`<@(word("a b", 1e300))>`, "<>", "word: argument 2 (n) is 1" + strings.Repeat("0", 39) + "…, too large for a whole number"},
		{`<@(first_word("Hi there"))> <@(first_word("  "))> <@(first_word("O'Grady, hi"))> <@(first_word("“SIGN ABCDEF”"))>`, "<Hi> <> <O'Grady> <SIGN>", ""},
		{`<@(remove_first_word("foo bar"))> <@(remove_first_word("Hi there. I'm a flow!"))> <@(remove_first_word("hello"))> <@(remove_first_word("\"hello\""))> <@(remove_first_word("don't go"))>`, "<bar> <there. I'm a flow!> <> <> <go>", ""},
		{`<@(remove_first_word("'start' this"))> <@(remove_first_word(" ‘start’ this"))> <@(remove_first_word("     hello World"))> <@(remove_first_word("😁 hello"))> <@(remove_first_word("“SIGN ABCDEF”"))> <@(remove_first_word("ጥሩ ፍሰቶች"))> <@(remove_first_word(""))>`, "<this> <this> <World> <hello> <ABCDEF”> <ፍሰቶች> <>", ""},
		{`<@(title("foo"))> <@(title("ryan lewis"))> <@(title("RYAN LEWIS"))> <@(title(123))> <@(title("mary-jane o'brien"))> <@(title("don't"))> <@(title("ǆemal ‘x’"))>`, "<Foo> <Ryan Lewis> <Ryan Lewis> <123> <Mary-Jane O'Brien> <Don'T> <ǅemal ‘x’>", ""},
	})
}

// TestContactFirstName: @contact.first_name is the first word of the
// name as goflow's contact.first_name is, and first_word(contact.name)
// gives the same.
func TestContactFirstName(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"Ana Lima", "Ana|Ana"},
		{"  Mary-Jane Smith", "Mary|Mary"},
		{"O'Brien, Pat", "O'Brien|O'Brien"},
		{"Dr. Ben", "Dr|Dr"},
		{"", "|"},
	} {
		fx := newFixture(t, nil)
		f := fx.load(t, `{"id": "fn", "widgets": [{"id": "m", "type": "send_message", "text": "@contact.first_name|@(first_word(contact.name))"}]}`)
		_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{ID: "s", Contact: flows.Contact{Name: tc.name, URN: "tel:+5511999990000"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(texts(evs), ""); got != tc.want {
			t.Errorf("name %q: sent %q, want %q", tc.name, got, tc.want)
		}
	}
}

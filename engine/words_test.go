package engine_test

import "testing"

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
		{"<@(legacy_word('a b'))>", "<>", "legacy_word(text, number[, by_spaces]) takes 2 to 3 arguments, got 1"},
	})
}

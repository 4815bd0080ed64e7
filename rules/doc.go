// Package rules holds the tests that routing widgets (wait_for_response, split,
// gather_digits) use to put an input into a category, with the semantics of
// RapidPro's flow engine (goflow's router cases), so flows imported from RapidPro
// route the same way.
//
// A widget decodes its "rules" list into []Case, compiles it once with Compile
// when the flow is loaded, and calls Set.Match for each input: the first case
// that matches gives the category and the value to save. See docs/rules.md for
// every rule type.
//
// The main types:
//   - Case: one rule as written in flow JSON (type, args, category).
//   - Set: a compiled list; immutable and shared by every session of a flow revision.
//   - Match: the winning case, its category and the value the rule extracted.
//
// Arguments are templates. One without variables is checked and parsed when the
// flow is loaded (a number, a date, a regex); one with variables is rendered with
// Run.Render at match time, and a rendering that does not fit the rule (a number
// rule whose argument renders "abc") makes the rule not match and records a
// warning event, never a panic.
//
// Caveats: Run carries no locale, so a Run may implement DateFormatter and
// CountryDefaulter to set how dates are read (default day first) and the country
// for has_phone; the engine's run answers from the flow's "environment". The word rules compare with Unicode simple case folding; an emoji of several code points (a flag, a skin tone) is one word, cut with uniseg's grapheme clusters.
package rules

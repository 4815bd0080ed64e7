package server

import (
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// keyPatterns returns the patterns of the keys a contact's URN may be
// stored under, for the store to find them by seeks (store.ContactKeys):
// every key lookupKeyOf makes normal, the normal URN of a contact query
// (contactQuery.normal), and a few more, which match then refuses. A key
// is made normal by
//
//   - trimming its white space (unicode.IsSpace) at both ends, and after
//     a sim: prefix, which is read in any case;
//   - its scheme in lower case (unicode.ToLower, rune by rune), so each of
//     its runes may be any rune whose lower case is the normal one's;
//   - for a phone scheme (flows.PhoneScheme), the separators of the
//     number's digits (flows.NumberSeparator) dropped, anywhere before the
//     URN's parameters (from a ';', '?' or '#' on), which are kept as
//     written;
//   - for a tel: URN, the scheme may be left out (a key kept without one,
//     which lookupKeyOf reads with tel:).
//
// It returns nil, for the store to read every key, for a normal URN the
// patterns cannot spell: one holding a byte that is not UTF-8 or U+FFFD,
// which such a byte of a key becomes.
func keyPatterns(normal string) []store.KeyPattern {
	if !utf8.ValidString(normal) || strings.ContainsRune(normal, utf8.RuneError) {
		return nil
	}
	spaces := store.KeyPart{Runes: whiteSpace(), Repeat: true}
	pre := store.KeyPattern{spaces}
	inner := normal
	if sandboxScheme(normal) {
		for _, r := range flows.SandboxContactPrefix {
			pre = append(pre, anyCase(r))
		}
		pre = append(pre, spaces)
		inner = normal[len(flows.SandboxContactPrefix):]
	}
	scheme, path, ok := strings.Cut(inner, ":")
	if !ok || scheme == "" {
		return nil
	}
	var body store.KeyPattern
	if flows.PhoneScheme(scheme) {
		seps := store.KeyPart{Runes: numberSeparators(), Repeat: true}
		number, rest := path, ""
		if i := strings.IndexAny(path, ";?#"); i >= 0 {
			number, rest = path[:i], path[i:]
		}
		for _, r := range number {
			body = append(body, seps, one(r))
		}
		body = append(body, seps)
		for _, r := range rest {
			body = append(body, one(r))
		}
	} else {
		for _, r := range path {
			body = append(body, one(r))
		}
	}
	body = append(body, spaces)

	withScheme := slices.Clone(pre)
	for _, r := range scheme {
		withScheme = append(withScheme, anyCase(r))
	}
	withScheme = append(withScheme, one(':'))
	out := []store.KeyPattern{append(withScheme, body...)}
	if scheme == "tel" {
		out = append(out, append(slices.Clone(pre), body...))
	}
	return out
}

func one(r rune) store.KeyPart { return store.KeyPart{Runes: []rune{r}} }

// anyCase is r or any rune whose lower case (unicode.ToLower) is r.
func anyCase(r rune) store.KeyPart {
	runes := append([]rune{r}, upperOf()[r]...)
	slices.Sort(runes)
	return store.KeyPart{Runes: slices.Compact(runes)}
}

// upperOf maps a rune to the other runes unicode.ToLower makes it, read
// once from Unicode's case ranges (every rune ToLower changes is in one).
var upperOf = sync.OnceValue(func() map[rune][]rune {
	m := map[rune][]rune{}
	for _, cr := range unicode.CaseRanges {
		for r := rune(cr.Lo); r <= rune(cr.Hi); r++ {
			if l := unicode.ToLower(r); l != r {
				m[l] = append(m[l], r)
			}
		}
	}
	return m
})

// whiteSpace is the runes strings.TrimSpace trims (unicode.IsSpace),
// ascending.
var whiteSpace = sync.OnceValue(func() []rune { return runesOf(unicode.IsSpace, unicode.White_Space) })

// numberSeparators is the runes NormalURN drops from a phone number
// (flows.NumberSeparator), ascending.
var numberSeparators = sync.OnceValue(func() []rune {
	ascii := &unicode.RangeTable{R16: []unicode.Range16{{Lo: 0, Hi: unicode.MaxASCII, Stride: 1}}}
	return runesOf(flows.NumberSeparator, ascii, unicode.Zs)
})

// runesOf lists, ascending, the runes of tables that keep accepts.
func runesOf(keep func(rune) bool, tables ...*unicode.RangeTable) []rune {
	var out []rune
	add := func(lo, hi, stride rune) {
		for r := lo; r <= hi; r += stride {
			if keep(r) {
				out = append(out, r)
			}
		}
	}
	for _, t := range tables {
		for _, r := range t.R16 {
			add(rune(r.Lo), rune(r.Hi), rune(r.Stride))
		}
		for _, r := range t.R32 {
			add(rune(r.Lo), rune(r.Hi), rune(r.Stride))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

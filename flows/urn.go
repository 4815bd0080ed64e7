package flows

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// NormalURN is a contact's URN as Parley keeps it, so that one person is one
// contact however a sender or a request writes them: the white space
// around it trimmed; its scheme, the part before the first ':', in lower
// case (RFC 3986 schemes are case-insensitive: TEL:+1555 is tel:+1555); and
// for the phone schemes, tel and whatsapp, the address without the white
// space after the ':' and without the visual separators RapidPro also drops
// (white space of any kind, '-', '.', '(', ')', '/'), a leading '+' kept:
// tel:+1 (555) 010-0100 is tel:+15550100100. The part from a ';' (the
// URN's parameters, RFC 3966: ;ext=9, ;phone-context=+44), '?' or '#' on
// is left as it is. A number of digits without '+' stays national: no
// country is guessed. A URN without a ':' is only trimmed: the channel, if
// any, gives it a scheme (see Channel.urnOf in the server).
//
// An already normal URN is returned as it is, without allocating: the
// message path calls this on every message. Control and invisible format
// characters (a line break, U+200B) inside are kept: URNProblem reports
// them, for the caller to refuse the URN.
func NormalURN(urn string) string {
	if urnIsNormal(urn) {
		return urn
	}
	urn = strings.TrimSpace(urn)
	scheme, path, ok := strings.Cut(urn, ":")
	if !ok {
		return urn
	}
	if lower := strings.ToLower(scheme); lower != scheme {
		scheme, urn = lower, lower+":"+path
	}
	if !phoneScheme(scheme) {
		return urn
	}
	path = strings.TrimLeftFunc(path, telSeparator)
	rest := ""
	// The parameters of a tel: URN (RFC 3966: ;ext=, ;phone-context=)
	// are kept as written, with their '-'.
	if i := strings.IndexAny(path, ";?#"); i >= 0 {
		path, rest = path[:i], path[i:]
	}
	var b strings.Builder
	b.Grow(len(scheme) + 1 + len(path) + len(rest))
	b.WriteString(scheme)
	b.WriteByte(':')
	for _, r := range path {
		if !telSeparator(r) {
			b.WriteRune(r)
		}
	}
	b.WriteString(rest)
	return b.String()
}

// phoneScheme reports whether a lower-case scheme's addresses are phone
// numbers, written with separators that are not part of them.
func phoneScheme(scheme string) bool { return scheme == "tel" || scheme == "whatsapp" }

// PhoneScheme reports whether NormalURN writes the addresses of a
// lower-case scheme as phone numbers, without the separators
// (NumberSeparator) of their digits: tel and whatsapp.
func PhoneScheme(scheme string) bool { return phoneScheme(scheme) }

// NumberSeparator reports whether NormalURN drops r from a phone number's
// digits: '-', '.', '(', ')', '/' and the space separators of every script
// (Unicode's Zs).
func NumberSeparator(r rune) bool { return telSeparator(r) }

// telSeparator reports whether r only separates the digits of a phone
// number, for the eye.
func telSeparator(r rune) bool {
	switch r {
	case '-', '.', '(', ')', '/':
		return true
	}
	// The space separators of every script, not a line break or a tab,
	// which are control characters: URNProblem refuses them inside.
	return unicode.Is(unicode.Zs, r)
}

// urnIsNormal reports, in one pass over its bytes, whether NormalURN would
// return urn unchanged (or could not change anything but characters
// URNProblem refuses).
func urnIsNormal(urn string) bool {
	if urn == "" {
		return true
	}
	if first, last := urn[0], urn[len(urn)-1]; first <= ' ' || last <= ' ' || first >= utf8.RuneSelf || last >= utf8.RuneSelf {
		return false // possibly white space at an end: the slow path looks
	}
	colon := strings.IndexByte(urn, ':')
	if colon < 0 {
		return true
	}
	for i := 0; i < colon; i++ {
		if c := urn[i]; 'A' <= c && c <= 'Z' {
			return false
		}
	}
	scheme := urn[:colon]
	if scheme != "tel" && scheme != "whatsapp" {
		return true
	}
	for i := colon + 1; i < len(urn); i++ {
		c := urn[i]
		switch {
		case c == ';' || c == '?' || c == '#':
			return true
		case c >= utf8.RuneSelf:
			return false // white space of other scripts: the slow path looks
		case c <= ' ', c == '-', c == '.', c == '(', c == ')', c == '/':
			return false
		}
	}
	return true
}

// URNProblem says why a URN cannot name a contact as it is written, ""
// when it can: a control character (a line break, a tab) or an invisible
// format character (U+200B ZERO WIDTH SPACE, U+FEFF, a direction mark)
// inside it, which a person reading it cannot see and would make another
// contact of the same address. Call it on NormalURN's answer, which has
// trimmed the white space at the ends.
func URNProblem(urn string) string {
	for i, r := range urn {
		if r >= ' ' && r < 0x7f {
			continue // printable ASCII: the usual URN has nothing else
		}
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			return fmt.Sprintf("holds the invisible character %U at byte %d: write the URN without it", r, i)
		}
	}
	return ""
}

// URNPath is a URN's address: what follows its scheme's ':', or the whole
// of a URN without one.
func URNPath(urn string) string {
	if _, path, ok := strings.Cut(urn, ":"); ok {
		return path
	}
	return urn
}

// TelNumber is the number of a tel: URN (@contact.tel), its scheme read in
// any case as a contact stored before URNs were normalised may have it; ""
// for a URN of another scheme.
func TelNumber(urn string) string {
	if len(urn) >= 4 && strings.EqualFold(urn[:4], "tel:") {
		return urn[4:]
	}
	return ""
}

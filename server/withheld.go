package server

import "strings"

// withheldScheme is the URN scheme of a caller whose number is withheld.
// Such a call is a contact of its own, withheld:<the call's session id>, so
// that withheld callers share neither $user.key.* nor the lock their turns
// take; no sender may have the scheme (urnProblem), so no real contact can
// be one of them.
const withheldScheme = "withheld:"

// withheldCallerIDs are the caller ids Twilio sends for a withheld number,
// lower-cased: the words, and the numbers that spell ANONYMOUS, RESTRICTED,
// BLOCKED and UNKNOWN on a keypad.
var withheldCallerIDs = map[string]bool{
	"anonymous": true, "restricted": true, "unavailable": true, "unknown": true,
	"+266696687": true, "+7378742833": true, "+2562533": true, "+8656696": true,
}

// withheldCaller reports whether a call's from is a withheld number: none
// at all (as Twilio may send it: a blank one is refused as blank), or one of
// withheldCallerIDs in any case, with or without the tel: scheme.
func withheldCaller(from string) bool {
	if from == "" {
		return true
	}
	from = strings.TrimSpace(from)
	if scheme, addr, ok := strings.Cut(from, ":"); ok {
		if !strings.EqualFold(strings.TrimSpace(scheme), "tel") {
			return false
		}
		from = strings.TrimSpace(addr)
		if from == "" {
			return false // "tel:" names no one, and is refused as such
		}
	}
	return withheldCallerIDs[strings.ToLower(from)]
}

// callerURN is the URN of a call's caller: from's on the channel (c nil:
// from's own, else tel:), or, for a withheld number, the call's own, made
// of its session id.
func (c *Channel) callerURN(from, sessionID string) string {
	if withheldCaller(from) {
		return withheldScheme + sessionID
	}
	if c == nil {
		return senderURN("", from)
	}
	return c.urnOf(from)
}

// storesContact reports whether the contact of urn is stored, for the
// sessions of that URN to share: not a withheld caller's, which no request
// can name again (no sender may have the scheme) and nothing would ever
// delete, so that every call from a withheld number would leave a contact
// behind. Such a call's session carries its contact, $user.key.*
// included, for the call.
func storesContact(urn string) bool {
	return urn != "" && !withheldURN(urn)
}

// withheldURN reports whether a URN has the scheme of withheld callers, in
// any case, as URN schemes are compared.
func withheldURN(urn string) bool {
	return len(urn) >= len(withheldScheme) && strings.EqualFold(urn[:len(withheldScheme)], withheldScheme)
}

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
// at all (as Twilio may send it: a blank one is refused as blank), one of
// withheldCallerIDs in any case, with or without the tel: scheme, or an
// anonymous caller of another scheme (anonymousAddress).
func withheldCaller(from string) bool {
	if from == "" {
		return true
	}
	from = strings.TrimSpace(from)
	if scheme, addr, ok := strings.Cut(from, ":"); ok {
		scheme, addr = strings.ToLower(strings.TrimSpace(scheme)), strings.TrimSpace(addr)
		if scheme != "tel" {
			return anonymousAddress(scheme, addr)
		}
		from = addr
		if from == "" {
			return false // "tel:" names no one, and is refused as such
		}
	}
	return withheldCallerIDs[strings.ToLower(from)]
}

// anonymousAddress reports whether addr, of the URN scheme scheme (in lower
// case), names no one but an anonymous caller, in any case: Twilio's
// client:Anonymous (a Voice SDK client that gave no identity), and a SIP
// caller's anonymous identity, whose host is anonymous.invalid (RFC 3261
// 8.1.1.3, RFC 3323's sip:anonymous@anonymous.invalid), its parameters
// (;transport=udp) and headers (?...) aside. Every such caller would
// otherwise be one contact.
func anonymousAddress(scheme, addr string) bool {
	switch scheme {
	case "client":
		return strings.EqualFold(addr, "anonymous")
	case "sip", "sips":
		if i := strings.IndexAny(addr, ";?"); i >= 0 {
			addr = addr[:i]
		}
		_, host, ok := strings.Cut(addr, "@")
		return ok && strings.EqualFold(host, "anonymous.invalid")
	}
	return false
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

package flows

import "github.com/nyaruka/phonenumbers"

// KnownCountry reports whether country, an ISO 3166-1 alpha-2 code in upper
// case (US, GB, BR), names a country whose phone numbers libphonenumber
// knows: one a number can be read in.
func KnownCountry(country string) bool {
	return phonenumbers.GetSupportedRegions()[country]
}

// E164 reads number as a phone number of country (a KnownCountry code; ""
// for none, when only a number written with '+' and its country code
// reads) and writes it in E.164 (+442071234567), when it is a possible
// number there by its length, as goflow's has_phone reads one; ok is false
// when it is not. What number holds besides the number (an extension, a
// letter) is read as libphonenumber reads it: callers that must keep it
// check number first.
func E164(number, country string) (e164 string, ok bool) {
	n, err := phonenumbers.Parse(number, country)
	if err != nil || phonenumbers.IsPossibleNumberWithReason(n) != phonenumbers.IS_POSSIBLE {
		return "", false
	}
	return phonenumbers.Format(n, phonenumbers.E164), true
}

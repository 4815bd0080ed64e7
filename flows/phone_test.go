package flows

import "testing"

// E164 reads a number as has_phone and a channel's country read one: a
// possible number of the country, or one written with its country code.
func TestE164(t *testing.T) {
	tests := []struct {
		number, country string
		want            string // "": not a possible number
	}{
		{"2065551212", "US", "+12065551212"},
		{"206 555 1212", "US", "+12065551212"},
		{"(206) 555-1212", "US", "+12065551212"},
		{"+12065551212", "", "+12065551212"},
		{"+442071234567", "US", "+442071234567"}, // its own country code wins
		{"02071234567", "GB", "+442071234567"},
		{"0803 555 1234", "NG", "+2348035551234"},
		{"2065551212", "", ""},           // national, no country to read it in
		{"5551212", "US", ""},            // possible only locally: not a number to reach
		{"12345", "US", ""},              // too short
		{"206555121212345678", "US", ""}, // too long
		{"hello", "US", ""},
		{"", "US", ""},
		{"2065551212", "XX", ""}, // not a country
		// Read as libphonenumber reads them: the extension is not kept,
		// letters are keypad digits.
		{"2065551212 ext 9", "US", "+12065551212"},
		{"1-800-FLOWERS", "US", "+18003569377"},
	}
	for _, tt := range tests {
		got, ok := E164(tt.number, tt.country)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("E164(%q, %q) = %q, %v; want %q", tt.number, tt.country, got, ok, tt.want)
		}
	}
}

func TestKnownCountry(t *testing.T) {
	for c, want := range map[string]bool{"US": true, "GB": true, "BR": true, "NG": true,
		"us": false, "XX": false, "": false, "001": false, "USA": false, " US": false} {
		if got := KnownCountry(c); got != want {
			t.Errorf("KnownCountry(%q) = %v, want %v", c, got, want)
		}
	}
}

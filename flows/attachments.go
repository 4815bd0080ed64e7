package flows

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Attachments of inbound messages are written as RapidPro and its channel
// gateway (courier) write them, and as outbound messages carry them:
// "CONTENT-TYPE:URL", such as "image/jpeg:https://example.com/p.jpg", and a
// location as "geo:LATITUDE,LONGITUDE" ("geo:-1.2921,36.8219").

// Default limits of an inbound message's attachments; operators change them
// (parley serve --max-attachments, --max-attachment-length).
const (
	DefaultMaxAttachments      = 10
	DefaultMaxAttachmentLength = 2048
)

// GeoType is the content type of a location attachment.
const GeoType = "geo"

// AttachmentParts splits an attachment into its content type, in lower
// case, and its URL (for a location, "LATITUDE,LONGITUDE"). Text that is
// not of that form is a URL without a content type.
func AttachmentParts(a string) (contentType, u string) {
	t, rest, ok := strings.Cut(a, ":")
	if !ok || !isContentType(t) {
		return "", a
	}
	return strings.ToLower(t), rest
}

// AttachmentKind is what an attachment holds, by its content type: "image",
// "video", "audio", "geo" (a location) or "" for another (a document).
func AttachmentKind(a string) string {
	t, _ := AttachmentParts(a)
	major, _, _ := strings.Cut(t, "/")
	switch major {
	case "image", "video", "audio", GeoType:
		return major
	}
	return ""
}

// isContentType tells whether t is a content type as goflow reads one: a
// MIME type (image/jpeg, application/vnd.ms-excel), a major type alone
// (image, audio, video, application) or geo, in any case.
func isContentType(t string) bool {
	switch strings.ToLower(t) {
	case "image", "audio", "video", "application", GeoType, "unavailable":
		return true
	}
	major, minor, ok := strings.Cut(t, "/")
	if !ok || major == "" || minor == "" {
		return false
	}
	for _, r := range major {
		if !(r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) || r > unicode.MaxASCII {
			return false
		}
	}
	for _, r := range minor {
		if !(r == '_' || r == '-' || r == '+' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)) || r > unicode.MaxASCII {
			return false
		}
	}
	return true
}

// AttachmentProblem says what is wrong with an inbound attachment, "" when
// nothing is: it must be CONTENT-TYPE:URL with an http or https URL, or a
// location geo:LATITUDE,LONGITUDE, and at most maxLen bytes long (0: no
// limit).
func AttachmentProblem(a string, maxLen int) string {
	if maxLen > 0 && len(a) > maxLen {
		return fmt.Sprintf("is %d bytes long, over the limit of %d", len(a), maxLen)
	}
	for i, r := range a {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) {
			return fmt.Sprintf("holds the character %U at byte %d: an attachment is CONTENT-TYPE:URL, without spaces or invisible characters", r, i)
		}
	}
	t, rest := AttachmentParts(a)
	if t == "" {
		return fmt.Sprintf("%.60q is not CONTENT-TYPE:URL (such as image/jpeg:https://example.com/photo.jpg, or geo:LATITUDE,LONGITUDE for a location)", a)
	}
	if t == GeoType {
		if _, _, ok := ParseGeo(rest); !ok {
			return fmt.Sprintf("%.60q is not a location: write geo:LATITUDE,LONGITUDE in decimal degrees, latitude -90 to 90 and longitude -180 to 180 (geo:-1.2921,36.8219)", a)
		}
		return ""
	}
	u, err := url.Parse(rest)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%.60q: the URL after the content type %q must be an http:// or https:// URL", a, t)
	}
	return ""
}

// ParseGeo reads a location's "LATITUDE,LONGITUDE" in decimal degrees.
func ParseGeo(s string) (lat, lng float64, ok bool) {
	a, b, found := strings.Cut(s, ",")
	if !found {
		return 0, 0, false
	}
	if !isDecimal(a) || !isDecimal(b) {
		return 0, 0, false
	}
	lat, err1 := strconv.ParseFloat(a, 64)
	lng, err2 := strconv.ParseFloat(b, 64)
	if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lng < -180 || lng > 180 {
		return 0, 0, false
	}
	return lat, lng, true
}

// isDecimal tells whether s is a decimal number: a sign, digits, a point.
func isDecimal(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !strings.Contains(s[i+1:], "."):
		default:
			return false
		}
	}
	return digits > 0
}

// InputWithAttachments is what @input renders to for a message with
// attachments, as goflow renders it: its text, then the URL of each
// attachment (without its content type), one a line.
func InputWithAttachments(text string, attachments []string) string {
	if len(attachments) == 0 {
		return text
	}
	var b strings.Builder
	b.WriteString(text)
	for i, a := range attachments {
		if i > 0 || text != "" {
			b.WriteByte('\n')
		}
		_, u := AttachmentParts(a)
		b.WriteString(u)
	}
	return b.String()
}

// SetInput makes in the session's last input: @input is its text, followed
// by its attachments' URLs when it has any (InputWithAttachments), and
// @input.attachments its attachments. A message without attachments leaves
// none from an earlier one.
func (s *Session) SetInput(in *Input) {
	if len(in.Attachments) == 0 {
		s.Input, s.Attachments = in.Text, nil
		return
	}
	s.Input = InputWithAttachments(in.Text, in.Attachments)
	s.Attachments = slices.Clone(in.Attachments)
}

// InputText is the text of the session's last input without its
// attachments (@input.text): Input is that text followed by the
// attachments' URLs (InputWithAttachments).
func (s *Session) InputText() string {
	if len(s.Attachments) == 0 {
		return s.Input
	}
	urls := InputWithAttachments("", s.Attachments)
	if s.Input == urls {
		return ""
	}
	return strings.TrimSuffix(s.Input, "\n"+urls)
}

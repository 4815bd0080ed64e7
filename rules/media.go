package rules

import (
	"github.com/parleyhq/parley/flows"
)

// mediaTest is a rule that matches when the message that resumed the wait
// carried an attachment of kind (flows.AttachmentKind: image, video, audio,
// geo); the operand is not used. The value is the first such attachment's
// URL, or a location's "LATITUDE,LONGITUDE", as @input shows it.
func mediaTest(kind string) func(*Set, *rule, flows.Run, string) (string, map[string]string, bool) {
	return func(_ *Set, _ *rule, r flows.Run, _ string) (string, map[string]string, bool) {
		sess := r.Session()
		if sess == nil {
			return "", nil, false
		}
		for _, a := range sess.Attachments {
			if flows.AttachmentKind(a) == kind {
				_, u := flows.AttachmentParts(a)
				return u, nil, true
			}
		}
		return "", nil, false
	}
}

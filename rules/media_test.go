package rules

import (
	"strings"
	"testing"
)

// TestMediaRules: the media rules look at the attachments of the message
// that resumed the wait, whatever the operand; the value is the first
// matching attachment's URL, or a location's coordinates.
func TestMediaRules(t *testing.T) {
	atts := []string{"application/pdf:https://example.com/a.pdf", "IMAGE/JPEG:https://example.com/p.jpg",
		"image/png:https://example.com/q.png", "geo:-1.2921,36.8219", "video/mp4:https://example.com/v.mp4"}
	with := func(atts ...string) func(*fakeRun) {
		return func(r *fakeRun) { r.sess.Attachments = atts }
	}
	runCases(t, []ruleCase{
		{"has_image", nil, "any text", true, "https://example.com/p.jpg"},
		{"has_location", nil, "", true, "-1.2921,36.8219"},
		{"has_video", nil, "", true, "https://example.com/v.mp4"},
		{"has_audio", nil, "", false, ""},
	}, with(atts...))
	runCases(t, []ruleCase{
		{"has_image", nil, "https://example.com/p.jpg", false, ""},
		{"has_location", nil, "geo:1,2", false, ""},
	}, nil)
	runCases(t, []ruleCase{
		{"has_audio", nil, "", true, "https://example.com/v.ogg"},
		// A URL without a content type is no image.
		{"has_image", nil, "", false, ""},
	}, with("https://example.com/p.jpg", "audio:https://example.com/v.ogg"))
}

func TestMediaRulesTakeNoArguments(t *testing.T) {
	_, err := Compile(fakeCompiler{}, "rules", []Case{{Type: "has_image", Args: []string{"jpeg"}, Category: "Photo"}})
	if err == nil {
		t.Fatal("has_image with an argument compiled")
	}
	if !strings.Contains(err.Error(), "rules[0].args") {
		t.Errorf("error %v, want one at rules[0].args", err)
	}
}

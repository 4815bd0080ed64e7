package flows

import (
	"strings"
	"testing"
)

func TestAttachmentProblem(t *testing.T) {
	tests := []struct {
		in, want string // want: a part of the problem, "" for none
	}{
		{"image/jpeg:https://example.com/p.jpg", ""},
		{"IMAGE/JPEG:http://example.com/p.jpg", ""},
		{"image:https://example.com/p", ""},
		{"application/vnd.ms-excel:https://example.com/x.xls", ""},
		{"geo:-1.2921,36.8219", ""},
		{"geo:90,180", ""},
		{"https://example.com/p.jpg", "is not CONTENT-TYPE:URL"},
		{"photo", "is not CONTENT-TYPE:URL"},
		{"image/jpeg:ftp://example.com/p.jpg", "must be an http:// or https:// URL"},
		{"image/jpeg:", "must be an http:// or https:// URL"},
		{"image/jpeg:https://exa mple.com/p.jpg", "holds the character U+0020 at byte 22"},
		{"image/jpeg:https://example.com/\u200bp.jpg", "U+200B"},
		{"geo:91,0", "is not a location"},
		{"geo:1,2,3", "is not a location"},
		{"geo:NaN,1", "is not a location"},
		{"geo:0x1p1,1", "is not a location"},
		{"geo:", "is not a location"},
		{"image/jpeg:https://example.com/" + strings.Repeat("a", 60), "is 91 bytes long, over the limit of 64"},
	}
	for _, tc := range tests {
		got := AttachmentProblem(tc.in, 64)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("AttachmentProblem(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestInputWithAttachments(t *testing.T) {
	s := &Session{}
	s.SetInput(&Input{Kind: InputText, Text: "hi\nthere", Attachments: []string{"image/jpeg:https://e.com/a", "geo:1,2"}})
	if s.Input != "hi\nthere\nhttps://e.com/a\n1,2" || s.InputText() != "hi\nthere" {
		t.Errorf("Input %q, InputText %q", s.Input, s.InputText())
	}
	s.SetInput(&Input{Kind: InputText, Attachments: []string{"image/jpeg:https://e.com/a"}})
	if s.Input != "https://e.com/a" || s.InputText() != "" {
		t.Errorf("Input %q, InputText %q", s.Input, s.InputText())
	}
	s.SetInput(&Input{Kind: InputText, Text: "plain"})
	if s.Input != "plain" || s.InputText() != "plain" || s.Attachments != nil {
		t.Errorf("Input %q, InputText %q, Attachments %q", s.Input, s.InputText(), s.Attachments)
	}
}

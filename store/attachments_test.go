package store

import (
	"bytes"
	"testing"
)

// A session whose last message had attachments keeps them through a save
// and a load; one whose last message had none writes no such member, so
// its record is as large as before.
func TestSessionAttachmentsRoundTrip(t *testing.T) {
	s := SampleSession(3, t0)
	s.Input = "here\nhttps://media.example.com/p.jpg\n-1.2921,36.8219"
	s.Attachments = []string{"image/jpeg:https://media.example.com/p.jpg", "geo:-1.2921,36.8219"}
	for _, compress := range []bool{true, false} {
		_, rec := sampleRecord(t, s, compress)
		got, err := decodeSession(s.ID, rec)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Attachments) != 2 || got.Attachments[1] != "geo:-1.2921,36.8219" || got.InputText() != "here" {
			t.Fatalf("compress %v: attachments %q, text %q", compress, got.Attachments, got.InputText())
		}
		sameSession(t, got, s)
	}
	if js, _ := sessionJSON(SampleSession(3, t0)); bytes.Contains(js, []byte("attachments")) {
		t.Errorf("a session without attachments writes them: %s", js)
	}
}

package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
)

// photoFlow asks for a photo and routes on what came: an image, a location,
// or anything else, then says what it saw, in templates and expressions.
const photoFlow = `{"id": "photo", "name": "Photo", "widgets": [
  {"id": "ask", "type": "send_message", "text": "Send a photo or your location", "exits": {"Next": "wait"}},
  {"id": "wait", "type": "wait_for_response", "result": "Photo",
   "rules": [{"type": "has_image", "category": "Image"}, {"type": "has_location", "category": "Location"},
             {"type": "has_video", "category": "Video"}, {"type": "has_audio", "category": "Audio"}],
   "exits": {"Image": "saw", "Location": "saw", "Video": "saw", "Audio": "saw", "Other": "saw"}},
  {"id": "saw", "type": "send_message",
   "text": "@flow.photo.category|@flow.photo|@input|@input.text|@input.attachments|@input.attachments.0|@(len(input.attachments))|@(input.text)|@flow.photo.input",
   "exits": {"Next": ""}}]}`

func TestInputAttachments(t *testing.T) {
	tests := []struct {
		name string
		in   flows.Input
		want string
	}{
		{"photo alone", flows.Input{Kind: flows.InputText, Attachments: []string{"image/jpeg:https://example.com/p.jpg"}},
			"Image|https://example.com/p.jpg|https://example.com/p.jpg||image/jpeg:https://example.com/p.jpg|image/jpeg:https://example.com/p.jpg|1||https://example.com/p.jpg"},
		{"text and photo", flows.Input{Kind: flows.InputText, Text: "me", Attachments: []string{"image/png:https://example.com/a.png", "geo:1.5,-2.25"}},
			"Image|https://example.com/a.png|me\nhttps://example.com/a.png\n1.5,-2.25|me|image/png:https://example.com/a.png\ngeo:1.5,-2.25|image/png:https://example.com/a.png|2|me|me\nhttps://example.com/a.png\n1.5,-2.25"},
		{"location", flows.Input{Kind: flows.InputText, Attachments: []string{"geo:-1.2921,36.8219"}},
			"Location|-1.2921,36.8219|-1.2921,36.8219||geo:-1.2921,36.8219|geo:-1.2921,36.8219|1||-1.2921,36.8219"},
		{"video", flows.Input{Kind: flows.InputText, Attachments: []string{"video/mp4:https://example.com/v.mp4"}},
			"Video|https://example.com/v.mp4|https://example.com/v.mp4||video/mp4:https://example.com/v.mp4|video/mp4:https://example.com/v.mp4|1||https://example.com/v.mp4"},
		{"audio", flows.Input{Kind: flows.InputText, Attachments: []string{"audio/ogg:https://example.com/v.ogg"}},
			"Audio|https://example.com/v.ogg|https://example.com/v.ogg||audio/ogg:https://example.com/v.ogg|audio/ogg:https://example.com/v.ogg|1||https://example.com/v.ogg"},
		{"text alone", flows.Text("no photo"), "Other|no photo|no photo|no photo|||0|no photo|no photo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, nil)
			f := fx.load(t, photoFlow)
			ctx := context.Background()
			s, _, err := fx.e.Start(ctx, f, engine.StartParams{})
			if err != nil {
				t.Fatal(err)
			}
			evs, err := fx.e.Resume(ctx, f, s, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(evs); len(got) != 1 || got[0] != tc.want {
				t.Errorf("said %q\nwant  %q", got, tc.want)
			}
			in := eventsOf(evs, flows.EventMessageIn)
			if len(in) != 1 || in[0].Text != tc.in.Text || strings.Join(in[0].Attachments, " ") != strings.Join(tc.in.Attachments, " ") {
				t.Errorf("message_in %+v, want the text %q and attachments %q", in, tc.in.Text, tc.in.Attachments)
			}
			if s.Status != flows.StatusCompleted {
				t.Errorf("status %s, want completed", s.Status)
			}
		})
	}
}

// TestTextAfterAttachments: a message without attachments leaves none of the
// message before it in @input.attachments.
func TestTextAfterAttachments(t *testing.T) {
	fx := newFixture(t, nil)
	f := fx.load(t, `{"id": "two", "name": "Two", "widgets": [
	  {"id": "a", "type": "wait_for_response", "result": "A", "exits": {"Next": "b"}},
	  {"id": "b", "type": "wait_for_response", "result": "B", "exits": {"Next": "c"}},
	  {"id": "c", "type": "send_message", "text": "[@input.attachments][@input]", "exits": {"Next": ""}}]}`)
	ctx := context.Background()
	s, _, err := fx.e.Start(ctx, f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.e.Resume(ctx, f, s, flows.Input{Kind: flows.InputText, Attachments: []string{"image/jpeg:https://example.com/p.jpg"}}); err != nil {
		t.Fatal(err)
	}
	evs, err := fx.e.Resume(ctx, f, s, flows.Text("done"))
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(evs); len(got) != 1 || got[0] != "[][done]" {
		t.Errorf("said %q, want [][done]", got)
	}
}

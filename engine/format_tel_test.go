package engine_test

import (
	"context"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
)

// TestFormatTelAndContactTel: format_tel writes a tel: URN's number in its
// national format and gives other text without its scheme, whatever its
// scheme or the case of it; @contact.tel and contact.tel in an expression
// are the number of a tel: URN alike, nothing for a contact of another
// scheme.
func TestFormatTelAndContactTel(t *testing.T) {
	fx := newFixture(t, nil)
	f := fx.load(t, `{"id": "p", "widgets": [
	  {"id": "say", "type": "send_message", "text": "ft=[@(format_tel(contact.urn))] t=[@contact.tel] x=[@(contact.tel)] f=[@(format_tel(contact.tel))]", "exits": {"Next": ""}}]}`)
	for _, c := range []struct{ urn, want string }{
		{"tel:+12065551212", "ft=[(206) 555-1212] t=[+12065551212] x=[+12065551212] f=[(206) 555-1212]"},
		{"TEL:+12065551212", "ft=[(206) 555-1212] t=[+12065551212] x=[+12065551212] f=[(206) 555-1212]"},
		{"tel:2065551212", "ft=[2065551212] t=[2065551212] x=[2065551212] f=[2065551212]"},
		{"whatsapp:+15550100100", "ft=[+15550100100] t=[] x=[] f=[]"},
		{"telegram:12345", "ft=[12345] t=[] x=[] f=[]"},
		{"WhatsApp:+15550100100", "ft=[+15550100100] t=[] x=[] f=[]"},
	} {
		_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{URN: c.urn}})
		if err != nil {
			t.Fatal(err)
		}
		if got := texts(evs); len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: rendered %q, want %q", c.urn, got, c.want)
		}
	}
}

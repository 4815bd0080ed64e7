package delivery

import (
	"context"
	"testing"

	"github.com/parleyhq/parley/flows"
	"go.etcd.io/bbolt"
)

// An OAuth 2.0 auth's encoding, read in any case, is stored in lower case,
// and one stored as sent by an earlier version is read so.
func TestSubscriptionEncodingLowerCase(t *testing.T) {
	e := newEnv(t, nil)
	sub := e.create(Subscription{URL: "https://crm.example.com/in", Disabled: true, Auth: &flows.WebhookAuth{Type: flows.AuthOAuth2ClientCredentials,
		ClientID: "c", ClientSecret: "s", TokenURL: "https://auth.example.com/t", Encoding: "JSON"}})
	if sub.Auth.Encoding != "json" {
		t.Errorf("created with encoding JSON: %q, want json", sub.Auth.Encoding)
	}
	// As an earlier version stored it.
	if err := e.db.Update(func(tx *bbolt.Tx) error {
		sub.Auth.Encoding = "Form"
		return putSub(tx, sub)
	}); err != nil {
		t.Fatal(err)
	}
	e.close()
	e.open(nil)
	got, err := e.svc.Get(context.Background(), sub.ID)
	if err != nil || got.Auth.Encoding != "form" {
		t.Errorf("stored with encoding Form, read: %+v %v, want form", got.Auth, err)
	}
}

// A subscription's none auth sends nothing whatever else it sets, and is
// stored without it; an auth that sends credentials is kept.
func TestSubscriptionNoneAuthDropped(t *testing.T) {
	e := newEnv(t, nil)
	for _, a := range []*flows.WebhookAuth{{Type: flows.AuthNone}, {Type: flows.AuthNone, Token: "t", Username: "u"}} {
		sub := e.create(Subscription{URL: "https://crm.example.com/in", Disabled: true, Auth: a})
		if sub.Auth != nil {
			t.Errorf("created with auth %+v: stored %+v, want none", a, sub.Auth)
		}
	}
	sub := e.create(Subscription{URL: "https://crm.example.com/in", Disabled: true, Auth: &flows.WebhookAuth{Type: flows.AuthBearer, Token: "t"}})
	if sub.Auth == nil || sub.Auth.Type != flows.AuthBearer || sub.Auth.Token != "t" {
		t.Errorf("created with a bearer auth: stored %+v", sub.Auth)
	}
}

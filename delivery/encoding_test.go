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

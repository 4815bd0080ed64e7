package callout

import (
	"context"
	"errors"

	"github.com/parleyhq/parley/flows"
)

// AccessToken returns the Authorization header value for an OAuth 2.0 auth
// (client credentials or password grant, form or JSON token requests) from
// the service's token cache, requesting a token through the guarded transport
// when none is fresh. It lets other senders, such as event delivery, obtain
// tokens the way webhook calls do. token is the bare access token: pass it to
// DropToken when the API refuses it, and keep it out of logs.
func (s *Service) AccessToken(ctx context.Context, auth *flows.WebhookAuth) (header, token string, err error) {
	if auth == nil || (auth.Type != flows.AuthOAuth2ClientCredentials && auth.Type != flows.AuthOAuth2Password) {
		return "", "", errors.New("auth is not an OAuth 2.0 grant")
	}
	if err := runAuthProblem(auth); err != nil {
		return "", "", err
	}
	rec := &recorder{red: NewRedactor(auth, s.secretHdrs...), limit: s.maxResponse}
	tok, err := s.token(ctx, auth, s.timeout, rec)
	if err != nil {
		return "", "", err
	}
	return tok.header(), tok.value, nil
}

// DropToken forgets auth's cached token if it is still token: the API
// answered 401, so the next AccessToken requests a new one. A token another
// caller has already replaced is kept.
func (s *Service) DropToken(auth *flows.WebhookAuth, token string) {
	if auth == nil {
		return
	}
	s.tokens.invalidate(keyFor(auth), token)
}

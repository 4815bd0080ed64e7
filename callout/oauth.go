package callout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/parleyhq/parley/flows"
)

// Token request encodings.
const (
	EncodingForm = "form"
	EncodingJSON = "json"
)

// maxTokenCacheEntries bounds the token cache: inline auth in flows could
// otherwise grow it without limit.
const maxTokenCacheEntries = 1024

// maxRefreshMargin is how long before expiry a token is replaced at most; short
// lived tokens are replaced when a tenth of their life remains.
const maxRefreshMargin = 30 * time.Second

// accessToken is a cached OAuth 2.0 access token.
type accessToken struct {
	value  string
	typ    string
	expiry time.Time // zero: the server gave no lifetime; kept until a 401
	margin time.Duration
	life   time.Duration // expires_in as received
}

// header returns the Authorization header value for the token.
func (t *accessToken) header() string {
	typ := t.typ
	switch strings.ToLower(typ) {
	case "", "bearer":
		typ = "Bearer"
	case "mac":
		typ = "MAC"
	case "basic":
		typ = "Basic"
	}
	return typ + " " + t.value
}

// tokenKey identifies whose token it is. The secrets are part of it (hashed), so
// a config with a wrong secret never borrows a token another config obtained.
type tokenKey struct {
	url, clientID, grant, user, scopes, audience, secrets string
}

func keyFor(a *flows.WebhookAuth) tokenKey {
	h := sha256.Sum256([]byte(a.ClientSecret + "\x00" + a.Password))
	return tokenKey{
		url: a.TokenURL, clientID: a.ClientID, grant: a.Type, user: a.Username,
		scopes: strings.Join(a.Scopes, " "), audience: a.Audience, secrets: hex.EncodeToString(h[:8]),
	}
}

type tokenEntry struct {
	tok    *accessToken
	flight *tokenFlight
	// cc keeps x/oauth2's client-credentials config so its detected auth style
	// (header or body) is remembered across requests.
	cc *clientcredentials.Config
	pw *oauth2.Config
}

// tokenFlight is one token request that concurrent callers share.
type tokenFlight struct {
	done chan struct{}
	tok  *accessToken
	err  error
}

// tokenCache holds access tokens shared by every session and concurrent call.
type tokenCache struct {
	mu      sync.Mutex
	entries map[tokenKey]*tokenEntry
}

func (c *tokenCache) entry(k tokenKey, now time.Time) *tokenEntry {
	if c.entries == nil {
		c.entries = map[tokenKey]*tokenEntry{}
	}
	e, ok := c.entries[k]
	if !ok {
		if len(c.entries) >= maxTokenCacheEntries {
			c.evict(now)
		}
		e = &tokenEntry{}
		c.entries[k] = e
	}
	return e
}

// evict drops expired idle entries, or any idle entry if none has expired.
func (c *tokenCache) evict(now time.Time) {
	var idle tokenKey
	found := false
	for k, e := range c.entries {
		if e.flight != nil {
			continue
		}
		if e.tok == nil || (!e.tok.expiry.IsZero() && now.After(e.tok.expiry)) {
			delete(c.entries, k)
			continue
		}
		idle, found = k, true
	}
	if len(c.entries) >= maxTokenCacheEntries && found {
		delete(c.entries, idle)
	}
}

// invalidate forgets the token if it is still the one given (a 401 answered
// it); a token another caller already replaced is kept.
func (c *tokenCache) invalidate(k tokenKey, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok && e.tok != nil && e.tok.value == value {
		e.tok = nil
	}
}

func (s *Service) fresh(t *accessToken) bool {
	return t.expiry.IsZero() || s.now().Before(t.expiry.Add(-t.margin))
}

// token returns a valid access token for auth, requesting one if needed. Only
// one request per key is in flight at a time; other callers wait for it (or
// for their own ctx). The request runs detached from any one caller, bounded
// by timeout, so a caller giving up does not fail the others.
func (s *Service) token(ctx context.Context, auth *flows.WebhookAuth, timeout time.Duration, rec *recorder) (*accessToken, error) {
	k := keyFor(auth)
	s.tokens.mu.Lock()
	e := s.tokens.entry(k, s.now())
	if e.tok != nil && s.fresh(e.tok) {
		t := e.tok
		s.tokens.mu.Unlock()
		return t, nil
	}
	f := e.flight
	if f == nil {
		f = &tokenFlight{done: make(chan struct{})}
		e.flight = f
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
			defer cancel()
			f.tok, f.err = s.fetchToken(fctx, auth, e, rec)
			s.tokens.mu.Lock()
			e.flight = nil
			if f.err == nil {
				e.tok = f.tok
			}
			s.tokens.mu.Unlock()
			close(f.done)
		}()
	}
	s.tokens.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the oauth2 token: %w", ctx.Err())
	}
}

// fetchToken makes one token request.
func (s *Service) fetchToken(ctx context.Context, auth *flows.WebhookAuth, e *tokenEntry, rec *recorder) (*accessToken, error) {
	client := &http.Client{
		Transport: &recordingTransport{base: s.transport, rec: rec},
		// A token endpoint that redirects is misconfigured; following it would
		// resend the client secret elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	start := s.now()
	var tok *accessToken
	var err error
	switch {
	case strings.EqualFold(auth.Encoding, EncodingJSON):
		tok, err = exchange(ctx, client, auth, EncodingJSON)
	case auth.Type == flows.AuthOAuth2ClientCredentials:
		tok, err = s.viaLibrary(ctx, client, auth, e)
	case auth.Audience != "":
		// x/oauth2's password grant cannot carry extra parameters.
		tok, err = exchange(ctx, client, auth, EncodingForm)
	default:
		tok, err = s.viaLibrary(ctx, client, auth, e)
	}
	if err != nil {
		// net/http's error names the URL again, hiding only its password:
		// it is left out, as the redacted URL comes first. What the token
		// server answered may echo secrets.
		err = unwrapURLError(err)
		msg := fmt.Sprintf("oauth2 token request to %s: %s", rec.red.URL(auth.TokenURL), rec.red.String(err.Error()))
		return nil, &redactedError{msg: msg, err: err}
	}
	if tok.life > 0 {
		tok.expiry = start.Add(tok.life)
		tok.margin = min(maxRefreshMargin, tok.life/10)
	}
	return tok, nil
}

// redactedError is err with a message that has its secrets redacted.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// viaLibrary requests a form-encoded token with golang.org/x/oauth2.
func (s *Service) viaLibrary(ctx context.Context, client *http.Client, auth *flows.WebhookAuth, e *tokenEntry) (*accessToken, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	var t *oauth2.Token
	var err error
	if auth.Type == flows.AuthOAuth2ClientCredentials {
		if e.cc == nil {
			e.cc = &clientcredentials.Config{ClientID: auth.ClientID, ClientSecret: auth.ClientSecret, TokenURL: auth.TokenURL, Scopes: auth.Scopes}
			if auth.Audience != "" {
				e.cc.EndpointParams = url.Values{"audience": {auth.Audience}}
			}
		}
		t, err = e.cc.Token(ctx)
	} else {
		if e.pw == nil {
			e.pw = &oauth2.Config{ClientID: auth.ClientID, ClientSecret: auth.ClientSecret, Endpoint: oauth2.Endpoint{TokenURL: auth.TokenURL}, Scopes: auth.Scopes}
		}
		t, err = e.pw.PasswordCredentialsToken(ctx, auth.Username, auth.Password)
	}
	if err != nil {
		return nil, err
	}
	return &accessToken{value: t.AccessToken, typ: t.TokenType, life: lifetime(t, time.Now())}, nil
}

// lifetime is how long t stays valid from now, or 0 when the server gave no
// lifetime. It is a duration, not x/oauth2's Expiry, so that expiry follows
// the service's clock (Options.Now). The password grant's token carries
// expires_in as received; the client-credentials one only an Expiry, set by
// x/oauth2 on the real clock as the answer arrived, so whole seconds from now
// give back its expires_in.
func lifetime(t *oauth2.Token, now time.Time) time.Duration {
	if t.ExpiresIn > 0 {
		return time.Duration(t.ExpiresIn) * time.Second
	}
	if t.Expiry.IsZero() {
		return 0
	}
	return max(t.Expiry.Sub(now).Round(time.Second), time.Second)
}

// exchange requests a token with a body of our own making: JSON for servers
// that want it, or form when x/oauth2 cannot express the request.
func exchange(ctx context.Context, client *http.Client, auth *flows.WebhookAuth, encoding string) (*accessToken, error) {
	grant := "client_credentials"
	if auth.Type == flows.AuthOAuth2Password {
		grant = "password"
	}
	fields := [][2]string{
		{"grant_type", grant}, {"client_id", auth.ClientID}, {"client_secret", auth.ClientSecret},
		{"scope", strings.Join(auth.Scopes, " ")}, {"audience", auth.Audience},
	}
	if grant == "password" {
		fields = append(fields, [2]string{"username", auth.Username}, [2]string{"password", auth.Password})
	}
	var body []byte
	var ctype string
	if encoding == EncodingJSON {
		m := map[string]string{}
		for _, f := range fields {
			if f[1] != "" {
				m[f[0]] = f[1]
			}
		}
		body, _ = json.Marshal(m)
		ctype = "application/json"
	} else {
		v := url.Values{}
		for _, f := range fields {
			if f[1] != "" {
				v.Set(f[0], f[1])
			}
		}
		body = []byte(v.Encode())
		ctype = "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, auth.TokenURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		Error       string          `json:"error"`
		Description string          `json:"error_description"`
	}
	jerr := json.Unmarshal(data, &tr)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if tr.Error != "" {
			return nil, fmt.Errorf("answered %d: %s %s", resp.StatusCode, tr.Error, tr.Description)
		}
		return nil, fmt.Errorf("answered %d", resp.StatusCode)
	}
	if jerr != nil {
		return nil, fmt.Errorf("answer is not JSON: %v", jerr)
	}
	if tr.AccessToken == "" {
		return nil, fmt.Errorf("answer has no access_token")
	}
	// expires_in is a number by the RFC; some servers send a string.
	secs, _ := strconv.ParseFloat(strings.Trim(string(tr.ExpiresIn), `"`), 64)
	return &accessToken{value: tr.AccessToken, typ: tr.TokenType, life: time.Duration(secs * float64(time.Second))}, nil
}

// recorder collects the token exchanges of one attempt for its trace.
type recorder struct {
	mu      sync.Mutex
	attempt int
	red     *Redactor
	limit   int
	list    []flows.WebhookCall
}

func (r *recorder) add(c flows.WebhookCall) {
	r.mu.Lock()
	r.list = append(r.list, c)
	r.mu.Unlock()
}

func (r *recorder) calls() []flows.WebhookCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]flows.WebhookCall(nil), r.list...)
}

// recordingTransport records token exchanges, secrets redacted by field name
// (client_secret, password, access_token ...).
type recordingTransport struct {
	base http.RoundTripper
	rec  *recorder
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	red := t.rec.red
	call := flows.WebhookCall{
		Attempt: t.rec.attempt,
		Request: &flows.HTTPTrace{
			Method: req.Method, URL: red.URL(req.URL.String()), Headers: red.Headers(req.Header),
			Body: red.Body(body, req.Header.Get("Content-Type"), true),
		},
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	call.ElapsedMS = time.Since(start).Milliseconds()
	if err != nil {
		call.Error = red.String(err.Error())
		t.rec.add(call)
		return nil, err
	}
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	tr := &flows.HTTPTrace{Status: resp.StatusCode, Headers: red.Headers(resp.Header)}
	tr.Body, tr.Truncated = cut(red.Body(data, resp.Header.Get("Content-Type"), true), t.rec.limit)
	call.Response = tr
	if rerr != nil {
		call.Error = rerr.Error()
	}
	t.rec.add(call)
	return resp, rerr
}

// cut shortens s to at most limit bytes (limit <= 0: no limit), at a whole
// character (flows.CutText), so a trace never holds half of one.
func cut(s string, limit int) (string, bool) {
	if limit > 0 && len(s) > limit {
		return flows.CutText(s, limit), true
	}
	return s, false
}

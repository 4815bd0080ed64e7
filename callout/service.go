package callout

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/flows"
)

// Defaults applied when a request or Options leave a limit unset.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxResponse = 256 << 10
	// DefaultMaxResponseHeaders caps an answer's status line and headers
	// (parley serve's --webhook-max-headers). net/http's own cap is 10 MiB,
	// all of which a webhook_called event would keep.
	DefaultMaxResponseHeaders = 64 << 10
	DefaultMaxRequestBytes    = 1 << 20
	DefaultRetryBackoff       = 500 * time.Millisecond
	// MaxRetryBackoff caps the doubling backoff and any Retry-After honoured.
	MaxRetryBackoff = 30 * time.Second
	// MaxRedirects is how many redirects a call follows when FollowRedirects is set.
	MaxRedirects = 5
	// MaxRetries caps WebhookConfig.Retries.
	MaxRetries = 10
)

// UserAgent is sent unless a webhook sets its own.
const UserAgent = "Parley-Webhook/1.0"

// Options configures a Service.
type Options struct {
	// AllowCIDRs are destinations allowed despite the address guard
	// (--allow-cidr, PARLEY_ALLOW_CIDRS).
	AllowCIDRs []netip.Prefix
	// Configs are the configured webhooks by name (--webhooks FILE).
	Configs map[string]*flows.WebhookConfig
	// Client is an optional base client. Its *http.Transport (TLS settings,
	// pools) is cloned and the guard installed on its dialer unless Unsafe.
	// Any other RoundTripper is used only when Unsafe, since it cannot be guarded.
	Client *http.Client
	// Unsafe turns the address guard off. For local development only.
	Unsafe bool
	// SecretHeaders are extra header names whose values are always redacted
	// (Authorization, cookies and names containing token, secret, password,
	// api-key ... always are).
	SecretHeaders []string
	Logger        *slog.Logger
	// Now is the clock for token expiry; time.Now if nil.
	Now func() time.Time
	// MaxRequestBytes caps request bodies (default 1 MiB; parley serve's
	// --webhook-max-request).
	MaxRequestBytes int
	// DefaultMaxResponse caps answers when a request sets no cap (default 256 KiB).
	DefaultMaxResponse int
	// DefaultTimeout bounds each attempt when a request sets none (default 10 s).
	DefaultTimeout time.Duration
	// MaxResponseHeaders caps the status line and headers of an answer, a
	// token endpoint's included (default DefaultMaxResponseHeaders).
	MaxResponseHeaders int
}

// Service makes webhook calls. It implements flows.WebhookService and is safe
// for concurrent use; access tokens are shared across everything it serves.
type Service struct {
	configs     map[string]*flows.WebhookConfig
	guard       *Guard
	transport   http.RoundTripper
	secretHdrs  []string
	secretSet   map[string]bool // secretHdrs, lower case, shared by every call's redactor
	log         *slog.Logger
	now         func() time.Time
	maxRequest  int
	maxResponse int
	maxHeaders  int
	timeout     time.Duration
	tokens      tokenCache
	failures    failureLines
}

var _ flows.WebhookService = (*Service)(nil)

// New returns a Service.
func New(o Options) *Service {
	s := &Service{
		configs: o.Configs, secretHdrs: o.SecretHeaders, log: o.Logger, now: o.Now,
		maxRequest: o.MaxRequestBytes, maxResponse: o.DefaultMaxResponse, timeout: o.DefaultTimeout,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxRequest <= 0 {
		s.maxRequest = DefaultMaxRequestBytes
	}
	if s.maxResponse <= 0 {
		s.maxResponse = DefaultMaxResponse
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.maxHeaders = o.MaxResponseHeaders; s.maxHeaders <= 0 {
		s.maxHeaders = DefaultMaxResponseHeaders
	}
	s.secretSet = secretHeaderSet(s.secretHdrs)
	s.guard = NewGuard(o.AllowCIDRs)
	s.transport = s.buildTransport(o)
	return s
}

func (s *Service) buildTransport(o Options) http.RoundTripper {
	var base *http.Transport
	if o.Client != nil && o.Client.Transport != nil {
		t, ok := o.Client.Transport.(*http.Transport)
		switch {
		case ok:
			base = t.Clone()
		case o.Unsafe:
			return o.Client.Transport
		default:
			s.log.Warn("webhooks: the given client's transport cannot be guarded; using a guarded default transport",
				"transport", fmt.Sprintf("%T", o.Client.Transport))
		}
	}
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
		// Flows call a few services many times at once; net/http keeps only
		// 2 idle connections per host by default, so every call beyond two
		// in flight would dial (and later close) a connection of its own.
		base.MaxIdleConnsPerHost = 256
		base.MaxIdleConns = 1024
	}
	base.MaxResponseHeaderBytes = int64(s.maxHeaders)
	if !o.Unsafe {
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: s.guard.Control}
		base.DialContext = d.DialContext
		base.DialTLSContext = nil
		// Through a proxy the guard would only ever see the proxy's address.
		base.Proxy = nil
	}
	return base
}

// Guard returns the address guard of the service's connections (the server
// tells it its own address with RefuseOwn).
func (s *Service) Guard() *Guard { return s.guard }

// Config returns a configured webhook by name. The config is shared: callers
// must not modify it (Merge makes a copy).
func (s *Service) Config(name string) (*flows.WebhookConfig, bool) {
	c, ok := s.configs[name]
	return c, ok
}

// attemptResult is what one attempt produced.
type attemptResult struct {
	outcome    string
	status     int
	headers    http.Header
	body       []byte
	err        string
	request    *flows.HTTPTrace
	response   *flows.HTTPTrace
	calls      []flows.WebhookCall
	token      string // the access token sent, for invalidation on 401
	retryAfter time.Duration
}

// Call sends req, retrying as it asks, and reports what happened. Problems are
// in the result (Outcome, Error), never a Go error.
func (s *Service) Call(ctx context.Context, req *flows.WebhookRequest) *flows.WebhookResult {
	start := time.Now()
	red := newRedactor(req.Auth, s.secretSet)
	// The URL is parsed once for the check, the redactor and the traces.
	u, uerr := url.Parse(req.URL)
	if uerr != nil {
		u = nil
	}
	red.learn(req.URL, u, req.Headers)
	res := &flows.WebhookResult{}
	defer func() {
		res.Elapsed = time.Since(start)
		s.logCall(ctx, req, u, res, red)
	}()
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodPost
	}
	if err := s.check(method, req, u); err != nil {
		res.Outcome, res.Error = flows.OutcomeFailure, red.String(err.Error())
		res.Request = s.requestTrace(method, u, nil, req.Body, req, red)
		return res
	}
	retryable := req.RetryUnsafe || method == http.MethodGet || method == http.MethodPut || method == http.MethodDelete
	backoff := req.RetryBackoff
	if backoff <= 0 {
		backoff = DefaultRetryBackoff
	}
	isOAuth := req.Auth != nil && (req.Auth.Type == flows.AuthOAuth2ClientCredentials || req.Auth.Type == flows.AuthOAuth2Password)
	var calls []flows.WebhookCall
	retries, refreshed := 0, false
	for attempt := 1; ; attempt++ {
		a := s.attempt(ctx, method, req, u, attempt, red)
		calls = append(calls, a.calls...)
		res.Attempts = attempt
		res.Outcome, res.Status, res.Body, res.Error = a.outcome, a.status, a.body, a.err
		// The answer's headers as redacted for its trace: the same map.
		res.Headers = nil
		if a.response != nil {
			res.Headers = a.response.Headers
		}
		res.Request, res.Response = a.request, a.response
		if err := ctx.Err(); err != nil {
			// The caller's context ended (a turn's time limit), not the
			// call's own timeout: say so when its cause tells more.
			if cause := context.Cause(ctx); res.Outcome != flows.OutcomeSuccess && cause != err {
				res.Error = red.String(cause.Error())
			}
			// Cut off by the caller's deadline, the transport reports the
			// context's cause, which classify does not take for a timeout:
			// it is one all the same, as the docs and the Timeout exit have it.
			if res.Outcome == flows.OutcomeError && errors.Is(err, context.DeadlineExceeded) {
				res.Outcome = flows.OutcomeTimeout
			}
			break
		}
		if a.status == http.StatusUnauthorized && isOAuth && !refreshed && a.token != "" {
			// The token may have been revoked or expired early: get a new one
			// and try once more.
			refreshed = true
			s.tokens.invalidate(keyFor(req.Auth), a.token)
			continue
		}
		if retries >= req.Retries || !retryable || !shouldRetry(a) {
			break
		}
		wait := min(backoff<<retries, MaxRetryBackoff)
		wait = max(wait, min(a.retryAfter, MaxRetryBackoff))
		retries++
		if !sleep(ctx, wait) {
			break
		}
	}
	if len(calls) > 1 {
		res.Calls = calls
	}
	return res
}

// shouldRetry: timeouts, connection errors, 429 and 5xx may succeed later.
func shouldRetry(a *attemptResult) bool {
	switch a.outcome {
	case flows.OutcomeTimeout, flows.OutcomeError:
		return true
	}
	return a.status == http.StatusTooManyRequests || a.status >= 500
}

// sleep waits d unless ctx ends first or would end before d is over; it
// reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	if dl, ok := ctx.Deadline(); ok && time.Now().Add(d).After(dl) {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// check refuses requests that cannot be sent.
func (s *Service) check(method string, req *flows.WebhookRequest, u *url.URL) error {
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return fmt.Errorf("method %q is not supported (GET, POST, PUT, PATCH or DELETE)", req.Method)
	}
	if err := checkParsedURL(req.URL, u); err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if len(req.Body) > s.maxRequest {
		return fmt.Errorf("request body is %d bytes, over the %d-byte limit (parley serve's --webhook-max-request)", len(req.Body), s.maxRequest)
	}
	if req.Auth != nil {
		if err := runAuthProblem(req.Auth); err != nil {
			return err
		}
	}
	for name, v := range req.Headers {
		if err := checkHeader(name, v); err != nil {
			return err
		}
	}
	return nil
}

// clientHeaders are the headers the HTTP client writes itself, lower case:
// one a webhook gave would be replaced (Content-Length, Transfer-Encoding and
// Trailer follow the body sent) or would meddle with connections that the
// service pools and HTTP/2 does not have (Connection, Keep-Alive,
// Proxy-Connection, TE, Upgrade). Validate refuses them; a flow or a
// configured webhook stored with one still runs, without it.
var clientHeaders = map[string]bool{
	"content-length": true, "transfer-encoding": true, "trailer": true, "te": true,
	"connection": true, "keep-alive": true, "proxy-connection": true, "upgrade": true,
}

// ClientHeader reports whether a header is one the HTTP client writes
// itself, which a webhook does not set (compared case-insensitively).
func ClientHeader(name string) bool { return clientHeaders[strings.ToLower(name)] }

// checkHeader refuses a header net/http would not send: a name that is not
// an HTTP token, or a value with a control character (a CR or LF from a
// template would otherwise start a header of the contact's choosing). Caught
// here, the request is a failure; found by the transport, it would be taken
// for a connection error and retried.
func checkHeader(name, value string) error {
	if name == "" {
		return errors.New("headers: a header has an empty name")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return fmt.Errorf("headers: %q is not a valid header name (character %q)", name, c)
		}
	}
	for i := 0; i < len(value); i++ {
		switch c := value[i]; {
		case c == '\r' || c == '\n':
			return fmt.Errorf("headers: the value of %q holds a line break (CR or LF), which a header cannot carry", name)
		case c < ' ' && c != '\t' || c == 0x7f:
			return fmt.Errorf("headers: the value of %q holds the control character %q, which a header cannot carry", name, c)
		}
	}
	return nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		u = nil
	}
	return checkParsedURL(raw, u)
}

// checkParsedURL is checkURL for raw already parsed as u (nil if it did not parse).
func checkParsedURL(raw string, u *url.URL) error {
	if u == nil {
		return fmt.Errorf("%q is not a valid URL", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q must be an http or https URL", raw)
	}
	if p := HostProblem(u); p != "" {
		return fmt.Errorf("%q %s", raw, p)
	}
	return nil
}

// HostProblem is what is wrong with an http(s) URL's host and port, or "":
// a URL with no host name (https://:443/) or a port that is not a number
// from 1 to 65535 (http://host:0/, http://host:99999/) could never be
// reached, so it is refused where it is written rather than on every call.
func HostProblem(u *url.URL) string {
	if u.Hostname() == "" {
		return "has no host"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("has port %q, not a number from 1 to 65535", p)
		}
	}
	return ""
}

var errTooManyRedirects = fmt.Errorf("stopped after %d redirects", MaxRedirects)

// redirectPolicy follows up to MaxRedirects hops. No hop carries a Referer,
// which would give the next host the URL of the one before, query (and the
// secrets it may hold) included. Once a hop leaves the first request's host
// (scheme, host and port) or downgrades https to http, it and every later
// hop go without the headers the webhook set (its API keys and other custom
// headers) and without Authorization: net/http keeps custom headers on every
// hop, and Authorization for a subdomain. Content-Type stays, for a 307 or
// 308 that sends the body again.
func redirectPolicy(follow bool, set map[string]string) func(*http.Request, []*http.Request) error {
	return func(r *http.Request, via []*http.Request) error {
		if !follow {
			return http.ErrUseLastResponse
		}
		if len(via) > MaxRedirects {
			return errTooManyRedirects
		}
		r.Header.Del("Referer")
		first := via[0].URL
		left := false
		for _, hop := range append(via[1:], r) {
			if !strings.EqualFold(hop.URL.Host, first.Host) || hop.URL.Scheme != first.Scheme && first.Scheme == "https" {
				left = true
			}
		}
		if !left {
			return nil
		}
		r.Header.Del("Authorization")
		r.Header.Del("Proxy-Authorization")
		for k := range set {
			if ck := http.CanonicalHeaderKey(k); ck != "Content-Type" {
				r.Header.Del(ck)
			}
		}
		if r.Header.Get("User-Agent") == "" {
			r.Header.Set("User-Agent", UserAgent)
		}
		return nil
	}
}

// contentType maps a webhook content type to a MIME type; a full MIME type is
// kept as given.
func contentType(ct string) string {
	switch strings.ToLower(ct) {
	case "", flows.ContentJSON:
		return "application/json"
	case flows.ContentForm:
		return "application/x-www-form-urlencoded"
	}
	return ct
}

func (s *Service) attempt(ctx context.Context, method string, req *flows.WebhookRequest, u *url.URL, n int, red *Redactor) *attemptResult {
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = s.timeout
	}
	limit := req.MaxResponse
	if limit <= 0 {
		limit = s.maxResponse
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a := &attemptResult{}

	hreq, err := http.NewRequestWithContext(actx, method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		a.outcome, a.err = flows.OutcomeFailure, red.String(err.Error())
		return a
	}
	// One backing array for the values: what Header.Set would store, without
	// a slice per header. Each value's slice is capped at its length, so an
	// append (Header.Add) copies rather than overwriting its neighbour.
	vals := make([]string, 0, len(req.Headers)+2)
	set := func(name, v string) {
		vals = append(vals, v)
		hreq.Header[name] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	if len(req.Body) > 0 {
		set("Content-Type", contentType(req.ContentType))
	}
	set("User-Agent", UserAgent)
	// In name order: of two spellings of one name (X-Key, x-key), which a
	// webhook stored before they were refused may have, the same one goes
	// on every call, the last in that order.
	for _, k := range slices.Sorted(maps.Keys(req.Headers)) {
		v := req.Headers[k]
		if strings.EqualFold(k, "Host") {
			hreq.Host = v
			continue
		}
		if ClientHeader(k) {
			continue
		}
		set(http.CanonicalHeaderKey(k), v)
	}
	if au := req.Auth; au != nil {
		switch au.Type {
		case flows.AuthBasic:
			hreq.SetBasicAuth(au.Username, au.Password)
		case flows.AuthBearer:
			hreq.Header.Set("Authorization", "Bearer "+au.Token)
		case flows.AuthOAuth2ClientCredentials, flows.AuthOAuth2Password:
			rec := &recorder{attempt: n, red: red, limit: limit}
			tok, err := s.token(actx, au, timeout, rec)
			a.calls = rec.calls()
			if err != nil {
				a.outcome, a.err = classify(err), red.String(err.Error())
				if a.outcome == flows.OutcomeError && !isNetError(err) {
					// The token server answered, but not with a token.
					a.outcome = flows.OutcomeFailure
				}
				a.request = s.requestTrace(method, u, hreq.Header, req.Body, req, red)
				return a
			}
			red.AddValue(tok.value)
			a.token = tok.value
			hreq.Header.Set("Authorization", tok.header())
		}
	}
	if u := hreq.URL.User; u != nil && hreq.Header.Get("Authorization") == "" {
		// What net/http would do when sending, done here so the trace shows
		// the header (redacted) as it does for basic auth.
		p, _ := u.Password()
		hreq.SetBasicAuth(u.Username(), p)
	}
	a.request = s.requestTrace(method, u, hreq.Header, req.Body, req, red)
	call := flows.WebhookCall{Attempt: n, Request: a.request}
	defer func() {
		call.Response, call.Error = a.response, a.err
		a.calls = append(a.calls, call)
	}()

	start := time.Now()
	var resp *http.Response
	if req.FollowRedirects {
		client := &http.Client{Transport: s.transport, CheckRedirect: redirectPolicy(true, req.Headers)}
		resp, err = client.Do(hreq)
	} else {
		resp, err = s.roundTrip(hreq)
	}
	if err != nil {
		call.ElapsedMS = time.Since(start).Milliseconds()
		a.outcome, a.err = classify(err), red.String(unwrapURLError(err).Error())
		if isHeadersTooBig(err) {
			a.outcome, a.err = flows.OutcomeTooBig, s.headersCapError()
		}
		return a
	}
	body := io.Reader(resp.Body)
	if !resp.Uncompressed && strings.EqualFold(strings.TrimSpace(resp.Header.Get("Content-Encoding")), "gzip") {
		// The webhook's headers gave an Accept-Encoding, so the transport
		// left the answer as it came: it is decoded here as the transport
		// decodes it, and the limit counts the decoded bytes too.
		body = &gzipBody{r: resp.Body}
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
	}
	data, rerr := io.ReadAll(io.LimitReader(body, int64(limit)+1))
	resp.Body.Close()
	call.ElapsedMS = time.Since(start).Milliseconds()
	a.status, a.headers = resp.StatusCode, resp.Header
	tooBig := len(data) > limit
	if tooBig {
		// At a whole character: the body is kept as text and in the
		// webhook_called event, which would hold half of one as U+FFFD.
		data = flows.CutText(data, limit)
	}
	a.body = data
	a.response = &flows.HTTPTrace{
		Status: resp.StatusCode, Headers: red.Headers(resp.Header),
		Body: red.Body(data, resp.Header.Get("Content-Type"), false), Truncated: tooBig,
	}
	if final := resp.Request.URL.String(); final != req.URL {
		a.response.URL = red.URL(final)
	}
	// Most answers have no Retry-After: parsing "" would build an error.
	if v := resp.Header.Get("Retry-After"); v != "" {
		if ra, err := strconv.Atoi(v); err == nil && ra > 0 {
			a.retryAfter = time.Duration(ra) * time.Second
		}
	}
	switch {
	case badGzip(rerr):
		a.outcome, a.err = flows.OutcomeFailure, "reading the answer: its gzip (Content-Encoding gzip) does not decode: "+red.String(rerr.Error())
	case rerr != nil:
		a.outcome, a.err = classify(rerr), "reading the answer: "+red.String(rerr.Error())
	case tooBig:
		a.outcome, a.err = flows.OutcomeTooBig, answerCapError(limit, req.MaxResponse > 0)
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		a.outcome = flows.OutcomeSuccess
	default:
		a.outcome = flows.OutcomeFailure
		if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
			a.err = notFollowed(resp.StatusCode, resp.Header.Get("Location"), req.FollowRedirects)
		}
	}
	return a
}

// gzipBody decodes an answer sent with Content-Encoding gzip that the
// transport did not decode. The gzip header is read on the first Read, so
// that an empty answer (a 204, an answer to HEAD) reads as empty, as the
// transport's own decoding reads it.
type gzipBody struct {
	r  io.Reader
	zr *gzip.Reader
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.zr == nil {
		zr, err := gzip.NewReader(g.r)
		if err != nil {
			return 0, err
		}
		g.zr = zr
	}
	return g.zr.Read(p)
}

// badGzip reports whether err says that an answer is not the gzip its
// Content-Encoding announced: the receiver's mistake, a failure, not a
// connection error.
func badGzip(err error) bool {
	var corrupt flate.CorruptInputError
	return errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.As(err, &corrupt)
}

// notFollowed says why a 3xx answer ended the call. Only 301, 302, 303, 307
// and 308 send the client elsewhere, and only with a Location; the others
// (300 Multiple Choices, 304 Not Modified, 305 and 306) are answers of
// their own, none of them a success.
func notFollowed(status int, location string, follow bool) string {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		if location == "" {
			return fmt.Sprintf("redirect (%d) without a Location header: nowhere to follow it to", status)
		}
		if !follow {
			return fmt.Sprintf("redirect (%d) not followed: follow_redirects is off", status)
		}
		return ""
	}
	text := strconv.Itoa(status)
	if t := http.StatusText(status); t != "" {
		text += " " + t
	}
	return fmt.Sprintf("answered %s, which is not a redirect to follow nor a success (2xx)", text)
}

// answerCapError says that an answer was cut at limit and which setting
// gave the limit: the webhook's max_response_bytes, or the default every
// webhook without one gets (parley serve's --webhook-max-response).
func answerCapError(limit int, ownCap bool) string {
	if ownCap {
		return fmt.Sprintf("answer is over the %d-byte limit set by the webhook's max_response_bytes; cut", limit)
	}
	return fmt.Sprintf("answer is over the %d-byte limit; cut (a webhook raises its own with max_response_bytes, "+
		"parley serve the default of every webhook with --webhook-max-response)", limit)
}

// roundTrip sends a request that follows no redirects straight to the
// transport, doing what http.Client would do for it: the scheme mismatch
// error, errors wrapped in *url.Error (Basic auth from the URL's user info
// is set by attempt, for its trace). The client's redirect bookkeeping
// copies every request's headers, which a call that follows no redirects
// does not need.
func (s *Service) roundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.transport.RoundTrip(req)
	if err != nil {
		var tlsErr tls.RecordHeaderError
		if errors.As(err, &tlsErr) && string(tlsErr.RecordHeader[:]) == "HTTP/" {
			err = http.ErrSchemeMismatch
		}
		return nil, &url.Error{Op: req.Method[:1] + strings.ToLower(req.Method[1:]), URL: req.URL.Redacted(), Err: err}
	}
	return resp, nil
}

// classify maps a transport error to an outcome.
// isHeadersTooBig reports whether err is net/http's refusal of an answer
// whose headers are over the transport's MaxResponseHeaderBytes, which it
// gives only as text.
func isHeadersTooBig(err error) bool {
	return err != nil && strings.Contains(err.Error(), "server response headers exceeded")
}

// headersCapError names the cap an answer's headers went over and the
// setting that gives it.
func (s *Service) headersCapError() string {
	return fmt.Sprintf("the answer's headers are over the %d-byte limit (--webhook-max-headers); nothing of the answer is kept", s.maxHeaders)
}

func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrBlocked):
		return flows.OutcomeBlocked
	case errors.Is(err, errTooManyRedirects):
		return flows.OutcomeFailure
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return flows.OutcomeTimeout
	}
	return flows.OutcomeError
}

func isNetError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &ne) || errors.As(err, &oe) || errors.As(err, &de) || errors.Is(err, context.Canceled)
}

// unwrapURLError drops net/http's "Post \"URL\": " prefix: the URL may carry
// secrets and is in the trace anyway.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// requestTrace records a request. h is what is sent (nil: the request was
// refused before it was built, and its headers are shown as given); a Host
// the request overrides is shown among them, as it is sent.
func (s *Service) requestTrace(method string, u *url.URL, h http.Header, body []byte, req *flows.WebhookRequest, red *Redactor) *flows.HTTPTrace {
	limit := req.MaxResponse
	if limit <= 0 {
		limit = s.maxResponse
	}
	if h == nil && len(req.Headers) > 0 {
		h = http.Header{}
		for _, k := range slices.Sorted(maps.Keys(req.Headers)) { // as attempt sends them
			h.Set(k, req.Headers[k])
		}
	}
	t := &flows.HTTPTrace{Method: method, URL: red.parsedURL(req.URL, u), Headers: red.Headers(h)}
	if _, ok := h["Host"]; !ok {
		for _, k := range slices.Sorted(maps.Keys(req.Headers)) {
			if v := req.Headers[k]; strings.EqualFold(k, "Host") && v != "" && t.Headers != nil {
				t.Headers["Host"] = red.String(v)
			}
		}
	}
	t.Body, t.Truncated = cut(red.Body(body, h.Get("Content-Type"), false), limit)
	return t
}

func (s *Service) logCall(ctx context.Context, req *flows.WebhookRequest, parsed *url.URL, res *flows.WebhookResult, red *Redactor) {
	level := slog.LevelDebug
	if res.Outcome != flows.OutcomeSuccess {
		level = slog.LevelInfo
	}
	if !s.log.Enabled(ctx, level) {
		return
	}
	folded := 0
	if level > slog.LevelDebug && (req.Flow != "" || req.Name != "") {
		// A webhook that fails fails every call a flow makes: one line a
		// second per flow and widget (per configured webhook outside a
		// flow) says so, with the count of the calls not logged since the
		// line before. A one-off call (parley webhook test) is not limited.
		var ok bool
		if folded, ok = s.failures.take(failureKey{req.Flow, req.Widget, req.Name}, s.now()); !ok {
			return
		}
	}
	// The URL's path and query are the flow's templates filled in: a
	// contact's text or phone number inserted there would stay in the log,
	// where erasing the contact does not reach. They are logged only when
	// the debug level is on; otherwise the line has the scheme, host and
	// port, with the webhook's name and the widget to tell calls apart.
	u := origin(parsed)
	if s.log.Enabled(ctx, slog.LevelDebug) {
		u = red.URL(req.URL)
	}
	attrs := CallLogAttrs(ctx, req, u, res, 2)
	if res.Error != "" {
		attrs = append(attrs, slog.String("err", res.Error))
	}
	if folded > 0 {
		attrs = append(attrs, slog.Int("folded", folded))
	}
	s.log.LogAttrs(ctx, level, "webhook call", attrs...)
}

// CallLogAttrs are the fields of a `webhook call` log line, in their order:
// request_id, session, flow and widget, webhook (each when known), method,
// url (as given: the caller redacts it), outcome, status, attempts and
// elapsed; with room for extra more.
func CallLogAttrs(ctx context.Context, req *flows.WebhookRequest, url string, res *flows.WebhookResult, extra int) []slog.Attr {
	attrs := make([]slog.Attr, 0, 12+extra)
	if rid := RequestID(ctx); rid != "" {
		attrs = append(attrs, slog.String("request_id", rid))
	}
	if req.Session != "" {
		attrs = append(attrs, slog.String("session", req.Session))
	}
	if req.Flow != "" {
		attrs = append(attrs, slog.String("flow", req.Flow), slog.String("widget", req.Widget))
	}
	if req.Name != "" {
		attrs = append(attrs, slog.String("webhook", req.Name))
	}
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodPost
	}
	return append(attrs,
		slog.String("method", method), slog.String("url", url),
		slog.String("outcome", res.Outcome), slog.Int("status", res.Status),
		slog.Int("attempts", res.Attempts), slog.Duration("elapsed", res.Elapsed),
	)
}

// origin is a URL's scheme, host and port (http://host:8080), without its
// user, path and query; "" for a URL that did not parse (nil).
func origin(u *url.URL) string {
	if u == nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// FailureLogInterval is how often at most a flow's widget (or a
// configured webhook called outside a flow) has a failed call logged.
const FailureLogInterval = time.Second

// failureKey is what failure lines are limited by.
type failureKey struct{ flow, widget, webhook string }

// failureLines limits the log lines of failed calls.
type failureLines struct {
	mu   sync.Mutex
	last map[failureKey]*failureLine
}

type failureLine struct {
	at     time.Time // of the last line logged
	folded int       // failures not logged since
}

// maxFailureKeys bounds the keys kept: past it, those whose line is over
// an interval old, which would be logged anyway, are dropped.
const maxFailureKeys = 4096

// take reports whether a failure of k at now is logged, and how many were
// folded into it, not logged since the line before.
func (f *failureLines) take(k failureKey, now time.Time) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.last == nil {
		f.last = map[failureKey]*failureLine{}
	}
	l := f.last[k]
	if l == nil {
		if len(f.last) >= maxFailureKeys {
			for key, v := range f.last {
				if now.Sub(v.at) >= FailureLogInterval {
					delete(f.last, key)
				}
			}
		}
		f.last[k] = &failureLine{at: now}
		return 0, true
	}
	if now.Sub(l.at) < FailureLogInterval {
		l.folded++
		return 0, false
	}
	n := l.folded
	l.at, l.folded = now, 0
	return n, true
}

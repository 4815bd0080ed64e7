package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/flows"
)

const redacted = "[redacted]"

// exchange is what one request produced.
type exchange struct {
	attempt    Attempt
	status     int
	retryAfter time.Duration
}

func (e *exchange) success() bool { return e.status >= 200 && e.status < 300 }

// send makes one signed request to sub. It never returns a Go error: what
// went wrong is in the attempt's Outcome and Error.
func (s *Service) send(ctx context.Context, sub *Subscription, msgID string, payload []byte) *exchange {
	now := s.opts.Now()
	ex := &exchange{attempt: Attempt{Time: now.UTC()}}
	att := &ex.attempt
	ep := sub.endpoint()

	body, ctype := payload, "application/json"
	if sub.ContentType == flows.ContentForm {
		body = []byte(url.Values{"payload": {string(payload)}}.Encode())
		ctype = "application/x-www-form-urlencoded"
	}
	att.Request = flows.HTTPTrace{Method: sub.Method, URL: ep.redactedURL}
	if sub.ContentType == flows.ContentForm {
		att.Request.Body = ep.red.String(string(body)) // a JSON body is the payload: stored once
	}
	if ep.urlErr != nil {
		att.Outcome, att.Error = flows.OutcomeError, ep.urlErr.Error()
		return ex
	}
	if !anyActive(ep.signers, now) {
		// Stored before every secret needed one without an end: nothing
		// is sent unsigned; the attempt fails until the secret is rotated.
		att.Outcome, att.Error = flows.OutcomeError, errNoActiveSecret
		return ex
	}

	ctx, cancel := context.WithTimeoutCause(ctx, s.opts.Timeout, errDeliveryTimeout)
	defer cancel()
	// The URL was parsed once per subscription; the transport only reads it.
	req, err := http.NewRequestWithContext(ctx, sub.Method, "", bytes.NewReader(body))
	if err != nil {
		att.Outcome, att.Error = flows.OutcomeError, err.Error()
		return ex
	}
	req.URL, req.Host = ep.url, ep.host
	// One map and one backing array for every value, canonical names set
	// directly: what Header.Set would produce, without its allocations.
	h := make(http.Header, len(ep.headers)+6)
	vals := make([]string, 0, len(ep.headers)+5)
	set := func(name, v string) {
		vals = append(vals, v)
		h[name] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	for _, hd := range ep.headers {
		set(hd.name, hd.value)
	}
	if !ep.hasAgent {
		set("User-Agent", s.opts.UserAgent)
	}
	set("Content-Type", ctype)
	set("Webhook-Id", msgID)
	set("Webhook-Timestamp", strconv.FormatInt(now.Unix(), 10))
	set("Webhook-Signature", signatureHeader(ep.signers, msgID, now, body))
	req.Header = h

	start := time.Now()
	token, authErr := s.authorize(ctx, req, sub)
	if authErr == nil && ep.urlAuth != "" && req.Header.Get("Authorization") == "" {
		// As http.Client does, the URL's user info goes as basic auth unless
		// the request has an Authorization header; set before the headers
		// are logged, so the log shows that it went.
		req.Header["Authorization"] = []string{ep.urlAuth}
	}
	red := ep.redactor(token)
	att.Request.Headers = redactHeaders(req.Header, red)
	if authErr != nil {
		att.DurationMS = ms(time.Since(start))
		att.Outcome, att.Error = classify(authErr), s.timedOut(ctx, "auth: "+red.String(authErr.Error()))
		return ex
	}

	resp, err := s.roundTrip(req, ep)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// net/http names the URL in its errors: the redacted one, which
			// hides credential query values too short to redact as strings.
			ue.URL = ep.redactedURL
		}
		att.DurationMS = ms(time.Since(start))
		att.Outcome, att.Error = classify(err), s.timedOut(ctx, red.String(err.Error()))
		if strings.Contains(err.Error(), "server response headers exceeded") {
			// net/http says it only as text, without the setting.
			att.Error = fmt.Sprintf("the answer's headers are over the %d-byte limit (--webhook-max-headers); nothing of the answer is kept", s.opts.MaxResponseHeaderBytes)
		}
		return ex
	}
	rb, truncated, readErr := s.readBody(resp)
	att.DurationMS = ms(time.Since(start))

	ex.status = resp.StatusCode
	// Receivers may echo what they were sent: the body is redacted as the
	// webhook widget redacts the answers it records.
	trace := &flows.HTTPTrace{Status: resp.StatusCode, Headers: redactHeaders(resp.Header, red), Body: red.String(rb), Truncated: truncated}
	att.Response = trace
	switch {
	case ex.success():
		att.Outcome = flows.OutcomeSuccess
	default:
		att.Outcome = flows.OutcomeFailure
		att.Error = "HTTP " + strconv.Itoa(resp.StatusCode)
		if readErr != nil {
			att.Error += ": reading body: " + readErr.Error()
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		ex.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		// A revoked token stays cached until it expires: fetch a new one next time.
		if token != "" {
			s.tokens.DropToken(sub.Auth, token)
		}
	}
	return ex
}

// roundTrip sends req as an http.Client without a cookie jar or timeout
// that never follows redirects would, but straight to the transport: the
// client's redirect bookkeeping copies every request's headers and URL.
// Like the client it wraps errors in *url.Error; send has already added the
// URL's user info as basic auth, as the client would.
func (s *Service) roundTrip(req *http.Request, ep *endpoint) (*http.Response, error) {
	resp, err := s.transport.RoundTrip(req)
	if err != nil {
		var tlsErr tls.RecordHeaderError
		if errors.As(err, &tlsErr) && string(tlsErr.RecordHeader[:]) == "HTTP/" {
			err = http.ErrSchemeMismatch
		}
		return nil, &url.Error{Op: ep.errOp, URL: ep.errURL, Err: err}
	}
	return resp, nil
}

// bodyBufs are scratch buffers for reading response bodies.
var bodyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads at most MaxResponseBytes of the response for the log, drains
// a little more so the connection can be reused, and closes the body. Most
// receivers answer with an empty body, which costs nothing here.
func (s *Service) readBody(resp *http.Response) (body string, truncated bool, err error) {
	defer resp.Body.Close()
	if resp.ContentLength == 0 {
		return "", false, nil
	}
	limit := int64(s.opts.MaxResponseBytes)
	buf := bodyBufs.Get().(*bytes.Buffer)
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	_, _ = io.CopyN(io.Discard, resp.Body, 256<<10)
	rb := buf.Bytes()
	if int64(len(rb)) > limit {
		// At a whole character, so the stored attempt never holds half of one.
		rb, truncated = flows.CutText(rb, int(limit)), true
	}
	body = string(rb)
	if buf.Cap() <= 64<<10 {
		bodyBufs.Put(buf)
	}
	return body, truncated, err
}

// errDeliveryTimeout is the cause of a request's context ending at
// Options.Timeout. It wraps context.DeadlineExceeded, since the transport
// reports the cause and classify takes that for a timeout.
var errDeliveryTimeout = fmt.Errorf("delivery timeout: %w", context.DeadlineExceeded)

// timedOut says, in front of a request's error, that the request ran out of
// Options.Timeout, naming the setting (--delivery-timeout of parley serve):
// the transport's own words, `Post "...": context deadline exceeded`, name
// neither.
func (s *Service) timedOut(ctx context.Context, msg string) string {
	if !errors.Is(context.Cause(ctx), errDeliveryTimeout) {
		return msg
	}
	return fmt.Sprintf("no answer within the delivery timeout, %s (--delivery-timeout, PARLEY_DELIVERY_TIMEOUT): %s", s.opts.Timeout, msg)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, callout.ErrBlocked):
		return flows.OutcomeBlocked
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return flows.OutcomeTimeout
	default:
		return flows.OutcomeError
	}
}

// parseRetryAfter reads delay-seconds or an HTTP date; zero when absent or
// unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// authorize adds the subscription's credentials to req. For OAuth 2.0 it
// returns the access token sent, so a 401 can drop it from the cache.
// Tokens come from callout's cache: reused until they expire, shared by
// subscriptions with the same auth, requested through the address guard.
func (s *Service) authorize(ctx context.Context, req *http.Request, sub *Subscription) (string, error) {
	a := sub.Auth
	if a == nil {
		return "", nil
	}
	switch a.Type {
	case flows.AuthBasic:
		req.SetBasicAuth(a.Username, a.Password)
	case flows.AuthBearer:
		req.Header.Set("Authorization", "Bearer "+a.Token)
	case flows.AuthOAuth2ClientCredentials, flows.AuthOAuth2Password:
		header, token, err := s.tokens.AccessToken(ctx, a)
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", header)
		return token, nil
	}
	return "", nil
}

// sensitiveHeader reports header names whose values are credentials.
func sensitiveHeader(name string) bool {
	for _, w := range sensitiveWords {
		if containsFold(name, w) {
			return true
		}
	}
	return false
}

var sensitiveWords = []string{"auth", "token", "secret", "password", "key", "cookie", "session"}

// containsFold reports whether s contains the lower-case ASCII word w in any
// case, without building a lower-case copy of s.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		j := 0
		for ; j < len(w); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				break
			}
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

// redactHeaders flattens h for the log: headers whose names look sensitive
// are redacted whole, the others have red's secret values replaced.
func redactHeaders(h http.Header, red *callout.Redactor) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if sensitiveHeader(k) {
			out[k] = redacted
			continue
		}
		out[k] = red.String(strings.Join(v, ", "))
	}
	return out
}

// redactURL is raw as logs and the deliveries log show it: its password
// and credential query values read [redacted], as a flow's webhook calls
// show theirs, and so do the subscription's secrets wherever they appear.
func redactURL(raw string, secrets []string) string {
	red := callout.NewRedactor(nil)
	red.AddValue(secrets...)
	return red.URL(raw)
}

// TestResult is what Test sent and received.
type TestResult struct {
	EventID    string           `json:"event_id"`
	Outcome    string           `json:"outcome"`
	Request    flows.HTTPTrace  `json:"request"`
	Response   *flows.HTTPTrace `json:"response,omitempty"`
	DurationMS float64          `json:"duration_ms"`
	Error      string           `json:"error,omitempty"`
}

// Test sends a sample webhook.ping (data.test = true) to a subscription now,
// with its auth and signatures, and reports the exchange. Nothing is stored;
// disabled subscriptions can be tested before re-enabling them.
func (s *Service) Test(ctx context.Context, id string) (*TestResult, error) {
	sub := s.sub(id)
	if sub == nil {
		return nil, fmt.Errorf("subscription %q: %w", id, ErrNotFound)
	}
	now := s.opts.Now().UTC()
	ev := pingEvent(sub, now)
	ev.Data = []byte(strings.TrimSuffix(string(ev.Data), "}") + `,"test":true}`)
	env := Envelope{Type: ev.Type, ID: ev.ID, Timestamp: now, Environment: ev.Environment, Data: ev.Data, Extra: sub.ExtraJSON}
	payload, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	ex := s.send(ctx, sub, ev.ID, payload)
	if ex.attempt.Request.Body == "" {
		ex.attempt.Request.Body = sub.endpoint().red.String(string(payload))
	}
	return &TestResult{
		EventID: ev.ID, Outcome: ex.attempt.Outcome, Request: ex.attempt.Request,
		Response: ex.attempt.Response, DurationMS: ex.attempt.DurationMS, Error: ex.attempt.Error,
	}, nil
}

package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
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

	body, ctype := payload, "application/json"
	if sub.ContentType == flows.ContentForm {
		body = []byte(url.Values{"payload": {string(payload)}}.Encode())
		ctype = "application/x-www-form-urlencoded"
	}
	secrets := sub.secretValues()
	att.Request = flows.HTTPTrace{Method: sub.Method, URL: redactURL(sub.URL, secrets)}
	if sub.ContentType == flows.ContentForm {
		att.Request.Body = string(body) // a JSON body is the payload: stored once
	}

	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, sub.Method, sub.URL, bytes.NewReader(body))
	if err != nil {
		att.Outcome, att.Error = flows.OutcomeError, err.Error()
		return ex
	}
	for k, v := range sub.Headers {
		req.Header.Set(k, v)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", s.opts.UserAgent)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set(HeaderID, msgID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, signAll(sub.activeKeys(now), msgID, now.Unix(), body))

	start := time.Now()
	token, authErr := s.authorize(ctx, req, sub)
	if token != "" {
		secrets = append(secrets, token)
	}
	att.Request.Headers = redactHeaders(req.Header, secrets)
	if authErr != nil {
		att.DurationMS = ms(time.Since(start))
		att.Outcome, att.Error = classify(authErr), "auth: "+authErr.Error()
		return ex
	}

	resp, err := s.client.Do(req)
	if err != nil {
		att.DurationMS = ms(time.Since(start))
		att.Outcome, att.Error = classify(err), err.Error()
		return ex
	}
	limit := int64(s.opts.MaxResponseBytes)
	rb, readErr := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	// Drain a little more so the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, 256<<10)
	resp.Body.Close()
	att.DurationMS = ms(time.Since(start))

	ex.status = resp.StatusCode
	trace := &flows.HTTPTrace{Status: resp.StatusCode, Headers: redactHeaders(resp.Header, secrets)}
	if int64(len(rb)) > limit {
		rb, trace.Truncated = rb[:limit], true
	}
	trace.Body = string(rb)
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
	n := strings.ToLower(name)
	for _, w := range []string{"auth", "token", "secret", "password", "key", "cookie", "session"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func redactString(v string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			v = strings.ReplaceAll(v, sec, redacted)
		}
	}
	return v
}

func redactHeaders(h http.Header, secrets []string) map[string]string {
	out := make(map[string]string, len(h))
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if sensitiveHeader(k) {
			out[k] = redacted
			continue
		}
		out[k] = redactString(strings.Join(h[k], ", "), secrets)
	}
	return out
}

func redactURL(raw string, secrets []string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redactString(raw, secrets)
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "redacted")
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if sensitiveHeader(k) {
				q[k] = []string{"redacted"}
			}
		}
		u.RawQuery = q.Encode()
	}
	return redactString(u.String(), secrets)
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
		ex.attempt.Request.Body = string(payload)
	}
	return &TestResult{
		EventID: ev.ID, Outcome: ex.attempt.Outcome, Request: ex.attempt.Request,
		Response: ex.attempt.Response, DurationMS: ex.attempt.DurationMS, Error: ex.attempt.Error,
	}, nil
}

package flows

import (
	"context"
	"encoding/json"
	"time"
)

// Services are the outside calls widgets make. The engine passes them through
// Run; the binary wires real implementations and tests wire fakes.
type Services interface {
	Webhooks() WebhookService
}

// WebhookService makes the HTTP calls of webhook widgets.
type WebhookService interface {
	// Config returns a configured (named) webhook, if one exists.
	Config(name string) (*WebhookConfig, bool)
	// Call sends one request (with retries as req asks) and reports what happened.
	// Failures are in the result, never a Go error: a flow follows its exits.
	Call(ctx context.Context, req *WebhookRequest) *WebhookResult
}

// Webhook body modes.
const (
	BodyDefault = "default" // Parley's default payload (see docs/webhooks.md)
	BodyCustom  = "custom"  // the Body template
	BodyNone    = "none"
	BodyLegacy  = "rapidpro" // RapidPro's legacy webhook payload
)

// Content types a webhook can send.
const (
	ContentJSON = "json"
	ContentForm = "form"
)

// Auth types.
const (
	AuthNone                    = "none"
	AuthBasic                   = "basic"
	AuthBearer                  = "bearer"
	AuthOAuth2ClientCredentials = "oauth2_client_credentials"
	AuthOAuth2Password          = "oauth2_password"
)

// WebhookConfig is a webhook definition: a configured, named one, or the same
// fields carried inline by a webhook widget. URL, header values and Body are
// templates.
type WebhookConfig struct {
	Name        string            `json:"name,omitempty"`
	Description string            `json:"description,omitempty"`
	URL         string            `json:"url,omitempty"`
	Method      string            `json:"method,omitempty"`
	ContentType string            `json:"content_type,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	Auth        *WebhookAuth      `json:"auth,omitempty"`
	// ExtraJSON is merged into whichever body is sent.
	ExtraJSON json.RawMessage `json:"extra_json,omitempty"`
	// BodyMode is default, custom, none or rapidpro; Body is the custom template.
	BodyMode string `json:"body_mode,omitempty"`
	Body     string `json:"body,omitempty"`
	// Include selects parameter groups for the default body; nil includes all.
	Include *ParamGroups `json:"include,omitempty"`
	// TimeoutSeconds bounds each attempt (default 10).
	TimeoutSeconds float64 `json:"timeout,omitempty"`
	// MaxResponseBytes caps the answer kept (default 256 KiB).
	MaxResponseBytes int `json:"max_response_bytes,omitempty"`
	// FollowRedirects follows 3xx answers; by default a 3xx is a failure.
	FollowRedirects bool `json:"follow_redirects,omitempty"`
	// Retries for failed calls (connection errors, timeouts, 5xx, 429): only for
	// idempotent methods unless RetryUnsafe is set.
	Retries        int  `json:"retries,omitempty"`
	RetryBackoffMS int  `json:"retry_backoff_ms,omitempty"`
	RetryUnsafe    bool `json:"retry_unsafe,omitempty"`
}

// ParamGroups selects which variable groups the default body carries.
type ParamGroups struct {
	Call     bool `json:"call"`
	FlowKeys bool `json:"flow_keys"`
	UserKeys bool `json:"user_keys"`
}

// WebhookAuth is how a webhook authenticates. Secrets never appear in events.
type WebhookAuth struct {
	Type         string   `json:"type"`
	Username     string   `json:"username,omitempty"`
	Password     string   `json:"password,omitempty"`
	Token        string   `json:"token,omitempty"`
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	TokenURL     string   `json:"token_url,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
	Audience     string   `json:"audience,omitempty"`
	// Encoding of the token request: "form" (default) or "json".
	Encoding string `json:"encoding,omitempty"`
}

// WebhookRequest is a rendered request, ready to send.
type WebhookRequest struct {
	// Name of the configured webhook it came from, if any (for logs and token caching).
	Name        string
	Method      string
	URL         string
	Headers     map[string]string
	ContentType string
	Body        []byte
	Auth        *WebhookAuth
	Timeout     time.Duration
	MaxResponse int
	// FollowRedirects, Retries, RetryBackoff, RetryUnsafe as in WebhookConfig.
	FollowRedirects bool
	Retries         int
	RetryBackoff    time.Duration
	RetryUnsafe     bool
	// Session, Flow and Widget name the session, flow and widget that made
	// the call, for its log line; empty outside a flow (parley webhook test).
	Session, Flow, Widget string
}

// Webhook call outcomes.
const (
	OutcomeSuccess = "success"   // 2xx
	OutcomeFailure = "failure"   // 3xx (not followed), 4xx, 5xx, answer too large, refused destination
	OutcomeTimeout = "timeout"   // no answer in time
	OutcomeError   = "error"     // connection error
	OutcomeBlocked = "blocked"   // destination refused by the address guard
	OutcomeTooBig  = "too_large" // answer over the size cap
)

// WebhookResult is what a call produced.
type WebhookResult struct {
	Outcome  string
	Status   int
	Headers  map[string]string
	Body     []byte
	Elapsed  time.Duration
	Attempts int
	// Error explains a failure that has no HTTP status.
	Error string
	// Request and Response are the last attempt, secrets redacted, for events.
	Request  *HTTPTrace
	Response *HTTPTrace
	// Calls lists every attempt (token requests included) when there was more than one.
	Calls []WebhookCall
}

// WebhookCall is one HTTP exchange within a webhook call.
type WebhookCall struct {
	Attempt   int        `json:"attempt"`
	Request   *HTTPTrace `json:"request"`
	Response  *HTTPTrace `json:"response,omitempty"`
	ElapsedMS int64      `json:"elapsed_ms"`
	Error     string     `json:"error,omitempty"`
}

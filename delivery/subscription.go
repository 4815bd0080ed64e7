package delivery

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/flows"
)

// Event types Parley delivers. The session.* and flow.completed events come
// from the server through the outbox; the others are produced here.
const (
	EventSessionLaunched  = "session.launched"
	EventSessionStarted   = "session.started"
	EventSessionUpdated   = "session.updated"
	EventSessionFinished  = "session.finished"
	EventFlowCompleted    = "flow.completed"
	EventWebhookPing      = "webhook.ping"
	EventEndpointDisabled = "endpoint.disabled"
)

// EventTypes lists every type a subscription may name in Events.
var EventTypes = []string{
	EventSessionLaunched, EventSessionStarted, EventSessionUpdated, EventSessionFinished,
	EventFlowCompleted, EventWebhookPing, EventEndpointDisabled,
}

// Environments.
const (
	EnvLive    = "live"
	EnvSandbox = "sandbox"
)

// Errors callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid")
	ErrInFlight = errors.New("delivery is being sent")
)

// ValidationError says what is wrong with a request: its Field and its
// Message, which names the field. A subscription's has every problem found
// in Problems, the first included, when there are several.
type ValidationError struct {
	Field   string
	Message string
	// Missing is set when the problem is a required field left out.
	Missing bool
	// Problems lists every problem found, when there are several; Field
	// and Message are then the first missing field's, or the first's.
	Problems []*ValidationError
}

func (e *ValidationError) Error() string { return e.Message }

// Is makes every ValidationError match ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// problems collects a subscription's problems, in the order found.
type problems []*ValidationError

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p *problems) missing(field, format string, args ...any) {
	*p = append(*p, &ValidationError{Field: field, Message: fmt.Sprintf(format, args...), Missing: true})
}

// err is nil without problems, else a *ValidationError holding them all.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	first := p[0]
	for _, q := range p {
		if q.Missing {
			first = q
			break
		}
	}
	e := *first
	if len(p) > 1 {
		e.Problems = p
	}
	return &e
}

// Secret is one signing secret of a subscription. Several can be active at
// once while receivers move to a new one.
type Secret struct {
	Secret    string     `json:"secret"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// ActiveAt reports whether the secret signs at t: it has no expiry, or
// expires after t. An expired secret signs nothing again.
func (s Secret) ActiveAt(t time.Time) bool { return s.ExpiresAt == nil || s.ExpiresAt.After(t) }

// Subscription is an endpoint that receives events.
type Subscription struct {
	ID          string             `json:"id"`
	Name        string             `json:"name,omitempty"`
	Description string             `json:"description,omitempty"`
	URL         string             `json:"url"`
	Method      string             `json:"method"`
	ContentType string             `json:"content_type"`
	Auth        *flows.WebhookAuth `json:"auth,omitempty"`
	Headers     map[string]string  `json:"headers,omitempty"`
	// ExtraJSON is sent unchanged as the envelope's "extra" member; the
	// envelope itself is never altered so signatures and parsers stay stable.
	ExtraJSON json.RawMessage `json:"extra_json,omitempty"`
	Secrets   []Secret        `json:"secrets"`
	// Events is ["*"] or a list of event types.
	Events []string `json:"events"`
	// Flows, when set, limits flow events to these flow ids; events without a
	// flow (pings, endpoint.disabled) are not filtered.
	Flows       []string `json:"flows,omitempty"`
	Environment string   `json:"environment"`
	// IsDefault subscriptions receive flow.completed of every flow, whatever
	// Events and Flows say.
	IsDefault      bool       `json:"is_default"`
	Disabled       bool       `json:"disabled"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`

	// ep is set by the Service on the snapshots it caches; clone drops it.
	ep *endpoint
}

// matches reports whether ev goes to sub by its filters. A disabled
// subscription matches too: it gets a delivery that is not sent (status
// disabled), so that recovering after re-enabling it sends what it missed.
func (sub *Subscription) matches(ev *Event) bool {
	if sub.Environment != ev.Environment {
		return false
	}
	if sub.IsDefault && ev.Type == EventFlowCompleted {
		return true
	}
	if !slices.Contains(sub.Events, "*") && !slices.Contains(sub.Events, ev.Type) {
		return false
	}
	if len(sub.Flows) > 0 && ev.FlowID != "" && !slices.Contains(sub.Flows, ev.FlowID) {
		return false
	}
	return true
}

// endpoint is what sending to a subscription needs that stays the same from
// one request to the next, worked out once per subscription snapshot
// (snapshots are immutable and replaced on change).
type endpoint struct {
	url    *url.URL // parsed sub.URL; nil when urlErr is set
	host   string   // the Host header that URL gives
	urlErr error
	// urlAuth is the basic auth of the URL's user info, sent when the
	// request has no Authorization header.
	urlAuth string
	// errOp and errURL name the request in errors, as http.Client does.
	errOp, errURL string
	// redactedURL is sub.URL as the deliveries log shows it.
	redactedURL string
	// secrets must never appear in the log (an OAuth 2.0 token is added
	// per request); red replaces them, wherever they appear, in what the
	// log keeps of a request and its answer.
	secrets     []string
	red         *callout.Redactor
	newRedactor func() *callout.Redactor
	// signers of the secrets that decode, in order, each with its expiry.
	signers []*signer
	// headers are the subscription's own headers, names canonical.
	headers  []header
	hasAgent bool // headers include a User-Agent
}

type header struct{ name, value string }

func newEndpoint(sub *Subscription) *endpoint {
	ep := &endpoint{secrets: sub.secretValues()}
	// Parsed the way every request would parse it.
	if r, err := http.NewRequest(sub.Method, sub.URL, nil); err != nil {
		ep.urlErr = err
	} else {
		ep.url, ep.host = r.URL, r.Host
		ep.errOp = r.Method[:1] + strings.ToLower(r.Method[1:])
		ep.errURL = r.URL.String()
		if u := r.URL.User; u != nil {
			pw, hasPW := u.Password()
			r.SetBasicAuth(u.Username(), pw)
			ep.urlAuth = r.Header.Get("Authorization")
			if hasPW {
				ep.errURL = strings.Replace(ep.errURL, u.String()+"@", u.Username()+":***@", 1)
				ep.secrets = append(ep.secrets, pw)
			}
			// A receiver echoing its headers would show the credentials encoded.
			ep.secrets = append(ep.secrets, strings.TrimPrefix(ep.urlAuth, "Basic "))
		}
		for k, vs := range r.URL.Query() {
			if sensitiveHeader(k) {
				ep.secrets = append(ep.secrets, vs...)
			}
		}
	}
	ep.redactedURL = redactURL(sub.URL, ep.secrets)
	for _, s := range sub.Secrets {
		if k, err := decodeSecret(s.Secret); err == nil {
			ep.signers = append(ep.signers, newSigner(k, s.ExpiresAt))
		}
	}
	for k, v := range sub.Headers {
		name := http.CanonicalHeaderKey(k)
		ep.headers = append(ep.headers, header{name, v})
		ep.hasAgent = ep.hasAgent || (name == "User-Agent" && v != "")
		if sensitiveHeader(name) {
			ep.secrets = append(ep.secrets, v)
		}
	}
	// The webhook widget's redaction (callout's), which learns the values of
	// secret headers and query parameters by its own rules, with every value
	// this package holds secret besides.
	auth, rawURL, headers, secrets := sub.Auth, sub.URL, sub.Headers, ep.secrets
	ep.newRedactor = func() *callout.Redactor {
		r := callout.NewRedactor(auth)
		r.Learn(rawURL, headers)
		r.AddValue(secrets...)
		return r
	}
	ep.red = ep.newRedactor()
	return ep
}

// redactor returns what redacts one request's exchange: ep's own, or, when
// the request carried an OAuth 2.0 access token, one that knows it too.
func (ep *endpoint) redactor(token string) *callout.Redactor {
	if token == "" {
		return ep.red
	}
	r := ep.newRedactor()
	r.AddValue(token)
	return r
}

// endpoint returns sub's prepared state: the cached one for a snapshot that
// went through setSub, else a fresh one.
func (sub *Subscription) endpoint() *endpoint {
	if sub.ep != nil {
		return sub.ep
	}
	return newEndpoint(sub)
}

// secretValues are strings that must never appear in the deliveries log.
func (sub *Subscription) secretValues() []string {
	var out []string
	if a := sub.Auth; a != nil {
		for _, v := range []string{a.Password, a.Token, a.ClientSecret} {
			if v != "" {
				out = append(out, v)
			}
		}
	}
	for _, s := range sub.Secrets {
		out = append(out, s.Secret, strings.TrimPrefix(s.Secret, SecretPrefix))
	}
	return out
}

var reservedHeaders = []string{"webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "content-length", "host", "transfer-encoding", "connection"}

// normalize fills defaults and validates sub, reporting every problem.
// stored is the subscription sub replaces (nil for a new one): headers it
// had already, unchanged, are kept as they are by checks added since, and
// flow ids it names already are not looked up. flowExists, when set, says
// whether a flow id names a stored flow; its error is returned as it is.
func (sub *Subscription) normalize(now time.Time, stored *Subscription, flowExists func(id string) (bool, error)) error {
	var p problems
	sub.Name = strings.TrimSpace(sub.Name)
	sub.URL = strings.TrimSpace(sub.URL)
	if sub.URL == "" {
		p.missing("url", "url is required: the address events are sent to")
	} else if u, err := url.Parse(sub.URL); err != nil {
		// Answered to the client, logged: the URL quoted redacted, and the
		// cause without the secrets the URL holds.
		p.add("url", "url %q is not a URL: %s", callout.NewRedactor(nil).URL(sub.URL), callout.ParseProblem(sub.URL, err))
	} else if u.Scheme != "http" && u.Scheme != "https" {
		p.add("url", "url's scheme must be http or https, not %q", u.Scheme)
	} else if hp := callout.HostProblem(u); hp != "" {
		p.add("url", "url %s", hp)
	}

	sub.Method = strings.ToUpper(strings.TrimSpace(sub.Method))
	if sub.Method == "" {
		sub.Method = "POST"
	}
	if sub.Method != "POST" && sub.Method != "PUT" && sub.Method != "PATCH" {
		p.add("method", "method must be POST, PUT or PATCH, not %q", sub.Method)
	}

	switch sub.ContentType {
	case "":
		sub.ContentType = flows.ContentJSON
	case flows.ContentJSON, flows.ContentForm:
	default:
		p.add("content_type", "content_type must be %q or %q, not %q", flows.ContentJSON, flows.ContentForm, sub.ContentType)
	}

	checkAuth(sub.Auth, &p)
	if sub.Auth != nil && sub.Auth.Type == flows.AuthNone {
		// checkAuth takes a none auth whatever else it sets, where a
		// configured webhook's is refused: it sends nothing, so the
		// fields it sets are dropped with it.
		sub.Auth = nil
	}
	sub.Auth = callout.NormalizeAuth(sub.Auth)

	names := make([]string, 0, len(sub.Headers))
	for name := range sub.Headers {
		names = append(names, name)
	}
	slices.Sort(names) // problems in the same order every time
	seen := map[string]string{}
	for _, name := range names {
		other, dup := seen[strings.ToLower(name)]
		seen[strings.ToLower(name)] = name
		switch {
		case dup && (stored == nil || !maps.Equal(sub.Headers, stored.Headers)):
			// Only one of the two would go, a different one after each
			// save. Headers stored before the check, sent back unchanged
			// (a secret's rotation, a re-enable), are kept.
			p.add("headers."+name, "headers: %q names the same header as %q (header names are the same in any case): give it once", name, other)
		case !validHeaderName(name):
			p.add("headers."+name, "headers: %q is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~)", name)
		case slices.Contains(reservedHeaders, strings.ToLower(name)):
			p.add("headers."+name, "headers: %q is set by the delivery and cannot be overridden", name)
		case strings.ContainsAny(sub.Headers[name], "\r\n"):
			p.add("headers."+name, "headers: the value of %q contains a line break", name)
		}
	}

	if len(sub.ExtraJSON) > 0 {
		if !json.Valid(sub.ExtraJSON) {
			p.add("extra_json", "extra_json is not valid JSON")
		} else if string(sub.ExtraJSON) == "null" {
			sub.ExtraJSON = nil
		}
	}

	if len(sub.Secrets) == 0 {
		sub.Secrets = []Secret{{Secret: NewSecret(), CreatedAt: now}}
	}
	active, lasting, bad := 0, 0, false
	for i := range sub.Secrets {
		s := &sub.Secrets[i]
		if _, err := decodeSecret(s.Secret); err != nil {
			field := fmt.Sprintf("secrets[%d].secret", i)
			p.add(field, "%s: %v", field, err)
			bad = true
			continue
		}
		if s.CreatedAt.IsZero() {
			s.CreatedAt = now
		}
		if s.ActiveAt(now) {
			active++
		}
		if s.ExpiresAt == nil {
			lasting++
		}
	}
	switch {
	case bad:
	case active == 0:
		p.add("secrets", "secrets: no secret is active (all have expired)")
	case lasting == 0:
		// Once the last expired, deliveries could not be signed.
		p.add("secrets", "secrets: every secret has an expires_at: give one without it, the secret that signs once the others have expired")
	}

	if len(sub.Events) == 0 {
		sub.Events = []string{"*"}
	}
	for i, e := range sub.Events {
		if e != "*" && !slices.Contains(EventTypes, e) {
			p.add(fmt.Sprintf("events[%d]", i), "events[%d]: unknown event type %q (want \"*\" or one of %s)", i, e, strings.Join(EventTypes, ", "))
		}
	}
	for i, f := range sub.Flows {
		switch {
		case strings.TrimSpace(f) == "":
			p.add(fmt.Sprintf("flows[%d]", i), "flows[%d] is empty: give a flow id", i)
		case flowExists != nil && (stored == nil || !slices.Contains(stored.Flows, f)):
			ok, err := flowExists(f)
			if err != nil {
				return err
			}
			if !ok {
				p.add(fmt.Sprintf("flows[%d]", i), "flows[%d]: flow %q not found (GET /v1/flows lists the flows)", i, f)
			}
		}
	}

	switch sub.Environment {
	case "":
		sub.Environment = EnvLive
	case EnvLive, EnvSandbox:
	default:
		p.add("environment", "environment must be %q or %q, not %q", EnvLive, EnvSandbox, sub.Environment)
	}
	if !sub.Disabled {
		sub.DisabledReason = ""
		sub.DisabledAt = nil
	} else if sub.DisabledAt == nil {
		sub.DisabledAt = &now
	}
	return p.err()
}

// checkAuth adds a's problems to p.
func checkAuth(a *flows.WebhookAuth, p *problems) {
	if a == nil {
		return
	}
	need := func(field, v string) {
		if v == "" {
			p.missing("auth."+field, "auth.%s is required for %s auth", field, a.Type)
		}
	}
	switch a.Type {
	case flows.AuthNone:
	case "":
		p.missing("auth.type", "auth.type is required: %s", strings.Join(authTypes, ", "))
	case flows.AuthBasic:
		need("username", a.Username)
	case flows.AuthBearer:
		need("token", a.Token)
	case flows.AuthOAuth2ClientCredentials, flows.AuthOAuth2Password:
		need("token_url", a.TokenURL)
		if a.TokenURL != "" {
			if u, err := url.Parse(a.TokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				p.add("auth.token_url", "auth.token_url must be an absolute http(s) URL, not %q", callout.NewRedactor(nil).URL(a.TokenURL))
			}
		}
		need("client_id", a.ClientID)
		switch strings.ToLower(a.Encoding) {
		case "", callout.EncodingForm, callout.EncodingJSON:
		default:
			p.add("auth.encoding", "auth.encoding must be %q or %q, not %q", callout.EncodingForm, callout.EncodingJSON, a.Encoding)
		}
		if a.Type == flows.AuthOAuth2Password {
			need("username", a.Username)
			need("password", a.Password)
		}
	default:
		p.add("auth.type", "auth.type %q is not known: %s", a.Type, strings.Join(authTypes, ", "))
	}
}

// authTypes are the auth types a subscription takes.
var authTypes = []string{flows.AuthNone, flows.AuthBasic, flows.AuthBearer, flows.AuthOAuth2ClientCredentials, flows.AuthOAuth2Password}

// validHeaderName accepts RFC 9110 token characters.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

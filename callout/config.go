package callout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/parleyhq/parley/flows"
)

// LoadConfigs reads configured webhooks from a JSON file (--webhooks FILE):
// {"webhooks":[{...}]} or a bare array of WebhookConfig. Each is validated;
// errors name the webhook and the field.
func LoadConfigs(path string) (map[string]*flows.WebhookConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) { // "open PATH: ..." would name the file twice
			err = pe.Err
		}
		return nil, fmt.Errorf("webhooks file %s: %w", path, err)
	}
	cfgs, err := ParseConfigs(data)
	if err != nil {
		// Each problem names the file.
		return nil, flows.EachNamed("webhooks file "+path, err)
	}
	return cfgs, nil
}

// configsFileHolds says what a file of configured webhooks holds, for a file
// that holds nothing or some other JSON value.
const configsFileHolds = `the file holds {"webhooks": [...]} or an array of webhooks ({"webhooks": []} or [] for none)`

// ParseConfigs is LoadConfigs on bytes already read. The file is decoded as
// flows are (flows.DecodeDocument): names match exactly, and each problem
// names its entry and field, webhooks[1].timeout, also in a bare array.
func ParseConfigs(data []byte) (map[string]*flows.WebhookConfig, error) {
	var list []*flows.WebhookConfig
	trimmed := bytes.TrimSpace(flows.TrimBOM(data))
	var problems []*flows.FieldError
	if len(trimmed) > 0 && trimmed[0] == '[' {
		problems = WithNullElements(trimmed, &list, flows.DecodeDocument(trimmed, &list))
		for _, fe := range problems {
			if strings.HasPrefix(fe.Path, "[") {
				fe.Path = "webhooks" + fe.Path
			}
		}
	} else {
		var doc struct {
			Webhooks []*flows.WebhookConfig `json:"webhooks"`
		}
		problems = WithNullElements(trimmed, &doc, flows.DecodeDocument(trimmed, &doc))
		list = doc.Webhooks
		if string(trimmed) == "null" {
			// Decoded as an empty object would be, but no list at all:
			// most likely a file written wrong, not a wish for none.
			problems = []*flows.FieldError{{Path: "$", Message: "expected a JSON object, got JSON null"}}
		}
		for _, fe := range problems {
			if fe.Path == "$" && (fe.Message == "empty document" || strings.HasPrefix(fe.Message, "expected a JSON object, got JSON ")) {
				fe.Message += ": " + configsFileHolds
			}
		}
	}
	if len(problems) > 0 {
		errs := make([]error, len(problems))
		for i, fe := range problems {
			errs[i] = fe
		}
		return nil, errors.Join(errs...)
	}
	out := make(map[string]*flows.WebhookConfig, len(list))
	var errs []error
	for i, c := range list {
		where := fmt.Sprintf("webhooks[%d]", i)
		if c == nil {
			errs = append(errs, fmt.Errorf("%s: null", where))
			continue
		}
		if c.Name != "" {
			where += fmt.Sprintf(" %q", c.Name)
		}
		if c.Name == "" {
			errs = append(errs, fmt.Errorf("%s: name: required", where))
		} else if _, dup := out[c.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: name: %q is defined twice", where, c.Name))
		}
		problems := Validate(c, true)
		for _, fe := range problems {
			errs = append(errs, fmt.Errorf("%s: %w", where, fe))
		}
		if len(problems) == 0 {
			Normalize(c)
		}
		if c.Name != "" {
			out[c.Name] = c
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// WithNullElements adds to problems, those of decoding data into v (a
// configured webhook, a file of them), each element of a list inside a
// configured webhook given as null (auth.scopes[0]): a field given as null
// is not given, but an element so given would be read as an empty one, as
// a flow refuses it. Nothing is added to a listing that ends short or to
// a syntax error, which say all that is known.
func WithNullElements(data []byte, v any, problems []*flows.FieldError) []*flows.FieldError {
	for _, fe := range problems {
		if errors.Is(fe, flows.ErrSyntax) || errors.Is(fe, flows.ErrMoreProblems) {
			return problems
		}
	}
	for _, fe := range flows.NullElements(data, v) {
		if strings.Contains(fe.Path, ".") { // not a whole entry, which its check reports
			problems = append(problems, fe)
		}
	}
	return problems
}

// MaxResponseBytes is the largest max_response_bytes a webhook may set (16
// MiB): an answer is held in memory while the call runs and kept in the
// session, which is read and written whole on every turn. A configured
// webhook that sets more is held to it.
const MaxResponseBytes = 16 << 20

// Validate checks a webhook definition and returns one FieldError per problem,
// with paths relative to the config ("auth.token_url", "method"). A
// max_response_bytes over MaxResponseBytes is one, marked flows.ErrNewRule. complete says
// whether the URL must be present: an inline config may take it from a named
// one. The widget calls it for its inline fields; URL, headers and body may be
// templates, so only a URL's scheme is checked.
func Validate(c *flows.WebhookConfig, complete bool) []*flows.FieldError {
	var errs []*flows.FieldError
	add := func(field, f string, args ...any) { errs = append(errs, flows.Errorf(field, f, args...)) }
	switch strings.ToUpper(c.Method) {
	case "", http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		add("method", "%q is not supported (GET, POST, PUT, PATCH or DELETE)", c.Method)
	}
	switch {
	case c.URL == "" && complete:
		add("url", "required")
	case c.URL != "" && !hasHTTPScheme(c.URL):
		add("url", "%q must start with http:// or https://", NewRedactor(nil).URL(c.URL))
	}
	switch strings.ToLower(c.ContentType) {
	case "", flows.ContentJSON, flows.ContentForm:
	default:
		add("content_type", "%q is not supported (json or form)", c.ContentType)
	}
	switch c.BodyMode {
	case "", flows.BodyDefault, flows.BodyNone, flows.BodyLegacy:
	case flows.BodyCustom:
		if c.Body == "" {
			add("body", "required when body_mode is custom")
		}
	default:
		add("body_mode", "%q is not supported (default, custom, none or rapidpro)", c.BodyMode)
	}
	if len(c.ExtraJSON) > 0 && !NullJSON(c.ExtraJSON) {
		var m map[string]any
		if err := json.Unmarshal(c.ExtraJSON, &m); err != nil || m == nil {
			add("extra_json", "must be a JSON object")
		}
	}
	if c.TimeoutSeconds < 0 || c.TimeoutSeconds > 300 {
		add("timeout", "%v seconds is out of range (0 to 300)", c.TimeoutSeconds)
	}
	switch {
	case c.MaxResponseBytes < 0:
		add("max_response_bytes", "must not be negative")
	case c.MaxResponseBytes > MaxResponseBytes:
		// Refused in what is written now; a flow stored with more still
		// loads (ErrNewRule), held to the maximum as a stored configuration is.
		fe := flows.Errorf("max_response_bytes", "%d is over the maximum of %d (16 MiB)", c.MaxResponseBytes, MaxResponseBytes)
		fe.Err = flows.ErrNewRule
		errs = append(errs, fe)
	}
	if c.Retries < 0 || c.Retries > MaxRetries {
		add("retries", "%d is out of range (0 to %d)", c.Retries, MaxRetries)
	}
	switch maxMS := int(MaxRetryBackoff / time.Millisecond); {
	case c.RetryBackoffMS < 0:
		add("retry_backoff_ms", "must not be negative")
	case c.RetryBackoffMS > maxMS:
		// Refused in what is written now; one stored with more still loads
		// (ErrNewRule), and waits the most, which any wait is held to.
		fe := flows.Errorf("retry_backoff_ms", "%d is over the maximum of %d (30 s, the longest wait between attempts)", c.RetryBackoffMS, maxMS)
		fe.Err = flows.ErrNewRule
		errs = append(errs, fe)
	}
	seen := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(c.Headers)) {
		// Header names are the same without case: only one of two would
		// go, and which one would change from call to call. A new rule: a
		// flow stored with two still loads.
		if other, dup := seen[strings.ToLower(k)]; dup {
			fe := flows.Errorf(flows.MemberPath("headers", k), "names the same header as %q (header names are the same in any case): give it once", other)
			fe.Err = flows.ErrNewRule
			errs = append(errs, fe)
		}
		seen[strings.ToLower(k)] = k
		if k == "" || strings.ContainsAny(k, " :\r\n\t") {
			add(flows.MemberPath("headers", k), "is not a valid header name")
		} else if ClientHeader(k) {
			// A new rule: a flow stored with one still loads, and runs
			// without it.
			fe := flows.Errorf(flows.MemberPath("headers", k), "is written by the HTTP client itself, from the body it sends and the connection it uses: it cannot be set")
			fe.Err = flows.ErrNewRule
			errs = append(errs, fe)
		}
	}
	if c.Auth != nil {
		for _, e := range checkAuth(c.Auth) {
			errs = append(errs, e)
		}
	}
	return errs
}

// Normalize puts a config that Validate passes in the form it is stored and
// shown in: its auth as NormalizeAuth writes it.
func Normalize(c *flows.WebhookConfig) {
	c.Auth = NormalizeAuth(c.Auth)
	if NullJSON(c.ExtraJSON) {
		c.ExtraJSON = nil
	}
}

// NullJSON reports whether raw is JSON null: an extra_json given as null is
// not given, as any field of a webhook given as null.
func NullJSON(raw []byte) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// NormalizeAuth is a webhook's auth in the form configured webhooks and
// event subscriptions store and show it: nil for one that sends no
// credentials ("auth": {}, a type of "" or none with nothing else set), and
// otherwise a with auth.encoding, read in any case, in lower case. a is
// copied before it is changed, as it may be shared; one already in that
// form is returned as it is.
func NormalizeAuth(a *flows.WebhookAuth) *flows.WebhookAuth {
	if a == nil {
		return nil
	}
	if (a.Type == "" || a.Type == flows.AuthNone) && len(authFields(a)) == 0 {
		return nil
	}
	if lower := strings.ToLower(a.Encoding); lower != a.Encoding {
		cp := *a
		cp.Encoding = lower
		return &cp
	}
	return a
}

func hasHTTPScheme(u string) bool {
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// authTypes lists the auth types, as errors name them.
var authTypes = strings.Join([]string{flows.AuthNone, flows.AuthBasic, flows.AuthBearer, flows.AuthOAuth2ClientCredentials}, ", ") +
	" or " + flows.AuthOAuth2Password

// authUses is what each auth type sends, in its fields: a field another
// type uses would not be sent.
var authUses = map[string][]string{
	flows.AuthNone:                    nil,
	flows.AuthBasic:                   {"username", "password"},
	flows.AuthBearer:                  {"token"},
	flows.AuthOAuth2ClientCredentials: {"client_id", "client_secret", "token_url", "scopes", "audience", "encoding"},
	flows.AuthOAuth2Password:          {"client_id", "client_secret", "username", "password", "token_url", "scopes", "audience", "encoding"},
}

// authFields lists the fields of a that are set, by their JSON names, in
// the order of the struct.
func authFields(a *flows.WebhookAuth) []string {
	var set []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"username", a.Username != ""}, {"password", a.Password != ""}, {"token", a.Token != ""},
		{"client_id", a.ClientID != ""}, {"client_secret", a.ClientSecret != ""}, {"token_url", a.TokenURL != ""},
		{"scopes", len(a.Scopes) > 0}, {"audience", a.Audience != ""}, {"encoding", a.Encoding != ""},
	} {
		if f.set {
			set = append(set, f.name)
		}
	}
	return set
}

// checkAuth names missing or wrong auth fields. An auth without a type
// sends nothing, so one that sets any other field needs its type; a field
// its type does not send (a bearer auth's encoding) is refused, not left
// out of the call in silence. Both were taken once (flows.ErrNewRule): a
// flow stored with them calls as it did, with a warning.
// runAuthProblem is the first of checkAuth's problems that stops a call:
// one a check added since the webhook was stored finds (flows.ErrNewRule: a
// field the type does not send, a token without a type) is a warning where
// the webhook is loaded, and the call goes as it did, nil here.
func runAuthProblem(a *flows.WebhookAuth) error {
	for _, fe := range checkAuth(a) {
		if !errors.Is(fe, flows.ErrNewRule) {
			return fe
		}
	}
	return nil
}

func checkAuth(a *flows.WebhookAuth) []*flows.FieldError {
	var errs []*flows.FieldError
	need := func(field, v string) {
		if v == "" {
			errs = append(errs, flows.Errorf("auth."+field, "required for %s auth", a.Type))
		}
	}
	newRule := func(fe *flows.FieldError) {
		fe.Err = flows.ErrNewRule
		errs = append(errs, fe)
	}
	set := authFields(a)
	if uses, known := authUses[a.Type]; known {
		for _, f := range set {
			if slices.Contains(uses, f) {
				continue
			}
			what := "it sends no credentials"
			if len(uses) > 0 {
				what = "it uses " + strings.Join(uses, ", ")
			}
			newRule(flows.Errorf("auth."+f, "%s auth does not use %s (%s)", a.Type, f, what))
		}
	}
	switch a.Type {
	case "":
		if len(set) > 0 {
			newRule(flows.Errorf("auth.type", "required when auth sets %s: one of %s; without it the call would go out with no credentials",
				strings.Join(set, ", "), authTypes))
		}
	case flows.AuthNone:
	case flows.AuthBasic:
		need("username", a.Username)
	case flows.AuthBearer:
		need("token", a.Token)
	case flows.AuthOAuth2ClientCredentials, flows.AuthOAuth2Password:
		need("client_id", a.ClientID)
		need("token_url", a.TokenURL)
		if a.TokenURL != "" && checkURL(a.TokenURL) != nil {
			what := "must be an http or https URL"
			if _, err := url.Parse(a.TokenURL); err != nil {
				what = "is not a URL: " + ParseProblem(a.TokenURL, err)
			}
			errs = append(errs, flows.Errorf("auth.token_url", "%q %s", NewRedactor(nil).URL(a.TokenURL), what))
		}
		if a.Type == flows.AuthOAuth2ClientCredentials {
			need("client_secret", a.ClientSecret)
		} else {
			need("username", a.Username)
			need("password", a.Password)
		}
		switch strings.ToLower(a.Encoding) {
		case "", EncodingForm, EncodingJSON:
		default:
			errs = append(errs, flows.Errorf("auth.encoding", "%q is not supported (form or json)", a.Encoding))
		}
	default:
		errs = append(errs, flows.Errorf("auth.type", "%q is not supported (%s)", a.Type, authTypes))
	}
	return errs
}

// Merge returns a new config: named with every field inline sets overriding it.
// Headers are merged key by key (inline wins); auth, extra_json and include are
// replaced whole, and an Authorization header inline sets replaces named's
// auth too. Booleans can only be switched on inline. Either may be nil.
func Merge(named, inline *flows.WebhookConfig) *flows.WebhookConfig {
	out := &flows.WebhookConfig{}
	if named != nil {
		*out = *named
		out.Headers = maps.Clone(named.Headers)
		out.ExtraJSON = slices.Clone(named.ExtraJSON)
	}
	if inline == nil {
		return out
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	if named == nil {
		// Through a configured webhook, the call is that webhook's: its
		// name, which logs and events give and by which the server finds
		// a stored one its checks refuse, is not the widget's to change.
		set(&out.Name, inline.Name)
	}
	set(&out.Description, inline.Description)
	set(&out.URL, inline.URL)
	set(&out.Method, inline.Method)
	set(&out.ContentType, inline.ContentType)
	set(&out.BodyMode, inline.BodyMode)
	set(&out.Body, inline.Body)
	if len(inline.Headers) > 0 {
		if out.Headers == nil {
			out.Headers = map[string]string{}
		}
		for k, v := range inline.Headers {
			// Header names are case-insensitive: drop the named spelling.
			for nk := range out.Headers {
				if strings.EqualFold(nk, k) {
					delete(out.Headers, nk)
				}
			}
			out.Headers[k] = v
		}
	}
	switch {
	case inline.Auth != nil:
		a := *inline.Auth
		out.Auth = &a
	case ownAuth(inline):
		// An Authorization header of the widget's own is its credentials:
		// sent in place of the configured auth, which would replace it.
		out.Auth = nil
	case out.Auth != nil:
		a := *out.Auth
		out.Auth = &a
	}
	if len(inline.ExtraJSON) > 0 && !NullJSON(inline.ExtraJSON) {
		out.ExtraJSON = slices.Clone(inline.ExtraJSON)
	}
	if inline.Include != nil {
		g := *inline.Include
		out.Include = &g
	}
	if inline.TimeoutSeconds > 0 {
		out.TimeoutSeconds = inline.TimeoutSeconds
	}
	if inline.MaxResponseBytes > 0 {
		out.MaxResponseBytes = inline.MaxResponseBytes
	}
	if inline.Retries > 0 {
		out.Retries = inline.Retries
	}
	if inline.RetryBackoffMS > 0 {
		out.RetryBackoffMS = inline.RetryBackoffMS
	}
	out.FollowRedirects = out.FollowRedirects || inline.FollowRedirects
	out.RetryUnsafe = out.RetryUnsafe || inline.RetryUnsafe
	return out
}

// sentCredentials lists the credentials a configured webhook (named) sends
// that the widget's own fields (inline) do not replace: its auth, unless the
// widget gives an auth or an Authorization header of its own, and each
// secret-looking header the widget does not set itself. Empty when the
// call carries none of the configured webhook's secrets.
func sentCredentials(named, inline *flows.WebhookConfig) []string {
	var what []string
	if named.Auth != nil && named.Auth.Type != "" && named.Auth.Type != flows.AuthNone && !ownAuth(inline) {
		what = append(what, "its auth")
	}
	red := NewRedactor(nil)
	for _, k := range slices.Sorted(maps.Keys(named.Headers)) {
		if _, replaced := headerNamed(inline.Headers, k); !replaced && red.IsSecretHeader(k) {
			what = append(what, "its header "+k)
		}
	}
	// The configured URL's user and password go as basic auth when no auth
	// and no Authorization header is sent, and the widget keeps that URL.
	if inline.URL == "" && urlHasUser(named.URL) {
		auth := named.Auth
		if inline.Auth != nil {
			auth = inline.Auth
		}
		_, own := headerNamed(inline.Headers, "Authorization")
		_, configured := headerNamed(named.Headers, "Authorization")
		if !own && !configured && (auth == nil || auth.Type == "" || auth.Type == flows.AuthNone) {
			what = append(what, "the user and password of its url")
		}
	}
	return what
}

// urlHasUser reports whether a URL template has a user part (bob:pw@host).
// One that does not parse is read as roughly as it is redacted: a password
// may hold a / that keeps it from parsing.
func urlHasUser(raw string) bool {
	if u, err := url.Parse(raw); err == nil {
		if u.User == nil {
			return false
		}
		_, pw := u.User.Password()
		return u.User.Username() != "" || pw
	}
	_, _, at := roughUserInfo(raw)
	return at > 0
}

// ownAuth reports whether a widget's inline fields carry credentials of its
// own in place of a configured webhook's auth: an auth, or an Authorization
// header, which is sent instead of the configured auth (see Merge).
func ownAuth(inline *flows.WebhookConfig) bool {
	_, header := headerNamed(inline.Headers, "Authorization")
	return inline.Auth != nil || header
}

// headerNamed is the name headers gives the header name (compared without
// regard to case), and whether it has one: of two spellings, which a
// webhook stored before they were refused may have, the one sent (the last
// in name order, see Service).
func headerNamed(headers map[string]string, name string) (string, bool) {
	found, ok := "", false
	for k := range headers {
		if strings.EqualFold(k, name) && (!ok || k > found) {
			found, ok = k, true
		}
	}
	return found, ok
}

// CheckOverrideURL refuses the url a flow's widget gives a configured
// webhook (inline, rendered as url) when the configured webhook sends
// credentials, its auth or a secret-looking header the widget does not
// replace, and url leads to another origin (scheme, host and port) than
// the configured URL's: the API shows those credentials only as
// [redacted], and a flow's author must not read them at an address of
// their own. A configured URL whose origin is a template cannot be
// compared, and is refused as another origin. nil when the call may go.
func CheckOverrideURL(named, inline *flows.WebhookConfig, url string) error {
	if named == nil || inline == nil || inline.URL == "" {
		return nil
	}
	what := sentCredentials(named, inline)
	if len(what) == 0 {
		return nil
	}
	own, to := templateOrigin(named.URL), sameOrigin(url)
	if own != "" && own == to {
		return nil
	}
	if own == "" {
		own = "the address of its url, " + roughRedactURL(named.URL) + ","
	}
	if to == "" {
		to = "the address of " + roughRedactURL(url)
	}
	return fmt.Errorf("url: the configured webhook sends credentials (%s) to %s; a flow may not send them to %s (another scheme, host or port): "+
		"set that url in the configured webhook, or leave the widget's url out", strings.Join(what, ", "), own, to)
}

// CheckOverrideHost is CheckOverrideURL for the Host header a flow's widget
// gives a configured webhook (its header name, rendered as host; each
// spelling of Host a stored widget may give is checked): the Host names the site a
// server answers for, so another one would hand the configured webhook's
// credentials to another site at the same address. It may name the host
// the configured webhook sends to anyway: the Host header it sets itself,
// or else its URL's host and port (compared without regard to case, the
// scheme's default port left out). A configured URL whose host is a
// template has no host to compare, and any Host is refused. nil when the
// call may go, and when the widget sets no Host or an empty one, which
// sends the URL's.
func CheckOverrideHost(named, inline *flows.WebhookConfig, name, host string) error {
	if named == nil || inline == nil || host == "" || !strings.EqualFold(name, "Host") {
		return nil
	}
	what := sentCredentials(named, inline)
	if len(what) == 0 {
		return nil
	}
	scheme, own := "", ""
	if origin := templateOrigin(named.URL); origin != "" {
		scheme, own, _ = strings.Cut(origin, "://")
	}
	if k, ok := headerNamed(named.Headers, "Host"); ok && named.Headers[k] != "" {
		own = named.Headers[k]
	}
	if own != "" && hostKey(scheme, own) == hostKey(scheme, host) {
		return nil
	}
	where := "the host " + own
	if own == "" {
		where = "the address of its url, " + roughRedactURL(named.URL) + ","
	}
	return fmt.Errorf("%s: the configured webhook sends credentials (%s) to %s; a flow may not send them to the host %q (another site at that address): "+
		"set that Host in the configured webhook, or leave the widget's Host out", flows.MemberPath("headers", name), strings.Join(what, ", "), where, host)
}

// hostKey is a Host header's value as compared: in lower case, without the
// scheme's default port.
func hostKey(scheme, host string) string {
	host = strings.ToLower(strings.TrimSpace(host))
	switch {
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		return strings.TrimSuffix(host, ":443")
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		return strings.TrimSuffix(host, ":80")
	}
	return host
}

// sameOrigin is the scheme, host and port of an http or https URL, in lower
// case and without the scheme's default port; "" when raw has none.
func sameOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	scheme, port := strings.ToLower(u.Scheme), u.Port()
	if port == "" || (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + port
}

// templateOrigin is the origin of a URL template, "" when its authority
// holds an @, which may start a template (https://@flow.region.value.example.com)
// as well as end a user name and password.
func templateOrigin(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	if strings.Contains(rest, "@") {
		return ""
	}
	return sameOrigin(raw)
}

// Method returns the config's method, upper case; POST when unset.
func Method(c *flows.WebhookConfig) string {
	if c.Method == "" {
		return http.MethodPost
	}
	return strings.ToUpper(c.Method)
}

// BodyMode returns the config's body mode: when unset, the default payload
// for POST, PUT and PATCH and no body for GET and DELETE.
func BodyMode(c *flows.WebhookConfig) string {
	if c.BodyMode != "" {
		return c.BodyMode
	}
	switch Method(c) {
	case http.MethodGet, http.MethodDelete:
		return flows.BodyNone
	}
	return flows.BodyDefault
}

// NewRequest turns a merged config and its rendered URL, headers and body
// (from BuildBody) into a request ready for Service.Call. Auth is copied so
// the request owns it.
func NewRequest(c *flows.WebhookConfig, url string, headers map[string]string, body []byte, contentType string) *flows.WebhookRequest {
	req := &flows.WebhookRequest{
		Name: c.Name, Method: Method(c), URL: url, Headers: headers, ContentType: contentType, Body: body,
		Timeout:         time.Duration(c.TimeoutSeconds * float64(time.Second)),
		MaxResponse:     min(c.MaxResponseBytes, MaxResponseBytes),
		FollowRedirects: c.FollowRedirects,
		Retries:         min(c.Retries, MaxRetries),
		RetryBackoff:    time.Duration(min(c.RetryBackoffMS, int(MaxRetryBackoff/time.Millisecond))) * time.Millisecond,
		RetryUnsafe:     c.RetryUnsafe,
	}
	if c.Auth != nil && c.Auth.Type != "" && c.Auth.Type != flows.AuthNone {
		a := *c.Auth
		req.Auth = &a
	}
	return req
}

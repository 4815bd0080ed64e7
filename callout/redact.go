package callout

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/parleyhq/parley/flows"
)

// Redacted replaces secrets in traces, events and logs.
const Redacted = "[redacted]"

// Header names whose values are always secret, lower case.
var secretHeaderNames = map[string]bool{
	"authorization":       true,
	"proxy-authorization": true,
	"cookie":              true,
	"set-cookie":          true,
	"x-api-key":           true,
	"api-key":             true,
	"apikey":              true,
}

// Substrings that make a header, query parameter or body key look secret.
var secretNameParts = []string{"token", "secret", "password", "passwd", "apikey", "api-key", "api_key", "signature", "credential", "cookie"}

// Query parameter names that are secret on their own.
var secretParams = map[string]bool{"key": true, "sig": true, "auth": true}

// Redactor removes secrets from what is recorded of a call. Secrets are known
// two ways: by name (headers such as Authorization, query parameters such as
// access_token, token-exchange fields such as client_secret) and by value (the
// password, token and client secret of the call's auth, and access tokens the
// service obtained), which are replaced wherever they appear.
type Redactor struct {
	headers map[string]bool // extra secret header names, lower case
	values  []string
}

// NewRedactor returns a redactor for auth's secrets plus the named extra
// headers (compared case-insensitively).
func NewRedactor(auth *flows.WebhookAuth, secretHeaders ...string) *Redactor {
	return newRedactor(auth, secretHeaderSet(secretHeaders))
}

// secretHeaderSet is the lower-case set of extra secret header names.
func secretHeaderSet(names []string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, h := range names {
		set[strings.ToLower(h)] = true
	}
	return set
}

// newRedactor returns a redactor for auth's secrets with a set of extra secret
// header names from secretHeaderSet, which it shares and never changes: a
// service builds the set once for all its calls.
func newRedactor(auth *flows.WebhookAuth, headers map[string]bool) *Redactor {
	r := &Redactor{headers: headers}
	if auth != nil {
		r.AddValue(auth.Password, auth.Token, auth.ClientSecret)
		if auth.Type == flows.AuthBasic {
			// A receiver echoing our headers back would show the credentials encoded.
			r.AddValue(base64.StdEncoding.EncodeToString([]byte(auth.Username + ":" + auth.Password)))
		}
		if auth.TokenURL != "" {
			// Its secret parameters and password, for the token server's
			// answers and errors.
			r.Learn(auth.TokenURL, nil)
		}
	}
	return r
}

// Learn adds the secrets a request carries besides its auth: values of secret
// headers, secret query parameters and a URL password, so that a receiver
// echoing them back does not leak them into the answer's trace.
func (r *Redactor) Learn(rawURL string, headers map[string]string) {
	var u *url.URL
	// Only a URL with user info or a query can carry secrets: spare the parse.
	if strings.ContainsAny(rawURL, "@?") {
		u = parseURL(rawURL)
	}
	r.learn(rawURL, u, headers)
}

// learn is Learn with the URL already parsed (nil: unparseable, or nothing
// in it to learn). A URL that does not parse (a template that rendered
// badly) may still carry a password and secret parameters, read as well as
// its text allows (roughURL), so that its errors do not show them.
func (r *Redactor) learn(rawURL string, u *url.URL, headers map[string]string) {
	for k, v := range headers {
		if r.IsSecretHeader(k) {
			r.AddValue(v)
		}
	}
	if u == nil {
		if pw, query := roughURL(rawURL); pw != "" || query != "" {
			r.AddValue(pw)
			for _, p := range strings.Split(query, "&") {
				k, v, _ := strings.Cut(p, "=")
				if name, err := url.QueryUnescape(k); err == nil {
					k = name
				}
				if secretParams[strings.ToLower(k)] || looksSecret(k) {
					r.AddValue(v)
					if dv, err := url.QueryUnescape(v); err == nil {
						r.AddValue(dv)
					}
				}
			}
		}
		return
	}
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			// Sent as Basic auth, which a receiver echoing our headers
			// would show encoded.
			r.AddValue(p, base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+p)))
		}
	}
	for k, vs := range u.Query() {
		if secretParams[strings.ToLower(k)] || looksSecret(k) {
			r.AddValue(vs...)
		}
	}
}

// AddValue adds secret values to replace wherever they appear, in the forms
// a receiver echoing them may give them too (echoForms). Values shorter than
// four characters are ignored: replacing them would mangle unrelated text,
// and they only travel in headers that are redacted by name.
func (r *Redactor) AddValue(vals ...string) {
	added := false
	for _, v := range vals {
		if len(v) < 4 {
			continue
		}
		for _, f := range echoForms(v) {
			if !slices.Contains(r.values, f) {
				r.values = append(r.values, f)
				added = true
			}
		}
	}
	if !added {
		return
	}
	// Longest first, so a secret containing another is replaced whole.
	sort.Slice(r.values, func(i, j int) bool { return len(r.values[i]) > len(r.values[j]) })
}

// echoForms is v and the other forms it takes when a receiver echoes it back
// inside a JSON string or a URL: JSON-escaped as encoding/json writes it
// (<, > and & as \u003c ...) or not, with "/" written "\/" as PHP's
// json_encode does by default, with characters beyond ASCII as \uXXXX as
// PHP and Python write them; and percent-encoded as a query value or a path
// segment, with upper- or lower-case hex. For most tokens (letters, digits,
// "-", "_", ".") every form is v itself.
func echoForms(v string) []string {
	forms := []string{v}
	add := func(f string) {
		if !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	for _, html := range []bool{false, true} {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(v) != nil {
			continue
		}
		quoted := strings.TrimSuffix(b.String(), "\n")
		inner := quoted[1 : len(quoted)-1]
		for _, slash := range []bool{false, true} {
			f := inner
			if slash {
				f = strings.ReplaceAll(f, "/", `\/`)
			}
			add(f)
			add(asciiJSON(f))
		}
	}
	for _, f := range []string{url.QueryEscape(v), strings.ReplaceAll(url.QueryEscape(v), "+", "%20"), url.PathEscape(v)} {
		add(f)
		add(lowerHex(f))
	}
	return forms
}

// asciiJSON writes the characters beyond ASCII of a JSON string's text as
// \uXXXX escapes (UTF-16 surrogate pairs beyond U+FFFF).
func asciiJSON(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c < utf8.RuneSelf {
			b.WriteRune(c)
			continue
		}
		if r1, r2 := utf16.EncodeRune(c); r1 != utf8.RuneError {
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			continue
		}
		fmt.Fprintf(&b, `\u%04x`, c)
	}
	return b.String()
}

// lowerHex writes the hex digits of s's percent escapes in lower case.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lower(b[i+1]), lower(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// IsSecretHeader reports whether a header's value is always redacted.
func (r *Redactor) IsSecretHeader(name string) bool {
	if plain, ok := commonHeaders[name]; ok && len(r.headers) == 0 {
		return !plain
	}
	n := strings.ToLower(name)
	return secretHeaderNames[n] || r.headers[n] || looksSecret(n)
}

// commonHeaders are header names most calls send or get back, as net/http
// spells them, with whether the built-in rules leave them readable: every
// trace redacts its headers, and lower-casing each name to judge it again
// would cost more than the rest of the redaction.
var commonHeaders = func() map[string]bool {
	m := map[string]bool{}
	for _, h := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Accept-Ranges", "Age", "Authorization",
		"Cache-Control", "Connection", "Content-Encoding", "Content-Language", "Content-Length",
		"Content-Type", "Cookie", "Date", "Etag", "Expires", "Host", "Keep-Alive", "Last-Modified",
		"Location", "Pragma", "Retry-After", "Server", "Set-Cookie", "Strict-Transport-Security",
		"Transfer-Encoding", "User-Agent", "Vary", "Via", "X-Content-Type-Options", "X-Frame-Options",
		"X-Powered-By", "X-Request-Id",
	} {
		n := strings.ToLower(h)
		m[h] = !secretHeaderNames[n] && !looksSecret(n)
	}
	return m
}()

func looksSecret(name string) bool {
	n := strings.ToLower(name)
	for _, p := range secretNameParts {
		if strings.Contains(n, p) {
			return true
		}
	}
	return false
}

// String replaces every known secret value in s.
func (r *Redactor) String(s string) string {
	for _, v := range r.values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Redacted)
		}
	}
	return s
}

// URL redacts a URL's password and secret-looking query parameters, then
// known secret values.
func (r *Redactor) URL(raw string) string {
	return r.parsedURL(raw, parseURL(raw))
}

// parsedURL is URL for raw already parsed as u (nil if it did not parse);
// u is not changed.
func (r *Redactor) parsedURL(raw string, u *url.URL) string {
	if u == nil || u.Host == "" {
		return r.String(roughRedactURL(raw))
	}
	c := *u
	return r.redactURL(&c)
}

// parseURL parses raw to find its secrets: nil when it does not parse or has
// no host. url.Parse reads user:password@host as a scheme and an opaque part
// and https:/user:password@host as a path, with no user: such a URL is read
// as roughly as one that does not parse (roughURL), so that its password is
// found.
func parseURL(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil
	}
	return u
}

// redactURL redacts u in place and returns it as text. The password and the
// secret query values read [redacted] as written, not percent-encoded as
// url.URL would write them; the other parameters keep their order and
// encoding. An empty password (user:@) hides nothing and is shown as it is,
// so that what is shown and what a configuration sent back keeps agree. The
// text is for reading: it is not a URL to parse again.
func (r *Redactor) redactURL(u *url.URL) string {
	var user, plainUser string
	if u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			u.User = url.UserPassword(u.User.Username(), Redacted)
			// url.URL escapes the brackets; the user part is written right
			// after the scheme, so its first occurrence is it.
			user = u.User.String() + "@"
			plainUser = url.User(u.User.Username()).String() + ":" + Redacted + "@"
		}
	}
	if u.RawQuery != "" {
		u.RawQuery = redactQuery(u.RawQuery)
	}
	s := u.String()
	if user != "" {
		s = strings.Replace(s, user, plainUser, 1)
	}
	return r.String(s)
}

// redactQuery replaces the values of secret-looking parameters of a raw
// query with [redacted], leaving the others as they are.
func redactQuery(raw string) string {
	parts := strings.Split(raw, "&")
	changed := false
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		if name, err := url.QueryUnescape(k); err == nil {
			k = name
		}
		if secretParams[strings.ToLower(k)] || looksSecret(k) {
			parts[i] = p[:strings.IndexByte(p+"=", '=')] + "=" + Redacted
			changed = true
		}
	}
	if !changed {
		return raw
	}
	return strings.Join(parts, "&")
}

// Headers flattens and redacts headers for a trace.
func (r *Redactor) Headers(h http.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, vs := range h {
		if r.IsSecretHeader(k) {
			out[k] = Redacted
			continue
		}
		out[k] = r.String(strings.Join(vs, ", "))
	}
	return out
}

// Body redacts a body: known secret values always, and for token exchanges
// (keys true) the values of secret-looking fields of a JSON or form body.
func (r *Redactor) Body(body []byte, contentType string, keys bool) string {
	s := string(body)
	if keys && len(body) > 0 {
		s = redactFields(body, contentType)
	}
	return r.String(s)
}

// redactFields replaces the values of secret-looking top-level fields of a JSON
// object or a form body.
func redactFields(body []byte, contentType string) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) == nil {
		changed := false
		for k := range obj {
			if looksSecret(k) {
				obj[k] = json.RawMessage(`"` + Redacted + `"`)
				changed = true
			}
		}
		if !changed {
			return string(body)
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return Redacted
		}
		return string(b)
	}
	if strings.Contains(contentType, "x-www-form-urlencoded") {
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return Redacted
		}
		for k, vs := range q {
			if looksSecret(k) {
				for i := range vs {
					vs[i] = Redacted
				}
			}
		}
		return q.Encode()
	}
	return string(body)
}

// roughURL reads, from a URL that does not parse, the password of its user
// part and its query (after the first ? past the user part, up to a #), as
// well as its text allows. The user part ends at the last @: a password may
// hold a / (base64 does), which is often what keeps the URL from parsing, a
// ?, a # and an @; an @ in the path or query makes more of the URL read as
// the password, which only hides more of it.
func roughURL(raw string) (password, query string) {
	after := raw
	if i, c, at := roughUserInfo(raw); at > 0 {
		password, after = raw[i+c+1:i+at], raw[i+at:]
	}
	if q := strings.IndexByte(after, '?'); q >= 0 {
		query, _, _ = strings.Cut(after[q+1:], "#")
	}
	return password, query
}

// roughUserInfo finds the user part of a URL that does not parse: i is
// where it starts (after "://", or at the start of a URL without one, as
// user:password@host or https:/user:password@host, of which the password
// is then taken to start at the first ':', hiding more rather than less),
// c the offset of the ':' before the password and at that of the '@' after
// it, both from i; at is 0 when there is no password.
func roughUserInfo(raw string) (i, c, at int) {
	if i = strings.Index(raw, "://"); i >= 0 {
		i += 3
	} else {
		i = 0
	}
	rest := raw[i:]
	if at = UserInfoEnd(rest); at < 0 {
		return 0, 0, 0
	}
	c = strings.IndexByte(rest[:at], ':')
	if c < 0 {
		return 0, 0, 0
	}
	return i, c, at
}

// UserInfoEnd finds, in what follows the "://" of a URL that does not
// parse, the @ that ends its user part, or -1: the last @ that a host
// follows (text up to the next /, ? or # without @, &, = or ;). A password
// may hold a /, ?, # or @, so the first @ or the first / would cut it short;
// an @ in a query (?email=a@b.com&token=...) is no end of a user part, as
// what follows it is no host.
func UserInfoEnd(rest string) int {
	for end := len(rest); ; {
		at := strings.LastIndexByte(rest[:end], '@')
		if at < 0 {
			return -1
		}
		host := rest[at+1:]
		if j := strings.IndexAny(host, "/?#"); j >= 0 {
			host = host[:j]
		}
		if !strings.ContainsAny(host, "@&=;") {
			return at
		}
		end = at
	}
}

// roughRedactURL redacts, in a URL that does not parse, what roughURL
// finds: the user part's password, unless empty, and secret-looking query
// values.
func roughRedactURL(raw string) string {
	if i, c, at := roughUserInfo(raw); at > c+1 {
		// An empty password (bob:@) has nothing to hide.
		raw = raw[:i+c+1] + Redacted + raw[i+at:]
	}
	if q := strings.IndexByte(raw, '?'); q >= 0 {
		query, frag, hasFrag := strings.Cut(raw[q+1:], "#")
		raw = raw[:q+1] + redactQuery(query)
		if hasFrag {
			raw += "#" + frag
		}
	}
	return raw
}

// ParseProblem says why raw, which url.Parse refused with err, is not a
// URL, without its secrets: the parser's reason, redacted, unless it quotes
// a piece of the password (invalid port ":ab" of bob:ab/cd@host, which no
// redaction of whole values finds).
func ParseProblem(raw string, err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	red := NewRedactor(nil)
	red.Learn(raw, nil)
	reason := red.String(err.Error())
	if pw, _ := roughURL(raw); len(pw) >= 2 {
		for i := 0; i+2 <= len(pw); i++ {
			if strings.Contains(reason, pw[i:i+2]) {
				return "it does not parse (the parser's reason is left out: it quotes part of the password)"
			}
		}
	}
	return reason
}

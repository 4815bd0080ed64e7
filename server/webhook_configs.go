package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// Where a configured webhook comes from.
const (
	sourceAPI  = "api"
	sourceFile = "file"
)

// webhookConfigs are the configured outgoing webhooks that webhook widgets
// name: those of the --webhooks file, read once at start and read-only
// through the API, and those managed through /v1/webhook-configs and kept in
// the store. The webhook service looks names up here on every call, so a
// change through the API applies to the next call of every running flow.
type webhookConfigs struct {
	mu   sync.RWMutex
	file map[string]*flows.WebhookConfig
	api  map[string]*flows.WebhookConfig
	// failed holds what this version's checks find in the stored
	// configurations that an earlier version took (storedChecks); a
	// configuration saved through the API since passed them.
	failed map[string]storedCheck
}

// storedCheck is what this version's checks find in a stored
// configuration: problems, for which calls through it fail without sending
// anything, and warnings, checks added since that calls were let pass
// (flows.ErrNewRule: a field the auth type does not send, a header the
// HTTP client writes itself, a limit over today's maximum, held to it) and
// a name the API would now refuse.
type storedCheck struct {
	problems, warnings []*flows.FieldError
}

// configProblems runs the checks a configuration passes to be saved
// through the API: its name, its fields (callout.Validate) and no
// [redacted] standing for a secret it does not have.
func configProblems(c *flows.WebhookConfig) []*flows.FieldError {
	var problems []*flows.FieldError
	switch {
	case c.Name == "":
		problems = append(problems, flows.Errorf("name", "name is required: flows call the webhook by it"))
	case !idPattern.MatchString(c.Name):
		problems = append(problems, flows.Errorf("name", "name %q must start with a letter or digit and hold only letters, digits, '_', '.' and '-' (128 at most)", c.Name))
	}
	problems = append(problems, callout.Validate(c, true)...)
	return append(problems, leftRedacted(c, "webhook")...)
}

// checkStored runs configProblems on a stored configuration and sorts what
// it finds into problems and warnings (storedCheck).
func checkStored(c *flows.WebhookConfig) storedCheck {
	var out storedCheck
	for _, fe := range configProblems(c) {
		if fe.Path == "name" || errors.Is(fe, flows.ErrNewRule) {
			out.warnings = append(out.warnings, fe)
		} else {
			out.problems = append(out.problems, fe)
		}
	}
	return out
}

// refused returns the problems that stop calls through the configuration
// name: nil unless it is a stored one this version's checks refuse.
func (w *webhookConfigs) refused(name string) []*flows.FieldError {
	if w == nil || name == "" {
		return nil
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if _, inFile := w.file[name]; inFile {
		return nil
	}
	return w.failed[name].problems
}

// checked returns what this version's checks found in the stored
// configuration name.
func (w *webhookConfigs) checked(name string) storedCheck {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.failed[name]
}

// logFailed writes a line for each stored configuration this version's
// checks find fault with: an error when calls through it fail, a warning
// when they go as before. Each names the configuration, the first field
// at fault, every problem, and what to do.
func (w *webhookConfigs) logFailed(log *slog.Logger) {
	if log == nil {
		return
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	for _, name := range slices.Sorted(maps.Keys(w.failed)) {
		if _, inFile := w.file[name]; inFile {
			continue // the --webhooks file's is the one used
		}
		c := w.failed[name]
		if len(c.problems) > 0 {
			log.Error("stored webhook configuration fails this version's checks: calls through it fail, sending nothing, until it is corrected",
				"webhook", name, "field", c.problems[0].Path, "problems", joinProblems(c.problems),
				"fix", fmt.Sprintf("GET /v1/webhook-configs/%s, correct %s and PUT it back (secrets shown as [redacted] are kept), or DELETE it", name, c.problems[0].Path))
			continue
		}
		fix := fmt.Sprintf("GET /v1/webhook-configs/%s, correct %s and PUT it back (secrets shown as [redacted] are kept)", name, c.warnings[0].Path)
		if c.warnings[0].Path == "name" {
			fix = fmt.Sprintf("create it under a name the API takes and change the flows that call %q to it, then DELETE it", name)
		}
		log.Warn("stored webhook configuration fails checks added since it was stored: calls through it go as before",
			"webhook", name, "field", c.warnings[0].Path, "warnings", joinProblems(c.warnings), "fix", fix)
	}
}

func joinProblems(problems []*flows.FieldError) string {
	msgs := make([]string, len(problems))
	for i, fe := range problems {
		msgs[i] = fe.Error()
	}
	return strings.Join(msgs, "; ")
}

// loadWebhookConfigs reads the stored configurations and the --webhooks file.
func loadWebhookConfigs(ctx context.Context, st store.Store, file string, read map[string]*flows.WebhookConfig) (*webhookConfigs, error) {
	w := &webhookConfigs{file: map[string]*flows.WebhookConfig{}, api: map[string]*flows.WebhookConfig{}, failed: map[string]storedCheck{}}
	recs, err := st.ListConfig(ctx, store.Webhooks)
	if err != nil {
		return nil, fmt.Errorf("load webhook configurations: %w", err)
	}
	for _, r := range recs {
		var wc flows.WebhookConfig
		if err := json.Unmarshal(r.Value, &wc); err != nil {
			return nil, fmt.Errorf("stored webhook %q: %w", r.ID, err)
		}
		if wc.Name == "" {
			wc.Name = r.ID
		}
		callout.Normalize(&wc) // an earlier version stored "auth": {} and encodings as sent
		w.api[wc.Name] = &wc
		// An earlier version may have stored what this one's checks
		// refuse: the server starts anyway, and calls through it fail.
		if c := checkStored(&wc); len(c.problems)+len(c.warnings) > 0 {
			w.failed[wc.Name] = c
		}
	}
	switch {
	case read != nil:
		w.file = read // read by ServeFlags
	case file != "":
		// The file may come from --webhooks or PARLEY_WEBHOOKS, which
		// ServeFlags names when the file is wrong; here it is named alone.
		fromFile, err := callout.LoadConfigs(file)
		if err != nil {
			return nil, err
		}
		w.file = fromFile
	}
	return w, nil
}

// get returns a configuration and its source. The file wins over the store,
// as it did before configurations could be managed through the API. The
// config is shared: callers must not modify it.
func (w *webhookConfigs) get(name string) (*flows.WebhookConfig, string, bool) {
	if w == nil {
		return nil, "", false
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if c, ok := w.file[name]; ok {
		return c, sourceFile, true
	}
	if c, ok := w.api[name]; ok {
		return c, sourceAPI, true
	}
	return nil, "", false
}

func (w *webhookConfigs) names() []string {
	w.mu.RLock()
	defer w.mu.RUnlock()
	names := slices.Collect(maps.Keys(w.file))
	for n := range w.api {
		if _, dup := w.file[n]; !dup {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// webhookConfigView is a configuration as the API shows it: secrets
// replaced with "[redacted]", and where it comes from.
type webhookConfigView struct {
	*flows.WebhookConfig
	Source string `json:"source"`
	// Problems and Warnings are what this version's checks find in a
	// configuration an earlier version stored (storedCheck): calls
	// through one with problems fail.
	Problems []*flows.FieldError `json:"problems,omitempty"`
	Warnings []*flows.FieldError `json:"warnings,omitempty"`
}

// redactConfig returns a copy of c without its secrets: auth passwords,
// tokens and client secrets, secret-looking headers, and the passwords and
// credential query parameters of the URL and the token URL.
func redactConfig(c *flows.WebhookConfig) *flows.WebhookConfig {
	out := *c
	red := callout.NewRedactor(nil)
	if c.Auth != nil {
		a := *c.Auth
		a.Scopes = slices.Clone(c.Auth.Scopes)
		for _, f := range []*string{&a.Password, &a.Token, &a.ClientSecret} {
			if *f != "" {
				*f = callout.Redacted
			}
		}
		if u := red.URL(a.TokenURL); a.TokenURL != "" && strings.Contains(u, callout.Redacted) {
			a.TokenURL = u
		}
		out.Auth = &a
	}
	if len(c.Headers) > 0 {
		out.Headers = make(map[string]string, len(c.Headers))
		for k, v := range c.Headers {
			if red.IsSecretHeader(k) {
				v = callout.Redacted
			}
			out.Headers[k] = v
		}
	}
	if u := red.URL(c.URL); strings.Contains(u, callout.Redacted) {
		out.URL = u
	}
	return &out
}

// keepSecrets puts back the stored secrets that in carries as "[redacted]",
// so a configuration read with GET can be changed and sent back with PUT. A
// secret is kept only for the address it was stored for: the scheme, host
// and port it is sent to (the URL's, or the token URL's for an OAuth 2.0
// client secret or password grant) must be the same, or a PUT could send it
// to a host of its own choosing, or over plain http. Otherwise the field is
// refused, 422, asking for the secret itself. A [redacted] of in's URL or
// token URL may come percent-encoded (redactedAsShown). stored is nil for a new one.
func keepSecrets(in, stored *flows.WebhookConfig) error {
	in.URL = redactedAsShown(in.URL)
	if in.Auth != nil {
		in.Auth.TokenURL = redactedAsShown(in.Auth.TokenURL)
	}
	if stored == nil {
		return nil
	}
	var problems []*flows.FieldError
	kept := func(field, newDest, oldDest string) bool {
		if newDest == oldDest {
			return true
		}
		switch {
		case newDest == "":
			newDest = "none given"
		case normalOrigin(newDest) != newDest:
			// Not an address: it is the text given, which may hold secrets.
			newDest = "not an http or https address"
		}
		problems = append(problems, flows.Errorf(field, "%s stands for the secret stored for %s: give the secret again for a new address (%s)",
			callout.Redacted, oldDest, newDest))
		return false
	}
	shown := redactConfig(stored)
	// keepURL puts back the secrets of a URL, the webhook's or the token
	// URL, stored as old and shown as shownOld, for its own address.
	keepURL := func(field string, u *string, old, shownOld string) {
		switch {
		case *u == old:
		case *u == shownOld:
			if kept(field, secretOrigin(*u), secretOrigin(old)) {
				*u = old
			}
		case strings.Contains(*u, callout.Redacted):
			if kept(field, secretOrigin(*u), secretOrigin(old)) {
				*u = keepURLSecrets(*u, old)
			}
		}
	}
	inDest, oldDest := secretOrigin(in.URL), secretOrigin(stored.URL)
	keepURL("url", &in.URL, stored.URL, shown.URL)
	if in.Auth != nil && stored.Auth != nil {
		keepURL("auth.token_url", &in.Auth.TokenURL, stored.Auth.TokenURL, shown.Auth.TokenURL)
		for _, f := range []struct {
			field    string
			dst, old *string
		}{
			{"auth.password", &in.Auth.Password, &stored.Auth.Password}, {"auth.token", &in.Auth.Token, &stored.Auth.Token},
			{"auth.client_secret", &in.Auth.ClientSecret, &stored.Auth.ClientSecret},
		} {
			if *f.dst == callout.Redacted && *f.old != "" && kept(f.field, authSecretOrigin(in, f.field), authSecretOrigin(stored, f.field)) {
				*f.dst = *f.old
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(in.Headers)) {
		if in.Headers[k] != callout.Redacted {
			continue
		}
		// Header names are compared without case, as HTTP compares them;
		// the name as stored first, when it is there.
		sk, found := k, false
		if _, found = stored.Headers[k]; !found {
			for _, name := range slices.Sorted(maps.Keys(stored.Headers)) {
				if strings.EqualFold(name, k) {
					sk, found = name, true
					break
				}
			}
		}
		if found && kept(flows.MemberPath("headers", k), inDest, oldDest) {
			in.Headers[k] = stored.Headers[sk]
		}
	}
	if len(problems) == 0 {
		return nil
	}
	fe := problems[0]
	return withProblems(&APIError{Status: fiber.StatusUnprocessableEntity, Code: CodeInvalidField, Field: fe.Path, Message: fe.Error()}, problems)
}

// leftRedacted refuses a [redacted] left in c's URL or token URL, where
// it stands for a stored secret the URL no longer matches (another user, a
// renamed parameter) or a new one has none of. The URL is quoted redacted:
// it may hold secrets given or kept as well. what is "webhook" or
// "subscription".
func leftRedacted(c *flows.WebhookConfig, what string) []*flows.FieldError {
	var problems []*flows.FieldError
	check := func(field, u string) {
		if strings.Contains(u, callout.Redacted) {
			problems = append(problems, flows.Errorf(field, "%q holds %s where no stored secret of this %s fits: write the password or parameter value itself",
				callout.NewRedactor(nil).URL(u), callout.Redacted, what))
		}
	}
	check("url", c.URL)
	if c.Auth != nil {
		check("auth.token_url", c.Auth.TokenURL)
	}
	// A secret left [redacted]: none was stored for it (or for a header of
	// that name), and it would be sent as the text [redacted].
	left := func(field, v string) {
		if v == callout.Redacted {
			problems = append(problems, flows.Errorf(field, "%s where no stored secret of this %s fits: write the secret itself", callout.Redacted, what))
		}
	}
	if a := c.Auth; a != nil {
		left("auth.password", a.Password)
		left("auth.token", a.Token)
		left("auth.client_secret", a.ClientSecret)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Headers)) {
		left(flows.MemberPath("headers", k), c.Headers[k])
	}
	return problems
}

// authSecretOrigin is where an auth secret of c goes: an OAuth 2.0 client
// secret, and the password of the password grant, to the token URL; the
// others with the request, to the URL.
func authSecretOrigin(c *flows.WebhookConfig, field string) string {
	if field == "auth.client_secret" || field == "auth.password" && c.Auth.Type == flows.AuthOAuth2Password {
		return secretOrigin(c.Auth.TokenURL)
	}
	return secretOrigin(c.URL)
}

// secretOrigin is the scheme, host and port a URL is sent to, in lower case
// and without the scheme's default port (https://api.example.com), read as
// text: a URL shown redacted is not one url.Parse reads, and a templated
// one is compared as it is written. A user name and password are left out.
func secretOrigin(raw string) string {
	raw = strings.TrimSpace(raw)
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return originOf(strings.ToLower(scheme), u.Host)
	}
	// Not a URL (a template, a password holding a / or ?): the user part
	// ends where the redactor reads it ending.
	if at := callout.UserInfoEnd(rest); at >= 0 {
		rest = rest[at+1:]
	}
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	return originOf(strings.ToLower(scheme), rest)
}

// keepURLSecrets puts the stored URL's password and secret query values
// back where in, a URL shown redacted and then edited, still reads
// [redacted]: the password when the user is the same, each parameter's value
// by its name and its place among the parameters of that name. The redacted
// text is not a URL (brackets may not be written in a user part), so it is
// matched as text.
func keepURLSecrets(in, stored string) string {
	su, err := url.Parse(stored)
	if err != nil {
		return in
	}
	if p, ok := su.User.Password(); ok && p != "" {
		if i := strings.Index(in, "://"); i >= 0 {
			shown := url.User(su.User.Username()).String() + ":" + callout.Redacted + "@"
			if rest := in[i+3:]; strings.HasPrefix(rest, shown) {
				in = in[:i+3] + su.User.String() + "@" + rest[len(shown):]
			}
		}
	}
	q := strings.IndexByte(in, '?')
	if q < 0 || su.RawQuery == "" {
		return in
	}
	end := len(in)
	if h := strings.IndexByte(in[q:], '#'); h >= 0 {
		end = q + h
	}
	old := map[string][]string{}
	for _, p := range strings.Split(su.RawQuery, "&") {
		k, v, _ := strings.Cut(p, "=")
		old[queryName(k)] = append(old[queryName(k)], v)
	}
	seen := map[string]int{}
	parts := strings.Split(in[q+1:end], "&")
	for i, p := range parts {
		k, v, _ := strings.Cut(p, "=")
		name := queryName(k)
		n := seen[name]
		seen[name]++
		if v == callout.Redacted && n < len(old[name]) {
			parts[i] = k + "=" + old[name][n]
		}
	}
	return in[:q+1] + strings.Join(parts, "&") + in[end:]
}

// encodedRedacted writes [redacted] percent-encoded, in each case of the
// hex digits, as it is written.
var encodedRedacted = strings.NewReplacer(
	"%5Bredacted%5D", callout.Redacted, "%5bredacted%5d", callout.Redacted,
	"%5Bredacted%5d", callout.Redacted, "%5bredacted%5D", callout.Redacted)

// redactedAsShown writes as [redacted] a [redacted] that a URL's password or
// a query value carries percent-encoded (%5Bredacted%5D, %5bredacted%5d), as
// url.URL and most URL libraries write the brackets: so sent back, it stands
// for the stored secret as [redacted] does, or is refused where none fits,
// instead of being stored in its place. The user name, the path and the
// parameter names are left as written.
func redactedAsShown(raw string) string {
	if !strings.Contains(raw, "%") {
		return raw
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
			if c := strings.IndexByte(rest[:at], ':'); c >= 0 {
				raw = raw[:i+3] + rest[:c+1] + encodedRedacted.Replace(rest[c+1:at]) + rest[at:]
			}
		}
	}
	q := strings.IndexByte(raw, '?')
	if q < 0 {
		return raw
	}
	query, frag, hasFrag := strings.Cut(raw[q+1:], "#")
	parts := strings.Split(query, "&")
	for i, p := range parts {
		if k, v, ok := strings.Cut(p, "="); ok {
			parts[i] = k + "=" + encodedRedacted.Replace(v)
		}
	}
	raw = raw[:q+1] + strings.Join(parts, "&")
	if hasFrag {
		raw += "#" + frag
	}
	return raw
}

// queryName is a raw query parameter's name unescaped, or as written when
// it does not unescape.
func queryName(k string) string {
	if n, err := url.QueryUnescape(k); err == nil {
		return n
	}
	return k
}

func (s *Server) webhookConfigView(c *flows.WebhookConfig, source string) webhookConfigView {
	v := webhookConfigView{WebhookConfig: redactConfig(c), Source: source}
	if source == sourceAPI {
		checked := s.hooks.checked(c.Name)
		v.Problems, v.Warnings = checked.problems, checked.warnings
	}
	return v
}

// decodeWebhookConfig decodes a configuration as the --webhooks file's are
// decoded (flows.DecodeDocument): names match exactly, so "URL" is an
// unknown field there and here alike. Every problem is reported, as the
// file's are: the error's code and field are the first one's, its errors
// list them all.
func decodeWebhookConfig(body []byte, in *flows.WebhookConfig) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apiErr(fiber.StatusBadRequest, CodeMalformedJSON, "", "the request body is empty; a JSON object is expected")
	}
	if err := nullBody(body); err != nil {
		return err
	}
	// "source" is in every answer and says where the configuration comes
	// from, and "problems" and "warnings" are in the answer about a stored
	// one that fails this version's checks: a GET sent back as it is
	// carries them, and they are ignored.
	problems := slices.DeleteFunc(flows.DecodeDocument(body, in), func(p *flows.FieldError) bool {
		return errors.Is(p, flows.ErrUnknownField) && (p.Path == "source" || p.Path == "problems" || p.Path == "warnings" ||
			strings.HasPrefix(p.Path, "problems[") || strings.HasPrefix(p.Path, "warnings["))
	})
	problems = callout.WithNullElements(body, in, problems)
	if len(problems) == 0 {
		return nil
	}
	fe := problems[0]
	var e *APIError
	switch {
	case errors.Is(fe, flows.ErrSyntax):
		return &APIError{Status: fiber.StatusBadRequest, Code: CodeMalformedJSON, Message: fe.Message, Err: fe}
	case errors.Is(fe, flows.ErrRepeatedHeader):
		// As a name given twice in any other body is told (an event
		// endpoint's headers among them).
		e = &APIError{Status: fiber.StatusBadRequest, Code: CodeMalformedJSON, Field: fe.Path, Message: fe.Error(), Err: fe}
	case errors.Is(fe, flows.ErrUnknownField):
		e = &APIError{Status: fiber.StatusBadRequest, Code: CodeUnknownField, Field: fe.Path, Message: fe.Message, Err: fe}
	default:
		e = &APIError{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: fe.Path, Message: fe.Error(), Err: fe}
	}
	return withProblems(e, problems)
}

// withProblems lists every problem in e, the first of which e names: its
// message is all of theirs when there are several.
func withProblems(e *APIError, problems []*flows.FieldError) *APIError {
	if len(problems) < 2 {
		return e
	}
	msgs := make([]string, len(problems))
	for i, fe := range problems {
		msgs[i] = fe.Error()
	}
	count := fmt.Sprintf("%d problems", len(problems))
	if n := len(problems); errors.Is(problems[n-1], flows.ErrMoreProblems) {
		// The list was cut: the last entry says so, and is no problem.
		count = fmt.Sprintf("at least %d problems", n-1)
		if errors.Is(problems[n-1], flows.ErrMoreFound) {
			count = fmt.Sprintf("more than %d problems", n-1)
		}
	}
	e.Message = fmt.Sprintf("%s: %s", count, strings.Join(msgs, "; "))
	e.Details = problems
	return e
}

func (s *Server) createWebhookConfig(c *fiber.Ctx) error {
	var in flows.WebhookConfig
	if err := decodeWebhookConfig(c.Body(), &in); err != nil {
		return err
	}
	if err := keepSecrets(&in, nil); err != nil {
		return err
	}
	saved, err := s.saveWebhookConfig(c.UserContext(), &in, true)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(s.webhookConfigView(saved, sourceAPI))
}

func (s *Server) putWebhookConfig(c *fiber.Ctx) error {
	name, err := pathParam(c, "name")
	if err != nil {
		return err
	}
	var in flows.WebhookConfig
	if err := decodeWebhookConfig(c.Body(), &in); err != nil {
		return err
	}
	if in.Name == "" {
		in.Name = name
	}
	if in.Name != name {
		return badRequest("name", "the body's name %q differs from the URL's %q: leave it out or give the same", in.Name, name)
	}
	old, source, exists := s.hooks.get(name)
	if source == sourceFile {
		return fileConfigErr(name)
	}
	if err := keepSecrets(&in, old); err != nil {
		return err
	}
	saved, err := s.saveWebhookConfig(c.UserContext(), &in, false)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if !exists {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(s.webhookConfigView(saved, sourceAPI))
}

func fileConfigErr(name string) error {
	return apiErr(fiber.StatusConflict, CodeConflict, "name", "webhook %q is defined in the --webhooks file; change it there and restart", name)
}

// saveWebhookConfig validates and stores a configuration, then makes it the
// one running flows use. create refuses a name that exists.
func (s *Server) saveWebhookConfig(ctx context.Context, in *flows.WebhookConfig, create bool) (*flows.WebhookConfig, error) {
	// Every problem is reported; a missing name makes it a bad request.
	// A configuration stored before checks were added is run through the
	// same ones at start (checkStored).
	problems := configProblems(in)
	status, code := fiber.StatusUnprocessableEntity, CodeInvalidField
	if in.Name == "" {
		status, code = fiber.StatusBadRequest, CodeBadRequest
	}
	if len(problems) > 0 {
		fe := problems[0]
		msg := fe.Message
		if fe.Path != "name" {
			msg = fe.Error()
		}
		return nil, withProblems(&APIError{Status: status, Code: code, Field: fe.Path, Message: msg}, problems)
	}
	callout.Normalize(in)
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	saved := new(flows.WebhookConfig)
	if err := json.Unmarshal(raw, saved); err != nil {
		return nil, err
	}
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	_, inFile := s.hooks.file[saved.Name]
	if _, inAPI := s.hooks.api[saved.Name]; create && (inFile || inAPI) {
		return nil, apiErr(fiber.StatusConflict, CodeConflict, "name", "webhook %q already exists; PUT /v1/webhook-configs/%s replaces it", saved.Name, saved.Name)
	}
	if inFile {
		return nil, fileConfigErr(saved.Name)
	}
	if err := s.store.PutConfig(ctx, store.Webhooks, saved.Name, raw); err != nil {
		return nil, fmt.Errorf("store webhook %q: %w", saved.Name, err)
	}
	s.hooks.api[saved.Name] = saved
	delete(s.hooks.failed, saved.Name) // it passed this version's checks
	return saved, nil
}

func (s *Server) listWebhookConfigs(c *fiber.Ctx) error {
	out := []webhookConfigView{}
	for _, name := range s.hooks.names() {
		if wc, source, ok := s.hooks.get(name); ok {
			out = append(out, s.webhookConfigView(wc, source))
		}
	}
	return c.JSON(fiber.Map{"webhook_configs": out})
}

func (s *Server) getWebhookConfig(c *fiber.Ctx) error {
	name, err := pathParam(c, "name")
	if err != nil {
		return err
	}
	wc, source, ok := s.hooks.get(name)
	if !ok {
		return notFound("webhook %q not found", name)
	}
	return c.JSON(s.webhookConfigView(wc, source))
}

func (s *Server) deleteWebhookConfig(c *fiber.Ctx) error {
	name, err := pathParam(c, "name")
	if err != nil {
		return err
	}
	_, source, ok := s.hooks.get(name)
	switch {
	case !ok:
		return notFound("webhook %q not found", name)
	case source == sourceFile:
		return fileConfigErr(name)
	}
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	if err := s.store.DeleteConfig(c.UserContext(), store.Webhooks, name); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete webhook %q: %w", name, err)
	}
	delete(s.hooks.api, name)
	delete(s.hooks.failed, name)
	return c.SendStatus(fiber.StatusNoContent)
}

type webhookTestBody struct {
	// Variables are sample flow variables (@flow.NAME).
	Variables map[string]json.RawMessage `json:"variables"`
	// Contact is a sample contact: urn, name and user keys (fields).
	Contact *contactBody `json:"contact"`
}

// WebhookTestResult is what POST /v1/webhook-configs/{name}/test answers:
// the request sent and the response received, secrets redacted.
type WebhookTestResult struct {
	Webhook   string               `json:"webhook"`
	Outcome   string               `json:"outcome"`
	Status    int                  `json:"status,omitempty"`
	Attempts  int                  `json:"attempts"`
	ElapsedMS int64                `json:"elapsed_ms"`
	Request   *flows.HTTPTrace     `json:"request,omitempty"`
	Response  *flows.HTTPTrace     `json:"response,omitempty"`
	Calls     []flows.WebhookCall  `json:"calls,omitempty"`
	Error     string               `json:"error,omitempty"`
	Extra     json.RawMessage      `json:"extra,omitempty"`
	Results   map[string]resultRef `json:"results,omitempty"`
}

// testWebhookConfig sends one request of a configured webhook, built from
// sample variables the way a flow's webhook widget builds it (body, headers,
// auth, OAuth 2.0 token included), like `parley webhook test`.
func (s *Server) testWebhookConfig(c *fiber.Ctx) error {
	name, err := pathParam(c, "name")
	if err != nil {
		return err
	}
	if _, _, ok := s.hooks.get(name); !ok {
		return notFound("webhook %q not found", name)
	}
	var b webhookTestBody
	if len(strings.TrimSpace(string(c.Body()))) > 0 {
		if err := decodeStrict(c.Body(), &b); err != nil {
			return err
		}
	}
	vars, err := variables(b.Variables)
	if err != nil {
		return err
	}
	contact := flows.Contact{URN: "tel:+15555550100"}
	if b.Contact != nil {
		if b.Contact.URN != "" {
			contact.URN = b.Contact.URN
		}
		contact.Name, contact.Language, contact.Fields = b.Contact.Name, b.Contact.Language, b.Contact.Fields
	}
	res, err := s.runWebhookTest(c.UserContext(), name, contact, vars)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (s *Server) runWebhookTest(ctx context.Context, name string, contact flows.Contact, vars map[string]string) (*WebhookTestResult, error) {
	// A one-widget flow on an engine of its own: the sandbox's webhook mocks
	// and the server's flows play no part, and nothing is stored.
	e := engine.New(s.cfg.Registry, engine.WithServices(services{s.webhooks}), engine.WithClock(s.cfg.Now),
		engine.WithTurnTimeout(s.cfg.TurnTimeout))
	src, _ := json.Marshal(map[string]any{
		"id": "webhook-test", "name": "webhook test",
		"widgets": []any{map[string]any{"id": "call", "type": "webhook", "webhook": name, "result": "webhook"}},
	})
	f, err := e.Load(src)
	if err != nil {
		return nil, apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, "name", "webhook %q cannot be tested: %v", name, err)
	}
	start := time.Now()
	sess, evs, err := e.Start(ctx, f, engine.StartParams{Contact: contact, Variables: vars, Environment: flows.EnvSandbox})
	if err != nil {
		return nil, err
	}
	out := &WebhookTestResult{Webhook: name, ElapsedMS: time.Since(start).Milliseconds()}
	var problems []string
	called := false
	for _, ev := range evs {
		switch ev.Type {
		case flows.EventWebhookCalled:
			called = true
			out.Outcome, out.Status, out.Attempts, out.ElapsedMS = ev.Outcome, ev.Status, ev.Attempts, ev.ElapsedMS
			out.Request, out.Response, out.Calls, out.Error = ev.Request, ev.Response, ev.Calls, ev.Message
		case flows.EventError:
			problems = append(problems, ev.Message)
		}
	}
	if !called {
		return nil, apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, "", "webhook %q was not called: %s", name, strings.Join(problems, "; "))
	}
	if len(sess.Extra) > 0 {
		out.Extra = redactedExtra(out.Response)
	}
	if rs := sess.Results(); len(rs) > 0 {
		preset := map[string]bool{}
		for k := range vars {
			preset[flows.Key(k)] = true
		}
		out.Results = map[string]resultRef{}
		for k, r := range rs {
			if !preset[k] {
				out.Results[k] = resultRef{Value: r.Value, Category: r.Category}
			}
		}
	}
	return out, nil
}

// redactedExtra is @extra as the test shows it: the answer's body with the
// secrets the webhook_called event redacted (auth credentials, OAuth 2.0
// tokens, secret header values a receiver echoed), which @extra holds as
// received, and a name an object repeats given once with its last value, as
// @extra holds it. It is nil when the redacted body is no longer JSON, which only
// a secret standing for a whole JSON value can cause; the response body
// shows the answer then.
func redactedExtra(resp *flows.HTTPTrace) json.RawMessage {
	if resp == nil || resp.Truncated {
		return nil
	}
	b := []byte(strings.TrimSpace(resp.Body))
	if !json.Valid(b) {
		return nil
	}
	b, _ = callout.LastValues(b)
	return b
}

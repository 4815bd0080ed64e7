package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/flows"
	"github.com/tidwall/gjson"
)

// MockResponse is one canned webhook answer.
type MockResponse struct {
	Status  int               `json:"status"`
	Body    json.RawMessage   `json:"body,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// Timeout makes the call time out instead of answering.
	Timeout bool `json:"timeout,omitempty"`
}

// Mocks answers webhook calls from canned responses by URL: an exact URL, or a
// prefix ending in "*" (the longest matching prefix wins). Responses for a URL
// are used in order; the last one repeats. Calls with no mock go to Fallback,
// or fail (outcome failure, not sent) with a message naming the request.
type Mocks struct {
	mu       sync.Mutex
	exact    map[string][]MockResponse
	prefixes []string
	prefix   map[string][]MockResponse
	used     map[string]int
	// Fallback answers calls no mock matches (nil: they fail).
	Fallback flows.WebhookService
	// Configs are configured webhooks by name.
	Configs map[string]*flows.WebhookConfig
}

// NewMocks builds mocks from URL → responses.
func NewMocks(byURL map[string][]MockResponse) *Mocks {
	m := &Mocks{exact: map[string][]MockResponse{}, prefix: map[string][]MockResponse{}, used: map[string]int{}}
	for u, rs := range byURL {
		if p, ok := strings.CutSuffix(u, "*"); ok {
			m.prefix[p] = rs
			m.prefixes = append(m.prefixes, p)
		} else {
			m.exact[u] = rs
		}
	}
	sort.Slice(m.prefixes, func(i, j int) bool { return len(m.prefixes[i]) > len(m.prefixes[j]) })
	return m
}

// ParseMocks reads {"URL": [{"status": 200, "body": {...}}, ...]}. Every
// problem is reported: those of decoding, then those mockProblems finds in
// what was read.
func ParseMocks(data []byte) (*Mocks, error) {
	if doc := gjson.ParseBytes(data); doc.IsObject() && doc.Get("mocks").IsObject() {
		// A test script's "mocks", with the script's field around it.
		return nil, errors.New(`mocks: the file holds {"mocks": {...}}, as a test script does; a mocks file is what is inside it: {"URL": [{"status": 200, "body": {...}}]}`)
	}
	var byURL map[string][]MockResponse
	problems := flows.DecodeDocument(data, &byURL)
	errs := documentErrors("mocks", problems, `(expected {"URL": [{"status": 200, "body": {...}}]})`)
	if !whole(problems) {
		errs = append(errs, mockProblems(byURL, "", problems)...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return NewMocks(byURL), nil
}

// mockProblems reports every mock at path parent of its document that
// cannot answer: a URL without responses, or a response that is neither a
// timeout nor an HTTP status, leaving out the values that decoding problems
// left unread. URLs are checked in sorted order so the same file gives the
// same errors.
func mockProblems(byURL map[string][]MockResponse, parent string, problems []*flows.FieldError) []error {
	unread := func(path string) bool {
		for _, fe := range problems {
			if flows.Near(fe, path) {
				return true
			}
		}
		return false
	}
	var errs []error
	for _, u := range slices.Sorted(maps.Keys(byURL)) {
		rs := byURL[u]
		at := flows.MemberPath(parent, u)
		if len(rs) == 0 {
			if !unread(at) {
				errs = append(errs, fmt.Errorf("mocks: %q has no responses", u))
			}
			continue
		}
		for i, r := range rs {
			if unread(fmt.Sprintf("%s[%d]", at, i)) {
				continue
			}
			switch {
			case r.Timeout:
			case r.Status == 0:
				errs = append(errs, fmt.Errorf("mocks: %q[%d]: \"status\" is missing (an HTTP status such as 200, or \"timeout\": true)", u, i))
			case r.Status < 100 || r.Status > 599:
				errs = append(errs, fmt.Errorf("mocks: %q[%d]: status %d is not an HTTP status", u, i, r.Status))
			}
		}
	}
	return errs
}

// LoadMocks reads a mocks file.
func LoadMocks(path string) (*Mocks, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := ParseMocks(data)
	if err != nil {
		// Each problem names the file.
		return nil, flows.EachNamed(path, err)
	}
	return m, nil
}

// Config returns a configured webhook.
func (m *Mocks) Config(name string) (*flows.WebhookConfig, bool) {
	if c, ok := m.Configs[name]; ok {
		return c, true
	}
	if m.Fallback != nil {
		return m.Fallback.Config(name)
	}
	return nil, false
}

func (m *Mocks) find(url string) (string, []MockResponse) {
	if rs, ok := m.exact[url]; ok {
		return url, rs
	}
	for _, p := range m.prefixes {
		if strings.HasPrefix(url, p) {
			return p + "*", m.prefix[p]
		}
	}
	return "", nil
}

// Call answers from the mocks.
func (m *Mocks) Call(ctx context.Context, req *flows.WebhookRequest) *flows.WebhookResult {
	m.mu.Lock()
	key, rs := m.find(req.URL)
	var resp MockResponse
	if len(rs) == 0 {
		rs = nil // NewMocks does not check: a URL without responses answers nothing
	} else {
		i := m.used[key]
		if i >= len(rs) {
			i = len(rs) - 1
		}
		resp = rs[i]
		m.used[key]++
	}
	m.mu.Unlock()
	trace := requestTrace(req)
	if rs == nil {
		if m.Fallback != nil {
			return m.Fallback.Call(ctx, req)
		}
		// Not sent: a failure (the Failure exit), as a request that cannot
		// be sent is, rather than an error, which a Timeout exit would take
		// as a connection error. The URL is redacted as the trace's is.
		return &flows.WebhookResult{Outcome: flows.OutcomeFailure, Attempts: 1, Request: trace,
			Error: fmt.Sprintf("no mock answers %s %s", trace.Method, trace.URL)}
	}
	if resp.Timeout {
		return &flows.WebhookResult{Outcome: flows.OutcomeTimeout, Attempts: 1, Request: trace, Error: "mocked timeout"}
	}
	body := []byte(resp.Body)
	// A JSON string body is sent as plain text.
	var s string
	if json.Unmarshal(body, &s) == nil {
		body = []byte(s)
	}
	outcome := flows.OutcomeFailure
	if resp.Status >= 200 && resp.Status < 300 {
		outcome = flows.OutcomeSuccess
	}
	res := &flows.WebhookResult{
		Outcome: outcome, Status: resp.Status, Headers: resp.Headers, Body: body, Attempts: 1,
		Elapsed: time.Millisecond, Request: trace,
		Response: &flows.HTTPTrace{Status: resp.Status, Headers: resp.Headers, Body: string(body)},
	}
	// The answer is held to the cap a real call has.
	callout.CapAnswer(res, req.MaxResponse)
	return res
}

// requestTrace records the request as the real service (callout.Service)
// would: the same headers — Content-Type when there is a body, User-Agent,
// the request's headers (Host as it is sent, none the HTTP client writes
// itself), Authorization for its auth — and the same redaction. A mocked
// call shows what would have been sent.
func requestTrace(req *flows.WebhookRequest) *flows.HTTPTrace {
	red := callout.NewRedactor(req.Auth)
	red.Learn(req.URL, req.Headers)
	h := http.Header{}
	if len(req.Body) > 0 {
		h.Set("Content-Type", contentType(req.ContentType))
	}
	h.Set("User-Agent", callout.UserAgent)
	for k, v := range req.Headers {
		if strings.EqualFold(k, "Host") && v == "" || callout.ClientHeader(k) {
			continue
		}
		h[http.CanonicalHeaderKey(k)] = []string{v}
	}
	if req.Auth != nil && req.Auth.Type != "" && req.Auth.Type != flows.AuthNone {
		// Basic, bearer or an OAuth 2.0 token: never shown.
		h.Set("Authorization", callout.Redacted)
	} else if u, err := url.Parse(req.URL); err == nil && u.User != nil && h.Get("Authorization") == "" {
		// Basic auth from the URL's user part.
		h.Set("Authorization", callout.Redacted)
	}
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodPost
	}
	return &flows.HTTPTrace{Method: method, URL: red.URL(req.URL), Headers: red.Headers(h), Body: red.Body(req.Body, h.Get("Content-Type"), false)}
}

// contentType is the Content-Type header the real service sends for a
// request's content type.
func contentType(ct string) string {
	switch strings.ToLower(ct) {
	case "", flows.ContentJSON:
		return callout.MIMEJSON
	case flows.ContentForm:
		return callout.MIMEForm
	}
	return ct
}

// Services bundles a webhook service as flows.Services.
type Services struct{ Hooks flows.WebhookService }

// Webhooks returns the webhook service.
func (s Services) Webhooks() flows.WebhookService { return s.Hooks }

package widgets

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/flows"
)

// TypeWebhook calls an HTTP service mid-flow.
const TypeWebhook = "webhook"

// Webhook calls a configured webhook (Webhook names it) or an inline one (the
// embedded WebhookConfig fields), or a configured one with inline overrides.
// A JSON answer becomes @extra and is saved under Result: @flow.NAME.value is
// the status code, .category Success or Failure (or the name Categories gives
// that outcome), .json.PATH the answer. Mappings save gjson paths of the
// answer to flow variables.
type Webhook struct {
	flows.WidgetBase
	flows.WebhookConfig
	Webhook  string            `json:"webhook,omitempty"`
	Result   string            `json:"result,omitempty"`
	Mappings map[string]string `json:"mappings,omitempty"`
	// Categories names the category the result is saved with, by outcome
	// (Success, Failure): an imported flow keeps its own names ("Succès").
	Categories map[string]string `json:"categories,omitempty"`

	url, body flows.Template
	headers   map[string]flows.Template
	paths     []mapping
}

type mapping struct{ name, path string }

func init() { register(TypeWebhook, func() flows.Widget { return &Webhook{} }) }

// Validate checks the inline fields and compiles the templates.
func (w *Webhook) Validate(c flows.Compiler) error {
	var errs []error
	if callout.NullJSON(w.ExtraJSON) {
		w.ExtraJSON = nil // not given, as in a configured webhook
	}
	// A webhook name of the wrong kind may have named the URL's config.
	// A max_response_bytes over the maximum comes from here too, as a new
	// rule: a flow stored with more still loads, held to the maximum.
	for _, fe := range callout.Validate(&w.WebhookConfig, w.Webhook == "" && w.Decoded("webhook")) {
		errs = append(errs, fe)
	}
	var err error
	if w.URL != "" {
		w.url, err = c.Template("url", w.URL)
		errs = append(errs, err)
	}
	if w.WebhookConfig.Body != "" {
		w.body, err = c.Template("body", w.WebhookConfig.Body)
		errs = append(errs, err)
	}
	// In name order, so errors come out the same way every time.
	for _, k := range slices.Sorted(maps.Keys(w.Headers)) {
		v := w.Headers[k]
		t, err := c.Template(flows.MemberPath("headers", k), v)
		errs = append(errs, err)
		if w.headers == nil {
			w.headers = map[string]flows.Template{}
		}
		w.headers[k] = t
	}
	// In name order, as the headers.
	for _, name := range slices.Sorted(maps.Keys(w.Mappings)) {
		path := w.Mappings[name]
		at := flows.MemberPath("mappings", name)
		switch {
		case name == "":
			errs = append(errs, flows.Errorf(at, "mapping to an empty variable name"))
			continue
		case flows.Key(name) == "":
			errs = append(errs, flows.Errorf(at, "variable name %q has no letters or digits to make a result key", name))
			continue
		}
		if path == "" {
			errs = append(errs, flows.Errorf(at, "empty JSON path"))
			continue
		}
		w.paths = append(w.paths, mapping{name, path})
	}
	for _, k := range slices.Sorted(maps.Keys(w.Categories)) {
		at := flows.MemberPath("categories", k)
		switch {
		case k != flows.ExitSuccess && k != flows.ExitFailure:
			errs = append(errs, flows.Errorf(at, "categories names the category of the outcomes %q and %q, not of %q", flows.ExitSuccess, flows.ExitFailure, k))
		case strings.TrimSpace(w.Categories[k]) == "":
			errs = append(errs, flows.Errorf(at, "empty category name: leave %q out for the category %q", k, k))
		}
	}
	errs = append(errs, checkResult(&w.WidgetBase, w.Result, true))
	return joinErrs(errs)
}

// NullAbsent: a field of the widget's own given as null is not given, as in
// a configured webhook, and so is a member of its auth or include; a
// header, a mapping or a category given as null (a value, not a field) and
// an element of auth.scopes are refused, as are the fields every widget has.
func (w *Webhook) NullAbsent(path string) bool {
	field, member, nested := strings.Cut(path, ".")
	switch {
	case strings.Contains(field, "["):
		return false
	case field == "id" || field == "type" || field == "exits" || field == "note" || field == "position":
		return false
	case !nested:
		return true
	case field == "auth" || field == "include":
		return !strings.ContainsAny(member, ".[")
	}
	return false
}

// ResultsSaved: the result, named by the widget id when it has no name,
// and the variables of the mappings.
func (w *Webhook) ResultsSaved() []string {
	names := []string{resultName(&w.WidgetBase, w.Result)}
	for _, name := range slices.Sorted(maps.Keys(w.Mappings)) {
		names = append(names, name)
	}
	return names
}

// category is the category the result is saved with for outcome (Success or
// Failure).
func (w *Webhook) category(outcome string) string {
	if c := w.Categories[outcome]; c != "" {
		return c
	}
	return outcome
}

// ExitNames: Success, Failure and Timeout.
func (w *Webhook) ExitNames() []string {
	return []string{flows.ExitSuccess, flows.ExitFailure, flows.ExitTimeout}
}

// Execute makes the call.
func (w *Webhook) Execute(r flows.Run) flows.Outcome {
	name := resultName(&w.WidgetBase, w.Result)
	fail := func(msg string) flows.Outcome {
		r.Emit(flows.Event{Type: flows.EventError, Message: msg})
		r.SaveResult(name, "", w.category(flows.ExitFailure), "", nil)
		return flows.Outcome{Exit: flows.ExitFailure}
	}
	svc := r.Services()
	if svc == nil || svc.Webhooks() == nil {
		return fail("webhook: no webhook service is configured")
	}
	hooks := svc.Webhooks()
	cfg := &w.WebhookConfig
	urlT, bodyT, headerT := w.url, w.body, w.headers
	if w.Webhook != "" {
		named, ok := hooks.Config(w.Webhook)
		if !ok {
			return fail(fmt.Sprintf("webhook %q is not configured", w.Webhook))
		}
		cfg = callout.Merge(named, &w.WebhookConfig)
		var err error
		if urlT == nil {
			if urlT, err = r.CompileTemplate("url", cfg.URL); err != nil {
				return fail(fmt.Sprintf("webhook %q: url: %v", w.Webhook, err))
			}
		}
		if bodyT == nil && cfg.Body != "" {
			if bodyT, err = r.CompileTemplate("body", cfg.Body); err != nil {
				return fail(fmt.Sprintf("webhook %q: body: %v", w.Webhook, err))
			}
		}
		if len(named.Headers) > 0 {
			headerT = map[string]flows.Template{}
			for k, v := range cfg.Headers {
				if t, ok := w.headers[k]; ok {
					headerT[k] = t
					continue
				}
				t, err := r.CompileTemplate(flows.MemberPath("headers", k), v)
				if err != nil {
					return fail(fmt.Sprintf("webhook %q: header %s: %v", w.Webhook, k, err))
				}
				headerT[k] = t
			}
		}
	}
	url := r.RenderURL(urlT)
	if w.Webhook != "" && r.RenderFailed() == nil {
		named, _ := hooks.Config(w.Webhook)
		if err := callout.CheckOverrideURL(named, &w.WebhookConfig, url); err != nil {
			return fail(fmt.Sprintf("webhook %q: %v", w.Webhook, err))
		}
	}
	headers := make(map[string]string, len(headerT))
	// In name order, so warnings from rendering come out the same way every time.
	for _, k := range slices.Sorted(maps.Keys(headerT)) {
		t := headerT[k]
		headers[k] = r.RenderExact(t)
	}
	if w.Webhook != "" && r.RenderFailed() == nil {
		// The Host header names the site the credentials go to, as the
		// url's address does.
		named, _ := hooks.Config(w.Webhook)
		for _, k := range slices.Sorted(maps.Keys(w.Headers)) {
			if err := callout.CheckOverrideHost(named, &w.WebhookConfig, k, headers[k]); err != nil {
				return fail(fmt.Sprintf("webhook %q: %v", w.Webhook, err))
			}
		}
	}
	custom := ""
	if bodyT != nil {
		if cfg.ContentType == flows.ContentForm {
			custom = r.RenderForm(bodyT)
		} else {
			custom = r.RenderJSON(bodyT)
		}
	}
	if r.RenderFailed() != nil {
		// A request with a part missing is not sent (/orders//cancel):
		// the expression's error event says what failed.
		r.SaveResult(name, "", w.category(flows.ExitFailure), "", nil)
		return flows.Outcome{Exit: flows.ExitFailure}
	}
	sess := r.Session()
	channel := ""
	if sess.Channel != nil {
		channel = sess.Channel.ID
	}
	body, ctype, err := callout.BuildBody(cfg, sess, r.Flow(), custom, channel)
	if err != nil {
		return fail(fmt.Sprintf("webhook: %v", err))
	}
	req := callout.NewRequest(cfg, url, headers, body, ctype)
	req.Session, req.Flow, req.Widget = sess.ID, r.Flow().ID, w.ID
	res := hooks.Call(r.Context(), req)
	callout.CheckAnswer(res)
	r.Emit(callout.Event(req, res))

	exit := callout.Exit(res.Outcome, w.Exits[flows.ExitTimeout] != "")
	category := w.category(flows.ExitFailure)
	if exit == flows.ExitSuccess {
		category = w.category(flows.ExitSuccess)
	}
	extra := callout.Extra(res)
	if extra != nil {
		r.SetExtra(extra)
	}
	value := ""
	if res.Status > 0 {
		value = strconv.Itoa(res.Status)
	}
	// A non-JSON answer is kept as text (@flow.NAME.text), within a bound.
	text := ""
	if extra == nil && len(res.Body) > 0 {
		text = textAnswer(res.Body, maxTextAnswer)
	}
	r.SaveResult(name, value, category, text, extra)
	if extra != nil && len(w.Mappings) > 0 {
		values, missing := callout.Extract(extra, w.Mappings)
		for _, m := range w.paths {
			if v, ok := values[m.name]; ok {
				r.SaveResult(m.name, v, "", "", nil)
			}
		}
		for _, name := range missing {
			r.Emit(flows.Event{Type: flows.EventWarning, Message: fmt.Sprintf("mapping %q: path %q is not in the answer", name, w.Mappings[name])})
		}
	}
	if extra == nil && res.Status > 0 && len(w.paths) > 0 {
		r.Emit(flows.Event{Type: flows.EventWarning, Message: w.notSaved(res)})
	}
	return flows.Outcome{Exit: exit}
}

// notSaved is the warning for an answer that was not read as JSON, so that
// none of the mappings could be saved: which, and why.
func (w *Webhook) notSaved(res *flows.WebhookResult) string {
	names := make([]string, len(w.paths))
	for i, m := range w.paths {
		names[i] = strconv.Quote(m.name)
	}
	what := "mapping " + names[0]
	if len(names) > 1 {
		what = "mappings " + strings.Join(names, ", ")
	}
	b := bytes.TrimSpace(res.Body)
	why := "the answer is not JSON"
	switch {
	case res.Outcome == flows.OutcomeTooBig:
		why = "the answer is over the size cap, so it is not read"
	case len(b) == 0:
		why = "the answer is empty"
	case b[0] == '{' || b[0] == '[':
		why = "the answer's JSON could not be read"
	}
	return fmt.Sprintf("%s not saved: %s", what, why)
}

// maxTextAnswer bounds how much of a non-JSON answer a session keeps.
const maxTextAnswer = 4096

// textAnswer is body as text, cut to at most max bytes at a whole
// character (flows.CutText).
func textAnswer(body []byte, max int) string {
	return string(flows.CutText(body, max))
}

var (
	_ flows.Widget     = (*Webhook)(nil)
	_ flows.NullAbsent = (*Webhook)(nil)
)

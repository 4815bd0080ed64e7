package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/flows"
)

// services is what the engine hands widgets.
type services struct{ webhooks flows.WebhookService }

func (s services) Webhooks() flows.WebhookService { return s.webhooks }

// webhookService builds the webhook client: named configurations from the
// store and the --webhooks file (looked up on every call, so API changes
// apply at once), the address guard with --allow-cidr, and the in-process
// demo service in front.
func (s *Server) webhookService(cfg Config) (flows.WebhookService, error) {
	hooks, err := loadWebhookConfigs(context.Background(), s.store, cfg.WebhooksFile, cfg.webhooksRead)
	if err != nil {
		return nil, err
	}
	s.hooks = hooks
	hooks.logFailed(cfg.Logger)
	inner := cfg.Webhooks
	if inner == nil {
		inner = callout.New(callout.Options{AllowCIDRs: cfg.AllowCIDRs, Logger: cfg.Logger, Now: cfg.Now,
			DefaultTimeout: cfg.WebhookTimeout, DefaultMaxResponse: cfg.WebhookMaxResponse,
			MaxRequestBytes: cfg.WebhookMaxRequest, MaxResponseHeaders: cfg.WebhookMaxHeaders})
	}
	if cs, ok := inner.(*callout.Service); ok {
		s.guard = cs.Guard()
	}
	return &localWebhooks{inner: inner, srv: s}, nil
}

// localWebhooks answers calls to this server's own demo service in process.
// The address guard keeps refusing the server's address for every other
// path, --allow-cidr or not (Serve tells it the address): a flow must not be
// able to call /v1 with the server's own access.
type localWebhooks struct {
	inner flows.WebhookService
	srv   *Server
}

// Config looks a configured webhook up among the file's and the API's, then
// asks the inner service (a replacement given in Config.Webhooks may have
// its own).
func (l *localWebhooks) Config(name string) (*flows.WebhookConfig, bool) {
	if c, _, ok := l.srv.hooks.get(name); ok {
		return c, true
	}
	return l.inner.Config(name)
}

func (l *localWebhooks) Call(ctx context.Context, req *flows.WebhookRequest) *flows.WebhookResult {
	if problems := l.srv.hooks.refused(req.Name); len(problems) > 0 {
		return refusedCall(req, problems)
	}
	if !l.isLocalDemo(req.URL) {
		return l.inner.Call(ctx, req)
	}
	start := time.Now()
	text := demoText(req.Body, func(k string) string {
		if v, err := url.ParseQuery(string(req.Body)); err == nil && v.Get(k) != "" {
			return v.Get(k)
		}
		if u, err := url.Parse(req.URL); err == nil {
			return u.Query().Get(k)
		}
		return ""
	})
	body, _ := json.Marshal(demoOrder(text))
	hdrs := map[string]string{"Content-Type": "application/json"}
	res := &flows.WebhookResult{
		Outcome: flows.OutcomeSuccess, Status: 200, Headers: hdrs, Body: body,
		Elapsed: time.Since(start), Attempts: 1,
		Request:  &flows.HTTPTrace{Method: req.Method, URL: req.URL, Body: string(req.Body)},
		Response: &flows.HTTPTrace{Status: 200, Headers: hdrs, Body: string(body)},
	}
	l.logDemoCall(ctx, req, res)
	return res
}

// logDemoCall writes the `webhook call` line of a call the demo service
// answered, as the webhook client writes one for every other call: at
// debug, since the demo service always succeeds, where the line has the
// whole URL, its secrets redacted.
func (l *localWebhooks) logDemoCall(ctx context.Context, req *flows.WebhookRequest, res *flows.WebhookResult) {
	log := l.srv.log
	if log == nil || !log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := callout.CallLogAttrs(ctx, req, callout.NewRedactor(req.Auth).URL(req.URL), res, 0)
	log.LogAttrs(ctx, slog.LevelDebug, "webhook call", attrs...)
}

// isLocalDemo reports whether u is the demo service on this server: the
// demo path on a loopback address or localhost (any port: the example flows
// name 127.0.0.1:8080 whatever port the server was given), or under the
// public URL (its host, and its path before the demo path: a proxy that
// serves the server under /parley/ serves the demo at
// /parley/demo/order-status, and not at /demo/order-status).
func (l *localWebhooks) isLocalDemo(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	path := strings.TrimSuffix(u.Path, "/")
	if pu, err := url.Parse(l.srv.cfg.PublicURL); err == nil && l.srv.cfg.PublicURL != "" && strings.EqualFold(pu.Host, u.Host) &&
		path == strings.TrimSuffix(pu.Path, "/")+DemoOrderStatusPath {
		return true
	}
	if path != DemoOrderStatusPath {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// refusedCall is the result of a call through a stored configuration that
// this version's checks refuse (storedCheck): a failure, as of a request
// the webhook client refuses before sending it, whose error names the
// configuration, its problems and what to do. Nothing is sent, no token
// requested.
func refusedCall(req *flows.WebhookRequest, problems []*flows.FieldError) *flows.WebhookResult {
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = "POST"
	}
	return &flows.WebhookResult{
		Outcome: flows.OutcomeFailure,
		Error: fmt.Sprintf("webhook %q, as stored, fails this version's checks and is not called: %s; "+
			"correct it with PUT /v1/webhook-configs/%s (or delete it)", req.Name, joinProblems(problems), req.Name),
		Request: &flows.HTTPTrace{Method: method, URL: callout.NewRedactor(req.Auth).URL(req.URL)},
	}
}

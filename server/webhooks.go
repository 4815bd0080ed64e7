package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// services is what the engine hands widgets.
type services struct{ webhooks flows.WebhookService }

func (s services) Webhooks() flows.WebhookService { return s.webhooks }

// webhookService builds the webhook client: named configurations from the
// --webhooks file and the store, the address guard with --allow-cidr, and
// the in-process demo service in front.
func (s *Server) webhookService(cfg Config) (flows.WebhookService, error) {
	inner := cfg.Webhooks
	if inner == nil {
		configs := map[string]*flows.WebhookConfig{}
		recs, err := s.store.ListConfig(context.Background(), store.Webhooks)
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
			configs[wc.Name] = &wc
		}
		if cfg.WebhooksFile != "" {
			fromFile, err := callout.LoadConfigs(cfg.WebhooksFile)
			if err != nil {
				return nil, fmt.Errorf("--webhooks %s: %w", cfg.WebhooksFile, err)
			}
			for name, wc := range fromFile {
				configs[name] = wc
			}
		}
		inner = callout.New(callout.Options{AllowCIDRs: cfg.AllowCIDRs, Configs: configs, Logger: cfg.Logger, Now: cfg.Now})
	}
	return &localWebhooks{inner: inner, srv: s}, nil
}

// localWebhooks answers calls to this server's own demo service in process.
// The address guard keeps refusing the server's address for every other
// path: a flow must not be able to call /v1 with the server's own access.
type localWebhooks struct {
	inner flows.WebhookService
	srv   *Server
}

func (l *localWebhooks) Config(name string) (*flows.WebhookConfig, bool) { return l.inner.Config(name) }

func (l *localWebhooks) Call(ctx context.Context, req *flows.WebhookRequest) *flows.WebhookResult {
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
	return &flows.WebhookResult{
		Outcome: flows.OutcomeSuccess, Status: 200, Headers: hdrs, Body: body,
		Elapsed: time.Since(start), Attempts: 1,
		Request:  &flows.HTTPTrace{Method: req.Method, URL: req.URL, Body: string(req.Body)},
		Response: &flows.HTTPTrace{Status: 200, Headers: hdrs, Body: string(body)},
	}
}

// isLocalDemo reports whether u is the demo service on this server: the
// demo path on a loopback address or localhost (any port: the example flows
// name 127.0.0.1:8080 whatever port the server was given), or on the public
// URL's host.
func (l *localWebhooks) isLocalDemo(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || strings.TrimSuffix(u.Path, "/") != DemoOrderStatusPath {
		return false
	}
	if pu, err := url.Parse(l.srv.cfg.PublicURL); err == nil && l.srv.cfg.PublicURL != "" && strings.EqualFold(pu.Host, u.Host) {
		return true
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

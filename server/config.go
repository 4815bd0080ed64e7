package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/delivery"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvAddr             = "PARLEY_ADDR"
	EnvData             = "PARLEY_DATA"
	EnvLogFormat        = "PARLEY_LOG_FORMAT"
	EnvLogLevel         = "PARLEY_LOG_LEVEL"
	EnvAPIKeys          = "PARLEY_API_KEYS"
	EnvAllowCIDRs       = "PARLEY_ALLOW_CIDRS"
	EnvWebhooks         = "PARLEY_WEBHOOKS"
	EnvBodyLimit        = "PARLEY_BODY_LIMIT"
	EnvBatchLimit       = "PARLEY_BATCH_LIMIT"
	EnvMaxSteps         = "PARLEY_MAX_STEPS"
	EnvSessionCache     = "PARLEY_SESSION_CACHE"
	EnvTurnTimeout      = "PARLEY_TURN_TIMEOUT"
	EnvSessionExpiry    = "PARLEY_SESSION_EXPIRY"
	EnvDedupeRetention  = "PARLEY_DEDUPE_RETENTION"
	EnvSessionRetention = "PARLEY_SESSION_RETENTION"
	EnvPublicURL        = "PARLEY_PUBLIC_URL"

	EnvWebhookTimeout       = "PARLEY_WEBHOOK_TIMEOUT"
	EnvWebhookMaxResponse   = "PARLEY_WEBHOOK_MAX_RESPONSE"
	EnvDeliveryTimeout      = "PARLEY_DELIVERY_TIMEOUT"
	EnvDeliverySchedule     = "PARLEY_DELIVERY_SCHEDULE"
	EnvDeliveryPerEndpoint  = "PARLEY_DELIVERY_PER_ENDPOINT"
	EnvDeliveryDisableAfter = "PARLEY_DELIVERY_DISABLE_AFTER"
	EnvDeliveryRetention    = "PARLEY_DELIVERY_RETENTION"
)

// ConfigFromEnv reads the PARLEY_* variables through getenv (os.Getenv in
// production). Unset variables leave defaults.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		Addr: getenv(EnvAddr), DataDir: getenv(EnvData), LogFormat: getenv(EnvLogFormat),
		LogLevel:     getenv(EnvLogLevel),
		WebhooksFile: getenv(EnvWebhooks), PublicURL: getenv(EnvPublicURL),
	}
	var errs []error
	if v := getenv(EnvAPIKeys); v != "" {
		for _, item := range strings.Split(v, ",") {
			if strings.TrimSpace(item) == "" {
				continue
			}
			k, err := ParseAPIKey(item)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvAPIKeys, err))
				continue
			}
			cfg.APIKeys = append(cfg.APIKeys, k)
		}
	}
	if v := getenv(EnvAllowCIDRs); v != "" {
		p, err := callout.ParseAllowCIDRs(nil, v)
		if err != nil {
			errs = append(errs, err)
		}
		cfg.AllowCIDRs = p
	}
	intVar := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a positive integer", name, v))
				return
			}
			*dst = n
		}
	}
	durVar := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a positive duration (30s, 5m, 168h)", name, v))
				return
			}
			*dst = d
		}
	}
	intVar(EnvBodyLimit, &cfg.BodyLimit)
	intVar(EnvBatchLimit, &cfg.BatchLimit)
	intVar(EnvMaxSteps, &cfg.MaxSteps)
	if v := getenv(EnvSessionCache); v != "" {
		switch n, err := strconv.Atoi(v); {
		case err != nil || n < 0:
			errs = append(errs, fmt.Errorf("%s: %q is not a number of sessions (0 for none)", EnvSessionCache, v))
		case n == 0:
			cfg.SessionCache = -1
		default:
			cfg.SessionCache = n
		}
	}
	durVar(EnvTurnTimeout, &cfg.TurnTimeout)
	durVar(EnvSessionExpiry, &cfg.SessionExpiry)
	durVar(EnvDedupeRetention, &cfg.DedupeRetention)
	if v := getenv(EnvSessionRetention); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration (720h; 0 keeps ended sessions)", EnvSessionRetention, v))
		} else {
			cfg.SessionRetention = d
		}
	}
	durVar(EnvWebhookTimeout, &cfg.WebhookTimeout)
	intVar(EnvWebhookMaxResponse, &cfg.WebhookMaxResponse)
	durVar(EnvDeliveryTimeout, &cfg.Delivery.Timeout)
	intVar(EnvDeliveryPerEndpoint, &cfg.Delivery.PerEndpoint)
	durVar(EnvDeliveryDisableAfter, &cfg.Delivery.DisableAfter)
	durVar(EnvDeliveryRetention, &cfg.Delivery.Retention)
	if v := getenv(EnvDeliverySchedule); v != "" {
		sched, err := ParseSchedule(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvDeliverySchedule, err))
		}
		cfg.Delivery.Schedule = sched
	}
	return cfg, errors.Join(errs...)
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// ServeFlags builds the Config of `parley serve`: the environment first
// (ConfigFromEnv), then flags, which win. Usage and errors go to stderr.
func ServeFlags(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	cfg, envErr := ConfigFromEnv(getenv)
	fs := flag.NewFlagSet("parley serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := func(v, d string) string {
		if v != "" {
			return v
		}
		return d
	}
	addr := fs.String("addr", def(cfg.Addr, DefaultAddr), "address to listen on ("+EnvAddr+")")
	data := fs.String("data", def(cfg.DataDir, DefaultDataDir), "data directory ("+EnvData+")")
	logFormat := fs.String("log-format", def(cfg.LogFormat, "text"), "log format: text or json ("+EnvLogFormat+")")
	logLevel := fs.String("log-level", def(cfg.LogLevel, "info"), "least level logged: debug, info, warn or error; requests that succeed are logged at debug ("+EnvLogLevel+")")
	webhooks := fs.String("webhooks", cfg.WebhooksFile, "JSON file of named webhook configurations ("+EnvWebhooks+")")
	publicURL := fs.String("public-url", cfg.PublicURL, "external base URL, with a proxy's path if any, for Twilio signatures and TwiML URLs behind a proxy ("+EnvPublicURL+")")
	bodyLimit := fs.Int("body-limit", orInt(cfg.BodyLimit, DefaultBodyLimit), "maximum request body in bytes ("+EnvBodyLimit+")")
	batchLimit := fs.Int("batch-limit", orInt(cfg.BatchLimit, DefaultBatchLimit), "most messages in one request to /v1/channels/{id}/messages/batch ("+EnvBatchLimit+")")
	maxSteps := fs.Int("max-steps", orInt(cfg.MaxSteps, 250), "maximum widgets run in one turn ("+EnvMaxSteps+")")
	sessionCache := fs.Int("session-cache", sessionCacheDefault(cfg.SessionCache), "waiting sessions kept decoded in memory between turns; 0 for none ("+EnvSessionCache+")")
	turnTimeout := fs.Duration("turn-timeout", orDur(cfg.TurnTimeout, 30*time.Second), "time limit of one turn, webhook calls included ("+EnvTurnTimeout+")")
	expiry := fs.Duration("session-expiry", orDur(cfg.SessionExpiry, DefaultSessionExpiry), "end sessions that wait this long without input ("+EnvSessionExpiry+")")
	dedupe := fs.Duration("dedupe-retention", orDur(cfg.DedupeRetention, DefaultDedupeRetention), "remember inbound message ids this long: a repeated id gets the first reply ("+EnvDedupeRetention+")")
	sessionRetention := fs.Duration("session-retention", cfg.SessionRetention, "delete ended sessions and their events this long after they end; 0 keeps them ("+EnvSessionRetention+")")
	whTimeout := fs.Duration("webhook-timeout", orDur(cfg.WebhookTimeout, callout.DefaultTimeout), "default time limit of a webhook widget's call ("+EnvWebhookTimeout+")")
	whMax := fs.Int("webhook-max-response", orInt(cfg.WebhookMaxResponse, callout.DefaultMaxResponse), "default cap in bytes on a webhook widget's answer ("+EnvWebhookMaxResponse+")")
	dTimeout := fs.Duration("delivery-timeout", orDur(cfg.Delivery.Timeout, 15*time.Second), "time limit of one event delivery request ("+EnvDeliveryTimeout+")")
	dPerEndpoint := fs.Int("delivery-per-endpoint", orInt(cfg.Delivery.PerEndpoint, 8), "most event deliveries in flight to one endpoint ("+EnvDeliveryPerEndpoint+")")
	dDisable := fs.Duration("delivery-disable-after", orDur(cfg.Delivery.DisableAfter, 5*24*time.Hour), "disable an endpoint failing this long with no success ("+EnvDeliveryDisableAfter+")")
	dRetention := fs.Duration("delivery-retention", orDur(cfg.Delivery.Retention, 30*24*time.Hour), "keep the deliveries log this long ("+EnvDeliveryRetention+")")
	dSchedule := fs.String("delivery-schedule", scheduleString(cfg.Delivery.Schedule), "delays before each delivery attempt, comma-separated ("+EnvDeliverySchedule+")")
	var keys, cidrs multiFlag
	fs.Var(&keys, "api-key", "API key for /v1, KEY or KEY@CIDR|CIDR; repeatable ("+EnvAPIKeys+", comma-separated)")
	fs.Var(&cidrs, "allow-cidr", "network webhooks may call despite the private-address guard; repeatable ("+EnvAllowCIDRs+")")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if envErr != nil {
		return Config{}, envErr
	}
	cfg.Addr, cfg.DataDir, cfg.LogFormat, cfg.WebhooksFile, cfg.PublicURL = *addr, *data, *logFormat, *webhooks, *publicURL
	cfg.BodyLimit, cfg.MaxSteps, cfg.TurnTimeout, cfg.SessionExpiry = *bodyLimit, *maxSteps, *turnTimeout, *expiry
	cfg.WebhookTimeout, cfg.WebhookMaxResponse = *whTimeout, *whMax
	if cfg.BatchLimit = *batchLimit; cfg.BatchLimit <= 0 {
		return Config{}, fmt.Errorf("--batch-limit: %d is not a positive number of messages", cfg.BatchLimit)
	}
	if cfg.DedupeRetention = *dedupe; cfg.DedupeRetention <= 0 {
		return Config{}, fmt.Errorf("--dedupe-retention: %s is not a positive duration (30s, 5m, 168h)", cfg.DedupeRetention)
	}
	if cfg.SessionRetention = *sessionRetention; cfg.SessionRetention < 0 {
		return Config{}, fmt.Errorf("--session-retention: %s is not a duration (720h; 0 keeps ended sessions)", cfg.SessionRetention)
	}
	switch cfg.SessionCache = *sessionCache; {
	case cfg.SessionCache < 0 && cfg.SessionCache != -1:
		return Config{}, fmt.Errorf("--session-cache: %d is not a number of sessions (0 for none)", cfg.SessionCache)
	case cfg.SessionCache == 0:
		cfg.SessionCache = -1 // none: Config's zero value means the default
	}
	cfg.Delivery.Timeout, cfg.Delivery.PerEndpoint, cfg.Delivery.DisableAfter, cfg.Delivery.Retention = *dTimeout, *dPerEndpoint, *dDisable, *dRetention
	sched, err := ParseSchedule(*dSchedule)
	if err != nil {
		return Config{}, fmt.Errorf("--delivery-schedule: %w", err)
	}
	cfg.Delivery.Schedule = sched
	if *dPerEndpoint <= 0 {
		return Config{}, fmt.Errorf("--delivery-per-endpoint: must be at least 1")
	}
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		return Config{}, fmt.Errorf("--log-format: %q is neither text nor json", cfg.LogFormat)
	}
	cfg.LogLevel = *logLevel
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return Config{}, fmt.Errorf("--log-level: %q is not debug, info, warn or error", cfg.LogLevel)
	}
	for _, k := range keys {
		key, err := ParseAPIKey(k)
		if err != nil {
			return Config{}, fmt.Errorf("--api-key: %w", err)
		}
		cfg.APIKeys = append(cfg.APIKeys, key)
	}
	if len(cidrs) > 0 {
		p, err := callout.ParseAllowCIDRs(cidrs, "")
		if err != nil {
			return Config{}, fmt.Errorf("--allow-cidr: %w", err)
		}
		cfg.AllowCIDRs = append(cfg.AllowCIDRs, p...)
	}
	return cfg, nil
}

// ParseSchedule reads a retry schedule: delays before each attempt,
// comma-separated ("0s,5s,5m,30m,2h,5h,10h,10h").
func ParseSchedule(v string) ([]time.Duration, error) {
	var out []time.Duration
	for i, part := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("item %d %q is not a duration (0s, 5s, 5m, 2h)", i+1, part)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, errors.New("empty schedule")
	}
	return out, nil
}

func scheduleString(s []time.Duration) string {
	if len(s) == 0 {
		s = delivery.DefaultSchedule
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

// sessionCacheDefault is the --session-cache default shown and used: the
// environment's value (where -1 means none, shown as 0), else the default.
func sessionCacheDefault(v int) int {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return DefaultSessionCache
	}
	return v
}

func orInt(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}

func orDur(v, d time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return d
}

// Main is `parley serve`: args are the arguments after "serve". It serves
// until ctx ends or SIGINT/SIGTERM arrives, then shuts down gracefully, and
// returns the process exit code (2 for bad usage).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := ServeFlags(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "parley serve:", err)
		return 2
	}
	cfg.LogOutput = stderr
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, cfg); err != nil {
		fmt.Fprintln(stderr, "parley serve:", err)
		return 1
	}
	return 0
}

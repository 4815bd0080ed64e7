package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
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
// production). Unset variables leave defaults; each bad one is an error
// naming it.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg, bad := configFromEnv(getenv)
	errs := make([]error, len(bad))
	for i, b := range bad {
		errs[i] = b.err
	}
	return cfg, errors.Join(errs...)
}

// envError is what is wrong with one environment variable, kept apart so
// that a flag given for the same setting can take its place (flags win).
type envError struct {
	name string
	err  error
}

// envFlags names the flag of each environment variable.
var envFlags = map[string]string{
	EnvAddr: "addr", EnvData: "data", EnvLogFormat: "log-format", EnvLogLevel: "log-level",
	EnvAPIKeys: "api-key", EnvAllowCIDRs: "allow-cidr", EnvWebhooks: "webhooks", EnvPublicURL: "public-url",
	EnvBodyLimit: "body-limit", EnvBatchLimit: "batch-limit", EnvMaxSteps: "max-steps",
	EnvSessionCache: "session-cache", EnvTurnTimeout: "turn-timeout", EnvSessionExpiry: "session-expiry",
	EnvDedupeRetention: "dedupe-retention", EnvSessionRetention: "session-retention",
	EnvWebhookTimeout: "webhook-timeout", EnvWebhookMaxResponse: "webhook-max-response",
	EnvDeliveryTimeout: "delivery-timeout", EnvDeliverySchedule: "delivery-schedule",
	EnvDeliveryPerEndpoint: "delivery-per-endpoint", EnvDeliveryDisableAfter: "delivery-disable-after",
	EnvDeliveryRetention: "delivery-retention",
}

// configFromEnv is ConfigFromEnv with its errors by variable.
func configFromEnv(getenv func(string) string) (Config, []envError) {
	cfg := Config{
		Addr: getenv(EnvAddr), DataDir: getenv(EnvData), LogFormat: getenv(EnvLogFormat),
		LogLevel:     getenv(EnvLogLevel),
		WebhooksFile: getenv(EnvWebhooks), PublicURL: getenv(EnvPublicURL),
	}
	var errs []envError
	fail := func(name string, err error) { errs = append(errs, envError{name, err}) }
	if err := checkLogFormat(cfg.LogFormat); cfg.LogFormat != "" && err != nil {
		fail(EnvLogFormat, fmt.Errorf("%s: %w", EnvLogFormat, err))
		cfg.LogFormat = ""
	}
	if err := checkLogLevel(cfg.LogLevel); cfg.LogLevel != "" && err != nil {
		fail(EnvLogLevel, fmt.Errorf("%s: %w", EnvLogLevel, err))
		cfg.LogLevel = ""
	}
	if err := checkPublicURL(cfg.PublicURL); err != nil {
		fail(EnvPublicURL, fmt.Errorf("%s: %w", EnvPublicURL, err))
		cfg.PublicURL = ""
	}
	if v := getenv(EnvAPIKeys); v != "" {
		for _, item := range strings.Split(v, ",") {
			if strings.TrimSpace(item) == "" {
				continue
			}
			k, err := ParseAPIKey(item)
			if err != nil {
				fail(EnvAPIKeys, fmt.Errorf("%s: %w", EnvAPIKeys, err))
				continue
			}
			cfg.APIKeys = append(cfg.APIKeys, k)
		}
	}
	if v := getenv(EnvAllowCIDRs); v != "" {
		p, err := callout.ParseAllowCIDRs(nil, v) // its errors name the variable
		if err != nil {
			fail(EnvAllowCIDRs, err)
		}
		cfg.AllowCIDRs = p
	}
	intVar := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				fail(name, fmt.Errorf("%s: %q is not a positive integer", name, v))
				return
			}
			*dst = n
		}
	}
	durVar := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				fail(name, fmt.Errorf("%s: %q is not a positive duration (30s, 5m, 168h)", name, v))
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
			fail(EnvSessionCache, fmt.Errorf("%s: %q is not a number of sessions (0 for none)", EnvSessionCache, v))
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
			fail(EnvSessionRetention, fmt.Errorf("%s: %q is not a duration (720h; 0 keeps ended sessions)", EnvSessionRetention, v))
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
			fail(EnvDeliverySchedule, fmt.Errorf("%s: %w", EnvDeliverySchedule, err))
		}
		cfg.Delivery.Schedule = sched
	}
	return cfg, errs
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// ServeFlags builds the Config of `parley serve`: the environment first
// (ConfigFromEnv), then flags, which win: a flag given replaces its
// variable, a repeatable flag's values included, and makes a bad value of
// that variable harmless. Flags are checked as the variables are, each error
// naming the flag. Usage and errors go to stderr.
func ServeFlags(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	cfg, envErrs := configFromEnv(getenv)
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
	fs.Var(&keys, "api-key", "API key for /v1, KEY or KEY@CIDR|CIDR; repeatable; given, it replaces "+EnvAPIKeys+" (comma-separated)")
	fs.Var(&cidrs, "allow-cidr", "network webhooks may call despite the private-address guard; repeatable; given, it replaces "+EnvAllowCIDRs)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	for _, e := range envErrs {
		if !given[envFlags[e.name]] {
			errs = append(errs, e.err)
		}
	}
	// The defaults of these flags are positive, so only a flag given can be
	// zero or negative.
	positive := func(name string, n int, what string) {
		if n <= 0 {
			errs = append(errs, fmt.Errorf("--%s: %d is not a positive %s", name, n, what))
		}
	}
	positiveDur := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("--%s: %s is not a positive duration (30s, 5m, 168h)", name, d))
		}
	}
	positive("body-limit", *bodyLimit, "number of bytes")
	positive("batch-limit", *batchLimit, "number of messages")
	positive("max-steps", *maxSteps, "number of steps")
	positive("webhook-max-response", *whMax, "number of bytes")
	positive("delivery-per-endpoint", *dPerEndpoint, "number of deliveries (at least 1)")
	positiveDur("turn-timeout", *turnTimeout)
	positiveDur("session-expiry", *expiry)
	positiveDur("dedupe-retention", *dedupe)
	positiveDur("webhook-timeout", *whTimeout)
	positiveDur("delivery-timeout", *dTimeout)
	positiveDur("delivery-disable-after", *dDisable)
	positiveDur("delivery-retention", *dRetention)
	if *sessionRetention < 0 {
		errs = append(errs, fmt.Errorf("--session-retention: %s is not a duration (720h; 0 keeps ended sessions)", *sessionRetention))
	}
	if *sessionCache < 0 {
		errs = append(errs, fmt.Errorf("--session-cache: %d is not a number of sessions (0 for none)", *sessionCache))
	}
	sched, err := ParseSchedule(*dSchedule)
	if err != nil {
		errs = append(errs, fmt.Errorf("--delivery-schedule: %w", err))
	}
	if err := checkLogFormat(*logFormat); err != nil {
		errs = append(errs, fmt.Errorf("--log-format: %w", err))
	}
	if err := checkLogLevel(*logLevel); err != nil {
		errs = append(errs, fmt.Errorf("--log-level: %w", err))
	}
	if given["public-url"] {
		if err := checkPublicURL(*publicURL); err != nil {
			errs = append(errs, fmt.Errorf("--public-url: %w", err))
		}
	}
	if given["api-key"] {
		cfg.APIKeys = nil
		for _, k := range keys {
			key, err := ParseAPIKey(k)
			if err != nil {
				errs = append(errs, fmt.Errorf("--api-key: %w", err))
				continue
			}
			cfg.APIKeys = append(cfg.APIKeys, key)
		}
	}
	if given["allow-cidr"] {
		p, err := callout.ParseAllowCIDRs(cidrs, "") // its errors name the flag
		if err != nil {
			errs = append(errs, err)
		}
		cfg.AllowCIDRs = p
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	cfg.Addr, cfg.DataDir, cfg.LogFormat, cfg.LogLevel = *addr, *data, *logFormat, *logLevel
	cfg.WebhooksFile, cfg.PublicURL = *webhooks, *publicURL
	cfg.BodyLimit, cfg.BatchLimit, cfg.MaxSteps = *bodyLimit, *batchLimit, *maxSteps
	cfg.TurnTimeout, cfg.SessionExpiry, cfg.DedupeRetention, cfg.SessionRetention = *turnTimeout, *expiry, *dedupe, *sessionRetention
	cfg.WebhookTimeout, cfg.WebhookMaxResponse = *whTimeout, *whMax
	if cfg.SessionCache = *sessionCache; cfg.SessionCache == 0 {
		cfg.SessionCache = -1 // none: Config's zero value means the default
	}
	cfg.Delivery.Timeout, cfg.Delivery.PerEndpoint, cfg.Delivery.DisableAfter, cfg.Delivery.Retention = *dTimeout, *dPerEndpoint, *dDisable, *dRetention
	cfg.Delivery.Schedule = sched
	return cfg, nil
}

// checkLogFormat checks a --log-format (PARLEY_LOG_FORMAT).
func checkLogFormat(v string) error {
	if v != "text" && v != "json" {
		return fmt.Errorf("%q is neither text nor json", v)
	}
	return nil
}

// checkLogLevel checks a --log-level (PARLEY_LOG_LEVEL).
func checkLogLevel(v string) error {
	var level slog.Level
	if level.UnmarshalText([]byte(v)) != nil {
		return fmt.Errorf("%q is not debug, info, warn or error", v)
	}
	return nil
}

// checkPublicURL checks a --public-url: empty (none), or an absolute http
// or https URL with a host and maybe a path, which Twilio's signed URLs and
// the TwiML URLs start with.
func checkPublicURL(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("%q is not an absolute http or https URL with a host (https://parley.example.com, with the path a proxy serves the server under, if any)", v)
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(v, "?") || strings.HasSuffix(v, "#"):
		return fmt.Errorf("%q has a query or fragment: give the base URL the server's paths follow", v)
	}
	return nil
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

package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/delivery"
	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvAddr               = "PARLEY_ADDR"
	EnvData               = "PARLEY_DATA"
	EnvLogFormat          = "PARLEY_LOG_FORMAT"
	EnvLogLevel           = "PARLEY_LOG_LEVEL"
	EnvAPIKeys            = "PARLEY_API_KEYS"
	EnvAllowCIDRs         = "PARLEY_ALLOW_CIDRS"
	EnvWebhooks           = "PARLEY_WEBHOOKS"
	EnvBodyLimit          = "PARLEY_BODY_LIMIT"
	EnvHeaderLimit        = "PARLEY_HEADER_LIMIT"
	EnvBatchLimit         = "PARLEY_BATCH_LIMIT"
	EnvMaxAttachments     = "PARLEY_MAX_ATTACHMENTS"
	EnvMaxAttachmentLen   = "PARLEY_MAX_ATTACHMENT_LENGTH"
	EnvMaxSteps           = "PARLEY_MAX_STEPS"
	EnvMaxValue           = "PARLEY_MAX_VALUE"
	EnvMaxPath            = "PARLEY_MAX_PATH"
	EnvMaxExprBytes       = "PARLEY_MAX_EXPR_BYTES"
	EnvMaxExprItems       = "PARLEY_MAX_EXPR_ITEMS"
	EnvSessionCache       = "PARLEY_SESSION_CACHE"
	EnvFlowCache          = "PARLEY_FLOW_CACHE"
	EnvTurnTimeout        = "PARLEY_TURN_TIMEOUT"
	EnvSessionExpiry      = "PARLEY_SESSION_EXPIRY"
	EnvDedupeRetention    = "PARLEY_DEDUPE_RETENTION"
	EnvCallTimeoutGrace   = "PARLEY_CALL_TIMEOUT_GRACE"
	EnvBackupStall        = "PARLEY_BACKUP_STALL_TIMEOUT"
	EnvSessionRetention   = "PARLEY_SESSION_RETENTION"
	EnvWriteProbeInterval = "PARLEY_WRITE_PROBE_INTERVAL"
	EnvPublicURL          = "PARLEY_PUBLIC_URL"

	EnvWebhookTimeout       = "PARLEY_WEBHOOK_TIMEOUT"
	EnvWebhookMaxResponse   = "PARLEY_WEBHOOK_MAX_RESPONSE"
	EnvWebhookMaxHeaders    = "PARLEY_WEBHOOK_MAX_HEADERS"
	EnvWebhookMaxRequest    = "PARLEY_WEBHOOK_MAX_REQUEST"
	EnvDeliveryTimeout      = "PARLEY_DELIVERY_TIMEOUT"
	EnvDeliverySchedule     = "PARLEY_DELIVERY_SCHEDULE"
	EnvDeliveryPerEndpoint  = "PARLEY_DELIVERY_PER_ENDPOINT"
	EnvDeliveryDisableAfter = "PARLEY_DELIVERY_DISABLE_AFTER"
	EnvDeliveryRetention    = "PARLEY_DELIVERY_RETENTION"
)

// ConfigFromEnv reads the PARLEY_* variables through getenv (os.Getenv in
// production). Unset variables leave Config's zero values (the defaults);
// each bad one is an error naming it.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var cfg Config
	var errs []error
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			errs = append(errs, s.read(&cfg, s.env, []string{v})...)
		}
	}
	return cfg, errors.Join(errs...)
}

// A setting is one of `parley serve`'s settings: its flag, the environment
// variable the flag replaces, the built-in default, and how a value is read
// into a Config. ServeFlags and ConfigFromEnv read every value through set,
// so a flag and its variable are checked by the same code and differ only in
// the name their errors give.
type setting struct {
	flag, env string
	// kind names the value in the help (bytes, duration, URL).
	kind string
	// usage is the flag's help.
	usage string
	// def is the built-in default, as a flag value ("" for none).
	def string
	// list settings are repeatable flags whose variable is comma-separated;
	// set is called once per item.
	list bool
	// set reads v into c; its error says what is wrong with v, without naming
	// the flag or variable.
	set func(c *Config, v string) error
}

// read reads the values vals of s, given as source (the flag or the
// variable), into c; a list setting's values are split at commas. Each
// setting is read from one source only, so a flag's list replaces its
// variable's.
func (s setting) read(c *Config, source string, vals []string) []error {
	var errs []error
	// Each problem of a file it names (--webhooks) names the source too.
	fail := func(err error) { errs = append(errs, flows.EachNamed(source, err)) }
	if !s.list {
		if err := s.set(c, vals[len(vals)-1]); err != nil {
			fail(err)
		}
		return errs
	}
	for _, v := range vals {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				if err := s.set(c, item); err != nil {
					fail(err)
				}
			}
		}
	}
	return errs
}

// settings are `parley serve`'s flags and variables, in the order of its help.
var settings = []setting{
	{"addr", EnvAddr, "address", "address to listen on, host:port", DefaultAddr, false, func(c *Config, v string) error {
		if err := checkAddr(v); err != nil {
			return err
		}
		c.Addr = v
		return nil
	}},
	{"data", EnvData, "directory", "data directory", DefaultDataDir, false, func(c *Config, v string) error {
		// An empty variable is unset, as every variable, but an empty flag
		// is a mistake: the default would make and seed another store.
		if v == "" {
			return fmt.Errorf("empty: give the data directory (%s by default, when the flag and %s are left out)", DefaultDataDir, EnvData)
		}
		// A file, often the store file itself, would fail the start with
		// mkdir's "not a directory"; said here, naming the setting.
		if fi, err := os.Stat(v); err == nil && !fi.IsDir() {
			if filepath.Base(v) == DBFile {
				return fmt.Errorf("%s is a file, not a directory: give the directory that holds %s (--data %s)", v, DBFile, filepath.Dir(v))
			}
			return fmt.Errorf("%s is a file, not a directory: give the data directory (the store is %s inside it)", v, DBFile)
		}
		c.DataDir = v
		return nil
	}},
	{"log-format", EnvLogFormat, "format", "log format: text or json", "text", false, func(c *Config, v string) error {
		if v != "text" && v != "json" {
			return fmt.Errorf("%q is neither text nor json", v)
		}
		c.LogFormat = v
		return nil
	}},
	{"log-level", EnvLogLevel, "level", "least level logged: debug, info, warn or error; requests that succeed within 1s are logged at debug", "info", false, func(c *Config, v string) error {
		// Only the four names: slog would also take offsets such as
		// "warn+1", which the help does not offer.
		switch strings.ToLower(v) {
		case "debug", "info", "warn", "error":
		default:
			return fmt.Errorf("%q is not debug, info, warn or error", v)
		}
		c.LogLevel = v
		return nil
	}},
	{"webhooks", EnvWebhooks, "file", "JSON file of named webhook configurations", "", false, func(c *Config, v string) error {
		// Read and checked here, so that a file that is missing or wrong
		// is named with the flag or variable that gave it; the server
		// starts with what was read here. An empty value is no file, as an
		// empty variable is.
		if v == "" {
			c.WebhooksFile, c.webhooksRead = "", nil
			return nil
		}
		read, err := callout.LoadConfigs(v)
		if err != nil {
			return err
		}
		c.WebhooksFile, c.webhooksRead = v, read
		return nil
	}},
	{"public-url", EnvPublicURL, "URL", "external base URL, with a proxy's path if any, for Twilio signatures and TwiML URLs behind a proxy, and the servers of /openapi.json", "", false, func(c *Config, v string) error {
		if err := checkPublicURL(v); err != nil {
			return err
		}
		c.PublicURL = v
		return nil
	}},
	{"body-limit", EnvBodyLimit, "bytes", "maximum request body in bytes", strconv.Itoa(DefaultBodyLimit), false, positiveInt("number of bytes", func(c *Config) *int { return &c.BodyLimit })},
	{"header-limit", EnvHeaderLimit, "bytes", "maximum size in bytes of a request's line and headers together", strconv.Itoa(DefaultHeaderLimit), false, func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		switch {
		case errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(strings.TrimSpace(v), "-") || err == nil && n > MaxHeaderLimit:
			return fmt.Errorf("%q is too large: give a positive number of bytes up to %d (each connection holds a buffer of that size)", v, MaxHeaderLimit)
		case err != nil || n <= 0:
			return fmt.Errorf("%q is not a positive number of bytes", v)
		}
		c.HeaderLimit = n
		return nil
	}},
	{"batch-limit", EnvBatchLimit, "messages", "most messages in one request to /v1/channels/{id}/messages/batch", strconv.Itoa(DefaultBatchLimit), false, positiveInt("number of messages", func(c *Config) *int { return &c.BatchLimit })},
	{"max-attachments", EnvMaxAttachments, "attachments", "most attachments one inbound message carries (the messages API's attachments, Twilio's NumMedia and a location)", strconv.Itoa(flows.DefaultMaxAttachments), false, positiveInt("number of attachments", func(c *Config) *int { return &c.MaxAttachments })},
	{"max-attachment-length", EnvMaxAttachmentLen, "bytes", "longest attachment of an inbound message, CONTENT-TYPE:URL, in bytes", strconv.Itoa(flows.DefaultMaxAttachmentLength), false, positiveInt("number of bytes", func(c *Config) *int { return &c.MaxAttachmentLength })},
	{"max-steps", EnvMaxSteps, "steps", "maximum widgets run in one turn", strconv.Itoa(engine.DefaultMaxSteps), false, positiveInt("number of steps", func(c *Config) *int { return &c.MaxSteps })},
	{"max-value", EnvMaxValue, "bytes", "largest value a template or an expression makes (a message, a result, a field)", strconv.Itoa(engine.DefaultMaxValueBytes), false, positiveInt("number of bytes", func(c *Config) *int { return &c.MaxValue })},
	{"max-expr-bytes", EnvMaxExprBytes, "bytes", "most bytes one evaluation of an expression makes with its functions and + in all", strconv.Itoa(engine.DefaultMaxExprBytes), false, positiveInt("number of bytes", func(c *Config) *int { return &c.MaxExprBytes })},
	{"max-expr-items", EnvMaxExprItems, "items", "most list items and map entries one evaluation of an expression builds, and most items its loops go over", strconv.Itoa(engine.DefaultMaxExprItems), false, positiveInt("number of items", func(c *Config) *int { return &c.MaxExprItems })},
	{"max-path", EnvMaxPath, "steps", "most steps a session's path keeps, the latest; older ones are dropped and counted in path_dropped", strconv.Itoa(engine.DefaultMaxPath), false, positiveInt("number of steps", func(c *Config) *int { return &c.MaxPath })},
	{"session-cache", EnvSessionCache, "sessions", "waiting sessions kept decoded in memory between turns; 0 for none", strconv.Itoa(DefaultSessionCache), false, countOrNone("sessions", func(c *Config) *int { return &c.SessionCache })},
	{"flow-cache", EnvFlowCache, "revisions", "compiled flow revisions kept in memory besides each flow's current one (those sessions wait in, older ones of edited flows); 0 for none", strconv.Itoa(DefaultFlowCache), false, countOrNone("revisions", func(c *Config) *int { return &c.FlowCache })},
	{"turn-timeout", EnvTurnTimeout, "duration", "time limit of one turn, webhook calls included", "30s", false, positiveDuration(func(c *Config) *time.Duration { return &c.TurnTimeout })},
	{"session-expiry", EnvSessionExpiry, "duration", "end sessions that wait this long without input", DefaultSessionExpiry.String(), false, positiveDuration(func(c *Config) *time.Duration { return &c.SessionExpiry })},
	{"dedupe-retention", EnvDedupeRetention, "duration", "remember inbound message ids this long: a repeated id gets the first reply", DefaultDedupeRetention.String(), false, positiveDuration(func(c *Config) *time.Duration { return &c.DedupeRetention })},
	{"backup-stall-timeout", EnvBackupStall, "duration", "end a backup (GET /v1/backup) whose client takes none of the copy for this long", DefaultBackupStall.String(), false, positiveDuration(func(c *Config) *time.Duration { return &c.BackupStall })},
	{"call-timeout-grace", EnvCallTimeoutGrace, "duration", "a call's wait is timed out by the server this long after its telephony side should have reported it, and a call that ended while recording waits this long for its recording", DefaultCallTimeoutGrace.String(), false, positiveDuration(func(c *Config) *time.Duration { return &c.CallTimeoutGrace })},
	{"session-retention", EnvSessionRetention, "duration", "delete ended sessions and their events this long after they end; 0 keeps them", "0s", false, func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration of 0 or more (720h; 0 keeps ended sessions)", v)
		}
		c.SessionRetention = d
		return nil
	}},
	{"write-probe-interval", EnvWriteProbeInterval, "duration", "while the store's writes fail (a full disk), how often one turn is let through to find out whether they succeed again; the Retry-After of the turns refused meanwhile and of /healthz's 503", store.DefaultWriteProbeInterval.String(), false, positiveDuration(func(c *Config) *time.Duration { return &c.WriteProbeInterval })},
	{"webhook-timeout", EnvWebhookTimeout, "duration", "default time limit of a webhook widget's call", callout.DefaultTimeout.String(), false, positiveDuration(func(c *Config) *time.Duration { return &c.WebhookTimeout })},
	{"webhook-max-response", EnvWebhookMaxResponse, "bytes", "default cap in bytes on a webhook widget's answer", strconv.Itoa(callout.DefaultMaxResponse), false, func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		switch {
		case errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(strings.TrimSpace(v), "-") || err == nil && n > callout.MaxResponseBytes:
			return fmt.Errorf("%q is over the maximum of %d (16 MiB)", v, callout.MaxResponseBytes)
		case err != nil || n <= 0:
			return fmt.Errorf("%q is not a positive number of bytes", v)
		}
		c.WebhookMaxResponse = n
		return nil
	}},
	{"webhook-max-request", EnvWebhookMaxRequest, "bytes", "cap in bytes on the body a webhook widget sends", strconv.Itoa(callout.DefaultMaxRequestBytes), false, positiveInt("number of bytes", func(c *Config) *int { return &c.WebhookMaxRequest })},
	{"webhook-max-headers", EnvWebhookMaxHeaders, "bytes", "cap in bytes on the status line and headers of an answer to a webhook widget, a token request or an event delivery", strconv.Itoa(callout.DefaultMaxResponseHeaders), false, positiveInt("number of bytes", func(c *Config) *int { return &c.WebhookMaxHeaders })},
	{"delivery-timeout", EnvDeliveryTimeout, "duration", "time limit of one event delivery request", "15s", false, positiveDuration(func(c *Config) *time.Duration { return &c.Delivery.Timeout })},
	{"delivery-per-endpoint", EnvDeliveryPerEndpoint, "deliveries", "most event deliveries in flight to one endpoint", "8", false, positiveInt("number of deliveries (at least 1)", func(c *Config) *int { return &c.Delivery.PerEndpoint })},
	{"delivery-disable-after", EnvDeliveryDisableAfter, "duration", "disable an endpoint failing this long with no success", (5 * 24 * time.Hour).String(), false, positiveDuration(func(c *Config) *time.Duration { return &c.Delivery.DisableAfter })},
	{"delivery-retention", EnvDeliveryRetention, "duration", "keep the deliveries log this long", (30 * 24 * time.Hour).String(), false, positiveDuration(func(c *Config) *time.Duration { return &c.Delivery.Retention })},
	{"delivery-schedule", EnvDeliverySchedule, "delays", "delays before each delivery attempt, comma-separated", scheduleString(delivery.DefaultSchedule), false, func(c *Config, v string) error {
		sched, err := ParseSchedule(v)
		if err != nil {
			return err
		}
		c.Delivery.Schedule = sched
		return nil
	}},
	{"api-key", EnvAPIKeys, "key", "API key for /v1, KEY or KEY@CIDR|CIDR; repeatable or comma-separated; given, it replaces the variable", "", true, func(c *Config, v string) error {
		k, err := ParseAPIKey(v)
		if err != nil {
			return err
		}
		c.APIKeys = append(c.APIKeys, k)
		return nil
	}},
	{"allow-cidr", EnvAllowCIDRs, "network", "network webhook widgets, their token requests and event deliveries may call despite the private-address guard; repeatable or comma-separated; given, it replaces the variable", "", true, func(c *Config, v string) error {
		p, err := callout.ParseAllowCIDR(v)
		if err != nil {
			return err
		}
		c.AllowCIDRs = append(c.AllowCIDRs, p)
		return nil
	}},
}

// countOrNone reads a number of what (sessions, revisions) a cache keeps:
// 0 keeps none, stored as -1, since Config's zero value means the default.
func countOrNone(what string, field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(strings.TrimSpace(v), "-") {
			return fmt.Errorf("%q is too large: give a number of %s up to %d (0 for none)", v, what, math.MaxInt)
		}
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a number of %s (0 for none)", v, what)
		}
		if n == 0 {
			n = -1 // none: Config's zero value means the default
		}
		*field(c) = n
		return nil
	}
}

// positiveInt sets an int field to a positive whole number of what.
func positiveInt(what string, field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(strings.TrimSpace(v), "-") {
			return fmt.Errorf("%q is too large: give a positive %s up to %d", v, what, math.MaxInt)
		}
		if err != nil || n <= 0 {
			return fmt.Errorf("%q is not a positive %s", v, what)
		}
		*field(c) = n
		return nil
	}
}

// maxDurationText is the longest duration Go reads, in hours.
var maxDurationText = fmt.Sprintf("%dh", int64(time.Duration(math.MaxInt64)/time.Hour))

// positiveDuration sets a duration field to a positive duration.
func positiveDuration(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%q is not a positive duration up to %s (30s, 5m, 168h)", v, maxDurationText)
		}
		*field(c) = d
		return nil
	}
}

// HelpOutput is implemented by a stderr that sends the usage answering a
// request for help (-h, --help) elsewhere: parley's stdout, so that
// `parley serve --help | less` shows it.
type HelpOutput interface{ HelpOutput() io.Writer }

// UsageOutput sends fs's errors to stderr and returns where its usage goes:
// stderr after an error (the flag package writes the error, then the
// usage), and, when stderr is a HelpOutput, its help output when nothing
// was written before: the usage is the answer to -h.
func UsageOutput(fs *flag.FlagSet, stderr io.Writer) func() io.Writer {
	w := &watchedWriter{w: stderr}
	fs.SetOutput(w)
	return func() io.Writer {
		if h, ok := stderr.(HelpOutput); ok && !w.wrote {
			return h.HelpOutput()
		}
		return stderr
	}
}

// watchedWriter remembers whether anything was written through it.
type watchedWriter struct {
	w     io.Writer
	wrote bool
}

func (w *watchedWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.w.Write(p)
}

// listFlag collects a repeatable flag's values.
type listFlag []string

func (m *listFlag) String() string     { return strings.Join(*m, ",") }
func (m *listFlag) Set(v string) error { *m = append(*m, v); return nil }

// ServeFlags builds the Config of `parley serve` in one pass over its
// settings: each takes its flag's value when the flag is given, else its
// environment variable's when set, else its default, and is checked by the
// same code whichever it is, the error naming the flag or the variable. A
// flag given replaces its variable, a repeatable flag's values included, and
// makes a bad value of that variable harmless. Usage and errors go to stderr.
func ServeFlags(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("parley serve", flag.ContinueOnError)
	usageOut := UsageOutput(fs, stderr)
	flagVals := make([]*string, len(settings))
	lists := make([]*listFlag, len(settings))
	for i, s := range settings {
		if s.list {
			lists[i] = new(listFlag)
			fs.Var(lists[i], s.flag, s.usage)
		} else {
			flagVals[i] = fs.String(s.flag, s.def, s.usage)
		}
	}
	fs.Usage = func() {
		stderr := usageOut()
		fmt.Fprintln(stderr, "Usage: parley serve [flags]\n\nEach flag replaces its environment variable; a variable set is shown as the value used.")
		for _, s := range settings {
			fmt.Fprintf(stderr, "  --%s %s\n    \t%s (%s", s.flag, s.kind, s.usage, s.env)
			switch v := getenv(s.env); {
			case v != "" && s.flag == "api-key":
				fmt.Fprint(stderr, " is set") // keys are secrets
			case v != "" && s.kind == "URL":
				fmt.Fprintf(stderr, "=%q", callout.NewRedactor(nil).URL(v)) // without its password
			case v != "":
				fmt.Fprintf(stderr, "=%q", v)
			case s.def != "":
				fmt.Fprintf(stderr, "; default %s", s.def)
			}
			fmt.Fprintln(stderr, ")")
		}
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var cfg Config
	var errs []error
	for i, s := range settings {
		switch {
		case given[s.flag] && s.list:
			errs = append(errs, s.read(&cfg, "--"+s.flag, *lists[i])...)
		case given[s.flag]:
			errs = append(errs, s.read(&cfg, "--"+s.flag, []string{*flagVals[i]})...)
		case getenv(s.env) != "":
			errs = append(errs, s.read(&cfg, s.env, []string{getenv(s.env)})...)
		case s.def != "":
			errs = append(errs, s.read(&cfg, "default", []string{s.def})...)
		}
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return cfg, nil
}

// checkAddr checks a listen address: host:port, the host maybe empty (every
// address) and the port a number from 0 (any free port) to 65535, so that a
// bad one is refused naming its flag or variable rather than when the
// server listens.
func checkAddr(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%q is not host:port (127.0.0.1:8080, :8080)", v)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", v, port)
	}
	return nil
}

// checkPublicURL checks a --public-url: empty (none), or an absolute http
// or https URL with a host and maybe a path, which Twilio's signed URLs and
// the TwiML URLs start with. A user name and password (https://u:p@host) are
// kept in the TwiML URLs, where Twilio takes them for HTTP basic auth, and
// left out of the URL a signature is checked against, as Twilio signs it.
func checkPublicURL(v string) error {
	if v == "" {
		return nil
	}
	// Errors quote the URL without its password, as webhook URLs are.
	shown := callout.NewRedactor(nil).URL(v)
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("%q is not an absolute http or https URL with a host (https://parley.example.com, with the path a proxy serves the server under, if any)", shown)
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(v, "?") || strings.HasSuffix(v, "#"):
		return fmt.Errorf("%q has a query or fragment: give the base URL the server's paths follow", shown)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("%q: port %q is not a number from 1 to 65535", shown, p)
		}
	}
	return nil
}

// ParseSchedule reads a retry schedule: delays before each attempt,
// comma-separated ("0s,5s,5m,30m,2h,5h,10h,10h").
func ParseSchedule(v string) ([]time.Duration, error) {
	var out []time.Duration
	for i, part := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		switch {
		case err != nil:
			return nil, fmt.Errorf("item %d %q is not a duration (0s, 5s, 5m, 2h)", i+1, part)
		case d < 0:
			return nil, fmt.Errorf("item %d %q is negative: a delay is 0s or more", i+1, part)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, errors.New("empty schedule")
	}
	return out, nil
}

func scheduleString(s []time.Duration) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
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
		// One problem a line, each naming the command.
		fmt.Fprintln(stderr, flows.EachNamed("parley serve", err))
		return 2
	}
	cfg.LogOutput = stderr
	// The first SIGINT or SIGTERM stops the server gracefully; a second
	// ends the wait for the turns in flight at once.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	now, done := make(chan struct{}), make(chan struct{})
	defer close(done)
	go func() {
		// Counted on sigs alone: the caller's ctx may end with the same
		// signal (parley's main is told of it too).
		for first := true; ; first = false {
			select {
			case <-sigs:
				if !first {
					close(now)
					return
				}
				cancel()
			case <-done:
				return
			}
		}
	}()
	if err := run(ctx, now, cfg); err != nil {
		// In the log's format, so that a collector reading JSON lines
		// takes in the error that ended the server too.
		if cfg.LogFormat == "json" {
			slog.New(slog.NewJSONHandler(stderr, nil)).Error("parley serve: " + err.Error())
		} else {
			fmt.Fprintln(stderr, "parley serve:", err)
		}
		return 1
	}
	return 0
}

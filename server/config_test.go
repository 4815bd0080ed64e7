package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine"
)

func TestServeFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{"defaults", nil, nil, func(t *testing.T, c Config) {
			if c.Addr != DefaultAddr || c.DataDir != DefaultDataDir || c.LogFormat != "text" || len(c.APIKeys) != 0 {
				t.Errorf("defaults: %+v", c)
			}
		}, ""},
		{"environment", nil, map[string]string{
			EnvAddr: "127.0.0.1:9000", EnvData: "/tmp/p", EnvAPIKeys: "aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb@10.0.0.0/8|192.168.1.1",
			EnvAllowCIDRs: "10.1.0.0/16", EnvSessionExpiry: "2h", EnvLogFormat: "json", EnvLogLevel: "debug",
		}, func(t *testing.T, c Config) {
			if c.Addr != "127.0.0.1:9000" || c.DataDir != "/tmp/p" || c.SessionExpiry != 2*time.Hour || c.LogFormat != "json" || c.LogLevel != "debug" {
				t.Errorf("from env: %+v", c)
			}
			if len(c.APIKeys) != 2 || len(c.APIKeys[1].Allow) != 2 || c.APIKeys[1].Allow[1] != netip.MustParsePrefix("192.168.1.1/32") {
				t.Errorf("keys: %+v", c.APIKeys)
			}
			if len(c.AllowCIDRs) != 1 {
				t.Errorf("allow cidrs: %v", c.AllowCIDRs)
			}
		}, ""},
		{"flags win", []string{"--addr", "127.0.0.1:7000", "--api-key", "cccccccccccccccc", "--allow-cidr", "10.2.0.0/16", "--turn-timeout", "5s", "--max-steps", "9", "--body-limit", "100"},
			map[string]string{EnvAddr: "127.0.0.1:9000"}, func(t *testing.T, c Config) {
				if c.Addr != "127.0.0.1:7000" || len(c.APIKeys) != 1 || c.TurnTimeout != 5*time.Second || c.MaxSteps != 9 || c.BodyLimit != 100 || len(c.AllowCIDRs) != 1 {
					t.Errorf("flags: %+v", c)
				}
			}, ""},
		{"session cache default", nil, nil, func(t *testing.T, c Config) {
			if c.SessionCache != DefaultSessionCache {
				t.Errorf("session cache %d, want %d", c.SessionCache, DefaultSessionCache)
			}
		}, ""},
		{"session cache off from env", nil, map[string]string{EnvSessionCache: "0"}, func(t *testing.T, c Config) {
			if c.SessionCache != -1 {
				t.Errorf("PARLEY_SESSION_CACHE=0: session cache %d, want -1 (none)", c.SessionCache)
			}
		}, ""},
		{"session cache off by flag", []string{"--session-cache", "0"}, map[string]string{EnvSessionCache: "50"}, func(t *testing.T, c Config) {
			if c.SessionCache != -1 {
				t.Errorf("--session-cache 0: session cache %d, want -1 (none)", c.SessionCache)
			}
		}, ""},
		{"session cache sized by env", nil, map[string]string{EnvSessionCache: "50"}, func(t *testing.T, c Config) {
			if c.SessionCache != 50 {
				t.Errorf("PARLEY_SESSION_CACHE=50: session cache %d", c.SessionCache)
			}
		}, ""},
		{"flow cache off by flag", []string{"--flow-cache", "0"}, map[string]string{EnvFlowCache: "50"}, func(t *testing.T, c Config) {
			if c.FlowCache != -1 {
				t.Errorf("--flow-cache 0: flow cache %d, want -1 (none)", c.FlowCache)
			}
		}, ""},
		{"flow cache sized by env", nil, map[string]string{EnvFlowCache: "50"}, func(t *testing.T, c Config) {
			if c.FlowCache != 50 {
				t.Errorf("PARLEY_FLOW_CACHE=50: flow cache %d", c.FlowCache)
			}
		}, ""},
		{"dedupe retention default", nil, nil, func(t *testing.T, c Config) {
			if c.DedupeRetention != DefaultDedupeRetention {
				t.Errorf("dedupe retention %s, want %s", c.DedupeRetention, DefaultDedupeRetention)
			}
		}, ""},
		{"dedupe retention from env, flag wins", []string{"--dedupe-retention", "36h"}, map[string]string{EnvDedupeRetention: "2h"}, func(t *testing.T, c Config) {
			if c.DedupeRetention != 36*time.Hour {
				t.Errorf("dedupe retention %s, want 36h", c.DedupeRetention)
			}
		}, ""},
		{"dedupe retention from env", nil, map[string]string{EnvDedupeRetention: "2h"}, func(t *testing.T, c Config) {
			if c.DedupeRetention != 2*time.Hour {
				t.Errorf("dedupe retention %s, want 2h", c.DedupeRetention)
			}
		}, ""},
		{"batch limit from env, flag wins", []string{"--batch-limit", "7"}, map[string]string{EnvBatchLimit: "3"}, func(t *testing.T, c Config) {
			if c.BatchLimit != 7 {
				t.Errorf("batch limit %d, want 7", c.BatchLimit)
			}
		}, ""},
		{"batch limit from env", nil, map[string]string{EnvBatchLimit: "3"}, func(t *testing.T, c Config) {
			if c.BatchLimit != 3 {
				t.Errorf("batch limit %d, want 3", c.BatchLimit)
			}
		}, ""},
		{"batch limit default", nil, nil, func(t *testing.T, c Config) {
			if c.BatchLimit != DefaultBatchLimit {
				t.Errorf("batch limit %d, want %d", c.BatchLimit, DefaultBatchLimit)
			}
		}, ""},
		{"session retention default: keep", nil, nil, func(t *testing.T, c Config) {
			if c.SessionRetention != 0 {
				t.Errorf("session retention %s, want 0 (keep)", c.SessionRetention)
			}
		}, ""},
		{"session retention from env, flag wins", []string{"--session-retention", "720h"}, map[string]string{EnvSessionRetention: "2h"}, func(t *testing.T, c Config) {
			if c.SessionRetention != 720*time.Hour {
				t.Errorf("session retention %s, want 720h", c.SessionRetention)
			}
		}, ""},
		{"session retention from env", nil, map[string]string{EnvSessionRetention: "2h"}, func(t *testing.T, c Config) {
			if c.SessionRetention != 2*time.Hour {
				t.Errorf("session retention %s, want 2h", c.SessionRetention)
			}
		}, ""},
		{"session retention 0 from env keeps", nil, map[string]string{EnvSessionRetention: "0"}, func(t *testing.T, c Config) {
			if c.SessionRetention != 0 {
				t.Errorf("session retention %s, want 0", c.SessionRetention)
			}
		}, ""},
		{"empty data flag", []string{"--data", ""}, map[string]string{EnvData: "/tmp/p"}, nil, "--data: empty: give the data directory"},
		{"empty data variable is unset", nil, map[string]string{EnvData: ""}, func(t *testing.T, c Config) {
			if c.DataDir != DefaultDataDir {
				t.Errorf("data %q, want the default %q", c.DataDir, DefaultDataDir)
			}
		}, ""},
		{"negative session retention", []string{"--session-retention", "-1h"}, nil, nil, "--session-retention"},
		{"bad env session retention", nil, map[string]string{EnvSessionRetention: "a month"}, nil, EnvSessionRetention},
		{"write probe interval default", nil, nil, func(t *testing.T, c Config) {
			if c.WriteProbeInterval != time.Second {
				t.Errorf("write probe interval %s, want 1s", c.WriteProbeInterval)
			}
		}, ""},
		{"write probe interval from env", nil, map[string]string{EnvWriteProbeInterval: "250ms"}, func(t *testing.T, c Config) {
			if c.WriteProbeInterval != 250*time.Millisecond {
				t.Errorf("write probe interval %s, want 250ms", c.WriteProbeInterval)
			}
		}, ""},
		{"write probe interval, flag wins", []string{"--write-probe-interval", "10s"}, map[string]string{EnvWriteProbeInterval: "0"}, func(t *testing.T, c Config) {
			if c.WriteProbeInterval != 10*time.Second {
				t.Errorf("write probe interval %s, want 10s", c.WriteProbeInterval)
			}
		}, ""},
		{"zero write probe interval", []string{"--write-probe-interval", "0"}, nil, nil, `--write-probe-interval: "0" is not a positive duration`},
		{"negative write probe interval", []string{"--write-probe-interval", "-1s"}, nil, nil, `--write-probe-interval: "-1s" is not a positive duration`},
		{"bad env write probe interval", nil, map[string]string{EnvWriteProbeInterval: "0s"}, nil, EnvWriteProbeInterval + `: "0s" is not a positive duration`},
		{"zero batch limit", []string{"--batch-limit", "0"}, nil, nil, "--batch-limit"},
		{"bad env batch limit", nil, map[string]string{EnvBatchLimit: "many"}, nil, EnvBatchLimit},
		{"zero dedupe retention", []string{"--dedupe-retention", "0s"}, nil, nil, "--dedupe-retention"},
		{"bad env dedupe retention", nil, map[string]string{EnvDedupeRetention: "forever"}, nil, EnvDedupeRetention},
		{"negative session cache", []string{"--session-cache", "-5"}, nil, nil, "--session-cache"},
		{"bad env session cache", nil, map[string]string{EnvSessionCache: "many"}, nil, EnvSessionCache},
		{"negative flow cache", []string{"--flow-cache", "-5"}, nil, nil, "--flow-cache"},
		{"short key", []string{"--api-key", "short"}, nil, nil, "too short"},
		{"bad cidr", []string{"--allow-cidr", "nope"}, nil, nil, "nope"},
		{"bad log format", []string{"--log-format", "xml"}, nil, nil, "xml"},
		{"bad log level", []string{"--log-level", "loud"}, nil, nil, "loud"},
		{"log level with an offset", []string{"--log-level", "warn+1"}, nil, nil, `--log-level: "warn+1" is not debug, info, warn or error`},
		{"env log level with an offset", nil, map[string]string{EnvLogLevel: "DEBUG-8"}, nil, EnvLogLevel + `: "DEBUG-8" is not debug, info, warn or error`},
		{"log level in capitals", []string{"--log-level", "WARN"}, nil, func(t *testing.T, c Config) {
			if c.LogLevel != "WARN" {
				t.Errorf("log level %q, want WARN", c.LogLevel)
			}
		}, ""},
		{"bad env duration", nil, map[string]string{EnvTurnTimeout: "soon"}, nil, EnvTurnTimeout},
		{"stray argument", []string{"extra"}, nil, nil, "unexpected"},
		{"api keys: the flag replaces the environment's", []string{"--api-key", "cccccccccccccccc"},
			map[string]string{EnvAPIKeys: "aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb"}, func(t *testing.T, c Config) {
				if len(c.APIKeys) != 1 || c.APIKeys[0].Key != "cccccccccccccccc" {
					t.Errorf("keys %+v, want only the flag's", c.APIKeys)
				}
			}, ""},
		{"allowed networks: the flag replaces the environment's", []string{"--allow-cidr", "10.2.0.0/16", "--allow-cidr", "10.3.0.0/16"},
			map[string]string{EnvAllowCIDRs: "10.1.0.0/16,0.0.0.0/0"}, func(t *testing.T, c Config) {
				want := []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16"), netip.MustParsePrefix("10.3.0.0/16")}
				if !slices.Equal(c.AllowCIDRs, want) {
					t.Errorf("allowed %v, want only the flags' %v", c.AllowCIDRs, want)
				}
			}, ""},
		{"bad env api key, flag given", []string{"--api-key", "cccccccccccccccc"}, map[string]string{EnvAPIKeys: "short"}, func(t *testing.T, c Config) {
			if len(c.APIKeys) != 1 {
				t.Errorf("keys %+v", c.APIKeys)
			}
		}, ""},
		{"bad env duration, flag given", []string{"--turn-timeout", "5s"}, map[string]string{EnvTurnTimeout: "soon"}, func(t *testing.T, c Config) {
			if c.TurnTimeout != 5*time.Second {
				t.Errorf("turn timeout %s, want 5s", c.TurnTimeout)
			}
		}, ""},
		{"bad env log level, flag given", []string{"--log-level", "debug"}, map[string]string{EnvLogLevel: "loud", EnvLogFormat: "xml"},
			nil, EnvLogFormat},
		{"bad env log level and format, flags given", []string{"--log-level", "debug", "--log-format", "json"},
			map[string]string{EnvLogLevel: "loud", EnvLogFormat: "xml"}, func(t *testing.T, c Config) {
				if c.LogLevel != "debug" || c.LogFormat != "json" {
					t.Errorf("log level %q format %q", c.LogLevel, c.LogFormat)
				}
			}, ""},
		{"bad env log level", nil, map[string]string{EnvLogLevel: "loud"}, nil, EnvLogLevel + `: "loud"`},
		{"bad env log format", nil, map[string]string{EnvLogFormat: "xml"}, nil, EnvLogFormat + `: "xml"`},
		{"zero body limit", []string{"--body-limit", "0"}, nil, nil, `--body-limit: "0" is not a positive number of bytes`},
		{"header limit", nil, map[string]string{EnvHeaderLimit: "16384"}, func(t *testing.T, c Config) {
			if c.HeaderLimit != 16384 {
				t.Errorf("header limit %d", c.HeaderLimit)
			}
		}, ""},
		{"zero header limit", []string{"--header-limit", "0"}, nil, nil, `--header-limit: "0" is not a positive number of bytes`},
		{"header limit too large", []string{"--header-limit", "2000000"}, nil, nil, `--header-limit: "2000000" is too large: give a positive number of bytes up to 1048576`},
		{"negative max steps", []string{"--max-steps", "-1"}, nil, nil, `--max-steps: "-1" is not a positive number of steps`},
		{"zero turn timeout", []string{"--turn-timeout", "0"}, nil, nil, `--turn-timeout: "0" is not a positive duration`},
		{"zero session expiry", []string{"--session-expiry", "0"}, map[string]string{EnvSessionExpiry: "2h"}, nil, `--session-expiry: "0" is not a positive duration`},
		{"negative webhook timeout", []string{"--webhook-timeout", "-1s"}, nil, nil, `--webhook-timeout: "-1s" is not a positive duration`},
		{"zero webhook max response", []string{"--webhook-max-response", "0"}, nil, nil, `--webhook-max-response: "0" is not a positive number of bytes`},
		{"zero delivery timeout", []string{"--delivery-timeout", "0s"}, nil, nil, `--delivery-timeout: "0s"`},
		{"zero delivery disable after", []string{"--delivery-disable-after", "0s"}, nil, nil, `--delivery-disable-after: "0s"`},
		{"zero delivery retention", []string{"--delivery-retention", "0s"}, nil, nil, `--delivery-retention: "0s"`},
		{"public URL not a URL", []string{"--public-url", "notaurl"}, nil, nil, `--public-url: "notaurl" is not an absolute http or https URL with a host`},
		{"public URL of another scheme", []string{"--public-url", "ftp://x"}, nil, nil, `--public-url: "ftp://x" is not an absolute http or https URL`},
		{"public URL without a host", []string{"--public-url", "https:///parley"}, nil, nil, `--public-url: "https:///parley" is not`},
		{"public URL with a query", []string{"--public-url", "https://example.com/p?x=1"}, nil, nil, `--public-url: "https://example.com/p?x=1" has a query`},
		{"bad env public URL", nil, map[string]string{EnvPublicURL: "example.com"}, nil, EnvPublicURL + `: "example.com" is not an absolute http or https URL`},
		{"bad env public URL, flag given", []string{"--public-url", "https://example.com/parley/"}, map[string]string{EnvPublicURL: "ftp://x"}, func(t *testing.T, c Config) {
			if c.PublicURL != "https://example.com/parley/" {
				t.Errorf("public URL %q", c.PublicURL)
			}
		}, ""},
		{"webhook max response over the maximum", []string{"--webhook-max-response", "16777217"}, nil, nil, `--webhook-max-response: "16777217" is over the maximum of 16777216 (16 MiB)`},
		{"webhook max response at the maximum", []string{"--webhook-max-response", "16777216"}, nil, func(t *testing.T, c Config) {
			if c.WebhookMaxResponse != 16<<20 {
				t.Errorf("webhook max response %d", c.WebhookMaxResponse)
			}
		}, ""},
		{"max value by env", nil, map[string]string{EnvMaxValue: "100"}, func(t *testing.T, c Config) {
			if c.MaxValue != 100 {
				t.Errorf("max value %d, want 100", c.MaxValue)
			}
		}, ""},
		{"zero max value", []string{"--max-value", "0"}, nil, nil, `--max-value: "0" is not a positive number of bytes`},
		{"max path default", nil, nil, func(t *testing.T, c Config) {
			if c.MaxPath != engine.DefaultMaxPath {
				t.Errorf("max path %d, want %d", c.MaxPath, engine.DefaultMaxPath)
			}
		}, ""},
		{"max path by env", nil, map[string]string{EnvMaxPath: "40"}, func(t *testing.T, c Config) {
			if c.MaxPath != 40 {
				t.Errorf("PARLEY_MAX_PATH=40: max path %d", c.MaxPath)
			}
		}, ""},
		{"max path from env, flag wins", []string{"--max-path", "7"}, map[string]string{EnvMaxPath: "nope"}, func(t *testing.T, c Config) {
			if c.MaxPath != 7 {
				t.Errorf("--max-path 7: max path %d", c.MaxPath)
			}
		}, ""},
		{"zero max path", []string{"--max-path", "0"}, nil, nil, `--max-path: "0" is not a positive number of steps`},
		{"max steps over the largest int", []string{"--max-steps", "99999999999999999999"}, nil, nil, `--max-steps: "99999999999999999999" is too large: give a positive number of steps up to 9223372036854775807`},
		{"response cap over the largest int", []string{"--webhook-max-response", "99999999999999999999999"}, nil, nil, `--webhook-max-response: "99999999999999999999999" is over the maximum of 16777216 (16 MiB)`},
		{"session cache over the largest int", []string{"--session-cache", "99999999999999999999"}, nil, nil, `--session-cache: "99999999999999999999" is too large: give a number of sessions up to`},
		{"minus a huge number", []string{"--max-steps", "-99999999999999999999"}, nil, nil, `--max-steps: "-99999999999999999999" is not a positive number of steps`},
		{"turn timeout over the longest duration", []string{"--turn-timeout", "9999999999h"}, nil, nil, `--turn-timeout: "9999999999h" is not a positive duration up to 2562047h (30s, 5m, 168h)`},
		{"bad env max path", nil, map[string]string{EnvMaxPath: "-5"}, nil, EnvMaxPath + `: "-5" is not a positive number of steps`},
		{"empty webhooks flag is no file", []string{"--webhooks", ""}, map[string]string{EnvWebhooks: "/nonexistent.json"}, func(t *testing.T, c Config) {
			if c.WebhooksFile != "" {
				t.Errorf("webhooks file %q, want none", c.WebhooksFile)
			}
		}, ""},
		{"flag not a number", []string{"--body-limit", "1MB"}, nil, nil, `--body-limit: "1MB" is not a positive number of bytes`},
		{"flag not a duration", []string{"--turn-timeout", "soon"}, nil, nil, `--turn-timeout: "soon" is not a positive duration`},
		{"env checked as its flag", nil, map[string]string{EnvTurnTimeout: "soon"}, nil, `PARLEY_TURN_TIMEOUT: "soon" is not a positive duration`},
		{"comma-separated api keys by flag", []string{"--api-key", "aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb"}, nil, func(t *testing.T, c Config) {
			if len(c.APIKeys) != 2 || c.APIKeys[1].Key != "bbbbbbbbbbbbbbbb" {
				t.Errorf("keys %+v", c.APIKeys)
			}
		}, ""},
		{"every bad value told", []string{"--max-steps", "x", "--allow-cidr", "nope,10.0.0.0/8,also-nope"}, map[string]string{EnvBodyLimit: "-3"}, nil,
			`PARLEY_BODY_LIMIT: "-3" is not a positive number of bytes` + "\n" + `--max-steps: "x" is not a positive number of steps` + "\n" +
				`--allow-cidr: "nope" is neither a CIDR (10.0.0.0/8, fd00::/8) nor an IP address` + "\n" + `--allow-cidr: "also-nope" is neither`},
		{"api key network out of range", []string{"--api-key", "aaaaaaaaaaaaaaaa@10.0.0.0/33"}, nil, nil,
			`--api-key: api key aaaa...: allowed network "10.0.0.0/33" is neither a CIDR (10.0.0.0/8, fd00::/8) nor an IP address`},
		{"api key without a network after @", []string{"--api-key", "aaaaaaaaaaaaaaaa@"}, nil, nil,
			`--api-key: api key aaaa...: allowed network "" is neither a CIDR (10.0.0.0/8, fd00::/8) nor an IP address`},
		{"env api key network", nil, map[string]string{EnvAPIKeys: "aaaaaaaaaaaaaaaa@10.0.0.0/8|nope"}, nil,
			EnvAPIKeys + `: api key aaaa...: allowed network "nope" is neither a CIDR (10.0.0.0/8, fd00::/8) nor an IP address`},
		{"addr without a port", []string{"--addr", "nonsense"}, nil, nil, `--addr: "nonsense" is not host:port (127.0.0.1:8080, :8080)`},
		{"bad env addr", nil, map[string]string{EnvAddr: "nonsense"}, nil, EnvAddr + `: "nonsense" is not host:port`},
		{"env addr port out of range", nil, map[string]string{EnvAddr: "127.0.0.1:99999"}, nil, EnvAddr + `: "127.0.0.1:99999": port "99999" is not a number from 0 to 65535`},
		{"addr port not a number", []string{"--addr", "127.0.0.1:http"}, nil, nil, `--addr: "127.0.0.1:http": port "http" is not a number`},
		{"addr port 0 and no host", []string{"--addr", ":0"}, nil, func(t *testing.T, c Config) {
			if c.Addr != ":0" {
				t.Errorf("addr %q, want :0", c.Addr)
			}
		}, ""},
		{"bad env addr, flag given", []string{"--addr", "[::1]:65535"}, map[string]string{EnvAddr: "nonsense"}, func(t *testing.T, c Config) {
			if c.Addr != "[::1]:65535" {
				t.Errorf("addr %q", c.Addr)
			}
		}, ""},
		{"public URL password not shown", []string{"--public-url", "https://u:secretpw@example.com:99999"}, nil, nil, `--public-url: "https://u:[redacted]@example.com:99999": port "99999" is not`},
		{"public URL password not shown, query", nil, map[string]string{EnvPublicURL: "https://u:secretpw@example.com/p?x=1"}, nil, EnvPublicURL + `: "https://u:[redacted]@example.com/p?x=1" has a query`},
		{"public URL password not shown, scheme", []string{"--public-url", "ftp://u:secretpw@example.com"}, nil, nil, `--public-url: "ftp://u:[redacted]@example.com" is not an absolute`},
		// Without "://" url.Parse finds no user, but the password is hidden all the same.
		{"public URL password not shown, no scheme", []string{"--public-url", "u:secretpw@example.com"}, nil, nil, `--public-url: "u:[redacted]@example.com" is not an absolute`},
		{"public URL password not shown, one slash", nil, map[string]string{EnvPublicURL: "https:/u:secretpw@example.com"}, nil, EnvPublicURL + `: "https:[redacted]@example.com" is not an absolute`},
		{"public URL port out of range", []string{"--public-url", "https://example.com:99999"}, nil, nil, `--public-url: "https://example.com:99999": port "99999" is not a number from 1 to 65535`},
		{"public URL port 0", nil, map[string]string{EnvPublicURL: "http://example.com:0/p"}, nil, EnvPublicURL + `: "http://example.com:0/p": port "0" is not`},
		{"public URL with a port", []string{"--public-url", "https://example.com:8443/parley"}, nil, func(t *testing.T, c Config) {
			if c.PublicURL != "https://example.com:8443/parley" {
				t.Errorf("public URL %q", c.PublicURL)
			}
		}, ""},
		{"env webhooks file missing", nil, map[string]string{EnvWebhooks: "/nonexistent/hooks.json"}, nil,
			EnvWebhooks + `: webhooks file /nonexistent/hooks.json: no such file or directory`},
		{"webhooks file missing", []string{"--webhooks", "/nonexistent/hooks.json"}, nil, nil,
			`--webhooks: webhooks file /nonexistent/hooks.json: no such file or directory`},
		{"bad env and bad flag, both told", []string{"--session-expiry", "0"}, map[string]string{EnvLogLevel: "loud"}, nil, EnvLogLevel + `: "loud" is not debug, info, warn or error` + "\n--session-expiry: \"0\" is not a positive duration"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cfg, err := ServeFlags(c.args, env(c.env), &stderr)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, cfg)
		})
	}
}

// The help lists every setting with its variable, shows a variable's value
// as the one used, and never shows API keys.
func TestServeHelp(t *testing.T) {
	env := map[string]string{EnvTurnTimeout: "5s", EnvAPIKeys: "aaaaaaaaaaaaaaaa-secret", EnvPublicURL: "user:secretpw@x.example.com"}
	var stderr bytes.Buffer
	if _, err := ServeFlags([]string{"--help"}, func(k string) string { return env[k] }, &stderr); err == nil {
		t.Fatal("--help: no flag.ErrHelp")
	}
	help := stderr.String()
	for _, s := range settings {
		if !strings.Contains(help, "--"+s.flag+" "+s.kind+"\n") || !strings.Contains(help, "("+s.env) {
			t.Errorf("help lacks --%s or %s:\n%s", s.flag, s.env, help)
		}
	}
	for _, want := range []string{`(PARLEY_TURN_TIMEOUT="5s")`, "(PARLEY_API_KEYS is set)", "(PARLEY_BODY_LIMIT; default 1048576)",
		`(PARLEY_PUBLIC_URL="user:[redacted]@x.example.com")`} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %s:\n%s", want, help)
		}
	}
	if strings.Contains(help, "secret") {
		t.Errorf("help shows an API key or a password:\n%s", help)
	}
}

func TestMainUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"--help"}, &out, &errOut); code != 0 {
		t.Errorf("--help exit %d", code)
	}
	if !strings.Contains(errOut.String(), "-addr") {
		t.Errorf("--help does not list --addr: %s", errOut.String())
	}
	errOut.Reset()
	if code := Main(context.Background(), []string{"--nope"}, &out, &errOut); code != 2 {
		t.Errorf("unknown flag exit %d, want 2", code)
	}
	errOut.Reset()
	// Refused before anything is opened: a public address and no key.
	if code := Main(context.Background(), []string{"--addr", "0.0.0.0:0", "--data", t.TempDir()}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "without API keys") {
		t.Errorf("public address without keys: exit %d: %s", code, errOut.String())
	}
}

// Which requests are logged at each level: successful ones only at debug,
// client errors from info, each line with its request id.
func TestRequestLog(t *testing.T) {
	cases := []struct {
		level     string
		path      string
		wantLine  bool
		wantLevel string
	}{
		{"info", "/healthz", false, ""},
		{"info", "/v1/nope", true, "INFO"},
		{"debug", "/healthz", true, "DEBUG"},
		{"warn", "/v1/nope", false, ""},
	}
	for _, c := range cases {
		t.Run(c.level+" "+c.path, func(t *testing.T) {
			var out bytes.Buffer
			ts := newTestServer(t, func(cfg *Config) {
				cfg.Logger, cfg.LogLevel, cfg.LogOutput = nil, c.level, &syncWriter{w: &out}
			})
			r := ts.do("GET", c.path, nil, "X-Request-Id", "rid-42")
			var line string
			for l := range strings.Lines(ts.srvLogs(&out)) {
				if strings.Contains(l, "msg=request") {
					line = l
				}
			}
			if (line != "") != c.wantLine {
				t.Fatalf("status %d: request line %q, want one: %v", r.Status, line, c.wantLine)
			}
			if c.wantLine && (!strings.Contains(line, "level="+c.wantLevel) || !strings.Contains(line, "request_id=rid-42")) {
				t.Errorf("request line %q, want level %s and request_id=rid-42", line, c.wantLevel)
			}
		})
	}
}

// syncWriter lets the test read what the server's logger writes.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (ts *testServer) srvLogs(b *bytes.Buffer) string {
	w := ts.srv.cfg.LogOutput.(*syncWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return b.String()
}

// A store file that cannot be opened stops the server with one line naming
// the file and what is wrong, each part said once.
func TestMainStoreErrors(t *testing.T) {
	corrupt := t.TempDir()
	if err := os.WriteFile(filepath.Join(corrupt, DBFile), bytes.Repeat([]byte{1}, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	notFile := t.TempDir()
	if err := os.Mkdir(filepath.Join(notFile, DBFile), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dir, want string }{
		{corrupt, "parley serve: store file " + filepath.Join(corrupt, DBFile) + " is corrupt or truncated: "},
		{notFile, "parley serve: open store " + filepath.Join(notFile, DBFile) + ": "},
	} {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), []string{"--data", c.dir, "--addr", "127.0.0.1:0"}, &out, &errOut)
		if code != 1 || !strings.HasPrefix(errOut.String(), c.want) || strings.Count(errOut.String(), "open store") > 1 {
			t.Errorf("exit %d, stderr %q, want 1 and a line starting %q", code, errOut.String(), c.want)
		}
	}
}

// A webhooks file that does not pass its checks is refused with the flag or
// variable that named it, before the server opens anything; a good one is
// kept.
func TestServeFlagsWebhooksFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(bad, []byte(`{"webhooks":[{"name":"a"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte(`{"webhooks":[{"name":"a","url":"https://example.com"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvWebhooks: bad}
	_, err := ServeFlags(nil, func(k string) string { return env[k] }, io.Discard)
	if want := EnvWebhooks + `: webhooks file ` + bad + `: webhooks[0] "a": url: required`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	cfg, err := ServeFlags([]string{"--webhooks", good}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || cfg.WebhooksFile != good {
		t.Errorf("--webhooks %s over a bad %s: %v, file %q", good, EnvWebhooks, err, cfg.WebhooksFile)
	}
	// A file of JSON null is no list of webhooks: refused, not read as none.
	null := filepath.Join(dir, "null.json")
	if err := os.WriteFile(null, []byte("null\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = ServeFlags([]string{"--webhooks", null}, func(string) string { return "" }, io.Discard)
	if want := `--webhooks: webhooks file ` + null + `: $: expected a JSON object, got JSON null: the file holds {"webhooks": [...]} or an array of webhooks ({"webhooks": []} or [] for none)`; err == nil || err.Error() != want {
		t.Errorf("--webhooks %s: %v, want %s", null, err, want)
	}
}

// Settings refused by the settings table stop `parley serve` with exit 2
// and the name of the flag or variable, before the store is opened.
func TestMainBadAddr(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--addr", "nonsense"}, "", `parley serve: --addr: "nonsense" is not host:port`},
		{nil, "127.0.0.1:99999", `parley serve: PARLEY_ADDR: "127.0.0.1:99999": port "99999" is not a number from 0 to 65535`},
	} {
		if c.env != "" {
			t.Setenv(EnvAddr, c.env)
		}
		dir := t.TempDir()
		var out, errOut bytes.Buffer
		if code := Main(context.Background(), append(c.args, "--data", dir), &out, &errOut); code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v %s: exit %d: %s", c.args, c.env, code, errOut.String())
		}
		if _, err := os.Stat(filepath.Join(dir, DBFile)); err == nil {
			t.Errorf("%v %s: the store was created", c.args, c.env)
		}
	}
}

// An empty --data is refused, exit 2, naming the flag, rather than making
// and seeding a store in ./parley-data.
func TestMainEmptyData(t *testing.T) {
	t.Chdir(t.TempDir())
	var out, errOut bytes.Buffer
	// A server that starts stops when ctx ends.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	code := Main(ctx, []string{"--data", "", "--addr", "127.0.0.1:0"}, &out, &errOut)
	if want := "parley serve: --data: empty: give the data directory (./parley-data by default, when the flag and PARLEY_DATA are left out)\n"; code != 2 || errOut.String() != want {
		t.Errorf("--data \"\": exit %d: %q, want exit 2: %q", code, errOut.String(), want)
	}
	if _, err := os.Stat(DefaultDataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--data \"\" made %s (%v)", DefaultDataDir, err)
	}
}

// The webhooks file is read once: the server starts with what ServeFlags
// read and checked, even if the file changes or goes in between.
func TestWebhooksFileReadOnce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "webhooks.json")
	if err := os.WriteFile(file, []byte(`{"webhooks":[{"name":"orders","url":"https://api.example.com/orders"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := ServeFlags([]string{"--webhooks", file, "--data", t.TempDir()}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New after the file went: %v", err)
	}
	defer srv.Shutdown(context.Background())
	if _, src, ok := srv.hooks.get("orders"); !ok || src != "file" {
		t.Errorf("webhook orders: found %v, source %q; want it from the file", ok, src)
	}
}

// TestSettingsDocumented: every flag of parley serve and its variable are
// in docs/api.md: in the synopsis, the table, and the list of variables.
func TestSettingsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		for _, want := range []string{"[--" + s.flag, "| `--" + s.flag + "` |", "`" + s.env + "`"} {
			if !strings.Contains(string(doc), want) {
				t.Errorf("docs/api.md has no %s", want)
			}
		}
	}
}

// A webhooks file with several problems is refused with each problem on a
// line of its own naming the flag and the file, not only the first.
func TestServeFlagsWebhooksFileEveryLineNamed(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"webhooks":[{"name":"a"},{"name":"b","url":"ftp://x"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	if code := Main(context.Background(), []string{"--webhooks", bad}, io.Discard, &stderr); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	want := `parley serve: --webhooks: webhooks file ` + bad + `: webhooks[0] "a": url: required` + "\n" +
		`parley serve: --webhooks: webhooks file ` + bad + `: webhooks[1] "b": url: "ftp://x" must start with http:// or https://` + "\n"
	if stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), want)
	}
}

// A webhooks file that gives a header twice, or in two spellings of one
// name, does not start the server: each is named with the flag, the file,
// the webhook and the header, so an operator upgrading from a version that
// sent one of the two in silence is told what to change.
func TestServeFlagsWebhooksFileHeaderGivenTwice(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hooks.json")
	if err := os.WriteFile(file, []byte(`{"webhooks":[
 {"name":"crm","url":"https://crm.example.com/","headers":{"Authorization":"Bearer one","Authorization":"Bearer two"}},
 {"name":"erp","url":"https://erp.example.com/","headers":{"X-Api-Key":"one","x-api-key":"two"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	if code := Main(context.Background(), []string{"--webhooks", file}, io.Discard, &stderr); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	want := `parley serve: --webhooks: webhooks file ` + file + `: webhooks[0].headers.Authorization: the name "Authorization" is given twice in its object; give each name once` + "\n"
	if stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), want)
	}
	if err := os.WriteFile(file, []byte(`{"webhooks":[
 {"name":"erp","url":"https://erp.example.com/","headers":{"X-Api-Key":"one","x-api-key":"two"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := Main(context.Background(), []string{"--webhooks", file}, io.Discard, &stderr); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	want = `parley serve: --webhooks: webhooks file ` + file + `: webhooks[0] "erp": headers.x-api-key: names the same header as "X-Api-Key" (header names are the same in any case): give it once` + "\n"
	if stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), want)
	}
}

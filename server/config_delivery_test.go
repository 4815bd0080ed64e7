package server

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDeliveryFlags(t *testing.T) {
	env := map[string]string{EnvDeliveryTimeout: "20s", EnvDeliverySchedule: "0s,1m,1h"}
	getenv := func(k string) string { return env[k] }

	cfg, err := ServeFlags(nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Delivery.Timeout != 20*time.Second || !reflect.DeepEqual(cfg.Delivery.Schedule, []time.Duration{0, time.Minute, time.Hour}) {
		t.Errorf("from the environment: %+v", cfg.Delivery)
	}
	if cfg.Delivery.Retention != 30*24*time.Hour || cfg.Delivery.DisableAfter != 5*24*time.Hour || cfg.Delivery.PerEndpoint != 8 {
		t.Errorf("defaults: %+v", cfg.Delivery)
	}

	cfg, err = ServeFlags([]string{"--delivery-timeout", "3s", "--delivery-schedule", "0s,10s", "--delivery-retention", "48h",
		"--delivery-disable-after", "24h", "--delivery-per-endpoint", "2"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Delivery
	if d.Timeout != 3*time.Second || len(d.Schedule) != 2 || d.Retention != 48*time.Hour || d.DisableAfter != 24*time.Hour || d.PerEndpoint != 2 {
		t.Errorf("flags win over the environment: %+v", d)
	}

	cfg, err = ServeFlags([]string{"--webhook-timeout", "4s", "--webhook-max-response", "1024"}, getenv, io.Discard)
	if err != nil || cfg.WebhookTimeout != 4*time.Second || cfg.WebhookMaxResponse != 1024 {
		t.Errorf("webhook defaults: %v %v %v", err, cfg.WebhookTimeout, cfg.WebhookMaxResponse)
	}

	for _, bad := range [][]string{
		{"--delivery-schedule", "0s,soon"},
		{"--delivery-per-endpoint", "0"},
	} {
		if _, err := ServeFlags(bad, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(bad[0], "")) {
			t.Errorf("%v: error %v should name the flag", bad, err)
		}
	}
	for _, tt := range []struct{ value, want string }{
		{"-5s", `--delivery-schedule: item 1 "-5s" is negative: a delay is 0s or more`},
		{"0s,5s,-1m", `--delivery-schedule: item 3 "-1m" is negative: a delay is 0s or more`},
		{"0s,soon", `--delivery-schedule: item 2 "soon" is not a duration (0s, 5s, 5m, 2h)`},
	} {
		_, err := ServeFlags([]string{"--delivery-schedule", tt.value}, func(string) string { return "" }, io.Discard)
		if err == nil || err.Error() != tt.want {
			t.Errorf("--delivery-schedule %s: error %v, want %s", tt.value, err, tt.want)
		}
	}
	if _, err := ConfigFromEnv(func(k string) string {
		if k == EnvDeliverySchedule {
			return "-5s"
		}
		return ""
	}); err == nil || !strings.Contains(err.Error(), EnvDeliverySchedule) {
		t.Errorf("bad schedule in the environment: %v", err)
	}
}

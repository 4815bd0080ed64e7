package delivery

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// Health is an endpoint's delivery state.
type Health struct {
	EndpointID          string     `json:"endpoint_id"`
	Disabled            bool       `json:"disabled"`
	DisabledReason      string     `json:"disabled_reason,omitempty"`
	LastSuccess         *time.Time `json:"last_success,omitempty"`
	LastFailure         *time.Time `json:"last_failure,omitempty"`
	FailingSince        *time.Time `json:"failing_since,omitempty"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	// LastDisabledAt is when the endpoint was last disabled (kept after it
	// is enabled again); RecoverSince is the time to recover from to resend
	// every delivery that disable ended and every event it missed.
	LastDisabledAt *time.Time `json:"last_disabled_at,omitempty"`
	RecoverSince   *time.Time `json:"recover_since,omitempty"`
	// Pending counts deliveries waiting for an attempt.
	Pending int `json:"pending"`
	// OldestPending is the oldest undelivered event; Lag is how long ago it happened.
	OldestPending *PendingEvent `json:"oldest_pending,omitempty"`
	LagSeconds    float64       `json:"lag_seconds"`
}

// PendingEvent names an undelivered event.
type PendingEvent struct {
	DeliveryID string    `json:"delivery_id"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	EventTime  time.Time `json:"event_time"`
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Health reports an endpoint's last success, consecutive failures and its
// oldest undelivered event.
func (s *Service) Health(ctx context.Context, endpointID string) (*Health, error) {
	sub := s.sub(endpointID)
	if sub == nil {
		return nil, fmt.Errorf("subscription %q: %w", endpointID, ErrNotFound)
	}
	h := &Health{EndpointID: endpointID, Disabled: sub.Disabled, DisabledReason: sub.DisabledReason}
	err := s.db.View(func(tx *bbolt.Tx) error {
		st := s.state(tx, map[string]*endpointState{}, endpointID)
		h.LastSuccess, h.LastFailure, h.FailingSince = tp(st.LastSuccess), tp(st.LastFailure), tp(st.FailingSince)
		h.ConsecutiveFailures = st.ConsecutiveFailures
		h.LastDisabledAt, h.RecoverSince = tp(st.LastDisabledAt), tp(st.RecoverSince)
		// The due values hold each delivery's event time, so the walk
		// reads the endpoint's range of the schedule alone and looks up
		// only the oldest delivery (and any written before layout 9).
		prefix := endpointPrefix(endpointID)
		var oldest []byte
		var oldestTime time.Time
		c := tx.Bucket(bDue).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(k) < len(prefix)+8 {
				continue // not a due key; never written by this package
			}
			h.Pending++
			id := k[len(prefix)+8:]
			_, t, ok := parseDueValue(v)
			if !ok {
				d, err := getDelivery(tx, string(id))
				if err != nil {
					return err
				}
				if d == nil {
					continue
				}
				t = d.EventTime
			}
			if oldest == nil || t.Before(oldestTime) {
				oldest, oldestTime = id, t
			}
		}
		if oldest == nil {
			return nil
		}
		d, err := getDelivery(tx, string(oldest))
		if err != nil {
			return err
		}
		if d != nil {
			h.OldestPending = &PendingEvent{DeliveryID: d.ID, EventID: d.EventID, EventType: d.EventType, EventTime: d.EventTime}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if h.OldestPending != nil {
		h.LagSeconds = s.opts.Now().Sub(h.OldestPending.EventTime).Seconds()
	}
	return h, nil
}

// Stats are the dispatcher's counters since New.
type Stats struct {
	// Deliveries by final outcome: succeeded, failed, disabled.
	Deliveries map[string]uint64 `json:"deliveries"`
	// Attempts by outcome: success, failure, timeout, error, blocked.
	Attempts map[string]uint64 `json:"attempts"`
	// OutboxDepth is the number of events not yet fanned out; Pending the
	// deliveries waiting for an attempt.
	OutboxDepth int `json:"outbox_depth"`
	Pending     int `json:"pending"`
	// Lag percentiles (event time to successful delivery) over the last
	// 4096 successes.
	LagP50 time.Duration `json:"lag_p50"`
	LagP90 time.Duration `json:"lag_p90"`
	LagP99 time.Duration `json:"lag_p99"`
}

const lagWindow = 4096

type metrics struct {
	s          *Service
	deliveries *prometheus.CounterVec
	attempts   *prometheus.CounterVec
	lag        prometheus.Histogram
	outbox     prometheus.GaugeFunc
	pending    prometheus.GaugeFunc
	failing    prometheus.GaugeFunc
	disabled   prometheus.GaugeFunc

	mu        sync.Mutex
	byOutcome map[string]uint64
	byAttempt map[string]uint64
	lags      []time.Duration // ring
	lagNext   int
}

func newMetrics(s *Service) *metrics {
	m := &metrics{
		s: s,
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_webhook_deliveries_total", Help: "Webhook deliveries by final outcome.",
		}, []string{"outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_webhook_attempts_total", Help: "Webhook delivery attempts by outcome.",
		}, []string{"outcome"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_webhook_delivery_lag_seconds",
			Help:    "Time from an event to its successful delivery.",
			Buckets: []float64{.01, .05, .1, .5, 1, 5, 30, 60, 300, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600},
		}),
		byOutcome: map[string]uint64{},
		byAttempt: map[string]uint64{},
	}
	// Every outcome is there from the start at 0, so that rate() and
	// increase() count the first delivery or attempt of each.
	for _, o := range []string{StatusSucceeded, StatusFailed, StatusDisabled} {
		m.deliveries.WithLabelValues(o)
	}
	for _, o := range []string{flows.OutcomeSuccess, flows.OutcomeFailure, flows.OutcomeTimeout, flows.OutcomeError, flows.OutcomeBlocked} {
		m.attempts.WithLabelValues(o)
	}
	m.outbox = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "parley_webhook_outbox_depth", Help: "Events waiting in the outbox.",
	}, func() float64 { return float64(s.counter(store.CounterOutbox)) })
	m.pending = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "parley_webhook_pending_deliveries", Help: "Deliveries waiting for an attempt.",
	}, func() float64 { return float64(s.counter(store.CounterPendingDeliveries)) })
	// Counts, without a label per endpoint: subscriptions are made through
	// the API, as many as its callers make, and the health of each is
	// GET /v1/webhooks/{id}/health.
	m.failing = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "parley_webhook_endpoints_failing", Help: "Enabled event webhook endpoints whose last delivery attempt failed.",
	}, func() float64 { return float64(s.failingCount()) })
	m.disabled = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "parley_webhook_endpoints_disabled", Help: "Event webhook endpoints disabled, by their failures or by their owner.",
	}, func() float64 { return float64(s.disabledCount()) })
	return m
}

// healthChange is one attempt's result for its endpoint.
type healthChange struct {
	id     string
	ok     bool
	status int
	err    string
}

// failingSet is the set of endpoints whose last attempt failed.
type failingSet struct {
	mu  sync.Mutex
	ids map[string]bool
}

// set marks id failing or not and reports whether that changed it.
func (f *failingSet) set(id string, failing bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ids[id] == failing {
		return false
	}
	if !failing {
		delete(f.ids, id)
		return true
	}
	if f.ids == nil {
		f.ids = map[string]bool{}
	}
	f.ids[id] = true
	return true
}

// forget drops id: a disabled endpoint is counted as such, and once
// enabled again its first failure is logged anew.
func (f *failingSet) forget(id string) {
	f.mu.Lock()
	delete(f.ids, id)
	f.mu.Unlock()
}

// healthChanged logs the endpoints that begin to fail (their first failed
// attempt after a success, or since the server started) and those that
// deliver again: a line per change, none per attempt.
func (s *Service) healthChanged(changes []healthChange) {
	for _, c := range changes {
		if !s.failing.set(c.id, !c.ok) {
			continue
		}
		sub := s.sub(c.id)
		host := ""
		if sub != nil {
			host = urlHost(sub.URL)
		}
		if c.ok {
			s.log.Info("webhook endpoint delivering again", "subscription", c.id, "url", host)
			continue
		}
		attrs := []any{"subscription", c.id, "url", host}
		if c.status > 0 {
			attrs = append(attrs, "status", c.status)
		}
		if c.err != "" {
			attrs = append(attrs, "err", withoutURLPaths(c.err))
		}
		s.log.Warn("webhook endpoint failing", attrs...)
	}
}

// failingCount is how many enabled endpoints are failing.
func (s *Service) failingCount() int {
	s.failing.mu.Lock()
	ids := make([]string, 0, len(s.failing.ids))
	for id := range s.failing.ids {
		ids = append(ids, id)
	}
	s.failing.mu.Unlock()
	n := 0
	for _, id := range ids {
		if sub := s.sub(id); sub != nil && !sub.Disabled {
			n++
		}
	}
	return n
}

// disabledCount is how many endpoints are disabled.
func (s *Service) disabledCount() int {
	s.subMu.RLock()
	defer s.subMu.RUnlock()
	n := 0
	for _, sub := range s.subs {
		if sub.Disabled {
			n++
		}
	}
	return n
}

// urlHost is an endpoint URL's scheme, host and port, without its user,
// path and query, which may hold secrets.
// quotedURL is a URL quoted in an error's text, as net/http's errors
// quote the URL they were sending to (Post "https://...": ...).
var quotedURL = regexp.MustCompile(`"https?://[^"\s]*"`)

// withoutURLPaths is an error's text for the log, with each URL it quotes
// cut to its scheme, host and port (urlHost): a receiver's URL path and
// query may be its secret.
func withoutURLPaths(text string) string {
	return quotedURL.ReplaceAllStringFunc(text, func(q string) string {
		if h := urlHost(q[1 : len(q)-1]); h != "" {
			return strconv.Quote(h)
		}
		return `"[url]"`
	})
}

func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func (s *Service) empty(bucket []byte) bool {
	empty := true
	_ = s.db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucket); b != nil {
			k, _ := b.Cursor().First()
			empty = k == nil
		}
		return nil
	})
	return empty
}

// counter reads one of the store's counters of the outbox and the due
// index: a key, whatever the number of records, for every scrape.
func (s *Service) counter(name string) int {
	var n int64
	_ = s.db.View(func(tx *bbolt.Tx) error {
		n = store.ReadCounter(tx, name)
		return nil
	})
	return int(n)
}

func (m *metrics) record(fx *commitEffects) {
	for _, o := range fx.outcomes {
		m.deliveries.WithLabelValues(o).Inc()
	}
	for _, o := range fx.attempts {
		m.attempts.WithLabelValues(o).Inc()
	}
	for _, l := range fx.lags {
		m.lag.Observe(l.Seconds())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range fx.outcomes {
		m.byOutcome[o]++
	}
	for _, o := range fx.attempts {
		m.byAttempt[o]++
	}
	for _, l := range fx.lags {
		if len(m.lags) < lagWindow {
			m.lags = append(m.lags, l)
		} else {
			m.lags[m.lagNext] = l
			m.lagNext = (m.lagNext + 1) % lagWindow
		}
	}
}

// Collectors returns the Prometheus collectors of this Service, for the
// binary to register.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.m.deliveries, s.m.attempts, s.m.lag, s.m.outbox, s.m.pending, s.m.failing, s.m.disabled}
}

// Stats returns the counters as plain values.
func (s *Service) Stats() Stats {
	m := s.m
	m.mu.Lock()
	st := Stats{Deliveries: map[string]uint64{}, Attempts: map[string]uint64{}}
	for k, v := range m.byOutcome {
		st.Deliveries[k] = v
	}
	for k, v := range m.byAttempt {
		st.Attempts[k] = v
	}
	lags := slices.Clone(m.lags)
	m.mu.Unlock()
	if len(lags) > 0 {
		slices.Sort(lags)
		pick := func(p float64) time.Duration { return lags[min(len(lags)-1, int(p*float64(len(lags))))] }
		st.LagP50, st.LagP90, st.LagP99 = pick(.5), pick(.9), pick(.99)
	}
	st.OutboxDepth = s.counter(store.CounterOutbox)
	st.Pending = s.counter(store.CounterPendingDeliveries)
	return st
}

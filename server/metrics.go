package server

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// metrics are the server's Prometheus series. Each Server has its own
// registry, so tests and embedded servers do not collide.
type metrics struct {
	reg      *prometheus.Registry
	started  prometheus.Counter
	ended    *prometheus.CounterVec
	turns    *prometheus.HistogramVec
	webhooks *prometheus.CounterVec
	commit   prometheus.Histogram
	requests *prometheus.CounterVec
	backups  *prometheus.CounterVec

	// The children of the vectors above that turns and requests use, kept
	// so that counting does not hash and look up labels every time.
	requestsBy children[routeStatus, prometheus.Counter]
	turnsBy    children[string, prometheus.Observer]
	endedBy    children[flows.Status, prometheus.Counter]
	webhooksBy children[string, prometheus.Counter]
}

type routeStatus struct {
	route  string
	status int
}

// maxChildren bounds each children cache; past it, lookups go to the vector.
// Labels are routes, status codes and a few fixed values, so it is not
// reached in practice.
const maxChildren = 1024

// children remembers a metric vector's children by their label values.
type children[K comparable, M any] struct {
	mu sync.RWMutex
	m  map[K]M
}

func (c *children[K, M]) get(k K, lookup func() M) M {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return v
	}
	v = lookup()
	c.mu.Lock()
	if c.m == nil {
		c.m = map[K]M{}
	}
	if len(c.m) < maxChildren {
		c.m[k] = v
	}
	c.mu.Unlock()
	return v
}

// request counts one answered request.
func (m *metrics) request(route string, status int) {
	m.requestsBy.get(routeStatus{route, status}, func() prometheus.Counter {
		return m.requests.WithLabelValues(route, strconv.Itoa(status))
	}).Inc()
}

func newMetrics(st store.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		started: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_sessions_started_total", Help: "Sessions started by this process.",
		}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_sessions_ended_total", Help: "Sessions ended in this process, by final status (completed, expired, interrupted, failed).",
		}, []string{"status"}),
		turns: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "parley_turn_duration_seconds", Help: "Time the engine spent on one turn (webhook calls included), by kind.",
			Buckets: decimalBuckets(0.0001, 4, 10),
		}, []string{"kind"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_webhook_calls_total", Help: "Webhook widget calls, by outcome (success, failure, timeout, error, blocked, too_large).",
		}, []string{"outcome"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_store_commit_seconds", Help: "Time to write one turn, waiting for its group commit included.",
			Buckets: decimalBuckets(0.0001, 3, 12),
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_http_requests_total", Help: "HTTP requests, by route and status code.",
		}, []string{"route", "code"}),
		backups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_backups_total", Help: "Copies of the store sent by GET /v1/backup, by result (ok, failed: the client went away or took none of the copy for --backup-stall-timeout, or a shutdown ended it).",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.started, m.ended, m.turns, m.webhooks, m.commit, m.requests, m.backups, newSessionsCollector(st),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every value of the labels alerts are written on is there from the
	// start at 0, so that rate() and increase() count their first event.
	for _, st := range []flows.Status{flows.StatusCompleted, flows.StatusExpired, flows.StatusFailed, flows.StatusInterrupted} {
		m.ended.WithLabelValues(string(st))
	}
	for _, o := range []string{flows.OutcomeSuccess, flows.OutcomeFailure, flows.OutcomeTimeout, flows.OutcomeError, flows.OutcomeBlocked, flows.OutcomeTooBig} {
		m.webhooks.WithLabelValues(o)
	}
	if b, ok := st.(*store.Bolt); ok {
		m.reg.MustRegister(newBoltCollector(b))
		for _, result := range []string{"ok", "failed"} {
			m.backups.WithLabelValues(result)
		}
	}
	return m
}

// boltCollector reports the bbolt store's group commits and file: what an
// operator needs to see whether the disk or the committer bounds turns, and
// when the file holds enough free pages to be worth `parley compact`. A
// scrape reads the store's figures once.
type boltCollector struct {
	b                                   *store.Bolt
	commits, writes, phase, pages, wsec *prometheus.Desc
	failed                              *prometheus.Desc
	size, free                          *prometheus.Desc
}

func newBoltCollector(b *store.Bolt) *boltCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &boltCollector{
		b:       b,
		commits: d("parley_store_commits_total", "Group commits (one bbolt transaction, synced, each)."),
		failed: d("parley_store_commit_failures_total", "Commits of the store (group commits and one-off writes) that failed writing the file, "+
			"a full disk for one: their writes were not made."),
		writes: d("parley_store_grouped_writes_total", "Writes committed in groups: turns and event delivery's writes."),
		phase: d("parley_store_committer_seconds_total", "Time the store's committer spent, by phase: waiting for bbolt's writer lock, "+
			"applying the group's writes, committing (spilling pages, writing and syncing them).", "phase"),
		pages: d("parley_store_pages_written_total", "Pages bbolt wrote (meta pages included)."),
		wsec:  d("parley_store_write_seconds_total", "Time bbolt spent writing pages and syncing the file."),
		size:  d("parley_store_file_bytes", "Size of the store file."),
		free:  d("parley_store_free_bytes", "Bytes of the store file in free pages, reused by later writes and given back by parley compact."),
	}
}

func (c *boltCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.commits, c.failed, c.writes, c.phase, c.pages, c.wsec, c.size, c.free} {
		ch <- d
	}
}

func (c *boltCollector) Collect(ch chan<- prometheus.Metric) {
	cs, fs := c.b.CommitStats(), c.b.FileStats()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	counter(c.commits, float64(cs.Commits))
	counter(c.failed, float64(cs.Failed))
	counter(c.writes, float64(cs.Turns))
	counter(c.phase, cs.LockWait.Seconds(), "lock_wait")
	counter(c.phase, cs.Apply.Seconds(), "apply")
	counter(c.phase, cs.Commit.Seconds(), "commit")
	counter(c.pages, float64(fs.PagesWritten))
	counter(c.wsec, fs.WriteTime.Seconds())
	ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(fs.Size))
	ch <- prometheus.MustNewConstMetric(c.free, prometheus.GaugeValue, float64(fs.FreeBytes))
}

// sessionsCollector reports the store's session counters, read once per
// scrape: completed (those the session retention and contacts' erasures
// deleted included, so the counter never goes down), waiting, and pruned
// and erased by final status.
type sessionsCollector struct {
	st                                 store.Store
	completed, waiting, pruned, erased *prometheus.Desc
}

func newSessionsCollector(st store.Store) *sessionsCollector {
	return &sessionsCollector{
		st: st,
		completed: prometheus.NewDesc("parley_sessions_completed_total",
			"Sessions that reached the end of their flow (stored count, those deleted by --session-retention or with their contact included; survives restarts).", nil, nil),
		waiting: prometheus.NewDesc("parley_sessions_waiting", "Sessions waiting for input now.", nil, nil),
		pruned: prometheus.NewDesc("parley_sessions_pruned_total",
			"Ended sessions deleted with their events by --session-retention, by final status (stored count, survives restarts).", []string{"status"}, nil),
		erased: prometheus.NewDesc("parley_sessions_erased_total",
			"Ended sessions deleted with their contact (DELETE /v1/contacts/{urn}), by final status (stored count, survives restarts).", []string{"status"}, nil),
	}
}

func (c *sessionsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.completed
	ch <- c.waiting
	ch <- c.pruned
	ch <- c.erased
}

// Collect reports nothing when the store cannot be read, rather than zeros
// that would look like a counter reset.
func (c *sessionsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stats, err := c.st.Stats(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.completed, prometheus.CounterValue,
		float64(stats.Sessions[flows.StatusCompleted]+stats.Pruned[flows.StatusCompleted]+stats.Deleted[flows.StatusCompleted]))
	ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(stats.Sessions[flows.StatusWaiting]))
	for _, status := range []flows.Status{flows.StatusCompleted, flows.StatusExpired, flows.StatusFailed, flows.StatusInterrupted} {
		ch <- prometheus.MustNewConstMetric(c.pruned, prometheus.CounterValue, float64(stats.Pruned[status]), string(status))
		ch <- prometheus.MustNewConstMetric(c.erased, prometheus.CounterValue, float64(stats.Deleted[status]), string(status))
	}
}

// backup counts one backup by its result.
func (m *metrics) backup(result string) { m.backups.WithLabelValues(result).Inc() }

func (m *metrics) turn(kind string, d time.Duration) {
	m.turnsBy.get(kind, func() prometheus.Observer { return m.turns.WithLabelValues(kind) }).Observe(d.Seconds())
}

// observeEvents counts what a committed turn did.
func (m *metrics) observeEvents(sess *flows.Session, events []flows.Event) {
	for _, ev := range events {
		switch ev.Type {
		case flows.EventWebhookCalled:
			outcome := ev.Outcome
			if outcome == "" {
				outcome = "unknown"
			}
			m.webhooksBy.get(outcome, func() prometheus.Counter { return m.webhooks.WithLabelValues(outcome) }).Inc()
		case flows.EventSessionEnded:
			st := ev.SessionStatus
			m.endedBy.get(st, func() prometheus.Counter { return m.ended.WithLabelValues(string(st)) }).Inc()
		}
	}
}

// decimalBuckets is prometheus.ExponentialBuckets with each bound the
// float nearest to its exact decimal: multiplied out, 0.0001 × 3 is
// 0.00030000000000000003, which /metrics would print as the le label.
func decimalBuckets(start, factor float64, n int) []float64 {
	b := prometheus.ExponentialBuckets(start, factor, n)
	for i, v := range b {
		b[i], _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	}
	return b
}

package delivery

import (
	"context"
	"log/slog"

	"math/rand/v2"
	"net/netip"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/callout"
)

// DefaultSchedule is the delay before each attempt, counted from the previous
// failure: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. A delivery
// gets len(Schedule) attempts in all, about 27.6 hours.
var DefaultSchedule = []time.Duration{
	0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// Options configure a Service. Zero values take the documented defaults.
type Options struct {
	// Now is the clock (default time.Now). Every stored time and every retry
	// decision uses it, so tests drive the schedule by moving it.
	Now func() time.Time
	// Rand returns a number in [0,1) for jitter (default math/rand/v2).
	Rand func() float64
	// Logger receives operational logs (default slog.Default()).
	Logger *slog.Logger

	// Schedule is the retry schedule (default DefaultSchedule).
	Schedule []time.Duration
	// Jitter spreads each retry delay uniformly within ±Jitter of itself
	// (default 0.1, i.e. ±10%; negative disables). The first, immediate
	// attempt is never delayed.
	Jitter float64
	// MaxRetryAfter caps a receiver's Retry-After (default 24 h).
	MaxRetryAfter time.Duration
	// Timeout for one request, token fetch excluded (default 15 s).
	Timeout time.Duration
	// PerEndpoint is the most requests in flight to one subscription (default 8).
	PerEndpoint int
	// Workers is the most requests in flight overall (default 512).
	Workers int
	// MaxInFlight is the most deliveries taken from the schedule and not yet
	// recorded (default 16384).
	MaxInFlight int
	// DisableAfter disables an endpoint that has failed with no success for
	// this long (default 5 days).
	DisableAfter time.Duration
	// Retention is how long deliveries and attempts are kept (default 30 days).
	Retention time.Duration
	// PollInterval is how often the outbox and schedule are checked without a
	// Notify (default 1 s).
	PollInterval time.Duration
	// PruneInterval is how often old deliveries are pruned (default 1 min).
	// Each prune deletes what fell out of the retention since the last, in
	// transactions of BatchSize deliveries; pruning often keeps each short
	// and lets later writes reuse the pages it frees before their list,
	// which every commit writes, grows long.
	PruneInterval time.Duration
	// MaxResponseBytes of a response body kept in the log (default 64 KiB).
	MaxResponseBytes int
	// MaxResponseHeaderBytes caps a response's status line and headers
	// (default callout.DefaultMaxResponseHeaders, 64 KiB): an answer over
	// it fails the attempt, and none of it is kept.
	MaxResponseHeaderBytes int
	// BatchSize is the most outbox records, and the most results, written per
	// transaction (default 1000).
	BatchSize int
	// WriteInterval is the least time between two of the dispatcher's write
	// transactions (each fans out the outbox and records results), unless a
	// batch was full (default 20 ms). The database has one writer: fewer, larger
	// transactions leave it to the turns' commits more of the time, for a
	// few more milliseconds of delivery lag.
	WriteInterval time.Duration
	// Update, when set, runs every write transaction of the service (the
	// dispatcher's fan-out and results, and the writes of subscriptions,
	// retries, recovers and Enqueue) instead of the database's own Update:
	// the server passes its store's group commit, so those writes share the
	// turns' transactions and fsyncs instead of waiting for the writer lock
	// between them, and a full disk is told apart and counted as for any
	// write. fn may run more than once (a group that fails is run again
	// without the failing write); the service's transactions allow it.
	Update func(fn func(*bbolt.Tx) error) error

	// AllowedCIDRs are destinations allowed although the address guard denies
	// them by default (private, loopback, link-local ranges). Empty allows
	// only public addresses.
	AllowedCIDRs []netip.Prefix
	// UserAgent sent with every request (default "Parley-Webhooks/1").
	UserAgent string
	// FlowExists, when set, reports whether a flow id names a stored flow:
	// Create and Update refuse a subscription whose flows name one that
	// does not, except, on Update, an id the stored subscription already
	// names (a flow deleted since must not block a PUT of it as it is).
	FlowExists func(ctx context.Context, id string) (bool, error)
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if len(o.Schedule) == 0 {
		o.Schedule = DefaultSchedule
	}
	if o.Jitter == 0 {
		o.Jitter = 0.1
	}
	if o.Jitter < 0 {
		o.Jitter = 0
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 24 * time.Hour
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.PerEndpoint <= 0 {
		o.PerEndpoint = 8
	}
	if o.Workers <= 0 {
		o.Workers = 512
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 16384
	}
	if o.DisableAfter <= 0 {
		o.DisableAfter = 5 * 24 * time.Hour
	}
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.PruneInterval <= 0 {
		o.PruneInterval = time.Minute
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 64 << 10
	}
	if o.MaxResponseHeaderBytes <= 0 {
		o.MaxResponseHeaderBytes = callout.DefaultMaxResponseHeaders
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.WriteInterval <= 0 {
		o.WriteInterval = 20 * time.Millisecond
	}
	if o.UserAgent == "" {
		o.UserAgent = "Parley-Webhooks/1"
	}
	return o
}

// retryDelay is the delay before attempt number next (1-based; next ≥ 2),
// jittered within ±Jitter. ok is false when the schedule is exhausted.
func (o *Options) retryDelay(next int) (d time.Duration, ok bool) {
	if next < 1 || next > len(o.Schedule) {
		return 0, false
	}
	base := o.Schedule[next-1]
	if base <= 0 || o.Jitter == 0 {
		return base, true
	}
	f := 1 + o.Jitter*(2*o.Rand()-1)
	return time.Duration(float64(base) * f), true
}

package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/delivery"
	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/widgets"
)

// Defaults of Config.
const (
	DefaultAddr      = "127.0.0.1:8080"
	DefaultDataDir   = "./parley-data"
	DefaultBodyLimit = 1 << 20
	// DefaultHeaderLimit caps a request's line and headers together, in
	// bytes: fasthttp's read buffer, which they must fit in.
	DefaultHeaderLimit = 4096
	// MaxHeaderLimit is the largest HeaderLimit: each connection holds a
	// buffer of that size.
	MaxHeaderLimit = 1 << 20
	// DefaultBatchLimit is the most messages one batch request carries.
	DefaultBatchLimit = 100
	// DefaultSessionCache is how many waiting sessions stay decoded in memory.
	DefaultSessionCache = 10_000
	// DefaultFlowCache is how many compiled flow revisions, besides each
	// flow's current one, stay in memory.
	DefaultFlowCache     = 256
	DefaultSessionExpiry = 7 * 24 * time.Hour
	// DefaultDedupeRetention is how long inbound message ids are remembered.
	DefaultDedupeRetention = 7 * 24 * time.Hour
	// DefaultCallTimeoutGrace is how long after a call's wait should have
	// timed out, its prompts spoken, the server times it out itself.
	DefaultCallTimeoutGrace = 15 * time.Second
	// DefaultBackupStall is how long a backup's client may go without
	// taking any of the copy before the backup is ended.
	DefaultBackupStall   = 10 * time.Second
	DefaultTimerInterval = time.Second
	// DBFile is the store's file name inside the data directory.
	DBFile = "parley.db"
)

// Config is everything a Server needs. The zero value plus a data directory
// is a working loopback-only server.
type Config struct {
	// Addr is host:port to listen on (DefaultAddr when empty).
	Addr string
	// DataDir holds the store file (DefaultDataDir when empty).
	DataDir string
	// Logger receives all logs; when nil one is built from LogFormat and LogOutput.
	Logger    *slog.Logger
	LogFormat string // "text" (default) or "json"
	// LogLevel is the least level logged: "debug", "info" (default), "warn"
	// or "error". Requests that succeed quickly are logged at debug level.
	LogLevel  string
	LogOutput interface{ Write([]byte) (int, error) }
	// BodyLimit caps request bodies in bytes (413 above it).
	BodyLimit int
	// HeaderLimit caps a request's line and headers together in bytes
	// (431 above it; DefaultHeaderLimit when 0, at most MaxHeaderLimit).
	HeaderLimit int
	// BatchLimit is the most messages POST /v1/channels/{id}/messages/batch
	// takes in one request (DefaultBatchLimit when 0).
	BatchLimit int
	// MaxAttachments is the most attachments an inbound message carries
	// (flows.DefaultMaxAttachments when 0); MaxAttachmentLength the longest
	// one in bytes (flows.DefaultMaxAttachmentLength when 0).
	MaxAttachments, MaxAttachmentLength int
	// MaxSteps is the engine's widget budget per turn.
	MaxSteps int
	// MaxValue is the largest value in bytes a template or an expression
	// makes (engine.DefaultMaxValueBytes when 0).
	MaxValue int
	// MaxExprBytes and MaxExprItems are the budgets of one evaluation of an
	// expression (engine.DefaultMaxExprBytes and DefaultMaxExprItems when 0).
	MaxExprBytes, MaxExprItems int
	// MaxPath is how many of its latest steps a session's path keeps
	// (engine.DefaultMaxPath when 0).
	MaxPath int
	// SessionCache is how many waiting sessions are kept decoded in memory
	// after their turn, so a conversation's next message skips decoding its
	// session (0: DefaultSessionCache; negative: none).
	SessionCache int
	// FlowCache is how many compiled flow revisions other than each flow's
	// current one are kept in memory, least recently used dropped first
	// (0: DefaultFlowCache; negative: none).
	FlowCache int
	// TurnTimeout bounds one turn, webhook calls included.
	TurnTimeout time.Duration
	// SessionExpiry ends sessions that wait this long without input, unless
	// the flow they wait in (a subflow's, inside one) sets expire_minutes.
	SessionExpiry time.Duration
	// DedupeRetention is how long an inbound message's id is remembered: a
	// message with an id seen on its channel within this time is answered
	// with the first reply instead of being processed again.
	DedupeRetention time.Duration
	// CallTimeoutGrace is how long after a call's wait should have timed
	// out (its timeout counted from when its prompts have been spoken) the
	// server times it out itself (DefaultCallTimeoutGrace when zero).
	CallTimeoutGrace time.Duration
	// BackupStall is how long GET /v1/backup waits for its client to take
	// the next part of the copy before it ends the backup and its read
	// transaction (DefaultBackupStall when zero): while that transaction is
	// open, a commit that needs the store file mapped larger waits for it.
	BackupStall time.Duration
	// SessionRetention, when positive, is how long an ended session
	// (completed, expired, failed, interrupted) is kept after it ended: then
	// it is deleted with its events. Zero keeps ended sessions.
	SessionRetention time.Duration
	// WriteProbeInterval is how often, while the store's writes fail, a
	// turn is let through to find out whether they succeed again, and the
	// Retry-After of the turns refused meanwhile
	// (store.DefaultWriteProbeInterval when 0).
	WriteProbeInterval time.Duration
	// WebhookTimeout and WebhookMaxResponse are the webhook widget's defaults
	// for calls whose webhook sets none (0: callout's 10 s and 256 KiB).
	WebhookTimeout     time.Duration
	WebhookMaxResponse int
	// WebhookMaxRequest caps the body a webhook widget sends (0:
	// callout.DefaultMaxRequestBytes, 1 MiB).
	WebhookMaxRequest int
	// WebhookMaxHeaders caps the status line and headers of every answer
	// to a webhook call, a token request or an event delivery (0:
	// callout.DefaultMaxResponseHeaders, 64 KiB).
	WebhookMaxHeaders int
	// Delivery tunes event delivery (retry schedule, timeout, per-endpoint
	// concurrency, disabling, retention); zero fields take delivery's defaults.
	// The server sets its clock, logger and allowed CIDRs.
	Delivery delivery.Options
	// AllowCIDRs are webhook destinations allowed despite the address guard.
	AllowCIDRs []netip.Prefix
	// APIKeys guard /v1. Keys created through /v1/keys are added to them.
	APIKeys []APIKey
	// WebhooksFile is a JSON file of named webhook configurations.
	WebhooksFile string
	// webhooksRead is WebhooksFile as ServeFlags read it when it checked it,
	// so that the server does not read the file a second time.
	webhooksRead map[string]*flows.WebhookConfig
	// PublicURL is the server's external base URL (https://parley.example.com),
	// used to check Twilio signatures behind a proxy and as the base of the
	// URLs in TwiML. Empty: the request's own.
	PublicURL string
	// Examples is where first start loads */flow.json from; nil means the
	// examples built into the binary (package examples).
	Examples fs.FS
	// TimerInterval is how often due timers are scanned.
	TimerInterval time.Duration

	// Registry is the widget types flows may use (widgets.Registered() when nil).
	Registry *flows.Registry
	// Store replaces the bbolt store opened in DataDir (tests).
	Store store.Store
	// Webhooks replaces the webhook client built from AllowCIDRs and WebhooksFile.
	Webhooks flows.WebhookService
	// Importers convert other flow formats (RapidPro exports) on POST /v1/flows.
	Importers []Importer
	// Now is the clock (time.Now when nil); the server reads it in UTC.
	Now func() time.Time
}

// Importer converts a flow document of another format into Parley flows.
// POST /v1/flows offers each body to the importers before reading it as a
// Parley flow.
type Importer interface {
	// Detect reports whether data is in the importer's format.
	Detect(data []byte) bool
	// Convert returns the Parley flows in data and a report for the caller.
	Convert(data []byte) (*Imported, error)
}

// Imported is what an Importer produced: Parley flow documents, and a report
// (shown as is in the API answer) of what did not convert or runs differently.
type Imported struct {
	Flows  [][]byte
	Report any
	// Failed says, one line each, why each flow left out did not convert
	// (`flow "Reg" did not import: flows[0]: ...`).
	Failed []string
}

func (c *Config) withDefaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.BodyLimit <= 0 {
		c.BodyLimit = DefaultBodyLimit
	}
	if c.HeaderLimit <= 0 {
		c.HeaderLimit = DefaultHeaderLimit
	}
	if c.BatchLimit <= 0 {
		c.BatchLimit = DefaultBatchLimit
	}
	if c.MaxAttachments <= 0 {
		c.MaxAttachments = flows.DefaultMaxAttachments
	}
	if c.MaxAttachmentLength <= 0 {
		c.MaxAttachmentLength = flows.DefaultMaxAttachmentLength
	}
	if c.MaxSteps <= 0 {
		c.MaxSteps = engine.DefaultMaxSteps
	}
	if c.MaxValue <= 0 {
		c.MaxValue = engine.DefaultMaxValueBytes
	}
	if c.MaxPath <= 0 {
		c.MaxPath = engine.DefaultMaxPath
	}
	if c.MaxExprBytes <= 0 {
		c.MaxExprBytes = engine.DefaultMaxExprBytes
	}
	if c.MaxExprItems <= 0 {
		c.MaxExprItems = engine.DefaultMaxExprItems
	}
	if c.SessionCache == 0 {
		c.SessionCache = DefaultSessionCache
	}
	if c.FlowCache == 0 {
		c.FlowCache = DefaultFlowCache
	}
	if c.TurnTimeout <= 0 {
		c.TurnTimeout = engine.DefaultTurnTimeout
	}
	if c.SessionExpiry <= 0 {
		c.SessionExpiry = DefaultSessionExpiry
	}
	if c.DedupeRetention <= 0 {
		c.DedupeRetention = DefaultDedupeRetention
	}
	if c.CallTimeoutGrace <= 0 {
		c.CallTimeoutGrace = DefaultCallTimeoutGrace
	}
	if c.BackupStall <= 0 {
		c.BackupStall = DefaultBackupStall
	}
	if c.TimerInterval <= 0 {
		c.TimerInterval = DefaultTimerInterval
	}
	if c.WriteProbeInterval <= 0 {
		c.WriteProbeInterval = store.DefaultWriteProbeInterval
	}
	if c.Importers == nil {
		c.Importers = []Importer{RapidProImporter{}}
	}
	if c.Registry == nil {
		c.Registry = widgets.Registered()
	}
	// The clock gives UTC whatever the server's TZ, as the engine's does
	// (now in a flow): every time it stamps, a call's start ($call.start),
	// a session's expiry, reads the same in flows and answers on any
	// machine.
	now := c.Now
	if now == nil {
		now = time.Now
	}
	c.Now = func() time.Time { return now().UTC() }
	if c.LogOutput == nil {
		c.LogOutput = os.Stderr
	}
	if c.Logger == nil {
		var level slog.Level // info; ServeFlags has checked LogLevel
		_ = level.UnmarshalText([]byte(c.LogLevel))
		opts := &slog.HandlerOptions{Level: level}
		if c.LogFormat == "json" {
			c.Logger = slog.New(slog.NewJSONHandler(c.LogOutput, opts))
		} else {
			c.Logger = slog.New(slog.NewTextHandler(c.LogOutput, opts))
		}
	}
}

// Server is Parley's HTTP server.
type Server struct {
	cfg Config
	// publicName is the host name of cfg.PublicURL, "" without one.
	publicName string
	app        *fiber.App
	// routeTable finds the route of a request refused before its handler.
	routeTable routeTable
	// declaredOps are the /v1 operations with the query parameters each
	// declares: one it does not, or one given twice, is refused.
	declaredOps declaredOps
	svc         *Service
	store       store.Store
	eng         *engine.Engine
	log         *slog.Logger
	keys        *keyring
	metrics     *metrics
	// hooks are the configured outgoing webhooks (webhook_configs.go);
	// webhooks is the service webhook widgets call.
	hooks    *webhookConfigs
	webhooks flows.WebhookService
	// guard is the webhook client's address guard, told the listen address
	// so that flows cannot call the server itself; nil when Config.Webhooks
	// is not a *callout.Service.
	guard *callout.Guard
	// simMocks are the webhook mocks of simulated sessions (simulator.go).
	simMocks *sandboxMocks
	// deliv sends lifecycle events to subscriptions; nil when the store is
	// not the bbolt one (delivery keeps its state in the same database).
	deliv       *delivery.Service
	delivCancel context.CancelFunc

	flowMu sync.Mutex // serializes flow creation, so two POSTs of one id make one flow

	// timersStop ends the timer scanner and pruning; timersAbort cancels
	// the timer turns in flight, once the shutdown's grace has run out.
	timersStop, timersAbort context.CancelFunc
	timersDone              chan struct{}

	// backups are the copies of the store under way (backup.go).
	backups backupRuns

	addrMu       sync.Mutex
	addr         net.Addr
	unused       unusedConns
	running      atomic.Int64 // requests between their first byte and their answer
	shutdownOnce sync.Once
	shutdownErr  error
}

// New opens the store, seeds it on first start, wires the engine and builds
// the routes. It starts the timer scanner; Listen starts serving.
func New(cfg Config) (*Server, error) {
	cfg.withDefaults()
	ctx := context.Background()
	s := &Server{cfg: cfg, log: cfg.Logger, publicName: publicHostName(cfg.PublicURL)}

	st := cfg.Store
	if st == nil {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
		}
		path := filepath.Join(cfg.DataDir, DBFile)
		// A map with room to grow: a backup's read transaction would
		// otherwise make commits wait whenever the file outgrows it.
		b, err := store.Open(path, store.Options{Logger: cfg.Logger, Now: cfg.Now, InitialMmapSize: store.ServingMmapSize(path),
			WriteProbeInterval: cfg.WriteProbeInterval})
		if err != nil {
			return nil, err // it names the file
		}
		st = b
	}
	s.store = st
	ok := false
	defer func() {
		if !ok {
			_ = st.Close()
		}
	}()

	// The start-up reads (keys, channels, the seed, the scan of stored
	// flows) are the first to reach most pages of the file: a damaged page
	// is told as Open tells one, naming the file, not with a panic.
	checked := func(fn func() error) error { return fn() }
	if b, isBolt := st.(*store.Bolt); isBolt {
		checked = b.Checked
	}
	if err := checked(func() error { return s.load(ctx, cfg, st) }); err != nil {
		return nil, err
	}
	s.app = s.routes()
	s.routeTable = newRouteTable(s.app)

	if s.deliv != nil {
		dctx, cancel := context.WithCancel(context.Background())
		s.delivCancel = cancel
		if err := s.deliv.Start(dctx); err != nil {
			cancel()
			return nil, err
		}
	}
	// Stopping the scanner does not cancel the turn it is running: like a
	// request's, a timer's turn finishes within the shutdown's grace.
	tctx, stop := context.WithCancel(context.Background())
	turns, abort := context.WithCancel(context.Background())
	s.timersStop, s.timersAbort, s.timersDone = stop, abort, make(chan struct{})
	go func() {
		defer close(s.timersDone)
		var wg sync.WaitGroup
		wg.Go(func() { s.svc.runTimers(tctx, turns, cfg.TimerInterval) })
		wg.Go(func() { s.svc.runPruning(tctx, cfg.TimerInterval) })
		wg.Wait()
	}()
	ok = true
	return s, nil
}

// load reads what the server keeps from the store and wires the services
// on it: keys, webhooks, the engine, channels, delivery, the seed, and the
// scan of stored flows.
func (s *Server) load(ctx context.Context, cfg Config, st store.Store) error {
	keys, err := newKeyring(ctx, st, cfg.APIKeys)
	if err != nil {
		return err
	}
	s.keys = keys
	if !keys.configured() {
		if err := checkLoopback(cfg.Addr); err != nil {
			return err
		}
	}

	s.metrics = newMetrics(st)
	fc := newFlowCache(st, cfg.FlowCache)
	wh, err := s.webhookService(cfg)
	if err != nil {
		return err
	}
	s.webhooks = wh
	if s.simMocks, err = newSandboxMocks(st, cfg.Logger); err != nil {
		return err
	}
	s.eng = engine.New(mockingRegistry(cfg.Registry, s.simMocks),
		engine.WithServices(services{wh}), engine.WithFlows(fc), engine.WithClock(cfg.Now),
		engine.WithMaxSteps(cfg.MaxSteps), engine.WithMaxValueBytes(cfg.MaxValue), engine.WithMaxPath(cfg.MaxPath),
		engine.WithMaxExprBytes(cfg.MaxExprBytes), engine.WithMaxExprItems(cfg.MaxExprItems),
		engine.WithTurnTimeout(cfg.TurnTimeout))
	fc.eng = s.eng

	chans, err := loadChannels(ctx, st, cfg.Logger)
	if err != nil {
		return err
	}
	s.svc = &Service{
		store: st, eng: s.eng, flows: fc, channels: chans, locks: newKeyedMutex(), calls: newKeyedMutex(),
		log: cfg.Logger, metrics: s.metrics, now: cfg.Now, expiry: cfg.SessionExpiry,
		dedupeRetention:  cfg.DedupeRetention,
		maxAttachments:   cfg.MaxAttachments,
		maxAttachmentLen: cfg.MaxAttachmentLength,
		callTimeoutGrace: cfg.CallTimeoutGrace,
		sessionRetention: cfg.SessionRetention,
		cache:            newSessionCache(cfg.SessionCache),
		timers:           newTimerRunner(),
	}
	if g, ok := st.(writeGate); ok {
		s.svc.gate = g
	}
	s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "parley_timers_behind_seconds",
		Help: "How long the oldest due timer (a wait's timeout, an expiry) that the latest timer scan could not start, " +
			"every turn slot taken or its contact busy, has been due; 0 when the scan started every due timer.",
	}, func() float64 { return s.svc.timersLag().Seconds() }))
	s.svc.sandboxEnded = s.simMocks.remove
	if b, isBolt := st.(*store.Bolt); isBolt {
		opts := deliveryOptions(cfg)
		// Delivery's writes join the turns' group commits.
		opts.Update = func(fn func(*bbolt.Tx) error) error { return b.Group(context.Background(), fn) }
		opts.FlowExists = fc.exists
		d, err := delivery.New(b.DB(), opts)
		if err != nil {
			return err
		}
		s.deliv = d
		s.svc.notify = d.Notify
		s.svc.wanted = d.Wants
		s.metrics.reg.MustRegister(d.Collectors()...)
	}
	if err := s.seed(ctx); err != nil {
		return err
	}
	if err := fc.warnStored(ctx, cfg.Logger); err != nil {
		return err
	}
	return nil
}

// App returns the fiber app (for in-process tests with app.Test).
func (s *Server) App() *fiber.App { return s.app }

// Service returns the turn service the handlers call.
func (s *Server) Service() *Service { return s.svc }

// Addr returns the address the server listens on, once Listen has bound it.
func (s *Server) Addr() net.Addr {
	s.addrMu.Lock()
	defer s.addrMu.Unlock()
	return s.addr
}

// Listen binds the configured address and serves until Shutdown. Without API
// keys only loopback connections are served.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ln)
}

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.addrMu.Lock()
	s.addr = ln.Addr()
	s.addrMu.Unlock()
	if ta, ok := ln.Addr().(*net.TCPAddr); ok {
		if s.guard != nil {
			s.guard.RefuseOwn(ta.AddrPort())
		}
		if s.deliv != nil {
			s.deliv.RefuseOwn(ta.AddrPort())
		}
	}
	if s.keys.configured() {
		s.log.Info("parley listening", "addr", ln.Addr().String(), "auth", "api keys", "gomaxprocs", runtime.GOMAXPROCS(0))
	} else {
		if err := checkLoopback(ln.Addr().String()); err != nil {
			_ = ln.Close()
			return err
		}
		if s.cfg.PublicURL != "" {
			// A tunnel or proxy to the public URL connects from loopback.
			s.log.Warn("parley listening without API keys: only loopback connections are accepted, and through --public-url "+
				"only the Twilio webhooks of channels with an auth_token and /healthz are served; /v1 and the simulator there need API keys: set --api-key or PARLEY_API_KEYS",
				"addr", ln.Addr().String(), "public_url", withoutUserInfo(s.cfg.PublicURL), "gomaxprocs", runtime.GOMAXPROCS(0))
		} else {
			s.log.Warn("parley listening without API keys: only loopback connections are accepted; set --api-key or PARLEY_API_KEYS to serve other addresses",
				"addr", ln.Addr().String(), "gomaxprocs", runtime.GOMAXPROCS(0))
		}
		ln = loopbackOnly{ln}
	}
	ln, ok := s.unused.listen(ln, s.cfg.HeaderLimit)
	if !ok {
		return nil // Shutdown came first
	}
	return s.app.Listener(ln)
}

// Shutdown stops taking requests and firing timers, closes the connections
// no request is under way on, lets turns in flight (requests' and timers')
// finish until ctx ends, then cancels the timers' turns left and closes the
// store. A connection whose request was answered during the shutdown is
// closed after that answer, which says so (Connection: close). A backup
// still streaming when ctx ends is cut short; a request still running is
// left unanswered, its turn unsaved (the store is closed under it), and the
// error counts them. It is safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		var errs []error
		s.timersStop() // no new timer turns while requests finish
		// fasthttp closes connections idle between requests itself, and
		// waits for the rest: close at once those that never had one.
		s.unused.shutdown()
		httpErr := s.app.ShutdownWithContext(ctx)
		// A backup still streaming holds a read transaction that closing
		// the store waits for.
		cut := s.backups.abort()
		if running := s.running.Load(); httpErr != nil && running > 0 {
			httpErr = fmt.Errorf("%w (%d requests still running were cut short, unanswered: their turns are not saved, and a client may send them again)", httpErr, running)
			s.log.Warn("shutdown grace ended with requests still running: they are not answered and their turns are not saved", "requests", running)
		}
		if httpErr != nil && cut > 0 {
			httpErr = fmt.Errorf("%w (%d backups still streaming were cut short)", httpErr, cut)
		}
		if httpErr != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", httpErr))
		}
		// What ctx's end stops gets a moment to return before it is
		// reported as not stopping: a grace used up by the requests says
		// nothing of the timers or of delivery.
		select {
		case <-s.timersDone:
		case <-ctx.Done():
			s.timersAbort()
			if !soonDone(s.timersDone) {
				errs = append(errs, fmt.Errorf("timer turns did not finish: %w", ctx.Err()))
			}
		}
		s.timersAbort()
		if s.deliv != nil {
			// Deliveries under way are abandoned, not lost: they stay due and
			// are sent again after a restart.
			s.delivCancel()
			done := make(chan struct{})
			go func() { s.deliv.Wait(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				if !soonDone(done) {
					errs = append(errs, fmt.Errorf("event delivery did not stop: %w", ctx.Err()))
				}
			}
		}
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
		s.shutdownErr = errors.Join(errs...)
		s.log.Info("parley stopped")
	})
	return s.shutdownErr
}

// soonDone waits up to a second for done: what was just told to stop.
func soonDone(done <-chan struct{}) bool {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// Run serves cfg until ctx is cancelled, then shuts down gracefully (waiting
// for turns in flight up to the longer of 30 seconds and the turn timeout
// plus 5 seconds).
func Run(ctx context.Context, cfg Config) error { return run(ctx, nil, cfg) }

// minShutdownGrace is the least time a shutdown waits for the turns in
// flight (a variable so that a test can make it short).
var minShutdownGrace = 30 * time.Second

// shutdownGrace is how long a shutdown waits for the turns in flight: at
// least minShutdownGrace, and long enough for a turn that began just before
// the signal to run to its turn timeout and be saved and answered, so that a
// --turn-timeout set above 30 s is not cut short by a stop.
func shutdownGrace(turnTimeout time.Duration) time.Duration {
	return max(minShutdownGrace, turnTimeout+5*time.Second)
}

// run is Run; once the shutdown has begun, now closing ends its wait for
// the turns in flight at once (a second SIGINT or SIGTERM).
func run(ctx context.Context, now <-chan struct{}, cfg Config) error {
	// The address is tried before the store is opened: a start that
	// cannot listen (another server on the port) stops before it makes
	// and seeds a new store, or upgrades an existing one's layout. It is
	// let go meanwhile, so that connections are refused while the store
	// opens (a long layout migration) rather than held unanswered.
	addr := cfg.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	_ = ln.Close()
	s, err := New(cfg)
	if err != nil {
		return err
	}
	grace := shutdownGrace(s.cfg.TurnTimeout)
	errc := make(chan error, 1)
	go func() { errc <- s.Listen() }()
	select {
	case err := <-errc:
		sctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		return errors.Join(err, s.Shutdown(sctx))
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing turns in flight; a second SIGINT or SIGTERM ends them now", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	go func() {
		select {
		case <-now:
			s.log.Warn("second signal: the shutdown ends now, without waiting for the turns in flight")
			cancel()
		case <-sctx.Done():
		}
	}()
	err = s.Shutdown(sctx)
	if lerr := <-errc; lerr != nil && err == nil {
		err = lerr
	}
	return err
}

// checkLoopback refuses to serve a non-loopback address without API keys.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err == nil && ip.Unmap().IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without API keys: anyone who can reach it could run and change flows. "+
		"Set --api-key (or PARLEY_API_KEYS) or listen on a loopback address such as 127.0.0.1:8080", addr)
}

// loopbackOnly drops connections that do not come from a loopback address.
type loopbackOnly struct{ net.Listener }

func (l loopbackOnly) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if ap, perr := netip.ParseAddrPort(c.RemoteAddr().String()); perr == nil && ap.Addr().Unmap().IsLoopback() {
			return c, nil
		}
		_ = c.Close()
	}
}

// deliveryOptions are the operator's delivery settings with the server's
// clock, logger and destination allowlist.
func deliveryOptions(cfg Config) delivery.Options {
	o := cfg.Delivery
	o.Logger, o.Now, o.AllowedCIDRs = cfg.Logger, cfg.Now, cfg.AllowCIDRs
	o.MaxResponseHeaderBytes = cfg.WebhookMaxHeaders
	return o
}

package server

import (
	"context"
	_ "embed"
	"log/slog"
	"net/url"
	"strings"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/store"
)

//go:embed openapi.json
var openAPI []byte

const (
	headerRequestID = "X-Request-Id"
	localRequestID  = "request_id"
	localKey        = "api_key"
	// localUnread marks a request whose line and headers could not be
	// read (over --header-limit): its method and path are not known.
	localUnread = "headers_unread"
	// localHeld marks a request refused or failed as the store's writes
	// fail (a turn refused before it ran, one let through whose write
	// failed, a /healthz saying so): logged at the debug level, as that
	// failure is logged once.
	localHeld = "turn_held"
	// localAPIError is the error a request was answered with, for its
	// log line.
	localAPIError = "api_error"
)

func (s *Server) routes() *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:   "parley",
		BodyLimit: s.cfg.BodyLimit,
		// The request line and headers must fit in the read buffer: a
		// request whose do not is answered 431 (errorHandler).
		ReadBufferSize:        s.cfg.HeaderLimit,
		ErrorHandler:          s.errorHandler,
		DisableStartupMessage: true,
		// Replies are encoded like stored sessions: v1 behaviour and output
		// on the faster encoding/json/v2 engine.
		JSONEncoder: jsonv1.Marshal,
		// A connection that sends nothing is dropped after ReadTimeout; it
		// also bounds how long a graceful shutdown waits for a client that
		// has sent part of a request (one that has sent nothing is closed
		// at once, conns.go).
		ReadTimeout:  10 * time.Second,
		WriteTimeout: s.cfg.TurnTimeout + 30*time.Second,
		IdleTimeout:  2 * time.Minute,
	})
	// A request fasthttp cannot read is answered by readFailed, not with
	// fasthttp's error text, which quotes the request (its API key too);
	// the text leaves it out in any case.
	app.Server().ErrorHandler = s.readFailed(app)
	app.Server().SecureErrorLogMessage = true
	// An answer given during a shutdown tells the client that its
	// connection closes after it, rather than leaving it to find out.
	app.Server().CloseOnShutdown = true
	app.Use(s.requestContext)
	app.Use(recover.New())
	app.Use(s.checkOrigin)

	app.Get("/healthz", s.healthz)
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})))
	app.Get("/openapi.json", s.serveOpenAPI)
	app.Post("/demo/order-status", s.demoOrderStatus)

	tw := app.Group("/twilio/:channel", s.twilioPostOnly)
	tw.Post("/sms", s.twilioSMS)
	tw.Post("/voice", s.twilioVoice)

	s.declaredOps = newDeclaredOps(openAPI)
	v1 := app.Group("/v1", s.authenticate, s.jsonBody, s.checkDeclared)
	v1.Post("/flows/validate", s.validateFlow)
	v1.Post("/flows", s.createFlow)
	v1.Get("/flows", s.listFlows)
	v1.Get("/flows/:id", s.getFlow)
	v1.Put("/flows/:id", s.updateFlow)
	v1.Delete("/flows/:id", s.deleteFlow)
	v1.Post("/flows/:id/publish", s.publishFlow)

	v1.Post("/sessions", s.startSession)
	v1.Get("/sessions", s.listSessions)
	v1.Get("/sessions/:id", s.getSession)
	v1.Get("/sessions/:id/events", s.sessionEvents)
	v1.Post("/sessions/:id/resume", s.resumeSession)
	v1.Post("/sessions/:id/interrupt", s.interruptSession)

	v1.Get("/contacts/:urn", s.getContact)
	v1.Delete("/contacts/:urn", s.deleteContact)

	v1.Post("/channels", s.putChannel)
	v1.Get("/channels", s.listChannels)
	v1.Get("/channels/:channel", s.getChannel)
	v1.Put("/channels/:channel", s.putChannel)
	v1.Delete("/channels/:channel", s.deleteChannel)
	v1.Post("/channels/:channel/messages", s.channelMessage)
	v1.Post("/channels/:channel/messages/batch", s.channelMessages)
	v1.Post("/channels/:channel/calls", s.startCall)
	v1.Post("/channels/:channel/calls/:call", s.callInput)

	v1.Post("/webhooks", s.withDelivery(s.createSubscription))
	v1.Get("/webhooks", s.withDelivery(s.listSubscriptions))
	v1.Get("/webhooks/:id", s.withDelivery(s.getSubscription))
	v1.Put("/webhooks/:id", s.withDelivery(s.updateSubscription))
	v1.Delete("/webhooks/:id", s.withDelivery(s.deleteSubscription))
	v1.Post("/webhooks/:id/rotate-secret", s.withDelivery(s.rotateSecret))
	v1.Post("/webhooks/:id/ping", s.withDelivery(s.pingSubscription))
	v1.Get("/webhooks/:id/deliveries", s.withDelivery(s.listDeliveries))
	v1.Get("/deliveries/:id", s.withDelivery(s.getDelivery))
	v1.Post("/deliveries/:id/retry", s.withDelivery(s.retryDelivery))
	v1.Get("/event-types", s.listEventTypes)
	s.eventRoutes(v1)
	s.backupRoutes(v1)

	v1.Post("/keys", s.createKey)
	v1.Get("/keys", s.listKeys)
	v1.Delete("/keys/:id", s.deleteKey)

	s.simulatorRoutes(app, v1)

	app.Use(func(c *fiber.Ctx) error {
		if allow := s.routeTable.allowed(c.Path()); len(allow) > 0 {
			// The path is a route's, with other methods: 405 naming them,
			// as HTTP says (RFC 9110, 15.5.6), rather than a 404 that
			// reads as a wrong path or id.
			e := apiErr(fiber.StatusMethodNotAllowed, CodeMethodNotAllowed, "",
				"%.16s %s: this route takes %s", c.Method(), c.Path(), strings.Join(allow, ", "))
			e.Allow = strings.Join(allow, ", ")
			return e
		}
		return apiErr(fiber.StatusNotFound, CodeNotFound, "", "no route %s %s", c.Method(), c.Path())
	})
	return app
}

// requestContext gives every request an id (the caller's X-Request-Id, or a
// new one), logs it when done, and counts it by route.
func (s *Server) requestContext(c *fiber.Ctx) error {
	if kc, ok := c.Context().Conn().(*keptConn); ok {
		kc.tookRequest()
	}
	rid := setRequestID(c)
	start := time.Now()
	s.running.Add(1)
	defer s.running.Add(-1)
	err := c.Next()
	if err != nil {
		if herr := s.app.ErrorHandler(c, err); herr != nil {
			s.log.Error("error handler failed", "err", herr)
		}
	}
	if s.unused.down.Load() {
		// Answered during a shutdown: the connection closes after this
		// answer, and the client is told so, even when the HTTP server
		// has not yet marked itself as stopping (CloseOnShutdown).
		c.Context().SetConnectionClose()
	}
	route := c.Route().Path
	if !s.routeTable.handles(c.Route().Method, route) {
		// Answered by a middleware (the key check, the Origin check, no
		// route at all): counted by the route the request was for.
		route = s.routeTable.match(c)
	}
	s.requestDone(c, rid, route, start)
	return nil
}

// unmatched is the route label of a request that matches no route, or was
// refused before its path was read (431).
const unmatched = "unmatched"

// routeTable holds the app's routes (not its middleware) by method, to
// name the route of a request refused before it reached its handler.
type routeTable struct {
	byMethod map[string][][]string
	paths    map[routeKey]bool
}

type routeKey struct{ method, path string }

func newRouteTable(app *fiber.App) routeTable {
	t := routeTable{byMethod: map[string][][]string{}, paths: map[routeKey]bool{}}
	for _, r := range app.GetRoutes(true) {
		t.byMethod[r.Method] = append(t.byMethod[r.Method], strings.Split(r.Path, "/"))
		t.paths[routeKey{r.Method, r.Path}] = true
	}
	return t
}

// handles reports whether method and path are a route's, not only a
// middleware's (the key check of /v1, the Origin check of /): fiber's
// Route does not tell them apart.
func (t routeTable) handles(method, path string) bool {
	return t.paths[routeKey{method, path}]
}

// match is the route of c's method and path, one of another method for
// a method the path does not take (405), or unmatched.
func (t routeTable) match(c *fiber.Ctx) string {
	if c.Locals(localUnread) != nil {
		return unmatched
	}
	path := strings.Split(c.Path(), "/")
	if r := matchRoutes(t.byMethod[c.Method()], path); r != "" {
		return r
	}
	for _, routes := range t.byMethod {
		if r := matchRoutes(routes, path); r != "" {
			return r
		}
	}
	return unmatched
}

// methodOrder is the order Allow lists a route's methods in.
var methodOrder = []string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch, fiber.MethodDelete}

// allowed lists the methods of the routes that path matches, none when
// it matches no route.
func (t routeTable) allowed(path string) []string {
	segs := strings.Split(path, "/")
	var allow []string
	for _, m := range methodOrder {
		if matchRoutes(t.byMethod[m], segs) != "" {
			allow = append(allow, m)
		}
	}
	return allow
}

func matchRoutes(routes [][]string, path []string) string {
	if len(path) > 1 && path[len(path)-1] == "" {
		path = path[:len(path)-1] // a trailing slash, as fiber routes it
	}
next:
	for _, r := range routes {
		if len(r) != len(path) {
			continue
		}
		for i, seg := range r {
			if strings.HasPrefix(seg, ":") {
				if path[i] == "" {
					continue next
				}
			} else if !strings.EqualFold(seg, path[i]) {
				continue next
			}
		}
		return strings.Join(r, "/")
	}
	return ""
}

// setRequestID gives a request its id, the caller's X-Request-Id or a new
// one, and sets it on the response.
func setRequestID(c *fiber.Ctx) string {
	rid := c.Get(headerRequestID)
	if !isRequestID(rid) {
		rid = uuid.NewString()
	} else {
		rid = strings.Clone(rid) // fiber's strings point into a reused buffer
	}
	// One value holds the id for the handlers (Locals) and for what the
	// request's turns call (its context: webhook calls log it).
	rc := &callout.RequestContext{Context: context.Background(), ID: rid}
	c.Locals(localRequestID, rc)
	c.SetUserContext(rc)
	c.Set(headerRequestID, rid)
	return rid
}

// requestIDOf is the id setRequestID gave the request, "" before.
func requestIDOf(c *fiber.Ctx) (string, bool) {
	if rc, ok := c.Locals(localRequestID).(*callout.RequestContext); ok {
		return rc.ID, true
	}
	return "", false
}

// requestDone counts a finished request by route and logs it.
func (s *Server) requestDone(c *fiber.Ctx, rid, route string, start time.Time) {
	status := c.Response().StatusCode()
	s.metrics.request(route, status)
	// Requests that succeed quickly are logged at debug level: at thousands
	// of messages a second an info line per request costs more CPU than
	// much of the turn. Client errors, slow requests and failures show at
	// the default level.
	elapsed := time.Since(start)
	level := slog.LevelDebug
	switch {
	case c.Locals(localHeld) != nil:
	case status >= 500:
		level = slog.LevelError
	case elapsed >= slowRequest:
		level = slog.LevelWarn
	case status >= 400:
		level = slog.LevelInfo
	}
	ctx := c.UserContext()
	if s.log.Enabled(ctx, level) {
		method, path := c.Method(), c.Path()
		if h, ok := c.Locals(localHead).(requestHead); ok {
			method = h.method // c.Method keeps GET for one fiber does not know
		}
		if c.Locals(localUnread) != nil {
			method, path = "", ""
		}
		if level > slog.LevelDebug {
			path = withoutContactURN(path)
		}
		attrs := []any{"request_id", rid, "method", method, "path", loggedPath(path), "status", status,
			"elapsed", elapsed}
		if ae, ok := c.Locals(localAPIError).(*APIError); ok {
			// Why it was refused, which the client was told.
			attrs = append(attrs, "code", ae.Code)
			if status == fiber.StatusUnauthorized || status == fiber.StatusForbidden {
				attrs = append(attrs, "client", c.Context().RemoteIP().String(), "err", loggedText(ae.Message))
			}
		}
		s.log.Log(ctx, level, "request", attrs...)
	}
}

// loggedPath is a request's path as logs write it: a user name and password
// written in it, as in a URL given as an id (/v1/flows/https://bob:secret@host,
// its slashes escaped or not), have the password [redacted], as webhook URLs
// have theirs in traces, and so have the secret-looking parameters (token,
// password, key ...) of a query written in it with its ? escaped
// (/v1/sessions/https:%2F%2Fhost%3Ftoken=...). A path holding neither an @
// nor an escaped ? is logged as it is, without a copy. Logs never write a
// request's own query.
func loggedPath(p string) string {
	if !mayHoldSecret(p) {
		return p
	}
	return redactPath(p)
}

// loggedContactURN stands for the URN of a /v1/contacts/{urn} path in the
// request lines logged above debug.
const loggedContactURN = "[urn]"

// withoutContactURN is a path of /v1/contacts/{urn} (in any case, as
// routes match) with the URN, and anything after it, written as
// loggedContactURN; another path as it is. A request about a contact that
// fails (an erased contact's lookup: 404) is logged at the default level,
// where a person's URN is not kept.
func withoutContactURN(p string) string {
	const prefix = "/v1/contacts/"
	if len(p) > len(prefix) && strings.EqualFold(p[:len(prefix)], prefix) {
		return p[:len(prefix)] + loggedContactURN
	}
	return p
}

// redactPath is loggedPath for any path, unescaped where it has escapes.
func redactPath(p string) string {
	u := p
	if strings.Contains(u, "%") {
		if un, err := url.PathUnescape(u); err == nil {
			u = un
		}
	}
	if r := callout.NewRedactor(nil).URL(u); r != u {
		return r
	}
	return p
}

// mayHoldSecret reports whether a path or a message quoting one may hold a
// secret loggedPath hides: it holds an @ or an escaped @ or ?.
func mayHoldSecret(s string) bool {
	return strings.Contains(s, "@") || strings.Contains(s, "%40") || strings.Contains(s, "%3F") || strings.Contains(s, "%3f")
}

// loggedText is a message quoting a request's path or a part of it (no
// route GET /v1/x, flow "bob:secret@host" not found) as logs write it: each
// word of it, between spaces and quotes, as loggedPath writes a path, a ?
// taken for a query's as an escaped one is there (the message quotes an id
// unescaped).
func loggedText(s string) string {
	if !strings.Contains(s, "?") && !mayHoldSecret(s) {
		return s
	}
	var b strings.Builder
	for s != "" {
		end := strings.IndexAny(s, " \"")
		if end < 0 {
			end = len(s)
		}
		if w := s[:end]; strings.Contains(w, "?") || mayHoldSecret(w) {
			b.WriteString(redactPath(w))
		} else {
			b.WriteString(w)
		}
		if end < len(s) {
			b.WriteByte(s[end])
			end++
		}
		s = s[end:]
	}
	return b.String()
}

// slowRequest is the time after which a request is logged at warn level.
const slowRequest = time.Second

// reqLog is the logger of one request: it carries the request id.
func (s *Server) reqLog(c *fiber.Ctx) *slog.Logger {
	if rid, ok := requestIDOf(c); ok {
		return s.log.With("request_id", rid)
	}
	return s.log
}

// healthz answers 503 when the store cannot be read, and while its writes
// fail: from a commit that failed writing the file until one succeeds,
// then with a Retry-After, as the turns refused meanwhile have (none once
// the store file was replaced, which only a restart outlasts).
func (s *Server) healthz(c *fiber.Ctx) error {
	if _, err := s.store.Stats(c.UserContext()); err != nil {
		return apiErr(fiber.StatusServiceUnavailable, CodeUnavailable, "", "store unavailable: %v", err)
	}
	if b, ok := s.store.(*store.Bolt); ok {
		// A store file replaced under the server (a backup restored onto
		// it) is found here too, not only by the next write.
		_ = b.CheckFile()
		if f := b.LastWriteFailure(); f != nil {
			// Logged once by the store, when writes began to fail, not
			// at every poll.
			c.Locals(localHeld, true)
			cause := f.Err.Error()
			code := CodeUnavailable
			restart := false
			if c := storeWriteCause(f.Err); c != nil {
				cause, code, restart = c.cause, c.code, c.restart
			}
			since, last := f.Since.UTC().Format(time.RFC3339), f.At.UTC().Format(time.RFC3339)
			if last == since {
				last = ""
			} else {
				last = ", last at " + last
			}
			// With the Retry-After of the turns refused meanwhile: the
			// time until one is let through to find out whether writes
			// succeed again. None for a replaced store file: no write
			// succeeds before a restart.
			e := apiErr(fiber.StatusServiceUnavailable, code, "", "store writes fail since %s%s: %s",
				since, last, cause)
			if !restart {
				e.RetryAfter = s.cfg.WriteProbeInterval
			}
			return e
		}
	}
	return c.JSON(fiber.Map{"status": "ok"})
}

// pathParam is a path parameter decoded: an id that holds characters a
// path escapes (@, a space, é, %, /) is sent escaped (%40, %20, %C3%A9,
// %25, %2F) and names the same thing as the id itself. A bad escape is
// refused, naming the parameter. The value is a copy, safe to keep.
func pathParam(c *fiber.Ctx, name string) (string, error) {
	raw := c.Params(name)
	if !strings.Contains(raw, "%") {
		return strings.Clone(raw), nil
	}
	v, err := url.PathUnescape(raw)
	if err != nil {
		field := name
		if name == "call" {
			field = "call_id" // as the docs and the call id's other errors name it
		}
		return "", badRequest(field, "path parameter %s %.80q is not validly escaped: write %% as %%25", field, raw)
	}
	return v, nil
}

// isRequestID reports whether a caller's X-Request-Id is one to keep: 1 to
// 128 printable ASCII characters, no spaces. Another (control characters,
// escape sequences, bytes that are not UTF-8) is not echoed back or logged:
// the request gets an id of its own.
func isRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

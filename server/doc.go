// Package server is Parley's HTTP surface: the /v1 JSON API (flows, sessions,
// channels, IVR calls), Twilio-compatible webhooks that answer in TwiML, the
// built-in demo order service, health, metrics and the OpenAPI document.
//
// Handlers are thin: they parse and copy what they need from the request, call
// the Service, and shape the reply. The Service holds the turn logic: it loads
// a session, serializes turns per contact with a sharded mutex, runs the
// engine, builds outbox records and writes everything with one store.SaveTurn.
// A background scanner fires wait timeouts and session expiry from the
// store's timer index, so timers survive restarts.
//
// Lifecycle events (lifecycle.go: session.launched, .started, .updated,
// .finished, flow.completed) are outbox records of the turn that caused
// them; package delivery sends them to the subscriptions of /v1/webhooks.
// Configured outgoing webhooks (webhook_configs.go) come from the
// --webhooks file and /v1/webhook-configs, and the webhook service looks
// them up on every call, so API changes reach running flows at once.
//
// The main types are Config (ServeFlags and ConfigFromEnv build one), Server
// (New, Listen, Shutdown) and Service. Run and Main are what cmd/parley calls.
//
// Caveats: without API keys the server serves loopback connections only and
// refuses to bind any other address. Flows run on the revision a session
// started with; new sessions use the published revision, or the latest when a
// flow was never published.
package server

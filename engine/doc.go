// Package engine is Parley's interpreter: it starts sessions on flows, runs
// widgets until a session waits or ends, and resumes waiting sessions with input
// (a message, digits, a timeout, a hang-up).
//
// The main types are Engine (configured with the widget registry, services,
// a flow source for subflows, and injectable time, ids and randomness) and
// StartParams. Templates (@flow.x, @extra.a.b, $user.key.x, $call.cli,
// @(expression)) and expr-lang expressions are compiled once, when a flow is
// loaded with Engine.Load, and shared by all its sessions.
//
// Caveats: the engine never imports the widget implementations; the binary
// passes the registry in. Everything a turn does is returned as events; what
// goes wrong while a flow runs is an event and an exit, not a Go error.
// A turn is bounded three ways: widgets run (WithMaxSteps), time
// (WithTurnTimeout, checked before each widget and passed to what a widget
// calls out to) and the size of any value a template or an expression makes
// (WithMaxValueBytes): a widget whose value would pass it fails, its later
// events and writes dropped, before the value is built. A session's path
// keeps its latest steps (WithMaxPath), cut once a turn has run, the steps
// dropped counted in Session.PathDropped.
package engine

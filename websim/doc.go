// Package websim is Parley's web simulator: a static page (HTML, CSS and
// JavaScript, no build step) where flow authors run a flow as a test contact
// without a phone. The files are embedded in the binary; Register mounts them
// on a fiber app at /simulator.
//
// The page talks only to the HTTP API: the flow endpoints under /v1/flows,
// the sandbox session endpoint POST /v1/simulator/sessions (which takes a
// flow definition, preset variables and webhook mocks), the live check of
// its editor POST /v1/simulator/validate (errors and warnings listed apart,
// as a start would find them), and the ordinary
// session endpoints to resume, inspect and end the session. Everything it
// starts is a sandbox session; see docs/simulator.md.
//
// Caveat: when the server guards /v1 with API keys the page asks for one and
// keeps it in the browser's localStorage.
package websim

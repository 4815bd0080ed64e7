// Package docs is Parley's documentation. Its Go side is one value:
// EventsSchema, events.schema.json as the binary embeds it, so that the
// server answers GET /v1/event-types with the schema that its tests check
// every event against, not a copy that could drift from it.
package docs

import _ "embed"

// EventsSchema is events.schema.json: the JSON Schema (2020-12) of the
// body of every event Parley sends to webhook subscriptions.
//
//go:embed events.schema.json
var EventsSchema []byte

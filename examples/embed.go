package examples

import "embed"

// FS holds every example flow (NAME/flow.json), embedded so the binary can
// load them on first start with no files beside it.
//
//go:embed */flow.json
var FS embed.FS

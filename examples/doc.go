// Package examples holds runnable example flows, one folder each with a
// flow.json and scripted conversations under tests/ that `go test ./...` and
// `parley test examples/` run. `parley serve` loads them on first start.
package examples

package main

import (
	"context"
	"io"

	"github.com/parleyhq/parley/server"
)

// serve runs the HTTP server; server.Main parses the flags (parley serve --help).
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return server.Main(ctx, args, stdout, stderr)
}

// Command parleyserve is `parley serve` alone, for the server's subprocess
// tests: it does not depend on the rest of the CLI.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/parleyhq/parley/server"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "serve" {
		fmt.Fprintln(os.Stderr, "usage: parleyserve serve [flags]")
		os.Exit(2)
	}
	os.Exit(server.Main(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
}

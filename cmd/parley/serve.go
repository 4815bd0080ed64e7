package main

import (
	"context"
	"fmt"
	"io"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "parley serve: the server is not built into this binary yet")
	return 1
}

// Command parley runs, simulates, validates and tests Parley flows.
//
//	parley serve                 run the HTTP server (see parley serve --help)
//	parley simulate FLOW.json    talk to a flow in the terminal
//	parley validate FLOW.json... check flow files
//	parley test PATH...          run scripted conversations
//	parley webhook test NAME     send one request of a configured webhook
//	parley import rapidpro FILE  convert a RapidPro/TextIt export
//	parley bench                 load-test a server over its HTTP API
//	parley compact               give a stopped server's store file its free pages back
//	parley backup                copy a running server's store file
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Parley: a conversational flow engine with webhook steps.

Usage:
  parley serve [flags]                      run the HTTP server
  parley simulate [flags] FLOW.json         talk to a flow: one message per line on stdin
  parley validate FLOW.json...              check flow files (exit 2 on errors)
  parley test PATH...                       run scripted conversations (*.test.json)
  parley webhook test NAME --webhooks FILE  send one request of a configured webhook
  parley import rapidpro EXPORT.json        convert a RapidPro/TextIt export
  parley bench [flags]                      measure throughput and latency over the HTTP API
  parley compact [--data DIR]               shrink a stopped server's store file to its data
  parley backup --url URL --out FILE        copy a running server's store file, checked

Run 'parley COMMAND --help' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a command line; it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	if helpAsked(rest) {
		// The usage that answers -h goes to stdout (parley serve --help |
		// less); a usage error (parley validate --nope -h), and all a
		// command says when -h was a flag's value, stay on stderr.
		stderr = helpStderr{Writer: stderr, stdout: stdout}
	}
	return dispatch(ctx, cmd, rest, stdin, stdout, stderr)
}

// dispatch runs one command; it returns the exit status.
func dispatch(ctx context.Context, cmd string, rest []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr)
	case "simulate", "sim":
		return simulate(ctx, rest, stdin, stdout, stderr)
	case "validate":
		return validate(rest, stdout, stderr)
	case "test":
		return test(ctx, rest, stdout, stderr)
	case "webhook":
		return webhook(ctx, rest, stdout, stderr)
	case "import":
		return importCmd(rest, stdout, stderr)
	case "bench":
		return benchCmd(ctx, rest, stdout, stderr)
	case "compact":
		return compactCmd(ctx, rest, stdout, stderr)
	case "backup":
		return backupCmd(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "parley: unknown command %q\n\n%s", cmd, usage)
	return 2
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// pairs is a repeatable name=value flag.
type pairs map[string]string

func (p pairs) String() string { return "" }
func (p pairs) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not name=value", v)
	}
	p[k] = val
	return nil
}

func newFlags(name, args string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: parley %s %s\n\nFlags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterspersed parses flags that may come before or after positional
// arguments ("parley simulate flow.json --json").
func parseInterspersed(fs interface {
	Parse([]string) error
	Args() []string
}, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseStatus is the exit status of a command whose flags did not parse:
// 0 when they asked for help (-h, --help: the usage is printed), 2 for a
// usage error.
func parseStatus(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// isHelp reports whether arg asks for help, as the flag package reads it.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "--h":
		return true
	}
	return false
}

// continuation sets off the further lines of one multi-line output (a
// message, a failure) from the lines that start outputs.
const continuation = "  "

// entry is text as one entry of a listing whose entries start at indent:
// its further lines are indented under the first (by continuation more), so
// a message of several lines reads as one message.
func entry(indent, text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	return indent + strings.ReplaceAll(text, "\n", "\n"+indent+continuation)
}

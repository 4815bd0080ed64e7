package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/server"
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
	usageOut := server.UsageOutput(fs, stderr)
	fs.Usage = func() {
		w := usageOut()
		fmt.Fprintf(w, "Usage: parley %s %s\n\nFlags:\n", name, args)
		out := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
	return fs
}

// helpStderr is a command's stderr when its command line asks for help: the
// usage that answers it goes to stdout (server.HelpOutput); all else,
// usage errors included, goes to stderr as it is written.
type helpStderr struct {
	io.Writer
	stdout io.Writer
}

func (h helpStderr) HelpOutput() io.Writer { return h.stdout }

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

// helpAsked reports whether args ask for help before any "--".
func helpAsked(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if isHelp(a) {
			return true
		}
	}
	return false
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

// blankLine stands for the first or last line of an entry when it is empty
// or only white space.
const blankLine = "⏎"

// entry is text as one entry of a listing whose entries start at indent:
// its further lines are indented under the first (by continuation more), so
// a message of several lines reads as one message. A blank first or last
// line shows as blankLine: a message that starts with a line break would
// otherwise look like an empty message before it, and one that ends with
// one would end in a line that cannot be seen. A blank line between two
// others needs no mark: the indented line after it shows it is part of the
// message.
func entry(indent, text string) string {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for _, i := range []int{0, len(lines) - 1} {
		if strings.TrimSpace(lines[i]) == "" {
			lines[i] = blankLine
		}
	}
	return indent + strings.Join(lines, "\n"+indent+continuation)
}

// firstWord is the word a command takes before its flags: parley import's
// format, parley webhook's subcommand.
type firstWord struct {
	cmd, what, want string
	rest            string // what follows the word in the usage
	use             string // the usage line
	hint            string // added to the unknown-word message
}

// firstWordUsage answers args whose first word is not w.want: the usage on
// stdout for --help (exit 0), else a usage error naming what is wrong, on
// stderr (exit 2).
func firstWordUsage(args []string, stdout, stderr io.Writer, w firstWord) int {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stdout, w.use)
		return 0
	}
	switch {
	case len(args) == 0:
		fmt.Fprintf(stderr, "parley %s: the %s is missing: %s\n", w.cmd, w.what, w.want)
	case strings.HasPrefix(args[0], "-"):
		// A flag, not the word: the word comes first.
		fmt.Fprintf(stderr, "parley %s: the %s comes first, then its flags: parley %s %s %s [flags]\n", w.cmd, w.what, w.cmd, w.want, w.rest)
	default:
		fmt.Fprintf(stderr, "parley %s: unknown %s %q: %s is the one there is%s\n", w.cmd, w.what, args[0], w.want, w.hint)
	}
	fmt.Fprintln(stderr, w.use)
	return 2
}

// serverURL checks a --url naming a parley server: http://HOST:PORT, or
// https:// too when tls is set (a server behind a TLS proxy), without user,
// query or fragment. Errors quote the URL without its password, as webhook
// URLs are.
func serverURL(raw string, tls bool) (*url.URL, error) {
	shown := callout.NewRedactor(nil).URL(raw)
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "":
		return nil, fmt.Errorf("%q is not a server URL: give http://HOST:PORT, e.g. http://127.0.0.1:8080", shown)
	case u.Scheme == "http", tls && u.Scheme == "https":
	case tls:
		return nil, fmt.Errorf("%q: the scheme is %s: give http://HOST:PORT (or https:// for a server behind a TLS proxy)", shown, u.Scheme)
	default:
		return nil, fmt.Errorf("%q: the scheme is %s, not http: give http://HOST:PORT (parley serve speaks plain HTTP)", shown, u.Scheme)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q: give the server's URL without user, query or fragment (the key goes in --api-key)", shown)
	}
	if _, err := strconv.ParseUint(u.Port(), 10, 16); u.Port() != "" && err != nil {
		return nil, fmt.Errorf("%q: port %q is not a number up to 65535", shown, u.Port())
	}
	return u, nil
}

// contactURN is a --urn flag's URN as the server keeps a contact's
// (flows.NormalURN: "tel:+1 555 010 0100" is tel:+15550100100), so a flow
// or webhook sees what a real message's contact would give it; or an
// error naming the flag when the URN holds a character that cannot name
// a contact (flows.URNProblem), as the server refuses it.
func contactURN(flag, urn string) (string, error) {
	normal := flows.NormalURN(urn)
	if p := flows.URNProblem(normal); p != "" {
		return "", fmt.Errorf("%s: the URN %q %s", flag, urn, p)
	}
	return normal, nil
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// outgoing holds the flags of commands that may call webhooks.
type outgoing struct {
	webhooks   string
	allowCIDRs multi
}

func (o *outgoing) register(fs *flag.FlagSet) {
	fs.StringVar(&o.webhooks, "webhooks", "", "configured webhooks `FILE` (JSON)")
	fs.Var(&o.allowCIDRs, "allow-cidr", "allow webhook calls to this `CIDR` despite the private-address guard (repeatable or comma-separated; replaces PARLEY_ALLOW_CIDRS)")
}

// service builds the real webhook service from the flags.
func (o *outgoing) service() (*callout.Service, error) {
	allow, err := callout.ParseAllowCIDRs(o.allowCIDRs, os.Getenv("PARLEY_ALLOW_CIDRS"))
	if err != nil {
		return nil, err
	}
	var configs map[string]*flows.WebhookConfig
	if o.webhooks != "" {
		if configs, err = callout.LoadConfigs(o.webhooks); err != nil {
			return nil, err
		}
	}
	return callout.New(callout.Options{AllowCIDRs: allow, Configs: configs}), nil
}

func simulate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (status int) {
	fs := newFlags("simulate", "[flags] FLOW.json", stderr)
	jsonOut := fs.Bool("json", false, "print one JSON object per event instead of the messages")
	vars := pairs{}
	fs.Var(vars, "var", "preset a flow variable `name=value` (repeatable)")
	name := fs.String("contact-name", "", "the contact's name")
	urn := fs.String("urn", sim.DefaultURN, "the contact's URN (with --call, its number is the caller's unless --cli is given)")
	lang := fs.String("contact-language", "", "the contact's language (ISO 639-3)")
	fields := pairs{}
	fs.Var(fields, "contact-field", "a contact field (user key) `name=value` (repeatable)")
	var groups multi
	fs.Var(&groups, "contact-group", "a group the contact is in (repeatable)")
	call := fs.Bool("call", false, "run as an IVR call: each input line is the digits pressed")
	cli := fs.String("cli", "", "the caller's number ($call.cli) for --call")
	mocks := fs.String("mocks", "", "answer webhook calls from this `FILE`: {\"URL\": [{\"status\": 200, \"body\": {...}}]}")
	seed := fs.Uint64("seed", 0, "seed for random widgets, rand() and randbetween() (0: random)")
	var out outgoing
	out.register(fs)
	var limits turnLimits
	limits.register(fs)
	var imp importFlags
	imp.register(fs, "for a RapidPro export: the `NAME` (or uuid) of the flow to run (default: the first)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return parseStatus(err)
	}
	switch {
	case len(pos) == 0:
		fmt.Fprintln(stderr, "parley simulate: the FLOW.json file is missing: give the flow file to talk to")
		fs.Usage()
		return 2
	case len(pos) > 1:
		// Sibling flows (subflows) are loaded from the flow's folder.
		fmt.Fprintf(stderr, "parley simulate: unexpected argument %q: give one flow file; the flows next to it are loaded for its subflows\n", pos[1])
		return 2
	}
	limitOpts, err := limits.options()
	if err != nil {
		fmt.Fprintln(stderr, "parley simulate:", err)
		return 2
	}
	// Read as the web simulator reads its test contact's: trimmed, and one
	// no translation could match is refused, not run in the base language.
	*lang = strings.TrimSpace(*lang)
	if fe := sim.CheckContactLanguage("--contact-language", *lang); fe != nil {
		fmt.Fprintf(stderr, "parley simulate: %s: %s\n", fe.Path, fe.Message)
		return 2
	}
	if _, err := contactURN("--urn", *urn); err != nil {
		fmt.Fprintln(stderr, "parley simulate:", err)
		return 2
	}
	real, err := out.service()
	if err != nil {
		// One problem a line (a webhooks file's), each naming the command.
		fmt.Fprintln(stderr, flows.EachNamed("parley simulate", err))
		return 2
	}
	var hooks flows.WebhookService = real
	if *mocks != "" {
		m, err := sim.LoadMocks(*mocks)
		if err != nil {
			fmt.Fprintln(stderr, flows.EachNamed("parley simulate", err))
			return 2
		}
		m.Fallback = real
		hooks = m
	}
	lib := sim.NewLibrary()
	opts := append([]engine.Option{engine.WithServices(sim.Services{Hooks: hooks}), engine.WithFlows(lib)}, limitOpts...)
	if *seed != 0 {
		opts = append(opts, engine.WithSeed(*seed))
	}
	e := engine.New(widgets.Registered(), opts...)
	ld, err := imp.load(e, pos[0], stderr)
	if err != nil {
		printLoadError(stderr, pos[0], err)
		return 2
	}
	f := ld.flow
	// Flows beside the file are there for subflows, as in parley test.
	sim.LoadSiblings(e, lib, pos[0])
	for _, x := range ld.all {
		lib.Add(x)
	}
	contact := flows.Contact{Name: *name, URN: *urn, Language: *lang, Groups: groups}
	if len(fields) > 0 {
		contact.Fields = fields
	}
	if *call || f.IsVoice() {
		// A messaging flow on a call runs as a voice flow: one that does
		// not pass its checks, or that can enter a subflow that does not,
		// is refused as an invalid flow.
		if err := e.CallProblem(context.Background(), f); err != nil {
			printLoadError(stderr, pos[0], err)
			return 2
		}
	} else if err := e.MessageProblem(context.Background(), f); err != nil {
		// Without a call, a voice subflow's prompts would reach no one.
		printLoadError(stderr, pos[0], err)
		return 2
	}
	s := sim.New(e, f, sim.Options{Contact: contact, Variables: vars, Call: *call, CLI: *cli})
	// A panic in a turn is a bug of Parley's, not the flow's: it is said in
	// a line naming the widget that ran, not as a Go crash, and the
	// simulation stops.
	defer func() {
		if p := recover(); p != nil {
			where := ""
			if sess := s.Session(); sess != nil && sess.Top() != nil && sess.Top().Widget != "" {
				where = fmt.Sprintf(" in widget %q", sess.Top().Widget)
			}
			fmt.Fprintf(stderr, "parley simulate: internal error%s: %v\n", where, p)
			status = 1
		}
	}()
	print := func(evs []flows.Event) {
		if *jsonOut {
			enc := json.NewEncoder(stdout)
			for _, ev := range evs {
				_ = enc.Encode(ev)
			}
			return
		}
		for _, out := range sim.Outputs(evs) {
			fmt.Fprintln(stdout, entry("", out))
		}
		// Problems and webhook calls go to stderr, so stdout stays what the
		// contact sees.
		for _, ev := range evs {
			switch ev.Type {
			case flows.EventWarning, flows.EventError:
				fmt.Fprintln(stderr, entry("", fmt.Sprintf("%s at %s: %s", ev.Type, ev.Widget, ev.Message)))
			case flows.EventWebhookCalled:
				// A refusal by the address guard says itself how to allow
				// the destination.
				fmt.Fprintln(stderr, entry("", "["+sim.WebhookNote(ev)+"]"))
			case flows.EventRecord:
				// What a recording step needs, which the caller would give
				// by speaking.
				fmt.Fprintln(stderr, entry("", fmt.Sprintf("[recording, up to %ds: send its URL (or /record URL SECONDS), or an empty line for nothing recorded]", ev.MaxLength)))
			}
		}
	}
	evs, err := s.Start(ctx, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "parley simulate:", err)
		return 1
	}
	print(evs)
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64*1024), simMaxLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if n == 1 {
			// A byte-order mark that an editor or a Windows shell put at the
			// start of the input is no part of the first message, as it is
			// no part of a flow file.
			line = strings.TrimPrefix(line, "\ufeff")
		}
		evs, err := s.Input(ctx, line)
		if errors.Is(err, sim.ErrEnded) {
			fmt.Fprintf(stderr, "(session %s; input %q ignored)\n", s.Session().Status, line)
			continue
		}
		if err != nil {
			fmt.Fprintln(stderr, "parley simulate:", err)
			continue
		}
		print(evs)
	}
	if err := sc.Err(); err != nil {
		// The rest of the input is not read: say where it stopped.
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("longer than %d MiB, the most one input line may be", simMaxLine>>20)
		}
		fmt.Fprintf(stderr, "parley simulate: input line %d: %v; session %s\n", n+1, err, s.Session().Status)
		return 1
	}
	fmt.Fprintf(stderr, "session %s\n", s.Session().Status)
	return 0
}

// simMaxLine is the longest input line parley simulate reads, well above
// the 1 MiB request body a server takes by default.
const simMaxLine = 16 << 20

// printLoadError prints a validation error one problem per line.
func printLoadError(w io.Writer, path string, err error) {
	var ve *flows.ValidationError
	if errors.As(err, &ve) {
		for _, fe := range ve.Errors {
			fmt.Fprintf(w, "%s: %s\n", path, fe.Error())
		}
		return
	}
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range multi.Unwrap() {
			fmt.Fprintf(w, "%s: %v\n", path, e)
		}
		return
	}
	fmt.Fprintf(w, "%s: %v\n", path, err)
}

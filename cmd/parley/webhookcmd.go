package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// webhook: parley webhook test NAME --webhooks FILE [--var k=v]...
func webhook(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "test" {
		return firstWordUsage(args, stdout, stderr, firstWord{
			cmd: "webhook", what: "subcommand", want: "test", rest: "NAME --webhooks FILE.json",
			use: "Usage: parley webhook test NAME --webhooks FILE.json [--var name=value]... [--allow-cidr CIDR]",
		})
	}
	fs := newFlags("webhook test", "NAME --webhooks FILE.json", stderr)
	vars := pairs{}
	fs.Var(vars, "var", "a sample flow variable `name=value` (repeatable)")
	fields := pairs{}
	fs.Var(fields, "user-key", "a sample user key `name=value` (repeatable)")
	urn := fs.String("urn", sim.DefaultURN, "a sample contact URN, made normal as the server keeps a contact's")
	var out outgoing
	out.register(fs)
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return parseStatus(err)
	}
	usage := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "parley webhook test: "+format+"\n\n", args...)
		fs.Usage()
		return 2
	}
	switch {
	case out.webhooks == "":
		return usage("--webhooks FILE is required: the webhook NAME is looked up in it")
	case len(pos) == 0:
		return usage("the webhook NAME is missing: give the name of one entry of %s", out.webhooks)
	case len(pos) > 1:
		return usage("one webhook NAME expected, got %d (%s)", len(pos), quoteAll(pos))
	}
	sampleURN, err := contactURN("--urn", *urn)
	if err != nil {
		fmt.Fprintln(stderr, "parley webhook test:", err)
		return 2
	}
	svc, err := out.service()
	if err != nil {
		// One problem a line (a webhooks file's), each naming the command.
		fmt.Fprintln(stderr, flows.EachNamed("parley webhook test", err))
		return 2
	}
	if _, ok := svc.Config(pos[0]); !ok {
		fmt.Fprintf(stderr, "parley webhook test: no webhook named %q in %s\n", pos[0], out.webhooks)
		return 2
	}
	e := engine.New(widgets.Registered(), engine.WithServices(sim.Services{Hooks: svc}))
	src, _ := json.Marshal(map[string]any{
		"id": "webhook-test", "name": "webhook test",
		"widgets": []any{map[string]any{"id": "call", "type": "webhook", "webhook": pos[0], "result": "webhook"}},
	})
	f, err := e.Load(src)
	if err != nil {
		fmt.Fprintln(stderr, "parley webhook test:", err)
		return 2
	}
	contact := flows.Contact{URN: sampleURN}
	if len(fields) > 0 {
		contact.Fields = fields
	}
	_, evs, err := e.Start(ctx, f, engine.StartParams{Contact: contact, Variables: vars, Environment: flows.EnvSandbox})
	if err != nil {
		fmt.Fprintln(stderr, "parley webhook test:", err)
		return 1
	}
	code := 1
	for _, ev := range evs {
		switch ev.Type {
		case flows.EventWebhookCalled:
			fmt.Fprint(stdout, callout.DescribeEvent(ev))
			if ev.Outcome == flows.OutcomeSuccess {
				code = 0
			}
		case flows.EventError:
			fmt.Fprintln(stderr, "error:", ev.Message)
		}
	}
	return code
}

// quoteAll quotes each of args, separated by spaces.
func quoteAll(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, " ")
}

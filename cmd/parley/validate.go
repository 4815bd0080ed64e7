package main

import (
	"fmt"
	"io"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// validate checks flow files: errors on stderr and exit 2; warnings too, exit 0.
func validate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", "FLOW.json...", stderr)
	var imp importFlags
	imp.register(fs, "for a RapidPro export: the `NAME` (or uuid) of the flow the ok line names (default: the first); every flow is checked")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return parseStatus(err)
	}
	if len(pos) == 0 {
		fmt.Fprintln(stderr, "parley validate: the FLOW.json file is missing: give one or more flow files")
		fs.Usage()
		return 2
	}
	e := engine.New(widgets.Registered())
	code := 0
	for _, p := range pos {
		ld, err := imp.load(e, p, stderr)
		if err != nil {
			printLoadError(stderr, p, err)
			code = 2
			continue
		}
		// A subflow is one of the flows beside the file, which simulate
		// and test load, or of the same export: one that is neither is
		// likely a typo, which would show only when a session fails there.
		lib := sim.NewLibrary(ld.all...)
		sim.LoadSiblings(e, lib, p)
		known := lib.IDs()
		for _, x := range ld.all {
			for _, w := range x.Warnings {
				fmt.Fprintf(stderr, "%s: warning: %s\n", p, w.Error())
			}
			for _, w := range flows.MissingSubflows(x, known) {
				// A file named for the id, with another id, is likely
				// the flow meant: say what its id is.
				if hint := sim.FileIDHint(p, flows.EnteredFlow(x.Widget(w.Widget))); hint != "" {
					w.Message += "; " + hint
				}
				fmt.Fprintf(stderr, "%s: warning: %s\n", p, w.Error())
			}
		}
		if len(ld.failed) > 0 {
			// An export is valid only when every flow of it imports.
			for _, name := range ld.failed {
				fmt.Fprintf(stderr, "%s: flow %q did not import (the import errors above say why)\n", p, name)
			}
			code = 2
			continue
		}
		// A flow needs a name or an id: without a name, the id names it.
		name := ld.flow.Name
		if name == "" {
			name = ld.flow.ID
		}
		n, s := len(ld.flow.Widgets), "s"
		if n == 1 {
			s = ""
		}
		fmt.Fprintf(stdout, "%s: ok (%s, %d widget%s)\n", p, name, n, s)
	}
	return code
}

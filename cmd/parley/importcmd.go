package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/rapidpro"
	"github.com/parleyhq/parley/sim"
)

// importFlags are the flags of commands that accept RapidPro exports.
type importFlags struct {
	flow       string
	lang       string
	rewrite    multi
	dateFormat string
	country    string
}

// register adds the flags; flowUsage says what --flow does for the command.
func (i *importFlags) register(fs *flag.FlagSet, flowUsage string) {
	fs.StringVar(&i.flow, "flow", "", flowUsage)
	fs.StringVar(&i.lang, "lang", "", "for a RapidPro export: the language to take texts from (default: the flow's base)")
	fs.Var(&i.rewrite, "rewrite-url", "for a RapidPro export: rewrite webhook URLs starting with `FROM=TO` (repeatable)")
	fs.StringVar(&i.dateFormat, "date-format", "", "for a RapidPro export: the workspace's date `FORMAT` (DD-MM-YYYY, MM-DD-YYYY or YYYY-MM-DD), written into each flow's environment (default: day first)")
	fs.StringVar(&i.country, "country", "", "for a RapidPro export: the workspace's `COUNTRY` (ISO 3166-1 alpha-2, such as US), written into each flow's environment, for phone numbers without a country code")
}

func (i *importFlags) options() (rapidpro.Options, error) {
	o := rapidpro.Options{Lang: strings.TrimSpace(i.lang)}
	// Checked as parley simulate checks --contact-language: a code no
	// translation could match is refused, not imported in the base
	// language with a warning. Legacy codes (fre) have the shape.
	if fe := sim.CheckLanguageCode("--lang", "language", o.Lang); fe != nil {
		return o, fmt.Errorf("%s: %s", fe.Path, fe.Message)
	}
	if i.dateFormat != "" || i.country != "" {
		env := &flows.Environment{DateFormat: strings.ToUpper(strings.TrimSpace(i.dateFormat)), DefaultCountry: strings.TrimSpace(i.country)}
		for _, fe := range env.Check("") {
			flag := "--date-format"
			if fe.Path == ".default_country" {
				flag = "--country"
			}
			return o, fmt.Errorf("%s: %s", flag, fe.Message)
		}
		o.Environment = env
	}
	for _, r := range i.rewrite {
		from, to, ok := strings.Cut(r, "=")
		if !ok || from == "" {
			return o, fmt.Errorf("--rewrite-url %q: expected FROM=TO", r)
		}
		if o.RewriteURLs == nil {
			o.RewriteURLs = map[string]string{}
		}
		o.RewriteURLs[from] = to
	}
	return o, nil
}

// loaded is what load read from one file.
type loaded struct {
	// flow is the flow to run; all is every flow loaded (for subflows).
	flow *flows.Flow
	all  []*flows.Flow
	// failed names the flows of a RapidPro export that did not import (the
	// report's error lines, already printed, say why).
	failed []string
}

// load reads a flow file, or a RapidPro export (converted on the fly).
func (i *importFlags) load(e *engine.Engine, path string, stderr io.Writer) (*loaded, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	data = flows.TrimBOM(data)
	if !rapidpro.IsExport(data) && !rapidpro.IsNewFormat(data) {
		// Running the file's one flow whatever these flags say would hide
		// a wrong file or a flag meant for another command.
		switch {
		case i.flow != "":
			return nil, fmt.Errorf("--flow %q applies only to a RapidPro export (a file with several flows); this is a Parley flow file, which has one flow", i.flow)
		case i.lang != "":
			return nil, fmt.Errorf("--lang %q applies only to a RapidPro export; a Parley flow file takes its language from its \"language\" and translations", i.lang)
		case i.dateFormat != "" || i.country != "":
			return nil, errors.New("--date-format and --country apply only to a RapidPro export; a Parley flow file has them in its \"environment\"")
		case len(i.rewrite) > 0:
			return nil, fmt.Errorf("--rewrite-url %q applies only to a RapidPro export; in a Parley flow file, edit the webhook URLs, or name configured webhooks (--webhooks)", i.rewrite[0])
		}
		f, err := sim.LoadFile(e, path)
		if err != nil {
			return nil, err
		}
		return &loaded{flow: f, all: []*flows.Flow{f}}, nil
	}
	o, err := i.options()
	if err != nil {
		return nil, err
	}
	res, err := rapidpro.Convert(data, o)
	if err != nil {
		return nil, err
	}
	for _, l := range res.Report.Lines {
		if l.Level != "info" {
			fmt.Fprintf(stderr, "%s: import: %s\n", path, l.String())
		}
	}
	out := &loaded{}
	names := make([]string, len(res.Flows))
	for n, cf := range res.Flows {
		names[n] = cf.Name
	}
	for _, cf := range res.Flows {
		if cf.Failed {
			out.failed = append(out.failed, cf.Name)
			if out.flow == nil && i.flow != "" && (i.flow == cf.Name || i.flow == cf.ID) {
				return nil, fmt.Errorf("flow %q did not import (the import errors above say why)", cf.Name)
			}
			continue
		}
		f, err := e.Load(cf.JSON)
		if err != nil {
			return nil, fmt.Errorf("imported flow %q: %w", cf.Name, err)
		}
		out.all = append(out.all, f)
		if out.flow == nil && (i.flow == "" || i.flow == cf.Name || i.flow == cf.ID) {
			out.flow = f
		}
	}
	if out.flow == nil {
		if i.flow != "" {
			return nil, noFlowNamed(i.flow, names)
		}
		if len(out.failed) > 0 {
			// Said as when some flows import: each that did not, by name.
			errs := make([]error, len(out.failed))
			for n, name := range out.failed {
				errs[n] = fmt.Errorf("flow %q did not import (the import errors above say why)", name)
			}
			return nil, errors.Join(errs...)
		}
		return nil, errors.New("the export has no flow that imported")
	}
	return out, nil
}

// noFlowNamed is the error of a --flow that names no flow of an export whose
// flows are names, the same for import, validate and simulate: it lists
// them, and suggests those meant when some are close (flows.Suggestions).
func noFlowNamed(name string, names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("--flow: no flow named %q in the export (it has no flows)", name)
	}
	quoted := make([]string, len(names))
	for n, x := range names {
		quoted[n] = fmt.Sprintf("%q", x)
	}
	hint := ""
	if near := flows.Suggestions(name, names); len(near) > 0 {
		hint = "did you mean " + flows.OrList(flows.Quoted(near)) + "? "
	}
	return fmt.Errorf("--flow: no flow named %q in the export (%sit has %s)", name, hint, strings.Join(quoted, ", "))
}

// importCmd: parley import rapidpro EXPORT.json [-o DIR].
func importCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "rapidpro" {
		return firstWordUsage(args, stdout, stderr, firstWord{
			cmd: "import", what: "format", want: "rapidpro", rest: "EXPORT.json",
			use:  "Usage: parley import rapidpro EXPORT.json [-o DIR] [--flow NAME] [--lang L] [--rewrite-url FROM=TO] [--date-format FORMAT] [--country CC]",
			hint: " (TextIt exports are RapidPro exports)",
		})
	}
	fs := newFlags("import rapidpro", "EXPORT.json [-o DIR]", stderr)
	outDir := fs.String("o", ".", "write the converted flows into `DIR`")
	var imp importFlags
	imp.register(fs, "write only the flow `NAME` (or uuid) (default: every flow of the export)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return parseStatus(err)
	}
	if len(pos) != 1 {
		if len(pos) == 0 {
			fmt.Fprintln(stderr, "parley import rapidpro: the EXPORT.json file is missing")
		} else {
			fmt.Fprintf(stderr, "parley import rapidpro: one EXPORT.json file expected, got %d (%s)\n", len(pos), quoteAll(pos))
		}
		fs.Usage()
		return 2
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, "parley import:", err)
		return 1
	}
	data = flows.TrimBOM(data)
	o, err := imp.options()
	if err != nil {
		fmt.Fprintln(stderr, "parley import:", err)
		return 2
	}
	res, err := rapidpro.Convert(data, o)
	if errors.Is(err, rapidpro.ErrNotExport) {
		fmt.Fprintf(stderr, "parley import: %s is not a RapidPro export (no \"flows\" with action_sets/rule_sets)\n", pos[0])
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "parley import: %s: %v\n", pos[0], err)
		return 2
	}
	if imp.flow != "" {
		// Only the chosen flow, and only its report lines.
		var names []string
		var keep []rapidpro.Flow
		for _, f := range res.Flows {
			names = append(names, f.Name)
			if len(keep) == 0 && (f.Name == imp.flow || f.ID == imp.flow) {
				keep = append(keep, f)
			}
		}
		if len(keep) == 0 {
			fmt.Fprintf(stderr, "parley import: %s: %v\n", pos[0], noFlowNamed(imp.flow, names))
			return 2
		}
		res.Flows = keep
		var lines []rapidpro.ReportLine
		for _, l := range res.Report.Lines {
			if l.Flow == keep[0].Name {
				lines = append(lines, l)
			}
		}
		res.Report.Lines = lines
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		fmt.Fprintln(stderr, "parley import:", err)
		return 1
	}
	code := 0
	// Two flows whose names give the same file name ("Parent Flow", "Parent
	// flow!") get different files: the later one a numbered suffix, said so.
	taken := map[string]string{}
	for _, f := range res.Flows {
		if f.Failed {
			code = 1
			continue
		}
		base := fileName(f.Name, f.ID)
		name, note := base, ""
		for n := 2; taken[name] != ""; n++ {
			name = fmt.Sprintf("%s_%d", base, n)
			note = fmt.Sprintf("; %s.json is %q", base, taken[base])
		}
		taken[name] = f.Name
		p := filepath.Join(*outDir, name+".json")
		if err := writeWhole(p, append(f.JSON, '\n'), 0o644); err != nil {
			state := "it was not written"
			if _, serr := os.Stat(p); serr == nil {
				state = "the file there was left as it was"
			}
			fmt.Fprintf(stderr, "parley import: cannot write %s: %v; %s\n", p, unwrapPath(err), state)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %s (%s%s)\n", p, f.Name, note)
	}
	fmt.Fprint(stdout, res.Report.String())
	return code
}

func fileName(name, id string) string {
	k := flows.Key(name)
	if k == "" {
		k = id
	}
	return k
}

// writeWhole writes data to path through a temporary file in its directory,
// synced and renamed over path, so that path holds either its earlier
// content or all of data, never part of it (a full disk fails the
// temporary file, which is removed).
func writeWhole(path string, data []byte, perm os.FileMode) error {
	// Made with perm, as os.WriteFile makes a file, so the umask applies.
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.%d.tmp", filepath.Base(path), rand.Uint32()))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

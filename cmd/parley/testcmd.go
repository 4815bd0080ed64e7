package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// test runs scripted conversations: files, or folders searched for *.test.json.
func test(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fset := newFlags("test", "PATH...", stderr)
	var limits turnLimits
	limits.register(fset)
	webhooks := fset.String("webhooks", "", "configured webhooks `FILE` (JSON, as for parley serve) for every script, added to a script's own \"webhooks\" and replacing one of the same name")
	pos, err := parseInterspersed(fset, args)
	if err != nil {
		return parseStatus(err)
	}
	limitOpts, err := limits.options()
	if err != nil {
		fmt.Fprintln(stderr, "parley test:", err)
		return 2
	}
	if len(pos) == 0 {
		fmt.Fprintln(stderr, "parley test: the PATH is missing: give one or more *.test.json files or folders holding them")
		fset.Usage()
		return 2
	}
	o := sim.ScriptOptions{Engine: limitOpts}
	if *webhooks != "" {
		if o.Webhooks, err = sim.LoadWebhooks(*webhooks); err != nil {
			fmt.Fprintf(stderr, "parley test: --webhooks: %s\n", strings.ReplaceAll(err.Error(), "\n", "\nparley test: --webhooks: "))
			return 2
		}
	}
	var files []string
	for _, p := range pos {
		st, err := os.Stat(p)
		if err != nil {
			fmt.Fprintln(stderr, "parley test:", err)
			return 2
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".test.json") {
				files = append(files, path)
			}
			return nil
		})
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "parley test: no *.test.json files found")
		return 2
	}
	passed, failed := 0, 0
	for _, f := range files {
		rep, err := runScript(ctx, f, o)
		if err != nil {
			// One problem a line, as failures are.
			fmt.Fprintf(stdout, "FAIL %s\n    %s\n", f, strings.ReplaceAll(err.Error(), "\n", "\n    "))
			failed++
			continue
		}
		if rep.Passed() {
			fmt.Fprintf(stdout, "ok   %s\n", f)
			passed++
			continue
		}
		fmt.Fprintf(stdout, "FAIL %s\n", f)
		for _, msg := range rep.Failures {
			fmt.Fprintln(stdout, entry("    ", msg))
		}
		// What the webhooks answered explains a Failure path taken.
		for _, note := range rep.Webhooks {
			fmt.Fprintln(stdout, entry("    ", "["+note+"]"))
		}
		failed++
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

// runScript runs one script. A panic in one of its turns is a bug of
// Parley's, not the script's: that file fails with it, in a line, and the
// other files still run.
func runScript(ctx context.Context, path string, o sim.ScriptOptions) (rep *sim.ScriptReport, err error) {
	defer func() {
		if p := recover(); p != nil {
			rep, err = nil, fmt.Errorf("internal error: %v", p)
		}
	}()
	return sim.RunScriptWith(ctx, widgets.Registered(), path, o)
}

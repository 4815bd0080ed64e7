package server

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helpFlag is a flag as `parley serve --help` lists it.
type helpFlag struct{ env, def string }

// serveHelp runs `parley serve --help` with no variable set and reads
// each flag's variable and default from it.
func serveHelp(t *testing.T) map[string]helpFlag {
	t.Helper()
	var out strings.Builder
	if _, err := ServeFlags([]string{"--help"}, func(string) string { return "" }, &out); err == nil {
		t.Fatal("--help parsed as settings")
	}
	flags := map[string]helpFlag{}
	line := regexp.MustCompile(`(?m)^  --([a-z-]+) [^\n]*\n\s+[^\n]*\((PARLEY_[A-Z_]+)(?:; default ([^)]*))?\)$`)
	for _, m := range line.FindAllStringSubmatch(out.String(), -1) {
		flags[m[1]] = helpFlag{env: m[2], def: m[3]}
	}
	if len(flags) != len(settings) {
		t.Fatalf("read %d flags from --help, want %d:\n%s", len(flags), len(settings), out.String())
	}
	return flags
}

// docDefault reads a default as docs/api.md's table writes it: `text`,
// none, 1 MiB, 168h, 0 (keep).
func docDefault(s string) string {
	s = strings.Trim(strings.TrimSpace(s), "`")
	switch {
	case s == "none":
		return ""
	case strings.HasSuffix(s, " MiB"):
		n, err := strconv.Atoi(strings.TrimSuffix(s, " MiB"))
		if err == nil {
			return strconv.Itoa(n << 20)
		}
	}
	s, _, _ = strings.Cut(s, " (")
	return s
}

// sameSetting reports whether a default of --help and one of the docs are
// the same value: durations and schedules are compared as durations.
func sameSetting(help, doc string) bool {
	if help == doc {
		return true
	}
	hs, ds := strings.Split(help, ","), strings.Split(doc, ",")
	if len(hs) != len(ds) {
		return false
	}
	for i := range hs {
		h, err1 := time.ParseDuration(hs[i])
		d, err2 := time.ParseDuration(ds[i])
		if ds[i] == "0" {
			d, err2 = 0, nil
		}
		if err1 != nil || err2 != nil || h != d {
			return false
		}
	}
	return true
}

// Every flag `parley serve --help` lists is in docs/api.md's table of
// Starting the server with the same default, and in its synopsis and list
// of variables with the same variable; the table lists no flag the server
// does not have.
func TestServeHelpMatchesDocs(t *testing.T) {
	raw, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	start := strings.Index(doc, "## Starting the server")
	end := strings.Index(doc[start+1:], "\n## ")
	section := doc[start : start+1+end]
	rows := map[string]string{}
	for _, l := range strings.Split(section, "\n") {
		if !strings.HasPrefix(l, "| `--") {
			continue
		}
		cells := strings.SplitN(l, " | ", 3)
		rows[strings.Trim(strings.TrimPrefix(cells[0], "| "), "`-")] = cells[1]
	}
	help := serveHelp(t)
	for name, h := range help {
		d, ok := rows[name]
		if !ok {
			t.Errorf("--%s (--help) has no row in docs/api.md's table", name)
			continue
		}
		if !sameSetting(h.def, docDefault(d)) {
			t.Errorf("--%s: --help gives the default %q, docs/api.md %q", name, h.def, d)
		}
		if !strings.Contains(section, "`"+h.env+"`") {
			t.Errorf("--%s: its variable %s is not in docs/api.md's list", name, h.env)
		}
		if !strings.Contains(section, "[--"+name+" ") && !strings.Contains(section, "[--"+name+"]") {
			t.Errorf("--%s is not in docs/api.md's synopsis", name)
		}
	}
	for name := range rows {
		if _, ok := help[name]; !ok {
			t.Errorf("docs/api.md's table has --%s, which parley serve does not have", name)
		}
	}
	// The synopsis's values that are defaults (numbers, durations) are
	// the defaults.
	for _, m := range regexp.MustCompile(`\[--([a-z-]+) ([0-9][^\]\s]*)\]`).FindAllStringSubmatch(section, -1) {
		if h, ok := help[m[1]]; ok && !sameSetting(h.def, m[2]) {
			t.Errorf("docs/api.md's synopsis gives --%s %s, the default is %q", m[1], m[2], h.def)
		}
	}
}

// Every environment variable the server's code reads by name (os.Getenv,
// os.LookupEnv) is named in docs/api.md.
func TestEnvironmentVariablesDocumented(t *testing.T) {
	raw, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	read := regexp.MustCompile(`os\.(?:Getenv|LookupEnv)\(("[A-Z0-9_]+"|server\.Env[A-Za-z]+|Env[A-Za-z]+)\)`)
	var names []string
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range read.FindAllStringSubmatch(string(src), -1) {
			names = append(names, m[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, `"GOGC"`) {
		t.Fatalf("found no read of GOGC among %v: the search is broken", names)
	}
	for _, n := range names {
		name, err := strconv.Unquote(n)
		if err != nil {
			// A constant of this package: its value.
			c := strings.TrimPrefix(n, "server.")
			name = envConstants[c]
			if name == "" {
				t.Errorf("%s is read, and the test does not know its value: add it to envConstants", n)
				continue
			}
		}
		if !strings.Contains(string(raw), "`"+name+"`") {
			t.Errorf("the server reads %s (%s), which docs/api.md does not name", name, n)
		}
	}
}

// envConstants are the variables read through a constant of this package.
var envConstants = map[string]string{"EnvData": EnvData}

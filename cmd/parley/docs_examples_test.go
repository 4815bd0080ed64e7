package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fencedBlocks returns the fenced code blocks of a markdown file, each with
// its info string (json, sh, or "").
func fencedBlocks(t *testing.T, file string) (infos, blocks []string) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	for i := 0; i < len(lines); i++ {
		info, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "```")
		if !ok {
			continue
		}
		start := i + 1
		for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
		}
		infos = append(infos, info)
		blocks = append(blocks, strings.Join(lines[start:i], "\n"))
	}
	return infos, blocks
}

// TestReadmeSimulateExample runs the README's `parley simulate` example as
// written and checks that it prints the conversation the README shows.
func TestReadmeSimulateExample(t *testing.T) {
	_, blocks := fencedBlocks(t, "../../README.md")
	for i, b := range blocks {
		cmd, ok := strings.CutPrefix(b, "printf '")
		if !ok || !strings.Contains(b, "parley simulate") {
			continue
		}
		input, rest, _ := strings.Cut(cmd, "' | go run ./cmd/parley simulate")
		input = strings.ReplaceAll(input, `\n`, "\n")
		args := strings.Fields(strings.ReplaceAll(rest, "\\\n", " "))
		for k, a := range args {
			if strings.HasPrefix(a, "examples/") {
				args[k] = filepath.Join("../..", a)
			}
		}
		if i+1 >= len(blocks) {
			t.Fatal("the README's simulate example has no output block after it")
		}
		code, stdout, stderr := parley(t, input, append([]string{"simulate"}, args...)...)
		if want := blocks[i+1] + "\n"; code != 0 || stdout != want {
			t.Errorf("parley simulate %s: exit %d, stdout\n%s\nthe README shows\n%s\nstderr: %s", strings.Join(args, " "), code, stdout, want, stderr)
		}
		return
	}
	t.Fatal("the README has no parley simulate example")
}

// TestTestingDocScript runs docs/testing.md's first script, the order
// status example's, beside a copy of that flow as the doc places it
// ("flow": "../flow.json" from tests/), and expects it to pass.
func TestTestingDocScript(t *testing.T) {
	infos, blocks := fencedBlocks(t, "../../docs/testing.md")
	script := ""
	for i, b := range blocks {
		if infos[i] == "json" && strings.HasPrefix(strings.TrimSpace(b), "{") && strings.Contains(b, `"conversation"`) {
			script = b
			break
		}
	}
	if !strings.Contains(script, "order-status") {
		t.Fatalf("docs/testing.md's first script is no longer the order status one; adjust this test:\n%s", script)
	}
	flow, err := os.ReadFile(filepath.Join(examples, "order-status", "flow.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, dir, "flow.json", string(flow))
	p := writeFile(t, dir, "tests/doc.test.json", script)
	code, stdout, stderr := parley(t, "", "test", p)
	if code != 0 || !strings.HasPrefix(stdout, "ok ") {
		t.Errorf("parley test on docs/testing.md's script: exit %d\n%s%s", code, stdout, stderr)
	}
}

package server

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A --data (or PARLEY_DATA) that names a file, the store file itself among
// them, is a usage error naming the setting, exit 2, before anything is
// opened: not "mkdir ...: not a directory" at start.
func TestDataFlagNamesAFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, DBFile)
	if err := os.WriteFile(db, []byte("not touched"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		env  string
		want string
	}{
		{args: []string{"--data", db}, want: "parley serve: --data: " + db + " is a file, not a directory: give the directory that holds " + DBFile + " (--data " + dir + ")\n"},
		{env: db, want: "parley serve: PARLEY_DATA: " + db + " is a file, not a directory: give the directory that holds " + DBFile + " (--data " + dir + ")\n"},
	} {
		if c.env != "" {
			t.Setenv(EnvData, c.env)
		}
		var stderr strings.Builder
		code := Main(context.Background(), append([]string{"--addr", "127.0.0.1:0"}, c.args...), io.Discard, &stderr)
		if code != 2 || stderr.String() != c.want {
			t.Errorf("%v %s: exit %d, stderr %q; want exit 2 and %q", c.args, c.env, code, stderr.String(), c.want)
		}
	}
	if b, err := os.ReadFile(db); err != nil || string(b) != "not touched" {
		t.Errorf("the file named: %q, %v", b, err)
	}
}

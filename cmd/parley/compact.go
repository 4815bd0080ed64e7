package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/parleyhq/parley/server"
	"github.com/parleyhq/parley/store"
)

// compactCmd: parley compact [--data DIR] [--no-backup]. It rewrites the
// store file of a stopped server without its free pages.
func compactCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("compact", "[flags]", stderr)
	data := fs.String("data", envOr(server.EnvData, server.DefaultDataDir), "data directory of the stopped server ("+server.EnvData+")")
	noBackup := fs.Bool("no-backup", false, "delete the original file once the compacted copy is checked and in place, instead of keeping it as parley.db"+store.BackupSuffix)
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "parley compact: unexpected argument %q: give the data directory with --data (parley compact --data %s)\n", fs.Arg(0), fs.Arg(0))
		return 2
	}
	path := filepath.Join(*data, server.DBFile)
	// A directory without a store file is a mistyped --data, or a server
	// started elsewhere: said so, naming where the directory came from.
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == "data" })
		from := "--data " + *data
		switch {
		case given:
		case os.Getenv(server.EnvData) != "":
			from = server.EnvData + " " + *data
		default:
			from += " (the default)"
		}
		fmt.Fprintf(stderr, "parley compact: %s: there is no store file %s (%v): give the data directory of the stopped server with --data (or %s)\n",
			from, path, unwrapPath(err), server.EnvData)
		return 2
	}
	fmt.Fprintf(stderr, "parley compact: copying %s without its free pages...\n", path)
	res, err := store.Compact(ctx, path, store.CompactOptions{NoBackup: *noBackup})
	if err != nil {
		fmt.Fprintln(stderr, "parley", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s → %s (%d keys in %d buckets checked; %d sessions, %d event log values and %d contacts decoded; %.1f s)\n", path,
		mb(res.BytesBefore), mb(res.BytesAfter), res.Keys, res.Buckets,
		res.Records.Sessions, res.Records.Events, res.Records.Contacts, res.Duration.Seconds())
	if res.Backup != "" {
		fmt.Fprintf(stdout, "the original is kept as %s: delete it once the server runs well on the new file\n", res.Backup)
	}
	return 0
}

// mb formats a file size in decimal units.
func mb(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

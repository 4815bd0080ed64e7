package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/store"
)

// backupStall is how long a download may go without receiving a byte.
const backupStall = 2 * time.Minute

// backupCmd: parley backup --url URL --out FILE. It downloads a running
// server's store (GET /v1/backup) to FILE.NNN.partial, syncs it, checks it as
// a store and against the Content-Length, and only then names it FILE.
func backupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("backup", "--url URL --out FILE [flags]", stderr)
	rawURL := fs.String("url", "", "the running server, `URL` http://HOST:PORT (or https:// behind a proxy)")
	apiKey := fs.String("api-key", "", "API key, for a server that has keys")
	out := fs.String("out", "", "write the copy to `FILE` (downloaded to FILE.NNN.partial first)")
	force := fs.Bool("force", false, "replace FILE when it exists (a FILE that is a symbolic link: the file it leads to, the link kept)")
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "parley backup: "+format+"\n\n", a...)
		fs.Usage()
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usage("unexpected argument %q: give the server with --url and the file with --out", fs.Arg(0))
	case *rawURL == "":
		return usage("--url URL is required (the running server, e.g. http://127.0.0.1:8080)")
	case *out == "":
		return usage("--out FILE is required")
	}
	base, err := backupURL(*rawURL)
	if err != nil {
		fmt.Fprintln(stderr, "parley backup: --url:", err)
		return 2
	}
	if err := checkOut(*out, *force); err != nil {
		fmt.Fprintln(stderr, "parley backup: --out:", err)
		return 2
	}
	target, err := outTarget(*out)
	if err != nil {
		fmt.Fprintln(stderr, "parley backup: --out:", err)
		return 2
	}
	res, err := runBackup(ctx, base, *apiKey, target)
	if err != nil {
		fmt.Fprintln(stderr, "parley backup:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s, %d sessions, %d event log values and %d contacts checked (%.1f s)\n", *out,
		mb(res.Bytes), res.Records.Sessions, res.Records.Events, res.Records.Contacts, res.Duration.Seconds())
	return 0
}

// backupURL checks --url and returns the URL of GET /v1/backup on it.
func backupURL(raw string) (string, error) {
	u, err := serverURL(raw, true)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(u.String(), "/") + "/v1/backup", nil
}

// checkOut refuses an --out that cannot be written: in a directory that
// does not exist, a directory itself, or a file that exists without --force.
func checkOut(out string, force bool) error {
	dir := filepath.Dir(out)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s: the directory %s does not exist", out, dir)
	}
	fi, err := os.Stat(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a directory: give a file name", out)
	case !force:
		return fmt.Errorf("%s exists: give another name, or --force to replace it", out)
	case store.InUse(out):
		return errOutInUse(out)
	}
	return nil
}

// outTarget is the file the copy is written to: out, or, when out is a
// symbolic link, the file it leads to, as parley compact does. The copy is
// written next to that file and renamed over it, on its disk, and the link
// is left as it is: renamed over the link, it would replace the link with
// a file in the link's directory and leave the old file where it pointed.
// A link that leads to no file is refused, as cp refuses to write through
// it: where the operator meant the copy to go is not known.
func outTarget(out string) (string, error) {
	fi, err := os.Lstat(out)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return out, nil
	}
	target, err := store.ResolveStorePath(out)
	if err != nil {
		dest, _ := os.Readlink(out)
		return "", fmt.Errorf("%s is a symbolic link to %s, which does not exist: give the path of a file, or a link to an existing one", out, dest)
	}
	return target, nil
}

// errOutInUse refuses to replace a store a server has open: it would go on
// writing to the file it opened, no longer in the directory, and every
// write after the backup would be lost at its next start.
func errOutInUse(out string) error {
	return fmt.Errorf("%s is the store of a running parley serve (or compact), which would go on writing to the replaced file and lose those writes: give another name", out)
}

// runBackup downloads and syncs the copy, writes the list of free pages
// into it when it has none, checks it, then renames it to out.
// The copy is written to a file of its own next to out (FILE.NNN.partial,
// made by this run, so that two runs never share one and no file this run
// did not make is removed), which is removed on any failure.
func runBackup(ctx context.Context, endpoint, apiKey, out string) (store.VerifyResult, error) {
	start := time.Now()
	pf, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".*.partial")
	if err != nil {
		return store.VerifyResult{}, err
	}
	partial := pf.Name()
	pf.Close()
	n, err := download(ctx, endpoint, apiKey, partial)
	if err != nil {
		rmErr := os.Remove(partial)
		var we *copyWriteError
		if errors.As(err, &we) {
			// The local disk's failure, not the download's.
			removed := "the partial file was removed"
			if rmErr != nil {
				removed = fmt.Sprintf("the partial file %s could not be removed: %v", partial, rmErr)
			}
			return store.VerifyResult{}, fmt.Errorf("cannot write the backup to %s: %w (%s of %s bytes written); %s",
				out, we.err, groupDigits(we.written), groupDigits(we.total), removed)
		}
		return store.VerifyResult{}, err
	}
	if fi, err := os.Stat(partial); err != nil || fi.Size() != n {
		os.Remove(partial)
		if err != nil {
			return store.VerifyResult{}, err
		}
		return store.VerifyResult{}, fmt.Errorf("%s holds %d bytes, %d were downloaded", partial, fi.Size(), n)
	}
	// A copy of a file whose commits do not write the list of free pages
	// (one with many of them) has none: with it written, a server restored
	// from the copy reads it instead of reading the whole file at start.
	// It is written before the check, which then reads the list instead of
	// rebuilding it, and checks it. A copy that is damaged is refused
	// before anything is written to it, and one that is not a store the
	// check refuses: its own error says what is wrong.
	_, _ = store.WriteFreelist(partial)
	res, err := store.Verify(ctx, partial)
	if err != nil {
		os.Remove(partial)
		return res, fmt.Errorf("the copy from %s does not check: %w", endpoint, err)
	}
	if store.InUse(out) {
		// A server started on out while the copy downloaded.
		os.Remove(partial)
		return res, errOutInUse(out)
	}
	if err := os.Rename(partial, out); err != nil {
		os.Remove(partial)
		return res, err
	}
	if err := store.SyncDir(filepath.Dir(out)); err != nil {
		return res, fmt.Errorf("sync %s: %w", filepath.Dir(out), err)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// download writes the answer of GET endpoint to path and syncs it. It
// fails unless the server answers a store file with a Content-Length and
// sends that many bytes.
func download(ctx context.Context, endpoint, apiKey, path string) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return 0, err
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	client := &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: time.Minute,
	}}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("GET %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", endpoint, answerError(resp, apiKey != ""))
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "application/octet-stream" {
		return 0, fmt.Errorf("GET %s answered %q, not a store file: is --url a Parley server?", endpoint, resp.Header.Get("Content-Type"))
	}
	if resp.ContentLength < 0 {
		return 0, fmt.Errorf("GET %s: the answer has no Content-Length, so a copy cut short could not be told from a whole one", endpoint)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	// A download that receives nothing for backupStall is given up.
	stall := time.AfterFunc(backupStall, func() {
		cancel(fmt.Errorf("nothing received for %s", backupStall))
	})
	defer stall.Stop()
	fw := &fileWriter{f: f}
	n, err := io.Copy(fw, &stallReader{r: resp.Body, stall: stall})
	if fw.err != nil {
		f.Close()
		return n, newCopyWriteError(n, resp.ContentLength, fw.err)
	}
	if err != nil {
		f.Close()
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause
		}
		return n, fmt.Errorf("GET %s: the download ended after %d of %d bytes: %w", endpoint, n, resp.ContentLength, err)
	}
	if n != resp.ContentLength {
		f.Close()
		return n, fmt.Errorf("GET %s: %d bytes received, the server announced %d", endpoint, n, resp.ContentLength)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return n, newCopyWriteError(n, n, err)
	}
	if err := f.Close(); err != nil {
		return n, newCopyWriteError(n, n, err)
	}
	return n, nil
}

// fileWriter writes the download to its file and keeps the file's error,
// so that a copy that cannot be written (a full disk) is told from a
// download that ended.
type fileWriter struct {
	f   *os.File
	err error
}

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// copyWriteError is a failure to write (or sync) the copy to its file
// after written of total bytes: err is the system's error, without the
// partial file's name, which the message of runBackup replaces with the
// --out file's.
type copyWriteError struct {
	written, total int64
	err            error
}

func (e *copyWriteError) Error() string {
	return fmt.Sprintf("writing the copy: %v (%d of %d bytes written)", e.err, e.written, e.total)
}

func newCopyWriteError(written, total int64, err error) *copyWriteError {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &copyWriteError{written: written, total: total, err: err}
}

// groupDigits writes n with its digits in groups of three: 1,024,000.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// stallReader restarts the stall timer on every read that brings bytes.
type stallReader struct {
	r     io.Reader
	stall *time.Timer
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.stall.Reset(backupStall)
	}
	return n, err
}

// answerError describes an answer other than 200: the status, and the
// message of the API's error shape when it has one.
func answerError(resp *http.Response, keyGiven bool) string {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := resp.Status
	if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
		msg += ": " + e.Error.Message
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		if keyGiven {
			msg += " (the server does not know the key given with --api-key)"
		} else {
			msg += " (give the server's key with --api-key)"
		}
	case http.StatusNotFound:
		msg += " (a server without GET /v1/backup: an older Parley, or not Parley)"
	}
	return msg
}

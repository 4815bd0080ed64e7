package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/callout"
	exampleflows "github.com/parleyhq/parley/examples"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/cputime"
	"github.com/parleyhq/parley/internal/sockwrite"
	"github.com/parleyhq/parley/rapidpro"
	"github.com/parleyhq/parley/server"
	"github.com/parleyhq/parley/store"
)

// Bounds of parley bench: it is a measuring tool, not a traffic generator.
const (
	benchMaxDuration    = 10 * time.Minute
	benchMaxConcurrency = 4096
	benchMaxRate        = 1_000_000
	benchMaxIdle        = 10_000_000
	benchMaxContacts    = 10_000_000
	// benchChannel and benchFlowID name the channel and flow of a run in
	// process; against --url a run's are named with its receiver's port
	// (benchClient.forPort).
	benchChannel = "bench"
	benchFlowID  = "bench-flow"
	// benchDrain is how long the run waits, after the last message, for the
	// event deliveries still on their way.
	benchDrain = 15 * time.Second
)

// benchScripts are the inbound texts of one conversation with each built-in
// example, from the first message to the one that completes the session.
var benchScripts = map[string][]string{
	"order-status":     {"hi", "CU001", "thanks, see you"},
	"favourite-colour": {"hi", "blue"},
}

// benchOptions are the flags of parley bench.
type benchOptions struct {
	url         string
	apiKey      string
	duration    time.Duration
	concurrency int
	rate        int
	flow        string
	messages    string
	events      string
	idle        int
	json        bool
	progress    bool
	cpuProfile  string
	trace       string
	dataParent  string
	keep        bool
	noFsync     bool
	noIDs       bool
	idShape     string
	contacts    int
	dedupe      time.Duration
	sessionsRet time.Duration
	batch       int
	// webhooksFile is --webhooks, the named webhooks of a --flow FILE;
	// callWebhooks (--call-webhooks) lets the flow's webhooks go where they
	// are written rather than refusing those that leave this machine.
	webhooksFile string
	callWebhooks bool
	// examples are the flows the in-process server's new store is seeded
	// with, which the run's subflows may enter (nil: the built-in ones).
	examples fs.FS
	// asWritten lists the flow's webhook widgets called where they are
	// written (checkWebhooks), each with where that is.
	asWritten []string
	// exported are the other flows of a RapidPro export given as --flow
	// FILE, by id, as they import (benchFlow fills it): the run stores them
	// beside its flow, as an import stores them, so that its subflow
	// widgets find them.
	exported map[string][]byte
	// notImported says, one line each, which flows of a RapidPro export
	// given as --flow FILE did not import and why, and which flow runs
	// when the first did not (benchFlow fills it).
	notImported []string
	// set holds the names of the flags given on the command line.
	set map[string]bool
	// traceFile and cpuFile are --trace's file and --profile's cpu.pprof,
	// created before anything else is done (openOutputs).
	traceFile, cpuFile *os.File
}

// openOutputs creates the files of --trace and --profile, so that a path
// that cannot be written is a usage error before the idle sessions are
// seeded and the target set up, not after.
func (o *benchOptions) openOutputs() error {
	if o.trace != "" {
		f, err := os.Create(o.trace)
		if err != nil {
			return fmt.Errorf("--trace %s: %w", o.trace, err)
		}
		o.traceFile = f
	}
	if o.cpuProfile != "" {
		err := profileDir(o.cpuProfile)
		if err == nil {
			o.cpuFile, err = os.Create(filepath.Join(o.cpuProfile, "cpu.pprof"))
		}
		if err != nil {
			o.closeOutputs()
			return fmt.Errorf("--profile %s: %w", o.cpuProfile, err)
		}
	}
	return nil
}

// profileDir makes --profile's directory, or takes it as it is when it
// exists. Its parent must exist, as the folder of --trace's file must: a
// mistyped path is refused rather than made, folders and all.
func profileDir(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
			return fmt.Errorf("%s is a file: give a directory", dir)
		}
		return nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the directory %s does not exist: create it first, or give another DIR", filepath.Dir(filepath.Clean(dir)))
	}
	return err
}

// closeOutputs closes the files openOutputs created (stopping the trace or
// profile closes them first when the run got that far).
func (o *benchOptions) closeOutputs() {
	for _, f := range []*os.File{o.traceFile, o.cpuFile} {
		if f != nil {
			_ = f.Close()
		}
	}
}

// benchInProcessFlags are the flags of the server in process: a server at
// --url keeps its own settings and data, so they are refused with --url.
var benchInProcessFlags = []string{"data", "keep", "idle", "no-fsync", "dedupe-retention", "session-retention", "webhooks"}

// BenchResult is what parley bench measured; --json prints it.
type BenchResult struct {
	Target      string `json:"target"`
	Flow        string `json:"flow"`
	Concurrency int    `json:"concurrency"`
	// Rate is the offered load in messages/s (0: closed loop).
	Rate int `json:"rate,omitempty"`
	// NoMessageIDs: the messages carried no id (--no-message-ids).
	NoMessageIDs bool `json:"no_message_ids,omitempty"`
	// MessageIDs is how the message ids were made (--message-ids), when
	// they were not the default per-contact sequences.
	MessageIDs string `json:"message_ids,omitempty"`
	// Contacts is how many contacts the conversations went through
	// (--contacts), when more than the concurrency.
	Contacts int `json:"contacts,omitempty"`
	// Batch is how many contacts' messages went in one request (--batch; 0
	// or 1: one message a request).
	Batch int `json:"batch,omitempty"`
	// DedupeRetentionSec is the in-process server's --dedupe-retention, when
	// the run set it.
	DedupeRetentionSec float64 `json:"dedupe_retention_sec,omitempty"`
	// SessionRetentionSec is the in-process server's --session-retention,
	// when the run set it.
	SessionRetentionSec float64 `json:"session_retention_sec,omitempty"`
	DurationSec         float64 `json:"duration_sec"`
	// Interrupted: the run was stopped (Ctrl-C, SIGTERM) before --duration
	// was up; the figures are of the part that ran.
	Interrupted       bool    `json:"interrupted,omitempty"`
	Messages          int64   `json:"messages"`
	Errors            int64   `json:"errors"`
	Conversations     int64   `json:"conversations"`
	MessagesPerSec    float64 `json:"messages_per_sec"`
	ConversationsPerS float64 `json:"conversations_per_sec"`
	TurnP50Ms         float64 `json:"turn_p50_ms"`
	TurnP95Ms         float64 `json:"turn_p95_ms"`
	TurnP99Ms         float64 `json:"turn_p99_ms"`
	TurnMaxMs         float64 `json:"turn_max_ms"`
	// WebhookCalls counts the webhook calls the server made during the run
	// (its parley_webhook_calls_total), or with --url, where the server may
	// serve others too, those the run's receiver answered when every
	// webhook of the flow goes to it. WebhookCallsFailed is how many of
	// the server's had another outcome than success; Warnings says so.
	WebhookCalls       int64    `json:"webhook_calls"`
	WebhookCallsPerS   float64  `json:"webhook_calls_per_sec"`
	WebhookCallsFailed int64    `json:"webhook_calls_failed"`
	Warnings           []string `json:"warnings,omitempty"`
	Deliveries         int64    `json:"deliveries"`
	DeliveriesPerSec   float64  `json:"deliveries_per_sec"`
	// The figures below are nil (null in --json, "not measured" in the
	// table) when the run did not measure them: the delivery lag without
	// deliveries (--events ""), the idle sessions and their size with
	// --url (the server's own store), the size with --idle 0.
	DeliveryLagP50Ms *float64 `json:"delivery_lag_p50_ms"`
	DeliveryLagP99Ms *float64 `json:"delivery_lag_p99_ms"`
	IdleSessions     *int     `json:"idle_sessions"`
	BytesPerWaiting  *float64 `json:"bytes_per_waiting_session"`
	// PeakRSSMB is this process's peak resident set: the server's, the load
	// generator's and the receiver's together in process. With --url it is
	// LoadGenPeakRSSMB instead, the load generator's and receiver's alone
	// (the server at --url is another process).
	PeakRSSMB        float64 `json:"peak_rss_mb,omitempty"`
	LoadGenPeakRSSMB float64 `json:"load_generator_peak_rss_mb,omitempty"`
	// CPUPerMessageUs is the CPU time (user and system) this process used
	// during the run, per message answered: server, load generator and
	// receiver together when in process, the load generator and receiver
	// alone with --url, where they are LoadGenCPUPerMessageUs and
	// LoadGenCPUCores instead. CPUCores is the same time over the run's
	// duration.
	CPUPerMessageUs        float64 `json:"cpu_us_per_message,omitempty"`
	CPUCores               float64 `json:"cpu_cores,omitempty"`
	LoadGenCPUPerMessageUs float64 `json:"load_generator_cpu_us_per_message,omitempty"`
	LoadGenCPUCores        float64 `json:"load_generator_cpu_cores,omitempty"`
	// Group commit figures of the in-process store (store.CommitStats): how
	// many turns one commit carried, and the share of the run the committer
	// spent waiting for the writer lock, applying writes and committing.
	CommitsPerSec     float64 `json:"commits_per_sec,omitempty"`
	TurnsPerCommit    float64 `json:"turns_per_commit,omitempty"`
	CommitterLockPct  float64 `json:"committer_lock_wait_pct,omitempty"`
	CommitterApplyPct float64 `json:"committer_apply_pct,omitempty"`
	CommitterSyncPct  float64 `json:"committer_commit_pct,omitempty"`
	// Of the commit share, the part bbolt spent writing pages and syncing
	// the file (TxStats.WriteTime), and the pages it wrote per turn
	// (TxStats.Write, meta pages included; event delivery's writes share
	// the turns' commits and count here too).
	CommitterWritePct float64 `json:"committer_write_sync_pct,omitempty"`
	PagesPerTurn      float64 `json:"pages_written_per_turn,omitempty"`
	// Go runtime figures of the in-process server's run (bench_runtime.go):
	// the scheduler's latency (how long runnable goroutines waited for a
	// P), the garbage collector's cycles per second and the p99 of its
	// stop-the-world pauses, and the live heap after the load.
	SchedLatencyP50Ms *float64 `json:"sched_latency_p50_ms,omitempty"`
	SchedLatencyP99Ms *float64 `json:"sched_latency_p99_ms,omitempty"`
	GCCyclesPerSec    float64  `json:"gc_cycles_per_sec,omitempty"`
	GCPauseP99Ms      float64  `json:"gc_pause_p99_ms,omitempty"`
	HeapLiveMB        float64  `json:"heap_live_mb,omitempty"`
	// LoadAvg is the machine's load average (1, 5 and 15 minutes) read at
	// the end of the load, so that its 1-minute figure covers most of a
	// run of a minute; LoadAvgStart is the same read before the first
	// message.
	LoadAvg      string `json:"load_avg,omitempty"`
	LoadAvgStart string `json:"load_avg_start,omitempty"`
	// GoMaxProcs is this process's GOMAXPROCS, the server's in process;
	// with --url it is LoadGenGoMaxProcs instead, the load generator's.
	GoMaxProcs        int `json:"gomaxprocs,omitempty"`
	LoadGenGoMaxProcs int `json:"load_generator_gomaxprocs,omitempty"`

	// flowCalls: a webhook of the flow calls the receiver, so the run's
	// conversations should have made webhook calls.
	flowCalls bool
	// scriptEnds is how many conversations had their last text answered,
	// and endStatus the session's status after one that did not complete
	// it; script is the conversation's texts.
	scriptEnds int64
	endStatus  string
	script     []string
	// failedTurns is how many turns left their session failed (each ends
	// one), and failure the first of them, with the error that failed it
	// when it was read (benchClient.sessionError).
	failedTurns int64
	failure     *benchFailure
}

// benchCmd: parley bench [flags]. It drives concurrent contacts through a
// flow over the HTTP API and reports throughput and latency.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("bench", "[flags]", stderr)
	var o benchOptions
	fs.StringVar(&o.url, "url", "", "target a running server at `URL`, http://HOST:PORT on a loopback address, instead of starting one in process")
	fs.StringVar(&o.apiKey, "api-key", "", "API key for --url")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send messages (at most 10m)")
	fs.IntVar(&o.concurrency, "concurrency", 256, "concurrent contacts, each waiting for its reply before sending again")
	fs.IntVar(&o.rate, "rate", 0, "offer this many messages/s in all, spread evenly over the contacts, instead of sending each next message at once; latency counts from when a message was due, so a server that falls behind shows it")
	fs.StringVar(&o.flow, "flow", "order-status", "built-in example (order-status, favourite-colour) or a flow `FILE`")
	fs.StringVar(&o.messages, "messages", "", "the texts of one conversation, separated by '|' (required with a flow file)")
	fs.StringVar(&o.events, "events", "flow.completed", "comma-separated event types the loopback receiver subscribes to")
	fs.StringVar(&o.dataParent, "data", "", "make the in-process server's temporary data directory under `DIR` (default: the system's temporary directory)")
	fs.BoolVar(&o.noFsync, "no-fsync", false, "an experiment, never a way to run: the in-process store commits without fsync, to show how much of the run waits for the disk (a crash could lose or corrupt the data directory)")
	fs.DurationVar(&o.dedupe, "dedupe-retention", 0, "the in-process server's --dedupe-retention (default the server's, 168h): a few seconds make it prune message ids throughout the run, to measure what pruning costs")
	fs.IntVar(&o.batch, "batch", 1, "send the messages of this many contacts in one request to /v1/channels/{id}/messages/batch, as channels that receive messages in batches can: each contact still sends its next message only after its reply")
	fs.DurationVar(&o.sessionsRet, "session-retention", 0, "the in-process server's --session-retention (default the server's: keep ended sessions): a few seconds make it delete ended sessions throughout the run, to measure what that costs")
	fs.BoolVar(&o.noIDs, "no-message-ids", false, "contacts send messages without an id, as channels that have none do: no dedupe record is written or looked up")
	fs.IntVar(&o.contacts, "contacts", 0, "contacts the conversations take turns with (default --concurrency: each concurrent contact keeps talking); more, e.g. 1000000, start each conversation with a contact that has not spoken for a while, as on a server with many contacts (rounded down to a multiple of --concurrency)")
	fs.StringVar(&o.idShape, "message-ids", idsPerContact, "how message ids are made: "+idsPerContact+" (each contact numbers its own messages), "+idsOrdered+" (one counter for all contacts, so ids sort by time, as UUIDv7s and ULIDs do) or "+idsRandom+" (32 random hex digits, as Twilio's message SIDs)")
	fs.BoolVar(&o.keep, "keep", false, "keep the in-process server's data directory (its path goes to stderr), e.g. to time parley serve --data DIR on it")
	fs.IntVar(&o.idle, "idle", 10_000, "waiting sessions to store before the run, to measure at scale (the server in process only: refused with --url)")
	fs.StringVar(&o.webhooksFile, "webhooks", "", "named webhook configurations `FILE` (JSON, as parley serve and simulate take it), for a --flow FILE whose webhook widgets name one (the server in process only: one at --url has its own)")
	fs.BoolVar(&o.callWebhooks, "call-webhooks", false, "call the webhooks of the flow, and of the subflows it can enter, where they are written, off this machine too (the load goes there); without it a flow whose webhooks leave this machine, or that enters a subflow the server at --url does not give, is refused, and those of the built-in examples go to the run's loopback receiver")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of a table")
	fs.StringVar(&o.trace, "trace", "", "write an execution trace of the run to `FILE` (go tool trace FILE: where each goroutine, e.g. the store's committer, spent its time running, waiting for a CPU or in system calls); slows the run")
	fs.StringVar(&o.cpuProfile, "profile", "", "write cpu.pprof, block.pprof, mutex.pprof and allocs.pprof of the run (server and load together when in process) into `DIR`, made if missing (its parent must exist)")
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "parley bench: unexpected argument %q: parley bench takes flags only (a flow file is --flow FILE)\n", fs.Arg(0))
		return 2
	}
	o.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if err := o.check(); err != nil {
		fmt.Fprintln(stderr, "parley bench:", err)
		return 2
	}
	// A --flow file that cannot be read, or without --messages, is a usage
	// error too.
	doc, _, err := o.benchFlow()
	for _, n := range o.notImported {
		fmt.Fprintf(stderr, "parley bench: --flow %s: %s\n", o.flow, n)
	}
	if err == nil {
		err = o.checkWebhooks(ctx, doc)
	}
	if err != nil {
		fmt.Fprintln(stderr, "parley bench:", err)
		return 2
	}
	for _, w := range o.asWritten {
		fmt.Fprintln(stderr, "parley bench: the flow's webhook is called as written:", w)
	}
	if err := o.openOutputs(); err != nil {
		fmt.Fprintln(stderr, "parley bench:", err)
		return 2
	}
	defer o.closeOutputs()
	o.progress = isTerminal(stderr)
	res, err := runBench(ctx, o, stderr)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			// Ctrl-C before the load began: nothing was measured.
			var ie *benchInterruptedError
			if !errors.As(err, &ie) {
				ie = &benchInterruptedError{"setting up the target (" + o.target() + ")"}
			}
			fmt.Fprintln(stderr, "parley bench:", ie)
			return 130
		}
		fmt.Fprintln(stderr, "parley bench:", err)
		return 1
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		res.table(stdout)
	}
	if res.Interrupted {
		// The report is printed all the same, but the exit status says it
		// is not a whole run's.
		fmt.Fprintf(stderr, "parley bench: interrupted after %.1f s of the %s asked with --duration: the figures are of that part of the run\n", res.DurationSec, o.duration)
		return 130
	}
	if res.Messages == 0 || res.Errors > res.Messages/100 {
		fmt.Fprintf(stderr, "parley bench: %d of %d messages failed\n", res.Errors, res.Messages+res.Errors)
		return 1
	}
	if res.Conversations == 0 && res.failure != nil {
		// The flow fails on the way: the texts are not what is wrong.
		fmt.Fprintf(stderr, "parley bench: none of the %d conversations completed the flow: %s\n", res.scriptEnds, res.failure.describe(res.failedTurns))
		return 1
	}
	if res.Conversations == 0 && res.scriptEnds > 0 {
		// conversations/s 0 would read as a figure: the script does not
		// complete the flow, so there is none.
		fmt.Fprintf(stderr, "parley bench: none of the %d conversations completed the flow: after the last text, %q, the session was %s, not completed; "+
			"give --messages the texts that take a conversation to the flow's end\n", res.scriptEnds, res.script[len(res.script)-1], res.endStatus)
		return 1
	}
	if res.flowCalls && res.Conversations > 0 && res.WebhookCalls == 0 {
		// The flow went on by its webhook's Failure exit every time.
		fmt.Fprintf(stderr, "parley bench: the flow's webhook did not reach the loopback receiver in any of %d conversations: "+
			"the server refuses loopback addresses unless started with --allow-cidr 127.0.0.0/8 (or PARLEY_ALLOW_CIDRS=127.0.0.0/8)\n", res.Conversations)
		return 1
	}
	return 0
}

// benchInterruptedError is a run stopped (Ctrl-C, SIGTERM) before its load
// began: while is what it was doing.
type benchInterruptedError struct{ while string }

func (e *benchInterruptedError) Error() string {
	return "interrupted while " + e.while + ", before any message was sent: nothing was measured"
}

func (e *benchInterruptedError) Is(target error) bool { return target == context.Canceled }

// target names the run's server for messages: its --url, or the server in
// process.
func (o *benchOptions) target() string {
	if o.url != "" {
		return o.url
	}
	return "the server in process"
}

func (o *benchOptions) check() error {
	switch {
	case o.duration <= 0 || o.duration > benchMaxDuration:
		return fmt.Errorf("--duration %s: give a duration up to %s", o.duration, benchMaxDuration)
	case o.concurrency < 1 || o.concurrency > benchMaxConcurrency:
		return fmt.Errorf("--concurrency %d: give 1 to %d", o.concurrency, benchMaxConcurrency)
	case o.rate < 0 || o.rate > benchMaxRate:
		return fmt.Errorf("--rate %d: give 0 (closed loop) to %d messages/s", o.rate, benchMaxRate)
	case o.idle < 0 || o.idle > benchMaxIdle:
		return fmt.Errorf("--idle %d: give 0 to %d", o.idle, benchMaxIdle)
	case o.batch < 1 || o.batch > benchMaxConcurrency:
		return fmt.Errorf("--batch %d: give 1 (a message a request) to %d", o.batch, benchMaxConcurrency)
	case o.batch > 1 && o.rate > 0:
		return errors.New("--batch: not with --rate (batches are sent as their contacts' replies come back)")
	case o.batch > o.concurrency:
		return fmt.Errorf("--batch %d: give at most --concurrency (%d): a request carries one message of each of its contacts", o.batch, o.concurrency)
	case o.noIDs && o.set["message-ids"]:
		return errors.New("--message-ids: not with --no-message-ids (the messages carry no id to shape)")
	case o.dedupe < 0:
		return fmt.Errorf("--dedupe-retention %s: give a positive duration", o.dedupe)
	case o.sessionsRet < 0:
		return fmt.Errorf("--session-retention %s: give a positive duration", o.sessionsRet)
	case o.contacts != 0 && (o.contacts < o.concurrency || o.contacts > benchMaxContacts):
		return fmt.Errorf("--contacts %d: give --concurrency (%d) to %d", o.contacts, o.concurrency, benchMaxContacts)
	case o.idShape != idsPerContact && o.idShape != idsOrdered && o.idShape != idsRandom:
		return fmt.Errorf("--message-ids %q: give %s, %s or %s", o.idShape, idsPerContact, idsOrdered, idsRandom)
	}
	if o.url == "" && o.set["api-key"] {
		return errors.New("--api-key: only with --url (the server in process has no keys)")
	}
	if o.url != "" {
		for _, name := range benchInProcessFlags {
			if o.set[name] {
				return fmt.Errorf("--%s: only for a server in process, not with --url (a server at --url keeps its own settings and data)", name)
			}
		}
		if err := loopbackURL(o.url); err != nil {
			return fmt.Errorf("--url: %w", err)
		}
	}
	if o.dataParent != "" {
		// Checked with the flags, so that a missing directory is named as
		// --data's before anything is seeded or started.
		if fi, err := os.Stat(o.dataParent); err != nil {
			return fmt.Errorf("--data %s: %w", o.dataParent, unwrapPath(err))
		} else if !fi.IsDir() {
			return fmt.Errorf("--data %s: not a directory", o.dataParent)
		}
	}
	return nil
}

// unwrapPath is err without its *fs.PathError's "stat PATH:" words, for a
// message that names the path itself.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// loopbackURL checks --url: http:// (parley serve speaks plain HTTP) and a
// host on this machine, since the load is not for others.
func loopbackURL(raw string) error {
	u, err := serverURL(raw, false)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q is not a loopback address (127.0.0.1, ::1, localhost)", raw) // without a user, checked
}

// benchFlow returns the flow document to run and the texts of one
// conversation. For a RapidPro export it fills o.exported with the export's
// other flows.
func (o *benchOptions) benchFlow() ([]byte, []string, error) {
	var doc []byte
	var err error
	script := benchScripts[o.flow]
	if script != nil {
		doc, err = fs.ReadFile(exampleflows.FS, o.flow+"/flow.json")
	} else {
		doc, err = os.ReadFile(o.flow)
	}
	if errors.Is(err, fs.ErrNotExist) {
		names := slices.Sorted(maps.Keys(benchScripts))
		return nil, nil, fmt.Errorf("--flow %s: neither a built-in example (%s) nor a flow file: %w", o.flow, strings.Join(names, ", "), err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("--flow %s: %w", o.flow, err)
	}
	o.exported, o.notImported = nil, nil
	if script == nil {
		doc = flows.TrimBOM(doc)
		if rapidpro.IsExport(doc) || rapidpro.IsNewFormat(doc) {
			if doc, o.exported, o.notImported, err = benchExportFlow(doc); err != nil {
				return nil, nil, fmt.Errorf("--flow %s: %w", o.flow, err)
			}
		}
	}
	if o.messages != "" {
		script = strings.Split(o.messages, "|")
	}
	if len(script) == 0 {
		return nil, nil, fmt.Errorf("--flow %s: give the conversation's texts with --messages 'hi|CU001|thanks'", o.flow)
	}
	return doc, script, nil
}

// benchExportFlow is the flow a RapidPro export runs as: its first flow
// that imports, converted as POST /v1/flows imports it (RapidPro's demo
// order service pointed at the server's, which the run points at its
// receiver), so that its webhooks are checked, and it is run, as a Parley
// flow file's. others are the export's other flows that import, by id:
// its subflow widgets enter them, so the run stores them too. notes names
// each flow that did not import, with its uuid and why, and the flow that
// runs when the export's first did not import; when none imports, the
// error names them.
func benchExportFlow(data []byte) (first []byte, others map[string][]byte, notes []string, err error) {
	res, err := server.RapidProImporter{}.ConvertExport(data)
	if err != nil {
		return nil, nil, nil, err
	}
	var runs *rapidpro.Flow
	for i := range res.Flows {
		f := &res.Flows[i]
		switch {
		case f.Failed || f.JSON == nil:
			notes = append(notes, notImported(f))
		case runs == nil:
			runs, first = f, f.JSON
		default:
			if others == nil {
				others = map[string][]byte{}
			}
			// One without an id gets a new one when stored, which no
			// widget names.
			if id := gjson.GetBytes(f.JSON, "id").String(); id != "" {
				others[id] = f.JSON
			}
		}
	}
	switch {
	case runs == nil && len(notes) > 0:
		return nil, nil, nil, fmt.Errorf("a RapidPro export with no flow that imports: %s", strings.Join(notes, "; "))
	case runs == nil:
		return nil, nil, nil, errors.New("a RapidPro export with no flow that imports")
	case runs != &res.Flows[0]:
		notes = append(notes, fmt.Sprintf("runs %s instead, the export's first flow that imports", flowNamed(runs)))
	}
	return first, others, notes, nil
}

// notImported says which flow of a RapidPro export did not import, and
// why: each error the import reported for it.
func notImported(f *rapidpro.Flow) string {
	why := make([]string, 0, len(f.Errors))
	for _, l := range f.Errors {
		if l.Where != "" {
			why = append(why, l.Where+": "+l.Message)
		} else {
			why = append(why, l.Message)
		}
	}
	if len(why) == 0 {
		why = append(why, "the import reported no reason")
	}
	return fmt.Sprintf("%s did not import: %s", flowNamed(f), strings.Join(why, "; "))
}

// flowNamed names a flow of a RapidPro export by its name and uuid.
func flowNamed(f *rapidpro.Flow) string {
	if f.UUID == "" {
		return fmt.Sprintf("flow %q (without a uuid)", f.Name)
	}
	return fmt.Sprintf("flow %q (uuid %s)", f.Name, f.UUID)
}

// checkWebhooks looks at where the webhook widgets of the flow doc, and of
// the flows its subflow widgets can enter (transitively), send their calls.
// A URL of the flow's own with the demo service's path goes to the run's
// loopback receiver (benchClient.setup); any other is called as written,
// so the run's load goes there: one on this machine (a loopback address)
// is, one elsewhere or that cannot be told before the run (a template in
// its host, a named webhook of the server at --url) only with
// --call-webhooks. The subflows are the flows the run's server has (the
// examples in process, what GET /v1/flows/{id} answers with --url, read
// by subflowSource), whose webhooks are not pointed at the receiver; one
// the server at --url does not give is refused the same way, as the run
// cannot see where it calls. A named webhook in process needs its
// configuration from --webhooks. It fills o.asWritten.
func (o *benchOptions) checkWebhooks(ctx context.Context, doc []byte) error {
	var configs map[string]*flows.WebhookConfig
	if o.webhooksFile != "" {
		var err error
		if configs, err = callout.LoadConfigs(o.webhooksFile); err != nil {
			return fmt.Errorf("--webhooks: %w", err)
		}
	}
	root, err := benchWidgets(doc)
	if err != nil {
		return fmt.Errorf("--flow %s: %w", o.flow, err)
	}
	o.asWritten = nil
	// Breadth first, so that a flow is named by the shortest way in; seen
	// stops at a flow met before, so subflows that enter each other are no
	// loop. In process the run's flow is stored as benchFlowID.
	type reached struct {
		widgets []benchWidget
		via     []string // the subflows entered, and where, down to it
	}
	seen := map[string]bool{}
	if o.url == "" {
		seen[benchFlowID] = true
	}
	if o.exported != nil {
		// An export's flow is stored as the run's: its other flows enter
		// the run's flow by the id it had in the export.
		seen[gjson.GetBytes(doc, "id").String()] = true
	}
	var src func(context.Context, string) ([]byte, error)
	for queue := []reached{{widgets: root}}; len(queue) > 0; queue = queue[1:] {
		r := queue[0]
		if err := o.checkFlowWebhooks(ctx, r.widgets, r.via, configs); err != nil {
			return err
		}
		for _, w := range r.widgets {
			if w.Type != "subflow" || w.Flow == "" || seen[w.Flow] {
				continue
			}
			seen[w.Flow] = true
			via := append(slices.Clip(r.via), fmt.Sprintf("subflow %q (widget %q)", w.Flow, w.ID))
			if src == nil {
				src = o.subflowSource()
			}
			sub, err := src(ctx, w.Flow)
			if errors.Is(err, errNoBenchFlow) && o.url == "" {
				continue // the server in process will not have it: entering it fails, calling nothing
			}
			var ws []benchWidget
			if err == nil {
				ws, err = benchWidgets(sub)
			}
			if err != nil {
				if !o.callWebhooks {
					return fmt.Errorf("--flow %s enters %s, which the run could not read from %s (%w), so it cannot see where that flow's webhooks call: "+
						"give --call-webhooks to run it all the same, its webhooks called as the server has them", o.flow, strings.Join(via, ", which enters "), o.target(), err)
				}
				o.asWritten = append(o.asWritten, fmt.Sprintf("%s, not read (%v) (--call-webhooks)", strings.Join(via, ", which enters "), err))
				continue
			}
			queue = append(queue, reached{ws, via})
		}
	}
	return nil
}

// benchWidget is what checkWebhooks reads of a widget.
type benchWidget struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	URL     string `json:"url"`
	Webhook string `json:"webhook"`
	Flow    string `json:"flow"` // a subflow's
}

// benchWidgets reads the widgets of a flow document.
func benchWidgets(doc []byte) ([]benchWidget, error) {
	var f struct {
		Widgets []benchWidget `json:"widgets"`
	}
	if err := json.Unmarshal(doc, &f); err != nil {
		return nil, err
	}
	return f.Widgets, nil
}

// checkFlowWebhooks is checkWebhooks for the widgets of one flow, the
// run's own (via empty) or one entered by the subflows via.
func (o *benchOptions) checkFlowWebhooks(ctx context.Context, widgets []benchWidget, via []string, configs map[string]*flows.WebhookConfig) error {
	who, where := "--flow "+o.flow, ""
	if len(via) > 0 {
		who += " enters " + strings.Join(via, ", which enters ")
		where = strings.Join(via, ", which enters ") + ": "
	}
	for _, w := range widgets {
		// Only the run's own flow has its demo URLs pointed at the
		// receiver: a subflow's are called as the server has them.
		if w.Type != "webhook" || (len(via) == 0 && strings.Contains(w.URL, server.DemoOrderStatusPath)) {
			continue
		}
		dest := w.URL
		if w.Webhook != "" {
			if o.url != "" {
				if !o.callWebhooks {
					return fmt.Errorf("%s: widget %q calls the webhook %q configured on the server at --url, whose destination the run cannot see: "+
						"give --call-webhooks to call it as the server has it, the load going there", who, w.ID, w.Webhook)
				}
				// As in process, a webhook the server does not have is
				// refused: every call would fail.
				switch err := o.serverWebhook(ctx, w.Webhook); {
				case errors.Is(err, errNoBenchWebhook):
					return fmt.Errorf("%s: widget %q calls the named webhook %q, which the server at --url does not have (GET /v1/webhook-configs/%s: 404): every call would fail; "+
						"configure it there (PUT /v1/webhook-configs/%s, or the server's --webhooks file)", who, w.ID, w.Webhook, url.PathEscape(w.Webhook), url.PathEscape(w.Webhook))
				case err != nil:
					o.asWritten = append(o.asWritten, fmt.Sprintf("%swidget %q, the server's webhook %q, not read (%v)", where, w.ID, w.Webhook, err))
				default:
					o.asWritten = append(o.asWritten, fmt.Sprintf("%swidget %q, the server's webhook %q", where, w.ID, w.Webhook))
				}
				continue
			}
			cfg, ok := configs[w.Webhook]
			if !ok {
				why := "no --webhooks file was given"
				if o.webhooksFile != "" {
					why = "--webhooks " + o.webhooksFile + " has none of that name"
				}
				return fmt.Errorf("%s: widget %q calls the named webhook %q, which is not configured (%s): every call would fail; "+
					"give its configuration with --webhooks FILE, as parley serve takes it", who, w.ID, w.Webhook, why)
			}
			if dest == "" {
				dest = cfg.URL
			}
		}
		if dest == "" {
			continue // no URL at all: the flow's validation says so
		}
		if loopbackDest(dest) {
			o.asWritten = append(o.asWritten, fmt.Sprintf("%swidget %q, %s", where, w.ID, dest))
			continue
		}
		if !o.callWebhooks {
			return fmt.Errorf("%s: widget %q calls %s, which is not this machine (or cannot be told before the run): the run's load would go there; "+
				"give --call-webhooks to call it as written, or point it at a loopback address", who, w.ID, dest)
		}
		o.asWritten = append(o.asWritten, fmt.Sprintf("%swidget %q, %s (--call-webhooks)", where, w.ID, dest))
	}
	return nil
}

// errNoBenchFlow: the run's server has no flow of that id.
var errNoBenchFlow = errors.New("no such flow")

// errNoBenchWebhook: the server at --url has no configured webhook of that
// name.
var errNoBenchWebhook = errors.New("no such webhook")

// serverWebhook finds out whether the server at --url has the configured
// webhook name (GET /v1/webhook-configs/{name}): nil when it has,
// errNoBenchWebhook when it answers 404, another error when it cannot tell.
func (o *benchOptions) serverWebhook(ctx context.Context, name string) error {
	c := &benchClient{base: strings.TrimSuffix(o.url, "/"), apiKey: o.apiKey, hc: &fasthttp.Client{DialDualStack: true}}
	out, code, err := c.do(ctx, "GET", "/v1/webhook-configs/"+url.PathEscape(name), nil, nil)
	if code == fasthttp.StatusNotFound && gjson.GetBytes(out, "error.message").String() == fmt.Sprintf("webhook %q not found", name) {
		return errNoBenchWebhook
	}
	return err
}

// subflowSource returns what reads the definition of a flow the run's
// server has, as a subflow widget enters it. A RapidPro export's other
// flows (o.exported) are those the run stores, in process and with --url
// alike. Else, in process, it is the examples its new store is seeded with
// (o.examples, as server.Config's Examples: the flow's own id, else its
// directory's name); with --url the revision the server enters, its
// published one or else its latest, from GET /v1/flows/{id}.
func (o *benchOptions) subflowSource() func(context.Context, string) ([]byte, error) {
	src := o.serverFlows()
	if len(o.exported) == 0 {
		return src
	}
	return func(ctx context.Context, id string) ([]byte, error) {
		if doc, ok := o.exported[id]; ok {
			return doc, nil
		}
		return src(ctx, id)
	}
}

// serverFlows is subflowSource for the flows the run's server has of its
// own.
func (o *benchOptions) serverFlows() func(context.Context, string) ([]byte, error) {
	if o.url == "" {
		fsys := o.examples
		if fsys == nil {
			fsys = exampleflows.FS
		}
		docs := map[string][]byte{}
		files, _ := fs.Glob(fsys, "*/flow.json")
		for _, file := range files {
			doc, err := fs.ReadFile(fsys, file)
			if err != nil {
				continue // not seeded either
			}
			id := gjson.GetBytes(doc, "id").String()
			if id == "" {
				id = path.Dir(file)
			}
			docs[id] = doc
		}
		return func(_ context.Context, id string) ([]byte, error) {
			if doc, ok := docs[id]; ok {
				return doc, nil
			}
			return nil, errNoBenchFlow
		}
	}
	c := &benchClient{base: strings.TrimSuffix(o.url, "/"), apiKey: o.apiKey, hc: &fasthttp.Client{DialDualStack: true}}
	var published map[string]int // of GET /v1/flows, read once when needed
	return func(ctx context.Context, id string) ([]byte, error) {
		get := "/v1/flows/" + url.PathEscape(id)
		out, _, err := c.do(ctx, "GET", get, nil, nil)
		if err != nil {
			return nil, err
		}
		if gjson.GetBytes(out, "published").Bool() {
			return []byte(gjson.GetBytes(out, "definition").Raw), nil
		}
		// The latest is a draft: the server enters the published
		// revision, when there is one.
		if published == nil {
			list, _, err := c.do(ctx, "GET", "/v1/flows", nil, nil)
			if err != nil {
				return nil, err
			}
			published = map[string]int{}
			for _, f := range gjson.GetBytes(list, "flows").Array() {
				published[f.Get("id").String()] = int(f.Get("published").Int())
			}
		}
		if rev := published[id]; rev > 0 {
			if out, _, err = c.do(ctx, "GET", get+"?revision="+strconv.Itoa(rev), nil, nil); err != nil {
				return nil, err
			}
		}
		return []byte(gjson.GetBytes(out, "definition").Raw), nil
	}
}

// loopbackDest reports whether a webhook URL template is to a loopback
// address written as such (a template in its host could be anywhere).
func loopbackDest(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || strings.ContainsAny(u.Host, "@(") {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// runBench sets up the target (a server in process unless --url), the
// loopback receiver, the flow, channel and event subscription, then drives
// the contacts.
func runBench(ctx context.Context, o benchOptions, stderr io.Writer) (*BenchResult, error) {
	doc, script, err := o.benchFlow()
	if err != nil {
		return nil, err
	}
	rcv, err := startReceiver(o.url != "")
	if err != nil {
		return nil, err
	}
	defer rcv.close()
	fromPrefix := strings.TrimPrefix(rcv.contacts, "tel:")

	res := &BenchResult{Flow: o.flow, Concurrency: o.concurrency, Rate: o.rate, NoMessageIDs: o.noIDs, DedupeRetentionSec: o.dedupe.Seconds(),
		SessionRetentionSec: o.sessionsRet.Seconds()}
	if o.batch > 1 {
		res.Batch = o.batch
	}
	if !o.noIDs && o.idShape != idsPerContact {
		res.MessageIDs = o.idShape
	}
	perContact := max(1, o.contacts/o.concurrency)
	if perContact > 1 {
		res.Contacts = perContact * o.concurrency
	}
	base := strings.TrimSuffix(o.url, "/")
	var bolt *store.Bolt
	if base == "" {
		dir, err := os.MkdirTemp(o.dataParent, "parley-bench-")
		if err != nil {
			return nil, err
		}
		if o.keep {
			defer fmt.Fprintln(stderr, "parley bench: data kept in", dir)
		} else {
			defer os.RemoveAll(dir)
		}
		res.IdleSessions = &o.idle
		if o.idle > 0 {
			per, err := seedIdle(ctx, filepath.Join(dir, server.DBFile), o.idle)
			if err != nil {
				return nil, err
			}
			res.BytesPerWaiting = &per
		}
		// The store is opened here rather than by the server so that its
		// group commit figures can be read. The server's goroutines (the
		// committer, delivery, the timer scanner, request handlers) carry
		// the profile label part=server.
		var srv *server.Server
		pprof.Do(context.Background(), benchLabels("server"), func(context.Context) {
			var st *store.Bolt
			path := filepath.Join(dir, server.DBFile)
			// Mapped as parley serve maps it.
			if st, err = store.Open(path, store.Options{NoSync: o.noFsync, InitialMmapSize: store.ServingMmapSize(path)}); err != nil {
				return
			}
			bolt = st
			serverRuntime() // as parley serve runs
			srv, err = server.New(server.Config{
				Addr: "127.0.0.1:0", DataDir: dir, Store: st,
				// Request logs at 20,000 requests/s would measure the terminal.
				Logger:           slog.New(quietStart{slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})}),
				AllowCIDRs:       []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
				DedupeRetention:  o.dedupe,
				SessionRetention: o.sessionsRet,
				BatchLimit:       max(o.batch, server.DefaultBatchLimit),
				WebhooksFile:     o.webhooksFile,
				Examples:         o.examples,
			})
			if err != nil {
				st.Close()
			}
		})
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		go pprof.Do(context.Background(), benchLabels("server"), func(context.Context) { _ = srv.Serve(ln) })
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		base = "http://" + ln.Addr().String()
		res.Target = "in process"
		if o.noFsync {
			res.Target = "in process, fsync off (--no-fsync)"
		}
	} else {
		res.Target = base
	}

	cl := &benchClient{base: base, apiKey: o.apiKey, hc: &fasthttp.Client{
		MaxConnsPerHost: o.concurrency + 16, ReadTimeout: time.Minute, WriteTimeout: time.Minute,
		MaxIdleConnDuration: time.Minute,
		// --url may be http://[::1]:PORT, and localhost may be ::1 alone.
		DialDualStack: true,
	}}
	cl.forPort(rcv.port(), o.url != "")
	defer cl.hc.CloseIdleConnections()
	defer cl.teardown(stderr)
	if err := cl.setup(ctx, doc, o.exported, rcv, strings.Split(o.events, ","), stderr); err != nil {
		return nil, err
	}
	rcv.reset()
	hooks0, hooksErr := cl.webhookOutcomes(ctx)
	res.LoadAvgStart = readLoadAvg()
	if bolt != nil {
		res.GoMaxProcs = runtime.GOMAXPROCS(0) // after serverRuntime
	} else {
		res.LoadGenGoMaxProcs = runtime.GOMAXPROCS(0)
	}

	runStart := time.Now()
	ld := &load{cl: cl, script: script, workers: make([]*worker, o.concurrency), noIDs: o.noIDs, idShape: o.idShape, perWorker: perContact, fromPrefix: fromPrefix,
		idPrefix: "b" + strconv.FormatInt(runStart.UnixMilli(), 36) + "-"}
	start := time.Now()
	deadline := start.Add(o.duration)
	// A reply that never comes fails its request a minute after the run.
	ld.connDeadline = deadline.Add(time.Minute)
	if o.rate > 0 {
		// Each contact sends every concurrency/rate seconds, the contacts
		// staggered evenly over one interval.
		ld.interval = time.Duration(float64(o.concurrency) / float64(o.rate) * float64(time.Second))
		ld.start = start
	}
	lctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if o.cpuFile != nil {
		stop, err := startProfiles(o.cpuProfile, o.cpuFile)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	if o.traceFile != nil {
		stop, err := startTrace(o.traceFile)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	var cs0 store.CommitStats
	var tx0 bbolt.TxStats
	if bolt != nil {
		cs0 = bolt.CommitStats()
		tx0 = bolt.DB().Stats().TxStats
	}
	cpu0 := cputime.Process()
	rt0 := readRuntime()
	var wg sync.WaitGroup
	for i := range ld.workers {
		ld.workers[i] = &worker{id: i, lat: make([]time.Duration, 0, 4096)}
	}
	for i := 0; i < len(ld.workers); i += o.batch {
		ws := ld.workers[i:min(i+o.batch, len(ld.workers))]
		wg.Add(1)
		go pprof.Do(lctx, benchLabels("load"), func(ctx context.Context) {
			defer wg.Done()
			if o.batch > 1 {
				ld.runBatch(ctx, ws)
			} else {
				ld.run(ctx, ws[0])
			}
		})
	}
	stopBar := make(chan struct{})
	var barDone sync.WaitGroup
	if o.progress {
		barDone.Add(1)
		go func() { defer barDone.Done(); progressBar(stderr, start, o.duration, ld, stopBar) }()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.LoadAvg = readLoadAvg()
	res.Interrupted = ctx.Err() != nil
	cpu := cputime.Process() - cpu0
	if bolt != nil {
		res.setRuntime(rt0, readRuntime(), elapsed.Seconds())
		cs := bolt.CommitStats()
		n := cs.Commits - cs0.Commits
		if n > 0 {
			res.CommitsPerSec = float64(n) / elapsed.Seconds()
			res.TurnsPerCommit = round1(float64(cs.Turns-cs0.Turns) / float64(n))
		}
		share := func(a, b time.Duration) float64 { return round1(100 * float64(a-b) / float64(elapsed)) }
		res.CommitterLockPct = share(cs.LockWait, cs0.LockWait)
		res.CommitterApplyPct = share(cs.Apply, cs0.Apply)
		res.CommitterSyncPct = share(cs.Commit, cs0.Commit)
		tx := bolt.DB().Stats().TxStats
		res.CommitterWritePct = share(tx.GetWriteTime(), tx0.GetWriteTime())
		if turns := cs.Turns - cs0.Turns; turns > 0 {
			res.PagesPerTurn = round1(float64(tx.GetWrite()-tx0.GetWrite()) / float64(turns))
		}
	}
	close(stopBar)
	barDone.Wait()

	var lat []time.Duration
	for _, w := range ld.workers {
		res.Messages += w.ok
		res.Errors += w.errs
		res.Conversations += w.convs
		res.scriptEnds += w.ends
		res.failedTurns += w.fails
		lat = append(lat, w.lat...)
	}
	if st := ld.lastStatus.Load(); st != nil {
		res.endStatus = *st
	}
	res.script = script
	if f := ld.failure.Load(); f != nil && res.Conversations == 0 && ctx.Err() == nil {
		// Why the conversations do not complete the flow: what failed the
		// first session that failed, read while the server (in process,
		// the run's) still runs.
		ectx, cancel := context.WithTimeout(ctx, benchSetupTimeout)
		f.widget, f.err, f.readErr = cl.sessionError(ectx, f.session)
		cancel()
		res.failure = f
	}
	if ld.firstErr.Load() != nil && res.Messages == 0 {
		return nil, *ld.firstErr.Load()
	}
	slices.Sort(lat)
	res.DurationSec = elapsed.Seconds()
	res.MessagesPerSec = float64(res.Messages) / elapsed.Seconds()
	if cpu > 0 && res.Messages > 0 {
		perMsg := round1(float64(cpu.Microseconds()) / float64(res.Messages))
		cores := float64(math.Round(100*cpu.Seconds()/elapsed.Seconds())) / 100
		if bolt != nil {
			res.CPUPerMessageUs, res.CPUCores = perMsg, cores
		} else {
			res.LoadGenCPUPerMessageUs, res.LoadGenCPUCores = perMsg, cores
		}
	}
	res.ConversationsPerS = float64(res.Conversations) / elapsed.Seconds()
	res.TurnP50Ms, res.TurnP95Ms, res.TurnP99Ms = ms(pct(lat, 0.50)), ms(pct(lat, 0.95)), ms(pct(lat, 0.99))
	if len(lat) > 0 {
		res.TurnMaxMs = ms(lat[len(lat)-1])
	}
	res.WebhookCalls = rcv.calls.Load()
	if hooksErr == nil {
		// After Ctrl-C too: the figures of the part that ran.
		mctx, cancel := context.WithTimeout(context.Background(), benchSetupTimeout)
		hooks1, err := cl.webhookOutcomes(mctx)
		cancel()
		if err == nil {
			var all, failed int64
			var how []string
			for _, outcome := range slices.Sorted(maps.Keys(hooks1)) {
				n := int64(hooks1[outcome] - hooks0[outcome])
				all += n
				if outcome != "success" && n > 0 {
					failed += n
					how = append(how, fmt.Sprintf("%s %d", outcome, n))
				}
			}
			if bolt != nil || len(o.asWritten) > 0 {
				res.WebhookCalls = all
			}
			res.WebhookCallsFailed = failed
			if failed > 0 {
				w := fmt.Sprintf("%d of the %d webhook calls the server made during the run failed (%s): those conversations went on by the webhook widget's Failure or Timeout exit, and the figures are of that path",
					failed, all, strings.Join(how, ", "))
				res.Warnings = append(res.Warnings, w)
				fmt.Fprintln(stderr, "parley bench: warning:", w)
			}
		}
	}
	res.flowCalls = cl.flowCalls
	res.WebhookCallsPerS = float64(res.WebhookCalls) / elapsed.Seconds()

	// Events of the last turns are still on their way: wait until the count
	// stops growing (or every completion is in, for flow.completed alone).
	want := int64(-1)
	if o.events == "flow.completed" {
		want = res.Conversations
	}
	rcv.drain(ctx, want, benchDrain)
	d := rcv.deliverySummary()
	res.Deliveries = d.count
	if d.count > 0 {
		// From the start of the load to the last delivery: delivery keeps up
		// with the load or the rate falls.
		res.DeliveriesPerSec = float64(d.count) / d.last.Sub(start).Seconds()
	}
	if d.count > 0 {
		p50, p99 := ms(d.p50), ms(d.p99)
		res.DeliveryLagP50Ms, res.DeliveryLagP99Ms = &p50, &p99
	}
	if bolt != nil {
		res.PeakRSSMB = peakRSSMB()
	} else {
		res.LoadGenPeakRSSMB = peakRSSMB()
	}
	if ld.firstErr.Load() != nil {
		fmt.Fprintln(stderr, "parley bench: first error:", *ld.firstErr.Load())
	}
	return res, nil
}

// quietStart drops the server's start-up line ("parley listening ..."): in
// process it listens on 127.0.0.1 without keys by design, and its warning
// to set --api-key, a flag bench refuses without --url, would only mislead.
type quietStart struct{ slog.Handler }

func (q quietStart) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "parley listening") {
		return nil
	}
	return q.Handler.Handle(ctx, r)
}

func (q quietStart) WithAttrs(as []slog.Attr) slog.Handler {
	return quietStart{q.Handler.WithAttrs(as)}
}
func (q quietStart) WithGroup(name string) slog.Handler { return quietStart{q.Handler.WithGroup(name)} }

// benchLabels is the profile label of one part of an in-process run:
// "server", "load" (the contacts) or "receiver" (the flow's webhook and the
// event deliveries). Goroutines inherit it from the one that starts them, so
// `go tool pprof -tagfocus part=load` shows what the load generator costs;
// the runtime's own work (background GC) has no label.
func benchLabels(part string) pprof.LabelSet { return pprof.Labels("part", part) }

// startTrace starts the runtime's execution tracer writing to f; the
// function it returns stops it and closes the file.
func startTrace(f *os.File) (func(), error) {
	if err := trace.Start(f); err != nil {
		return nil, err
	}
	return func() {
		trace.Stop()
		f.Close()
	}, nil
}

// startProfiles starts CPU (into f, dir's cpu.pprof), blocking and mutex
// profiling; the function it returns writes them into dir, with the
// allocations profile (every allocation sampled since the process started,
// seeding included: compare two runs with go tool pprof -base, or read
// -sample_index=alloc_space).
func startProfiles(dir string, f *os.File) (func(), error) {
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, err
	}
	runtime.SetBlockProfileRate(int(100 * time.Microsecond))
	runtime.SetMutexProfileFraction(10)
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		for _, name := range []string{"block", "mutex", "allocs"} {
			if out, err := os.Create(filepath.Join(dir, name+".pprof")); err == nil {
				_ = pprof.Lookup(name).WriteTo(out, 0)
				out.Close()
			}
		}
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
	}, nil
}

// seedBatch is how many sessions one seeding transaction writes: small
// enough that the B-trees grow as they do under traffic (one very large
// transaction leaves every page it splits half empty), large enough to seed
// a million in well under a minute (22-38 s in docs/PERFORMANCE.md).
const seedBatch = 1000

// seedIdle stores n waiting sessions (store.SampleSession) and returns the
// growth of the database's used pages per session: the file's high-water
// mark less its free pages, so pre-allocation and pages freed by the
// seeding transactions do not count.
func seedIdle(ctx context.Context, path string, n int) (float64, error) {
	b, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		return 0, err
	}
	defer b.Close()
	before := usedBytes(b.DB())
	// A batch at a time, so that Ctrl-C can say how many were stored.
	now := time.Now()
	gen := func(i int) *flows.Session { return store.SampleSession(i, now) }
	for done := 0; done < n; done += seedBatch {
		if err := store.SeedWaiting(ctx, b, done, min(seedBatch, n-done), seedBatch, gen); err != nil {
			if ctx.Err() != nil && errors.Is(err, context.Canceled) {
				return 0, &benchInterruptedError{fmt.Sprintf("storing idle sessions (%d of the %d of --idle stored)", done, n)}
			}
			return 0, err
		}
	}
	return float64(usedBytes(b.DB())-before) / float64(n), nil
}

// usedBytes is the database size up to its highest page, less free pages.
func usedBytes(db *bbolt.DB) int64 {
	var size int64
	_ = db.View(func(tx *bbolt.Tx) error {
		size = tx.Size()
		return nil
	})
	st := db.Stats()
	return size - int64(st.FreePageN+st.PendingPageN)*int64(db.Info().PageSize)
}

// benchClient calls the Parley HTTP API.
type benchClient struct {
	base   string
	apiKey string
	hc     *fasthttp.Client
	// subID is the receiver's event subscription, deleted by teardown.
	subID string
	// flowCalls: a webhook of the flow calls the receiver.
	flowCalls bool
	// port is the run's receiver's; live caches alive's answers.
	port int
	live map[int]bool
	// channel and flowID are the run's channel and flow: benchChannel and
	// benchFlowID in process, named with the receiver's port against --url
	// (shared), where runs going on at the same time each need their own.
	channel, flowID string
	shared          bool
}

// forPort sets the client up for the run whose receiver has port: against
// another server (shared) its channel is bench-PORT and its flow
// bench-flow-PORT, as its contacts' numbers have the port in them, so that
// a run going on at the same time neither points this run's conversations
// at its own flow nor this run's webhook calls at its own receiver.
func (c *benchClient) forPort(port int, shared bool) {
	c.port, c.shared = port, shared
	c.channel, c.flowID = benchChannel, benchFlowID
	if shared {
		c.channel, c.flowID = benchRunName(benchChannel, port), benchRunName(benchFlowID, port)
	}
}

// benchRunName is name-PORT, the name of the channel or flow of the run
// whose receiver has port.
func benchRunName(name string, port int) string { return name + "-" + strconv.Itoa(port) }

// benchRunPort is the port in id when id is benchRunName(name, port).
func benchRunPort(id, name string) (int, bool) {
	num, ok := strings.CutPrefix(id, name+"-")
	port, err := strconv.Atoi(num)
	return port, ok && err == nil && port > 0 && port < 1<<16 && strconv.Itoa(port) == num
}

// benchRunSubflowPort is the port in id when id is a flow of a RapidPro
// export stored by the run whose receiver has port (subflowID:
// bench-flow-PORT-ID).
func benchRunSubflowPort(id string) (int, bool) {
	rest, ok := strings.CutPrefix(id, benchFlowID+"-")
	num, sub, cut := strings.Cut(rest, "-")
	if !ok || !cut || sub == "" {
		return 0, false
	}
	return benchRunPort(benchFlowID+"-"+num, benchFlowID)
}

// benchSetupTimeout bounds each request of the setup and teardown: they
// are small, and a target that takes connections without answering them is
// said to be so before long.
var benchSetupTimeout = 10 * time.Second

// do sends one request; it returns the body of a 2xx answer. It gives up
// after benchSetupTimeout, or at once when ctx is cancelled (Ctrl-C).
func (c *benchClient) do(ctx context.Context, method, path string, body []byte, out []byte) ([]byte, int, error) {
	return c.doTimeout(ctx, benchSetupTimeout, method, path, body, out)
}

// doTimeout is do with a timeout of its own (0: none but ctx's).
func (c *benchClient) doTimeout(ctx context.Context, timeout time.Duration, method, path string, body []byte, out []byte) ([]byte, int, error) {
	if err := ctx.Err(); err != nil {
		return out, 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	type answer struct {
		code int
		body []byte
		err  error
	}
	// fasthttp's client takes no context: the request goes on in its own
	// goroutine, which a cancelled run leaves to end by its timeout.
	done := make(chan answer, 1)
	go func() {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod(method)
		req.SetRequestURI(c.base + path)
		if c.apiKey != "" {
			req.Header.Set("Authorization", "Bearer "+c.apiKey)
		}
		if body != nil {
			req.Header.SetContentType("application/json")
			req.SetBodyRaw(body)
		}
		if timeout > 0 {
			req.SetTimeout(timeout)
		}
		err := c.hc.Do(req, resp)
		done <- answer{resp.StatusCode(), slices.Clone(resp.Body()), err}
	}()
	var a answer
	select {
	case a = <-done:
	case <-ctx.Done():
		return out, 0, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
	}
	if err := a.err; err != nil {
		if errors.Is(err, fasthttp.ErrTimeout) {
			return out, 0, fmt.Errorf("%s %s: %s did not answer in %s (it takes connections: is it a Parley server?)", method, path, c.base, timeout)
		}
		return out, 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	out = append(out[:0], a.body...)
	if code := a.code; code < 200 || code > 299 {
		err := fmt.Errorf("%s %s: status %d: %s", method, path, code, bytes.TrimSpace(out))
		if code == fasthttp.StatusUnauthorized {
			// As parley backup: the key is --api-key's alone, no
			// environment variable is read.
			if c.apiKey != "" {
				err = fmt.Errorf("%w (the server does not know the key given with --api-key)", err)
			} else {
				err = fmt.Errorf("%w (give the server's key with --api-key)", err)
			}
		}
		return out, code, err
	}
	return out, a.code, nil
}

// sessionError reads the error event that failed session (GET
// /v1/sessions/{id}/events): the widget it names and its message, the last
// one when there are several; message is empty when the log has none.
func (c *benchClient) sessionError(ctx context.Context, session string) (widget, message string, err error) {
	for after := ""; ; {
		path := "/v1/sessions/" + url.PathEscape(session) + "/events"
		if after != "" {
			path += "?after=" + url.QueryEscape(after)
		}
		out, _, err := c.do(ctx, "GET", path, nil, nil)
		if err != nil {
			return "", "", err
		}
		for _, e := range gjson.GetBytes(out, "events").Array() {
			if e.Get("type").String() == "error" {
				widget, message = e.Get("widget").String(), e.Get("message").String()
			}
		}
		if after = gjson.GetBytes(out, "next").String(); after == "" {
			return widget, message, nil
		}
	}
}

// webhookOutcomes reads the server's count of webhook calls by outcome,
// parley_webhook_calls_total on its /metrics.
func (c *benchClient) webhookOutcomes(ctx context.Context) (map[string]float64, error) {
	out, _, err := c.do(ctx, "GET", "/metrics", nil, nil)
	if err != nil {
		return nil, err
	}
	const prefix = `parley_webhook_calls_total{outcome="`
	counts := map[string]float64{}
	for line := range bytes.Lines(out) {
		rest, ok := bytes.CutPrefix(line, []byte(prefix))
		if !ok {
			continue
		}
		outcome, value, ok := bytes.Cut(rest, []byte(`"} `))
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(string(bytes.TrimSpace(value)), 64); err == nil {
			counts[string(outcome)] += v
		}
	}
	return counts, nil
}

// benchSubscription describes the receiver's event subscription, so that
// one an earlier run could not delete (it was killed) is recognised.
const benchSubscription = "parley bench receiver"

// benchAlivePath is where a run's receiver answers benchSubscription while
// the run lasts: a subscription, or a channel or flow named with a port,
// whose receiver port answers so belongs to a run still going, and is left
// alone.
const benchAlivePath = "/parley-bench"

// alive reports whether the receiver of a run on 127.0.0.1:port answers,
// so that run is still going. The port of this run's own receiver is not:
// what a run that had it before left is this run's to clear.
func (c *benchClient) alive(port int) bool {
	if port == c.port {
		return false
	}
	if v, ok := c.live[port]; ok {
		return v
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://127.0.0.1:" + strconv.Itoa(port) + benchAlivePath)
	v := c.hc.DoTimeout(req, resp, 2*time.Second) == nil && resp.StatusCode() == 200 && string(resp.Body()) == benchSubscription
	if c.live == nil {
		c.live = map[int]bool{}
	}
	c.live[port] = v
	return v
}

// setup stores the run's flow (webhook URLs pointed at the receiver), and
// the other flows of the RapidPro export it comes from (others, by their ids
// in the export: subflowID names them on the server), publishes them,
// routes the run's channel to the run's flow, clears what ended runs left
// and subscribes the receiver to events. The subscription's id is kept in
// c.subID for teardown, even when setup fails after making it.
func (c *benchClient) setup(ctx context.Context, doc []byte, others map[string][]byte, rcv *receiver, events []string, stderr io.Writer) error {
	// The subflow widgets of an export's flows enter each other by their
	// ids in the export: they enter the flows as the run stores them.
	ids := map[string]string{}
	if len(others) > 0 {
		if id := gjson.GetBytes(doc, "id").String(); id != "" {
			ids[id] = c.flowID
		}
		for id := range others {
			ids[id] = c.subflowID(id)
		}
	}
	// The subflows first, so that the run's flow, once published, finds
	// them.
	for _, id := range slices.Sorted(maps.Keys(others)) {
		sub, err := c.runDoc(others[id], ids[id], ids, nil)
		if err == nil {
			err = c.storeFlow(ctx, ids[id], sub)
		}
		if err != nil {
			return fmt.Errorf("flow %q of the export: %w", id, err)
		}
	}
	doc, err := c.runDoc(doc, c.flowID, ids, rcv)
	if err != nil {
		return err
	}
	if err := c.storeFlow(ctx, c.flowID, doc); err != nil {
		return err
	}
	ch, _ := json.Marshal(map[string]string{"id": c.channel, "name": benchChannelName, "type": "api", "default_flow": c.flowID})
	if _, _, err := c.do(ctx, "PUT", "/v1/channels/"+c.channel, ch, nil); err != nil {
		return err
	}
	// Before the subscription, so that the sessions' ends are not counted
	// as the run's deliveries. In process the store is the run's own and
	// new: no earlier run left anything in it.
	if c.shared {
		if err := c.interruptLeft(ctx, c.flowID, c.channel, rcv.contacts, stderr); err != nil {
			return err
		}
		if err := c.deleteEndedRuns(ctx, stderr); err != nil {
			return err
		}
	}
	var evs []string
	for _, e := range events {
		if e = strings.TrimSpace(e); e != "" {
			evs = append(evs, e)
		}
	}
	// Whatever --events says: a run without events still deletes what a
	// killed run left.
	if err := c.deleteLeftSubscriptions(ctx, stderr); err != nil {
		return err
	}
	if len(evs) == 0 {
		return nil
	}
	sub, _ := json.Marshal(map[string]any{"url": rcv.url + "/events", "events": evs, "description": benchSubscription})
	out, _, err := c.do(ctx, "POST", "/v1/webhooks", sub, nil)
	if err != nil {
		return fmt.Errorf("subscribe the receiver to %v: %w", evs, err)
	}
	c.subID = gjson.GetBytes(out, "id").String()
	// A test ping, sent and answered now, shows whether the server may reach
	// the receiver at all.
	out, _, err = c.do(ctx, "POST", "/v1/webhooks/"+c.subID+"/test", nil, nil)
	if err != nil {
		return fmt.Errorf("test the receiver's event subscription: %w", err)
	}
	if outcome := gjson.GetBytes(out, "outcome").String(); outcome != "success" {
		why := gjson.GetBytes(out, "error").String()
		if why == "" {
			why = "status " + gjson.GetBytes(out, "response.status").String()
		}
		err := fmt.Errorf("the server cannot deliver events to the loopback receiver %s (%s: %s)", rcv.url, outcome, why)
		if outcome == "blocked" {
			err = fmt.Errorf("%w: start the server with --allow-cidr 127.0.0.0/8 (or PARLEY_ALLOW_CIDRS=127.0.0.0/8), so that its webhook calls and event deliveries may reach this machine", err)
		}
		return err
	}
	// The subscription sends a ping of its own first; wait for it so it does
	// not compete with the run's deliveries.
	deadline := time.Now().Add(5 * time.Second)
	for rcv.pings.Load() == 0 && ctx.Err() == nil {
		if time.Now().After(deadline) {
			fmt.Fprintln(stderr, "parley bench: warning: the event subscription's first ping has not come in 5 s; the server's event delivery is behind, and the run's delivery figures will show it")
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// subflowID is the id the run stores a RapidPro export's other flow id
// under: its own in process, where the store is the run's, and against
// --url bench-flow-PORT-id, the run's flow's id and its own, so that runs
// going on at the same time with exports of the same flows each enter
// their own, and deleteEndedRuns finds those of ended runs.
func (c *benchClient) subflowID(id string) string {
	if c.shared {
		return c.flowID + "-" + id
	}
	return id
}

// runDoc is the flow doc as the run stores it: under id, its subflow
// widgets entering the flows of ids (their ids in an export, mapped to the
// run's) under the run's ids, and, for the run's own flow (rcv not nil),
// its webhooks to the demo service pointed at the receiver.
func (c *benchClient) runDoc(doc []byte, id string, ids map[string]string, rcv *receiver) ([]byte, error) {
	var f map[string]any
	if err := json.Unmarshal(doc, &f); err != nil {
		return nil, fmt.Errorf("flow: %w", err)
	}
	f["id"] = id
	if ws, ok := f["widgets"].([]any); ok {
		for _, w := range ws {
			m, ok := w.(map[string]any)
			if !ok {
				continue
			}
			switch m["type"] {
			case "webhook":
				if u, _ := m["url"].(string); rcv != nil && strings.Contains(u, server.DemoOrderStatusPath) {
					m["url"] = rcv.url + "/orders"
					c.flowCalls = true
				}
			case "subflow":
				if from, _ := m["flow"].(string); ids[from] != "" {
					m["flow"] = ids[from]
				}
			}
		}
	}
	return json.Marshal(f)
}

// storeFlow stores doc as flow id, a new revision when the server has it
// (a run before this one whose receiver had the same port stored it), and
// publishes it.
func (c *benchClient) storeFlow(ctx context.Context, id string, doc []byte) error {
	if _, code, err := c.do(ctx, "POST", "/v1/flows", doc, nil); err != nil && code != 409 {
		return err
	} else if code == 409 {
		if _, _, err := c.do(ctx, "PUT", "/v1/flows/"+url.PathEscape(id), doc, nil); err != nil {
			return err
		}
	}
	_, _, err := c.do(ctx, "POST", "/v1/flows/"+url.PathEscape(id)+"/publish", []byte(`{}`), nil)
	return err
}

// benchChannelName is the name of the runs' channels.
const benchChannelName = "Load test"

// interruptLeft interrupts the sessions that an earlier run left waiting on
// channel with flow, those of contacts whose URNs start with contacts: the
// run's contacts, on the run's channel, have the numbers theirs had, and
// would otherwise resume those conversations, perhaps of another flow or
// revision, instead of starting their own. The listing asks for those
// contacts alone (contact_prefix, which the store answers from each
// record's header without decompressing the sessions of others), and is
// bounded by ctx only, not by benchSetupTimeout: a server holding millions
// of waiting sessions takes a while to walk them. It says on stderr how
// many it interrupted.
func (c *benchClient) interruptLeft(ctx context.Context, flow, channel, contacts string, stderr io.Writer) error {
	var ids []string
	for after := ""; ; {
		path := "/v1/sessions?status=waiting&flow=" + url.QueryEscape(flow) + "&contact_prefix=" + url.QueryEscape(contacts) + "&limit=1000"
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		out, _, err := c.doTimeout(ctx, 0, "GET", path, nil, nil)
		if err != nil {
			return fmt.Errorf("list the sessions earlier runs left waiting: %w", err)
		}
		for _, s := range gjson.GetBytes(out, "sessions").Array() {
			if s.Get("channel").String() == channel && strings.HasPrefix(s.Get("contact").String(), contacts) {
				ids = append(ids, s.Get("id").String())
			}
		}
		if after = gjson.GetBytes(out, "next").String(); after == "" {
			break
		}
	}
	n := 0
	for _, id := range ids {
		// 409: it ended meanwhile (it expired, or its contact wrote).
		_, code, err := c.do(ctx, "POST", "/v1/sessions/"+url.PathEscape(id)+"/interrupt", nil, nil)
		switch {
		case err == nil:
			n++
		case code != 404 && code != 409:
			return fmt.Errorf("interrupt session %s, left waiting by an earlier run: %w", id, err)
		}
	}
	if n > 0 {
		fmt.Fprintf(stderr, "parley bench: interrupted %d sessions left waiting on channel %s by an earlier run\n", n, channel)
	}
	return nil
}

// deleteEndedRuns deletes the channels and flows that ended runs against the
// same server left (each run's are named with its receiver's port), after
// interrupting the sessions they left waiting on them, so that runs do not
// pile up channels and flows on the server. Those of runs whose receiver
// still answers (alive) are left alone, and so are a channel that is not
// the runs' (another name or flow) and a flow that another channel names.
func (c *benchClient) deleteEndedRuns(ctx context.Context, stderr io.Writer) error {
	out, _, err := c.do(ctx, "GET", "/v1/channels", nil, nil)
	if err != nil {
		return fmt.Errorf("list channels: %w", err)
	}
	channels := map[int]bool{}
	for _, ch := range gjson.GetBytes(out, "channels").Array() {
		port, ok := benchRunPort(ch.Get("id").String(), benchChannel)
		if ok && ch.Get("name").String() == benchChannelName && ch.Get("default_flow").String() == benchRunName(benchFlowID, port) {
			channels[port] = true
		}
	}
	out, _, err = c.do(ctx, "GET", "/v1/flows", nil, nil)
	if err != nil {
		return fmt.Errorf("list flows: %w", err)
	}
	ports := maps.Clone(channels)
	// The flows a run stored of a RapidPro export beside its own
	// (subflowID), by the run's port.
	subflows := map[int][]string{}
	for _, f := range gjson.GetBytes(out, "flows").Array() {
		id := f.Get("id").String()
		if port, ok := benchRunPort(id, benchFlowID); ok {
			ports[port] = true
		} else if port, ok := benchRunSubflowPort(id); ok {
			ports[port] = true
			subflows[port] = append(subflows[port], id)
		}
	}
	for _, port := range slices.Sorted(maps.Keys(ports)) {
		if port == c.port || c.alive(port) {
			continue
		}
		channel, flow := benchRunName(benchChannel, port), benchRunName(benchFlowID, port)
		if err := c.interruptLeft(ctx, flow, channel, benchContacts(port), stderr); err != nil {
			return err
		}
		var deleted []string
		if channels[port] {
			if _, code, err := c.do(ctx, "DELETE", "/v1/channels/"+channel, nil, nil); err == nil {
				deleted = append(deleted, "channel "+channel)
			} else if code != 404 {
				return fmt.Errorf("delete channel %s, left by an ended run: %w", channel, err)
			}
		}
		// 409: another channel names the flow, and it stays.
		for _, flow := range append([]string{flow}, subflows[port]...) {
			if _, code, err := c.do(ctx, "DELETE", "/v1/flows/"+flow, nil, nil); err == nil {
				deleted = append(deleted, "flow "+flow)
			} else if code != 404 && code != 409 {
				return fmt.Errorf("delete flow %s, left by an ended run: %w", flow, err)
			}
		}
		if len(deleted) > 0 {
			fmt.Fprintf(stderr, "parley bench: deleted %s of an ended run\n", strings.Join(deleted, " and "))
		}
	}
	return nil
}

// deleteLeftSubscriptions deletes the receiver subscriptions of earlier runs
// that were stopped before they could delete their own: their receivers are
// gone, and the server would retry every event for them.
func (c *benchClient) deleteLeftSubscriptions(ctx context.Context, stderr io.Writer) error {
	out, _, err := c.do(ctx, "GET", "/v1/webhooks", nil, nil)
	if err != nil {
		return fmt.Errorf("list event subscriptions: %w", err)
	}
	for _, s := range gjson.GetBytes(out, "webhooks").Array() {
		id := s.Get("id").String()
		if s.Get("description").String() != benchSubscription || !strings.HasPrefix(s.Get("url").String(), "http://127.0.0.1:") {
			continue
		}
		// The subscription of a run going on at the same time stays.
		if u, err := url.Parse(s.Get("url").String()); err == nil {
			if port, err := strconv.Atoi(u.Port()); err == nil && c.alive(port) {
				continue
			}
		}
		if _, code, err := c.do(ctx, "DELETE", "/v1/webhooks/"+id, nil, nil); err != nil && code != 404 {
			return fmt.Errorf("delete event subscription %s, left by an earlier run: %w", id, err)
		}
		fmt.Fprintf(stderr, "parley bench: deleted event subscription %s (%s), left by an earlier run\n", id, s.Get("url").String())
	}
	return nil
}

// teardown deletes the run's event subscription: its receiver closes with the
// run, and the server would go on retrying deliveries to it.
func (c *benchClient) teardown(stderr io.Writer) {
	if c.subID == "" {
		return
	}
	// Also after Ctrl-C: the run's own context is cancelled then.
	if _, code, err := c.do(context.Background(), "DELETE", "/v1/webhooks/"+c.subID, nil, nil); err != nil && code != 404 {
		fmt.Fprintf(stderr, "parley bench: the receiver's event subscription %s is left on the server (delete it with DELETE /v1/webhooks/%s): %v\n",
			c.subID, c.subID, err)
	}
	c.subID = ""
}

// msgConn sends one contact's messages over its own keep-alive HTTP/1.1
// connection: each request is built in one buffer and written with one
// write, and the reply is read through one buffered reader, its status,
// Content-Length and body checked. It does what a general HTTP client does
// for these requests without its pools, URI parsing and header maps, which
// cost as much CPU as a fifth of the server's turn on the cores the server
// shares. Targets are plain http:// (loopbackURL checks --url).
type msgConn struct {
	path     string
	addr     string    // host:port
	head     []byte    // request line and headers up to the Content-Length value
	deadline time.Time // of every read and write
	conn     net.Conn
	// raw is conn's file descriptor, through which send writes the
	// request and waits for the reply (nil: conn.Write, then read).
	raw syscall.RawConn
	br  *bufio.Reader
	req []byte
	// The state of one send: onReadable is writeReq, bound once; sent
	// counts the bytes of req written; wrote is set once the write was
	// tried; werr is a write's error other than a full socket.
	onReadable func(fd uintptr) bool
	sent       int
	wrote      bool
	werr       error
}

func newMsgConn(cl *benchClient, path string, deadline time.Time) (*msgConn, error) {
	m := &msgConn{path: path, deadline: deadline}
	u, err := url.Parse(cl.base)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", cl.base, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("target %q: only http:// is supported", cl.base)
	}
	m.addr = u.Host
	if u.Port() == "" {
		m.addr = net.JoinHostPort(u.Hostname(), "80")
	}
	m.head = fmt.Appendf(nil, "POST %s%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n", u.EscapedPath(), path, u.Host)
	if cl.apiKey != "" {
		m.head = fmt.Appendf(m.head, "Authorization: Bearer %s\r\n", cl.apiKey)
	}
	m.head = append(m.head, "Content-Length: "...)
	return m, nil
}

// post sends body and returns the reply's body (in out's storage) when the
// status is 2xx, an error otherwise.
func (m *msgConn) post(body, out []byte) ([]byte, error) {
	m.req = append(m.req[:0], m.head...)
	m.req = strconv.AppendInt(m.req, int64(len(body)), 10)
	m.req = append(m.req, "\r\n\r\n"...)
	m.req = append(m.req, body...)
	for {
		fresh := m.conn == nil
		if fresh {
			c, err := net.Dial("tcp", m.addr)
			if err != nil {
				return out, fmt.Errorf("POST %s: %w", m.path, err)
			}
			_ = c.SetDeadline(m.deadline)
			m.conn = c
			m.raw = nil
			if tc, ok := c.(*net.TCPConn); ok && sockwrite.Supported {
				m.raw, _ = tc.SyscallConn()
			}
			if m.br == nil {
				m.br = bufio.NewReaderSize(c, 8192)
			} else {
				m.br.Reset(c)
			}
		}
		out, stale, err := m.roundTrip(out)
		if err == nil {
			return out, nil
		}
		if stale && !fresh {
			// The server closed the idle connection before it read this
			// request: send it again on a new one (a message id makes a
			// repeat harmless in any case).
			m.close()
			continue
		}
		return out, fmt.Errorf("POST %s: %w", m.path, err)
	}
}

// roundTrip writes the request and reads the reply. stale reports that the
// connection was closed before any byte of a reply came.
func (m *msgConn) roundTrip(out []byte) (_ []byte, stale bool, err error) {
	defer func() {
		if err != nil && !errors.As(err, new(statusError)) {
			m.close()
		}
	}()
	if err := m.send(); err != nil {
		return out, true, err
	}
	line, err := m.br.ReadSlice('\n')
	if err != nil {
		return out, len(line) == 0 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)), err
	}
	// HTTP/1.1 200 OK
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return out, false, fmt.Errorf("malformed status line %q", bytes.TrimSpace(line))
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return out, false, fmt.Errorf("malformed status line %q", bytes.TrimSpace(line))
	}
	length, closing := -1, false
	for {
		h, err := m.br.ReadSlice('\n')
		if err != nil {
			return out, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return out, false, fmt.Errorf("malformed header %q", h)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return out, false, fmt.Errorf("malformed Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return out, false, fmt.Errorf("reply with Transfer-Encoding %q: only Content-Length is supported", value)
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	if length < 0 {
		if code != 204 && code != 304 {
			return out, false, fmt.Errorf("status %d reply without Content-Length", code)
		}
		length = 0
	}
	out = slices.Grow(out[:0], length)[:length]
	if _, err := io.ReadFull(m.br, out); err != nil {
		return out, false, err
	}
	if closing {
		m.close()
	}
	if code < 200 || code > 299 {
		return out, false, statusError(fmt.Sprintf("status %d: %s", code, bytes.TrimSpace(out)))
	}
	return out, false, nil
}

// send writes the request and returns once the reply can be read.
//
// A read right after the write finds nothing yet: the server has not
// answered. conn.Read would make that read anyway (a system call that
// fails with EAGAIN) before it waits for the socket, once per message, on
// the cores the server shares. So the write is made from inside the raw
// connection's Read, after it has readied its wait for the socket and
// before it waits, where no wake-up can be missed; the bufio.Reader's
// first read then finds the reply. A write that does not go in whole at
// once (a full socket buffer) is finished by conn.Write.
func (m *msgConn) send() error {
	if m.raw == nil {
		_, err := m.conn.Write(m.req)
		return err
	}
	m.sent, m.wrote, m.werr = 0, false, nil
	if m.onReadable == nil {
		m.onReadable = m.writeReq
	}
	err := m.raw.Read(m.onReadable)
	switch {
	case m.werr != nil:
		return m.werr
	case err != nil:
		return err
	case m.sent < len(m.req):
		_, err := m.conn.Write(m.req[m.sent:])
		return err
	}
	return nil
}

// writeReq is send's function for the raw connection's Read, made once per
// connection (onReadable): it writes the request once, then lets the read
// wait. Its state is in sent, wrote and werr.
func (m *msgConn) writeReq(fd uintptr) bool {
	if m.wrote {
		return true // readable, or closed: the reader finds out which
	}
	m.wrote = true
	for m.sent < len(m.req) {
		n, err := sockwrite.Write(fd, m.req[m.sent:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return true
		case err != nil:
			m.werr = err
			return true
		}
		m.sent += n
	}
	return false
}

// statusError is a non-2xx reply read in full: the connection stays usable.
type statusError string

func (e statusError) Error() string { return string(e) }

func (m *msgConn) close() {
	if m.conn != nil {
		_ = m.conn.Close()
		m.conn = nil
	}
}

// load is the set of simulated contacts.
type load struct {
	cl       *benchClient
	script   []string
	workers  []*worker
	firstErr atomic.Pointer[error]
	// connDeadline bounds every read and write of the contacts' connections.
	connDeadline time.Time
	// interval, when set (--rate), is the time between one contact's
	// messages, counted from start.
	interval time.Duration
	start    time.Time
	// noIDs: messages carry no id (--no-message-ids).
	noIDs bool
	// idPrefix starts every message id of the run. It differs from run to
	// run, so that a second run against the same server (--url) sends new
	// messages rather than repeats, which the server would answer from its
	// dedupe records without a turn.
	idPrefix string
	// idShape is --message-ids; seq numbers the messages of all contacts
	// for idsOrdered.
	idShape string
	seq     atomic.Int64
	// perWorker is how many contacts each worker takes turns with
	// (--contacts): worker w's are w, w + len(workers), w + 2*len(workers)...
	perWorker int
	// lastStatus is the session's status after a script's last text, the
	// first time it was not completed.
	lastStatus atomic.Pointer[string]
	// failure is the first turn that left its session failed.
	failure atomic.Pointer[benchFailure]
	// fromPrefix starts the contacts' numbers (benchFrom).
	fromPrefix string
}

// ended reports whether status, the session's after the script's last
// text, is completed, and keeps the first other one for the report.
func (l *load) ended(status string) bool {
	if status == "completed" {
		return true
	}
	l.lastStatus.CompareAndSwap(nil, &status)
	return false
}

// benchFailure is a turn that left its session failed: the session, the
// text the turn answered and, once read, the error that failed it.
type benchFailure struct {
	session, text string
	// widget and err are the session's error event's (err empty when it
	// has none), or readErr why its events could not be read.
	widget, err string
	readErr     error
}

// describe says what failed the sessions of a run, n of which failed, f
// the first.
func (f *benchFailure) describe(n int64) string {
	what := fmt.Sprintf("%d sessions failed, the first after the text %q", n, f.text)
	switch {
	case f.readErr != nil:
		return fmt.Sprintf("%s (session %s; its error could not be read: %v)", what, f.session, f.readErr)
	case f.err == "":
		return fmt.Sprintf("%s (session %s, with no error event: GET /v1/sessions/%s/events)", what, f.session, f.session)
	case f.widget != "":
		return fmt.Sprintf("%s, at widget %q: %s (session %s)", what, f.widget, f.err, f.session)
	}
	return fmt.Sprintf("%s: %s (session %s)", what, f.err, f.session)
}

// failed counts a turn of w's, answering text, that left its session
// failed, and keeps the first for the report: the conversations it ends
// do not complete the flow, whatever their texts.
func (l *load) failed(w *worker, session, text string) {
	w.fails++
	if l.failure.Load() == nil {
		l.failure.CompareAndSwap(nil, &benchFailure{session: session, text: text})
	}
}

// benchFrom starts a message with its contact's number: the run's
// fromPrefix, then the contact's seven digits. Against --url the prefix is
// +999 (a country code no country has) and the five digits of the run's
// receiver port, 16 characters in all: runs at the same time have different
// receiver ports, so their contacts never meet (nor do their channels and
// flows, named with the port too); a run against --url interrupts the
// conversations that ended runs left waiting (interruptLeft), so a later run
// whose receiver has the same port does not resume them. In
// process, where the store is the run's own, it is +1999 (12 characters), as
// the figures in docs/PERFORMANCE.md were measured with.
const benchFrom = `{"from":"%s%07d",`

const benchFromPrefix = "+999"

// from is the number of the contact of worker w's current conversation.
func (l *load) from(w *worker) int {
	return w.id + len(l.workers)*(w.conv%l.perWorker)
}

// The shapes of --message-ids.
const (
	idsPerContact = "per-contact"
	idsOrdered    = "ordered"
	idsRandom     = "random"
)

// appendID appends the id of contact w's message n. Per contact, the ids
// of one contact sort together and those of all contacts interleave; ordered
// ids sort by when they were sent; random ones in no order.
func (l *load) appendID(b []byte, w *worker, n int) []byte {
	b = append(b, l.idPrefix...)
	switch l.idShape {
	case idsOrdered:
		return fmt.Appendf(b, "%012d", l.seq.Add(1))
	case idsRandom:
		return fmt.Appendf(b, "%016x%016x", rand.Uint64(), rand.Uint64())
	}
	b = strconv.AppendInt(b, int64(w.id), 10)
	b = append(b, '-')
	return strconv.AppendInt(b, int64(n), 10)
}

// worker is one contact: it sends a conversation's texts one after the
// other, each after the reply to the previous one, and starts over.
type worker struct {
	id    int
	conv  int // conversations started
	ok    int64
	errs  int64
	convs int64
	// ends counts the conversations whose last text was answered, whether
	// or not that completed the session; fails the turns that left their
	// session failed.
	ends  int64
	fails int64
	sent  atomic.Int64 // for the progress bar
	lat   []time.Duration
}

func (l *load) run(ctx context.Context, w *worker) {
	mc, err := newMsgConn(l.cl, "/v1/channels/"+l.cl.channel+"/messages", l.connDeadline)
	if err != nil {
		l.firstErr.CompareAndSwap(nil, &err)
		return
	}
	defer mc.close()
	var prefix []byte
	var body, out []byte
	n := 0
	var due time.Time
	if l.interval > 0 {
		due = l.start.Add(l.interval * time.Duration(w.id) / time.Duration(len(l.workers)))
	}
	for ; ctx.Err() == nil; w.conv++ {
		prefix = fmt.Appendf(prefix[:0], benchFrom, l.fromPrefix, l.from(w))
		if l.noIDs {
			prefix = append(prefix, `"text":`...)
		} else {
			prefix = append(prefix, `"id":"`...)
		}
		completed := false
		for i, text := range l.script {
			if ctx.Err() != nil {
				return
			}
			n++
			body = append(body[:0], prefix...)
			if !l.noIDs {
				body = l.appendID(body, w, n)
				body = append(body, `","text":`...)
			}
			body = strconv.AppendQuote(body, text)
			body = append(body, '}')
			t0 := time.Now()
			if l.interval > 0 {
				// Open loop: wait for the message's time, and count its
				// latency from then even when the previous reply came late.
				if wait := time.Until(due); wait > 0 {
					select {
					case <-time.After(wait):
					case <-ctx.Done():
						return
					}
				}
				t0 = due
				due = due.Add(l.interval)
			}
			var err error
			out, err = mc.post(body, out)
			d := time.Since(t0)
			if err != nil {
				w.errs++
				first := err
				l.firstErr.CompareAndSwap(nil, &first)
				// A failed turn leaves the conversation where it was: start over.
				if ctx.Err() == nil {
					time.Sleep(10 * time.Millisecond)
				}
				break
			}
			w.ok++
			w.sent.Add(1)
			w.lat = append(w.lat, d)
			status := gjson.GetBytes(out, "status").String()
			if status == "failed" {
				l.failed(w, gjson.GetBytes(out, "id").String(), text)
			}
			if i == len(l.script)-1 {
				w.ends++
				completed = l.ended(status)
			}
		}
		if completed {
			w.convs++
		}
	}
}

// runBatch drives the contacts ws over one connection: each request carries
// every contact's next message (POST .../messages/batch), and each contact
// moves on by its own reply, so each still sends its next message only
// after the reply to the previous one. A message's latency is its batch's
// round trip.
func (l *load) runBatch(ctx context.Context, ws []*worker) {
	mc, err := newMsgConn(l.cl, "/v1/channels/"+l.cl.channel+"/messages/batch", l.connDeadline)
	if err != nil {
		l.firstErr.CompareAndSwap(nil, &err)
		return
	}
	defer mc.close()
	step := make([]int, len(ws)) // each contact's place in the script
	var body, out []byte
	n := 0
	for ctx.Err() == nil {
		n++
		body = append(body[:0], `{"messages":[`...)
		for k, w := range ws {
			if k > 0 {
				body = append(body, ',')
			}
			body = fmt.Appendf(body, benchFrom, l.fromPrefix, l.from(w))
			if !l.noIDs {
				body = append(body, `"id":"`...)
				body = l.appendID(body, w, n)
				body = append(body, `",`...)
			}
			body = append(body, `"text":`...)
			body = strconv.AppendQuote(body, l.script[step[k]])
			body = append(body, '}')
		}
		body = append(body, "]}"...)
		t0 := time.Now()
		out, err = mc.post(body, out)
		d := time.Since(t0)
		var replies []gjson.Result
		if err == nil {
			if replies = gjson.GetBytes(out, "replies").Array(); len(replies) != len(ws) {
				err = fmt.Errorf("%d replies to a batch of %d messages", len(replies), len(ws))
			}
		}
		if err != nil {
			for k, w := range ws {
				w.errs++
				step[k] = 0
				w.conv++
			}
			l.firstErr.CompareAndSwap(nil, &err)
			if ctx.Err() == nil {
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		for k, w := range ws {
			r := replies[k]
			if e := r.Get("error"); e.Exists() {
				// A failed turn leaves the conversation where it was: start over.
				w.errs++
				step[k] = 0
				w.conv++
				var err error = statusError("batch message: " + e.Raw)
				l.firstErr.CompareAndSwap(nil, &err)
				continue
			}
			w.ok++
			w.sent.Add(1)
			w.lat = append(w.lat, d)
			status := r.Get("status").String()
			if status == "failed" {
				l.failed(w, r.Get("id").String(), l.script[step[k]])
			}
			if step[k]++; step[k] == len(l.script) {
				w.ends++
				if l.ended(status) {
					w.convs++
				}
				step[k] = 0
				w.conv++
			}
		}
	}
}

// progressBar draws the run's progress on a terminal.
func progressBar(w io.Writer, start time.Time, total time.Duration, l *load, stop <-chan struct{}) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	const width = 30
	for {
		select {
		case <-stop:
			fmt.Fprint(w, "\r\033[K")
			return
		case <-t.C:
		}
		el := time.Since(start)
		frac := min(1, float64(el)/float64(total))
		var sent int64
		for _, wk := range l.workers {
			sent += wk.sent.Load()
		}
		done := int(frac * width)
		fmt.Fprintf(w, "\r[%s%s] %3.0f%% %d messages, %.0f/s", strings.Repeat("=", done), strings.Repeat(" ", width-done),
			frac*100, sent, float64(sent)/el.Seconds())
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }

// peakRSSMB reads this process's peak resident set (VmHWM) from /proc.
func peakRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return math.Round(kb/1024*10) / 10
		}
	}
	return 0
}

// loadAvgFile is where readLoadAvg reads the load average.
var loadAvgFile = "/proc/loadavg"

// readLoadAvg is /proc/loadavg's 1, 5 and 15 minute averages: other work on
// the machine skews every figure, so the report carries it.
func readLoadAvg() string {
	b, err := os.ReadFile(loadAvgFile)
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func (r *BenchResult) table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(name, val, unit string) { fmt.Fprintf(tw, "%s\t%s\t %s\t\n", name, val, unit) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	n := func(v float64) string { return strconv.FormatFloat(math.Round(v), 'f', 0, 64) }
	offered := ""
	if r.Rate > 0 {
		offered = fmt.Sprintf(" offered %d messages/s,", r.Rate)
	}
	if r.NoMessageIDs {
		offered += " no message ids,"
	}
	if r.MessageIDs != "" {
		offered += " " + r.MessageIDs + " message ids,"
	}
	if r.Batch > 1 {
		if r.Concurrency%r.Batch != 0 {
			offered += fmt.Sprintf(" batches of up to %d,", r.Batch)
		} else {
			offered += fmt.Sprintf(" batches of %d,", r.Batch)
		}
	}
	if r.DedupeRetentionSec > 0 {
		offered += fmt.Sprintf(" message ids kept %s,", time.Duration(r.DedupeRetentionSec*float64(time.Second)))
	}
	if r.SessionRetentionSec > 0 {
		offered += fmt.Sprintf(" ended sessions kept %s,", time.Duration(r.SessionRetentionSec*float64(time.Second)))
	}
	contacts := fmt.Sprintf("%d contacts", r.Concurrency)
	if r.Contacts > 0 {
		contacts = fmt.Sprintf("%d contacts at a time out of %d", r.Concurrency, r.Contacts)
	}
	// With --url this process is the load generator and receiver alone:
	// its figures say so.
	procs, rssName, rss, of := fmt.Sprintf("GOMAXPROCS %d", r.GoMaxProcs), "peak RSS", r.PeakRSSMB, ""
	cpuMsg, cpuCores := r.CPUPerMessageUs, r.CPUCores
	if r.GoMaxProcs == 0 {
		procs = fmt.Sprintf("load generator's GOMAXPROCS %d", r.LoadGenGoMaxProcs)
		rssName, rss, of = "peak RSS (load generator)", r.LoadGenPeakRSSMB, " (load generator)"
		cpuMsg, cpuCores = r.LoadGenCPUPerMessageUs, r.LoadGenCPUCores
	}
	load := r.LoadAvg
	if r.LoadAvgStart != "" {
		load += " at the end (" + r.LoadAvgStart + " before)"
	}
	fmt.Fprintf(w, "parley bench: flow %s, %s,%s %.1f s, target %s, load %s, %s\n",
		r.Flow, contacts, offered, r.DurationSec, r.Target, load, procs)
	row("messages", strconv.FormatInt(r.Messages, 10), "")
	row("errors", strconv.FormatInt(r.Errors, 10), "")
	row("messages/s", n(r.MessagesPerSec), "")
	row("conversations/s", n(r.ConversationsPerS), "")
	row("turn p50", f(r.TurnP50Ms), "ms")
	row("turn p95", f(r.TurnP95Ms), "ms")
	row("turn p99", f(r.TurnP99Ms), "ms")
	row("turn max", f(r.TurnMaxMs), "ms")
	row("webhook calls/s", n(r.WebhookCallsPerS), "")
	row("event deliveries", strconv.FormatInt(r.Deliveries, 10), "")
	row("deliveries/s", n(r.DeliveriesPerSec), "")
	// A figure the run did not measure says so rather than read as 0.
	opt := func(name string, v *float64, format func(float64) string, unit string) {
		if v == nil {
			row(name, "not measured", "")
			return
		}
		row(name, format(*v), unit)
	}
	opt("delivery lag p50", r.DeliveryLagP50Ms, f, "ms")
	opt("delivery lag p99", r.DeliveryLagP99Ms, f, "ms")
	if r.IdleSessions == nil {
		row("idle waiting sessions", "not measured", "")
	} else {
		row("idle waiting sessions", strconv.Itoa(*r.IdleSessions), "")
	}
	opt("bytes per waiting session", r.BytesPerWaiting, n, "B")
	row(rssName, f(rss), "MiB")
	if cpuMsg > 0 {
		row("CPU per message"+of, f(cpuMsg), "µs")
		row("CPU used"+of, f(cpuCores), "cores")
	}
	if r.CommitsPerSec > 0 {
		row("store commits/s", n(r.CommitsPerSec), "")
		row("turns per commit", f(r.TurnsPerCommit), "")
		row("committer: lock wait", f(r.CommitterLockPct), "%")
		row("committer: apply", f(r.CommitterApplyPct), "%")
		row("committer: commit", f(r.CommitterSyncPct), "%")
		row("… writing pages, fsync", f(r.CommitterWritePct), "%")
		row("pages written per turn", f(r.PagesPerTurn), "")
	}
	if r.SchedLatencyP99Ms != nil {
		row("scheduler latency p50", f(*r.SchedLatencyP50Ms), "ms")
		row("scheduler latency p99", f(*r.SchedLatencyP99Ms), "ms")
		row("GC cycles/s", f(r.GCCyclesPerSec), "")
		row("GC pause p99", f(r.GCPauseP99Ms), "ms")
		row("live heap after the load", f(r.HeapLiveMB), "MiB")
	}
	_ = tw.Flush()
}

// receiver is the loopback endpoint the flow's webhook calls and event
// deliveries go to.
type receiver struct {
	url   string
	ln    net.Listener
	srv   *fasthttp.Server
	calls atomic.Int64
	pings atomic.Int64
	// contacts starts the URNs of the run's contacts (benchFrom): the events
	// of other runs' contacts, which a run going on at the same time makes,
	// are not this run's deliveries.
	contacts string

	mu   sync.Mutex
	lags []time.Duration
	last time.Time
}

var orderAnswer = []byte(`{"status":"Shipped","order":"CU001","name":"Ben Haggerty","order_number":"PLAT2012","ship_date":"October 9th","delivery_date":"April 3rd","description":"Vogue White Wall x 4"}`)

// startReceiver starts the run's receiver. Its contacts' numbers start
// +1999, or against another server (shared) +999 and the receiver's port
// (benchFrom).
func startReceiver(shared bool) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{url: "http://" + ln.Addr().String(), ln: ln, contacts: "tel:+1999"}
	if shared {
		r.contacts = benchContacts(r.port())
	}
	r.srv = &fasthttp.Server{Handler: r.handle, NoDefaultServerHeader: true, ReadTimeout: time.Minute}
	go pprof.Do(context.Background(), benchLabels("receiver"), func(context.Context) { _ = r.srv.Serve(ln) })
	return r, nil
}

// benchContacts starts the URNs of the contacts of the run against --url
// whose receiver has port (benchFrom).
func benchContacts(port int) string { return fmt.Sprintf("tel:%s%05d", benchFromPrefix, port) }

// port is the receiver's port, which no other run has while this one lasts.
func (r *receiver) port() int { return r.ln.Addr().(*net.TCPAddr).Port }

func (r *receiver) handle(c *fasthttp.RequestCtx) {
	switch string(c.Path()) {
	case benchAlivePath:
		// Another run asks whether this one is still going (benchClient.alive).
		c.SetBodyString(benchSubscription)
	case "/orders":
		r.calls.Add(1)
		c.SetContentType("application/json")
		c.SetBody(orderAnswer)
	case "/events":
		now := time.Now()
		if len(c.Request.Header.Peek("webhook-signature")) == 0 {
			c.SetStatusCode(fasthttp.StatusUnauthorized)
			return
		}
		body := c.PostBody()
		if gjson.GetBytes(body, "type").String() == "webhook.ping" {
			if !gjson.GetBytes(body, "data.test").Bool() {
				r.pings.Add(1)
			}
			c.SetStatusCode(fasthttp.StatusNoContent)
			return
		}
		if urn := gjson.GetBytes(body, "data.contact.urn").String(); strings.HasPrefix(urn, "tel:"+benchFromPrefix) && !strings.HasPrefix(urn, r.contacts) {
			c.SetStatusCode(fasthttp.StatusNoContent)
			return
		}
		ts, err := time.Parse(time.RFC3339Nano, gjson.GetBytes(body, "timestamp").String())
		r.mu.Lock()
		if err == nil {
			r.lags = append(r.lags, now.Sub(ts))
		} else {
			r.lags = append(r.lags, -1)
		}
		r.last = now
		r.mu.Unlock()
		c.SetStatusCode(fasthttp.StatusNoContent)
	default:
		c.SetStatusCode(fasthttp.StatusNotFound)
	}
}

func (r *receiver) reset() {
	r.calls.Store(0)
	r.mu.Lock()
	r.lags = r.lags[:0]
	r.mu.Unlock()
}

func (r *receiver) count() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int64(len(r.lags))
}

// drain waits until want deliveries arrived (want < 0: until none arrives
// for a second), at most max.
func (r *receiver) drain(ctx context.Context, want int64, max time.Duration) {
	deadline := time.Now().Add(max)
	prev, still := r.count(), time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n := r.count()
		if want >= 0 && n >= want {
			return
		}
		if n != prev {
			prev, still = n, time.Now()
		} else if time.Since(still) > time.Second && (want < 0 || n == 0) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type deliverySummary struct {
	count    int64
	last     time.Time
	p50, p99 time.Duration
}

func (r *receiver) deliverySummary() deliverySummary {
	r.mu.Lock()
	lags := slices.Clone(r.lags)
	last := r.last
	r.mu.Unlock()
	slices.Sort(lags)
	return deliverySummary{count: int64(len(lags)), last: last, p50: pct(lags, 0.5), p99: pct(lags, 0.99)}
}

func (r *receiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = r.srv.ShutdownWithContext(ctx)
}

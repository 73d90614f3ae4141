package commands

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/fpmconfig"
	"github.com/fcgicli/fcgicli/commands/health"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

func statusCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "read a php-fpm pool's status page, check thresholds, or watch it",
		Description: `Requests php-fpm's pm.status_path (--path, default /status) with ?json&full,
and prints the pool summary and the process list as tables (-o json: the page
with snake_case keys; -o prometheus: the summary in the Prometheus text
format, for node_exporter's textfile collector). A reply that is not a status
page (php-fpm's 404 "File not found.", an HTML page, "Access denied.") exits 1
with what came back: never a false healthy.

Thresholds fail the check (exit 1) with one line each naming the metric, its
value and the bound. Numbers are php-fpm's own: "active processes" counts
the status request itself when the page is read through the pool's own
socket (not through pm.status_listen). "listen queue len" is 0 on unix
socket pools, where --max-listen-queue-ratio is skipped with a note.

--connect may be repeated, and may be a glob of unix sockets, as for ping:
every pool is read at once and shown in the order given, each block under a
"==> ADDR <==" heading (-o json: {"pools": [...]}, each pool with its
address, its page, its error and its failed_checks; -o prometheus: every
pool's samples), and a glob that matches nothing is a failing pool. The exit
code is the worst pool's: 3-7 in that order (a pool that cannot be read),
then 1. --state-file and --watch take one pool.

--timeout and --connect-timeout (default 2s, as for ping, below a probe's
usual 3s) bound each pool. -q prints nothing but failures, not even notes.
A --state-file that cannot be read or written is exit 2, naming it.
-o nagios writes one Nagios plugin line, "PHP-FPM OK|CRITICAL|UNKNOWN -
summary | perfdata", and exits with the plugin guidelines' codes instead
of fcgicli's: 0 OK, 2 CRITICAL (a check failed, a pool unreachable), 3
UNKNOWN (a usage error, a reply that is not a status page).

--busy-ok (for liveness probes) passes a pool that accepted the
connection but had no free child: no answer before --timeout, or a page
whose listen queue holds connections (its failed checks become a note). A
pool that is not listening still fails.

--fpm-config FILE (repeatable; auto: the usual places) reads php-fpm's own
configuration and its include= files and reads every pool it defines,
through pm.status_listen when set, at its own pm.status_path; a pool with
no pm.status_path fails with its own line. An unreadable or invalid file
is exit 2 with its file and line. --max-children-ratio R fails a pool whose
active processes are R of its pm.max_children or more (from --fpm-config,
or --max-children N for --connect pools). With the process list, the
active, idle and total processes are the list's (php-fpm's summary lags
and can drift; a summary beyond pm.max_children is noted).

--listen ADDR serves a Prometheus exporter instead, with the metrics of
hipages/php-fpm_exporter: /metrics reads every pool afresh at each scrape
(globs and --fpm-config read again, so new pools appear; each pool within
-t; a pool that does not answer is phpfpm_up 0, never older numbers), and
/healthz answers ok while it runs. SIGINT or SIGTERM stops it gracefully
(exit 0). --per-process adds each process's metrics, to -o prometheus too.

--watch refreshes a live view in place on a terminal (requests/s from
accepted conn, changes since the last refresh, busy processes first), until
Ctrl-C (exit 0); off a terminal, or with -o json, it prints one JSON line
per interval, starting with its "time" (-o text off a terminal, -o
prometheus and -q are refused). A failed refresh is reported on stderr and
in a JSON line with its "error" and "exit_code", and the watch goes on;
with --count N it stops after N refreshes with the last one's exit code.

EXAMPLES:
   fcgicli status -c /run/php/php8.2-fpm.sock
   fcgicli status -c 127.0.0.1:9000 --max-listen-queue 10 --min-idle 1 -q
   fcgicli status -c 127.0.0.1:9000 -o prometheus > /var/lib/node_exporter/phpfpm.prom
   fcgicli status -c '/run/php/*.sock' -q --max-listen-queue 10
   fcgicli status --fpm-config auto -q --max-children-ratio 0.9
   fcgicli status -c /run/php/status.sock --state-file /tmp/fpm.state \
      --max-children-reached-delta 0
   fcgicli status -c 127.0.0.1:9000 --watch 1s
   fcgicli status --fpm-config auto --listen :9253`,
		Flags: flagList(probeFlags("reads"), []cli.Flag{
			&cli.StringFlag{Name: "path", Value: "/status", Usage: "php-fpm's pm.status_path `PATH` (pools from --fpm-config use their own)"},
			&cli.BoolFlag{Name: "no-full", Usage: "do not ask for the process list"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text, json, prometheus or nagios"},
			&cli.BoolFlag{Name: "per-process", Usage: "with -o prometheus or --listen, add the phpfpm_process_* metrics of every process"},
			&cli.StringFlag{Name: "listen", Aliases: []string{"l"}, Usage: "serve Prometheus metrics of every pool on `ADDR` (host:port) at /metrics, read afresh at each scrape, until SIGTERM"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but failed checks"},
			&cli.BoolFlag{Name: "busy-ok", Usage: "pass a pool that accepted the connection but had no free child (no answer in time, or connections in its listen queue), for liveness probes"},
			&cli.Int64Flag{Name: "max-listen-queue", Usage: "fail when listen queue is above `N`", DefaultText: "off"},
			&cli.Float64Flag{Name: "max-listen-queue-ratio", Usage: "fail when listen queue / listen queue len is above `F`", DefaultText: "off"},
			&cli.Int64Flag{Name: "min-idle", Usage: "fail when idle processes are below `N`", DefaultText: "off"},
			&cli.Int64Flag{Name: "max-active", Usage: "fail when active processes are above `N`", DefaultText: "off"},
			&cli.Float64Flag{Name: "max-active-ratio", Usage: "fail when active / total processes is above `F`", DefaultText: "off"},
			&cli.Int64Flag{Name: "max-slow-requests", Usage: "fail when slow requests (since start) are above `N`", DefaultText: "off"},
			&cli.Int64Flag{Name: "max-children-reached", Usage: "fail when max children reached (since start) is above `N`", DefaultText: "off"},
			&cli.Float64Flag{Name: "max-children-ratio", Usage: "fail when active processes / pm.max_children is `R` or more (pm.max_children from --fpm-config or --max-children)", DefaultText: "off"},
			&cli.Int64Flag{Name: "max-children", Usage: "the pm.max_children `N` of the --connect pools, which have no config to read it from", DefaultText: "unknown"},
			&cli.StringFlag{Name: "state-file", Usage: "remember the pool's counters in `FILE` between runs, for the -delta checks (one file per pool; one pool only)"},
			&cli.Int64Flag{Name: "max-children-reached-delta", Usage: "fail when max children reached grew by more than `N` since the last run", DefaultText: "off"},
			&cli.Int64Flag{Name: "max-slow-requests-delta", Usage: "fail when slow requests grew by more than `N` since the last run", DefaultText: "off"},
			&cli.DurationFlag{Name: "watch", Aliases: []string{"w"}, Usage: "refresh every `DURATION` until Ctrl-C (one pool only)"},
			&cli.IntFlag{Name: "count", Usage: "with --watch, stop after `N` refreshes (0: never)"},
			colorFlag(),
		}),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return runenv.Usagef("status takes no arguments, got %q (the path is --path)", c.Args().First())
			}
			o, err := statusOptionsFrom(c, env)
			if err != nil {
				return err
			}
			pal, err := palette(c, env, env.Stdout)
			if err != nil {
				return err
			}
			if o.watch > 0 {
				return runWatch(c.Context, env, pal, o)
			}
			if o.output == formatters.Nagios {
				return runStatusNagios(c.Context, env, o)
			}
			if o.listen != "" {
				return runExporter(c.Context, env, o)
			}
			if o.several {
				return runStatusPools(c.Context, env, pal, o)
			}
			return runStatus(c.Context, env, pal, o)
		},
	}
}

// note writes a line of fcgicli's own on stderr, unless -q.
func (o *statusOptions) note(format string, args ...any) {
	if !o.quiet {
		fmt.Fprintf(o.stderr, "fcgicli: "+format+"\n", args...)
	}
}

type statusOptions struct {
	net     fcgireq.NetOptions // Connect is the one pool's, unless several
	targets []health.Target
	notes   []string // about the configurations read, before the pools'
	several bool     // several -c or a glob: the output is one block per pool
	uri     string
	output  formatters.Format
	prom    formatters.PromOptions
	listen  string // --listen: serve the exporter there
	// resolve lists the pools again (--connect's globs, --fpm-config),
	// for each scrape of the exporter; --max-children is health.ApplyMaxChildren's.
	resolve     func() ([]health.Target, []string, error)
	maxChildren int64 // --max-children, 0 when not given
	quiet       bool
	check       health.Check // the thresholds, the state file, --busy-ok
	stderr      io.Writer    // for the notes, which -q leaves out
	watch       time.Duration
	count       int
	live        bool // --watch redraws the text view in place (else JSON lines)
}

func statusOptionsFrom(c *cli.Context, env *runenv.Env) (*statusOptions, error) {
	o := &statusOptions{quiet: c.Bool("quiet"), watch: c.Duration("watch"), count: c.Int("count"), stderr: env.Stderr,
		check: health.Check{StateFile: c.String("state-file"), BusyOK: c.Bool("busy-ok")}}
	query := "?json&full"
	if c.Bool("no-full") {
		query = "?json"
	}
	o.resolve = func() ([]health.Target, []string, error) {
		return probeTargets(c, env, func(cfgs []*fpmconfig.Config) []health.Target { return health.StatusTargets(cfgs, query) })
	}
	targets, warnings, err := o.resolve()
	if err != nil {
		return nil, err
	}
	o.targets, o.notes = targets, warnings
	if o.net, err = probeNetOptions(c); err != nil {
		return nil, err
	}
	values := c.StringSlice("connect")
	o.several = len(values) > 1 || len(targets) != 1 || c.IsSet("fpm-config")
	for _, v := range values {
		o.several = o.several || health.IsSocketGlob(v)
	}
	if !o.several {
		o.net.Connect = targets[0].Addr
	}
	path := c.String("path")
	if !strings.HasPrefix(path, "/") || strings.Contains(path, "?") {
		return nil, runenv.Usagef("--path %q must start with / and carry no query", path)
	}
	o.uri = path + query
	if o.output, err = formatters.ParseFormat(c.String("output"), formatters.Text, formatters.JSON, formatters.Prometheus, formatters.Nagios); err != nil {
		return nil, &runenv.UsageError{Msg: err.Error()}
	}
	i64 := func(name string) *int64 {
		if !c.IsSet(name) {
			return nil
		}
		v := c.Int64(name)
		return &v
	}
	f64 := func(name string) *float64 {
		if !c.IsSet(name) {
			return nil
		}
		v := c.Float64(name)
		return &v
	}
	o.check.Limits = health.Limits{
		MaxListenQueue: i64("max-listen-queue"), MinIdle: i64("min-idle"), MaxActive: i64("max-active"),
		MaxSlow: i64("max-slow-requests"), MaxChildren: i64("max-children-reached"),
		MaxListenQueueRatio: f64("max-listen-queue-ratio"), MaxActiveRatio: f64("max-active-ratio"),
		MaxChildrenDelta: i64("max-children-reached-delta"), MaxSlowDelta: i64("max-slow-requests-delta"),
		MaxChildrenRatio: f64("max-children-ratio"),
	}
	if o.listen = c.String("listen"); o.listen != "" {
		if err := listenConflicts(c, o); err != nil {
			return nil, err
		}
		o.output = formatters.Prometheus
	}
	if o.prom.PerProcess = c.Bool("per-process"); o.prom.PerProcess {
		switch {
		case o.output != formatters.Prometheus:
			return nil, runenv.Usagef("--per-process goes with -o prometheus or --listen (text and JSON always show the process list)")
		case c.Bool("no-full"):
			return nil, runenv.Usagef("--per-process needs the process list: it does not go with --no-full")
		}
	}
	if n := i64("max-children"); n != nil {
		if *n <= 0 {
			return nil, runenv.Usagef("--max-children %d: pm.max_children is at least 1", *n)
		}
		o.maxChildren = *n
		health.ApplyMaxChildren(o.targets, o.maxChildren)
	}
	if r := o.check.Limits.MaxChildrenRatio; r != nil && (*r <= 0 || *r > 1) {
		return nil, runenv.Usagef("--max-children-ratio %g: give a share of pm.max_children above 0, at most 1 (0.9: 90%%)", *r)
	}
	if o.check.Limits.MaxChildrenRatio != nil && !c.IsSet("max-children") && !c.IsSet("fpm-config") {
		return nil, runenv.Usagef("--max-children-ratio needs pm.max_children: give --fpm-config FILE or --max-children N")
	}
	if o.check.Limits.NeedsState() && o.check.StateFile == "" {
		return nil, runenv.Usagef("the -delta checks need --state-file FILE to remember the last reading")
	}
	if o.several && o.check.StateFile != "" {
		return nil, runenv.Usagef("--state-file remembers one pool: it does not go with several -c or a glob (run status once per pool, each with its own file)")
	}
	if o.output == formatters.Nagios && (o.quiet || o.watch > 0) {
		return nil, runenv.Usagef("-o nagios writes one plugin line: it does not go with -q or --watch")
	}
	if err := o.watchOptions(c, env); err != nil {
		return nil, err
	}
	return o, nil
}

func runStatus(ctx context.Context, env *runenv.Env, pal *formatters.Palette, o *statusOptions) error {
	results, err := o.check.Run(ctx, o.net, o.targets, o.uri)
	if err != nil {
		return err
	}
	r := results[0]
	if r.Err != nil && o.output == formatters.Prometheus && !o.quiet {
		// phpfpm_up 0: the page was not read.
		_ = formatters.WritePrometheus(env.Stdout, health.PromPools(results, o.uri), o.prom)
	}
	if r.Err != nil && o.output == formatters.JSON && !o.quiet {
		// No page: a document with the error, as request's JSON has.
		if err := formatters.WriteStatusPoolJSON(env.Stdout, health.StatusPools(results)[0]); err != nil {
			return err
		}
	}
	switch {
	case r.Busy && r.Err != nil:
		// Alive but busy: no page to show, the note says so.
		o.note("note: busy: %s; passes with --busy-ok", health.BusyLine(r.Err))
		return nil
	case r.Err != nil:
		return r.Err
	}
	if !o.quiet {
		switch o.output {
		case formatters.JSON:
			err = formatters.WriteStatusJSON(env.Stdout, r.Status, health.FailedChecks(r.Failures))
		case formatters.Prometheus:
			err = formatters.WritePrometheus(env.Stdout, health.PromPools(results, o.uri), o.prom)
		default:
			err = formatters.WriteStatusText(env.Stdout, &formatters.StatusView{Status: r.Status, Now: time.Now(), Address: o.net.Connect}, pal)
		}
		if err != nil {
			return err
		}
	}
	for _, n := range r.Notes {
		o.note("note: %s", n)
	}
	if len(r.Failures) > 0 {
		lines := make([]string, len(r.Failures))
		for i, f := range r.Failures {
			lines[i] = f.Line
		}
		return &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: strings.Join(lines, "\nfcgicli: ")}
	}
	return nil
}

// runStatusPools reads every pool at once, then prints one block per pool
// in the order given (-o json: one document with the list of pools; -o
// prometheus: every pool's samples, each metric once), the failures on
// stderr, each naming its pool, and returns the worst pool's exit code.
func runStatusPools(ctx context.Context, env *runenv.Env, pal *formatters.Palette, o *statusOptions) error {
	for _, n := range o.notes {
		o.note("note: %s", n)
	}
	results, err := o.check.Run(ctx, o.net, o.targets, o.uri)
	if err != nil {
		return err
	}
	if !o.quiet {
		if err := writePools(env, pal, o, results); err != nil {
			return err
		}
	}
	for _, r := range results {
		for _, n := range r.Notes {
			o.note("note: %s: %s", r.Label(), n)
		}
		switch {
		case r.Busy && r.Err != nil:
			o.note("note: %s: busy: %s; passes with --busy-ok", r.Label(), health.BusyLine(r.Err))
		case r.Err != nil:
			_, msg := runenv.ExitCode(r.Err)
			fmt.Fprintf(env.Stderr, "fcgicli: %s: %s\n", r.Label(), msg)
		}
		for _, f := range r.Failures {
			fmt.Fprintf(env.Stderr, "fcgicli: %s: %s\n", r.Label(), f.Line)
		}
	}
	if worst := health.WorstCode(results); worst != runenv.ExitOK {
		// The lines above say what failed; only the code is left to give.
		return &runenv.CodeError{Code: worst}
	}
	return nil
}

// writePools prints the pools of a run over several in the format asked.
func writePools(env *runenv.Env, pal *formatters.Palette, o *statusOptions, results []health.PoolResult) error {
	if o.output == formatters.Prometheus {
		return formatters.WritePrometheus(env.Stdout, health.PromPools(results, o.uri), o.prom)
	}
	pools := health.StatusPools(results)
	if o.output == formatters.JSON {
		return formatters.WriteStatusPoolsJSON(env.Stdout, pools)
	}
	return formatters.WriteStatusPoolsText(env.Stdout, pools, time.Now(), pal)
}

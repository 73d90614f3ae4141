package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/fpmstatus"
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

--watch refreshes a live view in place on a terminal (requests/s from
accepted conn, changes since the last refresh, busy processes first), until
Ctrl-C (exit 0); off a terminal, or with -o json, it prints one JSON line
per interval (-o text off a terminal, -o prometheus and -q are refused). A
failed refresh is reported and the watch goes on; with --count N it stops
after N refreshes with the last one's exit code.

EXAMPLES:
   fcgicli status -c /run/php/php8.2-fpm.sock
   fcgicli status -c 127.0.0.1:9000 --max-listen-queue 10 --min-idle 1 -q
   fcgicli status -c 127.0.0.1:9000 -o prometheus > /var/lib/node_exporter/phpfpm.prom
   fcgicli status -c '/run/php/*.sock' -q --max-listen-queue 10
   fcgicli status -c /run/php/status.sock --state-file /tmp/fpm.state --max-children-reached-delta 0
   fcgicli status -c 127.0.0.1:9000 --watch 1s`,
		Flags: flagList(statusNetworkFlags(), []cli.Flag{
			&cli.StringFlag{Name: "path", Value: "/status", Usage: "php-fpm's pm.status_path `PATH`"},
			&cli.BoolFlag{Name: "no-full", Usage: "do not ask for the process list"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text, json or prometheus"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but failed checks"},
			&cli.Int64Flag{Name: "max-listen-queue", Usage: "fail when listen queue is above `N`"},
			&cli.Float64Flag{Name: "max-listen-queue-ratio", Usage: "fail when listen queue / listen queue len is above `F`"},
			&cli.Int64Flag{Name: "min-idle", Usage: "fail when idle processes are below `N`"},
			&cli.Int64Flag{Name: "max-active", Usage: "fail when active processes are above `N`"},
			&cli.Float64Flag{Name: "max-active-ratio", Usage: "fail when active / total processes is above `F`"},
			&cli.Int64Flag{Name: "max-slow-requests", Usage: "fail when slow requests (since start) are above `N`"},
			&cli.Int64Flag{Name: "max-children-reached", Usage: "fail when max children reached (since start) is above `N`"},
			&cli.StringFlag{Name: "state-file", Usage: "remember the pool's counters in `FILE` between runs, for the -delta checks (one file per pool; one pool only)"},
			&cli.Int64Flag{Name: "max-children-reached-delta", Usage: "fail when max children reached grew by more than `N` since the last run"},
			&cli.Int64Flag{Name: "max-slow-requests-delta", Usage: "fail when slow requests grew by more than `N` since the last run"},
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
			if o.several {
				return runStatusPools(c.Context, env, pal, o)
			}
			return runStatus(c.Context, env, pal, o)
		},
	}
}

// statusNetworkFlags are the network flags with ping's --connect: status
// reads several pools too.
func statusNetworkFlags() []cli.Flag {
	flags := networkFlags(30 * time.Second)
	flags[0] = &cli.StringSliceFlag{Name: "connect", Aliases: []string{"c"}, Usage: "pool `ADDR` (repeatable; a unix socket glob such as '/run/php/*.sock' reads every match; default $FCGI_CONNECT)"}
	return flags
}

type statusOptions struct {
	net     fcgireq.NetOptions // Connect is the one pool's, unless several
	targets []pingTarget
	several bool // several -c or a glob: the output is one block per pool
	uri     string
	output  formatters.Format
	quiet   bool
	limits  limits
	state   string
	watch   time.Duration
	count   int
	live    bool // --watch redraws the text view in place (else JSON lines)
}

// limits are the thresholds; a nil one is not checked.
type limits struct {
	maxListenQueue, minIdle, maxActive, maxSlow, maxChildren *int64
	maxListenQueueRatio, maxActiveRatio                      *float64
	maxChildrenDelta, maxSlowDelta                           *int64
}

func (l limits) any() bool {
	return l.maxListenQueue != nil || l.minIdle != nil || l.maxActive != nil || l.maxSlow != nil || l.maxChildren != nil ||
		l.maxListenQueueRatio != nil || l.maxActiveRatio != nil || l.maxChildrenDelta != nil || l.maxSlowDelta != nil
}

func statusOptionsFrom(c *cli.Context, env *runenv.Env) (*statusOptions, error) {
	values := c.StringSlice("connect")
	targets, err := pingTargets(values, env)
	if err != nil {
		return nil, err
	}
	netOpts := fcgireq.NetOptions{ConnectTimeout: c.Duration("connect-timeout"), Timeout: c.Duration("timeout")}
	if netOpts.ConnectTimeout < 0 || netOpts.Timeout < 0 {
		return nil, runenv.Usagef("timeouts cannot be negative")
	}
	o := &statusOptions{net: netOpts, targets: targets, quiet: c.Bool("quiet"), state: c.String("state-file"),
		watch: c.Duration("watch"), count: c.Int("count")}
	o.several = len(values) > 1 || len(targets) > 1
	for _, v := range values {
		o.several = o.several || isSocketGlob(v)
	}
	if !o.several {
		o.net.Connect = targets[0].addr
	}
	path := c.String("path")
	if !strings.HasPrefix(path, "/") || strings.Contains(path, "?") {
		return nil, runenv.Usagef("--path %q must start with / and carry no query", path)
	}
	o.uri = path + "?json&full"
	if c.Bool("no-full") {
		o.uri = path + "?json"
	}
	if o.output, err = formatters.ParseFormat(c.String("output"), formatters.Text, formatters.JSON, formatters.Prometheus); err != nil {
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
	o.limits = limits{
		maxListenQueue: i64("max-listen-queue"), minIdle: i64("min-idle"), maxActive: i64("max-active"),
		maxSlow: i64("max-slow-requests"), maxChildren: i64("max-children-reached"),
		maxListenQueueRatio: f64("max-listen-queue-ratio"), maxActiveRatio: f64("max-active-ratio"),
		maxChildrenDelta: i64("max-children-reached-delta"), maxSlowDelta: i64("max-slow-requests-delta"),
	}
	if (o.limits.maxChildrenDelta != nil || o.limits.maxSlowDelta != nil) && o.state == "" {
		return nil, runenv.Usagef("the -delta checks need --state-file FILE to remember the last reading")
	}
	if o.several && o.state != "" {
		return nil, runenv.Usagef("--state-file remembers one pool: it does not go with several -c or a glob (run status once per pool, each with its own file)")
	}
	if o.several && o.watch != 0 {
		return nil, runenv.Usagef("--watch shows one pool: it does not go with several -c or a glob")
	}
	if o.watch < 0 || o.count < 0 {
		return nil, runenv.Usagef("--watch and --count cannot be negative")
	}
	if o.watch == 0 && c.IsSet("count") {
		return nil, runenv.Usagef("--count goes with --watch")
	}
	if o.watch > 0 && (o.limits.any() || o.state != "") {
		return nil, runenv.Usagef("thresholds and --state-file do not go with --watch")
	}
	if o.watch > 0 {
		// --watch shows the live text view on a terminal and JSON lines
		// elsewhere (or with -o json): an -o or -q it cannot honour is
		// refused, never silently replaced.
		terminal := runenv.IsTerminal(env.Stdout)
		switch {
		case o.quiet:
			return nil, runenv.Usagef("-q does not go with --watch, which has no checks to report")
		case o.output == formatters.Prometheus:
			return nil, runenv.Usagef("-o prometheus does not go with --watch (it shows the live view on a terminal, JSON lines elsewhere or with -o json)")
		case o.output == formatters.Text && c.IsSet("output") && !terminal:
			return nil, runenv.Usagef("--watch -o text needs a terminal: off one, --watch prints JSON lines (-o json)")
		}
		o.live = terminal && o.output == formatters.Text
	}
	return o, nil
}

// readStatus fetches and parses the status page. A reply that is not one
// is a failed check (exit 1) that shows what came back.
func readStatus(ctx context.Context, net fcgireq.NetOptions, uri string) (*fpmstatus.Status, error) {
	f, err := fcgireq.FetchPage(ctx, net, uri)
	if err != nil {
		return nil, err
	}
	if f.CGI.Status != 200 {
		return nil, &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: fmt.Sprintf("%s: status %d, body %s", fpmstatus.ErrNotStatusPage, f.CGI.Status, quoteBody(strings.TrimSpace(string(f.Body))))}
	}
	s, err := fpmstatus.Parse(f.Body)
	if err != nil {
		return nil, &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: fmt.Sprintf("%v; body %s", err, quoteBody(strings.TrimSpace(string(f.Body))))}
	}
	return s, nil
}

func runStatus(ctx context.Context, env *runenv.Env, pal *formatters.Palette, o *statusOptions) error {
	s, err := readStatus(ctx, o.net, o.uri)
	if err != nil {
		if o.output == formatters.Prometheus && !o.quiet {
			_ = formatters.WriteStatusPrometheus(env.Stdout, nil, o.net.Connect)
		}
		return err
	}
	var prev *stateFile
	if o.state != "" {
		if prev, err = loadState(o.state); err != nil {
			return err
		}
	}
	failures, notes := o.limits.check(s, prev)
	if !o.quiet {
		switch o.output {
		case formatters.JSON:
			err = formatters.WriteStatusJSON(env.Stdout, s, failedChecks(failures))
		case formatters.Prometheus:
			err = formatters.WriteStatusPrometheus(env.Stdout, s, o.net.Connect)
		default:
			err = formatters.WriteStatusText(env.Stdout, &formatters.StatusView{Status: s, Now: time.Now(), Address: o.net.Connect}, pal)
		}
		if err != nil {
			return err
		}
	}
	for _, n := range notes {
		fmt.Fprintf(env.Stderr, "fcgicli: note: %s\n", n)
	}
	if o.state != "" {
		if err := saveState(o.state, s); err != nil {
			return err
		}
	}
	if len(failures) > 0 {
		lines := make([]string, len(failures))
		for i, f := range failures {
			lines[i] = f.line
		}
		return &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: strings.Join(lines, "\nfcgicli: ")}
	}
	return nil
}

// poolResult is what a run over several pools learnt of one.
type poolResult struct {
	addr     string
	s        *fpmstatus.Status
	err      error
	failures []checkFailure
	notes    []string
}

// runStatusPools reads every pool at once, then prints one block per pool
// in the order given (-o json: one document with the list of pools; -o
// prometheus: every pool's samples, each metric once), the failures on
// stderr, each naming its pool's address, and returns the worst pool's
// exit code.
func runStatusPools(ctx context.Context, env *runenv.Env, pal *formatters.Palette, o *statusOptions) error {
	results := make([]poolResult, len(o.targets))
	var wg sync.WaitGroup
	for i, t := range o.targets {
		r := &results[i]
		r.addr, r.err = t.addr, t.err
		if r.err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			net := o.net
			net.Connect = r.addr
			if r.s, r.err = readStatus(ctx, net, o.uri); r.err == nil {
				r.failures, r.notes = o.limits.check(r.s, nil)
			}
		}()
	}
	wg.Wait()
	if !o.quiet {
		if err := writePools(env, pal, o.output, results); err != nil {
			return err
		}
	}
	worst := runenv.ExitOK
	for _, r := range results {
		for _, n := range r.notes {
			fmt.Fprintf(env.Stderr, "fcgicli: note: %s: %s\n", r.addr, n)
		}
		code := runenv.ExitOK
		if r.err != nil {
			var msg string
			code, msg = runenv.ExitCode(r.err)
			fmt.Fprintf(env.Stderr, "fcgicli: %s: %s\n", r.addr, msg)
		}
		for _, f := range r.failures {
			fmt.Fprintf(env.Stderr, "fcgicli: %s: %s\n", r.addr, f.line)
			code = runenv.ExitCheckFailed
		}
		worst = worse(worst, code)
	}
	if worst != runenv.ExitOK {
		// The lines above say what failed; only the code is left to give.
		return &runenv.CodeError{Code: worst}
	}
	return nil
}

// writePools prints the pools of a run over several in the format asked.
func writePools(env *runenv.Env, pal *formatters.Palette, output formatters.Format, results []poolResult) error {
	pools := make([]formatters.StatusPool, len(results))
	for i, r := range results {
		pools[i] = formatters.StatusPool{Address: r.addr, Status: r.s, FailedChecks: failedChecks(r.failures)}
		if r.err != nil {
			_, pools[i].Error = runenv.ExitCode(r.err)
		}
	}
	switch output {
	case formatters.JSON:
		return formatters.WriteStatusPoolsJSON(env.Stdout, pools)
	case formatters.Prometheus:
		return formatters.WriteStatusPoolsPrometheus(env.Stdout, pools)
	}
	for i, r := range results {
		// One heading per pool, as head(1) and tail(1) head each file.
		sep := ""
		if i > 0 {
			sep = "\n"
		}
		if _, err := fmt.Fprintf(env.Stdout, "%s==> %s <==\n", sep, formatters.Printable(r.addr)); err != nil {
			return err
		}
		if r.err != nil {
			if _, err := fmt.Fprintln(env.Stdout, failLine(r.err, pal)); err != nil {
				return err
			}
			continue
		}
		if err := formatters.WriteStatusText(env.Stdout, &formatters.StatusView{Status: r.s, Now: time.Now(), Address: r.addr}, pal); err != nil {
			return err
		}
	}
	return nil
}

// worse returns the worse of two exit codes: an interrupt, then the
// exit-code table's order among 3-7 (a pool that could not be read), then
// a failed check (1).
func worse(a, b int) int {
	rank := func(code int) int {
		switch code {
		case runenv.ExitOK:
			return 0
		case runenv.ExitCheckFailed:
			return 1
		case runenv.ExitInterrupted:
			return 100
		}
		if code >= runenv.ExitConnect && code <= runenv.ExitAppStatus {
			return 50 - code // 3 beats 4 ... beats 7
		}
		return 2
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// checkFailure is a threshold crossed: the line that says so, and the
// same as data for -o json.
type checkFailure struct {
	line  string
	check formatters.FailedCheck
}

func failedChecks(failures []checkFailure) []formatters.FailedCheck {
	out := []formatters.FailedCheck{}
	for _, f := range failures {
		out = append(out, f.check)
	}
	return out
}

// check returns one line per threshold crossed, and notes about checks
// that could not be made.
func (l limits) check(s *fpmstatus.Status, prev *stateFile) (failures []checkFailure, notes []string) {
	fail := func(flag string, v, bound float64, line string) {
		failures = append(failures, checkFailure{line: line, check: formatters.FailedCheck{Name: flag, Value: v, Bound: bound}})
	}
	above := func(name string, v int64, bound *int64, flag string) {
		if bound != nil && v > *bound {
			fail(flag, float64(v), float64(*bound), fmt.Sprintf("%s is %d, above --%s %d", name, v, flag, *bound))
		}
	}
	above("listen queue", s.ListenQueue, l.maxListenQueue, "max-listen-queue")
	above("active processes", s.ActiveProcesses, l.maxActive, "max-active")
	above("slow requests", s.SlowRequests, l.maxSlow, "max-slow-requests")
	above("max children reached", s.MaxChildrenReached, l.maxChildren, "max-children-reached")
	if l.minIdle != nil && s.IdleProcesses < *l.minIdle {
		fail("min-idle", float64(s.IdleProcesses), float64(*l.minIdle), fmt.Sprintf("idle processes is %d, below --min-idle %d", s.IdleProcesses, *l.minIdle))
	}
	ratio := func(name string, num, den int64, bound *float64, flag, zero string) {
		if bound == nil {
			return
		}
		if den == 0 {
			notes = append(notes, zero)
			return
		}
		if r := float64(num) / float64(den); r > *bound {
			fail(flag, r, *bound, fmt.Sprintf("%s is %.2f (%d of %d), above --%s %g", name, r, num, den, flag, *bound))
		}
	}
	ratio("listen queue ratio", s.ListenQueue, s.ListenQueueLen, l.maxListenQueueRatio, "max-listen-queue-ratio",
		"listen queue len is 0 (php-fpm reports 0 for unix socket pools): --max-listen-queue-ratio skipped")
	ratio("active ratio", s.ActiveProcesses, s.TotalProcesses, l.maxActiveRatio, "max-active-ratio",
		"total processes is 0: --max-active-ratio skipped")
	if l.maxChildrenDelta == nil && l.maxSlowDelta == nil {
		return failures, notes
	}
	if prev == nil {
		notes = append(notes, "no earlier reading in the state file yet: the -delta checks start with the next run")
		return failures, notes
	}
	// The counters are the pool's, whichever address it was read through
	// (its own socket, pm.status_listen): a reading of another pool says
	// nothing about this one's, even from the same php-fpm (same start time).
	if prev.Pool != s.Pool {
		notes = append(notes, fmt.Sprintf("the state file holds a reading of pool %q, not %q: the -delta checks start again with the next run", prev.Pool, s.Pool))
		return failures, notes
	}
	restarted := prev.StartTime != s.StartTime
	grew := func(now, before int64) int64 {
		if restarted || now < before {
			return now // php-fpm restarted: the counter started again from 0
		}
		return now - before
	}
	deltaAbove := func(name string, d int64, bound *int64, flag string) {
		if bound != nil && d > *bound {
			fail(flag, float64(d), float64(*bound), fmt.Sprintf("%s grew by %d since the last run, above --%s %d", name, d, flag, *bound))
		}
	}
	deltaAbove("max children reached", grew(s.MaxChildrenReached, prev.MaxChildrenReached), l.maxChildrenDelta, "max-children-reached-delta")
	deltaAbove("slow requests", grew(s.SlowRequests, prev.SlowRequests), l.maxSlowDelta, "max-slow-requests-delta")
	return failures, notes
}

// stateFile is what --state-file remembers between runs.
type stateFile struct {
	Pool               string `json:"pool"`
	StartTime          int64  `json:"start_time"`
	AcceptedConn       int64  `json:"accepted_conn"`
	MaxChildrenReached int64  `json:"max_children_reached"`
	SlowRequests       int64  `json:"slow_requests"`
	ReadAt             int64  `json:"read_at"`
}

// loadState reads the state file; a missing one is no earlier reading.
func loadState(name string) (*stateFile, error) {
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--state-file: %w", err)
	}
	var s stateFile
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("--state-file %s: not a state file fcgicli wrote: %v", name, err)
	}
	return &s, nil
}

// saveState replaces the state file atomically.
func saveState(name string, s *fpmstatus.Status) error {
	b, err := json.Marshal(stateFile{Pool: s.Pool, StartTime: s.StartTime, AcceptedConn: s.AcceptedConn,
		MaxChildrenReached: s.MaxChildrenReached, SlowRequests: s.SlowRequests, ReadAt: time.Now().Unix()})
	if err != nil {
		return err
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--state-file: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("--state-file: %w", err)
	}
	return nil
}

// runWatch refreshes the view every interval until ctx ends (Ctrl-C, exit
// 0) or --count refreshes were shown. In the live view (a terminal, not
// -o json) each refresh redraws the screen; otherwise each is one JSON line. A failed read is reported
// and the watch goes on. After --count refreshes the exit code is the
// last one's: a watch whose last read failed is never a false healthy.
func runWatch(ctx context.Context, env *runenv.Env, pal *formatters.Palette, o *statusOptions) error {
	var prev *fpmstatus.Status
	var prevAt time.Time
	tick := time.NewTicker(o.watch)
	defer tick.Stop()
	for n := 1; ; n++ {
		s, err := readStatus(ctx, o.net, o.uri)
		at := time.Now()
		if ctx.Err() != nil {
			return nil
		}
		lastCode := runenv.ExitOK
		switch {
		case err != nil:
			code, msg := runenv.ExitCode(err)
			lastCode = code
			if o.live {
				fmt.Fprint(env.Stdout, "\x1b[H\x1b[2J")
			}
			fmt.Fprintf(env.Stderr, "fcgicli: %s\n", msg)
		case o.live:
			fmt.Fprint(env.Stdout, "\x1b[H\x1b[2J")
			fmt.Fprintf(env.Stdout, "%s every %s  %s\n", o.net.Connect, o.watch, at.Format("15:04:05"))
			v := &formatters.StatusView{Status: s, Previous: prev, Interval: at.Sub(prevAt), Now: at, Address: o.net.Connect}
			if err := formatters.WriteStatusText(env.Stdout, v, pal); err != nil {
				return err
			}
		default:
			if err := formatters.WriteStatusJSONLine(env.Stdout, s); err != nil {
				return err
			}
		}
		if s != nil {
			prev, prevAt = s, at
		}
		if o.count > 0 && n >= o.count {
			if lastCode != runenv.ExitOK {
				// The failure is reported above; only its code is left.
				return &runenv.CodeError{Code: lastCode}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

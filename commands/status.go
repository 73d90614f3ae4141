package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
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
   fcgicli status -c /run/php/status.sock --state-file /tmp/fpm.state --max-children-reached-delta 0
   fcgicli status -c 127.0.0.1:9000 --watch 1s`,
		Flags: flagList(networkFlags(30*time.Second), []cli.Flag{
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
			&cli.StringFlag{Name: "state-file", Usage: "remember the pool's counters in `FILE` between runs, for the -delta checks (one file per pool)"},
			&cli.Int64Flag{Name: "max-children-reached-delta", Usage: "fail when max children reached grew by more than `N` since the last run"},
			&cli.Int64Flag{Name: "max-slow-requests-delta", Usage: "fail when slow requests grew by more than `N` since the last run"},
			&cli.DurationFlag{Name: "watch", Aliases: []string{"w"}, Usage: "refresh every `DURATION` until Ctrl-C"},
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
			return runStatus(c.Context, env, pal, o)
		},
	}
}

type statusOptions struct {
	net    fcgireq.NetOptions
	uri    string
	output formatters.Format
	quiet  bool
	limits limits
	state  string
	watch  time.Duration
	count  int
	live   bool // --watch redraws the text view in place (else JSON lines)
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
	netOpts, err := netOptionsFrom(c, env)
	if err != nil {
		return nil, err
	}
	o := &statusOptions{net: netOpts, quiet: c.Bool("quiet"), state: c.String("state-file"),
		watch: c.Duration("watch"), count: c.Int("count")}
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
func readStatus(ctx context.Context, o *statusOptions) (*fpmstatus.Status, error) {
	f, err := fcgireq.FetchPage(ctx, o.net, o.uri)
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
	s, err := readStatus(ctx, o)
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
	if !o.quiet {
		switch o.output {
		case formatters.JSON:
			err = formatters.WriteStatusJSON(env.Stdout, s)
		case formatters.Prometheus:
			err = formatters.WriteStatusPrometheus(env.Stdout, s, o.net.Connect)
		default:
			err = formatters.WriteStatusText(env.Stdout, &formatters.StatusView{Status: s, Now: time.Now(), Address: o.net.Connect}, pal)
		}
		if err != nil {
			return err
		}
	}
	failures, notes := o.limits.check(s, prev)
	for _, n := range notes {
		fmt.Fprintf(env.Stderr, "fcgicli: note: %s\n", n)
	}
	if o.state != "" {
		if err := saveState(o.state, s); err != nil {
			return err
		}
	}
	if len(failures) > 0 {
		return &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: strings.Join(failures, "\nfcgicli: ")}
	}
	return nil
}

// check returns one line per threshold crossed, and notes about checks
// that could not be made.
func (l limits) check(s *fpmstatus.Status, prev *stateFile) (failures, notes []string) {
	above := func(name string, v int64, bound *int64, flag string) {
		if bound != nil && v > *bound {
			failures = append(failures, fmt.Sprintf("%s is %d, above --%s %d", name, v, flag, *bound))
		}
	}
	above("listen queue", s.ListenQueue, l.maxListenQueue, "max-listen-queue")
	above("active processes", s.ActiveProcesses, l.maxActive, "max-active")
	above("slow requests", s.SlowRequests, l.maxSlow, "max-slow-requests")
	above("max children reached", s.MaxChildrenReached, l.maxChildren, "max-children-reached")
	if l.minIdle != nil && s.IdleProcesses < *l.minIdle {
		failures = append(failures, fmt.Sprintf("idle processes is %d, below --min-idle %d", s.IdleProcesses, *l.minIdle))
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
			failures = append(failures, fmt.Sprintf("%s is %.2f (%d of %d), above --%s %g", name, r, num, den, flag, *bound))
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
			failures = append(failures, fmt.Sprintf("%s grew by %d since the last run, above --%s %d", name, d, flag, *bound))
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
		s, err := readStatus(ctx, o)
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
